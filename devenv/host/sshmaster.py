"""A shared ssh connection for `sync --watch` and `devstack attach`: each later ssh call (a flush, a probe,
a git clone through GIT_SSH_COMMAND) then skips the ssh handshake.

On loopback an ssh connection costs ~0.3 s (key exchange, auth, the remote shell); a flush of one saved
file through an open master costs a few milliseconds of that. The master is a helper process (proc.spawn)
kept only while the watch runs. If it dies (the guest went away), clients silently connect directly
(ControlMaster=no) and the watch starts a new master once the guest answers again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devenv import proc
from devenv.host import ssh
from devenv.host.guests import Guest


class Master:
    def __init__(self, guest: Guest) -> None:
        self.guest = guest
        # a short folder of our own: a socket path must stay under ~100 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="devenv-ssh-"))
        self.path = str(self.folder / "master")
        self.child: subprocess.Popen[str] | None = None

    def ensure(self) -> None:
        """(Re)start the master if it is not running; never waits for it to connect."""
        if self.child is not None and self.child.poll() is None:
            return
        self.child = proc.spawn(["ssh", *ssh.options(self.guest), "-M", "-N", "-o", f"ControlPath={self.path}",
                                 "-o", "ControlPersist=no", "--", self.guest.destination])

    def alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def wait(self, limit: float = float(ssh.CONNECT_TIMEOUT)) -> str | None:
        """The socket once the master serves it (ssh makes it after authentication), else None: the master
        ended (or was never started), or `limit` seconds passed. Either way a client given the path then
        simply connects directly, so None only costs a handshake."""
        deadline = time.monotonic() + limit
        while not os.path.exists(self.path):
            if not self.alive() or time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        return self.path

    def __enter__(self) -> Master:
        self.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.child is not None:
            proc.stop(self.child)
            self.child = None
        shutil.rmtree(self.folder, ignore_errors=True)
