"""The real guest fixture itself: users, sshd, shares, and the seed case (link lock on an unmapped share)."""

from __future__ import annotations

import os
import shlex
import time

import pytest

from devenv import proc

pytestmark = pytest.mark.guest

# python `lockfile`'s LinkLockFile, bounded: unique file, os.link to the lock name, acquired iff nlink == 2
LINK_LOCK = r"""
import errno, os, socket, sys, time
folder, wait = sys.argv[1], float(sys.argv[2])
unique = os.path.join(folder, f"{socket.gethostname()}-{os.getpid()}.unique")
lock = os.path.join(folder, "demo.lock")
open(unique, "w").close()
tries, errors = 0, set()
try:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        tries += 1
        try:
            os.link(unique, lock)
        except OSError as exc:
            errors.add(errno.errorcode[exc.errno])
        if os.stat(unique).st_nlink == 2:
            os.unlink(lock)
            print("ACQUIRED", tries)
            break
        time.sleep(0.05)
    else:
        print("TIMEOUT", tries, ",".join(sorted(errors)) or "-", os.stat(unique).st_nlink)
finally:
    os.unlink(unique)
    if not os.path.exists(unique) and os.path.lexists(lock) and os.stat(lock).st_nlink == 1:
        os.unlink(lock)  # sshfs: the link was made but the count never showed it
"""


def _scratch(real_guest, share) -> str:
    """A guest-writable folder inside the share, created through the share as the guest."""
    name = f"fx-{os.getpid()}-{time.monotonic_ns()}"
    path = os.path.join(share, name)
    res = real_guest.as_guest(["mkdir", path])
    assert res.ok, res.stderr
    return path


def test_users_differ_and_ssh_reaches_the_guest(real_guest) -> None:
    assert real_guest.uid != real_guest.host_uid and real_guest.gid != real_guest.host_gid
    res = real_guest.ssh(["id", "-u;", "id", "-g;", "pwd"])
    assert res.ok, res.stderr
    assert res.stdout.split() == [str(real_guest.uid), str(real_guest.gid), str(real_guest.home)]
    assert real_guest.as_guest(["id", "-u"]).stdout.strip() == str(real_guest.uid)
    # the ssh config is self-contained: nothing under /root/.ssh is needed or written
    assert all("/root/.ssh" not in a for a in real_guest.ssh_argv)


def test_shares_show_the_expected_owners(real_guest) -> None:
    code = "import os,sys; print(*[os.stat(p).st_uid for p in sys.argv[1:]])"
    res = real_guest.guest_python(
        code, str(real_guest.share_unmapped), str(real_guest.share_mapped), str(real_guest.sshfs_share)
    )
    assert res.ok, res.stderr
    assert res.stdout.split() == [str(real_guest.host_uid), str(real_guest.uid), str(real_guest.host_uid)]
    assert (real_guest.share_mapped / "setup.cfg").read_text().startswith("[metadata]")


def test_guest_runs_python_over_ssh_with_script_on_stdin(real_guest) -> None:
    script = "import sys, os; print(os.getuid(), sys.argv[1:])"
    res = real_guest.ssh([real_guest.python, "-", shlex.quote("a b'c")], input=script)
    assert res.ok, res.stderr
    assert res.stdout.strip() == f"{real_guest.uid} [\"a b'c\"]"


def test_seed_case_link_lock_never_acquires_on_unmapped_share(real_guest) -> None:
    folder = _scratch(real_guest, real_guest.share_unmapped)
    res = real_guest.as_guest([real_guest.python, "-c", LINK_LOCK, folder, "1.5"], timeout=20)
    assert res.ok, res.stderr
    word, _tries, errors, nlink = res.stdout.split()
    assert word == "TIMEOUT" and errors == "EPERM" and nlink == "1"
    real_guest.as_guest(["rmdir", folder])


def test_link_lock_acquires_on_mapped_share(real_guest) -> None:
    folder = _scratch(real_guest, real_guest.share_mapped)
    res = real_guest.as_guest([real_guest.python, "-c", LINK_LOCK, folder, "5"], timeout=20)
    assert res.ok, res.stderr
    assert res.stdout.split()[0] == "ACQUIRED"
    # what the guest created is stored as the host developer on the host side
    assert os.stat(real_guest.host_tree / os.path.basename(folder)).st_uid == real_guest.host_uid
    real_guest.as_guest(["rmdir", folder])


def test_link_lock_on_sshfs_is_reported(real_guest) -> None:
    folder = _scratch(real_guest, real_guest.sshfs_share)
    res = real_guest.as_guest([real_guest.python, "-c", LINK_LOCK, folder, "1.5"], timeout=20)
    assert res.ok, res.stderr
    # sshfs: either the link fails, or it succeeds and st_nlink stays 1 — never an acquired lock
    assert res.stdout.split()[0] == "TIMEOUT", res.stdout
    real_guest.as_guest(["rm", "-rf", folder])


def test_frozen_share_hangs_a_child_and_is_cleaned_up(real_guest, frozen_share) -> None:
    code = "import os, sys; os.statvfs(sys.argv[1]); print('answered')"
    with pytest.raises(proc.Timeout):
        proc.run(["python3", "-c", code, str(frozen_share)], timeout=1.0)
    # and a fresh child on the healthy mapped share still answers at once
    res = proc.run(["python3", "-c", code, str(real_guest.share_mapped)], timeout=5)
    assert res.stdout.strip() == "answered"


INNER_TEST = '''
import json, os, signal, sys
sys.path.insert(0, {tests!r})
pytest_plugins = ["guestfix"]

def test_inner(real_guest):
    info = {{"users": [real_guest.user, real_guest.host_user], "tmp": str(real_guest.tmp),
            "mounts": [str(real_guest.share_unmapped), str(real_guest.share_mapped), str(real_guest.sshfs_share)]}}
    with open({out!r}, "w") as fh:
        json.dump(info, fh)
    if {kill!r}:
        os.kill(os.getpid(), signal.SIGKILL)  # no teardown, no atexit: the next session must clean up
    assert False, "this inner test fails on purpose"
'''


def _inner_session(tmp_path, kill: bool) -> dict:
    import json
    import sys

    out = tmp_path / "inner.json"
    test_file = tmp_path / "test_inner.py"
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    test_file.write_text(INNER_TEST.format(tests=tests_dir, out=str(out), kill=kill))
    res = proc.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                    str(test_file)], timeout=120, cwd=tmp_path)
    assert res.returncode != 0  # failed or killed, as intended
    return json.loads(out.read_text())


def _assert_gone(info: dict) -> None:
    passwd = open("/etc/passwd").read()
    for user in info["users"]:
        assert f"\n{user}:" not in passwd
    mountinfo = open("/proc/self/mountinfo").read()
    for mnt in info["mounts"]:
        assert f" {mnt} " not in mountinfo
    assert not os.path.exists(info["tmp"])
    from guestfix import processes_mentioning

    assert processes_mentioning(info["tmp"]) == []  # no sshd, sshfs or bindfs left running


def test_cleanup_runs_last_first_and_survives_a_failing_step() -> None:
    from guestfix import Cleanup

    done: list[str] = []
    c = Cleanup()
    c.add("a", lambda: done.append("a"))
    c.add("boom", lambda: 1 / 0)
    c.add("b", lambda: done.append("b"))
    c.run()
    c.run()  # a second run (atexit after teardown) does nothing
    assert done == ["b", "a"]


def test_fixture_tears_down_after_a_failing_test(real_guest, tmp_path) -> None:
    _assert_gone(_inner_session(tmp_path, kill=False))


def test_leftovers_of_a_killed_session_are_removed(real_guest, tmp_path) -> None:
    from guestfix import remove_leftovers

    info = _inner_session(tmp_path, kill=True)
    assert os.path.exists(info["tmp"])  # really left behind
    remove_leftovers()
    _assert_gone(info)
    # ours (alive) were not touched
    assert real_guest.as_guest(["true"]).ok and os.path.ismount(real_guest.share_mapped)


def test_skip_reason_names_what_is_missing(monkeypatch) -> None:
    import guestfix

    monkeypatch.setattr(guestfix, "TOOLS", (*guestfix.TOOLS, "no-such-tool-xyz"))
    reason = guestfix.skip_reason()
    assert reason is not None
    assert "no-such-tool-xyz" in reason or "root" in reason or "/dev/fuse" in reason
    monkeypatch.setattr(guestfix.os, "geteuid", lambda: 1000)
    assert "needs root" in (guestfix.skip_reason() or "")
