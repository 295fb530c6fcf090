"""`devenv devstack attach`: the repos devstack runs from source, checked out on the host and registered as
sync targets, so that the host is where they are edited.

Each repo is cloned from the guest itself (git over the guest's ssh settings; never from the internet), so
the guest's branch and its local commits come along, or an existing host checkout is adopted when it holds
the guest's commit. A host checkout that lacks the guest's commit is never touched and never registered:
the sync would replace the guest's work with an older tree. Both commits are reported instead.

The host clone looks like an ordinary clone: `origin` is what the guest's own `origin` is (opendev, usually),
and the guest is a second remote named after it. git on the guest may refuse a repo owned by another user
(devstack's repos belong to STACK_USER; git's safe.directory check), so the guest's upload-pack is started
with that one folder marked safe on its command line, which changes nothing on the guest.

The workspace (which repos, where) is recorded in the workspace folder's project state, for `sync --all`.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, paths, proc
from devenv.devstack.model import Devstack, Repo
from devenv.errors import Conflict, DevenvError, UsageError
from devenv.host import guests, ssh, sshmaster
from devenv.host.guests import Guest

CLONE_TIMEOUT = 1800.0  # nova's history over a slow link
GIT_TIMEOUT = 60.0
RECORD = "devstack-workspace.json"
SKIPPED = ("devstack", "requirements")
GUEST_OWNED = ("/.git",)  # the guest's .git is devstack's clone: sync the tree, never the host's clone over it
# For each repo folder given: its origin URL and the mtimes (ns) of the files git has unchanged, as JSON.
# The repos are read side by side (git waits on the disk more than on the CPU); --no-optional-locks: git
# status never writes the guest repo's index (devstack's, maybe in use).
_FACTS = r"""
import json, os, subprocess, sys, threading
facts = {}
def one(path):
    git = ["git", "--no-optional-locks", "-c", "safe.directory=" + path, "-C", path]
    try:
        listed = subprocess.run(git + ["ls-files", "-z"], capture_output=True, timeout=60).stdout.split(b"\0")
        dirty = subprocess.run(git + ["status", "--porcelain", "-z", "--untracked-files=no"], capture_output=True,
                               timeout=60).stdout.split(b"\0")
        origin = subprocess.run(git + ["remote", "get-url", "origin"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return
    changed = {d[3:] for d in dirty if len(d) > 3}
    mtimes = {}
    base = path.encode() + b"/"
    for rel in listed:
        if rel and rel not in changed:
            try:
                mtimes[rel.decode("utf-8", "surrogateescape")] = os.lstat(base + rel).st_mtime_ns
            except OSError:
                pass
    facts[path] = {"origin": origin.stdout.strip() if origin.returncode == 0 else None, "mtimes": mtimes}
threads = [threading.Thread(target=one, args=(p,)) for p in sys.argv[1:]]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(facts))
"""


@dataclass(frozen=True)
class Member:
    name: str
    host: Path  # the host checkout
    guest_path: str  # /opt/stack/<name>
    action: str  # cloned | adopted | in-sync | refused
    detail: str = ""


def wanted(dev: Devstack, names: tuple[str, ...] = ()) -> list[Repo]:
    """The repos to attach: the named ones, else every cloned repo the venv has editable or LIBS_FROM_GIT
    names (before stack.sh: every cloned one but devstack's own and requirements)."""
    if names:
        return [dev.repo(n) for n in names]
    chosen = [r for r in dev.repos.values() if r.cloned and (r.editable or r.from_git)]
    if not chosen:
        chosen = [r for r in dev.repos.values() if r.cloned and r.name not in SKIPPED]
    return sorted(chosen, key=lambda r: r.name)


def _url(guest: Guest, path: str) -> str:
    return f"ssh://{guest.destination}{path}"


def git_env(guest: Guest, control_path: str | None = None) -> dict[str, str]:
    import os

    env = dict(os.environ)
    # git runs it through the shell; through attach's ssh master, each clone skips the ssh handshake
    env["GIT_SSH_COMMAND"] = shlex.join(["ssh", *ssh.options(guest, control_path=control_path)])
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _upload_pack(path: str) -> str:
    return f"git -c safe.directory={shlex.quote(path)} upload-pack"


def _git(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = GIT_TIMEOUT) -> proc.Result:
    return proc.run(["git", *args], cwd=cwd, env=env, timeout=timeout, what=f"git {args[0]}")


def guest_facts(guest: Guest, repos: list[Repo], control_path: str | None = None) -> dict[str, dict]:
    """One ssh call for every repo: each one's origin URL and the mtimes of the files git has unchanged."""
    try:
        res = ssh.run(guest, ["python3", "-c", _FACTS, *[r.path for r in repos]], timeout=300,
                      control_path=control_path)
        facts = json.loads(res.stdout) if res.ok else {}
    except (ValueError, DevenvError):
        facts = {}
    return facts if isinstance(facts, dict) else {}


def _clone(guest: Guest, repo: Repo, host: Path, control_path: str | None = None,
           facts: Callable[[], dict[str, dict]] | None = None, master: sshmaster.Master | None = None) -> Member:
    """master: the connection control_path belongs to. A clone that failed because it went down meanwhile
    (a session dies with its master) is made again over a connection of its own."""
    import shutil

    tmp = host.with_name(f".{host.name}.devenv-clone")
    if tmp.exists():
        shutil.rmtree(tmp)  # an interrupted earlier attach: start that clone again
    try:
        member = _clone_into(guest, repo, host, tmp, git_env(guest, control_path), facts)
        if member.action == "refused" and control_path and master is not None and not master.alive():
            shutil.rmtree(tmp, ignore_errors=True)
            member = _clone_into(guest, repo, host, tmp, git_env(guest), facts)
        return member
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed or interrupted clone leaves nothing half-written


def _clone_into(guest: Guest, repo: Repo, host: Path, tmp: Path, env: dict[str, str],
                facts: Callable[[], dict[str, dict]] | None) -> Member:
    res = _git(["clone", "--quiet", "--origin", guest.name, "--upload-pack", _upload_pack(repo.path),
                _url(guest, repo.path), str(tmp)], env=env, timeout=CLONE_TIMEOUT)
    if not res.ok:
        return Member(repo.name, host, repo.path, "refused", f"git clone failed: {proc.tail(res.stderr, 3)}")
    git = repo.git
    if git is not None and git.branch is None and git.head:  # a detached HEAD (a Gerrit ref, a tag)
        _git(["checkout", "--quiet", "--detach", git.head], cwd=tmp)
    mine = (facts() if facts else {}).get(repo.path) or {}
    origin = mine.get("origin")
    if origin and not origin.startswith(("/", "file:")):  # the guest's origin, unless it is a path there
        _git(["remote", "add", "origin", origin], cwd=tmp)
    _align_mtimes(mine.get("mtimes") or {}, tmp)
    tmp.rename(host)  # the checkout appears whole or not at all
    return Member(repo.name, host, repo.path, "cloned", f"{git.branch or 'detached'}@{(git.head or '')[:10]}"
                  if git else "")


def _align_mtimes(mtimes: dict[str, int], host: Path) -> None:
    """Give each file of the fresh clone that git has unchanged on the guest the guest's mtime: the content is
    the same (the same commit's blob), and the first sync (rsync -a: size and mtime) then sends none of them
    and reports none as a guest-side change. A file the guest changed keeps the clone's mtime, so the first
    sync keeps the guest's copy aside and reports it, as it should."""
    import os
    import stat

    base = f"{host}{os.sep}"
    for rel, ns in mtimes.items():
        path = base + rel
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):  # a regular file, not a symlink (nor what it points to)
                os.utime(path, ns=(ns, ns), follow_symlinks=False)
        except OSError:
            continue


def _align_adopted(host: Path, guest_head: str, mtimes: dict[str, int]) -> None:
    """An adopted checkout holds the guest's commit: a file that neither side changed since it, and that the
    commits in between did not touch, is the same file on both sides; give it the guest's mtime, as a fresh
    clone gets, so the first sync neither sends it nor reports it as a guest-side change."""
    touched = set(_git(["diff", "--name-only", "-z", guest_head, "HEAD"], cwd=host).stdout.split("\0"))
    dirty = _git(["status", "--porcelain", "-z", "--untracked-files=no"], cwd=host).stdout.split("\0")
    touched |= {d[3:] for d in dirty if len(d) > 3}
    _align_mtimes({rel: ns for rel, ns in mtimes.items() if rel not in touched}, host)


def _adopt(guest: Guest, repo: Repo, host: Path, control_path: str | None = None,
           facts: Callable[[], dict[str, dict]] | None = None) -> Member:
    """An existing host checkout: fetch the guest's commits into it (a remote named after the guest), and
    keep it only when its HEAD contains the guest's HEAD."""
    if not (host / ".git").exists():
        return Member(repo.name, host, repo.path, "refused", f"{host} exists and is not a git checkout")
    env = git_env(guest, control_path)
    url = _url(guest, repo.path)
    current = _git(["remote", "get-url", guest.name], cwd=host)
    if not current.ok:
        _git(["remote", "add", guest.name, url], cwd=host)
    elif current.stdout.strip() != url:
        return Member(repo.name, host, repo.path, "refused",
                      f"its remote {guest.name!r} is {current.stdout.strip()}, not {url}")
    _git(["config", f"remote.{guest.name}.uploadpack", _upload_pack(repo.path)], cwd=host)
    fetched = _git(["fetch", "--quiet", guest.name], cwd=host, env=env, timeout=CLONE_TIMEOUT)
    if not fetched.ok:
        return Member(repo.name, host, repo.path, "refused", f"git fetch failed: {proc.tail(fetched.stderr, 3)}")
    guest_head = repo.git.head if repo.git else None
    host_head = _git(["rev-parse", "HEAD"], cwd=host).stdout.strip()
    mtimes = ((facts() if facts else {}).get(repo.path) or {}).get("mtimes") or {}
    if not guest_head or guest_head == host_head:
        if guest_head:
            _align_adopted(host, guest_head, mtimes)
        return Member(repo.name, host, repo.path, "in-sync", host_head[:10])
    if _git(["merge-base", "--is-ancestor", guest_head, "HEAD"], cwd=host).ok:
        _align_adopted(host, guest_head, mtimes)
        return Member(repo.name, host, repo.path, "adopted", f"the host is ahead of the guest's {guest_head[:10]}")
    ahead = _git(["merge-base", "--is-ancestor", "HEAD", guest_head], cwd=host).ok
    where = f"guest {guest_head[:10]} ({repo.git.branch if repo.git else '?'}), host {host_head[:10]}"
    if ahead:
        return Member(repo.name, host, repo.path, "refused",
                      f"the guest has commits the host lacks ({where}): bring them over first, e.g. "
                      f"git -C {shlex.quote(str(host))} merge --ff-only {guest_head[:10]}")
    return Member(repo.name, host, repo.path, "refused",
                  f"the host and the guest diverged ({where}); neither side's branch or files were changed (the "
                  f"guest's commits were only fetched, as remote {guest.name!r}): merge or rebase one onto the "
                  "other, then attach again")


def _register(guest: Guest, member: Member) -> Member:
    target = dataclasses.replace(guest, path=member.guest_path, excludes=GUEST_OWNED)
    existing = next((g for g in guests.all_guests(member.host) if g.name == guest.name), None)
    if existing is not None and existing.path != member.guest_path:
        return dataclasses.replace(member, action="refused",
                                   detail=f"guest {guest.name!r} is registered there for {existing.path}")
    guests.save(member.host, target, make_default=True)
    return member


def connect(guest: Guest) -> sshmaster.Master:
    """The ssh master every ssh call of an attach goes through (reader, facts, clones, fetches): started
    first, so that its handshake is the only one. Use it as a context manager; it ends with the attach."""
    return sshmaster.Master(guest)


def attach(workspace: Path, guest: Guest, dev: Devstack, names: tuple[str, ...] = (),
           workers: int = 8, master: sshmaster.Master | None = None) -> list[Member]:
    """Clone or adopt each wanted repo into workspace/<name> and register it; record the workspace.
    Raises Conflict (after doing the rest) when a repo was refused.
    master: an ssh master (connect()) already up, e.g. the one the reader used; else one of its own.
    The clones run side by side over it (one connection, one session each, no handshake each)."""
    repos = wanted(dev, names)
    if not repos:
        raise UsageError(f"devstack on {guest.name} has no cloned repo to attach yet",
                         "run stack.sh on the guest first, or name repos with --repo")

    own = master is None
    if master is None:
        master = connect(guest)
    master.ensure()
    path = master.wait()  # None: it could not connect; each call then connects itself (and says why)
    fresh = list(repos)  # a clone and an adopted checkout both take the guest's mtimes
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(repos)))) as pool, \
                ThreadPoolExecutor(max_workers=1) as reading:
            # what the clones need from the guest, read once for all of them while they run
            pending = reading.submit(guest_facts, guest, fresh, path) if fresh else None

            def facts() -> dict[str, dict]:
                return pending.result() if pending is not None else {}

            def one(repo: Repo) -> Member:
                host = workspace / repo.name
                member = _adopt(guest, repo, host, path, facts) if host.exists() else \
                    _clone(guest, repo, host, path, facts, master)
                return member if member.action == "refused" else _register(guest, member)

            members = list(pool.map(one, repos))
    finally:
        if own:
            master.close()
    save(workspace, guest, [m for m in members if m.action != "refused"])
    refused = [m for m in members if m.action == "refused"]
    if refused:
        raise Conflict("; ".join(f"{m.name}: {m.detail}" for m in refused),
                       "nothing was changed on either side for those repos; the others are attached")
    return members


def record_file(workspace: Path) -> Path:
    return paths.project_state(workspace) / RECORD


def save(workspace: Path, guest: Guest, members: list[Member]) -> None:
    known = {m["name"]: m for m in load(workspace)} if record_file(workspace).exists() else {}
    for m in members:
        known[m.name] = {"name": m.name, "host": str(m.host), "guest_path": m.guest_path, "guest": guest.name}
    fsutil.atomic_write(record_file(workspace), json.dumps({"members": sorted(known.values(),
                                                                              key=lambda m: m["name"])}, indent=2))


def load(workspace: Path) -> list[dict[str, str]]:
    try:
        data = json.loads(record_file(workspace).read_text(encoding="utf-8"))
        return list(data.get("members", []))
    except (OSError, ValueError):
        return []
