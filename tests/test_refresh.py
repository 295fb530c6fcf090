"""Branch switches: a change the venv already satisfies costs no installer call, a real change is one
exact uv sync on a hard-linked copy, and going back to a state built before is a rename. Real uv,
virtualenv and the sample project (from the local wheelhouse, tests/localindex.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import small_tmpfs
from test_init import SLOW_SETUP, init, init_ok, logs, sample, vpy

from devenv import venvstore

pytestmark = pytest.mark.network


def site(root: Path) -> Path:
    return next((root / ".venv" / "lib").glob("python3*/site-packages"))


def edit(root: Path, old: str, new: str) -> None:
    req = root / "test-requirements.txt"
    text = req.read_text()
    assert old in text
    req.write_text(text.replace(old, new))


def test_a_specifier_the_venv_still_meets_costs_no_installer_call(tmp_path: Path, run_cli, constraints) -> None:
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    before, inode, mtime = logs(root), (root / ".venv").stat().st_ino, site(root).stat().st_mtime_ns
    edit(root, "stestr>=3.0.0", "stestr>=3.1.0")  # the pinned stestr (4.x) meets both
    r = init(run_cli, root, constraints)
    assert r.exit_code == 0, r.output
    assert "up to date: the installed packages satisfy the change" in r.output
    assert logs(root) == before  # no installer ran
    assert (root / ".venv").stat().st_ino == inode and site(root).stat().st_mtime_ns == mtime
    again = init(run_cli, root, constraints)
    assert "venv           up to date (" in again.output  # the new state was recorded: now a plain no-op


def test_real_changes_are_one_exact_sync_and_going_back_is_a_rename(tmp_path: Path, run_cli, constraints) -> None:
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    first = (root / ".venv").stat().st_ino
    edit(root, "fixtures>=3.0.0", "fixtures>=3.0.0\nsix")
    r = init(run_cli, root, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert "one exact sync" in r.output and "copy (hard links)" in r.output
    assert vpy(root, "import six, sample_service").returncode == 0
    with_six = (root / ".venv").stat().st_ino
    assert with_six != first  # built beside, swapped in
    assert len(list(venvstore.folder(root).iterdir())) == 1  # the venv it replaced is kept
    stestr = subprocess.run([str(root / ".venv" / "bin" / "stestr"), "--version"], capture_output=True,
                            text=True, timeout=60)
    assert stestr.returncode == 0, stestr.stderr  # scripts of the copy name .venv, not the -new folder

    edit(root, "fixtures>=3.0.0\nsix", "fixtures>=3.0.0")  # `git checkout -`
    r = init(run_cli, root, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert "restored" in r.output
    assert (root / ".venv").stat().st_ino == first  # the very venv of before, renamed back
    assert vpy(root, "import six").returncode != 0 and vpy(root, "import sample_service").returncode == 0

    edit(root, "fixtures>=3.0.0", "fixtures>=3.0.0\nsix")  # and forward again
    r = init(run_cli, root, constraints)
    assert "restored" in r.output and (root / ".venv").stat().st_ino == with_six

    edit(root, "fixtures>=3.0.0\nsix", "fixtures>=3.0.0\niso8601")  # a third state: six goes, exactly
    r = init(run_cli, root, constraints, "-v")
    assert "one exact sync" in r.output, r.output
    assert vpy(root, "import iso8601").returncode == 0
    assert vpy(root, "import six").returncode != 0  # removed: nothing else needs six
    assert not list(root.parent.glob(".venv.devenv-*")) and not list(root.glob(".venv.devenv-*"))


def test_kept_venvs_are_bounded(tmp_path: Path, run_cli, constraints, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVENV_KEEP_VENVS", "1")
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    for extra in ("six", "iso8601", "pbr"):
        edit(root, "Apache-2.0/BSD\n", f"Apache-2.0/BSD\n{extra}\n")
        assert init(run_cli, root, constraints).exit_code == 0
        edit(root, f"Apache-2.0/BSD\n{extra}\n", "Apache-2.0/BSD\n")
    assert len(list(venvstore.folder(root).iterdir())) == 1  # kept, and no more than the bound


def test_a_killed_sync_leaves_the_venv_in_use_and_the_next_run_recovers(tmp_path: Path, run_cli,
                                                                         constraints) -> None:
    root = sample(tmp_path)
    assert init_ok(root, constraints)
    inode = (root / ".venv").stat().st_ino
    slow = tmp_path / "slow-build"
    slow.mkdir()
    hold, started = slow / "hold", slow / "started"
    hold.touch()
    (slow / "setup.py").write_text(SLOW_SETUP.format(hold=str(hold), started=str(started)))
    edit(root, "fixtures>=3.0.0", f"fixtures>=3.0.0\nslow-build @ {slow.as_uri()}")
    proc = subprocess.Popen([sys.executable, "-m", "devenv", "init", str(root), "--no-ide", "--constraints",
                             constraints], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    assert (root / ".venv.devenv-new").is_dir()  # the sync works on the copy ...
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    hold.unlink()
    assert (root / ".venv").stat().st_ino == inode  # ... so the venv in use never changed
    assert vpy(root, "import fixtures, sample_service").returncode == 0
    assert vpy(root, "import slow_build").returncode != 0
    r = init(run_cli, root, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert not (root / ".venv.devenv-new").exists()
    assert vpy(root, "import importlib.metadata as m; print(m.version('slow-build'))").stdout.strip() == "1.0"


def test_a_second_worktree_gets_its_venv_by_a_copy(tmp_path: Path, run_cli, constraints) -> None:
    root = sample(tmp_path)
    gitc = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(root)]
    (root / ".gitignore").write_text(".venv/\n.idea/\n*.egg-info/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run([*gitc, *args], check=True, capture_output=True, timeout=60)
    assert init(run_cli, root, constraints).exit_code == 0
    review = tmp_path / "sample-review"
    subprocess.run([*gitc, "worktree", "add", "-q", str(review)], check=True, capture_output=True, timeout=60)
    before = logs(review)
    r = init(run_cli, review, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert f"copied from the worktree {root}" in r.output
    assert logs(review) == before  # no installer ran
    where = vpy(review, "import sample_service; print(sample_service.__file__)")
    assert where.stdout.strip() == str(review / "sample_service" / "__init__.py")  # this tree, not the other
    stestr = subprocess.run([str(review / ".venv" / "bin" / "stestr"), "--version"], capture_output=True,
                            text=True, timeout=60)
    assert stestr.returncode == 0, stestr.stderr
    assert str(review / ".venv" / "bin" / "python") in (review / ".venv" / "bin" / "stestr").read_text()
    # the first checkout's venv is untouched by the copy
    assert vpy(root, "import sample_service; print(sample_service.__file__)").stdout.strip() == \
        str(root / "sample_service" / "__init__.py")
    # a worktree with other requirements is built as usual
    other = tmp_path / "sample-other"
    subprocess.run([*gitc, "worktree", "add", "-q", str(other)], check=True, capture_output=True, timeout=60)
    edit(other, "Apache-2.0/BSD\n", "Apache-2.0/BSD\nsix\n")
    r = init(run_cli, other, constraints)
    assert r.exit_code == 0 and "copied from the worktree" not in r.output
    assert vpy(other, "import six").returncode == 0


def test_no_room_for_the_copy_is_said_and_the_venv_in_use_stays(tmp_path: Path, run_cli, constraints) -> None:
    """A full file system (here: out of inodes, what a hard-linked copy needs) while copying the venv."""
    with small_tmpfs(tmp_path / "small", "400m") as small:
        root = sample(small)
        assert init(run_cli, root, constraints).exit_code == 0
        used = int(subprocess.run(["df", "--output=iused", str(small)], capture_output=True, text=True,
                                  check=True).stdout.split()[-1])
        # room for a few hundred more inodes: far fewer than the copy's folders and files
        subprocess.run(["mount", "-o", f"remount,nr_inodes={used + 300}", str(small)], check=True)
        edit(root, "Apache-2.0/BSD\n", "Apache-2.0/BSD\nsix\n")
        r = init(run_cli, root, constraints)
        assert r.exit_code == 6, r.output
        assert "cannot copy the venv" in r.output and "No space left on device" in r.output, r.output
        assert "Traceback" not in r.output
        assert not (root / ".venv.devenv-new").exists()
        assert vpy(root, "import sample_service, fixtures").returncode == 0


def test_a_change_that_cannot_be_installed_keeps_the_venv(tmp_path: Path, run_cli, constraints) -> None:
    """An old branch's requirement the constraints (or the index) cannot give: one message, exit 6, the
    venv in use unchanged, no copy left behind."""
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    inode = (root / ".venv").stat().st_ino
    edit(root, "stestr>=3.0.0", "stestr<2")  # upper-constraints pins stestr 4.x
    r = init(run_cli, root, constraints)
    assert r.exit_code == 6, r.output
    assert "cannot be installed together" in r.output and "the previous venv was kept" in r.output
    assert "Traceback" not in r.output
    assert (root / ".venv").stat().st_ino == inode and not (root / ".venv.devenv-new").exists()
    assert vpy(root, "import sample_service, stestr").returncode == 0


def test_a_line_added_to_requirements_txt_is_installed(tmp_path: Path, run_cli, constraints) -> None:
    """The sample's tox deps do not name requirements.txt (pbr reads it): its lines reach the venv only
    through the project's metadata, which is stale after the edit. Asked for the project by name, uv followed
    that copy: the line was never installed, yet the state was recorded as done (every later run a no-op)."""
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    assert vpy(root, "import six").returncode != 0
    req = root / "requirements.txt"
    req.write_text(req.read_text() + "six>=1.10.0\n")
    r = init(run_cli, root, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert "one exact sync" in r.output and "every requirement met" in r.output
    assert vpy(root, "import six").returncode == 0
