"""`devenv share check` against the real guest fixture: the seed case end to end, over ssh and locally."""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest

from devenv import proc
from devenv.host import probes
from devenv.host.guests import Guest, save


@pytest.fixture
def fx_project(tmp_path: Path, real_guest) -> Path:
    """A project whose guest 'fx' is the fixture's sshd, as `devenv guest add` would store it."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = proj\n")
    save(root, Guest(name="fx", host=real_guest.alias, path=str(real_guest.share_mapped),
                     ssh_config=str(real_guest.ssh_config)))
    return root


def _check(run_cli, *args: str) -> tuple[int, dict[str, dict]]:
    res = run_cli("share", "check", *args, "--json")
    findings = json.loads(res.output)
    return res.exit_code, {f["check"]: f for f in findings}


def _no_scratch_left(real_guest) -> None:
    assert not [p for p in os.listdir(real_guest.host_tree) if p.startswith(".devenv-probe-")]


@pytest.mark.guest
def test_seed_case_unmapped_share_over_ssh(run_cli, real_guest, fx_project) -> None:
    code, found = _check(run_cli, str(real_guest.share_unmapped), "--guest", "fx", "--project", str(fx_project),
                         "--host-path", str(real_guest.host_tree))
    assert code == 10
    assert found["hardlink"]["status"] == "fail" and found["hardlink"]["errno"] == "EPERM"
    assert found["lock"]["status"] == "fail" and found["lock"]["errno"] == "EPERM"
    assert found["owner"]["status"] == "fail"
    assert f"you are {real_guest.uid}:{real_guest.gid}" in found["owner"]["message"]
    mapping = f"--map={real_guest.host_uid}/{real_guest.uid}:@{real_guest.host_gid}/@{real_guest.gid}"
    for check in ("hardlink", "lock", "owner", "git"):
        assert mapping in found[check]["fix"], check
        assert f"map_uid: {real_guest.host_uid}" in found[check]["fix"]
        assert f"usermod -u {real_guest.host_uid} {real_guest.user}" in found[check]["fix"]
    assert found["git"]["status"] == "fail"
    assert found["clock"]["status"] == "ok"  # guest and host share a clock here
    assert found["inotify"]["status"] == "warn"  # host-side writes raise no events on FUSE
    _no_scratch_left(real_guest)


@pytest.mark.guest
def test_mapped_share_over_ssh_is_clean(run_cli, real_guest, fx_project) -> None:
    code, found = _check(run_cli, str(real_guest.share_mapped), "--guest", "fx", "--project", str(fx_project))
    assert code == 0, found
    for check in ("hardlink", "lock", "owner", "modes", "symlink", "case", "fcntl", "git", "mount"):
        assert found[check]["status"] == "ok", found[check]
    assert not any(f["status"] in ("fail", "hung") for f in found.values())
    _no_scratch_left(real_guest)


@pytest.mark.guest
def test_sshfs_link_count_and_allow_other_reported(run_cli, real_guest, fx_project) -> None:
    code, found = _check(run_cli, str(real_guest.sshfs_share), "--guest", "fx", "--project", str(fx_project),
                         "--host-path", str(real_guest.host_tree))
    assert code == 10
    hl = found["hardlink"]
    assert hl["status"] == "fail"
    assert "st_nlink stays 1" in hl["message"] or hl["errno"], hl
    assert found["sshfs.permissions"]["status"] == "warn"
    assert "default_permissions" in found["sshfs.permissions"]["fix"]
    assert found["mtime.granularity"]["status"] == "warn"  # sshfs keeps whole seconds
    # sshfs caches names: a folder the host removed still "exists" for the guest
    assert found["cache.names"]["status"] == "warn" and found["cache.names"]["errno"] == "EEXIST"
    assert "dir_cache=no" in found["cache.names"]["fix"]
    _no_scratch_left(real_guest)


@pytest.mark.guest
def test_local_check_with_host_path_runs_two_sided_probes(run_cli, real_guest) -> None:
    res = run_cli("share", "check", str(real_guest.share_mapped), "--host-path", str(real_guest.host_tree))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith(f"share check {real_guest.share_mapped} as ")
    checks = [ln.split()[1] for ln in lines[1:] if ln.startswith("  ") and not ln.startswith("   ")]
    assert {"hardlink", "cache.names", "cache.data", "inotify"} <= set(checks)
    assert "fixes:" in lines  # inotify's polling advice
    _no_scratch_left(real_guest)


@pytest.mark.guest
def test_wrong_host_path_is_reported_not_trusted(run_cli, real_guest, tmp_path) -> None:
    code, found = _check(run_cli, str(real_guest.share_mapped), "--host-path", str(tmp_path))
    assert found["host-path"]["status"] == "warn"
    assert "cache.names" not in found
    _no_scratch_left(real_guest)


@pytest.mark.guest
def test_hung_share_is_reported_within_the_deadline(run_cli, real_guest, frozen_share) -> None:
    # bounded by the probe's own deadline; proc.run's timeout is only the safety net that would fail the test
    res = proc.run([sys.executable, "-m", "devenv", "share", "check", str(frozen_share), "--timeout", "1",
                    "--json"], timeout=15)
    assert res.returncode == 12  # hung (errors.EXIT_CODES)
    (only,) = json.loads(res.stdout)
    assert only["check"] == "mount" and only["status"] == "hung"
    assert "umount -l" in only["fix"]


def test_missing_path_is_a_usage_error(run_cli, tmp_path) -> None:
    res = run_cli("share", "check", str(tmp_path / "no such dir"))
    assert res.exit_code == 2
    assert "does not exist" in res.output


def test_plain_folder_is_not_a_share(run_cli, tmp_path) -> None:
    folder = tmp_path / "plain 'dir' -x"
    folder.mkdir()
    code, found = _check(run_cli, str(folder))
    assert code == 0
    assert found["mount"]["status"] == "warn" and "not on a share" in found["mount"]["message"]
    assert found["hardlink"]["status"] == "ok"
    assert ("user" in found) == (os.geteuid() == 0)  # root passes checks the guest user fails: said so
    assert not [p for p in os.listdir(folder) if p.startswith(".devenv-probe-")]


@pytest.mark.guest
def test_probe_script_runs_as_the_guest_with_system_python(real_guest) -> None:
    res = real_guest.as_guest([real_guest.python, probes.__file__, "check", str(real_guest.share_unmapped)])
    assert res.ok, res.stderr
    out = json.loads(res.stdout)
    assert out["facts"]["euid"] == real_guest.uid
    assert {f["check"]: f["errno"] for f in out["findings"]}["hardlink"] == "EPERM"


def _oldest_python() -> str | None:
    import glob

    root = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    found = sorted(glob.glob(f"{root}/versions/3.7*/bin/python3")) + sorted(glob.glob("/usr/bin/python3.7"))
    return found[0] if found else None


def test_probe_script_runs_on_python_37(tmp_path) -> None:
    """Guests run old distributions: the script must work on the oldest Python it claims (3.7)."""
    old = _oldest_python()
    if not old:
        pytest.skip("no Python 3.7 on this machine")
    res = proc.run([old, probes.__file__, "check", str(tmp_path)], timeout=60)
    assert res.ok, res.stderr
    statuses = {f["check"]: f["status"] for f in json.loads(res.stdout)["findings"]}
    assert statuses["hardlink"] == "ok" and statuses["fcntl"] == "ok"


def test_probe_script_is_stdlib_only() -> None:
    tree = ast.parse(Path(probes.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names - {"__future__"} <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


def test_mountinfo_parsing_unescapes_and_picks_longest(tmp_path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:50 / /srv/my\\040share rw,nosuid - fuse.sshfs me@host:/src\\040x rw,user_id=0,allow_other\n"
    )
    rows = probes.mountinfo(str(info))
    assert rows[1]["mount_point"] == "/srv/my share" and rows[1]["source"] == "me@host:/src x"
    assert probes.mount_of("/srv/my share/a/b", rows)["fstype"] == "fuse.sshfs"
    assert probes.mount_of("/srv/my sharex", rows)["fstype"] == "ext4"
    (warn,) = probes.sshfs_findings(rows[1])
    assert warn["status"] == "warn"


def test_one_clock_skew_threshold() -> None:
    """The probe script runs alone on the guest and keeps a copy of the threshold: it must match."""
    from devenv.host import clock, probes

    assert probes.CLOCK_WARN_ABOVE == clock.WARN_ABOVE
