"""Which rsync devenv runs, on the host and on the guest, and whether it can keep `devenv sync`'s promises.

One bounded `--version` call tells the flavours apart (cached per program file for the process):
  gnu        rsync.samba.org's rsync 3.x: `rsync  version 3.2.7  protocol version 31`
  samba-2.6  the same project's 2.x, e.g. macOS before 15.4: `rsync  version 2.6.9  protocol version 29`
  openrsync  macOS 15.4+'s /usr/bin/rsync: `openrsync: protocol version 29` / `rsync version 2.6.9 compatible`
             (older openrsync prints only the first line, on stderr)
  unknown    anything else: no output, a crash, a wrapper that is not rsync

devenv needs a GNU rsync >= 3.1 on both sides. Host selection order: `--rsync PROGRAM` (sync, guest add),
the program `guest add --rsync` remembered for the guest, DEVENV_RSYNC, a GNU rsync >= 3.1 in one of the
DEVENV_RSYNC_CANDIDATES folders (default: Homebrew's /opt/homebrew/bin, /usr/local/bin), then the rsync
the shell would run (the first on PATH). A program the user named is used or refused, never silently replaced.

Degrade or stop? Stop, before anything is sent, with one message naming what is missing and how to get it
(`brew install rsync`). What the other flavours lack, and what each option carries:
  --secluded-args/--protect-args (GNU 3.0.0): the guest folder reaches the guest's rsync unsplit by its shell.
  --ignore-missing-args/--delete-missing-args (GNU 3.1.0): `sync --watch` sends the changed paths with
      --files-from; a path deleted on the host is skipped (kept on the guest, reported) or deleted and kept
      in the backup. Without them one deleted file fails the whole flush, and --delete never happens.
  --info=skip1 (GNU 3.1.0): the first sync's fast path learns which files the guest already had.
  The itemized list (--out-format=%i..., -ii) is what the manifest and conflict detection are built from.
openrsync (Apple's, KlaraSystems/openrsync main.c and openrsync.1) lists --out-format, --itemize-changes,
--backup-dir, --files-from, --from0, --timeout, -8, but none of --info, --ignore-missing-args,
--delete-missing-args, --protect-args/--secluded-args (-s). Its itemized codes come from its own log.c and
cannot be checked against GNU's here; a misread code turns into a false conflict or an unreported guest edit,
silently. rsync 2.6.9 (its options.c) has --out-format (new in 2.6.9) but none of the four. Emulating them
would break a promise quietly; a one-line install keeps all of them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from dataclasses import dataclass

from devenv import proc
from devenv.errors import DevenvError, GuestError, ToolMissing, UsageError
from devenv.findings import Finding
from devenv.host import ssh
from devenv.host.guests import Guest

MINIMUM = (3, 1, 0)
VERSION_TIMEOUT = 10.0  # seconds for `rsync --version`; a real one answers in milliseconds
CANDIDATES_ENV = "DEVENV_RSYNC_CANDIDATES"  # folders (os.pathsep-separated) looked in before PATH
DEFAULT_CANDIDATES = ("/opt/homebrew/bin", "/usr/local/bin")  # Homebrew on Apple silicon, on Intel
# (option, the GNU rsync version that brought it): what devenv passes and older rsyncs reject
NEEDED = (("--secluded-args/--protect-args", (3, 0, 0)), ("--info", (3, 1, 0)),
          ("--ignore-missing-args", (3, 1, 0)), ("--delete-missing-args", (3, 1, 0)))
INSTALL = ("install GNU rsync 3.1 or newer (macOS: brew install rsync; devenv then finds it in /opt/homebrew/bin "
           "or /usr/local/bin by itself), or name one: devenv sync --rsync PATH, devenv guest add NAME ... "
           "--rsync PATH (remembered for the guest), or DEVENV_RSYNC=PATH")
# Prints the guest rsync's `--version` head as key=value lines ($1 = the program); used by `guest add`'s probe
# and by doctor. `timeout` bounds a guest rsync that never answers (coreutils; absent: ssh's own deadline).
GUEST_VERSION = r"""
if command -v "$1" >/dev/null 2>&1; then
  t=; command -v timeout >/dev/null 2>&1 && t="timeout 10"
  echo "rsyncv=$($t "$1" --version 2>&1 </dev/null | head -n 2 | tr '\n' '|')"
fi
"""

_GNU = re.compile(r"^rsync\s+version\s+v?(\d+)\.(\d+)\.(\d+)\S*\s+protocol version (\d+)", re.MULTILINE)
_OPEN = re.compile(r"^openrsync: protocol version (\d+)", re.MULTILINE)
_COMPAT = re.compile(r"^rsync version (\d+)\.(\d+)\.(\d+) compatible", re.MULTILINE)


@dataclass(frozen=True)
class Rsync:
    path: str
    flavour: str  # gnu | samba-2.6 | openrsync | unknown
    version: tuple[int, int, int] = (0, 0, 0)  # openrsync: the rsync version it claims to be compatible with
    protocol: int | None = None
    note: str = ""  # unknown: what it did instead of answering like rsync
    origin: str = ""  # how it was chosen: --rsync, the guest's record, DEVENV_RSYNC, a folder, PATH

    @property
    def usable(self) -> bool:
        return self.flavour == "gnu" and self.version >= MINIMUM

    @property
    def lacks(self) -> list[str]:
        if self.flavour in ("openrsync", "unknown"):
            return [name for name, _ in NEEDED]
        return [name for name, since in NEEDED if self.version < since]

    @property
    def protect_flag(self) -> str:
        """--protect-args was renamed --secluded-args in 3.2.7 (the old name still works there)."""
        return "--secluded-args" if self.version >= (3, 2, 7) else "--protect-args"

    def describe(self) -> str:
        proto = f"protocol {self.protocol}" if self.protocol is not None else "protocol unknown"
        if self.flavour == "gnu":
            return f"GNU rsync {_dotted(self.version)} ({proto})"
        if self.flavour == "samba-2.6":
            return f"rsync {_dotted(self.version)} ({proto})"
        if self.flavour == "openrsync":
            return f"openrsync ({proto}, rsync {_dotted(self.version)} compatible)"
        return f"not a recognisable rsync ({self.note or 'it does not answer --version like rsync'})"


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def identify(path: str, text: str, note: str = "") -> Rsync:
    """Read a `--version` answer (stdout and stderr together: old openrsync writes to stderr)."""
    if m := _GNU.search(text):
        version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return Rsync(path, "gnu" if version >= (3, 0, 0) else "samba-2.6", version, int(m.group(4)))
    if m := _OPEN.search(text):
        c = _COMPAT.search(text)
        version = (int(c.group(1)), int(c.group(2)), int(c.group(3))) if c else (0, 0, 0)
        return Rsync(path, "openrsync", version, int(m.group(1)))
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return Rsync(path, "unknown", note=note or (f"its --version said {first[:80]!r}" if first
                                                else "its --version printed nothing"))


_cache: dict[tuple[str, int, int, int], Rsync] = {}


def detect(path: str) -> Rsync:
    """What the program at `path` is: one bounded `--version` call per file version, for the process."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return Rsync(path, "unknown", note=f"cannot run it: {exc.strerror or exc}")
    key = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _cache:
        _cache[key] = _ask(path)
    return _cache[key]


def _ask(path: str) -> Rsync:
    if not os.access(path, os.X_OK) or os.path.isdir(path):
        return Rsync(path, "unknown", note="it is not an executable file")
    env = {**os.environ, "LC_ALL": "C"}
    try:
        res = proc.run([path, "--version"], timeout=VERSION_TIMEOUT, env=env, what=f"{path} --version")
    except proc.Timeout:
        return Rsync(path, "unknown", note=f"--version did not answer within {VERSION_TIMEOUT:g} s")
    except (DevenvError, OSError) as exc:
        return Rsync(path, "unknown", note=f"cannot run it: {exc}")
    found = identify(path, res.stdout + "\n" + res.stderr)
    if res.returncode != 0:
        how = f"killed by signal {-res.returncode}" if res.returncode < 0 else f"exit {res.returncode}"
        return Rsync(path, "unknown", note=f"--version failed ({how}): {proc.tail(res.stderr, 2)}")
    return found


def select(explicit: str | None = None, remembered: str | None = None) -> Rsync:
    """The host rsync devenv runs, checked; raises with one message when none can keep sync's promises."""
    env = os.environ.get("DEVENV_RSYNC") or None
    for value, origin in ((explicit, "--rsync"), (remembered, "the guest's record"), (env, "DEVENV_RSYNC")):
        if value:
            return require(dataclasses.replace(detect(_resolve(value, origin)), origin=origin))
    for folder in candidates():
        path = os.path.join(folder, "rsync")
        if os.path.isfile(path) and (r := detect(path)).usable:
            return dataclasses.replace(r, origin=folder)
    on_path = shutil.which("rsync")  # the one `rsync` runs in the user's shell
    if on_path is None:
        raise ToolMissing("rsync is not installed (or not on PATH)", INSTALL)
    return require(dataclasses.replace(detect(os.path.abspath(on_path)), origin="PATH"))


def candidates() -> list[str]:
    value = os.environ.get(CANDIDATES_ENV)
    folders = DEFAULT_CANDIDATES if value is None else tuple(value.split(os.pathsep))
    return [f for f in folders if f]


def _resolve(value: str, origin: str) -> str:
    path = value if os.sep in value else shutil.which(value)
    if path is None or not os.path.exists(path):
        what = f"{origin} {value}" if origin == "--rsync" else f"{value} ({origin})"
        hint = ("re-add the guest with --rsync PATH, or without it to let devenv choose"
                if origin == "the guest's record" else "give the path of a GNU rsync 3.1 or newer")
        error = ToolMissing if origin == "the guest's record" else UsageError
        raise error(f"{what}: no such program", hint)
    return os.path.abspath(path)


def require(r: Rsync) -> Rsync:
    if r.usable:
        return r
    via = f" (chosen by {r.origin})" if r.origin else ""
    if r.flavour == "unknown":
        raise ToolMissing(f"{r.path}{via} is {r.describe()}, so devenv cannot tell which options it has; "
                          "nothing was sent", INSTALL)
    raise ToolMissing(f"{r.path}{via} is {r.describe()}, which lacks {', '.join(r.lacks)}: devenv sync needs "
                      "them to keep its promises (no guest edit lost, conflicts kept and reported, an exact "
                      "manifest); nothing was sent", INSTALL)


def on_guest(guest: Guest, timeout: float = 20.0) -> Rsync | None:
    """The guest's rsync (one bounded ssh call); None when it has none on its PATH."""
    program = guest_program(guest)
    res = ssh.run(guest, ["sh", "-c", GUEST_VERSION + 'command -v "$1"', "sh", program], timeout=timeout)
    lines = res.stdout.splitlines()
    version = next((ln.split("=", 1)[1] for ln in lines if ln.startswith("rsyncv=")), None)
    if version is None:
        return None
    path = next((ln for ln in reversed(lines) if ln and not ln.startswith("rsyncv=")), program)
    return identify(path, version.replace("|", "\n"))


def guest_program(guest: Guest) -> str:
    return (guest.rsync_path or "rsync").split()[-1]  # "sudo rsync" -> rsync


def guest_problem(r: Rsync, guest_name: str) -> GuestError | None:
    """Why the guest's rsync cannot serve devenv sync, or None."""
    if r.usable:
        return None
    lacks = f", which lacks {', '.join(r.lacks)}" if r.flavour != "unknown" else ""
    return GuestError(
        f"the rsync on the guest {guest_name} ({r.path}) is {r.describe()}{lacks}: devenv sync needs GNU rsync "
        f"{_dotted(MINIMUM)} or newer on the guest too",
        "upgrade it in the guest (Debian/Ubuntu: sudo apt-get install rsync; Fedora: sudo dnf install rsync), "
        "or point devenv at a newer one there: devenv guest add ... --rsync-path PATH",
    )


def host_finding(guest: Guest) -> Finding:
    """Doctor: the host rsync a sync to this guest would run."""
    check = f"guest.{guest.name}.rsync.host"
    try:
        r = select(remembered=guest.host_rsync)
    except DevenvError as exc:
        return Finding(check, "fail", exc.message, "devenv sync to this guest stops before sending anything",
                       exc.hint or "")
    return Finding(check, "ok", f"host rsync {r.path}: {r.describe()} (chosen by {r.origin})")


def guest_finding(guest: Guest) -> Finding:
    """Doctor: the guest's rsync, asked over ssh."""
    check = f"guest.{guest.name}.rsync.guest"
    found = on_guest(guest)
    if found is None:
        return Finding(check, "fail", f"no {guest_program(guest)} on the guest's PATH", "devenv sync cannot run",
                       "in the guest: sudo apt-get install rsync (or devenv guest add ... --rsync-path PATH)")
    problem = guest_problem(found, guest.name)
    if problem is not None:
        return Finding(check, "fail", problem.message, "devenv sync fails against it", problem.hint or "")
    return Finding(check, "ok", f"guest rsync {found.path}: {found.describe()}")
