"""VS Code health for `devenv doctor`: settings.json and launch.json are JSONC VS Code can read, the
interpreter they name exists, the env file the tests load is there, and how to switch interpreters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from devenv import jsonc, venvlayout
from devenv.findings import Finding
from devenv.vscode import model

if TYPE_CHECKING:
    from devenv.project import Project

FIX = "devenv ide --ide vscode"
# python.defaultInterpreterPath is read once, when the Python extension first opens the folder
SELECT = "in VS Code: Command Palette > 'Python: Select Interpreter' > {python}"


def check(project: Project) -> list[Finding]:
    folder = project.root / model.FOLDER
    settings, found = _read(folder / "settings.json", "vscode.settings")
    out = [found]
    if settings is not None:
        out += _interpreter(project, settings)
        out.append(_env_file(project, settings))
    out.append(_read(folder / "launch.json", "vscode.launch")[1])
    return out


def _read(path: Path, check: str) -> tuple[dict | None, Finding]:
    if not path.is_file():
        return None, Finding(check, "fail", f"{path} is missing", "VS Code has no devenv setup for this project", FIX)
    try:
        data = jsonc.loads(path.read_text(encoding="utf-8"), path=str(path))
    except jsonc.JsoncError as exc:
        return None, Finding(check, "fail", exc.message, "VS Code ignores a file it cannot parse",
                             "fix the file at that line and column, then " + FIX)
    except (OSError, UnicodeDecodeError) as exc:
        return None, Finding(check, "fail", f"cannot read {path}: {exc}", "", FIX)
    if not isinstance(data, dict):
        return None, Finding(check, "fail", f"{path}: the top level is not an object", "", FIX)
    return data, Finding(check, "ok", f"{path.name} is valid JSONC")


def _interpreter(project: Project, settings: dict) -> list[Finding]:
    value = settings.get("python.defaultInterpreterPath")
    python = venvlayout.python(project.venv)
    select = SELECT.format(python=python)
    if not isinstance(value, str):
        return [Finding("vscode.interpreter", "warn", "settings.json names no interpreter",
                        "the Testing view and the debugger use whatever VS Code picked", select)]
    resolved = Path(value.replace("${workspaceFolder}", str(project.root)))
    if not resolved.exists():
        return [Finding("vscode.interpreter", "fail", f"python.defaultInterpreterPath {value} does not exist",
                        "tests and launch configurations cannot start",
                        f"devenv init (builds the venv); then {select}")]
    message = (f"python.defaultInterpreterPath {value} exists; VS Code reads it only the first time it opens "
               f"the folder: if the venv moved or VS Code shows another interpreter, {select}")
    status = "ok"
    if resolved.resolve() != python.resolve():
        status, message = "warn", f"python.defaultInterpreterPath {value} is not the project's venv ({python})"
    return [Finding("vscode.interpreter", status, message, "", select if status != "ok" else "")]


def _env_file(project: Project, settings: dict) -> Finding:
    value = settings.get("python.envFile", "${workspaceFolder}/.env")
    path = Path(str(value).replace("${workspaceFolder}", str(project.root)))
    if path.is_file():
        return Finding("vscode.envfile", "ok", f"python.envFile {value} exists")
    return Finding("vscode.envfile", "fail", f"python.envFile {value} is missing",
                   "tests run without tox's setenv (and eventlet projects without EVENTLET_NO_GREENDNS)", FIX)
