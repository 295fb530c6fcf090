"""What devenv generated last, per project: the merge base for every file it owns, and a fingerprint
of the inputs so an unchanged project is answered without rendering anything.

Kept in the project's state folder (paths.project_state), not in the checkout: `git status` stays
clean whether or not the project's .gitignore covers .idea/.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv import fsutil, paths

FORMAT = 1


@dataclass
class Record:
    fingerprint: str = ""
    sdk_name: str | None = None
    bases: dict[str, str] = field(default_factory=dict)  # '.idea'-relative path -> last generated text
    disk: dict[str, str | None] = field(default_factory=dict)  # path -> sha of the file as left (None: absent)
    tables: dict[str, str | None] = field(default_factory=dict)  # jdk.table.xml path -> sha as left


def sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def file_sha(path: Path) -> str | None:
    try:
        return sha(path.read_bytes())
    except OSError:
        return None


def location(root: Path) -> Path:
    return paths.project_state(root) / "ide.json"


def load(root: Path) -> Record:
    try:
        data: dict[str, Any] = json.loads(location(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Record()
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return Record()  # unknown or damaged: behave as on a first run (nothing is lost, only merged)
    return Record(
        fingerprint=str(data.get("fingerprint", "")),
        sdk_name=data.get("sdk_name"),
        bases=dict(data.get("bases", {})),
        disk=dict(data.get("disk", {})),
        tables=dict(data.get("tables", {})),
    )


def save(root: Path, rec: Record) -> None:
    data = {"format": FORMAT, "fingerprint": rec.fingerprint, "sdk_name": rec.sdk_name,
            "bases": rec.bases, "disk": rec.disk, "tables": rec.tables}
    fsutil.atomic_write(location(root), json.dumps(data, indent=1, sort_keys=True))


def unchanged_on_disk(idea: Path, rec: Record) -> bool:
    """Every file devenv owns (and every jdk table) is exactly as devenv left it."""
    if not rec.disk:
        return False
    for rel, digest in rec.disk.items():
        if file_sha(idea / rel) != digest:
            return False
    return all(file_sha(Path(p)) == digest for p, digest in rec.tables.items())
