"""The last few venvs, kept by fingerprint, so `git checkout -` back to a state already built is a rename.

When a change replaces the project's venv, the one it replaces is moved (a rename, never a copy) into
the project's state folder under the hash of its fingerprint, instead of being deleted. A later refresh
whose fingerprint matches a kept venv swaps it back in. A kept venv is used only at the path it was
live at (its scripts name that path) and only when its own fingerprint file still matches.

Bounds (README): at most KEEP venvs per project (`DEVENV_KEEP_VENVS`, 0 turns this off), the oldest
dropped first; none kept when the state folder is on another file system (a rename would be a copy)
or when less than MIN_FREE bytes are free there. Hard links make kept venvs cheaper than `du` says:
files the venvs share with each other or with uv's cache take their space once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from devenv import fingerprint, paths, venvlayout

KEEP = 3
MIN_FREE = 2 << 30  # 2 GiB
INFO = "devenv-kept.json"


def limit() -> int:
    try:
        return max(0, int(os.environ.get("DEVENV_KEEP_VENVS", KEEP)))
    except ValueError:
        return KEEP


def key(fp: fingerprint.Fingerprint) -> str:
    """What decides a venv's contents (constraints_option, which is not compared, is left out)."""
    data = asdict(fp)
    data.pop("constraints_option", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def folder(project_root: Path) -> Path:
    return paths.project_state(project_root) / "venvs"


def keep(project_root: Path, venv_dir: Path, fp: fingerprint.Fingerprint | None, live: Path) -> bool:
    """Move `venv_dir` (the venv that was live at `live`) into the store; False (and nothing moved) when
    it cannot or should not be kept: then the caller deletes it as before."""
    if fp is None or limit() == 0 or not venvlayout.looks_usable(venv_dir):
        return False
    store = folder(project_root)
    try:
        store.mkdir(parents=True, exist_ok=True)
        if os.stat(store).st_dev != os.stat(venv_dir).st_dev:
            return False
        if shutil.disk_usage(store).free < MIN_FREE:
            return False
        dest = store / key(fp)
        if dest.exists():
            shutil.rmtree(dest)
        (venv_dir / venvlayout.COMPLETE_MARK).unlink(missing_ok=True)
        os.replace(venv_dir, dest)
        (dest / INFO).write_text(json.dumps({"path": str(live), "kept_at": time.time()}), encoding="utf-8")
    except OSError:
        return False
    _evict(store)
    return True


def take(project_root: Path, fp: fingerprint.Fingerprint, live: Path) -> Path | None:
    """A kept venv for `fp` that was live at `live`, or None."""
    if limit() == 0:
        return None
    cand = folder(project_root) / key(fp)
    try:
        info = json.loads((cand / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("path") != str(live) or fingerprint.read(cand) != fp or not venvlayout.looks_usable(cand):
        return None
    return cand


def forget(path: Path) -> None:
    (path / INFO).unlink(missing_ok=True)


def _evict(store: Path) -> None:
    entries = []
    for entry in store.iterdir():
        try:
            entries.append(((entry / INFO).stat().st_mtime, entry))
        except OSError:
            shutil.rmtree(entry, ignore_errors=True)  # half-kept or foreign: not a usable venv
    for _, entry in sorted(entries, reverse=True)[limit():]:
        shutil.rmtree(entry, ignore_errors=True)


def clear(project_root: Path) -> int:
    """Remove every kept venv of the project; how many there were."""
    store = folder(project_root)
    if not store.is_dir():
        return 0
    entries = list(store.iterdir())
    for entry in entries:
        shutil.rmtree(entry, ignore_errors=True)
    return len(entries)
