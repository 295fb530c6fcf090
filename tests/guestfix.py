"""A real guest on this machine, for tests: two users with different UIDs, an sshd on loopback, FUSE shares.

The devstack story in miniature: the developer ("host" user, e.g. UID 1500) owns the project tree; code
runs as a "guest" user (e.g. UID 2345, another GID) that reaches the tree through a share or over ssh.

Fixtures (register this module in tests/conftest.py's pytest_plugins):
  real_guest    session-scoped GuestBox: users, sshd, and the shares
                  .share_unmapped  bindfs showing every file as the host user's and storing new files as the
                                   host user (like Vagrant NFS with map_uid = host uid): hard-link locks
                                   fail with EPERM for the guest
                  .share_mapped    bindfs --map=HOSTUID/GUESTUID:@HOSTGID/@GUESTGID: the guest owns its files
                  .sshfs_share     sshfs of the host tree through the fixture's sshd, as the host user,
                                   allow_other without default_permissions
                .ssh_argv        ["ssh", "-F", <tmp config>, <alias>] — append a remote command
                .as_guest(argv)  run locally as the guest user (runuser); .guest_python(code, *args)
                .ssh(argv)       run over ssh as the guest user
  frozen_share  function-scoped Path: a bindfs mount whose FUSE daemon is SIGSTOPped (a hung share);
                thawed and unmounted after the test. Never touch it from the test process itself.

Skips with the reason when not root, without /dev/fuse, or without sshd/bindfs/sshfs/runuser. Every user,
mount and process is removed at teardown, on failure too (finally + atexit), and leftovers of a crashed
earlier session (its pid is recorded in the users' GECOS field and the tmp folder name) are removed first.
Nothing is written to /root/.ssh: keys, known_hosts and the client config live in the fixture's tmp folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devenv import proc

TAG = "devenv-guestfix"  # in GECOS and tmp folder names, so leftovers can be recognised
TOOLS = ("/usr/sbin/sshd", "bindfs", "sshfs", "ssh", "ssh-keygen", "runuser", "useradd", "fusermount")
GUEST_PYTHON = "/usr/bin/python3"  # the test runner's python may live under /root, unreadable to the guest


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the real guest fixture needs root (useradd, sshd, FUSE mounts)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: FUSE shares (bindfs, sshfs) cannot be mounted here"
    missing = [t for t in TOOLS if not (os.path.exists(t) if t.startswith("/") else shutil.which(t))]
    if missing:
        return f"missing {', '.join(missing)} (CI installs openssh-server bindfs sshfs fuse3 via .ci/run)"
    if not os.access(GUEST_PYTHON, os.X_OK):
        return f"{GUEST_PYTHON} is missing: the guest user needs a python3 it can run"
    return None


@dataclass(frozen=True)
class GuestBox:
    """What a test needs to reach the guest. All paths are absolute."""

    alias: str  # the Host name in ssh_config
    host: str
    port: int
    user: str  # guest user
    uid: int
    gid: int
    home: Path  # guest's home (guest-local disk)
    workdir: Path  # an empty guest-owned folder under home
    host_user: str
    host_uid: int
    host_gid: int
    host_tree: Path  # the project tree on the "host" side, owned by host_uid
    share_unmapped: Path
    share_mapped: Path
    sshfs_share: Path
    identity_file: Path
    known_hosts: Path
    ssh_config: Path
    tmp: Path
    python: str = GUEST_PYTHON
    ssh_argv: tuple[str, ...] = field(default=())

    def as_guest(
        self, argv: Sequence[str | os.PathLike[str]], *, timeout: float = 30, input: str | None = None,
        cwd: str | os.PathLike[str] = "/",
    ) -> proc.Result:
        """Run argv on this machine as the guest user (uid, gid and groups switched by runuser)."""
        return proc.run(["runuser", "-u", self.user, "--", *map(os.fspath, argv)],
                        timeout=timeout, input=input, cwd=cwd, env=self._env(self.home, self.user))

    def as_host_user(
        self, argv: Sequence[str | os.PathLike[str]], *, timeout: float = 30, input: str | None = None
    ) -> proc.Result:
        """Run argv as the host developer (to change the host side of a share)."""
        return proc.run(["runuser", "-u", self.host_user, "--", *map(os.fspath, argv)],
                        timeout=timeout, input=input, cwd="/", env=self._env(self.tmp, self.host_user))

    def guest_python(self, code: str, *args: str, timeout: float = 30) -> proc.Result:
        return self.as_guest([self.python, "-c", code, *args], timeout=timeout)

    def ssh(self, argv: Sequence[str], *, timeout: float = 30, input: str | None = None) -> proc.Result:
        """Run a remote command as the guest user. ssh joins argv with spaces: quote it (shlex.join)."""
        return proc.run([*self.ssh_argv, "--", *argv], timeout=timeout, input=input, env=self._env(self.tmp))

    def _env(self, home: Path, user: str | None = None) -> dict[str, str]:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
               "LANG": "C.UTF-8"}
        if user:
            env.update(USER=user, LOGNAME=user)
        return env


# ---------------------------------------------------------------- cleanup of this and crashed sessions


class Cleanup:
    """Undo steps, run last-in first-out exactly once (teardown, or atexit if pytest died)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []
        atexit.register(self.run)

    def add(self, what: str, step: Callable[[], None]) -> None:
        self.steps.append((what, step))

    def run(self) -> None:
        while self.steps:
            what, step = self.steps.pop()
            try:
                step()
            except Exception as exc:  # keep going: one failed step must not leave the rest behind
                print(f"guestfix: cleanup '{what}' failed: {exc}")


def _quiet(argv: Sequence[str], timeout: float = 20) -> proc.Result | None:
    try:
        return proc.run(argv, timeout=timeout)
    except proc.Timeout:
        return None


def unmount(path: Path) -> None:
    """fusermount -u, then a lazy umount if it is busy; never blocks for long."""
    if not _is_mountpoint(path):
        return
    res = _quiet(["fusermount", "-u", str(path)], timeout=10)
    if res is None or not res.ok:
        _quiet(["umount", "-l", str(path)], timeout=10)


def _is_mountpoint(path: Path) -> bool:
    # from mountinfo, so a hung mount is never touched
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            mnt = line.split()[4].replace("\\040", " ").replace("\\134", "\\")
            if mnt == target:
                return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> None:
    """Users, mounts and folders of earlier sessions whose pytest process is gone."""
    for entry in Path("/etc/passwd").read_text().splitlines():
        parts = entry.split(":")
        m = re.search(rf"{TAG} pid=(\d+)", parts[4]) if len(parts) > 4 else None
        if m and not _pid_alive(int(m.group(1))):
            _quiet(["pkill", "-KILL", "-u", parts[0]])
            _quiet(["userdel", "-f", "-r", parts[0]])
            _quiet(["groupdel", parts[0]])
    for folder in Path(tempfile.gettempdir()).glob(f"{TAG}-*"):
        m = re.match(rf"{TAG}-(\d+)-", folder.name)
        if m and not _pid_alive(int(m.group(1))):
            kill_processes_mentioning(str(folder))  # its sshd, sshfs and bindfs daemons
            for mnt in sorted(_mounts_under(folder), key=len, reverse=True):
                unmount(Path(mnt))
            shutil.rmtree(folder, ignore_errors=True)


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (our tmp folder names are unique)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def kill_processes_mentioning(text: str) -> None:
    for pid in processes_mentioning(text):
        for sig in (signal.SIGCONT, signal.SIGKILL):  # a stopped FUSE daemon must be woken to die cleanly
            with contextlib.suppress(OSError):
                os.kill(pid, sig)


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder) + "/"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
        points = [line.split()[4].replace("\\040", " ") for line in fh]
    return [p for p in points if p.startswith(prefix)]


# ---------------------------------------------------------------- building blocks


def _free_id(kind: str, start: int) -> int:
    taken = {int(line.split(":")[2]) for line in Path(f"/etc/{kind}").read_text().splitlines() if line}
    n = start
    while n in taken:
        n += 1
    return n


def add_user(cleanup: Cleanup, prefix: str, uid_from: int, gid_from: int, home: Path) -> tuple[str, int, int]:
    """groupadd + useradd with the first free ids from uid_from/gid_from; retries if another session races."""
    for _ in range(20):
        name = f"{prefix}-{secrets.token_hex(3)}"
        gid = _free_id("group", gid_from)
        if not proc.run(["groupadd", "-g", str(gid), name], timeout=30).ok:
            continue
        cleanup.add(f"groupdel {name}", lambda n=name: _quiet(["groupdel", n]) and None)
        uid = _free_id("passwd", uid_from)
        res = proc.run(
            ["useradd", "-u", str(uid), "-g", str(gid), "-d", str(home), "-M", "-s", "/bin/sh",
             "-p", "*", "-c", f"{TAG} pid={os.getpid()}", name],
            timeout=30,
        )  # -p '*': not locked, so sshd (UsePAM no) lets it log in with a key; no password works
        if res.ok:
            cleanup.add(f"userdel {name}", lambda n=name: _kill_user_and_delete(n))
            return name, uid, gid
    raise RuntimeError(f"guestfix: could not create a {prefix} user: {res.stderr}")


def _kill_user_and_delete(name: str) -> None:
    _quiet(["pkill", "-KILL", "-u", name])
    _quiet(["userdel", "-f", name])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"guestfix: {what} not ready within {timeout} s")
        time.sleep(0.05)


def keygen(path: Path) -> str:
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", TAG, "-f", str(path)]
    proc.run(argv, timeout=30, check=True)
    return path.with_suffix(".pub").read_text().strip()


def start_sshd(cleanup: Cleanup, tmp: Path) -> tuple[int, str]:
    """sshd -D on 127.0.0.1 with its own host key; returns (port, host public key)."""
    host_pub = keygen(tmp / "ssh_host_ed25519_key")
    # sshd refuses to start without its privilege-separation folder (compiled in, not configurable).
    # systemd's tmpfiles make it at boot; a container without systemd never has it, and
    # `apt-get install openssh-server` does not create it either.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    for _attempt in range(5):
        port = _free_port()
        cfg = tmp / "sshd_config"
        cfg.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'ssh_host_ed25519_key'}\n"
            f"PidFile {tmp / 'sshd.pid'}\nAuthorizedKeysFile {tmp}/authorized_keys/%u\n"
            "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin no\n"
            # the authorized_keys files live under /tmp (world-writable), which StrictModes refuses
            "StrictModes no\n"
            "Subsystem sftp internal-sftp\nX11Forwarding no\nAllowTcpForwarding no\nPrintMotd no\n"
            "LogLevel ERROR\nMaxStartups 50\nMaxSessions 50\n"
        )
        log = open(tmp / "sshd.log", "ab")  # noqa: SIM115 - handed to the child
        daemon = subprocess.Popen(  # noqa: S603 - a long-running server: proc.run waits for exit
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        try:
            _wait_for(lambda d=daemon, p=port: d.poll() is not None or _port_open(p), 10, "sshd")
        except RuntimeError:
            daemon.kill()
            raise
        if daemon.poll() is None:
            cleanup.add("stop sshd", lambda d=daemon: _stop(d))
            return port, host_pub
    raise RuntimeError(f"guestfix: sshd did not start: {(tmp / 'sshd.log').read_text()[-500:]}")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(timeout=5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=5)


def write_client_config(
    tmp: Path, alias: str, port: int, user: str, host_pub: str
) -> tuple[Path, Path, Path]:
    identity = tmp / "client_ed25519"
    keygen(identity)
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    cfg = tmp / "ssh_config"
    cfg.write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
        f"  IdentityFile {identity}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
        "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n"
        "  PasswordAuthentication no\n  ConnectTimeout 5\n  LogLevel ERROR\n"
    )
    cfg.chmod(0o600)
    return identity, known, cfg


def authorize(tmp: Path, user: str, identity: Path) -> None:
    keys = tmp / "authorized_keys"
    keys.mkdir(mode=0o755, exist_ok=True)
    (keys / user).write_text(identity.with_suffix(".pub").read_text())
    (keys / user).chmod(0o644)


def make_host_tree(root: Path, uid: int, gid: int) -> None:
    """A tiny project owned by the host developer, modes as a umask of 022 leaves them."""
    (root / "demo" / "tests").mkdir(parents=True)
    (root / "setup.cfg").write_text("[metadata]\nname = demo\n")
    (root / "demo" / "__init__.py").write_text("")
    (root / "demo" / "tests" / "test_demo.py").write_text("def test_ok():\n    assert True\n")
    for p in [root, *root.rglob("*")]:
        os.chown(p, uid, gid)
        p.chmod(0o755 if p.is_dir() else 0o644)


def mount_bindfs(cleanup: Cleanup, options: Sequence[str], source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    cleanup.add(f"unmount {target}", lambda: unmount(target))
    proc.run(["bindfs", *options, str(source), str(target)], timeout=30, check=True, what="bindfs")
    _wait_for(lambda: _is_mountpoint(target), 10, f"bindfs at {target}")


def mount_sshfs(
    cleanup: Cleanup, box_tmp: Path, cfg: Path, alias: str, user: str, src: Path, target: Path
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    cleanup.add(f"unmount {target}", lambda: unmount(target))
    proc.run(
        ["sshfs", "-F", str(cfg), "-o", "allow_other", f"{user}@{alias}:{src}", str(target)],
        timeout=30, check=True, what="sshfs", env={"PATH": os.environ.get("PATH", ""), "HOME": str(box_tmp)},
    )
    _wait_for(lambda: _is_mountpoint(target), 10, f"sshfs at {target}")


# ---------------------------------------------------------------- the fixtures


def build(cleanup: Cleanup) -> GuestBox:
    remove_leftovers()
    tmp = Path(tempfile.mkdtemp(prefix=f"{TAG}-{os.getpid()}-"))
    tmp.chmod(0o755)  # both users must traverse it to reach homes and mounts
    cleanup.add(f"rm {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    (tmp / "home").mkdir(mode=0o755)
    host_home = tmp / "home" / "host"
    guest_home = tmp / "home" / "guest"
    host_user, host_uid, host_gid = add_user(cleanup, "devenv-h", 1500, 1500, host_home)
    guest_user, guest_uid, guest_gid = add_user(cleanup, "devenv-g", 2345, 2400, guest_home)
    for home, uid, gid in ((host_home, host_uid, host_gid), (guest_home, guest_uid, guest_gid)):
        home.mkdir(mode=0o755)
        os.chown(home, uid, gid)
    workdir = guest_home / "work"
    workdir.mkdir()
    os.chown(workdir, guest_uid, guest_gid)
    host_tree = host_home / "project"
    host_tree.mkdir()
    make_host_tree(host_tree, host_uid, host_gid)

    port, host_pub = start_sshd(cleanup, tmp)
    alias = f"devenv-guestfix-{port}"
    identity, known, cfg = write_client_config(tmp, alias, port, guest_user, host_pub)
    for user in (guest_user, host_user):
        authorize(tmp, user, identity)

    mnt = tmp / "mnt"
    unmapped, mapped, sshfs_dir = mnt / "unmapped", mnt / "mapped", mnt / "sshfs"
    # like Vagrant NFS with map_uid/map_gid = the host user: all files show and are stored as the host
    # user; directories writable by everyone so the guest can create files (as all_squash would allow)
    mount_bindfs(cleanup, [f"--force-user={host_uid}", f"--force-group={host_gid}",
                           f"--create-for-user={host_uid}", f"--create-for-group={host_gid}",
                           "--perms=od+rwx"], host_tree, unmapped)
    mount_bindfs(cleanup, [f"--map={host_uid}/{guest_uid}:@{host_gid}/@{guest_gid}"], host_tree, mapped)
    mount_sshfs(cleanup, tmp, cfg, alias, host_user, host_tree, sshfs_dir)
    return GuestBox(
        alias=alias, host="127.0.0.1", port=port, user=guest_user, uid=guest_uid, gid=guest_gid,
        home=guest_home, workdir=workdir, host_user=host_user, host_uid=host_uid, host_gid=host_gid,
        host_tree=host_tree, share_unmapped=unmapped, share_mapped=mapped, sshfs_share=sshfs_dir,
        identity_file=identity, known_hosts=known, ssh_config=cfg, tmp=tmp,
        ssh_argv=("ssh", "-F", str(cfg), alias),
    )


@pytest.fixture(scope="session")
def real_guest() -> Iterator[GuestBox]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    cleanup = Cleanup()
    try:
        box = build(cleanup)
        res = box.ssh(["id", "-u"], timeout=20)
        if not res.ok or res.stdout.strip() != str(box.uid):
            raise RuntimeError(f"guestfix: ssh to the guest failed: {res.stderr.strip()}")
        yield box
    finally:
        cleanup.run()


@contextlib.contextmanager
def frozen_bindfs(source: Path, target: Path, options: Sequence[str] = ()) -> Iterator[Path]:
    """A bindfs mount whose FUSE daemon is stopped: every access to target blocks until it is thawed.
    options: e.g. ("-o", "allow_other"), without which FUSE answers other users EACCES, never hanging."""
    target.mkdir(parents=True, exist_ok=True)
    daemon = subprocess.Popen(  # noqa: S603 - runs in the foreground (-f) so we hold its pid
        ["bindfs", "-f", *options, str(source), str(target)], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: daemon.poll() is not None or _is_mountpoint(target), 10, "frozen bindfs")
        os.kill(daemon.pid, signal.SIGSTOP)
        yield target
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGCONT)
        time.sleep(0.2)  # let blocked requests drain before the unmount
        unmount(target)
        _stop(daemon)


@pytest.fixture
def frozen_share(real_guest: GuestBox) -> Iterator[Path]:
    target = real_guest.tmp / "mnt" / f"frozen-{secrets.token_hex(3)}"
    with frozen_bindfs(real_guest.host_tree, target) as path:
        yield path
    with contextlib.suppress(OSError):
        target.rmdir()
