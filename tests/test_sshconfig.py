"""The `Host devenv-<guest>` block in the user's ssh config (VS Code Remote-SSH): written, checked with the
real `ssh -G`, kept idempotent, never over a user's own block, removable; and the real loopback guest
reached through it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devenv import proc
from devenv.errors import ConfigError, Conflict, UsageError
from devenv.host import guests, sshconfig
from devenv.host.guests import Guest
from devenv.host.sshconfig import SshConfigError, SshConfigUnwritable

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client (ssh -G)")


@pytest.fixture(autouse=True)
def _own_ssh_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVENV_SSH_CONFIG", raising=False)  # $HOME/.ssh/config, HOME being the test's


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "my project é"
    root.mkdir()
    return root


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "my keys é" / "id_ed25519"
    path.parent.mkdir()
    path.write_text("not really a key\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def cfg() -> Path:
    path = sshconfig.config_path()
    assert path == Path(os.environ["HOME"]) / ".ssh" / "config"  # the test's HOME, never the real one
    return path


def guest(key: Path | None = None, **kw: object) -> Guest:
    values: dict[str, object] = {"name": "vm", "host": "192.0.2.10", "path": "/opt/stack/nova", "user": "stack",
                                 "port": 2222, "identity": str(key) if key else None}
    values.update(kw)
    return Guest(**values)  # type: ignore[arg-type]


def ssh_g(config: Path, host: str) -> dict[str, list[str]]:
    """What the real ssh makes of `host` with this config file alone."""
    res = proc.run(["ssh", "-G", "-F", str(config), "--", host], timeout=30)
    assert res.ok, res.stderr
    found: dict[str, list[str]] = {}
    for line in res.stdout.splitlines():
        k, _, v = line.partition(" ")
        found.setdefault(k, []).append(v)
    return found


def effective(config: Path, host: str) -> tuple[str, str, str]:
    got = ssh_g(config, host)
    return got["hostname"][0], got["user"][0], got["port"][0]


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.devenv-backup-*"))


def test_alias_open_command_and_names_a_host_pattern_cannot_hold():
    g = guest(path="/opt/stack/my nova")
    assert sshconfig.alias("vm") == "devenv-vm"
    assert sshconfig.open_command(g) == ["code", "--remote", "ssh-remote+devenv-vm", "/opt/stack/my nova"]
    assert sshconfig.open_command(g, "/opt/stack/glance")[-1] == "/opt/stack/glance"
    for bad in ("a b", "a*", "a?", "!a", "a,b", "", "-a", 'a"b', "a\tb"):
        with pytest.raises(UsageError, match="cannot be an ssh Host name"):
            sshconfig.check_name(bad)
    with pytest.raises(UsageError, match="cannot be an ssh Host name"):
        sshconfig.block_for(guest(name="web*"), Path("/"))
    with pytest.raises(UsageError, match="devenv's own alias"):
        sshconfig.block_for(guest(host="devenv-vm"), Path("/"))


def test_create_makes_the_folder_and_file_private_and_ssh_reaches_the_guest_as_devenv_does(cfg, project, key):
    assert not cfg.parent.exists()
    block = sshconfig.block_for(guest(key), project)
    out = sshconfig.write(block)
    assert (out.verb, out.path, out.backup) == ("create", cfg, None)
    assert cfg.parent.stat().st_mode & 0o777 == 0o700 and cfg.stat().st_mode & 0o777 == 0o600
    text = cfg.read_text(encoding="utf-8")
    assert text.splitlines() == [
        f"# >>> devenv guest vm (project {project}) — managed by devenv; "
        "`devenv guest ssh-config --remove vm` removes it",
        "Host devenv-vm", "  HostName 192.0.2.10", "  User stack", "  Port 2222", f'  IdentityFile "{key}"',
        "  IdentitiesOnly yes", "Host *", "# <<< devenv guest vm"]
    got = ssh_g(cfg, "devenv-vm")
    assert effective(cfg, "devenv-vm") == ("192.0.2.10", "stack", "2222")
    assert got["identityfile"][0] == str(key) and got["identitiesonly"] == ["yes"]
    assert sshconfig.find("vm") == block and block.project == str(project)
    assert sshconfig.find("other") is None


def test_a_second_write_changes_nothing_and_makes_no_backup(cfg, project, key):
    block = sshconfig.block_for(guest(key), project)
    sshconfig.write(block)
    before, stamp, listing = cfg.read_bytes(), cfg.stat().st_mtime_ns, sorted(cfg.parent.iterdir())
    again = sshconfig.write(sshconfig.block_for(guest(key), project))
    assert again.verb == "identical" and again.backup is None and again.diff == ""
    assert cfg.read_bytes() == before and cfg.stat().st_mtime_ns == stamp
    assert sorted(cfg.parent.iterdir()) == listing


def test_a_changed_guest_replaces_only_the_text_between_the_markers_after_a_backup(cfg, project, key):
    cfg.parent.mkdir(mode=0o700)
    mine = "# my settings\nHost web\n  User me\n"
    cfg.write_text(mine, encoding="utf-8")
    cfg.chmod(0o640)
    out = sshconfig.write(sshconfig.block_for(guest(key), project))
    assert out.verb == "create" and out.backup is not None and out.backup.parent == cfg.parent
    assert out.backup.read_text(encoding="utf-8") == mine  # the original, byte for byte
    text = cfg.read_text(encoding="utf-8")
    assert text.endswith("# <<< devenv guest vm\n\n" + mine)  # devenv's block first, then the user's file
    assert cfg.stat().st_mode & 0o777 == 0o640  # the user's mode is kept
    edited = "Host first\n  User f\n" + text + "Host last\n  User l\n"  # the user adds around devenv's block
    cfg.write_text(edited, encoding="utf-8")
    out = sshconfig.write(sshconfig.block_for(guest(key, port=2200, user="other"), project))
    assert out.verb == "update" and out.backup is not None
    assert out.backup.read_text(encoding="utf-8") == edited
    new = cfg.read_text(encoding="utf-8")
    expected = edited.replace("  User stack\n  Port 2222\n", "  User other\n  Port 2200\n")
    assert new == expected and "+  Port 2200" in out.diff
    assert effective(cfg, "devenv-vm") == ("192.0.2.10", "other", "2200")
    assert len(backups(cfg.parent)) == 2


@pytest.mark.parametrize("line", ["Host devenv-vm", "Host web devenv-vm", 'host = "DEVENV-VM"',
                                  "  Host\tdb devenv-vm # mine"])
def test_a_users_own_host_block_for_the_alias_is_never_touched(cfg, project, line):
    cfg.parent.mkdir()
    original = f"Host other\n  User o\n{line}\n  User me\n".encode()
    cfg.write_bytes(original)
    with pytest.raises(Conflict, match=rf"config:3: your own `{line.strip()}` is there already") as err:
        sshconfig.write(sshconfig.block_for(guest(), project))
    assert "remove that block" in str(err.value) and "code --remote ssh-remote+devenv-vm" in str(err.value)
    assert err.value.exit_code == 8
    assert cfg.read_bytes() == original and backups(cfg.parent) == []


def test_host_lines_that_only_look_alike_are_not_a_conflict(cfg, project):
    cfg.parent.mkdir()
    cfg.write_text("Host devenv-vm2 !devenv-vm devenv-vm* devenv-*\n  User x\nHostName devenv-vm\n")
    assert sshconfig.write(sshconfig.block_for(guest(), project)).verb == "create"
    assert effective(cfg, "devenv-vm") == ("192.0.2.10", "stack", "2222")


def test_the_same_guest_name_of_another_project_is_a_conflict(cfg, project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    sshconfig.write(sshconfig.block_for(guest(), other))
    before = cfg.read_bytes()
    with pytest.raises(Conflict, match=f"devenv's block for guest vm of project {other}"):
        sshconfig.write(sshconfig.block_for(guest(), project))
    assert cfg.read_bytes() == before
    assert sshconfig.remove("vm").verb == "removed"
    assert sshconfig.write(sshconfig.block_for(guest(), project)).verb == "create"


def test_remove_takes_out_the_block_only_and_a_missing_one_is_absent(cfg, project):
    assert sshconfig.remove("vm").verb == "absent" and not cfg.exists()  # nothing created either
    cfg.parent.mkdir()
    original = "Host a\n  User x\n"
    cfg.write_text(original)
    sshconfig.write(sshconfig.block_for(guest(), project))
    sshconfig.write(sshconfig.block_for(guest(name="db", host="192.0.2.11"), project))
    with_both = cfg.read_text()
    out = sshconfig.remove("vm")
    assert out.verb == "removed" and out.block is not None and out.block.host_alias == "devenv-vm"
    assert out.backup is not None and out.backup.read_text() == with_both
    assert "devenv-vm" not in cfg.read_text() and "Host devenv-db" in cfg.read_text()
    assert sshconfig.remove("db").verb == "removed"
    assert cfg.read_text() == original  # exactly as it was
    count = len(backups(cfg.parent))
    assert sshconfig.remove("vm").verb == "absent" and len(backups(cfg.parent)) == count


def test_crlf_and_no_final_newline_are_kept(cfg, project):
    cfg.parent.mkdir()
    original = b"Host a\r\n  User x\r\n  Port 1"
    cfg.write_bytes(original)
    sshconfig.write(sshconfig.block_for(guest(), project))
    raw = cfg.read_bytes()
    assert raw.endswith(b"# <<< devenv guest vm\r\n\r\n" + original) and b"\r\n  Port 2222\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert effective(cfg, "devenv-vm") == ("192.0.2.10", "stack", "2222")
    assert effective(cfg, "a") == ("a", "x", "1")
    assert sshconfig.write(sshconfig.block_for(guest(), project)).verb == "identical"
    sshconfig.remove("vm")
    assert cfg.read_bytes() == original


def _include(tmp_path: Path) -> Path:
    inc = tmp_path / "included.conf"
    inc.write_text("Host *\n  User included\n  Port 2999\n")
    return inc


USER_FILES = {
    "host-star": lambda tmp: "Host *\n  User star\n  Port 1111\n  IdentitiesOnly no\n",
    "top-level": lambda tmp: "User toplevel\nPort 1212\n\nHost other\n  HostName other.example\n",
    "include": lambda tmp: f"Include {_include(tmp)}\nHost other\n  HostName other.example\n",
    "match-all": lambda tmp: "Match all\n  User matched\n  Port 3333\nHost other\n  User o\n",
    "match-host": lambda tmp: "Match host 192.0.2.10\n  User matched\n  Port 3333\n",
}


@pytest.mark.parametrize("kind", sorted(USER_FILES))
def test_the_block_wins_over_host_star_top_level_include_and_match(cfg, project, tmp_path, kind):
    cfg.parent.mkdir()
    cfg.write_text(USER_FILES[kind](tmp_path))
    others = {h: ssh_g(cfg, h) for h in ("other", "192.0.2.10", "devenv-db")}
    sshconfig.write(sshconfig.block_for(guest(), project))
    assert effective(cfg, "devenv-vm") == ("192.0.2.10", "stack", "2222")
    # the closing `Host *` keeps the user's top-level lines and Includes global: every other host as before
    assert {h: ssh_g(cfg, h) for h in others} == others
    # and the same block at the end of the file would have lost (ssh: the first obtained value is used)
    block = "\n".join(sshconfig.find("vm").lines) + "\n"  # type: ignore[union-attr]
    at_end = tmp_path / "at-end"
    at_end.write_text(USER_FILES[kind](tmp_path) + block)
    if kind != "match-host":  # Match host is evaluated after HostName: it cannot match at the top of the file
        assert effective(at_end, "devenv-vm") != ("192.0.2.10", "stack", "2222")


def test_a_guest_without_user_or_port_gets_what_the_users_file_gives_devenvs_own_ssh(cfg, project):
    cfg.parent.mkdir()
    cfg.write_text("Host *\n  User star\n  Port 1111\n")
    g = guest(user=None, port=None)
    block = sshconfig.block_for(g, project)
    assert block.lines[2:-2] == ("  HostName 192.0.2.10",)
    sshconfig.write(block)
    assert effective(cfg, "devenv-vm") == effective(cfg, "192.0.2.10") == ("192.0.2.10", "star", "1111")


RELEVANT = ("hostname", "user", "port", "identitiesonly", "userknownhostsfile", "stricthostkeychecking",
            "proxyjump", "proxycommand")


def test_a_guest_with_its_own_ssh_config_file_is_resolved_with_ssh_G(cfg, project, tmp_path, key):
    vagrant = tmp_path / "vagrant ssh-config"
    vagrant.write_text(f'Host default\n  HostName 127.0.0.1\n  User vagrant\n  Port 2200\n'
                       f'  UserKnownHostsFile "{tmp_path}/known hosts"\n  StrictHostKeyChecking yes\n'
                       f'  IdentityFile "{key}"\n  IdentityFile /nonexistent/key\n  IdentitiesOnly yes\n')
    cfg.parent.mkdir()
    cfg.write_text("Host *\n  User star\n  ProxyJump bastion.example\n")  # must not apply to the guest
    g = guest(host="default", user=None, port=None, ssh_config=str(vagrant), path="/vagrant")
    sshconfig.write(sshconfig.block_for(g, project))
    text = cfg.read_text()
    assert f'IdentityFile "{key}"' in text and "/nonexistent/key" not in text and "  ProxyJump none" in text
    ours, devenvs = ssh_g(cfg, "devenv-vm"), ssh_g(vagrant, "default")
    assert {k: ours.get(k) for k in RELEVANT} == {k: devenvs.get(k) for k in RELEVANT}
    assert ours["identityfile"][0] == str(key)
    assert sshconfig.write(sshconfig.block_for(g, project)).verb == "identical"


def test_a_guest_behind_a_proxy_command_keeps_it_over_the_users_proxy_jump(cfg, project, tmp_path):
    own = tmp_path / "guest.conf"
    own.write_text("Host box\n  HostName 10.0.0.5\n  ProxyCommand ssh -W %h:%p gateway.example\n")
    cfg.parent.mkdir()
    cfg.write_text("Host *\n  ProxyJump bastion.example\n")
    g = guest(host="box", user=None, port=None, ssh_config=str(own))
    sshconfig.write(sshconfig.block_for(g, project))
    assert "  ProxyCommand ssh -W %h:%p gateway.example\n" in cfg.read_text() and "ProxyJump" not in \
        cfg.read_text().split("Host *")[0]
    ours, devenvs = ssh_g(cfg, "devenv-vm"), ssh_g(own, "box")
    assert ours["proxycommand"] == devenvs["proxycommand"] == ["ssh -W %h:%p gateway.example"]
    assert "proxyjump" not in ours


def test_a_host_alias_from_the_users_config_is_resolved(cfg, project, key):
    cfg.parent.mkdir()
    cfg.write_text(f"Host mybox\n  HostName 198.51.100.7\n  User alias-user\n  Port 2022\n"
                   f'  IdentityFile "{key}"\n\nHost *\n  User star\n')
    g = guest(host="mybox", user=None, port=None)
    sshconfig.write(sshconfig.block_for(g, project))
    ours, devenvs = ssh_g(cfg, "devenv-vm"), ssh_g(cfg, "mybox")
    assert effective(cfg, "devenv-vm") == ("198.51.100.7", "alias-user", "2022")
    assert {k: ours.get(k) for k in RELEVANT} == {k: devenvs.get(k) for k in RELEVANT}
    assert ours["identityfile"][0] == devenvs["identityfile"][0] == str(key)


def test_unicode_and_spaces_in_every_path(tmp_path, monkeypatch, key):
    where = tmp_path / "my ssh é" / "config ü"
    monkeypatch.setenv("DEVENV_SSH_CONFIG", str(where))
    root = tmp_path / "projet «ü» x"
    root.mkdir()
    g = guest(key, path="/srv/projet é/x y")
    assert sshconfig.write(sshconfig.block_for(g, root)).path == where
    assert where.parent.stat().st_mode & 0o777 == 0o700
    assert f"(project {root})" in where.read_text(encoding="utf-8")
    assert ssh_g(where, "devenv-vm")["identityfile"][0] == str(key)
    assert sshconfig.find("vm") is not None and sshconfig.remove("vm").verb == "removed"


def test_a_symlinked_config_is_written_through_and_backed_up_beside_the_link(cfg, project, tmp_path):
    real = tmp_path / "dotfiles" / "ssh_config"
    real.parent.mkdir()
    real.write_text("Host a\n  User x\n")
    cfg.parent.mkdir()
    cfg.symlink_to(real)
    out = sshconfig.write(sshconfig.block_for(guest(), project))
    assert cfg.is_symlink() and Path(os.readlink(cfg)) == real
    assert "Host devenv-vm" in real.read_text()
    assert out.backup is not None and out.backup.parent == cfg.parent and not out.backup.is_symlink()
    assert out.backup.read_text() == "Host a\n  User x\n"
    assert list(real.parent.iterdir()) == [real]  # nothing left in the dotfiles repo


def test_a_file_that_is_not_utf8_or_has_broken_markers_is_refused_untouched(cfg, project):
    cfg.parent.mkdir()
    cfg.write_bytes(b"Host caf\xe9\n  User x\n")
    with pytest.raises(SshConfigError, match="is not UTF-8 text") as err:
        sshconfig.write(sshconfig.block_for(guest(), project))
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 3
    assert cfg.read_bytes() == b"Host caf\xe9\n  User x\n" and backups(cfg.parent) == []
    broken = "# >>> devenv guest vm (project /x) — managed by devenv\nHost devenv-vm\n"
    cfg.write_text(broken)
    with pytest.raises(SshConfigError, match="config:1: devenv's block for guest vm has no end line"):
        sshconfig.remove("vm")
    assert cfg.read_text() == broken


@contextmanager
def unwritable(target: Path) -> Iterator[None]:
    """Root ignores mode bits: chattr +i (immutable) then; a normal user gets chmod a-w."""
    if os.geteuid() != 0:
        mode = target.stat().st_mode
        target.chmod(0o555 if target.is_dir() else 0o444)
        try:
            yield
        finally:
            target.chmod(mode)
        return
    if shutil.which("chattr") is None or not proc.run(["chattr", "+i", str(target)], timeout=30).ok:
        pytest.skip("chattr +i does not work here (needed to make a file read-only for root)")
    try:
        yield
    finally:
        proc.run(["chattr", "-i", str(target)], timeout=30)


@pytest.mark.parametrize("what", ["file", "folder", "folder-empty", "ssh-is-a-file"])
def test_an_unwritable_config_is_one_clear_error_and_nothing_changes(cfg, project, run_cli, what):
    guests.save(project, guest())
    if what == "ssh-is-a-file":
        cfg.parent.write_text("oops\n")
        target = cfg.parent
    else:
        cfg.parent.mkdir()
        if what != "folder-empty":
            cfg.write_text("Host a\n  User x\n")
        target = cfg if what == "file" else cfg.parent
    before = {p: p.read_bytes() for p in [target, *target.rglob("*")] if p.is_file()}
    with unwritable(target):
        with pytest.raises(SshConfigUnwritable, match=f"cannot change the ssh config {cfg}"):
            sshconfig.write(sshconfig.block_for(guest(), project))
        res = run_cli("guest", "ssh-config", "vm", "--project", str(project))
        after = {p: p.read_bytes() for p in [target, *target.rglob("*")] if p.is_file()}
    assert res.exit_code == SshConfigUnwritable.exit_code == 1, res.output
    assert f"devenv: error: cannot change the ssh config {cfg}" in res.output and "nothing was changed" in res.output
    assert "hint: make the file and its folder writable" in res.output and "Traceback" not in res.output
    assert after == before  # no half-written file, no temp file, no backup of a change that did not happen


def test_cli_writes_prints_the_open_command_and_removes(cfg, project, run_cli):
    guests.save(project, guest(path="/opt/stack/my nova"))
    args = ("--project", str(project))
    res = run_cli("guest", "ssh-config", "vm", "--dry-run", *args)
    assert res.exit_code == 0, res.output
    assert "(dry run; nothing written) would have: added Host devenv-vm" in res.output
    assert "+Host devenv-vm" in res.output and not cfg.exists()
    res = run_cli("guest", "ssh-config", "vm", *args)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"added Host devenv-vm to {cfg}"
    assert lines[-1] == "  code --remote ssh-remote+devenv-vm '/opt/stack/my nova'"
    assert shlex.split(lines[-1]) == ["code", "--remote", "ssh-remote+devenv-vm", "/opt/stack/my nova"]
    res = run_cli("guest", "ssh-config", "vm", "/opt/stack/glance", "--json", *args)
    data = json.loads(res.output)
    assert data["ssh_config"]["verb"] == "identical" and data["ssh_config"]["path"] == str(cfg)
    assert data["open"] == "code --remote ssh-remote+devenv-vm /opt/stack/glance"
    guests.save(project, guest(path="/opt/stack/my nova", port=2200))
    res = run_cli("guest", "ssh-config", "vm", *args)
    assert f"updated Host devenv-vm in {cfg} (the previous file is kept as {cfg}.devenv-backup-" in res.output
    res = run_cli("guest", "ssh-config", "vm", "--remove")
    assert res.exit_code == 0 and f"removed Host devenv-vm from {cfg}" in res.output and "code" not in res.output
    res = run_cli("guest", "ssh-config", "vm", "--remove")
    assert res.exit_code == 0 and "no devenv block for guest vm" in res.output
    assert run_cli("guest", "ssh-config", "nope", *args).exit_code == 2
    cfg.write_text("Host devenv-vm\n  User mine\n")
    res = run_cli("guest", "ssh-config", "vm", *args)
    assert res.exit_code == 8 and "your own `Host devenv-vm`" in res.output and "Traceback" not in res.output
    cfg.write_bytes(b"\xff\xfe")
    assert run_cli("guest", "ssh-config", "vm", *args).exit_code == 3 and cfg.read_bytes() == b"\xff\xfe"


@pytest.mark.guest
def test_vscode_alias_reaches_the_real_guest_as_the_guest_user(cfg, run_cli, sync_project, real_guest, sync_remote):
    args = ("--project", str(sync_project))
    res = run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                  "--path", str(sync_remote), *args)
    assert res.exit_code == 0, res.output
    res = run_cli("guest", "ssh-config", "vm", *args)
    assert res.exit_code == 0, res.output
    stored = guests.load(sync_project, "vm")
    assert shlex.join(["code", "--remote", "ssh-remote+devenv-vm", stored.path]) in res.output
    # plain ssh with only the written file, as Remote-SSH runs it: the guest user, on the guest
    ssh = ["ssh", "-F", str(cfg), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "devenv-vm"]
    assert proc.run([*ssh, "true"], timeout=30).ok
    res = proc.run([*ssh, "id -u; id -un; test -d " + shlex.quote(stored.path) + " && echo there"], timeout=30)
    assert res.ok, res.stderr
    assert res.stdout.split() == [str(real_guest.uid), real_guest.user, "there"]
    assert "  StrictHostKeyChecking yes\n" in cfg.read_text()  # the fixture's own setting, carried over
