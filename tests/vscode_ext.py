"""What VS Code's Python extension and its debugger do with the files devenv writes (VS Code cannot run here).

Followed from their sources; each step cites the file:
- settings are read as JSONC by an independent parser (the `jsonc` package of json-with-comments), never
  devenv's own, so a file only devenv can read fails here as it would in VS Code;
- `${workspaceFolder}` is the folder opened (common/variables/systemVariables.ts);
- the env file is parsed as microsoft/vscode-python src/client/common/variables/environment.ts does
  (parseEnvFile/parseEnvLine/substituteEnvVars, ported below), and wins over the process environment
  (environmentVariablesProvider.ts: the file's variables, then mergeVariables fills only what is unset,
  and the process's PATH and PYTHONPATH are appended to the file's);
- unittest discovery and runs are python_files/unittestadapter/discovery.py and execution.py with
  `--udiscovery <unittestArgs>` in `python.testing.cwd` or the folder (testDiscoveryAdapter.ts): arguments
  parsed as pvsc_utils.parse_unittest_args (-s, -p, -t), `dirname(start_dir)` put first on sys.path when
  start_dir has a '/', `TestLoader().discover(start_dir, pattern, top_level_dir)`, `_FailedTest` ids are
  discovery errors; a run discovers from `abspath(start_dir)` and keeps the ids asked for (filter_tests);
- pytest is `python -m pytest --collect-only <pytestArgs>` / `python -m pytest <pytestArgs> <ids>` in the
  same folder, with `--rootdir` the cwd (vscode_pytest's plugin only reports what pytest collects);
- a launch configuration is run as debugpy's launcher runs it (src/debugpy/launcher/handlers.py
  launch_request): the process environment updated with the configuration's `env` (the debugger extension
  has merged `envFile` under it), `GEVENT_SUPPORT=True` when `"gevent": true`, then `python program args`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonc as vscode_jsonc  # json-with-comments: the independent JSONC reader


def read_jsonc(path: Path) -> Any:
    return vscode_jsonc.loads(path.read_text(encoding="utf-8"))


def settings(folder: Path) -> dict[str, Any]:
    path = folder / ".vscode" / "settings.json"
    return read_jsonc(path) if path.is_file() else {}


def expand(value: str, folder: Path) -> str:
    return value.replace("${workspaceFolder}", str(folder))


# -- environment.ts, ported: parseEnvLine's regex and quote handling, substituteEnvVars' rules
_LINE = re.compile(r"^\s*([a-zA-Z]\w*)\s*=\s*(.*?)?\s*$")
_SUBST = re.compile(r"\$\{([a-zA-Z]\w*)?([^}\w].*)?\}")


def parse_env_file(text: str, base: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.split("\n"):
        m = _LINE.match(line)
        if not m:
            continue
        name, value = m.group(1), m.group(2) or ""
        if value and value[0] == value[-1] and value[0] in "'\"" and len(value) >= 2:
            value = value[1:-1].replace("\\n", "\n")
        found[name] = _substitute(value, found, base)
    return found


def _substitute(value: str, local: dict[str, str], base: dict[str, str]) -> str:
    invalid = False

    def repl(m: re.Match[str]) -> str:
        nonlocal invalid
        if m.start() > 0 and value[m.start() - 1] == "\\":
            return m.group(0)
        if m.group(2) or not m.group(1):
            invalid = True
            return m.group(0)
        return local.get(m.group(1)) or base.get(m.group(1)) or ""

    replaced = _SUBST.sub(repl, value)
    if not invalid:
        value = replaced
    return value.replace("\\$", "$")


def environment(folder: Path, env_file: str | None, parent: dict[str, str] | None = None) -> dict[str, str]:
    parent = dict(os.environ if parent is None else parent)
    if not env_file:
        return parent
    path = Path(expand(env_file, folder))
    found = parse_env_file(path.read_text(encoding="utf-8"), parent) if path.is_file() else {}
    # environmentVariablesProvider.ts _getEnvironmentVariables: the file's variables, the process's filling
    # what is unset except PATH and PYTHONPATH, which are appended to the file's (appendPath/appendPythonPath)
    merged = {**{k: v for k, v in parent.items() if k not in ("PATH", "PYTHONPATH")}, **found}
    for name in ("PATH", "PYTHONPATH"):
        if parent.get(name):
            merged[name] = os.pathsep.join(p for p in (found.get(name, ""), parent[name]) if p)
    return merged


def ide_env() -> dict[str, str]:
    """The editor's own environment: this one, less what only the test session sets."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}


def interpreter(folder: Path) -> str:
    return expand(settings(folder)["python.defaultInterpreterPath"], folder)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    tests: list[str]
    errors: list[str]
    outcomes: dict[str, str]


# What discovery.py and execution.py do, run in the configured interpreter (argument handling as
# pvsc_utils.parse_unittest_args; sys.path and discover() as discover_tests/run_tests).
_UNITTEST = r'''
import argparse, json, os, sys, unittest
mode, ids_file = sys.argv[1], sys.argv[2]
p = argparse.ArgumentParser()
p.add_argument("--start-directory", "-s", default=".")
p.add_argument("--pattern", "-p", default="test*.py")
p.add_argument("--top-level-directory", "-t", default=None)
p.add_argument("--failfast", "-f", action="store_true", default=None)
p.add_argument("--verbose", "-v", action="store_true", default=None)
p.add_argument("-q", "--quiet", action="store_true", default=None)
p.add_argument("--locals", action="store_true", default=None)
a, _ = p.parse_known_args(sys.argv[3:])
start, pattern, top = a.start_directory, a.pattern, a.top_level_directory
cwd = os.path.abspath(start)
sys.path.insert(0, os.path.dirname(start) if "/" in start else cwd)
def cases(suite):
    for t in suite:
        if isinstance(t, unittest.TestCase):
            yield t
        else:
            yield from cases(t)
loader = unittest.TestLoader()
if mode == "discover":
    suite = loader.discover(start, pattern, top)
    ids, errors = [], []
    for t in cases(suite):
        if t.id().startswith("unittest.loader._FailedTest"):
            errors.append(str(t._exception))
        else:
            ids.append(t.id())
    print(json.dumps({"tests": ids, "errors": errors}))
else:
    wanted = open(ids_file, encoding="utf-8").read().splitlines()
    suite = loader.discover(cwd, pattern, top)
    keep = unittest.TestSuite([t for t in cases(suite) if t.id() in wanted])
    found = {t.id() for t in cases(keep)}
    missing = [i for i in wanted if i not in found]
    if missing:
        keep.addTests(loader.loadTestsFromNames(missing))
    class R(unittest.TextTestResult):
        outcomes = {}
        def addSuccess(self, t): super().addSuccess(t); R.outcomes[t.id()] = "success"
        def addFailure(self, t, e): super().addFailure(t, e); R.outcomes[t.id()] = "failure"
        def addError(self, t, e): super().addError(t, e); R.outcomes[t.id()] = "error"
        def addSkip(self, t, r): super().addSkip(t, r); R.outcomes[t.id()] = "skipped"
    unittest.TextTestRunner(resultclass=R, verbosity=1).run(keep)
    print(json.dumps({"outcomes": R.outcomes}))
'''


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _test_cwd(folder: Path, conf: dict[str, Any]) -> Path:
    cwd = conf.get("python.testing.cwd")
    return Path(expand(cwd, folder)) if cwd else folder


def discover(folder: Path, parent: dict[str, str] | None = None) -> Outcome:
    """The Testing view's discovery, with the enabled framework."""
    conf = settings(folder)
    env = environment(folder, conf.get("python.envFile", "${workspaceFolder}/.env"), parent or ide_env())
    python, cwd = interpreter(folder), _test_cwd(folder, conf)
    if conf.get("python.testing.unittestEnabled"):
        res = _run([python, "-c", _UNITTEST, "discover", "-", *conf.get("python.testing.unittestArgs", [])], cwd, env)
        data = _last_json(res.stdout)
        return Outcome(res.returncode, res.stdout, res.stderr, data.get("tests", []), data.get("errors", []), {})
    if conf.get("python.testing.pytestEnabled"):
        res = _run([python, "-m", "pytest", "-p", "vscode_pytest_emul", "--collect-only", f"--rootdir={cwd}",
                    *conf.get("python.testing.pytestArgs", [])], cwd, _with_plugin(env))
        data = _last_json(res.stdout)
        return Outcome(res.returncode, res.stdout, res.stderr, data.get("tests", []), data.get("errors", []), {})
    raise AssertionError("no test framework enabled in settings.json")


def run_tests(folder: Path, ids: list[str], *, debug_config: str | None = None,
              parent: dict[str, str] | None = None) -> Outcome:
    """Run (or, with debug_config, debug without a debugger attached) the given test ids as the Testing view
    does; debugging takes the env and envFile of the `"purpose": ["debug-test"]` configuration."""
    conf = settings(folder)
    env = environment(folder, conf.get("python.envFile", "${workspaceFolder}/.env"), parent or ide_env())
    if debug_config is not None:
        launch = launch_config(folder, debug_config)
        assert "debug-test" in launch.get("purpose", [])
        env = launcher_env(folder, launch, parent or ide_env())
    python, cwd = interpreter(folder), _test_cwd(folder, conf)
    if conf.get("python.testing.unittestEnabled"):
        ids_file = cwd / ".devenv-test-ids"
        ids_file.write_text("\n".join(ids), encoding="utf-8")
        try:
            res = _run([python, "-c", _UNITTEST, "run", str(ids_file), *conf.get("python.testing.unittestArgs", [])],
                       cwd, env)
        finally:
            ids_file.unlink(missing_ok=True)
        return Outcome(res.returncode, res.stdout, res.stderr, ids, [], _last_json(res.stdout).get("outcomes", {}))
    res = _run([python, "-m", "pytest", f"--rootdir={cwd}",
                *remove_positional(conf.get("python.testing.pytestArgs", [])), *ids], cwd, env)
    return Outcome(res.returncode, res.stdout, res.stderr, ids, [], {})


# The extension's pytest plugin (python_files/vscode_pytest/__init__.py) is loaded with `-p vscode_pytest`
# from the folder the extension puts first on PYTHONPATH; it reports what pytest_collection_finish saw and the
# collection errors (pytest_collectreport). This stand-in prints the same as one JSON line.
_PYTEST_PLUGIN = """
import json
errors = []
def pytest_collectreport(report):
    if report.failed:
        errors.append(str(report.longrepr))
def pytest_collection_finish(session):
    print(json.dumps({"tests": [item.nodeid for item in session.items], "errors": errors}))
"""


def _with_plugin(env: dict[str, str]) -> dict[str, str]:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="vscode-pytest-"))
    (folder / "vscode_pytest_emul.py").write_text(_PYTEST_PLUGIN, encoding="utf-8")
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p)}


# Running chosen tests, the extension drops pytestArgs' positional folders and files and passes the ids
# (src/client/testing/testController/common/... removePositionalFoldersAndFiles / pytestFilterArguments): a
# positional is a word that is neither an option nor the value of an option that takes one (its
# OptionsWithArguments list; the ones OpenStack's tox commands use are here).
OPTIONS_WITH_ARGUMENTS = {"-c", "-k", "-m", "-o", "-p", "-W", "-r", "--basetemp", "--confcutdir", "--deselect",
                          "--durations", "--ignore", "--ignore-glob", "--import-mode", "--junitxml", "--junit-xml",
                          "--log-level", "--maxfail", "--rootdir", "--tb", "--cov", "--cov-report", "-n"}


def positional(args: list[str]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in OPTIONS_WITH_ARGUMENTS:
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def remove_positional(args: list[str]) -> list[str]:
    keep = positional(args)
    out, skip = [], False
    for a in args:
        if skip:
            out.append(a)
            skip = False
        elif a in OPTIONS_WITH_ARGUMENTS:
            out.append(a)
            skip = True
        elif a.startswith("-") or a not in keep:
            out.append(a)
    return out


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def launch_configs(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / ".vscode" / "launch.json"
    data = read_jsonc(path) if path.is_file() else {}
    return {c["name"]: c for c in data.get("configurations", [])}


def launch_config(folder: Path, name: str) -> dict[str, Any]:
    return launch_configs(folder)[name]


def launcher_env(folder: Path, launch: dict[str, Any], parent: dict[str, str]) -> dict[str, str]:
    """The debuggee's environment: envFile under env (the debugger extension's resolver), then
    launch_request: os.environ updated with it, GEVENT_SUPPORT for gevent."""
    env = environment(folder, launch.get("envFile", "${workspaceFolder}/.env"), parent)
    env.update({k: expand(v, folder) for k, v in launch.get("env", {}).items()})
    if launch.get("gevent"):
        env["GEVENT_SUPPORT"] = "True"
    return env


def run_launch(folder: Path, name: str, *, parent: dict[str, str] | None = None, timeout: float = 60
               ) -> subprocess.CompletedProcess[str]:
    """A `"program"` launch configuration, run without the debugger (`noDebug`): python program args."""
    launch = launch_config(folder, name)
    assert launch["type"] == "debugpy" and launch["request"] == "launch"
    python = expand(launch["python"], folder) if launch.get("python") else interpreter(folder)
    cmd = [python, expand(launch["program"], folder), *launch.get("args", [])]
    cwd = Path(expand(launch["cwd"], folder)) if launch.get("cwd") else folder
    return _run(cmd, cwd, launcher_env(folder, launch, parent or ide_env()), timeout)


__all__ = ["Outcome", "discover", "environment", "launch_config", "launch_configs", "parse_env_file",
           "read_jsonc", "run_launch", "run_tests", "settings"]
