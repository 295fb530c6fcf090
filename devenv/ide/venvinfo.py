"""What the IDE needs to know about the project's venv, read from files (never by starting Python)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from devenv import venvlayout


@dataclass(frozen=True)
class VenvInfo:
    python: Path  # the interpreter binary PyCharm should use (bin/python, Scripts\python.exe)
    version: str | None  # 'X.Y.Z' from pyvenv.cfg, None when there is no venv yet

    @property
    def short(self) -> str | None:
        return ".".join(self.version.split(".")[:2]) if self.version else None


def interpreter(venv: Path) -> Path:
    return venvlayout.python(venv)


def scripts_dir(venv: Path) -> Path:
    return venvlayout.scripts_dir(venv)


def read(venv: Path) -> VenvInfo:
    return VenvInfo(venvlayout.python(venv), venvlayout.version(venv))


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
