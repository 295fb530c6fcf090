"""The contributor-setup checks doctor reports (real git; nothing here changes the repository)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devenv import onboarding


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "nova"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = nova\n")
    (root / ".gitreview").write_text("[gerrit]\nhost=review.opendev.org\nport=29418\nproject=openstack/nova.git\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def git_section(run_cli, root: Path) -> dict[str, dict]:
    r = run_cli("doctor", str(root), "--json")
    (section,) = [s for s in json.loads(r.output)["sections"] if s["title"] == "git"]
    return {f["check"]: f for f in section["findings"]}


def test_each_step_missing_is_a_warning_with_its_fix(repo: Path, run_cli) -> None:
    found = git_section(run_cli, repo)
    assert found["git.hooks"]["status"] == "warn" and found["git.hooks"]["fix"] == f"devenv hooks install {repo}"
    assert found["gerrit.remote"]["status"] == "warn"
    assert "review.opendev.org/openstack/nova.git" in found["gerrit.remote"]["message"]
    assert found["gerrit.remote"]["fix"].startswith("git review -s")
    assert found["gerrit.commit-msg"]["status"] == "warn"


def test_each_step_done_is_ok(repo: Path, run_cli) -> None:
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "remote", "add", "gerrit", "ssh://me@review.opendev.org:29418/openstack/nova.git"],
                   check=True)
    hook = repo / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\n# adds a Change-Id line, as Gerrit's hook does\n")
    hook.chmod(0o755)
    assert run_cli("hooks", "install", str(repo)).exit_code == 0
    found = git_section(run_cli, repo)
    assert [found[c]["status"] for c in ("git.hooks", "gerrit.remote", "gerrit.commit-msg")] == ["ok"] * 3


def test_a_malformed_gitreview_is_said(repo: Path, run_cli) -> None:
    (repo / ".gitreview").write_text("host = nowhere\n")  # no [gerrit] section
    assert onboarding.gitreview(repo) is None
    assert git_section(run_cli, repo)["gerrit.gitreview"]["status"] == "warn"
