"""`devenv doctor`: one report over every health check devenv has. Each check returns Findings and
never raises; doctor only collects them, in order: venv, IDE, then each guest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devenv import project as project_mod
from devenv.errors import DevenvError
from devenv.findings import Finding


@dataclass(frozen=True)
class Section:
    title: str
    findings: tuple[Finding, ...]


def run(root: Path, guest_name: str | None = None, share_timeout: float = 3.0) -> list[Section]:
    proj = project_mod.load(root)
    from devenv import idechoice, onboarding, venv
    from devenv.ide import health as ide_health

    ides = idechoice.remembered(root) or idechoice.detected(root)
    sections = [Section("venv", _safe("venv", lambda: venv.health(proj)))]
    if "pycharm" in ides:
        sections.append(Section("IDE", _safe("ide", lambda: ide_health.check(proj))))
    if "vscode" in ides:
        from devenv.vscode import health as vscode_health

        sections.append(Section("VS Code", _safe("vscode", lambda: vscode_health.check(proj))))
    sections.append(Section("git", _safe("git", lambda: onboarding.findings(root))))
    for guest in _guests(root, guest_name):
        found = _guest(root, guest, share_timeout)
        sections.append(Section(f"guest {guest.describe()}", found))
        if not any(f.check == f"guest.{guest.name}.reachable" and f.needs_action for f in found):
            sections += _devstack(guest)
    return sections


def _devstack(guest) -> list[Section]:
    """A devstack section when the guest has devstack: RECLONE, repos, git ownership (devstack/health.py)."""
    from devenv.devstack import health

    box: list[list[Finding] | None] = []

    def check() -> list[Finding]:
        box.append(health.findings(guest))
        return box[0] or []

    found = _safe(f"devstack.{guest.name}", check)
    if box and box[0] is None:
        return []  # no devstack on this guest
    return [Section(f"devstack on {guest.name}", found)]


def _guests(root: Path, name: str | None) -> list:
    from devenv.host import guests

    if name is not None:
        return [guests.load(root, name)]  # a named guest that does not exist is a usage error
    return guests.all_guests(root)


def _guest(root: Path, guest, share_timeout: float) -> tuple[Finding, ...]:
    from devenv.host import clock, rsyncflavour, share_check, ssh, syncstate, uidmatch

    reach = _safe(f"guest.{guest.name}.reachable", lambda: [ssh.reachable(guest)])
    host_rsync = _safe(f"guest.{guest.name}.rsync.host", lambda: [rsyncflavour.host_finding(guest)])
    if any(f.needs_action for f in reach):
        return reach + host_rsync  # nothing else can be checked on a guest we cannot reach
    out = [*reach, *host_rsync]
    out += _safe(f"guest.{guest.name}.rsync.guest", lambda: [rsyncflavour.guest_finding(guest)])
    out += _safe(f"guest.{guest.name}.uid", lambda: uidmatch.check(root, guest))
    out += _safe(f"guest.{guest.name}.clock", lambda: [clock.finding(guest)])
    out += _safe(f"guest.{guest.name}.share",
                 lambda: list(share_check.check(guest.path, guest=guest, timeout=share_timeout).findings))
    out.append(_last_sync(syncstate.last_sync(root, guest.name), guest.name))
    return tuple(out)


def _last_sync(record: dict | None, name: str) -> Finding:
    check = f"guest.{name}.sync"
    if record is None:
        return Finding(check, "warn", "never synced with devenv (fine if the guest uses a share)", "",
                       f"devenv sync {name}")
    age = time.time() - float(record.get("time", 0))
    conflicts = record.get("conflicts") or []
    message = f"last sync {_ago(age)}, {record.get('files', 0)} file(s) sent, {len(conflicts)} conflict(s)"
    if conflicts:
        return Finding(check, "warn", message, "guest-side changes were kept in the backup folder on the guest",
                       f"compare them with your copy: {record.get('backup_dir')}")
    return Finding(check, "ok", message)


def _ago(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def _safe(check: str, fn: Callable[[], list[Finding]]) -> tuple[Finding, ...]:
    """A health check reports; it never takes doctor down with it."""
    try:
        return tuple(fn())
    except DevenvError as exc:
        return (Finding(check, "fail", exc.message, "", exc.hint or ""),)
    except Exception as exc:  # noqa: BLE001 - report a broken check as a finding, keep going
        return (Finding(check, "warn", f"this check could not run: {type(exc).__name__}: {exc}"),)
