"""devenv sync against a real guest: sshd on loopback, a guest user with another UID, odd names."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from syncfix import guest_files, guest_write

from devenv.host import ssh, sync, syncstate
from devenv.host.sync import SyncOptions

pytestmark = pytest.mark.guest

EXPECTED = {"setup.cfg", "pkg/m0.py", "pkg/m1.py", "pkg/m2.py", "pkg/m3.py", "pkg/m4.py",
            "pkg/sub dir/it's -odd é.txt"}


def test_initial_sync_copies_the_tree_without_excluded_files(sync_project, sync_guest, sync_remote, real_guest):
    result = sync.sync(sync_project, sync_guest)
    assert guest_files(sync_remote) == EXPECTED  # .tox and __pycache__ stay home
    assert set(result.created) == EXPECTED and not result.conflicts
    assert (sync_remote / "pkg" / "m1.py").read_text() == "x = 1\n"
    # written by the guest user, not the host's ids
    assert (sync_remote / "pkg" / "m1.py").stat().st_uid == real_guest.uid
    # times preserved, so the next run has nothing to do
    remote_mtime = (sync_remote / "setup.cfg").stat().st_mtime_ns
    assert remote_mtime == (sync_project / "setup.cfg").stat().st_mtime_ns
    last = sync.last_sync(sync_project, "box")
    assert last is not None and last["files"] == len(EXPECTED) and last["conflicts"] == []


def test_first_sync_into_a_used_folder_keeps_what_was_there(sync_project, sync_guest, sync_remote, real_guest):
    assert real_guest.as_guest(["mkdir", "-p", str(sync_remote / "pkg")]).ok
    guest_write(real_guest, sync_remote / "pkg" / "m1.py", "the guest's own version\n")
    guest_write(real_guest, sync_remote / "notes.txt", "guest only\n")
    result = sync.sync(sync_project, sync_guest)
    assert (sync_remote / "pkg" / "m1.py").read_text() == "x = 1\n"
    assert [c.path for c in result.conflicts] == ["pkg/m1.py"] and "not sent by devenv" in result.conflicts[0].reason
    assert Path(result.conflicts[0].backup).read_text() == "the guest's own version\n"
    assert (sync_remote / "notes.txt").read_text() == "guest only\n"  # no --delete: untouched
    assert set(result.created) == EXPECTED - {"pkg/m1.py"} and result.updated == ("pkg/m1.py",)
    assert sync.sync(sync_project, sync_guest).changed == 0


def test_no_change_sync_sends_nothing(sync_project, sync_guest):
    sync.sync(sync_project, sync_guest)
    again = sync.sync(sync_project, sync_guest)
    assert again.changed == 0 and not again.conflicts and again.backup_dir is None


def test_host_edit_arrives_and_leaves_no_backup(sync_project, sync_guest, sync_remote):
    sync.sync(sync_project, sync_guest)
    (sync_project / "pkg" / "m2.py").write_text("x = 'edited on the host'\n")
    result = sync.sync(sync_project, sync_guest)
    assert result.updated == ("pkg/m2.py",) and not result.conflicts
    assert (sync_remote / "pkg" / "m2.py").read_text() == "x = 'edited on the host'\n"
    assert not (sync_remote / ".devenv-backup").exists() or not guest_files(sync_remote / ".devenv-backup")


def test_guest_edit_is_kept_and_reported_as_conflict(sync_project, sync_guest, sync_remote, real_guest):
    sync.sync(sync_project, sync_guest)
    guest_write(real_guest, sync_remote / "pkg" / "m3.py", "guest work\n")
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == ["pkg/m3.py"]
    conflict = result.conflicts[0]
    assert "changed on the guest" in conflict.reason
    assert conflict.backup is not None and Path(conflict.backup).read_text() == "guest work\n"
    assert (sync_remote / "pkg" / "m3.py").read_text() == "x = 3\n"  # the host's copy won, the guest's is kept
    assert sync.last_sync(sync_project, "box")["conflicts"][0]["path"] == "pkg/m3.py"


def test_guest_and_host_edit_of_same_file_is_a_conflict_too(sync_project, sync_guest, sync_remote, real_guest):
    sync.sync(sync_project, sync_guest)
    guest_write(real_guest, sync_remote / "pkg" / "m4.py", "guest side\n")
    (sync_project / "pkg" / "m4.py").write_text("host side\n")
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == ["pkg/m4.py"]
    assert Path(result.conflicts[0].backup).read_text() == "guest side\n"
    assert (sync_remote / "pkg" / "m4.py").read_text() == "host side\n"


def test_without_delete_nothing_is_removed(sync_project, sync_guest, sync_remote, real_guest):
    sync.sync(sync_project, sync_guest)
    (sync_project / "pkg" / "m0.py").unlink()
    guest_write(real_guest, sync_remote / "guest-only.log", "log\n")
    result = sync.sync(sync_project, sync_guest)
    assert result.deleted == ()
    assert {"pkg/m0.py", "guest-only.log"} <= guest_files(sync_remote)


def test_delete_removes_and_backs_up(sync_project, sync_guest, sync_remote, real_guest):
    sync.sync(sync_project, sync_guest)
    (sync_project / "pkg" / "m0.py").unlink()
    guest_write(real_guest, sync_remote / "guest-only.log", "log\n")
    result = sync.sync(sync_project, sync_guest, SyncOptions(delete=True))
    assert set(result.deleted) == {"pkg/m0.py", "guest-only.log"}
    assert not {"pkg/m0.py", "guest-only.log"} & guest_files(sync_remote)
    backup = Path(result.backup_dir)
    assert (backup / "pkg" / "m0.py").read_text() == "x = 0\n"
    assert (backup / "guest-only.log").read_text() == "log\n"
    assert [c.path for c in result.conflicts] == ["guest-only.log"]  # never sent by us: reported
    # the guest's own excluded folders are protected from --delete
    assert not result.deleted or ".tox" not in " ".join(result.deleted)


def test_dry_run_changes_nothing(sync_project, sync_guest, sync_remote, real_guest):
    dry = sync.sync(sync_project, sync_guest, SyncOptions(dry_run=True))
    assert set(dry.created) == EXPECTED and not sync_remote.exists()
    assert sync.last_sync(sync_project, "box") is None
    sync.sync(sync_project, sync_guest)
    guest_write(real_guest, sync_remote / "pkg" / "m1.py", "guest edit\n")
    (sync_project / "pkg" / "m2.py").unlink()
    dry = sync.sync(sync_project, sync_guest, SyncOptions(dry_run=True, delete=True))
    assert dry.updated == ("pkg/m1.py",) and dry.deleted == ("pkg/m2.py",)
    assert [c.path for c in dry.conflicts] == ["pkg/m1.py"] and dry.conflicts[0].backup is None
    assert (sync_remote / "pkg" / "m1.py").read_text() == "guest edit\n" and (sync_remote / "pkg" / "m2.py").exists()
    assert not (sync_remote / ".devenv-backup").exists()


def test_verify_catches_same_size_edit_with_restored_mtime(sync_project, sync_guest, sync_remote, real_guest):
    sync.sync(sync_project, sync_guest)
    target = sync_remote / "pkg" / "m1.py"
    st = target.stat()
    guest_write(real_guest, target, "y = 1\n")  # same size as "x = 1\n"
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sync.sync(sync_project, sync_guest).changed == 0  # the quick check cannot see it
    result = sync.sync(sync_project, sync_guest, SyncOptions(verify=True))
    assert result.differing == ("pkg/m1.py",)
    assert target.read_text() == "x = 1\n"
    kept = [c for c in result.conflicts if c.path == "pkg/m1.py"]
    assert kept and Path(kept[0].backup).read_text() == "y = 1\n"
    assert sync.sync(sync_project, sync_guest, SyncOptions(verify=True)).differing == ()


def test_same_size_guest_edit_in_the_same_second_is_still_kept(sync_project, sync_guest, sync_remote, real_guest):
    """The quick check cannot see it (same size, same second); the nanosecond manifest still can."""
    sync.sync(sync_project, sync_guest)
    target = sync_remote / "pkg" / "m3.py"
    sent_ns = target.stat().st_mtime_ns
    guest_write(real_guest, target, "y = 3\n")  # same size as "x = 3\n"
    os.utime(target, ns=(sent_ns, sent_ns // 10**9 * 10**9 + (sent_ns + 1) % 10**9))
    (sync_project / "pkg" / "m3.py").write_text("x = 'host edit'\n")
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == ["pkg/m3.py"]
    assert Path(result.conflicts[0].backup).read_text() == "y = 3\n"


def test_guest_copy_from_the_future_is_replaced_but_kept(sync_project, sync_guest, sync_remote, real_guest):
    """Simulated clock skew: the guest copy is stamped an hour ahead. rsync --update would skip the host
    edit for ever; devenv sends it and keeps the guest copy."""
    sync.sync(sync_project, sync_guest)
    future = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() + 3600))
    guest_write(real_guest, sync_remote / "pkg" / "m2.py", "guest, stamped ahead\n", mtime=future)
    (sync_project / "pkg" / "m2.py").write_text("host edit\n")
    result = sync.sync(sync_project, sync_guest)
    assert (sync_remote / "pkg" / "m2.py").read_text() == "host edit\n"
    assert [c.path for c in result.conflicts] == ["pkg/m2.py"]
    assert Path(result.conflicts[0].backup).read_text() == "guest, stamped ahead\n"


def test_clock_skew_is_measured_and_small_on_loopback(sync_project, sync_guest):
    from devenv.host import clock

    skew = clock.measure(sync_guest)
    assert abs(skew.seconds) <= skew.uncertainty + 0.5 and not skew.significant
    assert clock.Skew(5.0, 0.2).significant and "ahead" in clock.Skew(5.0, 0.2).describe()
    assert clock.finding(sync_guest).status == "ok"


def test_manifest_survives_and_first_sync_learns_existing_identical_files(sync_project, sync_guest, sync_remote):
    sync.sync(sync_project, sync_guest)
    syncstate.forget(sync_project, "box")  # as after `guest remove` + `guest add`
    again = sync.sync(sync_project, sync_guest)
    assert again.changed == 0
    assert set(syncstate.load_manifest(sync_project, "box")) == EXPECTED  # learnt from -ii, nothing resent
    (sync_project / "pkg" / "m1.py").write_text("host\n")
    assert sync.sync(sync_project, sync_guest).conflicts == ()  # the guest copy was known: no false conflict


def test_pbr_project_without_git_gets_a_note(sync_project, sync_guest):
    (sync_project / "setup.py").write_text("import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n")
    result = sync.sync(sync_project, sync_guest)
    assert any("PBR_VERSION" in n for n in result.notes)
    (sync_project / ".git").mkdir()
    assert sync.sync(sync_project, sync_guest).notes == ()


def test_devenvignore_and_exclude_option(sync_project, sync_guest, sync_remote):
    (sync_project / ".devenvignore").write_text("# comment\n*.log\n")
    (sync_project / "big.log").write_text("x\n")
    (sync_project / "data").mkdir()
    (sync_project / "data" / "blob").write_text("x\n")
    sync.sync(sync_project, sync_guest, SyncOptions(excludes=("/data/",)))
    files = guest_files(sync_remote)
    assert "big.log" not in files and "data/blob" not in files and "pkg/m1.py" in files


def test_cli_sync_with_conflicts_exits_8_and_json_says_why(sync_project, sync_guest, sync_remote, real_guest,
                                                           run_cli):
    import json

    from devenv.host import guests

    guests.save(sync_project, sync_guest)
    first = run_cli("sync", "--project", str(sync_project))
    assert first.exit_code == 0, first.output
    guest_write(real_guest, sync_remote / "pkg" / "m3.py", "guest work\n")
    res = run_cli("sync", "--project", str(sync_project), "--json")
    assert res.exit_code == 8, res.output  # the guest's change was kept aside: someone has to look
    data = json.loads(res.output[res.output.index("{"):])
    assert [c["path"] for c in data["sync"]["conflicts"]] == ["pkg/m3.py"]


def test_json_failures_print_json(run_cli, tmp_path):
    import json

    res = run_cli("sync", "nope", "--project", str(tmp_path), "--json")
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["exit_code"] == 2 and "guest" in data["error"]


def test_what_a_failed_sync_sent_reaches_the_manifest(sync_project, sync_guest, sync_remote, real_guest):
    """A run that fails part-way (here the guest has a non-empty folder where the host has a file: rsync
    exit 23) still sent the other files. Before, the manifest never learnt them, and the next host-only
    edit of such a file was reported as a guest conflict, with a backup."""
    from devenv.errors import DevenvError

    sync.sync(sync_project, sync_guest)
    blocker = sync_remote / "pkg" / "m3.py"
    assert real_guest.as_guest(["sh", "-c", 'rm -f "$1" && mkdir -p "$1/inner" && touch "$1/inner/x"', "sh",
                                str(blocker)]).ok
    (sync_project / "pkg" / "m0.py").write_text("x = 'first host edit'\n")
    (sync_project / "pkg" / "m3.py").write_text("x = 'cannot land'\n")
    with pytest.raises(DevenvError):
        sync.sync(sync_project, sync_guest)
    assert (sync_remote / "pkg" / "m0.py").read_text() == "x = 'first host edit'\n"  # it did arrive
    assert real_guest.as_guest(["rm", "-rf", str(blocker)]).ok
    time.sleep(0.01)
    (sync_project / "pkg" / "m0.py").write_text("x = 'second host edit'\n")  # host only
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == [], result.conflicts
    assert (sync_remote / "pkg" / "m0.py").read_text() == "x = 'second host edit'\n"


@pytest.mark.parametrize("becomes", ["symlink", "folder"])
def test_guest_edit_of_a_file_the_host_made_a_symlink_or_folder_is_reported(
        sync_project, sync_guest, sync_remote, real_guest, becomes):
    sync.sync(sync_project, sync_guest)
    guest_write(real_guest, sync_remote / "pkg" / "m2.py", "guest work\n")
    host = sync_project / "pkg" / "m2.py"
    host.unlink()
    if becomes == "symlink":
        host.symlink_to("m0.py")
    else:
        host.mkdir()
        (host / "inside.py").write_text("y = 1\n")
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == ["pkg/m2.py"], result
    assert Path(result.conflicts[0].backup).read_text() == "guest work\n"
    # and once reported, a later sync does not report it again
    assert sync.sync(sync_project, sync_guest).conflicts == ()


def test_first_sync_manifest_is_exactly_what_the_guest_has(sync_project, sync_guest, sync_remote):
    """The first sync's fast path (new files parsed on a short path, their ns mtimes read through the
    folder's fd): the manifest holds every file the guest got, with the guest copy's size and ns mtime;
    nothing excluded, no symlink, no folder."""
    (sync_project / "pkg" / "link.py").symlink_to("m0.py")
    (sync_project / "pkg" / "deep" / "er").mkdir(parents=True)
    (sync_project / "pkg" / "deep" / "er" / "tab\tname.py").write_text("t = 1\n")
    result = sync.sync(sync_project, sync_guest)
    manifest = syncstate.load_manifest(sync_project, "box")
    on_guest = {p for p in guest_files(sync_remote) if not (sync_remote / p).is_symlink()}
    assert set(manifest) == on_guest == set(result.created) - {"pkg/link.py"}
    for rel, (size, ns) in manifest.items():
        st = (sync_remote / rel).lstat()
        assert (size, ns) == (st.st_size, st.st_mtime_ns), rel
    assert sync.sync(sync_project, sync_guest).changed == 0


def _age(root: Path, seconds: float) -> dict[str, int]:
    """Stamp every file under root `seconds` in the past (with a nanosecond part); their ns mtimes."""
    stamps = {}
    for n, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())):
        ns = int((time.time() - seconds) * 10**9) // 10**9 * 10**9 + 123_456_789 + n
        os.utime(path, ns=(ns, ns))
        stamps[path.relative_to(root).as_posix()] = ns
    return stamps


def test_first_sync_keeps_whole_seconds_for_old_files_and_still_sees_a_same_size_guest_edit(
        sync_project, sync_guest, sync_remote, real_guest):
    """A file last changed well before the sync is remembered with rsync's second (no lstat of the host file):
    a guest edit is stamped after the copy arrived, so it cannot share that second. A file changed just now
    keeps its nanoseconds."""
    stamps = _age(sync_project, 3600)
    fresh = sync_project / "pkg" / "m4.py"
    fresh.write_text("x = 4\n")
    sync.sync(sync_project, sync_guest)
    manifest = syncstate.load_manifest(sync_project, "box")
    assert manifest["pkg/m1.py"] == [6, stamps["pkg/m1.py"] // 10**9 * 10**9]
    assert manifest["pkg/m4.py"] == [6, fresh.stat().st_mtime_ns] and fresh.stat().st_mtime_ns % 10**9
    guest_write(real_guest, sync_remote / "pkg" / "m1.py", "y = 1\n")  # same size, stamped now
    (sync_project / "pkg" / "m1.py").write_text("x = 'host edit'\n")
    result = sync.sync(sync_project, sync_guest)
    assert [c.path for c in result.conflicts] == ["pkg/m1.py"]
    assert Path(result.conflicts[0].backup).read_text() == "y = 1\n"
    assert not sync.sync(sync_project, sync_guest).conflicts  # our own copies are still known as ours


@pytest.mark.parametrize("skew", [-7200.0, None])
def test_a_guest_clock_behind_or_unread_gives_old_files_their_nanoseconds(sync_project, sync_guest, monkeypatch,
                                                                         skew):
    """A guest two hours behind stamps an edit made now with a time two hours ago: a file of that age
    needs its nanoseconds (read once the run has read the clock). A guest whose clock was not read: all do.
    (The guest here shares the host's clock, so the measured skew is replaced.)"""
    from devenv.host import clock

    stamps = _age(sync_project, 3600)
    monkeypatch.setattr(sync, "_skew_from",
                        lambda clocks, guest: None if skew is None else clock.Skew(skew, 0.01))
    monkeypatch.setattr(clock, "measure", lambda guest, **kw: (_ for _ in ()).throw(ssh.SshFailure("no clock")))
    sync.sync(sync_project, sync_guest)
    manifest = syncstate.load_manifest(sync_project, "box")
    assert manifest and all(manifest[rel] == [(sync_project / rel).stat().st_size, stamps[rel]] for rel in manifest)


def test_coarse_limit_follows_the_guest_clock():
    from devenv.host import clock

    start = 1_000_000.5
    assert sync.coarse_limit(start, None) == 999_998
    assert sync.coarse_limit(start, clock.Skew(3600.0, 0.1)) == 999_998  # ahead: may be set back later
    assert sync.coarse_limit(start, clock.Skew(-60.0, 0.1)) == 999_938


def test_first_sync_reads_the_guest_clock_in_rsyncs_own_session(sync_project, sync_guest, monkeypatch):
    """No ssh session of its own for the clock: the guest's shell prints it (date) before it starts rsync,
    and the line is not part of rsync's stderr (nor of any message made from it)."""
    from devenv.host import clock

    def no_session(*args, **kw):
        raise AssertionError("the clock was read over an ssh session of its own")

    monkeypatch.setattr(sync, "_measure_skew", no_session)
    monkeypatch.setattr(clock, "measure", no_session)
    result = sync.sync(sync_project, sync_guest)
    assert result.skew is not None and abs(result.skew.seconds) <= result.skew.uncertainty + 0.5
    assert 0 < result.skew.uncertainty < 10 and not result.skew.significant
    assert sync.last_sync(sync_project, "box")["skew"] is not None


def test_a_guest_rsync_given_as_a_shell_command_has_its_clock_measured_by_itself(sync_project, real_guest,
                                                                                 sync_remote, monkeypatch):
    from syncfix import guest_for

    from devenv.host import clock, rsync

    measured: list[str] = []
    real, real_over = clock.measure, sync._measure_skew
    monkeypatch.setattr(clock, "measure", lambda guest, timeout=20.0: measured.append("direct") or real(guest))
    monkeypatch.setattr(sync, "_measure_skew", lambda guest, path, timeout=20.0: measured.append("over rsync's ssh")
                        or real_over(guest, path, timeout))
    guest = guest_for(real_guest, sync_remote, rsync_path="cd / && rsync")
    argv = rsync.argv(guest, str(sync_project), backup_dir="r", marker="r", clock=True)
    assert "--rsync-path=cd / && rsync" in argv  # the user's command, as given
    result = sync.sync(sync_project, guest)
    assert result.skew is not None and len(measured) == 1, measured  # a session of its own (the old way)


def test_the_clock_wrapper_runs_the_program_with_its_arguments_and_says_the_time_on_stderr():
    """/bin/sh runs date, then execs the program with rsync's own arguments ("$0" "$@"): odd arguments
    reach it unchanged, and read_clock takes the line out of stderr."""
    import subprocess

    from devenv.host import rsync

    wrapped = rsync.clock_program("/usr/bin/env DEVENV_SYNC=m1 printenv")
    assert wrapped.startswith("/bin/sh -c '") and wrapped.endswith(" /usr/bin/env DEVENV_SYNC=m1 printenv")
    res = subprocess.run(["sh", "-c", f"{wrapped} DEVENV_SYNC"], capture_output=True, text=True, timeout=30)
    assert res.stdout == "m1\n"
    before, after = time.time(), None
    guest_now, rest = rsync.read_clock(res.stderr + "rsync: some error\n")
    after = time.time()
    assert guest_now is not None and before - 60 < guest_now <= after and rest == "rsync: some error\n"
    assert rsync.read_clock("rsync error\n") == (None, "rsync error\n")
    assert rsync.read_clock(f"{rsync.CLOCK_TAG}%s.%N\nx\n") == (None, "x\n")  # a date without %N support
    assert rsync.can_read_clock(None) and rsync.can_read_clock("/opt/bin/rsync")
    assert not rsync.can_read_clock("sudo rsync")


def test_a_long_first_sync_asks_about_a_hung_share_through_rsyncs_own_connection(sync_project, sync_guest,
                                                                                 monkeypatch):
    """The hang probe of a run that lasts goes through rsync's ssh (its master socket is up by then),
    not through a connection of its own."""
    from devenv.host import hangwatch

    for i in range(3000):
        (sync_project / "many" / f"d{i // 300}").mkdir(parents=True, exist_ok=True)
        (sync_project / "many" / f"d{i // 300}" / f"f{i}.py").write_text(f"n = {i}\n" + "#" * 400)
    # the run must outlast the first probes on any machine (a fast one sent 3000 small files before the
    # master socket was up): rsync's own bandwidth limit makes it last ~1.3 s
    base_extra = sync._base_extra
    monkeypatch.setattr(sync, "_base_extra", lambda *a: [*base_extra(*a), "--bwlimit=1000"])
    monkeypatch.setattr(hangwatch, "FIRST_PROBE_AFTER", 0.05)
    monkeypatch.setattr(hangwatch, "PROBE_EVERY", 0.05)
    asked: list[tuple[str | None, bool]] = []
    real = hangwatch._ask

    def spy(guest, args, timeout, control_path):
        asked.append((control_path, bool(control_path) and os.path.exists(control_path)))
        return real(guest, args, timeout, control_path)

    monkeypatch.setattr(hangwatch, "_ask", spy)
    result = sync.sync(sync_project, sync_guest)
    assert "many/d9/f2999.py" in result.created
    assert asked, "the run ended before the first probe"
    assert all(path is not None for path, _ in asked)
    assert any(served for _, served in asked)  # answered over the master, not a handshake of its own
    assert not Path(asked[0][0]).parent.exists()  # the private socket folder is gone


def test_host_file_changed_after_rsync_listed_it_is_remembered_in_seconds_only(tmp_path):
    """What rsync sent is what it listed (%l, %M): a host file that changed since has other stat data,
    so only the listed second is remembered (compared coarsely), never the host's newer ns mtime."""
    from devenv.host import rsync

    (tmp_path / "d").mkdir()
    same, changed = tmp_path / "d" / "same.py", tmp_path / "d" / "changed.py"
    same.write_text("x = 1\n")
    changed.write_text("x = 1\n")
    st = same.stat()
    stamp = time.strftime("%Y/%m/%d-%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9))
    times = rsync.HostTimes(str(tmp_path), unchanged=True)
    parser = rsync.Parser(times)
    parser.feed(f"cd+++++++++\t4096\t{stamp}\td/")
    parser.feed(f"{rsync.NEW_FILE}\t6\t{stamp}\td/same.py")
    changed.write_text("x = 'edited while rsync ran'\n")
    parser.feed_lines([f"{rsync.NEW_FILE}\t6\t{stamp}\td/changed.py", f"{rsync.NEW_FILE}\t6\t{stamp}\td/gone.py",
                       "skipping non-regular file \"x\""])
    times.close()
    assert [i.path for i in parser.items] == ["d/"] and not parser.items[0].is_file
    new = parser.new
    assert new.paths == ["d/same.py", "d/changed.py", "d/gone.py"] and new.sizes == [6, 6, 6]
    assert [new.mtime_ns(i) for i in range(3)] == [st.st_mtime_ns] + [st.st_mtime_ns // 10**9 * 10**9] * 2
    assert [i.path for i in new.as_items()] == new.paths and all(i.sent and i.new for i in new.as_items())


def test_manifest_round_trip_and_the_first_format_is_still_read(tmp_path):
    """Format 2 (binary columns) is what devenv writes, a name that is not UTF-8 included; a manifest an
    earlier devenv wrote (one JSON object of path -> [size, ns]) is read, and replaced at the next save; a
    damaged one reads as none (every replaced guest copy is then kept)."""
    import json

    from devenv import paths

    root = tmp_path / "proj"
    root.mkdir()
    manifest = {"a.py": [3, 1_700_000_000_123_456_789], "d/b é.py": [0, 1_700_000_001_000_000_000],
                os.fsdecode(b"bad\xff"): [2**40, 5]}
    syncstate.save_manifest(root, "vm", manifest)
    assert syncstate.has_manifest(root, "vm") and syncstate.load_manifest(root, "vm") == manifest
    files = paths.project_state(root) / "sync-vm.files"
    good = files.read_bytes()
    assert good.startswith(syncstate.MAGIC) and b"bad\xff" in good
    syncstate.save_lists(root, "vm", [], [], [], {})
    assert syncstate.has_manifest(root, "vm") and syncstate.load_manifest(root, "vm") == {}
    syncstate.forget(root, "vm")
    assert not files.exists()
    old = paths.project_state(root) / "sync-vm.manifest.json"
    first = {"a.py": [3, 1_700_000_000_123_456_789]}
    old.write_text(json.dumps(first), encoding="utf-8")
    assert syncstate.has_manifest(root, "vm") and syncstate.load_manifest(root, "vm") == first
    syncstate.save_manifest(root, "vm", {**first, "c.py": [1, 5]})
    assert not old.exists() and syncstate.load_manifest(root, "vm") == {**first, "c.py": [1, 5]}
    for broken in (good[:-1], good + b"x", good[:10], b"", b"devenv sync manifest 3\n" + good[len(syncstate.MAGIC):]):
        files.write_bytes(broken)
        assert syncstate.load_manifest(root, "vm") == {}


def test_no_ssh_master_where_its_socket_path_would_be_too_long(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    master = sync._Master()
    try:
        assert master.path is None and master.wait() is None  # the clock probe then connects by itself
    finally:
        master.close()
    assert not os.listdir(deep)


def test_a_file_name_that_is_not_utf8_is_sent_and_remembered(sync_project, sync_guest, sync_remote):
    """rsync escapes the byte (\\#377); devenv reads it back as a lone surrogate (surrogateescape), which the
    manifest must store and give back exactly, or the next sync of that file would be a false conflict."""
    odd = os.fsencode(sync_project / "pkg") + b"/bad\xff.py"
    with open(odd, "w") as fh:
        fh.write("x = 1\n")
    result = sync.sync(sync_project, sync_guest)
    name = os.fsdecode(b"pkg/bad\xff.py")
    assert name in result.created and os.path.exists(os.fsencode(sync_remote / "pkg") + b"/bad\xff.py")
    assert name in syncstate.load_manifest(sync_project, "box")
    with open(odd, "w") as fh:
        fh.write("x = 'host edit'\n")
    again = sync.sync(sync_project, sync_guest)
    assert again.updated == (name,) and not again.conflicts
