"""pre-commit's git hook: installed by pre-commit itself (devenv's tools venv), chained with devenv's hooks and
the user's in either order, removed again exactly; doctor's readiness read from pre-commit's store. Real git,
real pre-commit; the hook repository is a local git repository, so nothing touches the network."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devenv import onboarding, paths, precommit
from devenv.errors import ConfigError, Conflict, UsageError
from devenv.ide import hooks

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
USER_HOOK = '#!/bin/sh\necho "$0" >> {log}\n'


def git(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["git", *GIT_ID, "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    assert (res.returncode == 0) == ok, f"git {args}: {res.stdout}{res.stderr}"
    return res


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in folder.iterdir()
            if p.is_file() and not p.name.endswith(".sample")}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


def hook_repo(tmp_path: Path, logs: Path) -> tuple[Path, str]:
    """A repository of pre-commit hooks, cloned by pre-commit from its path: `check` fails while the file
    logs/fail exists (once), `on-checkout` logs each checkout."""
    repo = tmp_path / "hook-repo"
    repo.mkdir()
    (repo / ".pre-commit-hooks.yaml").write_text(
        "- {id: check, name: check, entry: ./check.sh, language: script, stages: [pre-commit]}\n"
        "- {id: on-checkout, name: on-checkout, entry: ./on-checkout.sh, language: script, always_run: true,\n"
        "   pass_filenames: false, stages: [post-checkout]}\n"
        "- {id: on-message, name: on-message, entry: ./on-message.sh, language: script, stages: [commit-msg]}\n")
    (repo / "check.sh").write_text(f'#!/bin/sh\necho check >> {logs}/pre-commit.log\n'
                                   f'if [ -e {logs}/fail ]; then rm {logs}/fail; echo failing once; exit 1; fi\n')
    (repo / "on-checkout.sh").write_text(f'#!/bin/sh\necho checkout >> {logs}/pre-commit.log\n')
    (repo / "on-message.sh").write_text(f'#!/bin/sh\necho message >> {logs}/pre-commit.log\n')
    for script in ("check.sh", "on-checkout.sh", "on-message.sh"):
        (repo / script).chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hooks")
    return repo, git(repo, "rev-parse", "HEAD").stdout.strip()


def project(tmp_path: Path, logs: Path, types: str = "", hook_ids: tuple[str, ...] = ("check",)) -> Path:
    """A checkout with a .pre-commit-config.yaml that uses the hook repository (and no origin remote)."""
    source, rev = hook_repo(tmp_path, logs)
    root = tmp_path / "nova"
    root.mkdir()
    (root / "README").write_text("x\n")
    ids = "".join(f"  - id: {i}\n" for i in hook_ids)
    (root / ".pre-commit-config.yaml").write_text(f"{types}repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n{ids}")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


def user_hook(root: Path, name: str, logs: Path) -> Path:
    path = root / ".git" / "hooks" / name
    path.write_text(USER_HOOK.format(log=logs / "user.log"))
    path.chmod(0o750)
    return path


def devenv_hooks(root: Path, logs: Path) -> None:
    """devenv's refresh hooks, with a stand-in for `devenv` that only says it ran."""
    hooks.install(root, command=["sh", "-c", f'echo refresh >> {logs}/devenv.log', "devenv"])


def commit(root: Path, name: str, ok: bool = True) -> None:
    (root / name).write_text(name + "\n")
    git(root, "add", name)
    git(root, "commit", "-qm", name, ok=ok)


def test_a_commit_runs_pre_commit_and_devenv_hooks_still_run(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    devenv_hooks(root, logs)
    out = precommit.install(root, tools_venv)
    assert out.verb == "install" and out.hook_types == ("pre-commit",) and not out.ready
    assert any("first commit builds the hook environments from the network" in m for m in out.messages)
    assert any(f"{tools_venv.bin('pre-commit')} install-hooks" in m for m in out.messages)
    (logs / "fail").touch()
    commit(root, "a", ok=False)  # pre-commit's hook ran and refused the commit
    commit(root, "a")
    assert lines(logs / "pre-commit.log") == ["check", "check"]
    git(root, "checkout", "-q", "-b", "topic")
    assert lines(logs / "devenv.log") == ["refresh"]
    assert hooks.installed(root) == {h: True for h in hooks.HOOKS}


@pytest.mark.parametrize("order", ["devenv-first", "pre-commit-first"])
def test_either_order_chains_devenv_pre_commit_and_the_users_hook(tmp_path: Path, logs: Path, tools_venv,
                                                                    order: str) -> None:
    """The config asks pre-commit for post-checkout too, a type devenv's own hook holds."""
    root = project(tmp_path, logs, "default_install_hook_types: [pre-commit, post-checkout]\n",
                   ("check", "on-checkout"))
    user_hook(root, "post-checkout", logs)
    folder = root / ".git" / "hooks"
    before = snapshot(folder)
    if order == "devenv-first":
        devenv_hooks(root, logs)
        assert precommit.install(root, tools_venv).hook_types == ("pre-commit", "post-checkout")
    else:
        precommit.install(root, tools_venv)
        devenv_hooks(root, logs)
    assert hooks.installed(root) == {h: True for h in hooks.HOOKS}
    assert precommit.install(root, tools_venv).verb == "identical"  # and again: nothing moves
    git(root, "checkout", "-q", "-b", "topic")
    assert lines(logs / "devenv.log") == ["refresh"]
    assert lines(logs / "pre-commit.log") == ["checkout"]
    assert len(lines(logs / "user.log")) == 1
    precommit.uninstall(root, tools_venv)
    assert hooks.installed(root) == {h: True for h in hooks.HOOKS}  # devenv's hooks untouched
    assert (folder / "post-checkout.devenv-chained").read_bytes() == before["post-checkout"][0]
    hooks.uninstall(root)
    assert snapshot(folder) == before


def test_the_users_pre_commit_hook_is_kept_runs_and_comes_back(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    mine = user_hook(root, "pre-commit", logs)
    before = snapshot(mine.parent)
    out = precommit.install(root, tools_venv)
    assert any("pre-commit.legacy" in m for m in out.messages)
    commit(root, "a")
    assert len(lines(logs / "user.log")) == 1 and lines(logs / "pre-commit.log") == ["check"]
    messages = precommit.uninstall(root, tools_venv)
    assert any(str(mine) in m for m in messages)
    assert snapshot(mine.parent) == before


def test_install_twice_changes_nothing(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    user_hook(root, "pre-commit", logs)
    assert precommit.install(root, tools_venv).verb == "install"
    folder = root / ".git" / "hooks"
    first = snapshot(folder)
    assert precommit.install(root, tools_venv).verb == "identical"
    assert snapshot(folder) == first
    assert not (folder / "pre-commit.legacy.legacy").exists()


def test_an_invalid_config_is_a_config_error_with_pre_commits_words(tmp_path: Path, logs: Path,
                                                                        tools_venv) -> None:
    root = project(tmp_path, logs)
    (root / ".pre-commit-config.yaml").write_text("repos:\n- repo: local\n  hooks: [{id: x}]\n")
    folder = root / ".git" / "hooks"
    before = snapshot(folder)
    with pytest.raises(ConfigError) as err:
        precommit.install(root, tools_venv)
    assert "Missing required key: name" in err.value.message and "validate-config" in (err.value.hint or "")
    assert snapshot(folder) == before
    (found,) = precommit.findings(root, tools_venv)
    assert found.status == "warn" and "Missing required key: name" in found.message


def test_opting_out_is_remembered(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    assert not precommit.opted_out(root)
    precommit.set_opted_out(root, True)
    assert (paths.project_state(root) / precommit.STATE).is_file()
    assert precommit.opted_out(root)
    assert precommit.install(root, tools_venv).verb == "opted-out"
    assert not (root / ".git" / "hooks" / "pre-commit").exists()
    assert [f.status for f in precommit.findings(root, tools_venv)] == ["ok"]
    precommit.set_opted_out(root, False)
    assert precommit.install(root, tools_venv).verb == "install"


def test_doctor_says_whether_the_hook_environments_are_ready(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    (found,) = precommit.findings(root, tools_venv)
    assert found.status == "warn" and found.fix == precommit.INSTALL_FIX.format(root=root)
    precommit.install(root, tools_venv)
    by_check = {f.check: f for f in onboarding.findings(root)}  # tools found from the installed hook
    assert by_check["git.pre-commit"].status == "ok"
    envs = by_check["git.pre-commit.envs"]
    assert envs.status == "warn" and "from the network" in envs.meaning
    assert envs.fix == f"{tools_venv.bin('pre-commit')} install-hooks"
    subprocess.run([tools_venv.bin("pre-commit"), "install-hooks"], cwd=root, check=True, capture_output=True,
                   timeout=120)
    assert {f.check: f.status for f in precommit.findings(root, None)}["git.pre-commit.envs"] == "ok"
    assert precommit.install(root, tools_venv).ready


def test_no_config_means_nothing_to_do(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs)
    (root / ".pre-commit-config.yaml").unlink()
    assert precommit.config_file(root) is None
    assert precommit.install(root, tools_venv).verb == "absent"
    assert precommit.findings(root, tools_venv) == []


def test_core_hooks_path_and_a_folder_outside_git_are_one_message_each(tmp_path: Path, logs: Path,
                                                                         tools_venv) -> None:
    root = project(tmp_path, logs)
    git(root, "config", "core.hooksPath", ".githooks")
    with pytest.raises(UsageError, match="core.hooksPath"):
        precommit.install(root, tools_venv)
    assert not (root / ".githooks").exists() and not (root / ".git" / "hooks" / "pre-commit").exists()
    (found,) = precommit.findings(root, tools_venv)
    assert found.status == "warn" and "core.hooksPath" in found.message
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / ".pre-commit-config.yaml").write_text("repos: []\n")
    with pytest.raises(UsageError, match="not inside a git repository"):
        precommit.install(plain, tools_venv)


def test_a_hook_pre_commit_would_lose_is_refused(tmp_path: Path, logs: Path, tools_venv) -> None:
    """pre-commit moves a foreign hook over an existing <hook>.legacy: refuse before that."""
    root = project(tmp_path, logs)
    user_hook(root, "pre-commit", logs)
    user_hook(root, "pre-commit.legacy", logs)
    folder = root / ".git" / "hooks"
    before = snapshot(folder)
    with pytest.raises(Conflict, match="pre-commit.legacy"):
        precommit.install(root, tools_venv)
    assert snapshot(folder) == before


def test_a_killed_run_puts_devenvs_parked_hook_back(tmp_path: Path, logs: Path, tools_venv) -> None:
    root = project(tmp_path, logs, "default_install_hook_types: [pre-commit, post-checkout]\n",
                   ("check", "on-checkout"))
    devenv_hooks(root, logs)
    folder = root / ".git" / "hooks"
    (folder / "post-checkout").rename(folder / "post-checkout.devenv-parked")  # as a kill mid-install leaves it
    precommit.install(root, tools_venv)
    assert hooks.installed(root) == {h: True for h in hooks.HOOKS}
    assert not (folder / "post-checkout.devenv-parked").exists()
    assert precommit.install_python(folder / "post-checkout.devenv-chained") == tools_venv.python


GERRIT_LIKE = '#!/bin/sh\necho "$0" >> {log}\nprintf "\\nChange-Id: I123\\n" >> "$1"\n'
DEVENV_CHAIN = ('#!/bin/sh\n# devenv-managed-hook: a chain of devenv\'s (as gerrit.py writes for commit-msg)\n'
                'if [ -x "$0.devenv-chained" ]; then "$0.devenv-chained" "$@" || exit $?; fi\n'
                'echo chain >> {log}\n')


@pytest.mark.parametrize("behind_devenv", [False, True])
def test_the_users_commit_msg_hook_is_kept_and_runs(tmp_path: Path, logs: Path, tools_venv,
                                                    behind_devenv: bool) -> None:
    """A config that asks for commit-msg: the user's hook (Gerrit's Change-Id, say) still runs, also when a
    hook of devenv's holds commit-msg and chains it."""
    root = project(tmp_path, logs, "default_install_hook_types: [pre-commit, commit-msg]\n", ("check", "on-message"))
    folder = root / ".git" / "hooks"
    mine = folder / ("commit-msg.devenv-chained" if behind_devenv else "commit-msg")
    mine.write_text(GERRIT_LIKE.format(log=logs / "user.log"))
    mine.chmod(0o755)
    if behind_devenv:
        (folder / "commit-msg").write_text(DEVENV_CHAIN.format(log=logs / "chain.log"))
        (folder / "commit-msg").chmod(0o755)
    before = snapshot(folder)
    precommit.install(root, tools_venv)
    commit(root, "a")
    assert "Change-Id: I123" in git(root, "log", "-1", "--format=%B").stdout
    assert lines(logs / "pre-commit.log") == ["check", "message"]
    assert len(lines(logs / "user.log")) == 1
    assert lines(logs / "chain.log") == (["chain"] if behind_devenv else [])
    precommit.uninstall(root, tools_venv)
    assert snapshot(folder) == before
