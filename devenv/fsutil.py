"""Atomic writes and backups: nothing devenv writes is ever half-written, nothing it replaces is lost."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from pathlib import Path

from devenv.errors import DevenvError


def atomic_write(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Write via a temp file in the same folder, fsync, then os.replace over the target.

    A symlink is written through, to the file it points at: dotfile managers link jdk.table.xml and
    shell files, and replacing the link with a regular file would silently detach it from the user's repo.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quiet(tmp)
        raise _write_error(path, exc) from exc
    except BaseException:
        _unlink_quiet(tmp)
        raise


def backup(path: Path, backup_dir: Path | None = None) -> Path | None:
    """Copy `path` to a timestamped sibling (or into backup_dir) before it is changed. Returns the copy."""
    path = Path(path)
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target_dir = backup_dir or path.parent
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{path.name}.devenv-backup-{stamp}"
    n = 1
    while target.exists():
        target = target_dir / f"{path.name}.devenv-backup-{stamp}-{n}"
        n += 1
    try:
        shutil.copy2(path, target)
    except OSError as exc:
        raise _write_error(target, exc) from exc
    return target


def _unlink_quiet(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _write_error(path: Path, exc: OSError) -> DevenvError:
    if exc.errno == errno.ENOSPC:
        return DevenvError(f"no space left on the device while writing {path}", "free some disk space and run again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DevenvError(
            f"cannot write {path}: {exc.strerror}", "check the folder's permissions (is it read-only?)"
        )
    return DevenvError(f"cannot write {path}: {exc.strerror or exc}")
