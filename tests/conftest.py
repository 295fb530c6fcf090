"""Shared fixtures. Every root devenv writes to is redirected into tmp_path, for every test."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import localindex
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample-service"
UPPER_CONSTRAINTS = REPO.parent / "shared" / "data" / "upper-constraints.txt"

# Helpers' fixture modules (guest machine, etc.) register here.
pytest_plugins: list[str] = ["guestfix", "idefix", "syncfix", "devstackfix"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, tools_venv) -> Path:
    """Never touch the real $HOME, state folder or JetBrains config. (devenv's tools venv is built first, so
    that every test sees the same setup: with it, init writes the Tox configurations.)"""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(base))
    monkeypatch.setenv("DEVENV_HOME", str(base / "devenv-state"))
    monkeypatch.setenv("DEVENV_JETBRAINS_HOME", str(base / "JetBrains"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / ".cache"))
    # uv and pip caches stay shared across tests (speed), but never in the real home.
    monkeypatch.setenv("UV_CACHE_DIR", os.environ.get("DEVENV_TEST_UV_CACHE", "/tmp/devenv-test-uv-cache"))
    monkeypatch.setenv("PIP_CACHE_DIR", os.environ.get("DEVENV_TEST_PIP_CACHE", "/tmp/devenv-test-pip-cache"))
    # devenv's tools venv (tox, pre-commit, git-review) is built once and shared by the tests, like the
    # caches; the tests about building it point DEVENV_TOOLS_HOME at their own folder.
    monkeypatch.setenv("DEVENV_TOOLS_HOME", os.environ.get("DEVENV_TEST_TOOLS", TOOLS_HOME))
    monkeypatch.delenv("TOX_CONSTRAINTS_FILE", raising=False)
    # the host rsync is the one on PATH unless a test says otherwise: never a Homebrew-style folder this machine
    # happens to have (devenv/host/rsyncflavour.py looks there first)
    monkeypatch.setenv("DEVENV_RSYNC_CANDIDATES", "")
    monkeypatch.delenv("DEVENV_RSYNC", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    if WHEELHOUSE is not None:  # installs come from the local folder, never the network
        for name, value in localindex.env(WHEELHOUSE).items():
            monkeypatch.setenv(name, value)
        for name in localindex.CLEARED:
            monkeypatch.delenv(name, raising=False)
    return base


WHEELHOUSE = localindex.ready()
TOOLS_HOME = f"/tmp/devenv-test-tools-{localindex.folder().name.rsplit('-', 1)[-1]}"


def pytest_report_header() -> str:
    if WHEELHOUSE is None:
        return "package index: the network's (no local wheelhouse: python tests/localindex.py build)"
    return f"package index: the local wheelhouse {WHEELHOUSE} (no network)"


@pytest.fixture
def constraints() -> str:
    # OpenStack's real upper-constraints when shared/ is beside the checkout; else the sample's subset of it.
    return str(UPPER_CONSTRAINTS if UPPER_CONSTRAINTS.is_file() else SAMPLE / "upper-constraints.txt")


@pytest.fixture
def run_cli():
    """Run the real CLI in-process; returns click's Result (exit_code, output, stderr)."""
    from click.testing import CliRunner

    from devenv.cli import main

    def _run(*args: str, **kw):
        runner = CliRunner()
        return runner.invoke(main, list(args), catch_exceptions=False, **kw)

    return _run


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` for a disk-full test (skips without root or mount)."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)])


@pytest.fixture(scope="session")
def tools_venv():
    """devenv's tools venv (tox, pre-commit, git-review), built once for the session into the shared
    DEVENV_TOOLS_HOME (devenv/tools.py; installs from the local wheelhouse)."""
    import sys

    from devenv import tools

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEVENV_TOOLS_HOME", os.environ.get("DEVENV_TEST_TOOLS", TOOLS_HOME))
        for name, value in localindex.environ(dict(os.environ)).items():
            mp.setenv(name, value)
        mp.setenv("DEVENV_HOME", f"{TOOLS_HOME}-state")
        return tools.ensure(Path(sys.executable), f"{sys.version_info[0]}.{sys.version_info[1]}")
