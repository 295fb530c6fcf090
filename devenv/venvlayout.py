"""The venv's layout on disk, in one place: its folder name, the sibling names a rebuild and a swap use,
where its interpreter and scripts are, and the Python version pyvenv.cfg records. Read from files,
never by starting Python (the no-op path and the IDE step stay fast)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

NAME = ".venv"  # <project>/.venv
NEW_SUFFIX = ".devenv-new"  # a rebuild happens here, beside the venv in use
OLD_SUFFIX = ".devenv-old"  # the previous venv, during the two renames of a swap
COMPLETE_MARK = "devenv-complete"  # written into a new venv once it is fully built and relocated


def of(project_root: Path) -> Path:
    return project_root / NAME


def new_of(venv: Path) -> Path:
    return venv.with_name(venv.name + NEW_SUFFIX)


def old_of(venv: Path) -> Path:
    return venv.with_name(venv.name + OLD_SUFFIX)


def scripts_dir(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin")


def python(venv: Path) -> Path:
    return scripts_dir(venv) / ("python.exe" if sys.platform == "win32" else "python")


def version(venv: Path) -> str | None:
    """'X.Y.Z' from pyvenv.cfg: `version_info` (uv, virtualenv: '3.11.7' or '3.11.7.final.0') or `version`
    (the stdlib venv); None when there is no readable pyvenv.cfg."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    raw = values.get("version_info") or values.get("version") or ""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", raw)
    if not match:
        return None
    return f"{match.group(1)}.{match.group(2)}.{match.group(3) or '0'}"


def looks_usable(venv: Path) -> bool:
    """pyvenv.cfg and an interpreter that exists (exists() follows the symlink: a removed base Python shows)."""
    return (venv / "pyvenv.cfg").is_file() and python(venv).exists()
