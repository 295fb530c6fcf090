"""What devenv remembers about syncs to each guest, in the project's state folder.

- the manifest: every file we last sent (relpath -> [size, mtime ns]); a guest copy that no longer
  matches it was changed on the guest, which is how conflicts are told from our own earlier sends;
- the last sync record (time, counts, conflicts), for `doctor` and `guest list`.
Both are written atomically; the manifest is read only when a run touched existing guest files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devenv import fsutil, paths

Manifest = dict[str, list[int]]


def _file(project_root: Path, guest_name: str, kind: str) -> Path:
    return paths.project_state(project_root) / f"sync-{guest_name}.{kind}.json"


def has_manifest(project_root: Path, guest_name: str) -> bool:
    return _file(project_root, guest_name, "manifest").exists()


def load_manifest(project_root: Path, guest_name: str) -> Manifest:
    try:
        data = json.loads(_file(project_root, guest_name, "manifest").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no manifest: every guest copy we replace counts as a conflict (kept, reported)
    return data if isinstance(data, dict) else {}


def save_manifest(project_root: Path, guest_name: str, manifest: Manifest) -> None:
    fsutil.atomic_write(_file(project_root, guest_name, "manifest"),
                        json.dumps(manifest, separators=(",", ":"), ensure_ascii=False))


def save_last(project_root: Path, guest_name: str, record: dict[str, Any]) -> None:
    """Atomic (temp file + rename) but not fsynced: it is a status note written on every sync, and an
    fsync on a busy disk can cost more than a whole no-change sync. A lost note reads as "never"."""
    path = _file(project_root, guest_name, "last")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # only the note is lost; the sync itself succeeded


def last_sync(project_root: Path, guest_name: str) -> dict[str, Any] | None:
    """The record of the last sync to this guest (time, files, conflicts), or None if never synced."""
    try:
        data = json.loads(_file(project_root, guest_name, "last").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def forget(project_root: Path, guest_name: str) -> None:
    for kind in ("manifest", "last"):
        _file(project_root, guest_name, kind).unlink(missing_ok=True)
