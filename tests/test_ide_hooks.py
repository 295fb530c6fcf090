"""git hooks: chained with foreign hooks, restored on uninstall, and fired by real git operations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from idefix import UPPER_CONSTRAINTS, configs, copy_sample

from devenv.ide import hooks

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
FOREIGN = '#!/bin/sh\necho "$0 $*" >> "$(git rev-parse --show-toplevel)/../foreign.log"\nexit {code}\n'


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["git", *GIT_ID, "-C", str(repo), *args], capture_output=True, text=True, timeout=300,
                         env=env)
    assert res.returncode == 0, f"git {args}: {res.stdout}{res.stderr}"
    return res


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("x\n")
    git(path, "add", "README")
    git(path, "commit", "-qm", "init")
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def test_install_chains_foreign_hook_and_uninstall_restores_it(tmp_path: Path, run_cli) -> None:
    repo = new_repo(tmp_path / "repo")
    folder = repo / ".git/hooks"
    foreign = folder / "post-merge"
    foreign.write_text(FOREIGN.format(code=0))
    foreign.chmod(0o750)
    before = snapshot(folder)
    result = run_cli("hooks", "install", str(repo))
    assert result.exit_code == 0, result.output
    assert "chain" in result.output
    for name in hooks.HOOKS:
        text = (folder / name).read_text()
        assert hooks.MARKER in text and "refresh --hook --wait 30" in text
        assert os.access(folder / name, os.X_OK)
    aside = folder / "post-merge.devenv-chained"
    assert (aside.read_bytes(), aside.stat().st_mode) == before["post-merge"]
    after_first = snapshot(folder)
    assert run_cli("hooks", "install", str(repo)).exit_code == 0  # idempotent: nothing chained twice
    assert snapshot(folder) == after_first
    assert not (folder / "post-merge.devenv-chained.devenv-chained").exists()
    result = run_cli("hooks", "uninstall", str(repo))
    assert result.exit_code == 0, result.output
    assert snapshot(folder) == before  # exactly as it was


def test_core_hooks_path_is_respected(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    git(repo, "config", "core.hooksPath", "my hooks")
    hooks.install(repo)
    assert (repo / "my hooks/post-checkout").is_file()
    assert not (repo / ".git/hooks/post-checkout").exists()
    assert hooks.installed(repo) == {h: True for h in hooks.HOOKS}


def test_not_a_repository_is_a_usage_error(tmp_path: Path, run_cli) -> None:
    result = run_cli("hooks", "install", str(tmp_path))
    assert result.exit_code == 2 and "not inside a git repository" in result.output


@pytest.mark.parametrize("code", [0, 3])
def test_hook_returns_the_chained_hooks_status(tmp_path: Path, code: int) -> None:
    repo = new_repo(tmp_path / "repo")
    # a foreign hook that reads git's stdin (the rewritten commits) and fails with `code`
    (repo / ".git/hooks/post-rewrite").write_text(
        '#!/bin/sh\ncat > "$(git rev-parse --show-toplevel)/../stdin.txt"\nexit ' + str(code) + "\n")
    (repo / ".git/hooks/post-rewrite").chmod(0o755)
    hooks.install(repo, command=[sys.executable, "-c", "import sys; sys.exit(5)"])  # a failing refresh
    res = subprocess.run(["sh", str(repo / ".git/hooks/post-rewrite"), "rebase"], input="a b\nc d\n",
                         cwd=repo, capture_output=True, text=True, timeout=60)
    assert res.returncode == code  # the chained hook's status; a devenv that cannot run only warns
    assert "devenv could not run" in res.stderr
    assert (tmp_path / "stdin.txt").read_text() == "a b\nc d\n"


@pytest.mark.slow
def test_git_operations_refresh_the_ide_setup(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream changes tox.ini; merge, checkout and rebase in the clone each bring .idea up to date."""
    if UPPER_CONSTRAINTS.is_file():
        monkeypatch.setenv("TOX_CONSTRAINTS_FILE", str(UPPER_CONSTRAINTS))
    monkeypatch.setenv("PBR_VERSION", "0.1.0")
    (Path(os.environ["DEVENV_JETBRAINS_HOME"]) / "PyCharm2024.1").mkdir(parents=True)
    upstream = copy_sample(tmp_path / "upstream")
    git(upstream, "init", "-q", "-b", "main")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "init")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True, timeout=120)
    result = run_cli("init", str(clone), "-q")
    assert result.exit_code == 0, result.output
    (clone / ".git/hooks/post-merge").write_text(FOREIGN.format(code=0))
    (clone / ".git/hooks/post-merge").chmod(0o755)
    assert run_cli("hooks", "install", str(clone)).exit_code == 0

    def timeout_in_clone() -> str:
        return configs(clone)["Unit tests"]["envs"]["OS_TEST_TIMEOUT"]

    def upstream_timeout(value: str, branch: str = "main") -> None:
        tox = upstream / "tox.ini"
        tox.write_text(tox.read_text().replace(f"OS_TEST_TIMEOUT={timeout_in_tox(upstream)}",
                                               f"OS_TEST_TIMEOUT={value}"))
        git(upstream, "commit", "-qam", f"timeout {value}")

    assert timeout_in_clone() == "60"
    upstream_timeout("61")
    git(clone, "pull", "-q", "--no-rebase", "origin", "main")  # post-merge
    assert timeout_in_clone() == "61"
    assert "post-merge" in (tmp_path / "foreign.log").read_text()  # the chained hook ran too

    git(upstream, "checkout", "-q", "-b", "feature")
    upstream_timeout("62")
    git(upstream, "checkout", "-q", "main")
    git(clone, "fetch", "-q", "origin")
    git(clone, "checkout", "-q", "-b", "feature", "origin/feature")  # post-checkout
    assert timeout_in_clone() == "62"
    git(clone, "checkout", "-q", "main")
    assert timeout_in_clone() == "61"

    (clone / "NOTES").write_text("local work\n")
    git(clone, "add", "NOTES")
    git(clone, "commit", "-qm", "local")
    upstream_timeout("63")
    git(clone, "pull", "-q", "--rebase", "origin", "main")  # post-rewrite (rebase)
    assert timeout_in_clone() == "63"


def timeout_in_tox(root: Path) -> str:
    for line in (root / "tox.ini").read_text().splitlines():
        if line.strip().startswith("OS_TEST_TIMEOUT="):
            return line.strip().split("=", 1)[1]
    raise AssertionError("no OS_TEST_TIMEOUT in tox.ini")


def test_hook_runs_the_current_devenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "bin with space" / "devenv"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(script), "hooks", "install"])
    assert hooks.devenv_command() == [str(script.resolve())]
    text = hooks.script("post-merge", hooks.devenv_command())
    assert f"'{script.resolve()}' refresh --hook" in text  # quoted for sh, spaces and all
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/pytest/__main__.py"])
    assert hooks.devenv_command() == [sys.executable, "-m", "devenv"]
    assert "'it'\\''s'" in hooks.script("post-merge", ["it's"])


def test_shared_hooks_path_is_refused_unless_asked_and_then_acts_only_here(tmp_path: Path, run_cli) -> None:
    """core.hooksPath shared by several repositories: installing there used to make every other
    repository build a .venv on each checkout."""
    shared = tmp_path / "company-hooks"
    shared.mkdir()
    ours, other = new_repo(tmp_path / "ours"), new_repo(tmp_path / "other")
    for repo in (ours, other):
        git(repo, "config", "core.hooksPath", str(shared))
    refused = run_cli("hooks", "install", str(ours))
    assert refused.exit_code == 2 and "core.hooksPath" in refused.output and "--shared-hooks-path" in refused.output
    assert not any(shared.iterdir())
    # asked for: installed, and a checkout in the other repository runs nothing of devenv's
    probe = tmp_path / "ran"
    hooks_cmd = ["sh", "-c", f'echo "$PWD" >> {probe}', "devenv"]
    changes = hooks.install(ours, command=hooks_cmd, shared=True)
    assert {c.verb for c in changes} == {"install"}
    for repo in (other, ours):
        git(repo, "checkout", "-q", "-b", "topic")
    assert probe.read_text().splitlines() == [str(ours)]


def test_an_edited_devenv_hook_is_backed_up_before_it_is_rewritten(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    hooks.install(repo, command=["true"])
    hook = repo / ".git/hooks/post-merge"
    hook.write_text(hook.read_text().replace("exit $status", "echo my own line\nexit $status"))
    backups = tmp_path / "backups"
    changes = hooks.install(repo, command=["true"], backup_dir=backups)
    assert {c.hook: c.verb for c in changes}["post-merge"] == "update"
    (saved,) = backups.glob("post-merge.devenv-backup-*")
    assert "echo my own line" in saved.read_text()
    assert "post-merge.devenv-chained" in hook.read_text()  # the hook says where own commands go
