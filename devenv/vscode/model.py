"""What devenv puts in VS Code's files, decided from the Project (no JSON text here).

Facts from the Python extension's sources (microsoft/vscode-python) and docs:
- `python.defaultInterpreterPath` is read only the first time the extension opens a workspace; later
  changes are ignored (doctor says how to switch). `${workspaceFolder}/.venv/bin/python` survives a move.
- The Testing view runs `python_files/unittestadapter/discovery.py --udiscovery <unittestArgs>` (it takes
  `-s`, `-p`, `-t`: pvsc_utils.parse_unittest_args) or pytest with `<pytestArgs>`, in `python.testing.cwd`
  or the workspace folder, with `python.envFile` loaded (common/variables/environment.ts parseEnvFile).
- stestr projects: unittest discovery from the `.stestr.conf` test_path, `-t .` so ids are dotted from the
  root as stestr's are; pytest projects (horizon, swift): the options tox passes.
- debugpy (`"type": "debugpy"`) has no eventlet mode (microsoft/debugpy#1048); `"gevent": true` is the
  workaround for eventlet projects. A configuration with `"purpose": ["debug-test"]` is the one the Testing
  view debugs a test with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import venvlayout
from devenv.ide import runconfigs

if TYPE_CHECKING:
    from devenv.project import Project

FOLDER = ".vscode"
TEST_ENV = "devenv-test.env"  # python.envFile: tests, the Testing view, the debug-test configuration
RUN_ENV = "devenv-run.env"  # console scripts: tox's setenv less the test-only settings
DEBUG_TEST = "Debug tests (devenv)"
RULER = 79  # hacking's (pycodestyle's) and doc8's line length: OpenStack's pep8 env checks both
# The folders nobody edits: hidden from the explorer and search, and not watched (nova's .tox alone is
# hundreds of thousands of files, past inotify's default limit).
EXCLUDED = (".venv", ".tox", ".stestr", "*.egg-info")

GEVENT_NOTE = ("devenv: \"gevent\": true is the workaround for eventlet code: debugpy has no eventlet mode "
               "(microsoft/debugpy#1048, \"cannot switch to a different thread\")")

Key = tuple[str, ...]  # a path of object keys: ("files.exclude", "**/.venv")


@dataclass(frozen=True)
class Plan:
    settings: dict[Key, Any]  # owned setting -> value
    launch: tuple[dict[str, Any], ...]  # owned launch configurations (each identified by its "name")
    env_files: dict[str, str] = field(default_factory=dict)  # '.vscode'-relative file -> text
    eventlet: bool = False
    notes: tuple[str, ...] = ()  # hints for the user


def interpreter_setting(project: Project, venv: Path) -> str:
    """The project's own .venv relative to the folder (survives moving the checkout); else absolute."""
    try:
        rel = venvlayout.python(venv).relative_to(project.root)
    except ValueError:
        return str(venvlayout.python(venv))
    return "${workspaceFolder}/" + rel.as_posix()


def _venv_path(project: Project, venv: Path, *parts: str) -> str:
    try:
        rel = venv.relative_to(project.root)
    except ValueError:
        return "/".join([str(venv), *parts])
    return "/".join(["${workspaceFolder}", rel.as_posix(), *parts])


def _dot(path: str) -> str:
    rel = path.strip("/").removeprefix("./")
    return "." if rel in ("", ".") else "./" + rel


def _modules_in(folder: Path) -> set[str]:
    """The top-level names a folder provides when it is on sys.path (namespace folders never shadow)."""
    names: set[str] = set()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return names
    for entry in entries:
        if entry.suffix in (".py", ".so", ".pyd") and entry.is_file():
            names.add(entry.name.split(".", 1)[0])
        elif (entry / "__init__.py").is_file():
            names.add(entry.name)
    return names


def _importable(venv: Path) -> set[str]:
    """Every top-level module the tests could import by name: the standard library's and the venv's."""
    import sys

    from devenv import installed

    names = set(getattr(sys, "stdlib_module_names", ()))
    site = installed.site_packages(venv)
    if site is not None:
        names |= {n for n in _modules_in(site) if n != "__pycache__"}
        names |= {e.name for e in _dirs(site)}
    return names


def _dirs(folder: Path) -> list[Path]:
    try:
        return [e for e in folder.iterdir() if e.is_dir() and not e.name.endswith((".dist-info", ".egg-info"))
                and e.name != "__pycache__"]
    except OSError:
        return []


def start_folder(project: Project, venv: Path, test_path: str) -> tuple[str, list[str]]:
    """The unittest start folder for the Testing view, and the names that made devenv widen it.

    The extension's discovery.py and execution.py put `dirname(start_dir)` first on sys.path. Below nova's
    package that folder has `fixtures/` (nova/tests and nova/tests/unit both do; placement/tests has
    fixtures.py), which then hides the `fixtures` library from every test. So the start is the suite's
    folder when its parent hides nothing the standard library or the venv provides; else the nearest folder
    above whose parent is safe (the project root always is: discover() puts it on sys.path anyway)."""
    rel = Path(test_path.strip("/").removeprefix("./") or ".")
    importable = _importable(venv)
    hidden: list[str] = []
    while rel != Path("."):
        clash = sorted(_modules_in(project.root / rel.parent) & importable) if rel.parent != Path(".") else []
        if not clash:
            return _dot(rel.as_posix()), hidden
        hidden += [f"{(rel.parent / n).as_posix()}" for n in clash if f"{(rel.parent / n).as_posix()}" not in hidden]
        rel = rel.parent
    return ".", hidden


def test_settings(project: Project, venv: Path | None = None,
                  start: tuple[str, list[str]] | None = None) -> dict[Key, Any]:
    """Test discovery for the main suite, as tox runs it. start: start_folder()'s answer, when known."""
    runner = project.unit_env.runner
    if runner.kind in ("stestr", "unittest"):
        folder, hidden = start or start_folder(project, venv or project.venv, runner.test_path or ".")
        args = ["-v", "-s", folder, "-t", _dot(runner.top_dir or ".")]
        # Started above the suite, discovery also walks the package's own modules: nova/test.py matches
        # unittest's default test*.py, and loading its abstract base TestCase stops all discovery.
        pattern = _option(runner.args, "-p", "--pattern") or ("test_*.py" if hidden else None)
        if pattern:
            args += ["-p", pattern]
        return {("python.testing.unittestEnabled",): True, ("python.testing.pytestEnabled",): False,
                ("python.testing.unittestArgs",): args}
    if runner.kind == "pytest":
        args = list(runner.args)
        if runner.test_path:
            args.append(_dot(runner.test_path))
        return {("python.testing.pytestEnabled",): True, ("python.testing.unittestEnabled",): False,
                ("python.testing.pytestArgs",): args}
    return {}  # a runner devenv cannot read: the user's choice stands


def _option(args: tuple[str, ...], *names: str) -> str | None:
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            return args[i + 1]
        for n in names:
            if n.startswith("--") and a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def settings(project: Project, venv: Path, *, interpreter: str | None = None,
             start: tuple[str, list[str]] | None = None) -> dict[Key, Any]:
    out: dict[Key, Any] = {
        ("python.defaultInterpreterPath",): interpreter or interpreter_setting(project, venv),
        ("python.envFile",): "${workspaceFolder}/" + f"{FOLDER}/{TEST_ENV}",
    }
    out.update(test_settings(project, venv, start))
    for name in EXCLUDED:
        out[("files.exclude", f"**/{name}")] = True
        out[("search.exclude", f"**/{name}")] = True
        out[("files.watcherExclude", f"**/{name}/**")] = True
    out[("editor.rulers",)] = [RULER]
    return out


def _gevent(project: Project, config: dict[str, Any]) -> dict[str, Any]:
    if project.uses_eventlet:
        config["gevent"] = True
    return config


def launch(project: Project, venv: Path) -> tuple[dict[str, Any], ...]:
    """One configuration per console script (the venv's generated script, as the service runs), and the
    configuration the Testing view debugs a test with."""
    out: list[dict[str, Any]] = []
    env_file = "${workspaceFolder}/" + f"{FOLDER}/"
    for name in sorted(project.console_scripts):
        out.append(_gevent(project, {
            "name": name, "type": "debugpy", "request": "launch",
            "program": _venv_path(project, venv, venvlayout.scripts_dir(venv).name, name), "args": [],
            "console": "integratedTerminal", "justMyCode": False, "envFile": env_file + RUN_ENV,
        }))
    if project.unit_env.runner.kind:
        debug: dict[str, Any] = {
            "name": DEBUG_TEST, "type": "debugpy", "request": "launch", "purpose": ["debug-test"],
            "console": "integratedTerminal", "justMyCode": False, "envFile": env_file + TEST_ENV,
        }
        if runconfigs.factory_for(project.unit_env.runner) == runconfigs.UNITTESTS:
            # no per-test timeout or output capture while stopped at a breakpoint (as the PyCharm twin)
            debug["env"] = dict(runconfigs.DEBUG_ENV)
        out.append(_gevent(project, debug))
    return tuple(out)


def plan(project: Project, venv: Path, *, interpreter: str | None = None) -> Plan:
    from devenv.vscode import envfile

    test_env = runconfigs.environment(project, project.unit_env)
    runner = project.unit_env.runner
    start = start_folder(project, venv, runner.test_path or ".") if runner.kind in ("stestr", "unittest") else None
    return Plan(
        settings=settings(project, venv, interpreter=interpreter, start=start),
        launch=launch(project, venv),
        env_files={TEST_ENV: envfile.render(test_env, "tests (python.envFile): tox's setenv of "
                                            f"[{project.unit_env.name}]"),
                   RUN_ENV: envfile.render(runconfigs.runtime_environment(project),
                                           "console scripts: tox's setenv less the test-only settings")},
        eventlet=project.uses_eventlet,
        notes=tuple(_notes(project, start)),
    )


def _notes(project: Project, start: tuple[str, list[str]] | None) -> list[str]:
    """What the Testing view will show differently from tox, and why (said by init and `devenv ide`)."""
    runner = project.unit_env.runner
    out = []
    if start is not None and start[1]:
        out.append(f"VS Code's Testing view starts discovery at {start[0]}, not {runner.test_path}: its unittest "
                   f"adapter puts the start folder's parent first on sys.path, where {', '.join(start[1])} would "
                   "hide the module of that name (so it also lists the other suites under it, and their import "
                   "errors when the venv lacks what they need)")
    if runner.kind == "pytest" and len(project.unit_env.suites) > 1:
        out.append(f"VS Code's Testing view runs one pytest configuration: the main suite ({runner.test_path or '.'})"
                   "; the others run with `tox` or PyCharm's configurations")
    return out
