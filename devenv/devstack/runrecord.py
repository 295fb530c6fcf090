"""The record "devstack@SVC on GUEST was stopped by `devenv devstack run` at TIME", so a unit is never left
stopped silently: written before the unit is stopped, removed once it runs again. A run that lost its
connection (or a devenv that was killed) leaves it behind; every `devenv devstack` command on that guest then
ends the leftover foreground copy, starts the unit and says so (recover()).

One JSON file in devenv's state home (DEVENV_HOME), written atomically. A record whose devenv is still
running (another terminal's `devenv devstack run`) is left alone.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devenv import fsutil, paths
from devenv.host.guests import Guest


@dataclass(frozen=True)
class Record:
    key: str
    guest: str  # the guest's name when the run started
    service: str
    since: float  # when the unit was stopped (epoch seconds)
    pid: int  # the devenv process that stopped it
    pgid_file: str  # on the guest: where the foreground command's process group is recorded
    ssh_user: str

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))


def state_file() -> Path:
    return paths.state_home() / "devstack-runs.json"


def guest_key(guest: Guest) -> str:
    """The same VM whichever project registered it: reached the same way."""
    return f"{guest.destination}|{guest.port or ''}|{guest.ssh_config or ''}"


def _load() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, dict[str, object]]) -> None:
    fsutil.atomic_write(state_file(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def add(guest: Guest, service: str, pgid_file: str, ssh_user: str) -> Record:
    key = f"{guest_key(guest)}|{service}"
    rec = Record(key, guest.name, service, time.time(), os.getpid(), pgid_file, ssh_user)
    data = _load()
    data[key] = asdict(rec)
    _save(data)
    return rec


def remove(rec: Record) -> None:
    data = _load()
    if data.pop(rec.key, None) is not None:
        _save(data)


def for_guest(guest: Guest) -> list[Record]:
    prefix = guest_key(guest) + "|"
    out = []
    for key, raw in sorted(_load().items()):
        if key.startswith(prefix):
            try:
                out.append(Record(**{**raw, "key": key}))  # type: ignore[arg-type]
            except TypeError:
                continue
    return out


def orphaned(rec: Record) -> bool:
    """The devenv that wrote it is gone (this process counts as gone: it is not running that command now)."""
    if rec.pid == os.getpid():
        return True
    try:
        os.kill(rec.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        cmdline = Path(f"/proc/{rec.pid}/cmdline").read_bytes()
    except OSError:
        return False  # not Linux: trust the pid
    return b"devenv" not in cmdline  # the pid was reused by something else
