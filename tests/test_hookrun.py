"""The git hooks as a contributor meets them: `git checkout` in a real repository with devenv's hooks,
real uv and the sample project. Silent when nothing that matters changed, one line when it did real
work, never holding git longer than the bound, and a background failure said by the next devenv run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_init import SLOW_SETUP, sample, vpy

from devenv.ide import hooks

pytestmark = pytest.mark.network


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def repo_with_branches(tmp_path: Path, run_cli, constraints: str, wait: float = 30.0) -> Path:
    """The sample under git, set up by devenv, with its hooks; branch `spec` changes a specifier the venv
    still meets, branch `six` adds a package."""
    root = sample(tmp_path)
    (root / ".gitignore").write_text(".venv/\n.idea/\n*.egg-info/\n")
    assert git(root, "init", "-q", "-b", "main").returncode == 0
    git(root, "add", "-A")
    assert git(root, "commit", "-qm", "init").returncode == 0
    for branch, old, new in (("spec", "stestr>=3.0.0", "stestr>=3.1.0"),
                             ("six", "Apache-2.0/BSD\n", "Apache-2.0/BSD\nsix\n")):
        git(root, "checkout", "-q", "-b", branch, "main")
        req = root / "test-requirements.txt"
        req.write_text(req.read_text().replace(old, new))
        git(root, "commit", "-qam", branch)
    git(root, "checkout", "-q", "main")
    r = run_cli("init", str(root), "--constraints", constraints)  # the IDE files too
    assert r.exit_code == 0, r.output
    assert "next:" in r.output and "'Unit tests' configuration" in r.output and "tox -e pep8" in r.output
    if not git(root, "config", "user.email").stdout.strip():  # commits here pass their identity with -c
        assert "git has no" in r.output and "git config --global user.email" in r.output
    hooks.install(root, command=[sys.executable, "-m", "devenv"], wait=wait)
    return root


def devenv_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("devenv")]


def test_checkout_is_silent_when_nothing_that_matters_changed_and_says_real_work(
        tmp_path: Path, run_cli, constraints: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOX_CONSTRAINTS_FILE", constraints)
    root = repo_with_branches(tmp_path, run_cli, constraints)
    res = git(root, "checkout", "-q", "spec")
    assert res.returncode == 0 and devenv_lines(res.stderr) == [], res.stderr  # met by the venv: silent
    res = git(root, "checkout", "-q", "six")
    assert res.returncode == 0
    (line,) = devenv_lines(res.stderr)
    assert line.startswith("devenv: synced the venv (") and " in " in line and line.endswith("s"), line
    assert vpy(root, "import six").returncode == 0
    res = git(root, "checkout", "-q", "-")  # back to spec: the venv of before is swapped back in
    (line,) = devenv_lines(res.stderr)
    assert "swapped back the venv built for this state" in line, line
    assert vpy(root, "import six").returncode != 0


def test_background_hook_never_waits_and_a_failure_is_said_by_the_next_run(
        tmp_path: Path, run_cli, constraints: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOX_CONSTRAINTS_FILE", constraints)
    root = repo_with_branches(tmp_path, run_cli, constraints, wait=0)
    assert "--wait 0" in (root / ".git/hooks/post-checkout").read_text()
    git(root, "checkout", "-q", "-b", "broken", "main")
    req = root / "test-requirements.txt"
    req.write_text(req.read_text() + "no-such-package-devenv-test>=1\n")  # not in any index
    git(root, "commit", "-qam", "broken")
    git(root, "checkout", "-q", "main")
    start = time.monotonic()
    res = git(root, "checkout", "-q", "broken")
    assert time.monotonic() - start < 5  # git did not wait for the install
    (line,) = devenv_lines(res.stderr)
    assert "goes on in the background (log: " in line
    log = Path(line.rsplit("(log: ", 1)[1].rstrip(")"))
    deadline = time.monotonic() + 120
    while '"ok": false' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    r = run_cli("refresh", str(root))  # the next devenv command says what nobody saw, once
    assert "the refresh a git hook started at" in r.output and "no-such-package-devenv-test" in r.output
    assert "the refresh a git hook started at" not in run_cli("refresh", str(root)).output


def test_a_long_refresh_holds_git_only_for_the_bound(tmp_path: Path, run_cli, constraints: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOX_CONSTRAINTS_FILE", constraints)
    root = repo_with_branches(tmp_path, run_cli, constraints, wait=2)
    slow = tmp_path / "slow-build"
    slow.mkdir()
    hold, started = slow / "hold", slow / "started"
    hold.touch()
    (slow / "setup.py").write_text(SLOW_SETUP.format(hold=str(hold), started=str(started)))
    git(root, "checkout", "-q", "-b", "slow", "main")
    req = root / "test-requirements.txt"
    req.write_text(req.read_text() + f"slow-build @ {slow.as_uri()}\n")
    git(root, "commit", "-qam", "slow")
    git(root, "checkout", "-q", "main")
    try:
        start = time.monotonic()
        res = git(root, "checkout", "-q", "slow")
        took = time.monotonic() - start
        assert res.returncode == 0
        (line,) = devenv_lines(res.stderr)
        assert "still running after 2 s; it goes on in the background" in line, line
        assert took < 10
    finally:
        hold.unlink()
    deadline = time.monotonic() + 120  # the refresh finishes on its own
    while vpy(root, "import importlib.metadata as m; m.version('slow-build')").returncode != 0:
        assert time.monotonic() < deadline, "the background refresh never finished"
        time.sleep(0.5)
