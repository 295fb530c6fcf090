"""Which rsync devenv runs (issue 12, part 1): openrsync and rsync 2.6.9 stop a sync before anything is sent,
with one message; a GNU rsync >= 3.1 beside them is preferred; `guest add` and `doctor` say which is in use.

macOS cannot run here, so its rsyncs are stand-ins (tests/rsyncfakes.py, with the sources of their option
tables): scripts that print exactly the real tool's `--version`, reject every option the real one does not
list, as it does, and otherwise run this machine's GNU rsync. Each test runs the real CLI or the real sync
against the real loopback guest (guestfix: sshd on 127.0.0.1, a guest user with another UID).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import rsyncfakes
from conftest import SAMPLE
from syncfix import guest_files, guest_write, wait_until

from devenv import proc
from devenv.errors import ToolMissing, UsageError
from devenv.host import guests, rsync, rsyncflavour, sync

LACKS = "lacks --secluded-args/--protect-args, --info, --ignore-missing-args, --delete-missing-args"
DESCRIBED = {"openrsync": "openrsync (protocol 29, rsync 2.6.9 compatible)",
             "rsync-2.6.9": "rsync 2.6.9 (protocol 29)"}


@pytest.fixture(autouse=True)
def no_homebrew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never depend on what this machine has in /opt/homebrew/bin or /usr/local/bin: the candidate folders
    are one empty folder of the test's own (a test puts a GNU stand-in there when it needs Homebrew's)."""
    folder = tmp_path / "homebrew-bin"
    folder.mkdir()
    monkeypatch.setenv(rsyncflavour.CANDIDATES_ENV, str(folder))
    monkeypatch.delenv("DEVENV_RSYNC", raising=False)
    return folder


@pytest.fixture
def standin_dir(real_guest) -> Path:
    """A folder the guest user can read too (tmp_path is root's 0700), for guest-side stand-ins as well."""
    path = Path(tempfile.mkdtemp(prefix="rsync-standins-", dir=real_guest.tmp))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def first_on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", rsyncfakes.on_path(folder))


def add_guest(run_cli, project: Path, box, remote: Path, *extra: str):
    return run_cli("guest", "add", "vm", "--ssh", box.alias, "--ssh-config", str(box.ssh_config),
                   "--path", str(remote), "--project", str(project), *extra)


def errors_in(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if "error:" in ln]


# ---------------------------------------------------------------- the stand-ins are faithful


@pytest.mark.parametrize("kind", ["openrsync", "rsync-2.6.9"])
def test_standins_answer_and_refuse_like_the_real_tools(kind: str, tmp_path: Path) -> None:
    """Stands in for the Mac's rsyncs; checked here so that the tests below rest on a faithful copy: the exact
    --version text, a usage error (exit 1) for each option devenv needs and they lack, and a real copy with
    options they do list."""
    exe = rsyncfakes.make(tmp_path / "bin", kind)
    version = proc.run([exe, "--version"], timeout=10)
    assert version.returncode == 0 and version.stdout == rsyncfakes.KINDS[kind][1]
    for option in ("--info=skip1", "--ignore-missing-args", "--delete-missing-args", "--protect-args",
                   "--secluded-args", "-s"):
        refused = proc.run([exe, "-a", option, f"{tmp_path}/bin/", f"{tmp_path}/out/"], timeout=10)
        assert refused.returncode == 1, (option, refused.stderr)
        assert ("unrecognized option" in refused.stderr or "illegal option" in refused.stderr
                or "unknown option" in refused.stderr), refused.stderr
        assert not (tmp_path / "out").exists()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a\n")
    copied = proc.run([exe, "-a", "-8", "--out-format=%i %n", "--backup", "--backup-dir=b", "--timeout=5",
                       f"{tmp_path}/src/", f"{tmp_path}/out/"], timeout=30)
    assert copied.ok, copied.stderr
    assert (tmp_path / "out" / "a.txt").read_text() == "a\n" and "a.txt" in copied.stdout


def test_each_flavour_is_told_apart_by_one_version_call(tmp_path: Path) -> None:
    """Stand-ins for openrsync and rsync 2.6.9, the real GNU rsync, and an older openrsync that writes only
    'openrsync: protocol version 27' to stderr (kristapsdz/openrsync main.c): flavour, version, protocol."""
    opened = rsyncflavour.detect(str(rsyncfakes.make(tmp_path / "o", "openrsync")))
    assert (opened.flavour, opened.version, opened.protocol, opened.usable) == ("openrsync", (2, 6, 9), 29, False)
    old = rsyncflavour.detect(str(rsyncfakes.make(tmp_path / "s", "rsync-2.6.9")))
    assert (old.flavour, old.version, old.protocol, old.usable) == ("samba-2.6", (2, 6, 9), 29, False)
    assert old.lacks == ["--secluded-args/--protect-args", "--info", "--ignore-missing-args",
                         "--delete-missing-args"]
    gnu = rsyncflavour.detect(rsyncfakes.REAL_RSYNC)
    assert gnu.flavour == "gnu" and gnu.usable and gnu.protocol and gnu.protocol >= 31
    early = rsyncflavour.detect(str(rsyncfakes.script(tmp_path / "e", 'echo "openrsync: protocol version 27" >&2')))
    assert early.flavour == "openrsync" and early.protocol == 27 and not early.usable
    three = rsyncflavour.identify("/x", "rsync  version 3.0.9  protocol version 30\n")
    assert three.lacks == ["--info", "--ignore-missing-args", "--delete-missing-args"]
    assert three.protect_flag == "--protect-args"
    assert rsyncflavour.identify("/x", "rsync  version v3.2.7  protocol version 31\n").protect_flag == "--secluded-args"


def test_a_guest_rsync_too_old_for_an_option_is_said_so() -> None:
    """What GNU rsync as a server says when the client passes an option it does not know (the guest runs
    rsync 3.0.x and devenv sends --delete-missing-args): one message about the guest's rsync, no retry."""
    from devenv.host.guests import Guest

    res = proc.Result(("rsync",), 12, "", "rsync: on remote machine: --delete-missing-args: unknown option\n"
                      "rsync error: syntax or usage error (code 1) at main.c(1554) [server=3.0.9]\n")
    err = rsync.failure(Guest(name="vm", host="h", path="/p"), res, [])
    assert "the rsync on the guest vm is too old" in err.message and "--delete-missing-args" in err.message
    assert not err.transient and "--rsync-path" in (err.hint or "")


# ---------------------------------------------------------------- sync and watch stop before sending


@pytest.mark.guest
@pytest.mark.parametrize("kind", ["openrsync", "rsync-2.6.9"])
def test_sync_stops_before_sending_with_only_a_mac_rsync(kind, run_cli, sync_project, sync_guest, sync_remote,
                                                         standin_dir, monkeypatch) -> None:
    """Stands in for a Mac whose only rsync is /usr/bin/rsync (openrsync on 15.4+, 2.6.9 before): without the
    check, devenv passed --secluded-args/--protect-args and the user got rsync's usage error."""
    rsyncfakes.make(standin_dir, kind)
    first_on_path(monkeypatch, standin_dir)
    guests.save(sync_project, sync_guest)
    res = run_cli("sync", "--project", str(sync_project))
    assert res.exit_code == ToolMissing.exit_code, res.output
    assert f"{standin_dir}/rsync (chosen by PATH) is {DESCRIBED[kind]}, which {LACKS}" in res.output
    assert "nothing was sent" in res.output and "brew install rsync" in res.output
    assert len(errors_in(res.output)) == 1 and "usage" not in res.output  # one message, devenv's
    assert rsyncfakes.transfers(standin_dir) == []  # it was asked its version, never to copy
    assert not sync_remote.exists()  # nothing reached the guest
    assert sync.last_sync(sync_project, "box") is None


@pytest.mark.guest
def test_watch_stops_before_it_starts_with_openrsync(sync_project, sync_guest, sync_remote, standin_dir,
                                                     monkeypatch) -> None:
    """Stands in for `devenv sync --watch` on macOS 15.4 with no other rsync: it must end at once with the
    same message (run as the real CLI process, bounded: a watch that started would never end by itself)."""
    rsyncfakes.make(standin_dir, "openrsync")
    guests.save(sync_project, sync_guest)
    env = {**os.environ, "PATH": rsyncfakes.on_path(standin_dir)}
    done = subprocess.run([sys.executable, "-m", "devenv", "sync", "--watch", "--project", str(sync_project)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == ToolMissing.exit_code, done.stdout + done.stderr
    assert LACKS in done.stdout + done.stderr and "brew install rsync" in done.stdout + done.stderr
    assert "watching for changes" not in done.stdout
    assert rsyncfakes.transfers(standin_dir) == [] and not sync_remote.exists()


# ---------------------------------------------------------------- a GNU rsync beside it is preferred


@pytest.mark.guest
def test_homebrew_gnu_rsync_is_preferred_over_openrsync_first_on_path(
        run_cli, sync_project, sync_guest, sync_remote, real_guest, standin_dir, no_homebrew, monkeypatch):
    """Stands in for a Mac after `brew install rsync`: openrsync is still first on PATH (/usr/bin before
    Homebrew's folder for many users), GNU rsync sits in /opt/homebrew/bin. devenv must pick the latter by
    itself, and then keep every promise: files arrive, a guest edit is kept and reported."""
    rsyncfakes.make(standin_dir, "openrsync")
    first_on_path(monkeypatch, standin_dir)
    brew = rsyncfakes.make(no_homebrew, "gnu")
    guests.save(sync_project, sync_guest)
    args = ("--project", str(sync_project))
    res = run_cli("sync", "-v", *args)
    assert res.exit_code == 0, res.output
    assert f"rsync: {brew}: GNU rsync" in res.output and "sent 7 new" in res.output
    assert "pkg/m1.py" in guest_files(sync_remote)
    guest_write(real_guest, sync_remote / "pkg" / "m1.py", "guest edit\n")
    (sync_project / "pkg" / "m1.py").write_text("host edit\n")
    res = run_cli("sync", "--json", *args)
    data = json.loads(res.output)
    assert res.exit_code == 8 and [c["path"] for c in data["sync"]["conflicts"]] == ["pkg/m1.py"]
    assert Path(data["sync"]["conflicts"][0]["backup"]).read_text() == "guest edit\n"
    assert data["sync"]["rsync"].startswith(f"{brew}: GNU rsync")
    assert rsyncfakes.calls(standin_dir) == []  # openrsync was never even asked
    assert any("--out-format=%i\t%l\t%M\t%n" in c for c in rsyncfakes.transfers(no_homebrew))


@pytest.mark.guest
def test_watch_runs_on_the_homebrew_rsync(sync_project, sync_guest, sync_remote, standin_dir, no_homebrew):
    """`sync --watch` on the same Mac (openrsync first on PATH, GNU rsync in Homebrew's folder): the CLI watch
    sends a save through the GNU rsync (--files-from with --ignore-missing-args, which openrsync lacks)."""
    rsyncfakes.make(standin_dir, "openrsync")
    brew_log = rsyncfakes.make(no_homebrew, "gnu").parent
    guests.save(sync_project, sync_guest)
    env = {**os.environ, "PATH": rsyncfakes.on_path(standin_dir)}
    child = subprocess.Popen([sys.executable, "-m", "devenv", "sync", "--watch", "--project", str(sync_project)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any("watching for changes" in ln for ln in lines), timeout=30), lines
        (sync_project / "pkg" / "m2.py").write_text("x = 'saved while watching'\n")
        assert wait_until(lambda: (sync_remote / "pkg" / "m2.py").read_text() == "x = 'saved while watching'\n")
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, "".join(lines) + child.stderr.read()
    assert any("--ignore-missing-args" in c for c in rsyncfakes.transfers(brew_log))
    assert rsyncfakes.calls(standin_dir) == []


# ---------------------------------------------------------------- guest add and doctor say which is in use


@pytest.mark.guest
def test_guest_add_reports_both_rsyncs_and_warns_about_openrsync(run_cli, sync_project, real_guest, sync_remote,
                                                                 standin_dir, monkeypatch):
    """Stands in for adding a guest on macOS 15.4 with no GNU rsync: the guest is fine (it may be used through a
    share), so it is saved, but the output says the host rsync is openrsync and what to install."""
    rsyncfakes.make(standin_dir, "openrsync")
    first_on_path(monkeypatch, standin_dir)
    res = add_guest(run_cli, sync_project, real_guest, sync_remote)
    assert res.exit_code == 0, res.output
    assert "host rsync     NOT USABLE" in res.output
    assert f"{standin_dir}/rsync (chosen by PATH) is {DESCRIBED['openrsync']}" in res.output
    assert "brew install rsync" in res.output
    assert "rsync          /usr/bin/rsync: GNU rsync 3." in res.output  # the guest's, asked over ssh
    assert guests.load(sync_project, "vm").host_rsync is None


@pytest.mark.guest
def test_guest_add_with_rsync_remembers_it_and_sync_uses_it(run_cli, sync_project, real_guest, sync_remote,
                                                            standin_dir, tmp_path, monkeypatch):
    """Stands in for a GNU rsync somewhere devenv does not look (MacPorts' /opt/local/bin, a self-built one),
    named once with `guest add --rsync`: remembered, and later syncs use it though openrsync is first on
    PATH. Naming openrsync itself is refused at add time, and nothing is saved."""
    rsyncfakes.make(standin_dir, "openrsync")
    first_on_path(monkeypatch, standin_dir)
    refused = add_guest(run_cli, sync_project, real_guest, sync_remote, "--rsync", str(standin_dir / "rsync"))
    assert refused.exit_code == ToolMissing.exit_code, refused.output
    assert "(chosen by --rsync) is openrsync" in refused.output and LACKS in refused.output
    assert not guests.state_file(sync_project).exists()
    ports = rsyncfakes.make(tmp_path / "opt-local-bin", "gnu")
    res = add_guest(run_cli, sync_project, real_guest, sync_remote, "--rsync", str(ports))
    assert res.exit_code == 0, res.output
    assert f"host rsync     {ports}: GNU rsync" in res.output and "(remembered for this guest)" in res.output
    assert guests.load(sync_project, "vm").host_rsync == str(ports)
    res = run_cli("sync", "--project", str(sync_project))
    assert res.exit_code == 0 and "sent 7 new" in res.output, res.output
    assert rsyncfakes.transfers(ports.parent) and rsyncfakes.transfers(standin_dir) == []


@pytest.mark.guest
def test_guest_add_refuses_a_guest_whose_rsync_is_2_6_9(run_cli, sync_project, real_guest, sync_remote,
                                                        standin_dir):
    """Stands in for an old guest (CentOS 5 had rsync 2.6.8; a Mac as guest has 2.6.9): the guest's rsync is
    asked over ssh at add time; too old is one GuestError, and the guest is not saved."""
    old = rsyncfakes.make(standin_dir, "rsync-2.6.9")
    res = add_guest(run_cli, sync_project, real_guest, sync_remote, "--rsync-path", str(old))
    assert res.exit_code == 9, res.output
    assert f"the rsync on the guest vm ({old}) is rsync 2.6.9 (protocol 29), which {LACKS}" in res.output
    assert "GNU rsync 3.1.0 or newer on the guest" in res.output and len(errors_in(res.output)) == 1
    assert not guests.state_file(sync_project).exists()


@pytest.mark.guest
def test_doctor_reports_the_host_and_guest_rsync(run_cli, tmp_path, real_guest, standin_dir, no_homebrew,
                                                 monkeypatch):
    """Stands in for `devenv doctor` on macOS 15.4 (openrsync first on PATH): the guest section fails the host
    rsync with the fix; after `brew install rsync` (a GNU stand-in in the candidate folder) it is ok. The
    guest's rsync is reported from the guest; a 2.6.9 there is a failure with its fix."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
    rsyncfakes.make(standin_dir, "openrsync")
    first_on_path(monkeypatch, standin_dir)
    assert add_guest(run_cli, root, real_guest, real_guest.share_mapped).exit_code == 0

    def rsync_findings() -> dict[str, dict]:
        out = json.loads(run_cli("doctor", str(root), "--guest", "vm", "--json").output)
        return {f["check"]: f for s in out["sections"] for f in s["findings"] if ".rsync." in f["check"]}

    found = rsync_findings()
    host, guest = found["guest.vm.rsync.host"], found["guest.vm.rsync.guest"]
    assert host["status"] == "fail" and DESCRIBED["openrsync"] in host["message"]
    assert "brew install rsync" in host["fix"]
    assert guest["status"] == "ok" and "GNU rsync 3." in guest["message"]
    brew = rsyncfakes.make(no_homebrew, "gnu")
    host = rsync_findings()["guest.vm.rsync.host"]
    assert host["status"] == "ok" and str(brew) in host["message"] and f"chosen by {no_homebrew}" in host["message"]
    old_guest = rsyncfakes.make(standin_dir / "guest", "rsync-2.6.9")
    (standin_dir / "guest").chmod(0o755)
    stored = guests.load(root, "vm")
    guests.save(root, dataclasses.replace(stored, rsync_path=str(old_guest)))
    guest = rsync_findings()["guest.vm.rsync.guest"]
    assert guest["status"] == "fail" and "rsync 2.6.9 (protocol 29)" in guest["message"]
    assert "apt-get install rsync" in guest["fix"]


# ---------------------------------------------------------------- bad input: one message, nothing sent


@pytest.mark.guest
@pytest.mark.parametrize("case, body, code, said", [
    ("a wrapper printing nothing", "exit 0", 4, "its --version printed nothing"),
    ("an rsync that dies on --version", "kill -SEGV $$", 4, "--version failed (killed by signal 11)"),
    ("not rsync at all", "echo 'Usage: mytool [args]'", 4, "its --version said 'Usage: mytool [args]'"),
    ("a missing file", None, 2, "--rsync {path}: no such program"),
])
def test_bad_rsync_is_one_message_and_nothing_is_sent(case, body, code, said, run_cli, sync_project, sync_guest,
                                                      sync_remote, tmp_path):
    """`--rsync PROGRAM` that cannot be trusted: devenv cannot know which options it has, so it stops before
    the first transfer with one message and a distinct exit code (2: a bad path, 4: no usable rsync)."""
    folder = tmp_path / "bad"
    path = rsyncfakes.script(folder, body) if body is not None else folder / "rsync"
    guests.save(sync_project, sync_guest)
    res = run_cli("sync", "--rsync", str(path), "--project", str(sync_project))
    assert res.exit_code == code, (case, res.output)
    assert said.format(path=path) in res.output, res.output
    assert len(errors_in(res.output)) == 1 and "Traceback" not in res.output
    assert not sync_remote.exists() and sync.last_sync(sync_project, "box") is None


@pytest.mark.guest
def test_bad_rsync_at_guest_add_saves_nothing(run_cli, sync_project, real_guest, sync_remote, tmp_path) -> None:
    """`guest add --rsync` with a path that is not there: a usage error (exit 2) before the guest is probed,
    so neither the guest record nor the guest folder is made."""
    res = add_guest(run_cli, sync_project, real_guest, sync_remote, "--rsync", str(tmp_path / "no" / "rsync"))
    assert res.exit_code == UsageError.exit_code and "no such program" in res.output, res.output
    assert not guests.state_file(sync_project).exists() and not sync_remote.exists()


def test_devenv_rsync_names_the_program_and_is_checked(tmp_path: Path, monkeypatch) -> None:
    """DEVENV_RSYNC (a global choice, e.g. in a shell profile) wins over the folders and PATH, and is refused,
    not replaced, when it is openrsync (a stand-in) even though a GNU rsync is on PATH."""
    monkeypatch.setenv("DEVENV_RSYNC", str(rsyncfakes.make(tmp_path / "o", "openrsync")))
    with pytest.raises(ToolMissing, match=r"chosen by DEVENV_RSYNC\) is openrsync"):
        rsyncflavour.select()
    gnu = rsyncfakes.make(tmp_path / "g", "gnu")
    monkeypatch.setenv("DEVENV_RSYNC", str(gnu))
    assert rsyncflavour.select().path == str(gnu)
    assert rsyncflavour.select(explicit=rsyncfakes.REAL_RSYNC).origin == "--rsync"  # the command line wins
