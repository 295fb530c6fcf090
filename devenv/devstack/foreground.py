"""`devenv devstack run SVC`: stop the unit, run its ExecStart in the foreground on the guest as systemd would
(User, Group, Environment, WorkingDirectory), so breakpoints and pdb work; then start the unit again.

The chain on the guest, each step exec'ing the next (so one process group, recorded for signalling):
  python3 -c LAUNCH outer --pgid-file F --   [sudo -n -u USER -- | runuser -u USER --]   [sg GROUP -c '...']
      python3 -c LAUNCH inner --cwd DIR --env K=V... --path PROGRAM -- ARGV...
(devstack's own advice for n-cpu is `sg libvirt -c '...'`; sudo only when the ssh user is neither root nor the
unit's user). uwsgi APIs get `--processes 1 --threads 1 --honour-stdin` after their --ini: one process that
keeps the terminal as stdin, so a breakpoint stops the one request and pdb can read the keyboard.

With a terminal, ssh -t gives the remote side a real tty: Ctrl-C reaches the remote process through it. Without
one (a pipe, a test, an IDE console), Ctrl-C or SIGTERM reaches devenv, which sends SIGINT to the recorded
process group over a second ssh connection (then SIGTERM, SIGKILL). Either way the unit is started again; when
that is impossible (the connection is lost) the record in runrecord stays and the next devenv devstack command
on the guest starts it.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devenv import proc
from devenv.devstack import runrecord, services
from devenv.devstack.services import Unit
from devenv.errors import DevenvError, GuestError
from devenv.host import ssh
from devenv.host.guests import Guest

LAUNCH = Path(__file__).with_name("unit_launch.py")
UWSGI_SINGLE = ("--processes", "1", "--threads", "1", "--honour-stdin")
SIGNAL_TIMEOUT = 30.0  # the remote `signal` command waits up to 10 s + 5 s of escalation
STOP_WAIT = 15.0  # seconds the local ssh gets to end after the remote group was signalled
Note = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    service: str
    returncode: int | None  # the foreground command's exit status; None: unknown (connection lost)
    interrupted: bool
    lost: bool
    restarted: bool


def pgid_file(ssh_user: str, service: str) -> str:
    return f"~{ssh_user}/.cache/devenv/run-{service}.pgid"


def command(unit: Unit, ssh_user: str, pgid_path: str) -> list[str]:
    """The argv handed to the guest (ssh quotes each word)."""
    source = LAUNCH.read_text(encoding="utf-8")
    argv = list(unit.argv) + (list(UWSGI_SINGLE) if unit.uwsgi else [])
    inner = ["python3", "-c", source, "inner", "--cwd", unit.working_dir, "--path", unit.path or argv[0],
             *[a for k, v in unit.env for a in ("--env", f"{k}={v}")], "--", *argv]
    chain = ["sg", unit.group, "-c", shlex.join(inner)] if unit.group else inner
    user = unit.user or "root"
    if user != ssh_user:
        chain = (["runuser", "-u", user, "--"] if ssh_user == "root" else ["sudo", "-n", "-u", user, "--"]) + chain
    return ["python3", "-c", source, "outer", "--pgid-file", pgid_path, "--", *chain]


def describe(unit: Unit) -> str:
    who = f"{unit.user or 'root'}" + (f":{unit.group}" if unit.group else "")
    extra = f" + {' '.join(UWSGI_SINGLE)} (one process)" if unit.uwsgi else ""
    return f"as {who} in {unit.working_dir or '/'}: {shlex.join(unit.argv)}{extra}"


def run(guest: Guest, unit: Unit, ssh_user: str, note: Note, *, tty: bool | None = None) -> Outcome:
    """Stop the unit, run it in the foreground until it ends (or Ctrl-C), start the unit again."""
    as_root = ssh_user == "root"
    tty = sys.stdin.isatty() and sys.stdout.isatty() if tty is None else tty
    _check_group(guest, unit)  # before anything is stopped
    pgid_path = pgid_file(ssh_user, unit.name)
    rec = runrecord.add(guest, unit.name, pgid_path, ssh_user)  # before the stop: never stopped silently
    try:
        services.change(guest, "stop", unit.name, as_root=as_root)
    except DevenvError:
        if services.is_active(guest, unit.name):
            runrecord.remove(rec)
        raise
    note(f"{unit.unit} stopped; running its command in the foreground {describe(unit)}")
    note("Ctrl-C ends it and starts the unit again" + ("" if tty else " (no terminal: pdb reads this stdin)"))
    code: int | None = None
    interrupted = lost = False
    try:
        child = _start(guest, command(unit, ssh_user, pgid_path), tty)
    except DevenvError:
        _restore(guest, rec, note, lost=False, as_root=as_root)
        raise
    try:
        code = child.wait()
    except KeyboardInterrupt:  # Ctrl-C without a tty, SIGTERM, SIGHUP (cli.Terminated)
        interrupted = True
        with _sigint_ignored():
            code = _interrupt(guest, rec, child, note)
    if not interrupted and code is not None and (code == 255 or code < 0):
        lost, code = True, None
    with _sigint_ignored():
        restarted = _restore(guest, rec, note, lost=lost, as_root=as_root)
    return Outcome(unit.name, code, interrupted, lost, restarted)


def _check_group(guest: Guest, unit: Unit) -> None:
    """`sg GROUP` for a user who is not a member asks for the group's password (on the terminal, or fails
    without one): say so before the unit is stopped. root needs no membership."""
    user = unit.user or "root"
    if not unit.group or user == "root":
        return
    res = ssh.run(guest, ["id", "-nG", "--", user], timeout=20)
    if not res.ok:
        return  # id cannot tell (an odd guest): sg says what it thinks
    if unit.group not in res.stdout.split():
        from devenv.errors import GuestError

        raise GuestError(f"{unit.unit} runs with Group={unit.group}, but {user} is not a member of it on "
                         f"{guest.name}: `sg {unit.group}` would ask for the group's password; the unit was left "
                         "as it is",
                         f"on the guest: sudo usermod -aG {unit.group} {user} (devstack does this for libvirt), "
                         "then run it again")


def _start(guest: Guest, argv: list[str], tty: bool) -> subprocess.Popen[bytes]:
    """ssh in the foreground: our stdin/stdout/stderr, and (with a tty) our process group, so that ssh can put
    the terminal in raw mode. (The one other place besides proc.py that starts a process: proc's helpers all
    detach the child from the terminal.)"""
    remote = ssh.remote_command(argv)
    args = ["ssh", *ssh.options(guest), "-t" if tty else "-T", "--", guest.destination, remote]
    try:
        return subprocess.Popen(args, start_new_session=not tty)  # noqa: S603 - an argument list
    except FileNotFoundError as exc:
        from devenv.errors import ToolMissing

        raise ToolMissing("ssh is not installed (or not on PATH)", "install the OpenSSH client") from exc


def _interrupt(guest: Guest, rec: runrecord.Record, child: subprocess.Popen[bytes], note: Note) -> int | None:
    note(f"interrupted: sending SIGINT to {rec.service}'s command on {guest.name}")
    try:
        _signal(guest, rec, "INT")
    except DevenvError as exc:
        note(f"could not signal it over ssh: {exc.message}")
    try:
        return child.wait(timeout=STOP_WAIT)
    except subprocess.TimeoutExpired:
        child.terminate()
        try:
            return child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


def _signal(guest: Guest, rec: runrecord.Record, signame: str, wait: float = 10.0) -> dict[str, object]:
    argv = ["python3", "-c", LAUNCH.read_text(encoding="utf-8"), "signal", "--pgid-file", rec.pgid_file,
            "--signal", signame, "--wait", f"{wait:g}"]
    res = ssh.run(guest, argv, timeout=SIGNAL_TIMEOUT)
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    try:
        answer: dict[str, object] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise GuestError(f"signalling {rec.service}'s command on {guest.name} gave no answer "
                         f"(exit {res.returncode}): {proc.tail(res.stderr)}") from None
    if answer.get("error") and rec.ssh_user != "root":  # the command runs as another user: ask sudo
        res = ssh.run(guest, ["sudo", "-n", *argv], timeout=SIGNAL_TIMEOUT)
        if services.sudo_refused(res):
            raise services.sudo_error(guest, f"signalling {rec.service}'s command", res.stderr)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        answer = json.loads(lines[-1]) if lines else answer
    return answer


def _restore(guest: Guest, rec: runrecord.Record, note: Note, *, lost: bool, as_root: bool) -> bool:
    """End any leftover foreground copy, start the unit; keep the record when that cannot be done."""
    try:
        if lost:
            note(f"the connection to {guest.name} was lost; ending the foreground {rec.service} there")
            _signal(guest, rec, "TERM", wait=5.0)
        services.change(guest, "start", rec.service, as_root=as_root)
    except DevenvError as exc:
        note(f"{services.unit_name(rec.service)} is STILL STOPPED on {guest.name}: {exc.message}. The next "
             f"`devenv devstack` command on {guest.name} starts it (or on the guest: "
             f"sudo systemctl start {services.unit_name(rec.service)})")
        return False
    runrecord.remove(rec)
    note(f"{services.unit_name(rec.service)} started again")
    return True


def recover(guest: Guest, note: Note) -> list[str]:
    """Start every unit a lost `devenv devstack run` left stopped on this guest; the services started."""
    started = []
    for rec in runrecord.for_guest(guest):
        if not runrecord.orphaned(rec):
            continue  # its devenv is still running (another terminal): it restores the unit itself
        try:
            _signal(guest, rec, "TERM", wait=5.0)
            if services.is_active(guest, rec.service):
                runrecord.remove(rec)
                continue
            services.change(guest, "start", rec.service, as_root=rec.ssh_user == "root")
        except DevenvError as exc:
            note(f"{services.unit_name(rec.service)} was stopped by `devenv devstack run` at {rec.when} and is "
                 f"still stopped; starting it failed: {exc.message}")
            continue
        runrecord.remove(rec)
        started.append(rec.service)
        note(f"{services.unit_name(rec.service)} was stopped by `devenv devstack run` at {rec.when} and never "
             "started again (the connection was lost, or devenv was stopped); started it now")
    return started


class _sigint_ignored:
    """A second Ctrl-C must not abort the restore half-way (main thread only; elsewhere a no-op)."""

    def __enter__(self) -> None:
        self.old = None
        try:
            self.old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:
            pass

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
