#!/usr/bin/env python3
"""Share probes: ONE stdlib-only script, run locally or shipped to a guest (`ssh guest python3 - ARGS`).

It is one file on purpose (the exception to "small modules"): the guest needs nothing but python3, and the
same code runs on both sides. It never imports devenv, and it starts its own children with os.fork and
subprocess (devenv.proc is not there on a guest).

Rules it keeps (see shares-and-sync.md):
- every probe runs in a forked child with a deadline; on timeout the child's process group is SIGKILLed and
  the probe reports `hung` — a thread stuck in stat() could not be killed, a process can;
- the mount is first asked for statvfs in a child; if that hangs, nothing else touches it;
- mount facts come from /proc/self/mountinfo, which never touches the mount;
- probes write only inside a scratch folder `<PATH>/.devenv-probe-<pid>-<rand>/`, removed in `finally`.

Commands (JSON on stdout):
  check PATH [--timeout S] [--scratch NAME] [--keep]   -> {"facts": {...}, "findings": [...]}
  step NAME PATH SCRATCH [--timeout S]                  -> guest half of a two-sided probe
  host OP HOST_SCRATCH [--timeout S]                    -> host half (run on the host side)
  alive PATH [--timeout S]                              -> {"state": "mounted"|"hung"|"error", ...}
  reap MARKER [--timeout S]                             -> {"killed": N, "left": M}: this user's processes
                                                           with DEVENV_SYNC=MARKER in their environment
  cleanup PATH SCRATCH                                  -> removes the scratch folder
A finding is {check, status (ok|warn|fail|hung), message, meaning, fix, errno, uid_mismatch}; when
uid_mismatch is true the caller replaces `fix` with the mapping fixes (it knows the host's ids).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import json
import os
import pwd
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, Dict  # noqa: UP035 - Dict, not dict[]: a guest may run Python 3.7

SCRATCH_PREFIX = ".devenv-probe-"
# clock.WARN_ABOVE, copied because this script runs alone on the guest (stdlib only); a test keeps them equal.
CLOCK_WARN_ABOVE = 2.0
LOCAL_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "jfs", "reiserfs"}
MANY_FILES = 300
Facts = Dict[str, Any]  # noqa: UP006
Result = Dict[str, Any]  # noqa: UP006


def finding(check: str, status: str, message: str, meaning: str = "", fix: str = "",
            err: str | None = None, uid_mismatch: bool = False) -> Result:
    return {"check": check, "status": status, "message": message, "meaning": meaning, "fix": fix,
            "errno": err, "uid_mismatch": uid_mismatch}


def errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


# ------------------------------------------------------------------ children with a deadline


def in_child(func: Callable[..., Any], *args: Any, deadline: float) -> Any:
    """func(*args) in a forked child; its JSON result, or {"hung": True} after `deadline` seconds."""
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # child: own process group, so a kill takes its children too
        os.close(rfd)
        os.setpgid(0, 0)
        try:
            data = json.dumps({"value": func(*args)})
        except OSError as exc:
            data = json.dumps({"oserror": errname(exc), "text": str(exc)})
        except BaseException as exc:  # report, never let a child return into the parent's code
            data = json.dumps({"crash": repr(exc)})
        os.write(wfd, data.encode())
        os._exit(0)
    os.close(wfd)
    return _collect(pid, rfd, deadline)


def _collect(pid: int, rfd: int, deadline: float) -> Any:
    buf, end = b"", time.monotonic() + deadline
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([rfd], [], [], left)[0]:
                _kill(pid)
                return {"hung": True}
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(rfd)
    _reap(pid, 5.0)
    return json.loads(buf.decode() or '{"crash": "no output"}')


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass
    _reap(pid, 1.0)  # FUSE/NFS waits are killable; if not, leave the zombie to init


def _reap(pid: int, within: float) -> None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)


# ------------------------------------------------------------------ mount facts (never touch the mount)


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo(path: str = "/proc/self/mountinfo") -> list[dict[str, str]]:
    rows = []
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            left, _, right = line.rstrip("\n").partition(" - ")
            a, b = left.split(), right.split()
            if len(a) < 6 or len(b) < 2:
                continue
            rows.append({"mount_point": _unescape(a[4]), "options": a[5], "fstype": b[0],
                         "source": _unescape(b[1]), "super_options": b[2] if len(b) > 2 else ""})
    return rows


def mount_of(path: str, rows: list[dict[str, str]] | None = None) -> dict[str, str]:
    """The mount holding `path` (longest matching mount point; the last one mounted wins a tie)."""
    path = os.path.abspath(path)
    best: dict[str, str] = {}
    for row in rows if rows is not None else mountinfo():
        mp = row["mount_point"]
        inside = path == mp or path.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) >= len(best.get("mount_point", "")):
            best = row
    return best


def is_mount_point(path: str) -> bool:
    return mount_of(path).get("mount_point") == os.path.abspath(path)


# ------------------------------------------------------------------ alive: statvfs first


def probe_alive(path: str) -> Result:
    os.statvfs(path)
    st = os.stat(path)
    parent = os.stat(os.path.dirname(os.path.abspath(path)) or "/")
    return {"dev": st.st_dev, "parent_dev": parent.st_dev, "uid": st.st_uid, "gid": st.st_gid,
            "is_dir": os.path.isdir(path)}


def alive(path: str, timeout: float) -> Result:
    out = in_child(probe_alive, path, deadline=timeout)
    if out.get("hung"):
        row = mount_of(path)  # from mountinfo: never touches the hung mount
        return {"state": "hung", "mount_point": row.get("mount_point", ""), "fstype": row.get("fstype", "")}
    if "oserror" in out:
        return {"state": "error", "errno": out["oserror"], "text": out["text"]}
    return {"state": "mounted", **out.get("value", {})}


def mount_findings(path: str, live: Result) -> list[Result]:
    row = mount_of(path)
    here = row.get("mount_point") == os.path.abspath(path)
    fstype = row.get("fstype", "?")
    where = f"{fstype} from {row.get('source', '?')} at {row.get('mount_point', '?')}"
    out = []
    if fstype in LOCAL_FS or row.get("mount_point") == "/":
        out.append(finding(
            "mount", "warn", f"{path} is on a local filesystem ({where}), not on a share",
            "no share is mounted here: if one should be, it is missing or not mounted yet, and programs "
            "write into the empty mount point",
            "fstab: _netdev,nofail,x-systemd.automount,x-systemd.mount-timeout=30; services: "
            f"RequiresMountsFor={path}; boot scripts: devenv wait-mount {path} --timeout 60"))
    elif here and live.get("dev") == live.get("parent_dev"):
        out.append(finding("mount", "warn", f"{path} is listed as a mount ({where}) but has its parent's "
                           "device", "the mount may have been replaced underneath"))
    else:
        out.append(finding("mount", "ok", f"mounted and answering: {where}"))
    out.extend(sshfs_findings(row))
    return out


def sshfs_findings(row: dict[str, str]) -> list[Result]:
    if row.get("fstype") != "fuse.sshfs":
        return []
    opts = set(row.get("super_options", "").split(",")) | set(row.get("options", "").split(","))
    if "allow_other" in opts and "default_permissions" not in opts:
        return [finding(
            "sshfs.permissions", "warn", "sshfs is mounted with allow_other but without default_permissions",
            "permissions are checked only on the server: every local user reads and writes as the ssh user",
            f"remount with -o allow_other,default_permissions: sshfs ... {row['mount_point']}")]
    return [finding("sshfs.permissions", "ok", "sshfs options: " + row.get("super_options", ""))]


# ------------------------------------------------------------------ probes inside the scratch folder


def _touch(path: str, data: bytes = b"") -> os.stat_result:
    with open(path, "wb") as fh:
        fh.write(data)
    return os.stat(path)


def _protected_hardlinks() -> str:
    try:
        with open("/proc/sys/fs/protected_hardlinks") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def probe_hardlink(scratch: str, facts: Facts) -> Result:
    src, dst = os.path.join(scratch, "link-src"), os.path.join(scratch, "link-dst")
    st = _touch(src)
    mismatch = st.st_uid != facts["euid"]
    seen = f"file owner {st.st_uid}, you are {facts['euid']}, protected_hardlinks={_protected_hardlinks()}"
    try:
        os.link(src, dst)
    except OSError as exc:
        why = ("your own new file belongs to another uid, so the kernel (protected_hardlinks) refuses to link "
               "it" if mismatch else "the filesystem does not support hard links")
        return finding("hardlink", "fail", f"os.link failed: {errname(exc)} ({seen})",
                       why + "; locks built on links (python lockfile) retry for ever at 0% CPU",
                       "keep lock files off the share; every lock needs a timeout", errname(exc), mismatch)
    # FUSE may serve the source's st_nlink from its attribute cache; the new name's count is fresh
    nlink = max(os.stat(src).st_nlink, os.stat(dst).st_nlink)
    if nlink != 2:
        return finding("hardlink", "fail", f"os.link succeeded but st_nlink stays {nlink}, not 2",
                       "locks that check the link count (the open(2) NFS recipe) never see their lock as "
                       "taken", "keep lock files off the share (sshfs cannot report link counts), or use "
                       "devenv sync")
    return finding("hardlink", "ok", f"os.link works, st_nlink == 2 ({seen})")


def probe_lock(scratch: str, facts: Facts) -> Result:
    """python lockfile's LinkLockFile.acquire (the one Horizon looped on), but with a deadline."""
    wait = max(0.3, min(1.0, facts["timeout"] / 3))
    unique, lock = os.path.join(scratch, f"host-{os.getpid()}.unique"), os.path.join(scratch, "probe.lock")
    _touch(unique)
    tries, seen = 0, set()
    end = time.monotonic() + wait
    while time.monotonic() < end:
        tries += 1
        try:
            os.link(unique, lock)
            return finding("lock", "ok", f"a link-based lock (python lockfile) was acquired ({tries} tries)")
        except OSError as exc:
            seen.add(errname(exc))
            if os.stat(unique).st_nlink == 2:
                return finding("lock", "ok", f"a link-based lock was acquired ({tries} tries, by link count)")
        time.sleep(0.05)
    err = ",".join(sorted(seen)) or None
    return finding("lock", "fail", f"a link-based lock (python lockfile) never acquired in {wait:g} s "
                   f"({tries} tries, errors: {err})",
                   "tools using python lockfile (or any link lock without a timeout) hang here for ever",
                   "keep locks off the share and give every lock a timeout", err,
                   uid_mismatch=os.stat(unique).st_uid != facts["euid"])


def probe_owner(scratch: str, facts: Facts) -> list[Result]:
    path = os.path.join(scratch, "owner")
    old = os.umask(0o022)
    try:
        st = _touch(path)
    finally:
        os.umask(old)
    out = []
    ids = f"new file {st.st_uid}:{st.st_gid}, you are {facts['euid']}:{facts['egid']}"
    if st.st_uid != facts["euid"]:
        out.append(finding("owner", "fail", f"your new files belong to someone else ({ids})",
                           "the share maps every writer to one owner (squash/map_uid): chmod, links and "
                           "git's ownership check fail", uid_mismatch=True))
    elif st.st_gid != facts["egid"]:
        out.append(finding("owner", "warn", f"new files get another group ({ids})",
                           "group permissions differ between host and guest", uid_mismatch=True))
    else:
        out.append(finding("owner", "ok", ids))
    out.append(_modes(path, st, st.st_uid != facts["euid"]))
    return out


def _modes(path: str, st: os.stat_result, mismatch: bool) -> Result:
    mode = st.st_mode & 0o777
    try:
        os.chmod(path, 0o600)
        after = os.stat(path).st_mode & 0o777
    except OSError as exc:
        return finding("modes", "warn", f"chmod failed: {errname(exc)}", "the share does not keep modes",
                       "cifs/vboxsf: dmode=775,fmode=664; git config core.fileMode false", errname(exc), mismatch)
    if mode != 0o644 or after != 0o600:
        return finding("modes", "warn", f"with umask 022 a new file is {mode:o} and chmod 600 gives {after:o}",
                       "the share forces modes: executables, ssh keys and git's fileMode misbehave",
                       "cifs/vboxsf: dmode=775,fmode=664; git config core.fileMode false; keys off the share")
    return finding("modes", "ok", "new files get 644 under umask 022; chmod is kept")


def probe_symlink(scratch: str, facts: Facts) -> Result:
    link = os.path.join(scratch, "symlink")
    try:
        os.symlink("target-name", link)
        back = os.readlink(link)
    except OSError as exc:
        return finding("symlink", "warn", f"os.symlink failed: {errname(exc)}",
                       "venvs, node_modules and some builds need symlinks",
                       "VirtualBox: VBoxManage setextradata VM VBoxInternal2/SharedFoldersEnableSymlinksCreate/"
                       "SHARE 1; cifs: mfsymlinks; keep venvs off the share", errname(exc))
    if back != "target-name":
        return finding("symlink", "warn", f"readlink returned {back!r}", "symlinks do not round-trip")
    return finding("symlink", "ok", "symlinks round-trip")


def probe_case(scratch: str, facts: Facts) -> Result:
    _touch(os.path.join(scratch, "CaseProbe.TXT"))
    if os.path.exists(os.path.join(scratch, "caseprobe.txt")):
        return finding("case", "warn", "the share is case-insensitive (CaseProbe.TXT is also caseprobe.txt)",
                       "git reports colliding paths; imports that work here fail in CI",
                       "use a case-sensitive volume on the host, or clone inside the guest")
    return finding("case", "ok", "case-sensitive")


def probe_mtime(scratch: str, facts: Facts) -> list[Result]:
    path = os.path.join(scratch, "mtime")
    before = time.time()
    st = _touch(path, b"x")
    skew = st.st_mtime - before
    out = []
    if abs(skew) > CLOCK_WARN_ABOVE:
        out.append(finding("mtime.clock", "warn", f"a new file's mtime is {skew:+.1f} s off this clock",
                           "the server stamps files with its own clock: make says 'clock skew', rsync --update "
                           "skips real edits", "run NTP/chrony on both sides; never rely on rsync --update"))
    else:
        out.append(finding("mtime.clock", "ok", f"new file mtime within {abs(skew):.2f} s of now"))
    out.append(_granularity(path, before, st.st_uid != facts["euid"]))
    return out


def _granularity(path: str, now: float, mismatch: bool) -> Result:
    want = (int(now) | 1) * 10**9 + 123456789  # odd second + ns: exposes 2 s (FAT) and 1 s granularity
    try:
        os.utime(path, ns=(want, want))
    except OSError as exc:
        return finding("mtime.granularity", "warn", f"os.utime on your own new file failed: {errname(exc)}",
                       "tools cannot set times here (rsync -t, tar, pip)", "", errname(exc), mismatch)
    got = os.stat(path).st_mtime_ns
    if got == want:
        return finding("mtime.granularity", "ok", "nanosecond mtimes kept")
    if got % 10**9 == 0:
        step = "2 s" if (got // 10**9) % 2 == 0 else "1 s"
    else:
        step = next(f"1 {u}" for n, u in ((10**6, "ms"), (10**3, "us"), (1, "ns")) if got % n == 0)
    return finding("mtime.granularity", "warn", f"mtimes are kept to {step} (set ...{want % 10**10}, read "
                   f"...{got % 10**10})", "coarse mtimes make rsync and make see changes that are not "
                   "there, or miss ones that are", "rsync --modify-window=1")


def _second_locker(path: str) -> int:
    """In a second process: 0 = got the lock (bad), 1 = refused (good), 2 = error."""
    fd = os.open(path, os.O_RDONLY)  # read-only: the file may look foreign here; a read lock is enough
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return 0
    except OSError as exc:
        return 1 if exc.errno in (errno.EAGAIN, errno.EACCES) else 2
    finally:
        os.close(fd)


def probe_fcntl(scratch: str, facts: Facts) -> Result:
    path = os.path.join(scratch, "fcntl.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        return finding("fcntl", "fail", f"fcntl lock failed: {errname(exc)}",
                       "SQLite says 'database is locked'; tools that lock their files fail",
                       "keep SQLite files and caches on guest-local disk", errname(exc))
    try:
        code = in_child(_second_locker, path, deadline=facts["timeout"]).get("value")
    finally:
        os.close(fd)
    if code == 1:
        return finding("fcntl", "ok", "a second process is refused a lock the first one holds")
    got = "got the same lock too" if code == 0 else "could not test (error or no answer)"
    return finding("fcntl", "warn", f"a second process {got}",
                   "byte-range locks are not enforced across processes: SQLite files can be corrupted",
                   "keep SQLite and caches on guest-local disk; never share one SQLite file host<->guest")


def _many(folder: str) -> float:
    start = time.perf_counter()
    names = [os.path.join(folder, f"f{i}") for i in range(MANY_FILES)]
    for name in names:
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644))
    for name in names:
        os.lstat(name)
    for name in names:
        os.unlink(name)
    return time.perf_counter() - start


def probe_manyfiles(scratch: str, facts: Facts) -> Result:
    folder = os.path.join(scratch, "many")
    os.mkdir(folder)
    share = _many(folder)
    local_dir = tempfile.mkdtemp(prefix="devenv-probe-local-")
    try:
        local = max(_many(local_dir), 1e-6)
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)
    ratio = share / local
    seen = f"{MANY_FILES} create/lstat/unlink: {share * 1000:.0f} ms here vs {local * 1000:.0f} ms in " \
           f"{tempfile.gettempdir()} ({ratio:.1f}x)"
    if ratio > 10:
        return finding("manyfiles", "warn", seen, "every stat is a round trip: git status, pip and tests on "
                       "the share are slow", "venv, caches and build output on guest-local disk; "
                       "git config core.checkStat minimal; git config core.trustctime false")
    return finding("manyfiles", "ok", seen)


def probe_git(scratch: str, facts: Facts) -> Result | None:
    git = shutil.which("git")
    if not git:
        return None
    repo = os.path.join(scratch, "gitprobe")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    # the smallest repository git recognises, as a checkout made on the host looks through the share
    # (git init would also write ~20 sample hooks: slow on a share, and not what users have)
    for sub in ("objects", "refs"):
        os.makedirs(os.path.join(repo, ".git", sub))
    _touch(os.path.join(repo, ".git", "HEAD"), b"ref: refs/heads/main\n")
    res = subprocess.run([git, "-C", repo, "rev-parse", "--git-dir"], capture_output=True,  # noqa: S603
                         text=True, env=env, timeout=facts["timeout"])
    owner = os.stat(repo).st_uid
    if "dubious ownership" in res.stderr or "unsafe repository" in res.stderr:
        return finding("git", "fail", f"git: detected dubious ownership (repo owner {owner}, you are "
                       f"{facts['euid']})", "git >= 2.35 refuses repositories you do not own",
                       f"fix the mapping, or: git config --global --add safe.directory {facts['path']}",
                       uid_mismatch=True)
    if res.returncode:
        return finding("git", "warn", "git rev-parse failed: " + _last(res.stderr), "")
    return finding("git", "ok", f"git works in a new repo here (owner {owner})")


def _last(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][-200:] if lines else "(no output)"


PROBES: list[tuple[str, Callable[[str, Facts], Any]]] = [
    ("hardlink", probe_hardlink), ("lock", probe_lock), ("owner", probe_owner), ("symlink", probe_symlink),
    ("case", probe_case), ("mtime", probe_mtime), ("fcntl", probe_fcntl), ("manyfiles", probe_manyfiles),
    ("git", probe_git),
]


# ------------------------------------------------------------------ two-sided probes (need the host side)


def step_stale_a(scratch: str) -> Result:
    os.mkdir(os.path.join(scratch, "stale-dir"))
    _touch(os.path.join(scratch, "stale-file"), b"one\n")
    with open(os.path.join(scratch, "stale-file"), "rb") as fh:
        fh.read()  # now both the name and the data are cached, if the share caches
    os.stat(os.path.join(scratch, "stale-dir"))
    return {"ready": True}


def host_stale(host_scratch: str) -> Result:
    os.rmdir(os.path.join(host_scratch, "stale-dir"))
    with open(os.path.join(host_scratch, "stale-file"), "r+b") as fh:  # same inode, same size, new bytes
        fh.write(b"two\n")
    return {"done": True}


def step_stale_b(scratch: str) -> list[Result]:
    out = []
    d = os.path.join(scratch, "stale-dir")
    try:
        os.mkdir(d)
        out.append(finding("cache.names", "ok", "a folder removed on the host can be created again at once"))
    except OSError as exc:
        out.append(finding(
            "cache.names", "warn", f"mkdir after a host-side rmdir: {errname(exc)} (stat: "
            f"{'exists' if os.path.lexists(d) else 'ENOENT'})",
            "the guest caches names the host changed: 'File exists' for things that were deleted",
            "NFS: lookupcache=positive or actimeo=0; sshfs: -o dir_cache=no; vboxsf: remount; "
            "do not edit one tree from both sides at once", errname(exc)))
    out.append(_stale_data(os.path.join(scratch, "stale-file")))
    return out


def _stale_data(path: str) -> Result:
    with open(path, "rb") as fh:
        data = fh.read()
    r, w = os.pipe()
    try:
        with open(path, "rb") as fh:
            os.sendfile(w, fh.fileno(), 0, 64)
        via_sendfile = os.read(r, 64)
    finally:
        os.close(r)
        os.close(w)
    if data != b"two\n" or via_sendfile != b"two\n":
        return finding("cache.data", "warn", f"after a host-side rewrite the guest reads {data!r} "
                       f"(sendfile: {via_sendfile!r})", "servers and tools see old file contents",
                       "NFS: actimeo=0; vboxsf: update Guest Additions, nginx/Apache 'sendfile off'; "
                       "sshfs: -o cache=no")
    return finding("cache.data", "ok", "host-side rewrites are seen by read() and sendfile()")


IN_CREATE, IN_CLOSE_WRITE, IN_MOVED_TO, IN_NONBLOCK = 0x100, 0x8, 0x80, 0o4000


def step_inotify(scratch: str, wait: float) -> Result:
    """Watch scratch, announce readiness with a marker file, report which names raised events."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(IN_NONBLOCK)
    if fd < 0:
        return {"error": errno.errorcode.get(ctypes.get_errno(), "?")}
    try:
        if libc.inotify_add_watch(fd, os.fsencode(scratch), IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
            return {"error": errno.errorcode.get(ctypes.get_errno(), "?")}
        _touch(os.path.join(scratch, "inotify-ready"))
        names: set[str] = set()
        end = time.monotonic() + wait
        while "host-write" not in names and time.monotonic() < end:
            if select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
                names |= _inotify_names(os.read(fd, 65536))
        return {"names": sorted(names)}
    finally:
        os.close(fd)


def _inotify_names(buf: bytes) -> set[str]:
    names, i = set(), 0
    while i + 16 <= len(buf):
        _wd, _mask, _cookie, size = struct.unpack_from("iIII", buf, i)
        names.add(buf[i + 16:i + 16 + size].rstrip(b"\0").decode(errors="replace"))
        i += 16 + size
    return names


def host_write_when_ready(host_scratch: str, wait: float) -> Result:
    end = time.monotonic() + wait
    while not os.path.exists(os.path.join(host_scratch, "inotify-ready")):
        if time.monotonic() > end:
            return {"written": False}
        time.sleep(0.02)
    time.sleep(0.1)
    _touch(os.path.join(host_scratch, "host-write"), b"from the host\n")
    return {"written": True}


def inotify_finding(out: Result) -> Result:
    names = out.get("names", [])
    if "error" in out:
        return finding("inotify", "warn", f"inotify unavailable: {out['error']}", "watchers cannot work",
                       "use a polling watcher", out["error"])
    if "host-write" in names:
        return finding("inotify", "ok", "a host-side write raised an inotify event in the guest")
    return finding("inotify", "warn", "a host-side write raised no inotify event in the guest"
                   + ("" if "inotify-ready" in names else " (not even local writes did)"),
                   "auto-reload and file watchers ignore host edits",
                   "use polling (watchdog PollingObserver, CHOKIDAR_USEPOLLING=1) or devenv sync to "
                   "guest-local disk")


# ------------------------------------------------------------------ the check command


def run_probe(func: Callable[[str, Facts], Any], name: str, scratch: str, facts: Facts) -> list[Result]:
    out = in_child(func, scratch, facts, deadline=facts["timeout"])
    if out.get("hung"):
        return [finding(name, "hung", f"the {name} probe got no answer within {facts['timeout']:g} s",
                        "the share stops answering under this operation", "see the mount's health")]
    if "value" in out:
        value = out["value"]
        return [] if value is None else value if isinstance(value, list) else [value]
    err = out.get("oserror")
    return [finding(name, "fail", f"the {name} probe failed: {out.get('text') or out.get('crash')}",
                    "this operation does not work on the share", "", err)]


def gather_facts(path: str, timeout: float, live: Result) -> Facts:
    euid = os.geteuid()
    try:
        user = pwd.getpwuid(euid).pw_name
    except KeyError:
        user = str(euid)
    return {"path": os.path.abspath(path), "euid": euid, "egid": os.getegid(), "user": user,
            "now": time.time(), "timeout": timeout, "path_uid": live.get("uid"), "path_gid": live.get("gid"),
            "mount": mount_of(path), "protected_hardlinks": _protected_hardlinks()}


def check(path: str, timeout: float, scratch_name: str | None, keep: bool) -> Result:
    live = alive(path, timeout)
    facts = gather_facts(path, timeout, live)
    if live["state"] == "hung":
        return {"facts": facts, "state": "hung", "findings": [hung_finding(path, timeout)]}
    if live["state"] == "error":
        return {"facts": facts, "state": "error", "errno": live["errno"], "findings": [
            finding("mount", "fail", f"{path}: {live['text']}", "the path cannot be used", "", live["errno"])]}
    findings = mount_findings(path, live)
    if facts["euid"] == 0:
        findings.append(finding("user", "warn", "probing as root: root passes permission and link checks that "
                                "the guest user fails", "the results may look better than what your code sees",
                                "run the check as the user that runs the code, e.g. sudo -u stack devenv share "
                                "check PATH, or use --guest NAME"))
    name = scratch_name or f"{SCRATCH_PREFIX}{os.getpid()}-{os.urandom(3).hex()}"
    scratch = os.path.join(path, name)
    made = in_child(os.mkdir, scratch, deadline=timeout)
    if "value" not in made:
        findings.append(finding("write", "hung" if made.get("hung") else "fail",
                                f"cannot create a scratch folder: {made.get('oserror') or 'no answer'}",
                                "nothing can be written here", "check the share's permissions and mapping",
                                made.get("oserror"), uid_mismatch=made.get("oserror") in ("EACCES", "EPERM")))
        return {"facts": facts, "state": "mounted", "scratch": None, "findings": findings}
    try:
        for probe_name, func in PROBES:
            findings.extend(run_probe(func, probe_name, scratch, facts))
    finally:
        if not keep:
            in_child(shutil.rmtree, scratch, deadline=timeout)
    return {"facts": facts, "state": "mounted", "scratch": name, "findings": findings}


def hung_finding(path: str, timeout: float) -> Result:
    return finding("mount", "hung", f"{path} did not answer statvfs within {timeout:g} s (nothing else was "
                   "probed)", "the share is hung: anything that touches it (df, ls, your IDE) blocks",
                   f"umount -l {path} (FUSE: fusermount -u -z {path}) and remount; fstab: "
                   "_netdev,nofail,x-systemd.automount,x-systemd.mount-timeout=30")


def cleanup(path: str, scratch: str, timeout: float) -> Result:
    if not scratch.startswith(SCRATCH_PREFIX) or "/" in scratch:
        return {"removed": False}  # never remove anything but our own scratch folder
    out = in_child(shutil.rmtree, os.path.join(path, scratch), deadline=timeout)
    return {"removed": "value" in out}


# ------------------------------------------------------------------ reap: stop one sync's stuck processes


def reap(marker: str, timeout: float) -> Result:
    """SIGKILL this user's processes whose environment holds DEVENV_SYNC=<marker> (one devenv sync's
    rsyncs, stuck on a hung share), and wait until they are gone.

    Only /proc is read (never the share), and only the environment marks a process: the marker is in no
    command line, so this script (which has it in its argv) and other runs are never matched. FUSE waits
    are killable; a process in an uninterruptible NFS wait may outlive the deadline: reported as left.
    """
    needle = ("DEVENV_SYNC=" + marker).encode()
    me, mine = os.getuid(), os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == mine:
            continue
        try:
            if os.stat("/proc/" + name).st_uid != me:
                continue
            with open("/proc/" + name + "/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
        except OSError:
            continue
        found.append(int(name))
        try:
            os.kill(int(name), signal.SIGKILL)
        except OSError:
            pass
    end = time.monotonic() + timeout
    left = [p for p in found if _running(p)]
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = [p for p in left if _running(p)]
    return {"killed": len(found) - len(left), "left": len(left)}


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed child of a dead parent waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


STEPS: dict[str, Callable[..., Any]] = {"stale-a": step_stale_a, "stale-b": step_stale_b}
HOST_OPS: dict[str, Callable[..., Any]] = {"stale": host_stale}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="devenv-probes")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("path")
    c.add_argument("--scratch")
    c.add_argument("--keep", action="store_true")
    s = sub.add_parser("step")
    s.add_argument("name", choices=[*STEPS, "inotify"])
    s.add_argument("path")
    s.add_argument("scratch")
    h = sub.add_parser("host")
    h.add_argument("op", choices=[*HOST_OPS, "write-when-ready", "stat"])
    h.add_argument("host_scratch")
    a = sub.add_parser("alive")
    a.add_argument("path")
    k = sub.add_parser("cleanup")
    k.add_argument("path")
    k.add_argument("scratch")
    r = sub.add_parser("reap")
    r.add_argument("marker")
    for p in (c, s, h, a, k, r):
        p.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args(argv)
    out = dispatch(args)
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def dispatch(args: argparse.Namespace) -> Any:
    if args.cmd == "check":
        return check(args.path, args.timeout, args.scratch, args.keep)
    if args.cmd == "alive":
        return alive(args.path, args.timeout)
    if args.cmd == "cleanup":
        return cleanup(args.path, args.scratch, args.timeout)
    if args.cmd == "reap":
        return reap(args.marker, args.timeout)
    if args.cmd == "step":
        scratch = os.path.join(args.path, args.scratch)
        if args.name == "inotify":
            return in_child(step_inotify, scratch, min(1.5, args.timeout), deadline=args.timeout + 1)
        return in_child(STEPS[args.name], scratch, deadline=args.timeout)
    if args.op == "write-when-ready":
        return in_child(host_write_when_ready, args.host_scratch, args.timeout, deadline=args.timeout + 1)
    if args.op == "stat":
        return in_child(lambda p: list(os.stat(p))[4:6], args.host_scratch, deadline=args.timeout)
    return in_child(HOST_OPS[args.op], args.host_scratch, deadline=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
