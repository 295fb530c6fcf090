"""How sync and guest add fail: bounded retries for transient trouble, one clear error for the rest."""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from pathlib import Path

import pytest
from guestfix import _free_port, frozen_bindfs, keygen
from syncfix import _children, guest_files, guest_for

from devenv import proc
from devenv.errors import GuestError
from devenv.host import guests, rsync, ssh, sync
from devenv.host.guests import Guest
from devenv.host.sync import SyncOptions

pytestmark = pytest.mark.guest

QUICK = ssh.Retry(attempts=3, first_delay=0.2, max_total=5)


def _own_guest(server, remote: Path, **kw) -> Guest:
    return Guest(name="box", host=server.alias, path=str(remote), ssh_config=str(server.client_config), **kw)


def test_closed_port_gives_up_after_bounded_retries(sync_project, real_guest, sync_remote):
    guest = Guest(name="box", host="127.0.0.1", port=_free_port(), user=real_guest.user, path=str(sync_remote),
                  identity=str(real_guest.identity_file))
    retries: list[float] = []
    start = time.monotonic()
    with pytest.raises(GuestError) as err:
        sync.sync(sync_project, guest, SyncOptions(retry=QUICK), on_retry=lambda _m, d: retries.append(d))
    assert time.monotonic() - start < 20
    assert retries == [0.2, 0.4]  # exponential backoff, then it stops
    assert "cannot reach" in err.value.message and "gave up after 3 attempts" in err.value.message
    assert err.value.exit_code == 9


def test_guest_going_away_and_coming_back_is_retried(sync_project, own_sshd, sync_remote):
    guest = _own_guest(own_sshd, sync_remote)
    own_sshd.stop()
    threading.Timer(1.0, own_sshd.start).start()
    retries: list[str] = []
    result = sync.sync(sync_project, guest, SyncOptions(retry=ssh.Retry(attempts=6, first_delay=0.5)),
                       on_retry=lambda m, _d: retries.append(m))
    assert retries and "Connection refused" in retries[0]
    assert "pkg/m1.py" in result.created and "pkg/m1.py" in guest_files(sync_remote)


def test_connection_dropped_mid_run_is_retried(sync_project, own_sshd, sync_remote):
    # the guest's rsync starts 2 s late, so the connection is surely open when we cut it
    guest = _own_guest(own_sshd, sync_remote, rsync_path="sleep 2; rsync")
    retries: list[str] = []
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = sync.sync(sync_project, guest, SyncOptions(retry=QUICK, check_clock=False),
                                      on_retry=lambda m, _d: retries.append(m))
        except Exception as exc:
            box["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    assert _wait_for_remote_sleep(own_sshd.daemon.pid), "the remote rsync never started"
    own_sshd.kill_sessions()
    worker.join(timeout=60)
    assert "error" not in box, box.get("error")
    assert len(retries) == 1
    assert "pkg/m1.py" in guest_files(sync_remote)


def _wait_for_remote_sleep(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(pid):
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "sleep":
                    return True
            except OSError:
                continue
        time.sleep(0.05)
    return False


def test_rsync_missing_on_guest_fails_at_once(sync_project, real_guest, sync_remote):
    guest = guest_for(real_guest, sync_remote, rsync_path="/nonexistent/rsync")
    retries: list[str] = []
    with pytest.raises(GuestError) as err:
        sync.sync(sync_project, guest, SyncOptions(retry=QUICK), on_retry=lambda m, _d: retries.append(m))
    assert "rsync is not available on the guest" in err.value.message and "apt-get install rsync" in err.value.hint
    assert retries == []


def test_guest_without_rsync_on_its_path_fails_at_once(sync_project, own_sshd, sync_remote):
    # a real guest whose PATH has no rsync: sshd sets the session's PATH
    own_sshd.stop()
    own_sshd.config.write_text(own_sshd.config.read_text() + "SetEnv PATH=/nonexistent\n")
    own_sshd.start()
    guest = _own_guest(own_sshd, sync_remote)
    start = time.monotonic()
    with pytest.raises(GuestError) as err:
        sync.sync(sync_project, guest, SyncOptions(retry=QUICK, check_clock=False))
    assert "rsync is not available on the guest" in err.value.message
    assert "No such file" in err.value.message or "not found" in err.value.message  # env's words, or the shell's
    assert "--rsync-path" in err.value.hint
    assert time.monotonic() - start < 10  # no retries


def test_remote_path_not_writable_fails_at_once(sync_project, real_guest):
    locked = real_guest.tmp / "root-owned"  # root's folder: the guest user cannot write there
    locked.mkdir(exist_ok=True)
    guest = guest_for(real_guest, locked)
    with pytest.raises(GuestError) as err:
        sync.sync(sync_project, guest, SyncOptions(retry=QUICK))
    assert "cannot write" in err.value.message and "chown" in err.value.hint


def test_guest_add_unknown_host_key_then_accept_new(run_cli, sync_project, own_sshd, sync_remote):
    own_sshd.known_hosts.write_text("")
    args = ["guest", "add", "vm", "--ssh", own_sshd.alias, "--ssh-config", str(own_sshd.client_config),
            "--path", str(sync_remote), "--project", str(sync_project)]
    res = run_cli(*args)
    assert res.exit_code == 9
    assert "host key" in res.output and "not known" in res.output and "--accept-new-host-key" in res.output
    assert "ssh-keyscan" in res.output
    res = run_cli(*args, "--accept-new-host-key")
    assert res.exit_code == 0, res.output
    assert "StrictHostKeyChecking=accept-new" in res.output
    assert f"[127.0.0.1]:{own_sshd.port}" in own_sshd.known_hosts.read_text()
    assert sync_remote.is_dir()  # created by guest add, and said so
    assert "(created, writable)" in res.output


def test_changed_host_key_is_refused_even_with_accept_new(run_cli, sync_project, own_sshd, sync_remote, tmp_path):
    other = keygen(tmp_path / "other_hostkey")
    own_sshd.known_hosts.write_text(f"[127.0.0.1]:{own_sshd.port} {' '.join(other.split()[:2])}\n")
    res = run_cli("guest", "add", "vm", "--ssh", own_sshd.alias, "--ssh-config", str(own_sshd.client_config),
                  "--path", str(sync_remote), "--project", str(sync_project), "--accept-new-host-key")
    assert res.exit_code == 9
    assert "CHANGED" in res.output and "ssh-keygen -R" in res.output
    assert not sync_remote.exists()


def test_wrong_key_is_a_clear_auth_error(run_cli, sync_project, real_guest, sync_remote, tmp_path):
    keygen(tmp_path / "stranger")
    config = tmp_path / "ssh_config"  # like the fixture's, minus its (authorized) IdentityFile
    config.write_text(f"Host guest\n  HostName 127.0.0.1\n  Port {real_guest.port}\n  User {real_guest.user}\n"
                      f"  UserKnownHostsFile {real_guest.known_hosts}\n  GlobalKnownHostsFile /dev/null\n")
    res = run_cli("guest", "add", "vm", "--ssh", "guest", "--ssh-config", str(config),
                  "--identity", str(tmp_path / "stranger"), "--path", str(sync_remote),
                  "--project", str(sync_project))
    assert res.exit_code == 9
    assert "refused our key" in res.output and "--identity" in res.output


def test_guest_add_path_that_cannot_be_created(run_cli, sync_project, real_guest):
    res = run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                  "--path", str(real_guest.tmp / "root-owned-2" / "sub"), "--project", str(sync_project))
    assert res.exit_code == 9 and "cannot create" in res.output


def _rsyncs_of(uid: int) -> list[int]:
    """The guest user's rsync processes (read from /proc, like the guest's own `ps`)."""
    found = []
    for pid in (p for p in Path("/proc").iterdir() if p.name.isdigit()):
        try:
            if pid.stat().st_uid == uid and (pid / "comm").read_text().strip() == "rsync":
                found.append(int(pid.name))
        except OSError:
            continue
    return found


def test_sync_onto_a_hung_share_stops_soon_kills_its_guest_side_and_blames_the_share(
        sync_project, real_guest, tmp_path):
    # allow_other: without it FUSE answers the guest user EACCES at once instead of hanging
    mount = real_guest.tmp / "mnt" / f"hung-{secrets.token_hex(3)}"
    with frozen_bindfs(real_guest.host_tree, mount, options=("-o", "allow_other")) as share:
        guest = guest_for(real_guest, share / "proj")
        guests.save(sync_project, guest)
        start = time.monotonic()
        res = proc.run([sys.executable, "-m", "devenv", "sync", "--project", str(sync_project), "--timeout", "30",
                        "--json"], timeout=120)
        took = time.monotonic() - start
        left = _rsyncs_of(real_guest.uid)  # before the thaw, which would let stuck ones finish
    assert res.returncode == 12, res.stderr  # hung (errors.EXIT_CODES), not 9 "cannot reach"
    assert took < 20  # well within --timeout: the share is asked, rsync's silence is not awaited
    out = json.loads(res.stdout)
    assert str(share / "proj") in out["error"] and "share that hangs" in out["error"], out
    assert f"the fuse.bindfs mount {share}" in out["error"] or f"mount {share}" in out["error"], out
    assert "umount -l" in out["hint"] and "reach" not in out["error"]
    assert left == [], "the guest's rsyncs of the stopped run are still there"


def test_sync_on_a_live_guest_is_not_probed_and_leaves_no_marker_behind(sync_project, real_guest, sync_remote,
                                                                        monkeypatch):
    from devenv.host import hangwatch

    probed: list[str] = []
    monkeypatch.setattr(hangwatch, "probe", lambda guest, deadline, *via: probed.append(guest.name))
    # the marker rides in the guest rsync's environment (env VAR=x rsync), never in its arguments
    argv = rsync.argv(guest_for(real_guest, sync_remote), str(sync_project), backup_dir="r1", marker="r1")
    assert "--rsync-path=/usr/bin/env DEVENV_SYNC=r1 rsync" in argv
    assert rsync.remote_program("/opt/bin/rsync", "m") == "/usr/bin/env DEVENV_SYNC=m /opt/bin/rsync"
    assert rsync.remote_program("sudo rsync", "m") == "sudo rsync"  # a shell command stays as given
    assert rsync.remote_program(None, None) is None
    result = sync.sync(sync_project, guest_for(real_guest, sync_remote), SyncOptions(retry=QUICK))
    assert "pkg/m1.py" in result.created
    assert probed == []  # a sync done within FIRST_PROBE_AFTER pays nothing for the hang watch
    assert _rsyncs_of(real_guest.uid) == []
