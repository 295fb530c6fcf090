"""Bad input and faults for init/show: one clear message, the right exit code, no traceback, nothing lost."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import localindex
import pytest
from conftest import SAMPLE, small_tmpfs

from devenv import source


def sample(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
    return root


def check_error(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "devenv: error:" in result.output
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output, (w, result.output)


def test_missing_requirements_file(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    (root / "test-requirements.txt").unlink()
    check_error(run_cli("init", str(root), "--no-ide"), 3, "test-requirements.txt", "does not exist")


@pytest.mark.parametrize("name,text,words", [
    ("tox.ini", "[testenv\ndeps = x\n", ["tox.ini", "line 1"]),
    ("tox.ini", "  indented = first\n", ["tox.ini", "line 1"]),
    ("pyproject.toml", "[project\nname = 'x'\n", ["pyproject.toml", "not valid TOML"]),
    ("setup.cfg", "[metadata]\nname\n  = broken\n= x\n", ["setup.cfg"]),
])
def test_malformed_project_files(tmp_path: Path, run_cli, name: str, text: str, words: list[str]) -> None:
    root = sample(tmp_path)
    (root / name).write_text(text)
    check_error(run_cli("show", str(root)), 3, *words)
    check_error(run_cli("init", str(root), "--no-ide"), 3, *words)
    assert not (root / ".venv").exists()


def test_invalid_python_floor(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    text = (root / "pyproject.toml").read_text().replace('requires-python = ">=3.10"', 'requires-python = "three"')
    (root / "pyproject.toml").write_text(text)
    check_error(run_cli("init", str(root), "--no-ide"), 3, "'three'", "not a valid version specifier")


def test_no_suitable_python(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    text = (root / "pyproject.toml").read_text().replace('">=3.10"', '">=3.99"')
    (root / "pyproject.toml").write_text(text)
    r = run_cli("init", str(root), "--no-ide")
    check_error(r, 4, ">=3.99", "found:", "--python")


def test_python_option_below_floor(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    text = (root / "pyproject.toml").read_text().replace('">=3.10"', '">=3.99"')
    (root / "pyproject.toml").write_text(text)
    check_error(run_cli("init", str(root), "--no-ide", "--python", "python3"), 2, "needs >=3.99")


def test_unknown_project_name(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    check_error(run_cli("init", "no-such-project-xyz"), 2, "not a known OpenStack project", "--source")


def test_path_that_is_not_a_project(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    check_error(run_cli("init", str(tmp_path / "empty")), 2, "not a Python project")
    monkeypatch.chdir(tmp_path / "empty")
    check_error(run_cli("show"), 2, "not inside a Python project")


def test_unreachable_constraints_url(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    r = run_cli("init", str(root), "--no-ide", "--constraints", "http://127.0.0.1:9/upper-constraints.txt")
    check_error(r, 5, "cannot download the constraints file", "--constraints FILE")


def test_default_constraints_url_unreachable_says_pass_a_file(tmp_path: Path, run_cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # tox.ini names the published URL; point the proxy at a closed port so it cannot be reached.
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    root = sample(tmp_path)
    tox = root / "tox.ini"
    tox.write_text(tox.read_text().replace("{toxinidir}/upper-constraints.txt",
                                           "https://releases.openstack.org/constraints/upper/master"))
    r = run_cli("init", str(root), "--no-ide")
    check_error(r, 5, "releases.openstack.org", "TOX_CONSTRAINTS_FILE")


@pytest.mark.network
def test_index_unreachable(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    root = sample(tmp_path)
    (root / "upper-constraints.txt").unlink()  # no pins: uv must ask the (unreachable) index
    tox = root / "tox.ini"
    block = "constraints =\n  {env:TOX_CONSTRAINTS_FILE:{toxinidir}/upper-constraints.txt}\n"
    tox.write_text(tox.read_text().replace(block, ""))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    localindex.network_only(monkeypatch)
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_HTTP_TIMEOUT", "5")
    r = run_cli("init", str(root), "--no-ide")
    check_error(r, 5, "package index cannot be reached", "full log", "nothing usable was installed")
    assert not (root / ".venv").exists() and not (root / ".venv.devenv-new").exists()  # no half-made venv


@pytest.mark.network
def test_disk_full(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_tmpfs(tmp_path / "small", "12m") as small:
        root = small / "sample"
        shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
        constraints = small / "uc.txt"
        # one pin, one the local wheelhouse has (upper-constraints', else the sample's own)
        pins = localindex.constraint_files()[0].read_text().splitlines()
        constraints.write_text(next(p for p in pins if p.startswith("eventlet=")) + "\n")
        monkeypatch.setenv("UV_LINK_MODE", "copy")  # copies land on the full disk, as on a real one
        r = run_cli("init", str(root), "--no-ide", "--constraints", str(constraints))
        assert r.exit_code != 0, r.output
        assert "Traceback" not in r.output
        assert "disk is full" in r.output or "No space left" in r.output, r.output


def test_clone_from_local_source_and_known_names(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "upstream"
    shutil.copytree(SAMPLE, repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "initial"], check=True)
    monkeypatch.chdir(tmp_path)
    r = run_cli("init", "mine", "--source", str(repo), "--no-ide", "--constraints", "/nonexistent/uc.txt")
    # the clone happened; the bad constraints path then stops the run with a clear error
    check_error(r, 2, "/nonexistent/uc.txt")
    assert (tmp_path / "mine" / ".git").is_dir() and (tmp_path / "mine" / "tox.ini").is_file()
    assert not list(tmp_path.glob(".mine.devenv-clone-*"))
    bad = run_cli("init", "other", "--source", str(tmp_path / "nope"))
    check_error(bad, 5, "could not clone")
    assert not (tmp_path / "other").exists() and not list(tmp_path.glob(".other.devenv-clone-*"))
    assert source.is_known("nova") and source.is_known("oslo.messaging") and source.is_known("python-novaclient")
    assert source.upstream_url("nova") == "https://opendev.org/openstack/nova"
    assert not source.is_known("left-pad")


def test_state_folder_that_cannot_be_written_is_one_message(tmp_path, monkeypatch) -> None:
    """DEVENV_HOME under a regular file (or read-only): one line naming the folder and the variable."""
    import subprocess
    import sys

    from idefix import copy_sample, fake_venv

    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DEVENV_HOME", str(blocker / "state"))
    for command in ("ide", "refresh"):
        done = subprocess.run([sys.executable, "-m", "devenv", command, str(root)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert f"devenv keeps its state in {blocker / 'state'}" in done.stderr and "DEVENV_HOME" in done.stderr
