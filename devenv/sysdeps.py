"""System packages from bindep.txt that this machine lacks, evaluated with bindep itself.

devenv reports them with the command that installs them; it never installs system packages.
The answer is cached against bindep.txt and the package database, so a no-op re-run stays fast.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, paths
from devenv.errors import ConfigError

PROFILES = ["default", "test"]
_DBS = ("/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/lib/apk/db/installed")
_INSTALLERS = {"platform:dpkg": "sudo apt-get install -y", "platform:rpm": "sudo dnf install -y",
               "platform:apk": "sudo apk add", "platform:pacman": "sudo pacman -S --needed",
               "platform:brew": "brew install"}


@dataclass(frozen=True)
class SystemReport:
    missing: tuple[str, ...]
    bad_versions: tuple[str, ...]
    install_command: str | None
    platform: str

    def to_json(self) -> dict[str, object]:
        return {"missing": list(self.missing), "bad_versions": list(self.bad_versions),
                "install_command": self.install_command, "platform": self.platform}


def check(bindep_file: Path, root: Path) -> SystemReport:
    key = _cache_key(bindep_file)
    cache = paths.project_state(root) / "bindep-cache.json"
    entries: dict[str, dict] = {}
    try:
        entries = json.loads(cache.read_text()).get("entries") or {}
        r = entries[key]
        return SystemReport(tuple(r["missing"]), tuple(r["bad_versions"]), r["install_command"], r["platform"])
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    report = _evaluate(bindep_file)
    # several answers: switching between branches whose bindep.txt differ must not re-run bindep (1.3 s)
    entries = {k: v for k, v in list(entries.items())[-(CACHED - 1):]} if isinstance(entries, dict) else {}
    entries[key] = report.to_json()
    fsutil.atomic_write(cache, json.dumps({"entries": entries}))
    return report


CACHED = 8  # bindep answers kept per project (one per bindep.txt content and package database state)


def _cache_key(bindep_file: Path) -> str:
    h = hashlib.sha256(bindep_file.read_bytes())
    for db in _DBS:
        try:
            h.update(f"{db}:{Path(db).stat().st_mtime_ns}".encode())
        except OSError:
            pass
    return h.hexdigest()[:16]


def _evaluate(bindep_file: Path) -> SystemReport:
    from bindep.depends import Depends  # the field's own tool (PyPI: bindep)

    try:
        deps = Depends(bindep_file.read_text(encoding="utf-8"))
    except Exception as exc:  # bindep raises its parser's own error types
        raise ConfigError(f"{bindep_file} cannot be read by bindep: {exc}", "fix the line it names") from exc
    platform = deps.platform_profiles()
    rules = deps.active_rules(platform + PROFILES)
    missing: list[str] = []
    bad: list[str] = []
    try:
        results = deps.check_rules(rules)
    except Exception as exc:  # no package manager bindep knows (e.g. a container without dpkg-query)
        return SystemReport((), (f"cannot check: {exc}",), None, " ".join(platform))
    for kind, items in results:
        if kind == "missing":
            missing.extend(items)
        elif kind == "badversion":
            bad.extend(f"{name} {want} (installed {have})" for name, want, have in items)
    command = None
    if missing:
        prefix = next((cmd for prof, cmd in _INSTALLERS.items() if prof in platform), None)
        command = f"{prefix} {' '.join(missing)}" if prefix else None
    return SystemReport(tuple(missing), tuple(bad), command, " ".join(p for p in platform if p.startswith("platform:")))
