"""Is a slow rsync stuck on a hung guest share? Ask the share, not the network.

rsync cannot tell a hung destination from a slow link: its receiver blocks in stat() on the guest, its
--timeout fires only after a minute of silence, each retry leaves two more stuck rsyncs on the guest,
and the error reads like a network problem. So while an rsync run lasts longer than a few seconds, a
second ssh connection asks the guest to statvfs the destination with a deadline (the share probes'
`alive`, which runs it in a killable child). A hung answer stops the local rsync at once, kills the
guest's rsyncs of this run (found by the DEVENV_SYNC marker in their environment, see rsync.argv), and
the caller says it is the share. A fast sync never pays for any of this, and a long one asks through
rsync's own ssh connection when it serves one (probe_path), so without a handshake of its own.
"""

from __future__ import annotations

import dataclasses
import subprocess
import threading
from dataclasses import dataclass

from devenv import proc
from devenv.errors import DevenvError
from devenv.host.guests import Guest

FIRST_PROBE_AFTER = 5.0  # seconds: nearly every sync is done by then, so nearly none is probed
PROBE_EVERY = 10.0  # a share can also hang in the middle of a long transfer
PROBE_DEADLINE = 5.0  # the statvfs answer we wait for; a live share answers in milliseconds


@dataclass(frozen=True)
class Hung:
    path: str  # the guest folder that did not answer
    mount_point: str  # the guest mount holding it (from mountinfo), "" if unknown
    fstype: str
    deadline: float
    killed: int = 0  # rsyncs of this run killed on the guest
    left: int = 0  # ... that did not die within the deadline (an uninterruptible NFS wait)


class Watch:
    """Started with the rsync child; `hung` is set (and the child killed) if the destination hangs."""

    def __init__(self, guest: Guest, marker: str, io_timeout: float, probe_path: str | None = None) -> None:
        self.guest = guest
        self.marker = marker
        self.probe_path = probe_path  # an ssh master socket (rsync's own); without it, a connection each
        # never wait longer than the run's own I/O timeout to look
        self.first = min(FIRST_PROBE_AFTER, io_timeout / 3)
        self.deadline = min(PROBE_DEADLINE, io_timeout / 3)
        self.hung: Hung | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, child: subprocess.Popen[str]) -> None:
        self._thread = threading.Thread(target=self._loop, args=(child,), name="devenv-hangwatch", daemon=True)
        self._thread.start()

    def stop(self) -> Hung | None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.deadline + 30)
        if self.hung is not None:  # the local rsync is gone: now its guest side
            left = reap(self.guest, self.marker, self.deadline)
            if left is not None:
                self.hung = dataclasses.replace(self.hung, killed=left[0], left=left[1])
        return self.hung

    def _loop(self, child: subprocess.Popen[str]) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            found = probe(self.guest, self.deadline, self.probe_path)
            if found is not None and not self._stop.is_set():
                self.hung = found
                proc.kill_group(child)
                return
            wait = PROBE_EVERY


def probe(guest: Guest, deadline: float, control_path: str | None = None) -> Hung | None:
    """Hung if the guest folder (or, before the first sync, the folder it will be made in) gives no
    statvfs answer within `deadline`. Anything else (it answers, ssh fails) is left to rsync.
    control_path: an ssh master socket to ask through; if it is gone, ssh connects by itself."""
    try:
        out = _ask(guest, ["alive", guest.path, "--timeout", f"{deadline:g}"], deadline + 20, control_path)
    except DevenvError:
        return None  # cannot ask: rsync's own timeout and error say what is wrong
    if not isinstance(out, dict) or out.get("state") != "hung":
        return None
    return Hung(guest.path, str(out.get("mount_point") or ""), str(out.get("fstype") or ""), deadline)


def _ask(guest: Guest, args: list[str], timeout: float, control_path: str | None) -> object:
    """probe_runner.run_guest, through an ssh master when one is given."""
    from devenv.host import probe_runner, ssh

    if control_path is None:
        return probe_runner.run_guest(guest, args, timeout=timeout)
    res = ssh.run(guest, ["python3", "-", *args], input=probe_runner.SCRIPT.read_text(encoding="utf-8"),
                  timeout=timeout, control_path=control_path)
    return probe_runner._parse(res, f"on {guest.name}")


def reap(guest: Guest, marker: str, deadline: float) -> tuple[int, int] | None:
    """Kill this run's rsyncs on the guest; (killed, left), or None when the guest could not be asked."""
    from devenv.host import probe_runner

    try:
        out = probe_runner.run_guest(guest, ["reap", marker, "--timeout", f"{deadline:g}"], timeout=deadline + 20)
    except DevenvError:
        return None
    if not isinstance(out, dict):
        return None
    return int(out.get("killed") or 0), int(out.get("left") or 0)
