"""Git identity: reported with the commands that set it, never set by devenv (real git, isolated HOME)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devenv import gitidentity


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")  # only the test's HOME counts, not /etc/gitconfig
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = proj\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def config(root: Path) -> str:
    return subprocess.run(["git", "-C", str(root), "config", "--list", "--show-origin"], capture_output=True,
                          text=True).stdout


def test_missing_identity_is_said_with_the_commands_and_left_alone(repo: Path, run_cli) -> None:
    before = config(repo)
    assert gitidentity.missing(repo) == ["user.name", "user.email"]
    r = run_cli("doctor", str(repo))
    assert "git.identity" in r.output and "git has no user.name and no user.email" in r.output
    assert 'git config --global user.name "Your Name"' in r.output
    assert "git config --global user.email you@example.com" in r.output
    assert config(repo) == before  # devenv never sets who the contributor is


def test_identity_from_any_level_counts(repo: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "me@example.com"], check=True)
    assert gitidentity.missing(repo) == ["user.name"]
    subprocess.run(["git", "config", "--global", "user.name", "Me"], check=True)  # HOME is the test's
    assert gitidentity.missing(repo) == []
    assert gitidentity.finding(repo).status == "ok"


def test_outside_git_nothing_is_said(tmp_path: Path) -> None:
    assert gitidentity.missing(tmp_path) == []
