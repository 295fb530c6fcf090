"""A per-project lock with a timeout, so two runs never build the same venv at once.

flock() is released by the kernel when the holder dies, so a killed run never leaves a stale lock; the
file also records who holds it, so the second run can say so.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devenv.errors import LockBusy

# How long a run waits for another run's lock before it says who holds it (the one home of this number).
DEFAULT_TIMEOUT = 30.0


@contextmanager
def project_lock(path: Path, timeout: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(f"another devenv run is working on this project ({_holder(path)})",
                                   "wait for it to finish, or stop it; the lock goes away when it exits") from None
                time.sleep(0.1)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "argv": sys.argv,
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    argv = " ".join(info.get("argv", [])[1:]) or "?"
    return f"pid {info.get('pid')} on {info.get('host')}, `devenv {argv}`, since {info.get('since')}"
