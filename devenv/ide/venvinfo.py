"""What the IDE needs to know about the project's venv, read from files (never by starting Python)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VenvInfo:
    python: Path  # the interpreter binary PyCharm should use (bin/python, Scripts\python.exe)
    version: str | None  # 'X.Y.Z' from pyvenv.cfg, None when there is no venv yet

    @property
    def short(self) -> str | None:
        return ".".join(self.version.split(".")[:2]) if self.version else None


def interpreter(venv: Path) -> Path:
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def scripts_dir(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin")


def read(venv: Path) -> VenvInfo:
    """pyvenv.cfg carries `version_info` (uv, virtualenv: '3.11.7' or '3.11.7.final.0') or `version` (venv)."""
    python = interpreter(venv)
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return VenvInfo(python, None)
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    raw = values.get("version_info") or values.get("version") or ""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", raw)
    if not match:
        return VenvInfo(python, None)
    major, minor, micro = match.group(1), match.group(2), match.group(3) or "0"
    return VenvInfo(python, f"{major}.{minor}.{micro}")


def same_interpreter(a: str, b: Path) -> bool:
    """Paths name the same interpreter: equal after normalising, or the same venv folder resolved."""
    pa, pb = os.path.normpath(a), os.path.normpath(str(b))
    if pa == pb:
        return True
    try:
        return (os.path.basename(pa) == os.path.basename(pb)
                and os.path.realpath(os.path.dirname(pa)) == os.path.realpath(os.path.dirname(pb)))
    except OSError:
        return False
