"""Host/guest clock skew: measured, never assumed.

devenv's sync does not depend on clocks (it preserves the host's mtimes and detects guest edits from its
manifest, never with --update), but tools in the guest do: make's "Clock skew detected", and any
`rsync --update` or mtime-based reload the user runs. So skew above a second is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from devenv.errors import DevenvError
from devenv.findings import Finding
from devenv.host import ssh
from devenv.host.guests import Guest

# The one clock-skew threshold (the share check and the guest probes use it too). Above 1 s, make and
# mtime-comparing tools misjudge edits; it is kept at 2 s so that a filesystem with 2-second timestamps
# (FAT, some shares) is not mistaken for a skewed clock.
WARN_ABOVE = 2.0  # seconds


@dataclass(frozen=True)
class Skew:
    seconds: float  # guest clock minus host clock
    uncertainty: float  # half the round trip: the guest read its clock somewhere inside it

    @property
    def significant(self) -> bool:
        return abs(self.seconds) - self.uncertainty > WARN_ABOVE

    def describe(self) -> str:
        side = "ahead of" if self.seconds > 0 else "behind"
        return f"the guest clock is {abs(self.seconds):.2f} s {side} the host's (±{self.uncertainty:.2f} s)"


def measure(guest: Guest, timeout: float = 20.0) -> Skew:
    before = time.time()
    res = ssh.run(guest, ["date", "+%s.%N"], timeout=timeout)
    after = time.time()
    try:
        guest_now = float(res.stdout.strip())
    except ValueError as exc:
        raise ssh.SshFailure(f"cannot read the guest's clock: {res.stdout.strip()!r} {res.stderr.strip()}") from exc
    return Skew(guest_now - (before + after) / 2, (after - before) / 2)


FIX = "run NTP/chrony in the guest (e.g. sudo apt-get install chrony, or: sudo timedatectl set-ntp true)"


def finding(guest: Guest) -> Finding:
    """Doctor's check for this guest's clock."""
    check = f"guest.{guest.name}.clock"
    try:
        skew = measure(guest)
    except DevenvError as exc:
        return Finding(check, "warn", f"could not compare clocks: {exc.message}", "", exc.hint or "")
    if skew.significant:
        return Finding(check, "warn", skew.describe(),
                       "make reports clock skew; mtime-based tools (rsync --update, reloaders) skip or redo "
                       "work; devenv sync itself does not depend on it", FIX)
    return Finding(check, "ok", skew.describe())
