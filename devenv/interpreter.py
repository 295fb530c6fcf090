"""Choosing the Python a venv is built with: the project's floor decides, `--python` overrides."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from devenv import proc
from devenv.errors import ConfigError, ToolMissing, UsageError

_PROBE = "import sys, platform; print(sys.executable); print(platform.python_version())"


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # '3.11.7'


def floor_spec(floor: str | None) -> SpecifierSet:
    try:
        return SpecifierSet(floor or "")
    except InvalidSpecifier as exc:
        raise ConfigError(f"the project's Python requirement {floor!r} is not a valid version specifier",
                          "fix requires-python / python_requires (e.g. '>=3.10')") from exc


def probe(command: str) -> Interpreter | None:
    """Ask an interpreter for its real path and version; None if it does not run."""
    exe = command if os.sep in command else shutil.which(command)
    if not exe:
        return None
    try:
        r = proc.run([exe, "-c", _PROBE], timeout=20, what=command)
    except (ToolMissing, proc.Timeout, OSError):
        return None
    lines = r.stdout.split()
    if not r.ok or len(lines) < 2:
        return None
    return Interpreter(lines[0], lines[1])


def candidates() -> list[str]:
    """python3 first (what tox's py3 uses), then versioned names, then pyenv's and uv's own installs."""
    names = [f"python3.{minor}" for minor in range(20, 9, -1)]
    managed: list[str] = []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    uv_dir = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local" / "share" / "uv" / "python")
    for folder in (pyenv, uv_dir):
        if folder.is_dir():
            managed.extend(str(p) for p in sorted(folder.glob("*/bin/python3"), reverse=True))
    return ["python3", *names, *managed, sys.executable]


def choose(floor: str | None, requested: str | None = None) -> Interpreter:
    spec = floor_spec(floor)
    if requested:
        command = requested
        if re.fullmatch(r"\d+\.\d+", requested):
            command = f"python{requested}"
        found = probe(command)
        if found is None:
            raise ToolMissing(f"--python {requested}: no working interpreter found",
                              "give a path to a python executable or a version such as 3.11 that is on PATH")
        if not spec.contains(found.version, prereleases=True):
            raise UsageError(f"--python {requested} is Python {found.version}, but the project needs {floor}")
        return found
    seen: list[Interpreter] = []
    for command in candidates():
        found = probe(command)
        if found is None or any(s.path == found.path for s in seen):
            continue
        if spec.contains(found.version, prereleases=True):
            return found
        seen.append(found)
    listing = ", ".join(f"{i.version} ({i.path})" for i in seen) or "none"
    raise ToolMissing(f"no installed Python satisfies the project's requirement {floor or '(any)'}; found: {listing}",
                      "install a suitable Python (e.g. apt-get install python3.11, or pyenv/uv python install) "
                      "or pass --python PATH")


def from_venv(venv: Path) -> Interpreter | None:
    """The interpreter an existing venv was made with, read from pyvenv.cfg (no process started)."""
    from devenv import venvlayout

    found = venvlayout.version(venv)
    if found is None or not venvlayout.looks_usable(venv):
        return None
    return Interpreter(str(venvlayout.python(venv)), found)
