"""VS Code's way in: a marked `Host devenv-<guest>` block in the user's ssh config.

Remote-SSH connects by the Host names in ~/.ssh/config, so `devenv guest ssh-config NAME` writes

    # >>> devenv guest NAME (project ROOT) — managed by devenv; `devenv guest ssh-config --remove NAME` removes it
    Host devenv-NAME
      HostName ...            (every setting devenv's own ssh would get for the guest and
      ...                      `ssh devenv-NAME` would not get from the rest of the file)
    Host *
    # <<< devenv guest NAME

at the TOP of the file. ssh_config(5): "For each parameter, the first obtained value will be used", and lines
before the first Host/Match line (top-level options, an `Include`) apply to every host. A block further down
loses to a `Host *` block, a top-level `User`, or an Include above it; at the top it wins. The closing
`Host *` ends devenv's section, so the user's top-level lines and Includes that now follow it still apply to
every host, exactly as before.

Which settings: `ssh -G` (with devenv's own ssh options, and `-F FILE` for a guest registered with one) says
what devenv's ssh gets; `ssh -G devenv--probe` against the file says what any devenv-* alias gets anyway (a
guest name never starts with '-', so no guest's alias is the probe). Every relevant setting that differs goes
into the block: a plain `user@host` guest gets HostName and its explicit options only; a guest reached
through a Host alias or a config file (vagrant) gets the resolved HostName, User, Port, IdentityFile...
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, lock, paths, proc
from devenv.errors import ConfigError, Conflict, DevenvError, UsageError
from devenv.host import ssh
from devenv.host.guests import Guest

PREFIX = "devenv-"
PROBE = "devenv--probe"  # what every devenv-* alias gets from the file anyway; never a guest's alias
RESOLVE_TIMEOUT = 15.0  # `ssh -G` only reads config (a `Match exec` may run a command)
BEGIN = "# >>> devenv guest {name} (project {root}) — managed by devenv; " \
        "`devenv guest ssh-config --remove {name}` removes it"
END = "# <<< devenv guest {name}"
# (ssh -G key, the keyword written) in the order written. proxy*: "none" cancels a later Host * proxy.
KEYS = (("hostname", "HostName"), ("user", "User"), ("port", "Port"), ("identityfile", "IdentityFile"),
        ("identitiesonly", "IdentitiesOnly"), ("userknownhostsfile", "UserKnownHostsFile"),
        ("stricthostkeychecking", "StrictHostKeyChecking"), ("hostkeyalias", "HostKeyAlias"),
        ("proxyjump", "ProxyJump"), ("proxycommand", "ProxyCommand"))
_UNSAFE = re.compile(r"[\s*?!,\"#%\\\x00-\x1f\x7f]")
_HOST_LINE = re.compile(r"^\s*host(?:\s*=\s*|\s+)(.*)$", re.IGNORECASE)


class SshConfigError(ConfigError):
    """The ssh config file cannot be read (not UTF-8, a folder, devenv's markers broken). Exit 3."""


class SshConfigUnwritable(DevenvError):
    """The ssh config file (or its folder) cannot be written; nothing was changed. Exit 1."""


@dataclass(frozen=True)
class SshBlock:
    name: str
    host_alias: str
    lines: tuple[str, ...]  # from the begin marker to the end marker, without line ends

    @property
    def project(self) -> str:
        m = re.match(r"# >>> devenv guest \S+ \(project (.*)\) — managed by devenv", self.lines[0])
        return m.group(1) if m else ""


@dataclass(frozen=True)
class Outcome:
    verb: str  # write: create | update | identical; remove: removed | absent
    path: Path
    block: SshBlock | None
    backup: Path | None = None
    diff: str = ""


def config_path() -> Path:
    env = os.environ.get("DEVENV_SSH_CONFIG")
    return Path(env) if env else paths.home() / ".ssh" / "config"


def alias(name: str) -> str:
    return PREFIX + name


def check_name(name: str) -> str:
    if not name or _UNSAFE.search(name) or name.startswith("-"):
        raise UsageError(f"guest name {name!r} cannot be an ssh Host name (no spaces, '*', '?', '!', ',', quotes)",
                         "use a guest name of letters, digits, '.', '_' or '-'")
    return name


def open_command(guest: Guest, path: str | None = None) -> list[str]:
    """The command that opens the guest's folder (or `path` on the guest) in VS Code over Remote-SSH."""
    return ["code", "--remote", f"ssh-remote+{alias(guest.name)}", path or guest.path]


# ---------------------------------------------------------------- the block


def block_for(guest: Guest, project_root: Path, config: Path | None = None) -> SshBlock:
    """The block that makes `ssh devenv-NAME` reach the guest as devenv's own ssh does (asks `ssh -G`)."""
    name = check_name(guest.name)
    root = str(Path(project_root).resolve())
    if any(c in root for c in "\r\n\0"):
        raise UsageError(f"a project path with a line break cannot go into an ssh config comment: {root!r}")
    if guest.host.lower() == alias(name).lower():
        raise UsageError(f"guest {name}'s host is {guest.host}, devenv's own alias for it",
                         "add the guest again with its real address (or another Host alias)")
    cfg = config or config_path()
    lines = [BEGIN.format(name=name, root=root), f"Host {alias(name)}"]
    lines += [f"  {line}" for line in _settings(guest, cfg)]
    lines += ["Host *", END.format(name=name)]
    return SshBlock(name, alias(name), tuple(lines))


def _settings(guest: Guest, cfg: Path) -> list[str]:
    user_file = str(cfg) if cfg.is_file() else os.devnull
    own = ["-F", user_file] if not guest.ssh_config else []
    target = _resolve([*own, *ssh.options(guest), "--", guest.destination], guest.describe())
    baseline = _resolve(["-F", user_file, "--", PROBE], str(cfg))
    out: list[str] = []
    for key, keyword in KEYS:
        want, have = target.get(key, []), baseline.get(key, [])
        if key == "hostname":
            out.append(f"{keyword} {_quote(want[0].replace('%', '%%'), keyword)}")
        elif key == "identityfile":
            out += [f"{keyword} {_quote(f, keyword)}" for f in want if f not in have and _exists(f, target)]
        elif want == have:
            continue
        elif not want:
            # ProxyJump and ProxyCommand: the first one set wins over the other, so `none` only without either
            if key.startswith("proxy") and not (target.get("proxyjump") or target.get("proxycommand")):
                out.append(f"{keyword} none")  # the guest needs none; a later `Host *` proxy must not apply
        elif key == "proxycommand":
            out.append(f"{keyword} {want[0]}")  # the rest of the line, as ssh reads it: never quoted
        elif key == "userknownhostsfile":
            out.append(f"{keyword} " + " ".join(_quote(f, keyword) for f in _split_files(want[0])))
        else:
            value = {"true": "yes", "false": "no"}.get(want[0], want[0])  # ssh -G says true for yes
            out.append(f"{keyword} {_quote(value, keyword)}")
    return out


def _resolve(args: list[str], what: str) -> dict[str, list[str]]:
    res = proc.run(["ssh", "-G", *args], timeout=RESOLVE_TIMEOUT, what="ssh -G")
    if not res.ok:
        raise SshConfigError(f"ssh cannot read its configuration for {what}: {proc.tail(res.stderr, 3)}",
                             "fix the ssh config file ssh names, then run again")
    found: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key.lower(), []).append(value)
    return found


def _quote(value: str, keyword: str) -> str:
    """ssh_config's quoting: double quotes around a value with blanks; a quote or line break cannot be said."""
    if any(c in value for c in '"\r\n\0'):
        raise UsageError(f"{keyword} {value!r} cannot be written to an ssh config file (a quote or line break)",
                         "rename the file or value so it has neither")
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def _split_files(value: str) -> list[str]:
    """`ssh -G` prints several known-hosts files joined by spaces, unquoted: a new file starts at a word
    beginning with '/', '~' or '%' (so "/my dir/known_hosts /etc/x" is two files, not three)."""
    files: list[str] = []
    for word in value.split(" "):
        if files and not word.startswith(("/", "~", "%")):
            files[-1] += " " + word
        else:
            files.append(word)
    return files


def _exists(value: str, target: dict[str, list[str]]) -> bool:
    """Whether an IdentityFile value names a file that exists (~ and the common %-tokens expanded as ssh
    would; a value with other tokens is kept: it cannot be checked here)."""
    import pwd

    try:
        home = pwd.getpwuid(os.getuid()).pw_dir  # ssh expands ~ from the password database, not $HOME
    except KeyError:
        home = str(paths.home())
    tokens = {"%": "%", "d": home, "u": os.environ.get("USER") or "", "h": _first(target, "hostname"),
              "r": _first(target, "user"), "p": _first(target, "port"), "i": str(os.getuid())}
    unknown = []

    def sub(m: re.Match[str]) -> str:
        if m.group(1) in tokens:
            return tokens[m.group(1)]
        unknown.append(m.group(1))
        return m.group(0)

    path = re.sub(r"%(.)", sub, value)
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]
    return bool(unknown) or os.path.isfile(path)


def _first(found: dict[str, list[str]], key: str) -> str:
    return (found.get(key) or [""])[0]


# ---------------------------------------------------------------- the file


@dataclass(frozen=True)
class _Parsed:
    text: str | None  # None: the file does not exist
    lines: list[str]  # with their line ends
    newline: str

    def span(self, name: str, path: Path) -> tuple[int, int] | None:
        """(first, last) line index of devenv's block for `name`, or None."""
        begin = f"# >>> devenv guest {name} ("
        starts = [i for i, ln in enumerate(self.lines) if ln.startswith(begin)]
        if not starts:
            return None
        end = END.format(name=name)
        stop = next((i for i in range(starts[0], len(self.lines)) if self.lines[i].rstrip() == end), None)
        if stop is None:
            raise SshConfigError(f"{path}:{starts[0] + 1}: devenv's block for guest {name} has no end line",
                                 f"put the line `{end}` back where the block ends, or delete the block")
        if len(starts) > 1:
            raise SshConfigError(f"{path}: devenv's block for guest {name} is there twice "
                                 f"(lines {starts[0] + 1} and {starts[1] + 1})", "delete one of them")
        return starts[0], stop

    def block(self, name: str, span: tuple[int, int] | None) -> SshBlock | None:
        if span is None:
            return None
        return SshBlock(name, alias(name), tuple(ln.rstrip("\r\n") for ln in self.lines[span[0]:span[1] + 1]))

    def user_host_line(self, name: str, span: tuple[int, int] | None) -> tuple[int, str] | None:
        """A Host line outside devenv's block whose patterns include exactly devenv's alias."""
        wanted = alias(name).lower()
        for i, line in enumerate(self.lines):
            if span and span[0] <= i <= span[1]:
                continue
            m = _HOST_LINE.match(line.rstrip("\r\n"))
            if not m:
                continue
            patterns = [a or b for a, b in re.findall(r'"([^"]*)"|([^\s"]+)', m.group(1))]
            patterns = patterns[:next((k for k, p in enumerate(patterns) if p.startswith("#")), len(patterns))]
            if wanted in (p.lower() for p in patterns):
                return i + 1, line.strip()
        return None


def _read(path: Path) -> _Parsed:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return _Parsed(None, [], "\n")
    except OSError as exc:
        raise SshConfigError(f"cannot read {path}: {exc.strerror or exc}",
                             "devenv changed nothing; make it a readable file (or set DEVENV_SSH_CONFIG)") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SshConfigError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); devenv leaves it "
                             "untouched", "convert it to UTF-8 (iconv -f latin1 -t utf-8), then run again") from exc
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    return _Parsed(text, lines, newline)


def find(name: str, config: Path | None = None) -> SshBlock | None:
    """devenv's block for guest `name` in the ssh config, as it is in the file."""
    path = config or config_path()
    parsed = _read(path)
    return parsed.block(check_name(name), parsed.span(name, path))


def write(block: SshBlock, config: Path | None = None, *, backup_dir: Path | None = None,
          dry_run: bool = False) -> Outcome:
    """Put `block` at the top of the ssh config, or replace devenv's block for the guest where it is.

    Refused (Conflict) when the user has a Host line of their own for the alias, or devenv's block for a
    guest of the same name in another project. The previous file is backed up (next to it, or in
    backup_dir) before any change; an unchanged block changes nothing at all.
    """
    path = config or config_path()
    with _locked(path, dry_run):
        parsed = _read(path)
        span = parsed.span(block.name, path)
        theirs = parsed.user_host_line(block.name, span)
        if theirs is not None:
            raise Conflict(f"{path}:{theirs[0]}: your own `{theirs[1]}` is there already; devenv does not "
                           f"change it", f"remove that block (devenv then writes its own), or keep using yours: "
                           f"code --remote ssh-remote+{block.host_alias} FOLDER")
        nl = parsed.newline
        text = "".join(ln + nl for ln in block.lines)
        if span is None:
            new = text + (nl + (parsed.text or "") if parsed.text else "")
            verb = "create"
        else:
            current = parsed.block(block.name, span)
            if current is not None and current.project != block.project:
                raise Conflict(f"{path}:{span[0] + 1}: {block.host_alias} is devenv's block for guest {block.name} "
                               f"of project {current.project}", f"remove it first (devenv guest ssh-config --remove "
                               f"{block.name}), or give this guest another name")
            new = "".join(parsed.lines[:span[0]]) + text + "".join(parsed.lines[span[1] + 1:])
            verb = "update"
        if new == parsed.text:
            return Outcome("identical", path, block)
        return _commit(path, parsed.text, new, verb, block, backup_dir, dry_run)


def remove(name: str, config: Path | None = None, *, backup_dir: Path | None = None,
           dry_run: bool = False) -> Outcome:
    """Remove devenv's block for guest `name` (and the blank line devenv put after it); nothing else."""
    path = config or config_path()
    with _locked(path, dry_run):
        parsed = _read(path)
        span = parsed.span(check_name(name), path)
        if span is None or parsed.text is None:
            return Outcome("absent", path, None)
        old = parsed.block(name, span)
        stop = span[1] + 1
        if stop < len(parsed.lines) and not parsed.lines[stop].strip():
            stop += 1
        new = "".join(parsed.lines[:span[0]]) + "".join(parsed.lines[stop:])
        return _commit(path, parsed.text, new, "removed", old, backup_dir, dry_run)


def _commit(path: Path, old: str | None, new: str, verb: str, block: SshBlock | None, backup_dir: Path | None,
            dry_run: bool) -> Outcome:
    diff = "".join(difflib.unified_diff((old or "").splitlines(True), new.splitlines(True), str(path),
                                        f"{path} (devenv)"))
    if dry_run:
        return Outcome(verb, path, block, None, diff)
    saved = None
    try:
        _make_folder(path.parent)
        saved = fsutil.backup(path, backup_dir) if old is not None else None
        fsutil.atomic_write(path, new, mode=None if old is not None else 0o600)
    except DevenvError as exc:
        if saved is not None:
            saved.unlink(missing_ok=True)  # the change did not happen: no backup of it either
        raise _unwritable(path, exc.message) from exc
    return Outcome(verb, path, block, saved, diff)


def _make_folder(folder: Path) -> None:
    """~/.ssh as ssh wants it: 0700 when devenv creates it (an existing one is left as it is)."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(mode=0o700, parents=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise DevenvError(f"cannot create the folder {folder}: {exc.strerror or exc}"
                          + (" (a file has that name)" if folder.exists() else "")) from exc


def _unwritable(path: Path, why: str) -> SshConfigUnwritable:
    return SshConfigUnwritable(
        f"cannot change the ssh config {path}: {why}; nothing was changed",
        "make the file and its folder writable (a read-only or immutable file: chmod u+w / chattr -i; ~/.ssh "
        "must be a folder), or set DEVENV_SSH_CONFIG to another file (and VS Code's remote.SSH.configFile)")


@contextmanager
def _locked(path: Path, dry_run: bool) -> Iterator[None]:
    """Two devenv runs never interleave their read-modify-write of one ssh config (a dry run only reads)."""
    if dry_run:
        yield
        return
    digest = hashlib.sha256(str(path.absolute()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    with lock.project_lock(paths.state_home() / "locks" / f"ssh-config-{digest}.lock", lock.DEFAULT_TIMEOUT):
        yield
