"""`devenv devstack attach`: the guest's source repos checked out on the host (cloned from the guest over
ssh, its branch and local commits included, or an existing checkout adopted), registered as sync targets;
a checkout that lacks the guest's commit or diverged from it is refused with both commits, and neither
side changes. Real sshd, git and rsync against the fake devstack guest (tests/devstackfix.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import vscode_ext

from devenv.host import guests

pytestmark = pytest.mark.guest


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def workspace(tmp_path: Path, fake_devstack, devstack_conf) -> Path:
    devstack_conf(reclone="False")
    ws = tmp_path / "stack ws"  # a space: every path reaches git and ssh as one argument
    ws.mkdir()
    guests.save(ws, fake_devstack.stack_guest(fake_devstack.dest, name="vm"), make_default=True)
    return ws


@pytest.fixture
def guest_branch(fake_devstack):
    """A local commit on a topic branch in the guest's nova (as a contributor makes in the VM); undone after."""
    nova = str(fake_devstack.dest / "nova")
    ident = ["-c", "user.name=Stack", "-c", "user.email=stack@example.invalid"]
    for argv in (["git", "-C", nova, "checkout", "-q", "-b", "topic"],
                 ["sh", "-c", f"echo '# a fix' >> {nova}/nova/__init__.py"],
                 ["git", *ident, "-C", nova, "commit", "-qam", "a fix made in the guest"]):
        assert fake_devstack.as_stack(argv).ok, argv
    head = fake_devstack.as_stack(["git", "-C", nova, "rev-parse", "HEAD"]).stdout.strip()
    yield head
    fake_devstack.as_stack(["git", "-C", nova, "checkout", "-q", "-f", "master"])
    fake_devstack.as_stack(["git", "-C", nova, "branch", "-q", "-D", "topic"])


@pytest.fixture
def guest_origin(fake_devstack):
    """devstack clones from opendev: the guest's repo has that origin (the fixture's have none)."""
    msg = str(fake_devstack.dest / "oslo.messaging")
    url = "https://opendev.org/openstack/oslo.messaging"
    assert fake_devstack.as_stack(["git", "-C", msg, "remote", "add", "origin", url]).ok
    yield url
    fake_devstack.as_stack(["git", "-C", msg, "remote", "remove", "origin"])


def test_attach_clones_the_guests_branch_and_registers_each_repo(workspace: Path, fake_devstack, guest_branch,
                                                                 guest_origin, run_cli) -> None:
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--ide", "pycharm,vscode")
    assert res.exit_code == 0, res.output
    nova, msg = workspace / "nova", workspace / "oslo.messaging"
    assert not (workspace / "requirements").exists()  # not run from source
    assert git(nova, "rev-parse", "--abbrev-ref", "HEAD") == "topic"  # the guest's branch ...
    assert git(nova, "rev-parse", "HEAD") == guest_branch  # ... with its local commit
    assert "vm" in git(nova, "remote").split()
    assert git(msg, "remote", "get-url", "origin") == guest_origin  # an ordinary clone: origin is upstream
    assert git(msg, "remote", "get-url", "vm").startswith("ssh://")
    for repo in (nova, msg):
        (target,) = guests.all_guests(repo)
        assert target.name == "vm" and target.path == str(fake_devstack.dest / repo.name)
    # one host venv with both editable (nova's, --with oslo.messaging), one PyCharm window over both
    py = nova / ".venv" / "bin" / "python"
    shown = subprocess.run([str(py), "-c", "import nova, oslo_messaging; print(nova.__file__); "
                            "print(oslo_messaging.__file__)"], capture_output=True, text=True)
    assert shown.returncode == 0, res.output + shown.stderr
    assert shown.stdout.splitlines() == [str(nova / "nova" / "__init__.py"),
                                    str(msg / "oslo_messaging" / "__init__.py")]
    modules = (workspace / ".idea" / "modules.xml").read_text()
    assert modules.count("<module ") == 2
    # and one VS Code window: every repo a folder, each repo's tests on the shared venv
    code = vscode_ext.read_jsonc(workspace / f"{workspace.name}.code-workspace")
    assert code["folders"] == [{"path": "nova"}, {"path": "oslo.messaging"}]
    assert vscode_ext.settings(msg)["python.defaultInterpreterPath"] == str(py)
    assert vscode_ext.interpreter(nova) == str(py)
    assert "devenv guest ssh-config vm" in res.output  # how Remote-SSH would open the guest's trees
    again = run_cli("devstack", "attach", "vm", "--project", str(workspace), "-v")  # the IDEs are remembered
    assert again.exit_code == 0 and "nova: in-sync" in again.output, again.output
    assert "vscode" in again.output

    # an edit on the host reaches the guest's tree with the registered target
    (nova / "nova" / "edited.py").write_text("X = 1\n")
    sync = run_cli("sync", "vm", "--project", str(nova))
    assert sync.exit_code == 0, sync.output
    assert (fake_devstack.dest / "nova" / "nova" / "edited.py").read_text() == "X = 1\n"
    fake_devstack.as_stack(["rm", "-f", str(fake_devstack.dest / "nova" / "nova" / "edited.py")])


def test_a_diverged_host_checkout_is_refused_with_both_commits(workspace: Path, fake_devstack, run_cli) -> None:
    assert run_cli("devstack", "attach", "vm", "--project", str(workspace), "--repo", "nova",
                   "--no-venv").exit_code == 0
    nova = workspace / "nova"
    for g in guests.all_guests(nova):
        guests.remove(nova, g.name)
    subprocess.run(["git", "-C", str(nova), "-c", "user.name=H", "-c", "user.email=h@example.invalid", "commit",
                    "-q", "--allow-empty", "-m", "host work"], check=True)
    host_head = git(nova, "rev-parse", "HEAD")
    guest_nova = str(fake_devstack.dest / "nova")
    ident = ["-c", "user.name=Stack", "-c", "user.email=stack@example.invalid"]
    assert fake_devstack.as_stack(["git", *ident, "-C", guest_nova, "commit", "-q", "--allow-empty", "-m",
                                   "guest work"]).ok
    guest_head = fake_devstack.as_stack(["git", "-C", guest_nova, "rev-parse", "HEAD"]).stdout.strip()
    try:
        res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--repo", "nova", "--no-venv")
        assert res.exit_code == 8, res.output
        assert "diverged" in res.output and guest_head[:10] in res.output and host_head[:10] in res.output
        assert git(nova, "rev-parse", "HEAD") == host_head  # neither side changed
        assert fake_devstack.as_stack(["git", "-C", guest_nova, "rev-parse", "HEAD"]).stdout.strip() == guest_head
        assert guests.all_guests(nova) == []  # not registered: a sync would have replaced the guest's work
    finally:
        fake_devstack.as_stack(["git", "-C", guest_nova, "reset", "-q", "--hard", "HEAD~1"])


def test_no_repo_to_attach_and_an_unknown_repo_are_one_message(workspace: Path, run_cli) -> None:
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--repo", "glance")
    assert res.exit_code == 2 and "no repo 'glance'" in res.output
    assert "Traceback" not in res.output


def test_sync_all_and_one_watch_send_every_attached_repo(workspace: Path, fake_devstack, run_cli) -> None:
    import os
    import signal
    import sys
    import threading

    from syncfix import wait_until

    assert run_cli("devstack", "attach", "vm", "--project", str(workspace), "--no-venv").exit_code == 0
    dest = fake_devstack.dest
    made = [dest / "nova" / "nova" / "all.py", dest / "oslo.messaging" / "oslo_messaging" / "all.py",
            dest / "oslo.messaging" / "oslo_messaging" / "watched.py"]
    try:
        (workspace / "nova" / "nova" / "all.py").write_text("A = 1\n")
        (workspace / "oslo.messaging" / "oslo_messaging" / "all.py").write_text("B = 2\n")
        res = run_cli("sync", "--all", "--project", str(workspace))
        assert res.exit_code == 0, res.output
        assert made[0].read_text() == "A = 1\n" and made[1].read_text() == "B = 2\n"
        assert res.output.count("devenv sync") == 2 and "conflict" not in res.output
        assert not (dest / "nova" / ".git" / "devenv-was-here").exists()

        child = subprocess.Popen([sys.executable, "-m", "devenv", "sync", "--all", "--watch", "--project",
                                  str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ))
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)
        reader.start()
        try:
            assert wait_until(lambda: any("watching for changes" in ln for ln in lines), timeout=60), lines
            (workspace / "oslo.messaging" / "oslo_messaging" / "watched.py").write_text("C = 3\n")
            assert wait_until(lambda: made[2].is_file() and made[2].read_text() == "C = 3\n", timeout=20), lines
            (workspace / "nova" / "nova" / "all.py").write_text("A = 4\n")
            assert wait_until(lambda: made[0].read_text() == "A = 4\n", timeout=20), lines
            assert wait_until(lambda: sum("  sent 1," in ln for ln in lines) == 2, timeout=20), lines  # reported
            child.send_signal(signal.SIGINT)
            child.wait(timeout=20)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        reader.join(timeout=5)
        assert child.returncode == 0, "".join(lines) + child.stderr.read()
        assert "2 file(s) sent" in "".join(lines)
    finally:
        for path in made:
            fake_devstack.as_stack(["rm", "-f", str(path)])


def test_sync_all_without_attached_repos_says_how(tmp_path: Path, run_cli) -> None:
    res = run_cli("sync", "--all", "--project", str(tmp_path))
    assert res.exit_code == 2 and "devenv devstack attach" in res.output


def test_restart_in_a_workspace_syncs_each_attached_repo_not_the_workspace(workspace: Path, fake_devstack,
                                                                          run_cli) -> None:
    """The workspace's guest folder is DEST: `devstack restart` must send each repo to its own folder (sync
    --all), never the workspace folder into DEST."""
    from devenv.host import ssh

    assert run_cli("devstack", "attach", "vm", "--project", str(workspace), "--no-venv").exit_code == 0
    dest = fake_devstack.dest
    (workspace / "nova" / "nova" / "restarted.py").write_text("R = 1\n")
    (workspace / "stray.txt").write_text("not a repo\n")
    try:
        res = run_cli("devstack", "restart", "vm", "n-cpu", "--project", str(workspace))
        assert res.exit_code == 0, res.output
        assert (dest / "nova" / "nova" / "restarted.py").read_text() == "R = 1\n"
        assert not (dest / "stray.txt").exists() and not (dest / "nova" / "nova" / "nova").exists()
    finally:
        fake_devstack.as_stack(["rm", "-f", str(dest / "nova" / "nova" / "restarted.py")])
        ssh.run(fake_devstack.stack_guest(), ["systemctl", "stop", "devstack@*"], timeout=20)


def test_an_adopted_checkout_syncs_without_false_conflicts(workspace: Path, fake_devstack, run_cli) -> None:
    """A checkout the contributor already had (a plain clone: its files have their own mtimes) is adopted;
    the files that are the same on both sides take the guest's mtimes, so the first sync sends none of them
    and reports no guest-side change, while a host edit still goes out."""
    import os

    from devenv.devstack import attach

    guest = fake_devstack.stack_guest(fake_devstack.dest, name="vm")
    nova = workspace / "nova"
    subprocess.run(["git", "clone", "-q", "--upload-pack",
                    f"git -c safe.directory={fake_devstack.dest / 'nova'} upload-pack",
                    f"ssh://{guest.destination}{fake_devstack.dest / 'nova'}", str(nova)], check=True,
                   env=attach.git_env(guest))
    (nova / "nova" / "adopted.py").write_text("A = 1\n")
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--repo", "nova", "--no-venv", "-v")
    assert res.exit_code == 0 and "nova: in-sync" in res.output, res.output
    try:
        sync = run_cli("sync", "vm", "--project", str(nova))
        assert sync.exit_code == 0 and "conflict" not in sync.output, sync.output
        assert "sent 1 new, 0 changed" in sync.output, sync.output
        assert (fake_devstack.dest / "nova" / "nova" / "adopted.py").read_text() == "A = 1\n"
    finally:
        fake_devstack.as_stack(["rm", "-f", str(fake_devstack.dest / "nova" / "nova" / "adopted.py")])
        os.sync()


def test_attach_reads_devstack_and_clones_over_one_ssh_master(workspace: Path, fake_devstack, run_cli,
                                                              monkeypatch) -> None:
    """Every ssh call of an attach (the reader's probes, the facts, each clone's GIT_SSH_COMMAND) goes through
    the master started first, whose socket is up by then: one handshake, not one per call."""
    from devenv.devstack import attach
    from devenv.host import ssh

    calls: list[tuple[str, bool]] = []
    real_run, real_env = ssh.run, attach.git_env

    def run(guest, argv, **kw):
        path = kw.get("control_path")
        calls.append((argv[1] if argv[0] == "python3" else argv[0], bool(path) and Path(path).exists()))
        return real_run(guest, argv, **kw)

    def git_env(guest, control_path=None):
        calls.append(("git", bool(control_path) and Path(control_path).exists()))
        return real_env(guest, control_path)

    monkeypatch.setattr(ssh, "run", run)
    monkeypatch.setattr(attach, "git_env", git_env)
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--no-venv")
    assert res.exit_code == 0, res.output
    assert [c for c, _ in calls].count("-") == 2  # the reader's two probes (python3 - find / state)
    assert "-c" in [c for c, _ in calls] and [c for c, _ in calls].count("git") == 2  # facts; nova, oslo.messaging
    assert all(over for _, over in calls), calls
    assert not list(workspace.glob(".*.devenv-clone"))


def test_a_master_killed_mid_attach_leaves_nothing_half_done(workspace: Path, fake_devstack, monkeypatch,
                                                             run_cli) -> None:
    """The master dies while the clones run (a session dies with it): the clone that failed then is made
    again over a connection of its own; nothing half-written stays, every repo is cloned and registered."""
    from devenv.devstack import attach

    real = attach._clone_into
    attempts: list[str] = []
    masters = []
    real_connect = attach.connect

    def connect(guest):
        masters.append(real_connect(guest))
        return masters[-1]

    def clone_into(guest, repo, host, tmp, env, facts):
        attempts.append(repo.name)
        if len(attempts) == 1:  # the master goes down under the first clone, which fails with it
            master = masters[0]
            assert master.child is not None
            master.child.kill()
            master.child.wait()
            tmp.mkdir()
            (tmp / "half-written").write_text("x")
            return real(guest, repo, host, tmp, {**env, "GIT_SSH_COMMAND": "false"}, facts)
        return real(guest, repo, host, tmp, env, facts)

    monkeypatch.setattr(attach, "connect", connect)
    monkeypatch.setattr(attach, "_clone_into", clone_into)
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--no-venv", "-v")
    assert res.exit_code == 0, res.output
    assert sorted(attempts) == sorted(["nova", "oslo.messaging", attempts[0]])  # the failed one, once more
    for name in ("nova", "oslo.messaging"):
        assert git(workspace / name, "rev-parse", "HEAD")
        (target,) = guests.all_guests(workspace / name)
        assert target.path == str(fake_devstack.dest / name)
    assert not list(workspace.glob(".*.devenv-clone")) and not list(workspace.rglob("half-written"))
    assert {m["name"] for m in attach.load(workspace)} == {"nova", "oslo.messaging"}


def test_a_clone_that_fails_with_the_master_up_is_refused_and_leaves_nothing(workspace: Path, fake_devstack,
                                                                            monkeypatch, run_cli) -> None:
    """Not the connection: a clone that fails is reported (exit 8), not retried, and leaves no folder and no
    registration; the other repo is attached."""
    from devenv.devstack import attach

    real = attach._clone_into

    def clone_into(guest, repo, host, tmp, env, facts):
        if repo.name == "oslo.messaging":
            env = {**env, "GIT_SSH_COMMAND": "false"}
        return real(guest, repo, host, tmp, env, facts)

    monkeypatch.setattr(attach, "_clone_into", clone_into)
    res = run_cli("devstack", "attach", "vm", "--project", str(workspace), "--no-venv")
    assert res.exit_code == 8 and "oslo.messaging: git clone failed" in res.output, res.output
    assert not (workspace / "oslo.messaging").exists() and not list(workspace.glob(".*.devenv-clone"))
    assert {m["name"] for m in attach.load(workspace)} == {"nova"}


def test_attach_to_a_guest_that_is_down_is_one_message(tmp_path: Path, run_cli) -> None:
    """A closed port on 127.0.0.1: the master ends at once, the reader's own connection says why (exit 9)."""
    from guestfix import _free_port

    from devenv.host.guests import Guest, save

    workspace = tmp_path / "ws"
    workspace.mkdir()
    save(workspace, Guest(name="down", host="127.0.0.1", path="/opt/stack", port=_free_port()))
    res = run_cli("devstack", "attach", "down", "--project", str(workspace), "--no-venv")
    assert res.exit_code == 9, res.output
    assert "Traceback" not in res.output and "127.0.0.1" in res.output
    assert not list(workspace.iterdir())  # nothing cloned, nothing recorded
