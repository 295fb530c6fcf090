"""`devenv devstack services / restart / run` against the fake devstack guest (real sshd, users, rsync; systemctl
and sudo are the stand-ins tests/fake_systemctl.py and tests/fake_sudo.py). `run` is tested with devenv as a
real subprocess, so that Ctrl-C (SIGINT to devenv) and a killed ssh client are what they are for a user."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE
from guestfix import kill_processes_mentioning

from devenv.devstack import foreground, runrecord, services
from devenv.host import guests, ssh

pytestmark = pytest.mark.guest


# ---------------------------------------------------------------- pure parsing (no guest needed)

def test_parse_exec_start_and_environment_in_systemds_format():
    text = ("{ path=/opt/stack/data/venv/bin/nova-compute ; argv[]=/opt/stack/data/venv/bin/nova-compute "
            "--config-file /etc/nova/nova-cpu.conf ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; "
            "pid=0 ; code=(null) ; status=0/0 }")
    path, argv = services.parse_exec_start(text)
    assert path == "/opt/stack/data/venv/bin/nova-compute"
    assert argv == (path, "--config-file", "/etc/nova/nova-cpu.conf")
    quoted = "{ path=/bin/sh ; argv[]=/bin/sh -c \"echo 'a b'\" ; ignore_errors=yes ; start_time=[n/a] }"
    assert services.parse_exec_start(quoted) == ("/bin/sh", ("/bin/sh", "-c", "echo 'a b'"))
    assert services.parse_exec_start("") == ("", ())
    env = services.parse_environment('PATH=/opt/stack/data/venv/bin:/usr/bin "GREETING=hello world" X=')
    assert env == (("PATH", "/opt/stack/data/venv/bin:/usr/bin"), ("GREETING", "hello world"), ("X", ""))
    cat = ("# /etc/systemd/system/devstack@x.service\n[Service]\nEnvironment = \"PATH=/a:/b\"\n"
           "Environment=\"GREETING=hello world\" X=1\n# /etc/systemd/system/devstack@x.service.d/o.conf\n"
           "[Service]\nEnvironment=X=2\n[Install]\nEnvironment=NOT=this\n")
    assert services.environment_from_cat(cat) == (("PATH", "/a:/b"), ("GREETING", "hello world"), ("X", "2"))
    listed = services.parse_list_units("devstack@n-api.service loaded active running Devstack n-api\n"
                                       "\u25cf devstack@n-cpu.service loaded failed failed Devstack n-cpu\n"
                                       "devstack@gone.service not-found inactive dead devstack@gone.service\n")
    assert [(s.name, s.active) for s in listed] == [("n-api", "active"), ("n-cpu", "failed")]


def test_service_names_and_the_uwsgi_single_process_command():
    assert services.service_name("devstack@n-cpu.service") == services.service_name("n-cpu") == "n-cpu"
    with pytest.raises(services.UsageError):
        services.service_name("n-*")
    unit = services.Unit("n-api", ("/v/bin/uwsgi", "--procname-prefix", "nova-api", "--ini", "/etc/nova/a.ini"),
                         "/v/bin/uwsgi", "stack", "", (("A", "1 2"),), "", False, "inactive/dead")
    argv = foreground.command(unit, "stack", "~stack/.cache/devenv/run-n-api.pgid")
    inner = argv[argv.index("inner"):]
    assert inner[-7:] == ["--ini", "/etc/nova/a.ini", "--processes", "1", "--threads", "1", "--honour-stdin"]
    assert "sudo" not in argv and "sg" not in argv and ["--env", "A=1 2"] == inner[5:7]
    other = foreground.command(unit.__class__(**{**unit.__dict__, "user": "nova", "group": "libvirt"}),
                               "vagrant", "~vagrant/x")
    assert other[other.index("--") + 1:][:6] == ["sudo", "-n", "-u", "nova", "--", "sg"]


# ---------------------------------------------------------------- against the fake guest

@pytest.fixture
def box(fake_devstack):
    """The fake devstack, every unit stopped again and sudo allowed after the test."""
    ds = fake_devstack
    yield ds
    assert ds.sudo_deny is not None
    ds.sudo_deny.unlink(missing_ok=True)
    ssh.run(ds.stack_guest(), ["systemctl", "stop", "devstack@*"], timeout=20)
    kill_processes_mentioning(str(ds.demo_script))


@pytest.fixture
def project(box, tmp_path):
    """A project registered with guest `stack` (the stack user over ssh), synced to a folder outside DEST."""
    target = box.root / "srv" / tmp_path.name
    target.mkdir(parents=True)
    shutil.chown(target, box.stack_user)
    root = tmp_path / "proj"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
    guests.save(root, box.stack_guest(target))
    yield root, target
    shutil.rmtree(target, ignore_errors=True)


def _state(box) -> dict:
    return json.loads(box.systemd_state.read_text()) if box.systemd_state.exists() else {}


def _starts(box, unit: str) -> int:
    return int(_state(box).get(f"devstack@{unit}.service", {}).get("starts", 0))


def _active(box, unit: str) -> bool:
    return _state(box).get(f"devstack@{unit}.service", {}).get("state") == "active"


def test_services_lists_every_unit_and_its_state(box, project, run_cli):
    root, _target = project
    ssh.run(box.stack_guest(), ["systemctl", "start", "devstack@n-api"], timeout=20)
    r = run_cli("devstack", "services", "stack", "--project", str(root))
    assert r.exit_code == 0, r.output
    lines = {ln.split()[0]: ln.split()[1] for ln in r.output.splitlines()}
    assert lines == {"demo": "inactive", "keystone": "inactive", "n-api": "active", "n-cpu": "inactive"}
    data = json.loads(run_cli("devstack", "services", "stack", "--project", str(root), "--json").output)
    assert [s["name"] for s in data] == ["demo", "keystone", "n-api", "n-cpu"]


def test_read_one_unit(box):
    unit = services.read(box.stack_guest(), "devstack@demo")
    assert unit.argv == ("/usr/bin/python3", str(box.demo_script), "--name", "demo")
    assert (unit.user, unit.group, unit.working_dir) == (box.stack_user, box.service_group, str(box.dest / "data"))
    assert unit.env == (("DEMO_GREETING", "hello world"), ("OS_DEMO", "1")) and not unit.uwsgi
    assert services.read(box.stack_guest(), "n-cpu").group == "libvirt"
    assert services.read(box.stack_guest(), "n-api").uwsgi


def test_restart_syncs_first_then_restarts(box, project, run_cli):
    root, target = project
    (root / "setup.cfg").write_text((root / "setup.cfg").read_text() + "\n# edited on the host\n")
    before = _starts(box, "n-cpu")
    r = run_cli("devstack", "restart", "stack", "n-cpu", "--project", str(root))
    assert r.exit_code == 0, r.output
    assert (target / "setup.cfg").read_text().endswith("# edited on the host\n")  # the sync ran
    assert _starts(box, "n-cpu") == before + 1 and _active(box, "n-cpu")
    assert "restarted devstack@n-cpu.service on stack: active" in r.output
    (root / "setup.cfg").write_text("# second edit\n")
    r = run_cli("devstack", "restart", "stack", "n-cpu", "--no-sync", "--project", str(root))
    assert r.exit_code == 0 and _starts(box, "n-cpu") == before + 2
    assert "second edit" not in (target / "setup.cfg").read_text()  # --no-sync sent nothing


def test_restart_keeps_the_reclone_guard(box, devstack_conf, run_cli, tmp_path):
    target = box.dest / f"svc-{tmp_path.name}"
    target.mkdir()
    shutil.chown(target, box.stack_user)
    try:
        root = tmp_path / "proj"
        shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
        guests.save(root, box.stack_guest(target))
        before = _starts(box, "n-cpu")
        r = run_cli("devstack", "restart", "stack", "n-cpu", "--project", str(root))
        assert r.exit_code == 9 and "RECLONE=True" in r.output, r.output
        assert _starts(box, "n-cpu") == before and list(target.iterdir()) == []  # neither synced nor restarted
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_unknown_service_lists_the_services_that_exist(box, project, run_cli):
    root, _target = project
    for verb in ("restart", "run"):
        r = run_cli("devstack", verb, "stack", "nope", "--project", str(root))
        assert r.exit_code == 2, r.output
        assert "has no service 'nope'" in r.output and "demo, keystone, n-api, n-cpu" in r.output
    assert not (_target / "setup.cfg").exists()  # failed before the sync


def test_a_sudo_that_wants_a_password_is_one_clear_message(box, project, run_cli):
    root, _target = project
    box.sudo_deny.write_text("")
    r = run_cli("devstack", "restart", "stack", "n-api", "--no-sync", "--project", str(root))
    assert r.exit_code == 9, r.output
    assert "needs root on stack, and `sudo -n` refused: sudo: a password is required" in r.output
    assert "NOPASSWD" in r.output and not _active(box, "n-api")


# ---------------------------------------------------------------- run: devenv as a subprocess

class Devenv:
    """`devenv devstack run ...` as a child process; its output (stdout and stderr) line by line."""

    def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self.child = subprocess.Popen([sys.executable, "-m", "devenv", *args], cwd=REPO, stdin=stdin,  # noqa: S603
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}; output so far:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60) -> int:
        code = self.child.wait(timeout=timeout)
        while (line := self._q.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def ssh_child(self) -> int:
        children = Path(f"/proc/{self.child.pid}/task/{self.child.pid}/children").read_text().split()
        (pid,) = [int(p) for p in children if Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"ssh\0")]
        return pid


def _demo_info(dv: Devenv) -> dict:
    return json.loads(dv.wait_for("DEMO ")[len("DEMO "):])


def _alive_on_guest(box, pid: int) -> bool:
    return ssh.run(box.stack_guest(), ["kill", "-0", str(pid)], timeout=20).ok


def _records() -> dict:
    path = runrecord.state_file()
    return json.loads(path.read_text()) if path.exists() else {}


def test_run_as_the_units_user_group_env_and_cwd_then_start_it_again(box, project):
    root, _target = project
    ssh.run(box.stack_guest(), ["systemctl", "start", "devstack@demo"], timeout=20)
    dv = Devenv("devstack", "run", "stack", "demo", "--no-sync", "--project", str(root), stdin=subprocess.PIPE)
    try:
        info = _demo_info(dv)
        assert info["uid"] == box.stack_uid
        assert info["gid"] == __import__("grp").getgrnam(box.service_group).gr_gid  # sg GROUP: Group=
        assert info["cwd"] == str(box.dest / "data") and info["argv"][1:] == ["--name", "demo"]
        assert info["env"]["DEMO_GREETING"] == "hello world" and info["env"]["OS_DEMO"] == "1"
        assert info["env"]["HOME"] == str(box.dest) and info["env"]["USER"] == box.stack_user
        assert not _active(box, "demo")  # stopped while it runs in the foreground
        (rec,) = _records().values()
        assert rec["service"] == "demo" and rec["pid"] == dv.child.pid
        assert dv.child.stdin is not None
        dv.child.stdin.write("exit 3\n")  # the foreground command reads the terminal (here: a pipe)
        dv.child.stdin.close()
        assert dv.finish() == 1, dv.output
    finally:
        if dv.child.poll() is None:
            dv.child.kill()
    assert "demo: exiting with 3" in dv.output and "demo's command exited with status 3" in dv.output
    assert "devstack@demo.service started again" in dv.output
    assert _active(box, "demo") and _records() == {}


def test_ctrl_c_stops_the_remote_command_and_starts_the_unit(box, project):
    root, _target = project
    dv = Devenv("devstack", "run", "stack", "demo", "--no-sync", "--project", str(root))
    try:
        info = _demo_info(dv)
        assert _alive_on_guest(box, info["pid"])
        dv.child.send_signal(signal.SIGINT)
        assert dv.finish() == 130, dv.output
    finally:
        if dv.child.poll() is None:
            dv.child.kill()
    assert "demo: got signal 2" in dv.output  # SIGINT reached the remote process, as Ctrl-C in a terminal does
    assert not _alive_on_guest(box, info["pid"])
    assert _active(box, "demo") and _records() == {} and "devstack@demo.service started again" in dv.output


def test_a_lost_connection_leaves_the_record_and_the_next_call_starts_the_unit(box, project, run_cli):
    root, _target = project
    keys = box.box.tmp / "authorized_keys" / box.stack_user
    saved = keys.read_text()
    dv = Devenv("devstack", "run", "stack", "demo", "--no-sync", "--project", str(root))
    try:
        info = _demo_info(dv)
        keys.unlink()  # the guest cannot be reached again...
        os.kill(dv.ssh_child(), signal.SIGKILL)  # ...and the connection is gone
        assert dv.finish() == 9, dv.output
    finally:
        keys.write_text(saved)
        if dv.child.poll() is None:
            dv.child.kill()
    assert "the connection to stack was lost" in dv.output and "STILL STOPPED" in dv.output
    assert not _active(box, "demo") and list(_records().values())[0]["service"] == "demo"
    r = run_cli("devstack", "services", "stack", "--project", str(root))
    assert r.exit_code == 0, r.output
    assert "devstack@demo.service was stopped by `devenv devstack run` at" in r.output
    assert "started it now" in r.output and _active(box, "demo") and _records() == {}
    assert not _alive_on_guest(box, info["pid"])  # the orphaned foreground copy was ended first
    r = run_cli("devstack", "services", "stack", "--project", str(root))
    assert "was stopped by" not in r.output  # said once


def test_in_a_real_terminal_ctrl_c_reaches_the_remote_command_through_ssh_t(box, project):
    """devenv in a pseudo-terminal, as a user runs it: ssh -t puts the terminal in raw mode, so Ctrl-C is the
    byte 0x03 sent to the guest's pty, whose line discipline gives the remote command SIGINT (devenv itself
    gets no signal); the remote command ends and the unit is started again."""
    import pty
    import select

    root, _target = project
    pid, fd = pty.fork()
    if pid == 0:  # the child: devenv on the terminal's slave side
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "devenv", "devstack", "run", "stack", "demo", "--no-sync",
                                  "--project", str(root)])
    out = b""

    def read_until(marker: bytes, timeout: float = 60) -> bool:
        nonlocal out
        end = time.monotonic() + timeout
        while time.monotonic() < end and marker not in out:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return marker in out
                if not chunk:
                    break
                out += chunk
        return marker in out

    try:
        assert read_until(b"DEMO "), out.decode(errors="replace")
        info = json.loads(out.split(b"DEMO ", 1)[1].split(b"\n", 1)[0].strip().decode())
        assert _alive_on_guest(box, info["pid"])
        os.write(fd, b"\x03")  # Ctrl-C typed in the terminal
        assert read_until(b"started again"), out.decode(errors="replace")
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    text = out.decode(errors="replace")
    assert "demo: got signal 2" in text, text  # SIGINT from the guest's pty, not from devenv's _interrupt
    assert "interrupted: sending SIGINT" not in text
    assert not _alive_on_guest(box, info["pid"])
    assert _active(box, "demo") and _records() == {}


def test_a_group_the_user_lacks_is_said_before_the_unit_is_stopped(box, project, run_cli):
    """Group=root for the stack user: `sg root` would ask for a password; nothing is stopped (exit 9)."""
    root, _target = project
    unit = box.units / "devstack@lonely.service"
    unit.write_text((box.units / "devstack@demo.service").read_text()
                    .replace(f"Group = {box.service_group}", "Group = root").replace("--name demo", "--name lonely"))
    try:
        ssh.run(box.stack_guest(), ["systemctl", "start", "devstack@lonely"], timeout=20)
        r = run_cli("devstack", "run", "stack", "lonely", "--no-sync", "--project", str(root))
        assert r.exit_code == 9, r.output
        assert "Group=root" in r.output and "not a member" in r.output and "usermod -aG root" in r.output
        assert _active(box, "lonely") and _records() == {}
    finally:
        ssh.run(box.stack_guest(), ["systemctl", "stop", "devstack@lonely"], timeout=20)
        unit.unlink()
