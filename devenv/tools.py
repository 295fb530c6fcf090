"""devenv's own tools venv: tox (what PyCharm's Tox configurations run), pre-commit and git-review.

Kept apart from the project's venv on purpose: the project venv is synced exactly to the project's
requirements (an exact sync would remove them on the next requirements change), and the tools' own
dependencies (virtualenv, packaging, platformdirs, ...) must not be held back by the project's
constraints, nor hold the project's back. One tools venv per Python X.Y, shared by every project, under
<state>/tools (DEVENV_TOOLS_HOME overrides). It is registered in PyCharm as its own interpreter, which
the Tox configurations name (PyCharm runs its tox helper with the configuration's interpreter, so that
interpreter must import tox).

A build writes its marker file last: a folder without one (an interrupted build) is built again from
nothing; a finished one is reused as it is (`devenv tools --upgrade` is not needed: `rm -r` the folder).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, lock, paths, proc
from devenv.errors import DevenvError, InstallError

TOOLS = ("tox", "pre-commit", "git-review")
REQUIREMENTS = ("tox>=4", "pre-commit", "git-review")
MARKER = "devenv-tools.json"
BUILD_TIMEOUT = 900.0


@dataclass(frozen=True)
class Tools:
    root: Path
    version: str  # X.Y

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    @property
    def sdk_name(self) -> str:
        return f"devenv tools (Python {self.version})"


def home() -> Path:
    env = os.environ.get("DEVENV_TOOLS_HOME")
    return Path(env) if env else paths.state_home() / "tools"


def _folder(version: str) -> Path:
    return home() / f"py{version}"


def _ready(root: Path) -> bool:
    try:
        data = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and sorted(data.get("tools", [])) == sorted(TOOLS)
            and all((root / "bin" / t).exists() for t in TOOLS) and (root / "bin" / "python").exists())


def find(version: str | None) -> Tools | None:
    """The finished tools venv for Python X.Y, without building anything."""
    if not version:
        return None
    xy = ".".join(version.split(".")[:2])
    root = _folder(xy)
    return Tools(root, xy) if _ready(root) else None


def ensure(python: Path, version: str, rep: object | None = None) -> Tools:
    """The tools venv for this interpreter's X.Y, built when missing. Raises InstallError (with what to run)
    when it cannot be built; the caller decides how much that matters."""
    xy = ".".join(version.split(".")[:2])
    found = find(xy)
    if found is not None:
        return found
    root = _folder(xy)
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f"cannot create devenv's tools folder {root.parent}: {exc.strerror or exc}",
                           "make it writable, or point DEVENV_TOOLS_HOME at a folder you own") from exc
    # Two projects' inits may build it at once: one builds, the other waits and then reuses it.
    with lock.project_lock(root.parent / f".py{xy}.lock", timeout=BUILD_TIMEOUT):
        found = find(xy)
        if found is not None:
            return found
        _build(python, root)
    return Tools(root, xy)


def _build(python: Path, root: Path) -> None:
    from virtualenv import cli_run

    shutil.rmtree(root, ignore_errors=True)
    try:
        cli_run(["--quiet", "-p", str(python), "--no-setuptools", "--", str(root)], setup_logging=False)
    except (Exception, SystemExit) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise InstallError(f"could not create devenv's tools venv {root}: {exc}",
                           "check the interpreter, then run `devenv init` again") from exc
    from devenv import installer

    kind, uv = installer.choose("auto")
    if kind == "uv":
        argv = [uv or "uv", "pip", "install", "--python", str(root / "bin" / "python"), *REQUIREMENTS]
    else:
        argv = [str(root / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", *REQUIREMENTS]
    log_dir = paths.state_home() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"tools-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.write_text(f"$ {' '.join(argv)}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PIP_CONSTRAINT", "UV_CONSTRAINT")}
    result = proc.stream(argv, timeout=BUILD_TIMEOUT, log_path=log, echo=False, env=env, cwd=root,
                         what=f"{kind} install")
    if not result.ok:
        shutil.rmtree(root, ignore_errors=True)
        raise installer.explain(result.stdout, log, "nothing was left half-installed")
    missing = [t for t in TOOLS if not (root / "bin" / t).exists()]
    if missing:
        raise DevenvError(f"devenv's tools venv {root} lacks {', '.join(missing)} after the install",
                          f"see {log}")
    fsutil.atomic_write(root / MARKER, json.dumps({"tools": list(TOOLS), "requirements": list(REQUIREMENTS)}) + "\n")
