"""The RECLONE guard: never sync into a tree that the next stack.sh will wipe.

With RECLONE=True devstack's git_clone (functions-common) runs, in every repo it knows, `git checkout -f
origin/<branch>; git branch -D <branch>; git checkout -b <branch>`: whatever devenv synced there is gone.
`devenv sync` and `sync --watch` call check() before they start. It reads the guest's local.conf fresh
(one bounded probe), once per guest and process; a guest without devstack, or whose folder is not under
devstack's DEST, costs that one probe and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from devenv.devstack import localconf, reader
from devenv.errors import ConfigError, GuestError
from devenv.host.guests import Guest

TIMEOUT = 10.0
OVERRIDE = "--allow-reclone"
_cache: dict[tuple[object, ...], reader.Found | None] = {}


class RecloneHazard(GuestError):
    """The guest's local.conf has RECLONE=True and the sync target is under DEST (exit 9: the guest is not
    set up as devenv needs)."""


@dataclass(frozen=True)
class Hazard:
    where: str  # "PATH line N"
    dest: str
    target: str
    unknown: bool  # RECLONE is set by a line devenv cannot read

    @property
    def message(self) -> str:
        what = "may set RECLONE (a line devenv cannot read)" if self.unknown else "has RECLONE=True"
        return (f"the guest's devstack {what} at {self.where}: the next stack.sh runs `git checkout -f` and "
                f"deletes the local branch in every repo under {self.dest}, wiping what devenv syncs to "
                f"{self.target}")

    @property
    def fix(self) -> str:
        return (f"set RECLONE=False in the [[local|localrc]] section of {self.where.split(' line ')[0]}, "
                f"or pass {OVERRIDE} to sync anyway")


def forget() -> None:
    """Drop the per-process cache (tests; a long-running caller after local.conf changed)."""
    _cache.clear()


def _found(guest: Guest) -> reader.Found | None:
    key = (guest.name, guest.destination, guest.port, guest.ssh_config, guest.identity)
    if key not in _cache:
        try:
            _cache[key] = reader.find(guest, timeout=TIMEOUT)
        except ConfigError:
            raise
        except GuestError:
            _cache[key] = None  # unreachable: sync itself reports that, with its retries
    return _cache[key]


def hazard(guest: Guest) -> Hazard | None:
    """The RECLONE hazard for a sync to guest.path, or None when there is none."""
    try:
        found = _found(guest)
    except ConfigError as exc:
        raise ConfigError(f"devenv cannot tell whether devstack will wipe the sync target: {exc.message}",
                          f"{exc.hint}; or pass {OVERRIDE} to sync without this check") from None
    if found is None or found.conf is None:
        return None
    s = localconf.settings(found.conf)
    dest = str(s["dest"])
    if not reader.under(guest.path, dest) or not (s["reclone"] or s["reclone_unknown"]):
        return None
    return Hazard(found.conf.where("RECLONE"), dest, guest.path, bool(s["reclone_unknown"]))


def check(guest: Guest, *, allow: bool = False) -> Hazard | None:
    """Raise RecloneHazard unless allowed; with allow=True return the hazard (to warn about) or None.
    allow=True still reads local.conf, but a local.conf it cannot read never stops the sync."""
    if allow:
        try:
            return hazard(guest)
        except ConfigError:
            return None
    found = hazard(guest)
    if found is not None:
        raise RecloneHazard(found.message, found.fix)
    return None
