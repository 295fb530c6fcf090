"""Gerrit via git-review: what `git review -s` sets up (the Gerrit remote and the commit-msg hook that adds
a Change-Id), done by git-review itself, bounded in time, never prompting, never leaving half a setup.

Read from git-review 2.5.0's git_review/cmd.py (line numbers below are that file's):
- where: .gitreview's [gerrit] host/port/project/scheme/defaultremote/defaultbranch/usepushurl
  (load_config_file, 816-838), each overridden by `git config gitreview.<key>` (Config.__getitem__, 366-370);
- the remote: `<scheme>://<user>@<host>[:port]/<project>`, port 29418 only for ssh (make_remote_url, 474-482);
  the user is gitreview.username, else the local login name, a guess (add_remote, 489-491); the URL is tested
  with `git push --dry-run <url> --all` (only exit 128 counts as failure, 461-471); on failure it asks for a
  username with input() (497-498), then runs `git remote add -f <remote> <url>` (511), a fetch;
- the hook: written into `core.hooksPath` or .git/hooks (git_get_hooks_path, 330-345) only when no executable
  commit-msg is there (1827): a foreign hook is left as it is and Gerrit's never installed. By default it is
  git-review's own copy of Gerrit's hook (402), no network; with --remote-hook it is fetched (HTTP GET of
  `/tools/hooks/commit-msg` on the remote's host, 405, or scp over ssh, 426), streamed straight into place.

So devenv runs git-review with stdin closed (input() then fails instead of waiting), no terminal and no
askpass, ssh in BatchMode, and core.hooksPath pointed at a scratch folder: git-review always writes a fresh
hook there, and devenv moves it into place only when everything worked. A remote this run added is removed
again when anything failed. A user's own commit-msg hook is kept and chained: it runs first, Gerrit's last,
because Gerrit's hook puts the Change-Id into the message's last paragraph (its footer), which a hook running
after it could push out of place.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, proc
from devenv.errors import ConfigError, DevenvError, ToolMissing, UsageError

MARKER = "# devenv-managed-hook: Gerrit's commit-msg, chained after yours"
CHAINED = ".devenv-chained"  # the user's own hook, moved aside and run first (as devenv/ide/hooks.py does)
GERRIT = ".gerrit"  # Gerrit's hook, run last
SCHEMES = ("ssh", "http", "https")
GIT_TIMEOUT = 10.0
# .gitreview option -> git-review's config key (cmd.py 820-832); `git config gitreview.<key>` overrides it
_KEYS = {"host": "hostname", "port": "port", "project": "project", "scheme": "scheme",
         "defaultremote": "remote", "defaultbranch": "branch", "usepushurl": "usepushurl"}


@dataclass(frozen=True)
class GitReview:
    host: str
    project: str
    port: str | None = None
    scheme: str = "ssh"
    remote: str = "gerrit"
    branch: str = "master"
    usepushurl: bool = False


@dataclass(frozen=True)
class Outcome:
    status: str  # none | already | done | skipped | unreachable | failed | invalid
    remote_url: str | None = None
    hook: bool = False  # a commit-msg hook that adds a Change-Id is in place
    lines: tuple[str, ...] = ()  # what to print, one item a line
    later: str | None = None  # the exact command to run once the cause is fixed

    @property
    def needs_action(self) -> bool:
        """True when the user must do something (the lines say what); never for none/already/done."""
        return self.status in ("skipped", "unreachable", "failed", "invalid")


def read(root: Path) -> GitReview | None:
    """.gitreview as git-review reads it (with the gitreview.* git config overrides); None without the file.
    Raises ConfigError naming the file and the fix when it is not usable."""
    path = root / ".gitreview"
    if not path.is_file():
        return None
    fix = "it needs a [gerrit] section with host= and project= (see any OpenStack repository's .gitreview)"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path} cannot be read: {first}", fix) from exc
    if not parser.has_section("gerrit"):
        raise ConfigError(f"{path} has no [gerrit] section", fix)
    values, overrides = parser["gerrit"], _git_config(root, r"^gitreview\.")
    merged = {key: overrides.get(f"gitreview.{key}", values.get(option)) for option, key in _KEYS.items()}
    missing = [opt for opt in ("host", "project") if not merged[_KEYS[opt]]]
    if missing:
        raise ConfigError(f"{path} has no {' and no '.join(missing)} in its [gerrit] section", fix)
    scheme = (merged["scheme"] or "ssh").lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"{path}: scheme={scheme} is not one of {', '.join(SCHEMES)}",
                          "fix scheme= in .gitreview (or `git config --unset gitreview.scheme`)")
    return GitReview(merged["hostname"] or "", merged["project"] or "", merged["port"] or None, scheme,
                     merged["remote"] or "gerrit", merged["branch"] or "master",
                     str(merged["usepushurl"]) in ("1", "true", "True"))  # convert_bool, cmd.py 1466


def username(root: Path, given: str | None) -> str | None:
    """The Gerrit username: the --gerrit-user flag, else `git config gitreview.username`, else None (never
    the local login name that git-review would guess, cmd.py 491)."""
    if given and given.strip():
        return given.strip()
    return _git_config(root, r"^gitreview\.username$").get("gitreview.username") or None


def remote_url(root: Path, name: str) -> str | None:
    """The configured URL of a remote, read from the config (no network)."""
    res = proc.run(["git", "config", "--get", f"remote.{name}.url"], cwd=root, timeout=GIT_TIMEOUT, what="git config")
    return (res.stdout.strip() or None) if res.ok else None


def hook_in_place(hooks: Path) -> bool:
    """A commit-msg that adds a Change-Id: Gerrit's own, or devenv's chain with Gerrit's part in place."""
    hook = hooks / "commit-msg"
    if _is_chain(hook):
        return _adds_change_id(hooks / ("commit-msg" + GERRIT))
    return _adds_change_id(hook)


def setup(root: Path, git_review: Path | None, *, user: str | None, timeout: float = 30,
          remote_hook: bool = False) -> Outcome:
    """Set up what `git review -s` sets up, if .gitreview asks for it. Never raises for what it finds in the
    repository (a broken .gitreview, an unreachable Gerrit): the Outcome says it. remote_hook: fetch the hook
    from Gerrit (git review -s --remote-hook) instead of git-review's built-in copy of it."""
    root = Path(root)
    if not (root / ".gitreview").is_file():
        return Outcome("none")
    try:
        review = read(root)
    except ConfigError as exc:
        return Outcome("invalid", lines=(f"Gerrit setup skipped: {exc.message}", f"  fix: {exc.hint}"))
    assert review is not None
    hooks = _hooks_dir(root)
    if hooks is None:
        return Outcome("none", lines=(f"Gerrit setup skipped: {root} is not a git checkout",))
    had_url = remote_url(root, review.remote)
    had_hook = hook_in_place(hooks)
    if had_url and had_hook:
        return Outcome("already", had_url, True,
                       (f"Gerrit: already set up (remote '{review.remote}': {had_url}; commit-msg adds a Change-Id)",))
    configured = username(root, None)
    name = username(root, user) or configured
    unsaved = name if name != configured else None  # from --gerrit-user, not in git config
    placeholder = "YOUR_GERRIT_USERNAME" if not name and had_url is None else None
    runnable = git_review if git_review is not None and Path(git_review).exists() else None
    later = _later(root, runnable, unsaved or placeholder, remote_hook, known=placeholder is None)
    blocked = _blocked(review, git_review, hooks, had_url, name)
    if blocked:
        return Outcome("skipped", had_url, had_hook, (*blocked, f"  then run: {later}"), later)
    assert git_review is not None
    return _run(root, review, Path(git_review), hooks, (had_url, had_hook), (name, unsaved), timeout,
                remote_hook, later)


def _blocked(review: GitReview, git_review: Path | None, hooks: Path, had_url: str | None,
             name: str | None) -> tuple[str, ...]:
    """Why git-review should not run now (the user must act first), or ()."""
    if review.usepushurl:
        return ("Gerrit setup skipped: usepushurl is set (git-review then rewrites origin's push URL instead of "
                "adding a remote), which devenv leaves to you",)
    if had_url is None and not name:
        where = f"{review.scheme}://<you>@{review.host}" + (f":{review.port}" if review.port else "")
        return (f"Gerrit setup skipped: no Gerrit username for {where} (devenv does not guess it; yours is "
                f"shown at https://{review.host}/settings/)",
                "  pass --gerrit-user NAME, or set it once with git config as below",)
    if git_review is None or not Path(git_review).exists():
        return ("Gerrit setup skipped: git-review is not installed (devenv's tools venv has it)",
                "  install it: pip install git-review, or run `devenv init` again")
    hook = hooks / "commit-msg"
    aside = hooks / ("commit-msg" + CHAINED)
    if (hook.exists() or hook.is_symlink()) and not _is_chain(hook) and not _adds_change_id(hook) \
            and (aside.exists() or aside.is_symlink()):
        return (f"Gerrit setup skipped: {aside} already exists and {hook} is your own hook",
                "  move one of them away, then set up again")
    return ()


def _run(root: Path, review: GitReview, git_review: Path, hooks: Path, had: tuple[str | None, bool],
         names: tuple[str | None, str | None], timeout: float, remote_hook: bool, later: str) -> Outcome:
    (had_url, had_hook), (name, unsaved) = had, names
    try:
        hooks.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".devenv-gerrit-", dir=hooks))  # git ignores folders in hooks/
    except OSError as exc:
        return Outcome("failed", had_url, had_hook, (f"Gerrit setup not done: cannot write in {hooks}: "
                                                     f"{exc.strerror or exc}", f"  then run: {later}"), later)
    argv = [str(git_review), "-s", *(["--remote-hook"] if remote_hook else [])]
    try:
        try:
            res = proc.run(argv, cwd=root, env=_env(root, scratch, name), timeout=timeout, what="git review -s")
            failed = None if res.ok and (scratch / "commit-msg").is_file() else \
                _why(res.stdout + res.stderr, review, name)
        except proc.Timeout:
            failed = ("unreachable", f"Gerrit did not answer within {timeout:g} s ({review.scheme}://"
                      f"{review.host}); git-review was stopped")
        except BaseException:
            _rollback(root, review.remote, had_url)
            raise
        if failed is not None:
            (status, why), undone = failed, _rollback(root, review.remote, had_url)
            return Outcome(status, had_url, had_hook,
                           (f"Gerrit setup not done: {why}", *undone, f"  when that is fixed, run: {later}"), later)
        url = remote_url(root, review.remote)
        lines = [f"Gerrit: remote '{review.remote}': {url}" + ("" if had_url else " (added)")]
        if not had_hook:
            try:
                lines.append(_install_hook(hooks, scratch / "commit-msg"))
            except (OSError, DevenvError) as exc:  # the user's hook is where it was, or moved aside whole
                undone = _rollback(root, review.remote, had_url)
                return Outcome("failed", had_url, hook_in_place(hooks), (
                    f"Gerrit setup not done: cannot install the commit-msg hook in {hooks}: "
                    f"{getattr(exc, 'strerror', None) or exc}", *undone, f"  then run: {later}"), later)
        if unsaved and not had_url:
            lines.append(f"  to use this Gerrit username everywhere: git config --global gitreview.username {name}")
        return Outcome("done", url, True, tuple(lines))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _env(root: Path, scratch: Path, name: str | None) -> dict[str, str]:
    """git-review's environment: nothing may prompt, the hook goes to the scratch folder."""
    drop = ("GITREVIEW_LOCAL_MODE",  # it makes git-review read only .git/config (cmd.py 51, 313): no overrides
            "GIT_ASKPASS", "SSH_ASKPASS")  # a password dialog is a prompt too
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(GIT_TERMINAL_PROMPT="0", SSH_ASKPASS_REQUIRE="never")
    if "GIT_SSH" not in env:  # GIT_SSH_COMMAND overrides core.sshCommand: keep the user's, in batch mode
        base = env.get("GIT_SSH_COMMAND") or _git_config(root, r"^core\.sshcommand$").get("core.sshcommand") or "ssh"
        env["GIT_SSH_COMMAND"] = f"{base} -o BatchMode=yes -o ConnectTimeout={int(GIT_TIMEOUT)}"
    config = {"core.hooksPath": str(scratch)}  # git-review reads it with `git config --get` (cmd.py 339)
    if name:
        config["gitreview.username"] = name  # read the same way (cmd.py 489)
    n = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    for i, (key, value) in enumerate(config.items(), start=n):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(n + len(config))
    return env


def _why(output: str, review: GitReview, name: str | None) -> tuple[str, str]:
    """(status, git-review's reason in one line): the failed `git push --dry-run`'s own words (cmd.py 468)."""
    text = output.replace("\r", "")
    if "Could not connect to gerrit" in text:
        said = text.split("Description:", 1)[-1].split("Could not connect to gerrit", 1)[0].strip()
        reason = " ".join(said.split()) or "no reason given"
        hint = ""
        if "Host key verification failed" in said:
            hint = (f"; check and accept Gerrit's host key once: ssh -p {review.port or 29418} "
                    f"{name or '<you>'}@{review.host}")
        elif "Permission denied" in said:
            hint = f"; add your SSH public key at https://{review.host}/settings/#SSHKeys"
        return "unreachable", f"could not connect to Gerrit: {reason}{hint}"
    return "failed", "git review -s failed: " + " ".join(proc.tail(text, 3).split())


def _rollback(root: Path, remote: str, had_url: str | None) -> tuple[str, ...]:
    """Remove the remote this run added (never one that was there before)."""
    if had_url is not None or remote_url(root, remote) is None:
        return ()
    res = proc.run(["git", "remote", "remove", remote], cwd=root, timeout=GIT_TIMEOUT, what="git remote remove")
    if res.ok:
        return (f"  the half-added remote '{remote}' was removed again",)
    return (f"  could not remove the half-added remote '{remote}': run git -C {shlex.quote(str(root))} "
            f"remote remove {remote}",)


def _install_hook(hooks: Path, fresh: Path) -> str:
    """Move Gerrit's hook (fresh, in the scratch folder) into place; a user's own hook is chained, not lost."""
    hook = hooks / "commit-msg"
    if _is_chain(hook):  # ours, with Gerrit's part missing or broken: put that back
        os.chmod(fresh, 0o755)
        os.replace(fresh, hooks / ("commit-msg" + GERRIT))
        return f"  commit-msg: Gerrit's part of devenv's chain put back ({hook}{GERRIT})"
    if not (hook.exists() or hook.is_symlink()):
        os.chmod(fresh, 0o755)
        os.replace(fresh, hook)
        return f"  commit-msg: Gerrit's hook installed ({hook}), it adds a Change-Id to each commit"
    os.chmod(fresh, 0o755)
    os.replace(fresh, hooks / ("commit-msg" + GERRIT))
    os.replace(hook, hooks / ("commit-msg" + CHAINED))  # keeps its mode, content and symlink-ness exactly
    fsutil.atomic_write(hook, _chain_script(), mode=0o755)
    return (f"  commit-msg: your hook is kept as {hook}{CHAINED} and runs first; Gerrit's ({hook}{GERRIT}) "
            "runs after it and adds the Change-Id")


def _chain_script() -> str:
    return "\n".join([
        "#!/bin/sh", MARKER,
        f"# Runs your own hook first (commit-msg{CHAINED}), then Gerrit's (commit-msg{GERRIT}): Gerrit's puts",
        "# the change id into the message's footer, which a hook running after it could push out of place.",
        f"# To undo: mv commit-msg{CHAINED} commit-msg",
        f'if [ -x "$0{CHAINED}" ]; then "$0{CHAINED}" "$@" || exit $?; fi',
        f'exec "$0{GERRIT}" "$@"', ""])


def _later(root: Path, git_review: Path | None, name: str | None, remote_hook: bool, *, known: bool) -> str:
    """The command to run later. name: a username to save first (known=False: a placeholder, global)."""
    steps = [f"cd {shlex.quote(str(root))}"]
    if name and known:
        steps.append(f"git config gitreview.username {shlex.quote(name)}")
    elif name:
        steps.insert(0, f"git config --global gitreview.username {name}")
    steps.append(f"{shlex.quote(str(git_review)) if git_review else 'git review'} -s"
                 + (" --remote-hook" if remote_hook else ""))
    return " && ".join(steps)


def _is_chain(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _adds_change_id(path: Path) -> bool:
    try:
        return os.access(path, os.X_OK) and "Change-Id" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _hooks_dir(root: Path) -> Path | None:
    from devenv.ide import hooks

    try:
        return hooks.hooks_dir(root)
    except (UsageError, ToolMissing):
        return None


def _git_config(root: Path, pattern: str) -> dict[str, str]:
    """`git config --get-regexp` as {lowercased key: last value}; {} when nothing matches or no repository."""
    try:
        res = proc.run(["git", "config", "-z", "--get-regexp", pattern], cwd=root, timeout=GIT_TIMEOUT,
                       what="git config")
    except ToolMissing:
        return {}
    out: dict[str, str] = {}
    for item in res.stdout.split("\0"):
        key, _, value = item.partition("\n")
        if key:
            out[key.lower()] = value
    return out
