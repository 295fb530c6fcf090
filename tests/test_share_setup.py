"""`devenv share setup`: generated Vagrantfile blocks, fstab line and bindfs command — checked for form and,
where this machine can, by really mounting what was printed."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from devenv import proc
from devenv.host import share_setup
from devenv.host.guests import Guest, save

IDS = ["--host-uid", "1500", "--host-gid", "1501", "--guest-uid", "2345", "--guest-gid", "2400"]


def ruby_tokens(text: str) -> tuple[list[str], list[str]]:
    """Strings and bare words/brackets of Ruby-ish text; raises on an unclosed string (enough to lint ours)."""
    strings, words, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "#":
            i = text.index("\n", i)
        elif c in "'\"":
            j, buf = i + 1, []
            while text[j] != c:
                if text[j] == "\\":
                    j += 1
                buf.append(text[j])
                j += 1
            strings.append("".join(buf))
            i = j + 1
        elif c.isalpha() or c == "_":
            m = re.match(r"\w+", text[i:])
            assert m
            words.append(m.group())
            i += len(m.group())
        else:
            if c in "()[]{}":
                words.append(c)
            i += 1
    return strings, words


def assert_balanced(text: str) -> tuple[list[str], list[str]]:
    strings, words = ruby_tokens(text)
    assert words.count("do") == words.count("end") == 1
    depth = 0
    for w in words:
        depth += w in "([{" and len(w) == 1
        depth -= w in ")]}" and len(w) == 1
        assert depth >= 0
    assert depth == 0
    return strings, words


def test_nfs_vagrantfile_block(run_cli, tmp_path: Path) -> None:
    host = tmp_path / "it's my proj"
    host.mkdir()
    res = run_cli("share", "setup", str(host), "--mode", "nfs", "--guest-path", "/opt/stack/a b", *IDS)
    assert res.exit_code == 0, res.output
    strings, words = assert_balanced(res.output)
    assert str(host) in strings and "/opt/stack/a b-raw" in strings and "/opt/stack/a b" in strings
    assert "1500/2345:@1501/@2400" in strings
    assert "map_uid: 1500, map_gid: 1501" in res.output and 'type: "nfs"' in res.output
    assert "config.bindfs.bind_folder" in res.output and "force_user: nil" in res.output


def test_rsync_vagrantfile_block_has_the_excludes(run_cli, tmp_path: Path) -> None:
    res = run_cli("share", "setup", str(tmp_path), "--mode", "rsync", "--guest-path", "/opt/stack/x")
    assert res.exit_code == 0, res.output
    strings, _ = assert_balanced(res.output)
    for pattern in (".venv", ".tox", ".stestr", "__pycache__", "*.pyc", ".idea", "*.egg-info",
                    "stack-volumes-*-backing-file"):
        assert pattern in strings
    assert 'type: "rsync"' in res.output and "--archive" in strings and "stack" in strings


def test_ids_are_required_where_they_matter(run_cli, tmp_path: Path) -> None:
    res = run_cli("share", "setup", str(tmp_path), "--mode", "bindfs")
    assert res.exit_code == 2
    assert "--guest-uid" in res.output
    missing = run_cli("share", "setup", str(tmp_path / "nope"), "--mode", "rsync")
    assert missing.exit_code == 2 and "is not a folder" in missing.output


def fstab_fields(text: str) -> list[str]:
    (line,) = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return line.split()


def unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def test_fstab_line_parses(run_cli, tmp_path: Path) -> None:
    res = run_cli("share", "setup", str(tmp_path), "--mode", "fstab", "--guest-path", "/srv/a b\tc", *IDS)
    assert res.exit_code == 0, res.output
    fields = fstab_fields(res.output)
    assert len(fields) == 6
    spec, target, fstype, options, freq, passno = fields
    assert unescape(spec) == "/srv/a b\tc-raw" and unescape(target) == "/srv/a b\tc"
    assert fstype == "fuse.bindfs" and (freq, passno) == ("0", "0")
    opts = options.split(",")
    for want in ("_netdev", "nofail", "x-systemd.automount", "x-systemd.mount-timeout=30",
                 "map=1500/2345:@1501/@2400"):
        assert want in opts


@pytest.mark.guest
def test_fstab_line_mounts_with_the_mapping(run_cli, real_guest) -> None:
    target = real_guest.tmp / "mnt" / "fstab view"
    target.mkdir()
    res = run_cli("share", "setup", str(real_guest.host_tree), "--mode", "fstab", "--raw-path",
                  str(real_guest.host_tree), "--guest-path", str(target), "--guest-uid", str(real_guest.uid),
                  "--guest-gid", str(real_guest.gid))
    fstab = real_guest.tmp / "fstab-test"
    fstab.write_text(res.output)
    try:
        mounted = proc.run(["mount", "-T", str(fstab), str(target)], timeout=20)
        assert mounted.ok, mounted.stderr
        _assert_mapped(real_guest, target)
    finally:
        proc.run(["fusermount", "-u", str(target)], timeout=20)


@pytest.mark.guest
def test_printed_bindfs_command_mounts_with_the_mapping(run_cli, real_guest) -> None:
    target = real_guest.tmp / "mnt" / "bindfs view"
    res = run_cli("share", "setup", str(real_guest.host_tree), "--mode", "bindfs", "--raw-path",
                  str(real_guest.host_tree), "--guest-path", str(target), "--guest-uid", str(real_guest.uid),
                  "--guest-gid", str(real_guest.gid))
    assert res.exit_code == 0, res.output
    commands = [shlex.split(ln) for ln in res.output.splitlines() if ln and not ln.startswith("#")]
    assert [c[0] for c in commands] == ["mkdir", "bindfs"]
    try:
        for argv in commands:
            assert proc.run(argv, timeout=20).ok
        _assert_mapped(real_guest, target)
    finally:
        proc.run(["fusermount", "-u", str(target)], timeout=20)


def _assert_mapped(real_guest, view: Path) -> None:
    """The guest sees the host's files as its own, and what it creates is stored as the host user."""
    name = f"made-by-guest-{os.getpid()}"
    code = ("import os, sys; v = sys.argv[1]; open(os.path.join(v, sys.argv[2]), 'w').close();"
            "print(os.stat(os.path.join(v, 'setup.cfg')).st_uid, os.stat(os.path.join(v, sys.argv[2])).st_uid)")
    res = real_guest.guest_python(code, str(view), name)
    assert res.ok, res.stderr
    assert res.stdout.split() == [str(real_guest.uid), str(real_guest.uid)]
    made = real_guest.host_tree / name
    assert made.stat().st_uid == real_guest.host_uid
    made.unlink()


@pytest.mark.guest
def test_guest_ids_and_path_come_from_the_guest(run_cli, real_guest, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    save(root, Guest(name="fx", host=real_guest.alias, path="/opt/stack/proj",
                     ssh_config=str(real_guest.ssh_config)))
    res = run_cli("share", "setup", str(real_guest.host_tree), "--mode", "bindfs", "--guest", "fx",
                  "--project", str(root))
    assert res.exit_code == 0, res.output
    want = f"--map={real_guest.host_uid}/{real_guest.uid}:@{real_guest.host_gid}/@{real_guest.gid}"
    assert f"bindfs {want} /opt/stack/proj-raw /opt/stack/proj" in res.output
    assert real_guest.user in res.output


def test_write_keeps_the_rest_backs_up_and_is_idempotent(run_cli, tmp_path: Path) -> None:
    vagrantfile = tmp_path / "Vagrantfile"
    vagrantfile.write_text('Vagrant.configure("2") do |config|\n  config.vm.box = "debian/bookworm64"\nend\n')
    args = ["share", "setup", str(tmp_path), "--guest-path", "/opt/stack/x", "--write", str(vagrantfile), *IDS]
    first = run_cli(*args, "--mode", "nfs")
    assert first.exit_code == 0 and "updated" in first.output and "saved as" in first.output
    text = vagrantfile.read_text()
    assert text.startswith('Vagrant.configure("2") do |config|\n  config.vm.box')
    assert text.count(">>> devenv share setup (nfs)") == 1
    backups = list(tmp_path.glob("Vagrantfile.devenv-backup-*"))
    assert len(backups) == 1 and "nfs" not in backups[0].read_text()
    again = run_cli(*args, "--mode", "nfs")
    assert "identical" in again.output and vagrantfile.read_text() == text
    switched = run_cli(*args, "--mode", "rsync")
    assert switched.exit_code == 0
    text = vagrantfile.read_text()
    assert "(rsync)" in text and "(nfs)" not in text and 'config.vm.box = "debian/bookworm64"' in text


def test_merge_block_refuses_a_damaged_block() -> None:
    with pytest.raises(share_setup.UsageError):
        share_setup.merge_block("# >>> devenv share setup (nfs) >>>\nno end\n", "nfs", "x")


def test_write_through_a_symlinked_target(run_cli, tmp_path: Path) -> None:
    real = tmp_path / "infra" / "Vagrantfile"
    real.parent.mkdir()
    real.write_text('Vagrant.configure("2") do |config|\nend\n')
    link = tmp_path / "Vagrantfile"
    link.symlink_to(real)
    res = run_cli("share", "setup", str(tmp_path), "--guest-path", "/opt/stack/x", "--write", str(link), *IDS,
                  "--mode", "nfs")
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and ">>> devenv share setup (nfs)" in real.read_text()
