"""A shared ssh connection for `sync --watch`: each flush then skips the ssh handshake.

On loopback an ssh connection costs ~0.3 s (key exchange, auth, the remote shell); a flush of one saved
file through an open master costs a few milliseconds of that. The master is a helper process (proc.spawn)
kept only while the watch runs. If it dies (the guest went away), clients silently connect directly
(ControlMaster=no) and the watch starts a new master once the guest answers again.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
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

    def close(self) -> None:
        if self.child is not None:
            proc.stop(self.child)
            self.child = None
        shutil.rmtree(self.folder, ignore_errors=True)
