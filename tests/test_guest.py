"""Guests: the store, the Vagrant ssh-config parser, ssh quoting, `guest add/list/remove`, UID matching."""

from __future__ import annotations

import json

import pytest
from syncfix import guest_for

from devenv import paths
from devenv.errors import GuestError, UsageError
from devenv.host import guests, ssh, uidmatch, vagrant
from devenv.host.guests import Guest

# What `vagrant ssh-config` prints (Vagrant 2.3, VirtualBox, two machines; a path with a space).
VAGRANT_OUTPUT = """\
Host default
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/dev/my vms/.vagrant/machines/default/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host devstack
  HostName 192.168.121.34
  User stack
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  IdentityFile /home/dev/vms/.vagrant/machines/devstack/libvirt/private_key
  IdentitiesOnly yes
  LogLevel FATAL
"""


def test_vagrant_ssh_config_is_parsed_and_host_key_checking_is_not_copied():
    first = vagrant.parse_ssh_config(VAGRANT_OUTPUT)
    assert first == vagrant.SshConfig("127.0.0.1", "vagrant", 2222,
                                      "/home/dev/my vms/.vagrant/machines/default/virtualbox/private_key")
    second = vagrant.parse_ssh_config(VAGRANT_OUTPUT, "devstack")
    assert (second.host, second.user, second.port) == ("192.168.121.34", "stack", 22)
    assert not hasattr(second, "strict_host_key_checking")
    with pytest.raises(GuestError, match="no Vagrant machine named 'web'"):
        vagrant.parse_ssh_config(VAGRANT_OUTPUT, "web")
    with pytest.raises(GuestError, match="no Host block"):
        vagrant.parse_ssh_config("")


def test_store_round_trip_default_and_errors(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    with pytest.raises(UsageError, match="no guest is set up"):
        guests.load(root, None)
    a = Guest(name="a", host="h1", path="/srv/a", user="u", port=2200)
    b = Guest(name="b", host="h2", path="/srv/it's b")
    guests.save(root, a)
    assert guests.load(root, None) == a  # the only one
    guests.save(root, b)
    assert guests.load(root, None) == a  # the first stays the default
    assert guests.load(root, "b") == b
    assert [g.name for g in guests.all_guests(root)] == ["a", "b"]
    with pytest.raises(UsageError, match="no guest named 'c'"):
        guests.load(root, "c")
    guests.remove(root, "a")
    assert guests.load(root, None) == b and guests.default_name(root) == "b"
    stored = json.loads((paths.project_state(root) / "guests.json").read_text())
    assert set(stored["guests"]) == {"b"}
    for bad in ("-x", "a b", "", ".hidden", "a/b"):
        with pytest.raises(UsageError, match="bad guest name"):
            guests.check_name(bad)


def test_corrupt_store_is_a_clear_config_error(tmp_path):
    from devenv.errors import ConfigError

    path = guests.state_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        guests.load(tmp_path, None)


def test_ssh_options_never_disable_host_key_checking():
    g = Guest(name="a", host="-oProxyCommand=x", path="/p", user="u", port=2222, identity="/k")
    argv = ssh.ssh_argv(g, ["echo", "a b"])
    assert "BatchMode=yes" in argv and "StrictHostKeyChecking=no" not in " ".join(argv)
    assert argv[argv.index("--") + 1] == "u@-oProxyCommand=x"  # after --: never read as an option
    assert "StrictHostKeyChecking=accept-new" in ssh.ssh_argv(g, ["true"], accept_new_host_key=True)
    assert ssh.rsh(g).startswith("ssh -o BatchMode=yes")


@pytest.mark.guest
def test_remote_arguments_survive_the_guest_shell(real_guest, sync_remote):
    g = guest_for(real_guest, sync_remote)
    odd = ["a b", "it's", '"q"', "-n", "$HOME", "*", "é", "; rm -rf /", ""]
    res = ssh.run(g, ["printf", "%s\\n", *odd], timeout=30)
    assert res.ok and res.stdout.split("\n")[:-1] == odd


@pytest.mark.guest
def test_reachable_finding(real_guest, sync_remote):
    g = guest_for(real_guest, sync_remote)
    assert ssh.reachable(g).status == "warn"  # folder missing yet
    real_guest.as_guest(["mkdir", "-p", str(sync_remote)])
    assert ssh.reachable(g).status == "ok"
    down = Guest(name="down", host="127.0.0.1", port=1, path="/x")
    found = ssh.reachable(down)
    assert found.status == "fail" and "cannot reach" in found.message


@pytest.mark.guest
def test_guest_add_list_remove_and_uid_report(run_cli, sync_project, real_guest, sync_remote):
    res = run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                  "--path", str(sync_remote), "--project", str(sync_project))
    assert res.exit_code == 0, res.output
    out = res.output
    assert f"{real_guest.user} ({real_guest.uid}:{real_guest.gid})" in out
    assert "(created, writable)" in out and "/usr/bin/rsync" in out and "python3" in out
    # host tree (root's) and guest user ids differ, but the guest owns its synced folder: fine
    assert "ids differ, but the guest user owns its copy" in out
    stored = guests.load(sync_project, "vm")
    assert stored.path == str(sync_remote) and stored.ssh_config == str(real_guest.ssh_config)
    res = run_cli("guest", "list", "--project", str(sync_project))
    assert "* vm (" in res.output and "never synced" in res.output
    res = run_cli("sync", "--project", str(sync_project))
    assert res.exit_code == 0, res.output
    assert "sent 7 new" in res.output
    res = run_cli("guest", "list", "--project", str(sync_project), "--json")
    assert json.loads(res.output)[0]["last_sync"]["files"] == 7
    res = run_cli("guest", "remove", "vm", "--project", str(sync_project))
    assert res.exit_code == 0 and "nothing on the guest was changed" in res.output
    assert sync_remote.is_dir()
    res = run_cli("sync", "--project", str(sync_project))
    assert res.exit_code == 2 and "no guest is set up" in res.output


@pytest.mark.guest
def test_uid_mismatch_on_an_unmapped_share_is_reported_with_fixes(run_cli, real_guest, tmp_path):
    project = real_guest.host_tree
    g = guest_for(real_guest, real_guest.share_unmapped)
    found = uidmatch.check(project, g)
    assert found[0].status == "fail"
    assert f"owned by {real_guest.host_uid}:{real_guest.host_gid}" in found[0].message
    assert f"--map={real_guest.host_uid}/{real_guest.uid}:@{real_guest.host_gid}/@{real_guest.gid}" in found[0].fix
    mapped = uidmatch.check(project, guest_for(real_guest, real_guest.share_mapped))
    assert mapped[0].status == "ok"
    # the host tree belongs to the host user, not to us (root): said as well
    assert any(f.check.endswith(".host") and f.status == "warn" for f in found)
    res = run_cli("guest", "add", "share", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                  "--path", str(real_guest.share_unmapped), "--project", str(tmp_path))
    assert res.exit_code == 0
    assert "fix: in the guest, mount the share" in res.output and "bindfs --map=" in res.output


@pytest.mark.guest
def test_sync_cli_reports_conflicts_and_dry_run(run_cli, sync_project, real_guest, sync_remote):
    from syncfix import guest_write

    args = ("--project", str(sync_project))
    assert run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                   "--path", str(sync_remote), *args).exit_code == 0
    assert run_cli("sync", "vm", *args).exit_code == 0
    guest_write(real_guest, sync_remote / "pkg" / "m1.py", "guest edit\n")
    res = run_cli("sync", "vm", "--dry-run", *args)
    assert "(dry run)" in res.output and "would send 0 new, 1 changed" in res.output
    assert "conflict: pkg/m1.py" in res.output
    res = run_cli("sync", "vm", "--json", *args)
    data = json.loads(res.output)
    assert data["sync"]["conflicts"][0]["path"] == "pkg/m1.py"
    assert data["sync"]["conflicts"][0]["backup"].startswith(str(sync_remote) + "/.devenv-backup/")


def test_guest_add_needs_one_way_to_reach_the_guest(run_cli, tmp_path):
    res = run_cli("guest", "add", "vm", "--path", "/srv/x", "--project", str(tmp_path))
    assert res.exit_code == 2 and "--ssh USER@HOST or --vagrant" in res.output
    res = run_cli("guest", "add", "-bad", "--ssh", "u@h", "--path", "/x", "--project", str(tmp_path))
    assert res.exit_code != 0


def test_guest_add_vagrant_without_vagrant_says_so(run_cli, tmp_path, monkeypatch):
    import shutil

    if shutil.which("vagrant"):
        pytest.skip("vagrant is installed here")
    res = run_cli("guest", "add", "vm", "--vagrant", "--path", "/srv/x", "--project", str(tmp_path))
    assert res.exit_code == 4 and "vagrant is not installed" in res.output and "--ssh USER@HOST" in res.output
