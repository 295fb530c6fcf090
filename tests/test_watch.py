"""devenv sync --watch: changes arrive, deletions follow --delete, the guest may vanish, Ctrl-C is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from syncfix import guest_files, wait_until

from devenv.host import guests, sync, watch
from devenv.host.guests import Guest
from devenv.host.sync import SyncOptions

pytestmark = pytest.mark.guest


@contextmanager
def watching(root: Path, guest: Guest, opts: SyncOptions = SyncOptions()) -> Iterator[dict]:
    """Run the watch in a thread; yields a dict that fills with flushes, waits and the summary."""
    stop = threading.Event()
    ready = threading.Event()
    live = watch.WatchSummary()
    seen: dict = {"flushes": [], "waits": [], "live": live}

    def run() -> None:
        try:
            seen["summary"] = watch.watch(root, guest, opts, stop=stop, on_ready=ready.set,
                                          on_flush=seen["flushes"].append,
                                          on_wait=lambda m, d, n: seen["waits"].append((m, n)), summary=live)
        except Exception as exc:  # surfaced by the test below
            seen["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(20), "the watch did not start"
        yield seen
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the watch did not stop"
    assert "error" not in seen, seen.get("error")


def test_save_arrives_and_deletion_is_kept_without_delete(sync_project, sync_guest, sync_remote):
    sync.sync(sync_project, sync_guest)
    with watching(sync_project, sync_guest) as seen:
        (sync_project / "pkg" / "m1.py").write_text("x = 'saved'\n")
        (sync_project / "new dir é").mkdir()
        (sync_project / "new dir é" / "a.py").write_text("a\n")
        (sync_project / "pkg" / "__pycache__" / "z.pyc").write_bytes(b"\0")
        assert wait_until(lambda: (sync_remote / "pkg" / "m1.py").read_text() == "x = 'saved'\n")
        assert wait_until(lambda: "new dir é/a.py" in guest_files(sync_remote))
        (sync_project / "pkg" / "m2.py").unlink()
        assert wait_until(lambda: "pkg/m2.py" in seen["live"].kept_on_guest)  # the deletion was handled
    summary = seen["summary"]
    assert "pkg/m2.py" in guest_files(sync_remote)  # no --delete: kept on the guest, and said so
    assert "pkg/m2.py" in summary.kept_on_guest
    assert summary.sent >= 2 and summary.pending == []
    assert "pkg/__pycache__/z.pyc" not in guest_files(sync_remote)


def test_deletion_with_delete_removes_and_backs_up(sync_project, sync_guest, sync_remote):
    sync.sync(sync_project, sync_guest)
    with watching(sync_project, sync_guest, SyncOptions(delete=True)) as seen:
        (sync_project / "pkg" / "m3.py").unlink()
        assert wait_until(lambda: "pkg/m3.py" not in guest_files(sync_remote))
    assert seen["summary"].deleted == 1
    backups = guest_files(sync_remote / ".devenv-backup")
    assert any(p.endswith("/pkg/m3.py") for p in backups)


def test_guest_edit_during_watch_is_kept(sync_project, sync_guest, sync_remote, real_guest):
    from syncfix import guest_write

    sync.sync(sync_project, sync_guest)
    guest_write(real_guest, sync_remote / "pkg" / "m4.py", "guest work\n")
    with watching(sync_project, sync_guest) as seen:
        (sync_project / "pkg" / "m4.py").write_text("host work\n")
        assert wait_until(lambda: (sync_remote / "pkg" / "m4.py").read_text() == "host work\n")
        assert wait_until(lambda: any(f.conflicts for f in seen["flushes"]))
    conflict = next(c for f in seen["flushes"] for c in f.conflicts)
    assert conflict.path == "pkg/m4.py" and Path(conflict.backup).read_text() == "guest work\n"


def test_guest_goes_away_and_comes_back_pending_flushed(sync_project, own_sshd, sync_remote):
    guest = Guest(name="box", host=own_sshd.alias, path=str(sync_remote), ssh_config=str(own_sshd.client_config))
    sync.sync(sync_project, guest)
    with watching(sync_project, guest) as seen:
        own_sshd.stop()
        (sync_project / "pkg" / "m0.py").write_text("written while the guest was away\n")
        assert wait_until(lambda: seen["waits"], timeout=20), "the failed flush was not reported"
        assert "cannot reach" in seen["waits"][0][0] and seen["waits"][0][1] == 1
        own_sshd.start()
        assert wait_until(lambda: (sync_remote / "pkg" / "m0.py").read_text()
                          == "written while the guest was away\n", timeout=30)
    assert seen["summary"].failures >= 1 and seen["summary"].pending == []


def test_watch_excludes_are_rsyncs_own(tmp_path: Path) -> None:
    """The watch decides with the same rules rsync is given (excludes.py), `+` includes of .devenvignore
    included: checked against a real `rsync --dry-run` over the same tree."""
    import shutil as _shutil

    from devenv.host import excludes

    root = tmp_path / "proj"
    files = ["pkg/m.py", "pkg/__pycache__/m.cpython-311.pyc", "a/b.pyc", ".tox/py3/bin/python",
             ".devenv-backup/run/x", "data/blob", "data/keep.txt", "pkg/data/blob", "tox.ini", "big.iso",
             "docs/big.iso", "logs/app.log", "logs/keep/app.log"]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    # rsync's way to keep one file of an excluded folder: include the folder and the file, exclude the rest
    (root / ".devenvignore").write_text("# mine\n+ /data/\n+ /data/keep.txt\n- /data/*\n*.iso\n; old\n- logs/\n")
    matcher = excludes.Matcher(root, ("/tox.ini",))
    ours = {rel for rel in files if not matcher(rel)}
    if _shutil.which("rsync") is None:
        pytest.skip("rsync is not installed (.ci/run installs it)")
    out = subprocess.run(["rsync", "-a", "--dry-run", "--out-format=%n", *excludes.rsync_args(root, ("/tox.ini",)),
                          f"{root}/", str(tmp_path / "dest")], capture_output=True, text=True, check=True).stdout
    theirs = {ln for ln in out.splitlines() if ln and not ln.endswith("/")}
    theirs.discard(".devenvignore")
    assert ours == theirs, (ours ^ theirs)
    assert "data/keep.txt" in ours and "pkg/data/blob" in ours and "data/blob" not in ours


def test_the_vagrantfile_rsync_block_keeps_devenvs_backups(run_cli, tmp_path: Path) -> None:
    """`vagrant rsync` runs with --delete: without /.devenv-backup/ excluded it deleted the conflict copies."""
    from devenv.host import excludes

    res = run_cli("share", "setup", str(tmp_path), "--guest-path", "/opt/stack/x", "--mode", "rsync",
                  "--host-uid", "1500", "--host-gid", "1501", "--guest-uid", "2345", "--guest-gid", "2400")
    assert res.exit_code == 0, res.output
    for pattern in excludes.DEFAULT:
        assert f"'{pattern}'" in res.output


def test_ctrl_c_stops_the_cli_watch_cleanly(sync_project, sync_guest, sync_remote):
    guests.save(sync_project, sync_guest)
    child = subprocess.Popen(  # noqa: S603 - the real CLI, so the real SIGINT path is tested
        [sys.executable, "-m", "devenv", "sync", "--watch", "--project", str(sync_project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any("watching for changes" in ln for ln in lines), timeout=30), lines
        (sync_project / "pkg" / "m1.py").write_text("x = 'from the cli watch'\n")
        assert wait_until(lambda: (sync_remote / "pkg" / "m1.py").read_text() == "x = 'from the cli watch'\n")
        assert wait_until(lambda: any("sent 1, deleted 0" in ln for ln in lines))  # the flush was reported
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader.join(timeout=5)
    err = child.stderr.read()
    out = "".join(lines)
    assert child.returncode == 0, out + err
    assert "stopped after" in out and "1 file(s) sent" in out
    assert "Traceback" not in out + err
