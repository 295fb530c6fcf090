"""`devenv wait-mount`: 0 when a share appears in time, 1 when it never does, 2 when it is hung — for real."""

from __future__ import annotations

import secrets
import sys
import threading

import pytest

from devenv import proc
from devenv.host import mounts, probes


def _wait_mount(*args: str) -> proc.Result:
    # a real process: the exit code is what a boot script sees; the timeout is only a safety net
    return proc.run([sys.executable, "-m", "devenv", "wait-mount", *args], timeout=30)


def test_plain_folder_is_not_mounted(tmp_path) -> None:
    res = _wait_mount(str(tmp_path), "--timeout", "0.6", "--interval", "0.2")
    assert res.returncode == 11, res.stderr  # not mounted in time, distinct from errors (1) and usage (2)
    assert "not-mounted" in res.stderr and "mountinfo" in res.stderr


@pytest.mark.guest
def test_share_mounted_late_is_waited_for(real_guest) -> None:
    target = real_guest.tmp / "mnt" / f"late {secrets.token_hex(3)}"
    target.mkdir()

    def mount_later() -> None:
        proc.run(["bindfs", str(real_guest.host_tree), str(target)], timeout=20, check=True)

    timer = threading.Timer(1.0, mount_later)
    timer.start()
    try:
        res = _wait_mount(str(target), "--timeout", "15", "--interval", "0.2")
        assert res.returncode == 0, res.stderr
        assert "mounted after" in res.stdout and "fuse" in res.stdout
        waited = float(res.stdout.split("mounted after ")[1].split()[0])
        assert waited >= 0.5  # it really waited for the late mount
    finally:
        timer.join()
        proc.run(["fusermount", "-u", str(target)], timeout=20)
        target.rmdir()


@pytest.mark.guest
def test_hung_share_exits_12(frozen_share) -> None:
    res = _wait_mount(str(frozen_share), "--timeout", "1.5", "--interval", "0.5")
    assert res.returncode == 12, res.stderr  # not 2: that is click's usage error
    assert "hung" in res.stderr


@pytest.mark.guest
def test_mounted_share_answers_at_once(real_guest) -> None:
    state = mounts.wait(str(real_guest.share_mapped), timeout=5)
    assert state.state == mounts.MOUNTED and state.exit_code == 0
    assert probes.is_mount_point(str(real_guest.share_mapped))


def test_bad_interval_is_a_usage_error(run_cli, tmp_path) -> None:
    res = run_cli("wait-mount", str(tmp_path), "--interval", "0")
    assert res.exit_code == 2
    assert "--interval" in res.output


@pytest.mark.parametrize("command", [("wait-mount", "--timeout"), ("wait-mount", "--interval"),
                                     ("share", "check", "--timeout")])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e12", "-1", "0", "soon"])
def test_durations_are_finite_positive_and_bounded(run_cli, tmp_path, command, value) -> None:
    """`wait-mount --timeout nan` used to wait for ever, `inf`/`1e12` ended in exit 70: usage errors now."""
    *words, option = command
    res = run_cli(*words, str(tmp_path), option, value)
    assert res.exit_code == 2, res.output
    assert option in res.output and "Traceback" not in res.output


def test_the_root_is_mounted() -> None:
    """/ is its own parent (same device): it used to be called not-mounted."""
    res = _wait_mount("/", "--timeout", "2", "--interval", "0.2")
    assert res.returncode == 0, res.stderr
