"""`devenv devstack show` and the reader against the fake devstack guest (real sshd, users, git, pip)."""

from __future__ import annotations

import json

import pytest
from devstackfix import local_conf_text

from devenv.devstack import reader
from devenv.errors import ConfigError, GuestError, UsageError
from devenv.host import guests

pytestmark = pytest.mark.guest


def _register(root, guest):
    root.mkdir(exist_ok=True)
    guests.save(root, guest)
    return root


def test_after_stack_sh_the_editable_installs_map_repos_to_folders(fake_devstack):
    ds = fake_devstack
    dev = reader.read(ds.guest(), str(ds.local_conf))
    assert dev.dest == str(ds.dest) and dev.venv == str(ds.venv) and dev.stacked
    assert dev.reclone is True and dev.reclone_where == f"{ds.local_conf} line 8"
    assert dev.libs_from_git == ("oslo.messaging",) and dev.services == ("n-api", "n-cpu")
    assert dev.stack_user == ds.stack_user  # STACK_USER defaults to who owns the checkout (who runs stack.sh)
    nova, msg, req = dev.repo("nova"), dev.repo("oslo.messaging"), dev.repo("requirements")
    assert nova.editable == str(ds.dest / "nova") and nova.dist == "nova" and nova.synced
    assert msg.editable == str(ds.dest / "oslo.messaging") and msg.from_git
    assert msg.url == "https://opendev.org/openstack/oslo.messaging"  # OSLOMSG_REPO, named through stackrc
    assert req.editable is None  # cloned, never installed: as devstack does
    assert nova.git and nova.git.branch == "master" and len(nova.git.head or "") == 40
    assert nova.git.owner_uid == ds.stack_uid and nova.git.owner == ds.stack_user
    # the ssh user has another UID: git refuses the repo until safe.directory lists it
    assert nova.git.safe_directory_ok is False and "dubious ownership" in (nova.git.git_error or "")


def test_before_stack_sh_local_conf_alone(fake_devstack, tmp_path):
    ds = fake_devstack
    fresh = ds.root / "opt" / f"fresh-{tmp_path.name}"
    conf = ds.write_local_conf(local_conf_text(fresh, reclone="False"), fresh / "devstack" / "local.conf")
    dev = reader.read(ds.guest(fresh / "nova"), str(conf))
    assert dev.dest == str(fresh) and not dev.stacked and dev.reclone is False
    assert set(dev.repos) >= {"oslo.messaging", "requirements", "nova"}
    assert all(r.git is None and r.editable is None for r in dev.repos.values())
    with pytest.raises(GuestError, match=r"oslo.messaging: it is in LIBS_FROM_GIT but is not cloned"):
        dev.repo("oslo.messaging")


def test_show_cli_human_and_json(fake_devstack, run_cli, tmp_path):
    ds = fake_devstack
    root = _register(tmp_path / "proj", ds.guest())
    r = run_cli("devstack", "show", "box", "--local-conf", str(ds.local_conf), "--project", str(root))
    assert r.exit_code == 0, r.output
    assert f"DEST           {ds.dest}" in r.output and "RECLONE        True" in r.output
    assert "editable: oslo.messaging" in r.output and "git refuses it (safe.directory)" in r.output
    r = run_cli("devstack", "show", "box", "--local-conf", str(ds.local_conf), "--project", str(root), "--json")
    data = json.loads(r.output)
    assert data["repos"]["nova"]["editable"] == str(ds.dest / "nova") and data["reclone"] is True


def test_default_local_conf_lookup(fake_devstack, devstack_home_link, run_cli, tmp_path):
    """No --local-conf: found as ~/devstack/local.conf (after /opt/stack/devstack and ~stack/devstack)."""
    ds = fake_devstack
    dev = reader.read(ds.guest())
    assert dev.local_conf.path == f"{devstack_home_link}/local.conf" and dev.dest == str(ds.dest)


def test_lib_in_libs_from_git_not_cloned_yet(fake_devstack, devstack_conf, run_cli, tmp_path):
    ds = fake_devstack
    devstack_conf(libs="oslo.messaging,oslo.config")
    root = _register(tmp_path / "proj", ds.guest())
    base = ["devstack", "show", "box", "--local-conf", str(ds.local_conf), "--project", str(root)]
    r = run_cli(*base)
    assert r.exit_code == 0 and "oslo.config" in r.output and "not cloned yet (LIBS_FROM_GIT)" in r.output
    r = run_cli(*base, "--repo", "oslo.config")
    assert r.exit_code == 9 and "oslo.config: it is in LIBS_FROM_GIT but is not cloned" in r.output
    assert "run stack.sh" in r.output
    r = run_cli(*base, "--repo", "nope")
    assert r.exit_code == 2 and "no repo 'nope'" in r.output


def test_no_devstack_on_the_guest(fake_devstack, run_cli, tmp_path):
    root = _register(tmp_path / "proj", fake_devstack.guest(fake_devstack.box.workdir))
    r = run_cli("devstack", "show", "box", "--project", str(root))
    assert r.exit_code == 9 and "no devstack on" in r.output and "/opt/stack/devstack/local.conf" in r.output


def test_missing_and_malformed_local_conf(fake_devstack, devstack_conf, run_cli, tmp_path):
    ds = fake_devstack
    root = _register(tmp_path / "proj", ds.guest())
    r = run_cli("devstack", "show", "box", "--local-conf", str(ds.dest / "nowhere" / "local.conf"),
                "--project", str(root))
    assert r.exit_code == 3 and "no local.conf at" in r.output and "--local-conf PATH" in r.output
    devstack_conf("[[local|localrc]]\nADMIN_PASSWORD=x\nRECLONE='oops\n")
    r = run_cli("devstack", "show", "box", "--local-conf", str(ds.local_conf), "--project", str(root))
    assert r.exit_code == 3 and f"{ds.local_conf} line 3" in r.output and "unterminated" in r.output
    with pytest.raises(ConfigError):
        reader.read(ds.guest(), str(ds.local_conf))


def test_unknown_guest(fake_devstack, run_cli, tmp_path):
    root = _register(tmp_path / "proj", fake_devstack.guest())
    r = run_cli("devstack", "show", "nosuch", "--project", str(root))
    assert r.exit_code == 2 and "no guest named 'nosuch'" in r.output
    with pytest.raises(UsageError):
        guests.load(root, "nosuch")
