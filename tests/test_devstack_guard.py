"""RECLONE guard for `devenv sync` / `sync --watch`, doctor's devstack section, safe.directory, and the
systemctl stand-in of the fake devstack guest."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SAMPLE

from devenv.devstack import guard
from devenv.host import guests, ssh

pytestmark = pytest.mark.guest


@pytest.fixture
def synced_dir(fake_devstack):
    """A folder under DEST that the ssh user may write (the sync target)."""
    target = fake_devstack.dest / "myproj"
    target.mkdir()
    shutil.chown(target, fake_devstack.box.user)
    yield target
    shutil.rmtree(target, ignore_errors=True)


def _project(tmp_path, guest):
    root = tmp_path / "proj"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
    guests.save(root, guest)
    return root


def test_sync_and_watch_refuse_a_tree_reclone_would_wipe(fake_devstack, devstack_home_link, synced_dir, run_cli,
                                                         tmp_path):
    root = _project(tmp_path, fake_devstack.guest(synced_dir))
    for extra in ([], ["--watch"]):
        r = run_cli("sync", "box", "--project", str(root), *extra)
        assert r.exit_code == 9, r.output
        assert f"RECLONE=True at {devstack_home_link}/local.conf line 8" in r.output
        assert "set RECLONE=False" in r.output and "--allow-reclone" in r.output
        assert list(synced_dir.iterdir()) == []  # nothing was sent
    r = run_cli("sync", "box", "--project", str(root), "--allow-reclone")
    assert r.exit_code == 0, r.output
    assert "syncing anyway" in r.output and (synced_dir / "setup.cfg").is_file()


def test_reclone_off_or_target_outside_dest_is_unaffected(fake_devstack, devstack_home_link, devstack_conf,
                                                          synced_dir):
    outside = fake_devstack.guest(fake_devstack.box.workdir / "elsewhere")
    assert guard.check(outside) is None  # RECLONE=True, but the folder is not under DEST
    guard.forget()
    devstack_conf(reclone="False")
    assert guard.check(fake_devstack.guest(synced_dir)) is None
    guard.forget()
    devstack_conf(reclone="True")
    with pytest.raises(guard.RecloneHazard):
        guard.check(fake_devstack.guest(synced_dir))
    no_devstack = fake_devstack.guest(fake_devstack.box.workdir, name="plain")
    devstack_home_link.unlink()
    try:
        assert guard.check(no_devstack) is None
    finally:
        devstack_home_link.symlink_to(fake_devstack.devstack_dir)


def test_doctor_reports_reclone_repos_and_safe_directory(fake_devstack, devstack_home_link, run_cli, tmp_path):
    ds = fake_devstack
    nova = ds.dest / "nova"
    root = _project(tmp_path, ds.guest(nova, name="vm"))
    r = run_cli("doctor", str(root), "--guest", "vm", "--json")
    data = json.loads(r.output)
    (section,) = [s for s in data["sections"] if s["title"] == "devstack on vm"]
    checks = {f["check"]: f for f in section["findings"]}
    assert r.exit_code == 10
    reclone = checks["devstack.vm.reclone"]
    assert reclone["status"] == "fail" and "line 8" in reclone["message"] and "RECLONE=False" in reclone["fix"]
    repo = checks["devstack.vm.repo.nova"]
    assert repo["status"] == "fail" and "dubious ownership" in repo["message"]
    assert repo["fix"].startswith(f"on the guest, as the ssh user: git config --global --add safe.directory {nova}")
    assert checks["devstack.vm.repo.oslo.messaging"]["status"] == "fail"
    assert "installed editable as oslo.messaging" in checks["devstack.vm.repo.oslo.messaging"]["message"]
    g = ds.guest(nova)
    ssh.run(g, ["git", "config", "--global", "--add", "safe.directory", str(nova)], timeout=20)
    try:
        data = json.loads(run_cli("doctor", str(root), "--guest", "vm", "--json").output)
        checks = {f["check"]: f for s in data["sections"] for f in s["findings"]}
        assert checks["devstack.vm.repo.nova"]["status"] == "ok"
        assert "git accepts it" in checks["devstack.vm.repo.nova"]["message"]
    finally:
        ssh.run(g, ["git", "config", "--global", "--unset-all", "safe.directory"], timeout=20)


def test_doctor_shows_no_devstack_section_without_devstack(fake_devstack, run_cli, tmp_path):
    root = _project(tmp_path, fake_devstack.guest(fake_devstack.box.workdir, name="vm"))
    data = json.loads(run_cli("doctor", str(root), "--guest", "vm", "--json").output)
    assert not [s for s in data["sections"] if s["title"].startswith("devstack")]


def test_systemctl_stand_in(fake_devstack):
    ds = fake_devstack
    g = ds.stack_guest()

    def sc(*args):
        return ssh.run(g, ["systemctl", *args], timeout=20)

    r = sc("show", "devstack@n-cpu", "-p", "ExecStart", "-p", "User", "-p", "Group")
    assert r.ok and f"argv[]={ds.venv}/bin/nova-compute --config-file" in r.stdout
    assert f"User={ds.stack_user}\nGroup=libvirt\n" in r.stdout
    assert sc("show", "devstack@n-api", "-p", "Environment", "--value").stdout == \
        "OS_NOVA_DISABLE_EVENTLET_PATCHING=1\n"
    assert sc("cat", "devstack@keystone.service").stdout.startswith(f"# {ds.units}/devstack@keystone.service")
    assert (sc("is-active", "devstack@n-api").returncode, sc("is-active", "devstack@n-api").stdout) == (3, "inactive\n")
    assert sc("start", "devstack@n-api").ok and sc("is-active", "devstack@n-api").ok
    assert sc("restart", "devstack@n-*").ok and sc("is-active", "devstack@n-cpu").stdout == "active\n"
    assert sc("stop", "devstack@n-*").ok and sc("is-active", "devstack@n-api").returncode == 3
    missing = sc("status", "devstack@x")
    assert missing.returncode == 4 and missing.stderr.strip() == "Unit devstack@x.service could not be found."
    assert sc("start", "devstack@x").returncode == 5 and sc("cat", "devstack@x").returncode == 1
    assert sc("show", "devstack@x", "-p", "LoadState", "--value").stdout == "not-found\n"


def test_a_running_watch_stops_when_reclone_is_turned_on(fake_devstack, devstack_home_link, devstack_conf,
                                                         synced_dir, tmp_path):
    """RECLONE=True set after the watch started (then stack.sh would wipe what it sends): the watch reads
    local.conf again every DEVENV_RECLONE_RECHECK seconds and stops with the guard's message (exit 9)."""
    import os
    import subprocess
    import sys
    import threading

    from syncfix import wait_until

    devstack_conf(reclone="False")
    guard.forget()
    root = _project(tmp_path, fake_devstack.guest(synced_dir))
    child = subprocess.Popen([sys.executable, "-m", "devenv", "sync", "box", "--watch", "--project", str(root)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "DEVENV_RECLONE_RECHECK": "1"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any("watching for changes" in ln for ln in lines), timeout=60), lines
        assert child.poll() is None  # RECLONE=False: it keeps watching
        devstack_conf(reclone="True")
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader.join(timeout=5)
    err = child.stderr.read()
    assert child.returncode == 9, "".join(lines) + err
    assert "the watch stopped" in err and "RECLONE=True" in err and "Traceback" not in err


def test_an_old_style_localrc_wins_over_local_conf(fake_devstack, devstack_home_link, devstack_conf, synced_dir):
    """stackrc sources $RC_DIR/localrc when it exists, and local.conf's [[local|localrc]] only when it does not:
    the guard reads the one devstack reads."""
    devstack_conf(reclone="False")
    legacy = fake_devstack.local_conf.parent / "localrc"
    legacy.write_text("# old-style settings\nDEST=" + str(fake_devstack.dest) + "\nRECLONE=True\n")
    try:
        guard.forget()
        with pytest.raises(guard.RecloneHazard) as err:
            guard.check(fake_devstack.guest(synced_dir))
        assert "devstack/localrc line 3" in err.value.message
    finally:
        legacy.unlink()
        guard.forget()
    assert guard.check(fake_devstack.guest(synced_dir)) is None  # back to local.conf's RECLONE=False
