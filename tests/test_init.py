"""`devenv init` end to end with the real virtualenv, uv/pip and the package index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE

from devenv import lock, paths

pytestmark = pytest.mark.network


def sample(tmp_path: Path, name: str = "sample-service") -> Path:
    root = tmp_path / name
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info", "__pycache__"))
    return root


def vpy(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(root / ".venv" / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          timeout=120, cwd="/")


def init(run_cli, root: Path, constraints: str, *extra: str):
    return run_cli("init", str(root), "--no-ide", "--constraints", constraints, *extra)


def logs(root: Path) -> list[Path]:
    folder = paths.project_state(root) / "logs"
    return sorted(folder.glob("install-*.log")) if folder.exists() else []


def test_init_builds_a_working_venv_then_noop(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    r = init(run_cli, root, constraints)
    assert r.exit_code == 0, r.output
    for phase in ("python", "constraints", "venv", "install", "check"):
        assert f"  {phase}" in r.output
    probe = vpy(root, "import sample_service, eventlet, stestr, fixtures, importlib.metadata as m;"
                      "print(eventlet.__version__, m.version('sample-service'))")
    assert probe.returncode == 0, probe.stderr
    pinned = [ln.split("===")[1] for ln in Path(constraints).read_text().splitlines() if ln.startswith("eventlet===")]
    eventlet_version, own_version = probe.stdout.split()
    assert [eventlet_version] == pinned  # installed under the constraints
    assert own_version == "0.0.1.dev0"  # pbr project with no .git: PBR_VERSION was set
    editable = vpy(root, "import sample_service; print(sample_service.__file__)")
    assert editable.stdout.strip() == str(root / "sample_service" / "__init__.py")  # usedevelop: editable
    assert json.loads((root / ".venv" / "devenv-fingerprint.json").read_text())["python"]

    before = logs(root)
    site = next((root / ".venv" / "lib").glob("python3*/site-packages"))
    mtime = site.stat().st_mtime_ns
    r2 = init(run_cli, root, constraints)
    assert r2.exit_code == 0, r2.output
    assert "up to date" in r2.output
    assert logs(root) == before  # no installer call at all
    assert site.stat().st_mtime_ns == mtime


def test_pip_additions_in_place_removals_rebuild(tmp_path: Path, run_cli, constraints: str) -> None:
    """pip has no exact sync (uv's path: test_refresh.py): additions in place, removals rebuild."""
    root = sample(tmp_path)
    assert init(run_cli, root, constraints, "--installer", "pip").exit_code == 0
    inode = (root / ".venv").stat().st_ino
    req = root / "test-requirements.txt"
    req.write_text(req.read_text() + "six\n")
    r = init(run_cli, root, constraints, "-v", "--installer", "pip")
    assert r.exit_code == 0, r.output
    assert "in place" in r.output
    assert (root / ".venv").stat().st_ino == inode  # same venv, not rebuilt
    assert vpy(root, "import six").returncode == 0

    req.write_text(req.read_text().replace("fixtures>=3.0.0 # Apache-2.0/BSD\n", "").replace("six\n", ""))
    r = init(run_cli, root, constraints, "-v", "--installer", "pip")
    assert r.exit_code == 0, r.output
    assert "rebuild" in r.output
    assert (root / ".venv").stat().st_ino != inode  # a new venv was swapped in
    assert vpy(root, "import six").returncode != 0  # removed packages are really gone
    assert not list(tmp_path.glob("sample-service/.venv.devenv-*"))
    # the swapped venv's scripts point at .venv, not at the folder it was built in
    stestr = subprocess.run([str(root / ".venv" / "bin" / "stestr"), "--version"], capture_output=True, text=True,
                            timeout=60)
    assert stestr.returncode == 0, stestr.stderr
    assert str(root / ".venv" / "bin" / "python") in (root / ".venv" / "bin" / "stestr").read_text().splitlines()[0]


def test_failed_rebuild_keeps_previous_venv_and_log(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    broken = tmp_path / "brokenpkg"
    broken.mkdir()
    (broken / "setup.py").write_text("raise SystemExit('brokenpkg: this package cannot be built')\n")
    req = root / "test-requirements.txt"
    req.write_text(req.read_text().replace("fixtures>=3.0.0 # Apache-2.0/BSD\n", "")
                   + f"brokenpkg @ file://{broken}\n")
    if shutil.which("dpkg-query"):  # a failed build names what bindep.txt says is missing
        (root / "bindep.txt").write_text("devenv-no-such-dev-package [platform:dpkg]\n")
    r = init(run_cli, root, constraints)
    assert r.exit_code == 6, r.output
    assert "brokenpkg" in r.output and "failed to build" in r.output and "previous venv was kept" in r.output
    if shutil.which("dpkg-query"):
        assert "lacks system packages bindep.txt lists: sudo apt-get install -y devenv-no-such-dev-package" in r.output
    assert "Traceback" not in r.output
    log = logs(root)[-1]
    assert "brokenpkg" in log.read_text()
    assert str(log) in r.output
    assert vpy(root, "import fixtures, sample_service").returncode == 0  # the old venv still works
    assert not (root / ".venv.devenv-new").exists()


SLOW_SETUP = """\
import os, time
from setuptools import setup
if os.path.exists({hold!r}):  # held: say so, then wait until the test lets go (bounded)
    open({started!r}, "w").close()
    end = time.time() + 120
    while os.path.exists({hold!r}) and time.time() < end:
        time.sleep(0.05)
setup(name="slow-build", version="1.0", py_modules=[])
"""


def start_rebuild(root: Path, constraints: str, in_virtualenv: bool = False,
                  installer: str = "uv") -> subprocess.Popen[str]:
    """Make a change that forces a rebuild, start devenv in its own process group, and return while the
    installer is surely busy: a local package in the new requirements whose build waits until the test
    removes its hold file (which `release(root)` does), so a fast index cannot finish the run first.
    in_virtualenv: return as soon as the new venv has its python, while virtualenv still seeds pip (with
    pip, which has no exact sync, a removal makes a new venv; uv applies it to a copy of the venv)."""
    assert init_ok(root, constraints)
    slow = root.parent / f"{root.name}-slow-build"  # its processes name root's path (see _children_of)
    slow.mkdir()
    hold, started = slow / "hold", slow / "started"
    hold.touch()
    (slow / "setup.py").write_text(SLOW_SETUP.format(hold=str(hold), started=str(started)))
    req = root / "test-requirements.txt"
    req.write_text(req.read_text().replace("fixtures>=3.0.0 # Apache-2.0/BSD\n", "")
                   + f"six\nslow-build @ {slow.as_uri()}\n")
    proc = subprocess.Popen([sys.executable, "-m", "devenv", "init", str(root), "--no-ide", "--installer", installer,
                             "--constraints", constraints], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    busy = (root / ".venv.devenv-new" / "bin" / "python") if in_virtualenv else started
    deadline = time.monotonic() + 120
    while not busy.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"devenv finished or stalled before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    return proc


def release(root: Path) -> None:
    (root.parent / f"{root.name}-slow-build" / "hold").unlink(missing_ok=True)


def init_ok(root: Path, constraints: str) -> bool:
    return subprocess.run([sys.executable, "-m", "devenv", "init", str(root), "--no-ide", "-q", "--constraints",
                           constraints], capture_output=True, timeout=600).returncode == 0


def test_killed_mid_rebuild_leaves_old_venv_and_next_run_recovers(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    proc = start_rebuild(root, constraints)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    release(root)
    assert vpy(root, "import fixtures, sample_service").returncode == 0  # previous venv untouched
    r = init(run_cli, root, constraints, "-v")
    assert r.exit_code == 0, r.output
    assert vpy(root, "import six, sample_service").returncode == 0
    assert not (root / ".venv.devenv-new").exists()


def test_ctrl_c_mid_rebuild_cleans_up_and_keeps_old_venv(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    proc = start_rebuild(root, constraints)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
    out, _ = proc.communicate(timeout=60)
    release(root)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    assert not (root / ".venv.devenv-new").exists()  # the half-built venv is gone
    assert vpy(root, "import fixtures, sample_service").returncode == 0  # the previous one still works


def _children_of(root: Path) -> list[int]:
    """Processes still working on this project (pip, uv, the build backend): they name its path."""
    from guestfix import processes_mentioning

    return [p for p in processes_mentioning(str(root)) if p != os.getpid()]


@pytest.mark.parametrize("sig, code, in_virtualenv", [(signal.SIGTERM, 143, False), (signal.SIGHUP, 129, False),
                                                     (signal.SIGTERM, 143, True)],
                         ids=["term", "hup", "term-in-virtualenv"])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(tmp_path: Path, run_cli, constraints: str, sig, code,
                                                 in_virtualenv) -> None:
    """Sent to devenv alone (`kill PID`, a closed terminal): its installer must not outlive it, and the
    half-made venv goes, also when the signal comes while virtualenv is still making it."""
    root = sample(tmp_path)
    proc = start_rebuild(root, constraints, in_virtualenv, "pip" if in_virtualenv else "uv")
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, out
    assert "interrupted" in out and "Traceback" not in out
    assert not (root / ".venv.devenv-new").exists()
    assert vpy(root, "import fixtures, sample_service").returncode == 0
    deadline = time.monotonic() + 10
    while _children_of(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _children_of(root)
    release(root)  # only now: a build left running would otherwise finish and hide itself
    assert left == []


def test_kill_9_of_devenv_takes_a_silent_child_with_it(tmp_path: Path) -> None:
    """A child that writes nothing (a slow rsync, a resolver) does not die of a broken pipe: it used to
    outlive a `kill -9` of devenv, in a session of its own. proc's children now die with devenv."""
    marker = f"devenv-orphan-probe-{os.getpid()}"
    code = ("import sys; from devenv import proc; "
            f"proc.run([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'], timeout=600)")
    parent = subprocess.Popen([sys.executable, "-c", code])
    from guestfix import processes_mentioning

    def child() -> list[int]:
        return [p for p in processes_mentioning(marker) if p != parent.pid]

    deadline = time.monotonic() + 30
    while not child() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child(), "the child never started"
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while child() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = child()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_interrupted_swap_is_finished_by_next_run(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    # Simulate a kill between the two renames of a swap: .venv moved aside, nothing in its place.
    os.replace(root / ".venv", root / ".venv.devenv-old")
    r = init(run_cli, root, constraints)
    assert r.exit_code == 0, r.output
    assert "restored the previous venv" in r.output
    assert "up to date" in r.output
    assert vpy(root, "import sample_service").returncode == 0


def test_pip_installer(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    r = init(run_cli, root, constraints, "--installer", "pip", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["venv"]["installer"] == "pip" and summary["venv"]["action"] == "create"
    assert [p["phase"] for p in summary["phases"]][:3] == ["source", "project", "python"]
    assert vpy(root, "import sample_service, stestr").returncode == 0


def test_second_run_waits_for_lock_and_names_holder(tmp_path: Path, run_cli, constraints: str) -> None:
    root = sample(tmp_path)
    with lock.project_lock(paths.project_state(root) / "lock", 1):
        r = init(run_cli, root, constraints, "--lock-timeout", "0.3")
    assert r.exit_code == 7
    assert f"pid {os.getpid()}" in r.output and "another devenv run" in r.output


def test_other_python_rebuilds(tmp_path: Path, run_cli, constraints: str) -> None:
    here = "{}.{}".format(*sys.version_info[:2])
    found = {}
    for exe in [*Path(sys.base_prefix).parent.glob("*/bin/python3"), *map(Path, filter(None, map(shutil.which, (
            "python3.10", "python3.12", "python3.13"))))]:
        r = subprocess.run([str(exe), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True)
        v = r.stdout.strip()
        if r.returncode == 0 and v != here and tuple(map(int, v.split("."))) >= (3, 10):
            found.setdefault(v, str(exe))
    if not found:
        pytest.skip("only one Python >= 3.10 is installed")
    # the next newer one: upper-constraints moves its own floor up over time
    newer = sorted((v for v in found if tuple(map(int, v.split("."))) > sys.version_info[:2]),
                   key=lambda v: tuple(map(int, v.split("."))))
    version = newer[0] if newer else sorted(found)[-1]
    exe = found[version]
    root = sample(tmp_path)
    assert init(run_cli, root, constraints).exit_code == 0
    r = init(run_cli, root, constraints, "--python", exe, "-v")
    assert r.exit_code == 0, r.output
    assert "Python changed" in r.output
    assert vpy(root, "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip() == version


def test_odd_path_leading_dash_spaces_quotes_unicode(tmp_path: Path, run_cli, constraints: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = sample(tmp_path, "-odd 'dir' \"ünï\" $x")
    monkeypatch.chdir(tmp_path)
    r = run_cli("init", "--no-ide", "--constraints", constraints, "--", root.name)
    assert r.exit_code == 0, r.output
    assert vpy(root, "import sample_service").returncode == 0


def test_system_packages_missing_are_reported_not_installed(tmp_path: Path, run_cli, constraints: str) -> None:
    if not shutil.which("dpkg-query"):
        pytest.skip("needs a dpkg system to check packages")
    root = sample(tmp_path)
    (root / "bindep.txt").write_text("devenv-no-such-package [platform:dpkg]\ngit\n")
    r = init(run_cli, root, constraints)
    assert r.exit_code == 0, r.output
    assert "devenv-no-such-package" in r.output
    assert "apt-get install -y devenv-no-such-package" in r.output


def test_installer_warnings_are_said(tmp_path: Path, run_cli, constraints: str) -> None:
    """uv's own warning (an extra the package does not have) reaches the user, not only the log."""
    root = sample(tmp_path)
    req = root / "test-requirements.txt"
    req.write_text(req.read_text() + "six[no-such-extra]\n")
    r = init(run_cli, root, constraints)
    assert r.exit_code == 0, r.output
    assert "warning: uv:" in r.output.lower() and "no-such-extra" in r.output, r.output


def test_installer_warning_lines_are_picked_from_both_installers() -> None:
    from devenv import installer

    out = ("Resolved 3 packages\nwarning: The package `six==1.17.0` does not have an extra named `x`\n"
           "WARNING: Running pip as the 'root' user can result in broken permissions\n"
           "DEPRECATION: Building 'legacy' using the legacy setup.py bdist_wheel mechanism\n"
           "warning: The package `six==1.17.0` does not have an extra named `x`\n")
    assert installer.warnings(out) == ["The package `six==1.17.0` does not have an extra named `x`",
                                       "Building 'legacy' using the legacy setup.py bdist_wheel mechanism"]
