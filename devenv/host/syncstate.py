"""What devenv remembers about syncs to each guest, in the project's state folder.

- the manifest: every file we last sent (relpath -> [size, mtime ns]); a guest copy that no longer
  matches it was changed on the guest, which is how conflicts are told from our own earlier sends;
- the last sync record (time, counts, conflicts), for `doctor` and `guest list`.
Both are written atomically; the manifest is read only when a run touched existing guest files.
"""

from __future__ import annotations

import array
import json
import os
import struct
import sys
from pathlib import Path
from typing import Any

from devenv import fsutil, paths

Manifest = dict[str, list[int]]
# The manifest's file, sync-NAME.files (format 2), binary: MAGIC, then the file count and the byte length of
# the names (two little-endian uint64), the names joined by NUL (UTF-8; a name that is not UTF-8 keeps its
# bytes, via surrogateescape), then three columns of little-endian integers: sizes (int64), mtime seconds
# (int64) and the mtime's nanoseconds (int32). The first format, one JSON object of path -> [size, ns] in
# sync-NAME.manifest.json, is still read. Writing that was the biggest part of what a 100,000-file first sync
# did after rsync ended (~45 ms: a list object per file, then 300,000 numbers through the JSON encoder, and
# it could not store a name that is not UTF-8); this takes a few ms.
MAGIC = b"devenv sync manifest 2\n"
_HEAD = struct.Struct("<QQ")
_COLUMNS = ("q", "q", "i")  # array type codes: 8, 8 and 4 bytes


def _file(project_root: Path, guest_name: str, kind: str) -> Path:
    return paths.project_state(project_root) / f"sync-{guest_name}.{kind}.json"


def _files(project_root: Path, guest_name: str) -> Path:
    return paths.project_state(project_root) / f"sync-{guest_name}.files"


def has_manifest(project_root: Path, guest_name: str) -> bool:
    return _files(project_root, guest_name).exists() or _file(project_root, guest_name, "manifest").exists()


def load_manifest(project_root: Path, guest_name: str) -> Manifest:
    """path -> [size, mtime ns]; {} when there is none or it cannot be read: then every guest copy we replace
    counts as a conflict (kept, reported), which loses nothing."""
    try:
        data = _files(project_root, guest_name).read_bytes()
    except FileNotFoundError:
        return _load_first_format(project_root, guest_name)
    except OSError:
        return {}
    try:
        if not data.startswith(MAGIC):
            return {}
        at = len(MAGIC)
        count, size = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        names = data[at:at + size].decode("utf-8", "surrogateescape").split("\0") if count else []
        at += size
        columns = []
        for code in _COLUMNS:
            column = array.array(code)
            end = at + count * column.itemsize
            column.frombytes(data[at:end])
            at = end
            if sys.byteorder == "big":
                column.byteswap()
            columns.append(column.tolist())
        sizes, seconds, nanos = columns
        if at != len(data) or not count == len(names) == len(nanos):
            return {}
        return {path: [size, sec * 1_000_000_000 + nano]
                for path, size, sec, nano in zip(names, sizes, seconds, nanos, strict=True)}
    except (struct.error, ValueError):
        return {}


def _load_first_format(project_root: Path, guest_name: str) -> Manifest:
    try:
        data = json.loads(_file(project_root, guest_name, "manifest").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_manifest(project_root: Path, guest_name: str, manifest: Manifest) -> None:
    names = list(manifest)
    values = manifest.values()
    save_lists(project_root, guest_name, names, [v[0] for v in values], [v[1] // 1_000_000_000 for v in values],
               {i: v[1] for i, v in enumerate(values) if v[1] % 1_000_000_000})


def save_lists(
    project_root: Path, guest_name: str, names: list[str], sizes: list[int], seconds: list[int],
    nanos: dict[int, int], more: Manifest | None = None,
) -> None:
    """The manifest from parallel lists (rsync.NewFiles): nanos maps an index to that file's ns mtime, where
    known (else its whole second); `more` adds entries (path -> [size, ns]) after them."""
    fraction = [0] * len(names)
    for i, ns in nanos.items():
        fraction[i] = ns % 1_000_000_000
    if more:
        names = names + list(more)
        sizes = sizes + [v[0] for v in more.values()]
        seconds = seconds + [v[1] // 1_000_000_000 for v in more.values()]
        fraction += [v[1] % 1_000_000_000 for v in more.values()]
    blob = [MAGIC, b"", "\0".join(names).encode("utf-8", "surrogateescape")]
    blob[1] = _HEAD.pack(len(names), len(blob[2]))
    for code, values in zip(_COLUMNS, (sizes, seconds, fraction), strict=True):
        column = array.array(code, values)
        if sys.byteorder == "big":
            column.byteswap()
        blob.append(column.tobytes())
    fsutil.atomic_write(_files(project_root, guest_name), b"".join(blob))
    _file(project_root, guest_name, "manifest").unlink(missing_ok=True)  # the first format's, now stale


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
    _files(project_root, guest_name).unlink(missing_ok=True)
    for kind in ("manifest", "last"):
        _file(project_root, guest_name, kind).unlink(missing_ok=True)
