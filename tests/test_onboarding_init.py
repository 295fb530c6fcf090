"""`devenv init` as a first-time contributor runs it (issue 14): with a .pre-commit-config.yaml and a
.gitreview, init installs pre-commit's hook (kept beside the user's own), sets up the Gerrit remote and the
Change-Id hook against the 127.0.0.1 stand-ins of test_gerrit.py, ends with what to do next, and doctor
agrees; --no-pre-commit is remembered and takes devenv's pre-commit hook away again; `hooks uninstall`
puts the user's hook back. Real git, pre-commit, git-review and venv."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from idefix import copy_sample
from test_gerrit import PROJECT, Standin

pytestmark = pytest.mark.slow

USER_HOOK = "#!/bin/sh\necho user-pre-commit >> {log}\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def contributor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Tess Ter")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "tess@example.org")
    bare = tmp_path / "gerrit" / PROJECT
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(bare)], check=True)
    server = Standin(tmp_path / "gerrit")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = tmp_path / "hooks.log"
    root = copy_sample(tmp_path / "nova")
    (root / ".gitreview").write_text(f"[gerrit]\nhost=127.0.0.1\nport={server.port}\nscheme=http\n"
                                     f"project={PROJECT}\n")
    (root / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: logged\n    name: logged\n    language: system\n"
        f"    entry: sh -c 'echo pre-commit-hook >> {log}'\n    pass_filenames: false\n")
    git(root, "init", "-q", "-b", "master")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    git(root, "push", "-q", str(bare), "master")
    hook = root / ".git" / "hooks" / "pre-commit"  # the contributor's own hook, from before devenv
    hook.write_text(USER_HOOK.format(log=log))
    hook.chmod(0o755)
    try:
        yield root, log, server
    finally:
        server.shutdown()
        server.server_close()


def test_init_sets_up_lint_pre_commit_and_gerrit_and_doctor_agrees(contributor, run_cli) -> None:
    root, log, server = contributor
    res = run_cli("init", str(root), "--gerrit-user", "tester")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "pre-commit" in out and "your own pre-commit hook is kept" in out
    assert f"Gerrit: remote 'gerrit': http://tester@127.0.0.1:{server.port}/{PROJECT} (added)" in out
    assert "lint as the gate does" in out and "git review" in out.split("next:")[1]

    (root / "new.txt").write_text("x\n")
    git(root, "add", "new.txt")
    git(root, "commit", "-qm", "a change")
    assert log.read_text().split() == ["user-pre-commit", "pre-commit-hook"]  # the user's first, then the project's
    assert "Change-Id: I" in git(root, "log", "-1", "--format=%B")

    doctor = json.loads(run_cli("doctor", str(root), "--json").output)
    (section,) = [s for s in doctor["sections"] if s["title"] == "git"]
    found = {f["check"]: f["status"] for f in section["findings"]}
    assert found["gerrit.remote"] == found["gerrit.commit-msg"] == "ok"
    assert found["git.pre-commit"] == "ok", section

    # opting out is remembered and takes devenv's pre-commit hook away, the user's goes back in place
    assert run_cli("init", str(root), "--no-pre-commit").exit_code == 0
    assert (root / ".git" / "hooks" / "pre-commit").read_text() == USER_HOOK.format(log=log)
    again = run_cli("init", str(root))
    assert again.exit_code == 0 and "not installed, as you asked" in again.output
    assert (root / ".git" / "hooks" / "pre-commit").read_text() == USER_HOOK.format(log=log)
    assert "Gerrit: already set up" in again.output

    # back in, then `hooks uninstall` restores the user's hook
    assert run_cli("init", str(root), "--pre-commit").exit_code == 0
    assert (root / ".git" / "hooks" / "pre-commit").read_text() != USER_HOOK.format(log=log)
    un = run_cli("hooks", "uninstall", str(root))
    assert un.exit_code == 0 and "your own hook is back" in un.output, un.output
    assert (root / ".git" / "hooks" / "pre-commit").read_text() == USER_HOOK.format(log=log)


def test_an_invalid_pre_commit_config_fails_init_after_the_rest_is_done(contributor, run_cli) -> None:
    root, log, _ = contributor
    (root / ".pre-commit-config.yaml").write_text("repos: not-a-list\n")
    res = run_cli("init", str(root), "--gerrit-user", "tester")
    assert res.exit_code == 3, res.output
    assert ".pre-commit-config.yaml" in res.output and "Traceback" not in res.output
    assert (root / ".venv" / "bin" / "python").exists() and (root / ".idea" / "misc.xml").exists()
    assert git(root, "remote", "get-url", "gerrit").strip()  # the Gerrit step still ran
    assert (root / ".git" / "hooks" / "pre-commit").read_text() == USER_HOOK.format(log=log)  # untouched


def test_without_a_gerrit_username_init_says_how_and_changes_nothing(contributor, run_cli) -> None:
    root, _, _ = contributor
    res = run_cli("init", str(root))
    assert res.exit_code == 0, res.output
    assert "no Gerrit username" in res.output and "gitreview.username" in res.output
    assert "gerrit" not in git(root, "remote").split()
