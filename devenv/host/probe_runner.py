"""Run the probe script (devenv/host/probes.py) here or on a guest, and read its JSON answer.

Locally it runs as `python probes.py ARGS` through proc.run; on a guest as `python3 - ARGS` over ssh with
the script on stdin, so the guest needs nothing but python3. Either way a hung share costs at most the
given timeout: the script kills its own probe children, and proc/ssh kill the script as a last resort.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from devenv import proc
from devenv.errors import DevenvError, GuestError
from devenv.host import probes
from devenv.host.guests import Guest

SCRIPT = Path(probes.__file__)


def run_local(args: list[str], *, timeout: float) -> Any:
    res = proc.run([sys.executable, str(SCRIPT), *args], timeout=timeout, what="the share probe")
    return _parse(res, "here")


def run_guest(guest: Guest, args: list[str], *, timeout: float) -> Any:
    from devenv.host import ssh

    source = SCRIPT.read_text(encoding="utf-8")
    res = ssh.run(guest, ["python3", "-", *args], input=source, timeout=timeout)
    if res.returncode == 127 or "python3: not found" in res.stderr:
        raise GuestError(f"python3 is not installed on {guest.describe()}",
                         "install it in the guest (apt-get install python3); the share probes need it")
    if "future feature annotations" in res.stderr:
        raise GuestError(f"python3 on {guest.describe()} is too old for the share probes (needs 3.7 or newer)",
                         "install a newer python3 in the guest")
    return _parse(res, f"on {guest.name}")


def run(guest: Guest | None, args: list[str], *, timeout: float) -> Any:
    return run_guest(guest, args, timeout=timeout) if guest else run_local(args, timeout=timeout)


def _parse(res: proc.Result, where: str) -> Any:
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise DevenvError(f"the share probe {where} gave no answer (exit {res.returncode}): "
                          f"{proc.tail(res.stderr)}") from None
