"""Is a share mounted, late, or hung? Answered with a bound, for `devenv wait-mount` and boot scripts.

Three facts, cheapest first: the path is a mount point in /proc/self/mountinfo (never touches the mount);
then, in a child process with a deadline, statvfs answers and st_dev differs from the parent's. A waiter
that polls `isdir()` in-process would block for ever on a hung mount; this one never does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from devenv import errors
from devenv.errors import UsageError
from devenv.host import probe_runner, probes

MOUNTED, NOT_MOUNTED, HUNG = "mounted", "not-mounted", "hung"
EXIT_CODES = {MOUNTED: 0, NOT_MOUNTED: errors.NOT_MOUNTED, HUNG: errors.HUNG}  # errors.EXIT_CODES


@dataclass(frozen=True)
class MountState:
    path: str
    state: str  # MOUNTED | NOT_MOUNTED | HUNG
    detail: str
    waited: float

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]


def probe(path: str, deadline: float) -> tuple[str, str]:
    """One look: (state, detail)."""
    if not probes.is_mount_point(path):
        return NOT_MOUNTED, "not a mount point (per /proc/self/mountinfo)"
    out = probe_runner.run_local(["alive", path, "--timeout", f"{deadline:g}"], timeout=deadline + 15)
    if out["state"] == "hung":
        return HUNG, f"mounted, but statvfs gave no answer within {deadline:g} s"
    if out["state"] == "error":
        return NOT_MOUNTED, f"listed as mounted, but {out['text']}"
    if out["dev"] == out["parent_dev"] and os.path.abspath(path) != "/":  # / is its own parent
        return NOT_MOUNTED, "listed as mounted, but it has its parent's device"
    row = probes.mount_of(path)
    return MOUNTED, f"{row.get('fstype')} from {row.get('source')}"


def wait(path: str, timeout: float, interval: float = 0.5, probe_deadline: float = 2.0) -> MountState:
    """Poll until `path` is a live mount or `timeout` seconds pass; the last state decides."""
    if timeout < 0 or interval <= 0:
        raise UsageError("--timeout must be 0 or more and --interval more than 0")
    path = os.path.abspath(path)
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        state, detail = probe(path, max(0.2, min(probe_deadline, left)))
        waited = time.monotonic() - start
        if state == MOUNTED or waited + interval > timeout:
            return MountState(path, state, detail, round(waited, 2))
        time.sleep(interval)
