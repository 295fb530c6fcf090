"""Fixtures for the guest/sync/watch tests, on top of guestfix's real guest (sshd on loopback, a guest
user with another UID). Registered in conftest's pytest_plugins.

  sync_project a small project tree on the host, in a folder whose name has spaces, quotes, a leading
               dash and unicode
  sync_remote  a fresh guest-side folder path (not created) under the guest's home, also oddly named
  sync_guest   a devenv Guest for sync_remote, reached through the fixture's ssh config
  own_sshd     a second sshd just for one test, that the test may stop and start again on the same port
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from guestfix import GuestBox, _free_port, _port_open, _wait_for, authorize, keygen

from devenv.host.guests import Guest

ODD = "-x proj 'q\" é"  # leading dash, space, both quotes, unicode


def make_tree(root: Path, files: int = 5) -> None:
    (root / "pkg" / "sub dir").mkdir(parents=True)
    (root / "setup.cfg").write_text("[metadata]\nname = demo\n")
    for i in range(files):
        (root / "pkg" / f"m{i}.py").write_text(f"x = {i}\n")
    (root / "pkg" / "sub dir" / "it's -odd é.txt").write_text("odd\n")
    (root / ".tox").mkdir()
    (root / ".tox" / "junk").write_text("never synced\n")
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "m0.cpython-311.pyc").write_bytes(b"\0")


@pytest.fixture
def sync_project(tmp_path: Path) -> Path:
    root = tmp_path / ODD
    root.mkdir()
    make_tree(root)
    return root


@pytest.fixture
def sync_remote(real_guest: GuestBox) -> Path:
    return real_guest.workdir / f"{ODD}-{secrets.token_hex(3)}"


@pytest.fixture
def sync_guest(real_guest: GuestBox, sync_remote: Path) -> Guest:
    return guest_for(real_guest, sync_remote)


def guest_for(box: GuestBox, remote: Path, **kw: object) -> Guest:
    return Guest(name="box", host=box.alias, path=str(remote), ssh_config=str(box.ssh_config), **kw)  # type: ignore[arg-type]


def guest_write(box: GuestBox, path: Path, text: str, mtime: str | None = None) -> None:
    """Write a file on the guest as the guest user (optionally with a `touch -d` mtime)."""
    res = box.as_guest(["sh", "-c", 'printf %s "$2" > "$1"', "sh", str(path), text])
    assert res.ok, res.stderr
    if mtime:
        assert box.as_guest(["touch", "-d", mtime, str(path)]).ok


def guest_files(remote: Path) -> set[str]:
    """Every file under remote (read directly: the 'guest' is this machine)."""
    if not remote.exists():
        return set()
    return {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()}


def wait_until(cond, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


@dataclass
class OwnSshd:
    """A second sshd for one test: stop() makes the guest vanish, start() brings it back on the same port."""

    tmp: Path
    port: int
    config: Path  # sshd_config
    client_config: Path  # ssh config with Host alias `alias`
    known_hosts: Path
    alias: str
    daemon: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.tmp / "sshd.log", "ab")  # noqa: SIM115 - handed to the child
        self.daemon = subprocess.Popen(  # noqa: S603 - a server for the test
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL,
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        _wait_for(lambda: _port_open(self.port), 10, "own sshd")

    def stop(self) -> None:
        """Stop the listener and every session it started (the guest 'goes away')."""
        if self.daemon is None:
            return
        for pid in _children(self.daemon.pid):
            _kill(pid)
        self.daemon.kill()
        self.daemon.wait(timeout=10)
        self.daemon = None

    def kill_sessions(self) -> None:
        """Drop the live connections, keep listening."""
        if self.daemon is not None:
            for pid in _children(self.daemon.pid):
                _kill(pid)


def _children(pid: int) -> list[int]:
    """All descendants of pid (from /proc), deepest first."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier]
        found += kids
        frontier = kids
    return found[::-1]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def own_sshd(real_guest: GuestBox) -> Iterator[OwnSshd]:
    # not under tmp_path (0700, root's): sshd reads authorized_keys as the guest user
    tmp = Path(tempfile.mkdtemp(prefix="own-sshd-", dir=real_guest.tmp))
    tmp.chmod(0o755)
    host_pub = keygen(tmp / "hostkey")
    authorize(tmp, real_guest.user, real_guest.identity_file)
    port = _free_port()
    cfg = tmp / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'hostkey'}\nPidFile none\n"
        f"AuthorizedKeysFile {tmp}/authorized_keys/%u\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\nStrictModes no\nLogLevel ERROR\n"
    )
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    alias = f"own-sshd-{port}"
    client = tmp / "ssh_config"
    client.write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {real_guest.user}\n"
        f"  IdentityFile {real_guest.identity_file}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
        "  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    server = OwnSshd(tmp, port, cfg, client, known, alias)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
