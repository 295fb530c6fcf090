"""The project model: everything devenv needs to know about a checkout, read once at the edge.

Sources, in order of authority: pyproject.toml [project], setup.cfg [metadata]/[options]/[entry_points],
tox.ini (deps, extras, usedevelop, constraints, setenv, passenv, commands, per-env sections),
.stestr.conf, bindep.txt. What cannot be resolved is listed in `Project.unresolved`, never guessed.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devenv import toxini
from devenv.errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# What tox itself uses when TOX_CONSTRAINTS_FILE is unset in OpenStack projects.
UPPER_CONSTRAINTS_URL = "https://releases.openstack.org/constraints/upper/master"


@dataclass(frozen=True)
class Dep:
    """One line of tox deps. kind: 'requirement' | 'file' (-r) | 'constraint' (-c) | 'project' (.[extra])."""

    kind: str
    value: str  # the requirement string, or the resolved path/URL for file/constraint
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestRunner:
    kind: str | None  # 'stestr' | 'pytest' | 'unittest' | None (unknown)
    args: tuple[str, ...] = ()  # the runner's own options, e.g. pytest's ('--ds=horizon.test.settings',)
    test_path: str | None = None  # relative to the project root, e.g. 'nova/tests/unit'
    top_dir: str | None = None
    command: str | None = None  # the tox command line it came from


@dataclass(frozen=True)
class ToxEnv:
    name: str  # 'testenv' for the base section
    deps: tuple[Dep, ...] = ()
    extras: tuple[str, ...] = ()
    usedevelop: bool = False
    skip_install: bool = False
    constraints: tuple[str, ...] = ()  # paths or URLs, resolved
    setenv: Mapping[str, str] = field(default_factory=dict)
    passenv: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    runner: TestRunner = TestRunner(None)  # the first suite: the venv's runner, the main configuration
    suites: tuple[TestRunner, ...] = ()  # every test command the env runs, in tox's order


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    python_floor: str | None  # a PEP 440 specifier such as '>=3.11', or None
    build_backend: str | None
    uses_pbr: bool
    has_git: bool
    dependencies_from: str  # 'requirements.txt' (pbr/setuptools dynamic) | 'pyproject' | 'none'
    unit_env: ToxEnv  # the env used for the venv and the unit test configuration
    envs: Mapping[str, ToxEnv]  # every tox env, resolved (functional, pep8, ...)
    console_scripts: Mapping[str, str]  # name -> 'module:function'
    packages: tuple[str, ...]  # top-level import packages (source roots)
    bindep_file: Path | None
    uses_eventlet: bool
    has_tox: bool
    unresolved: tuple[str, ...] = ()
    # [project] dependencies / optional-dependencies when pyproject.toml declares them (not dynamic)
    dependencies: tuple[str, ...] = ()
    optional_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def venv(self) -> Path:
        from devenv import venvlayout

        return venvlayout.of(self.root)

    @property
    def runner(self) -> TestRunner:
        return self.unit_env.runner

    @property
    def functional_env(self) -> ToxEnv | None:
        for name in ("functional", "functional-py3", "functional-py311", "functional-py312"):
            if name in self.envs:
                return self.envs[name]
        for name, env in self.envs.items():
            if name.startswith("functional") and env.runner.kind:
                return env
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["root"] = str(self.root)
        data["bindep_file"] = str(self.bindep_file) if self.bindep_file else None
        return data


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds a project file."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / f).is_file() for f in ("tox.ini", "setup.cfg", "pyproject.toml", "setup.py")):
            return folder
    raise UsageError(f"{start} is not inside a Python project (no pyproject.toml, setup.cfg, setup.py or tox.ini)",
                     "run devenv in a project checkout, or give its path: devenv init PATH")


def resolve_root(given: str | os.PathLike[str] | None, *, any_folder: bool = False) -> Path:
    """The project a command works on: the one home of the rule every command follows.

    A given path must be a folder; without one, the project around the current folder. `any_folder`
    (sync, share, guests: any tree can be synced) takes a given folder as it is, and the current folder
    when no project is around it; otherwise the project root is searched upward from the folder.
    """
    if given is not None and str(given) != "":
        folder = Path(given).expanduser().resolve()
        if not folder.is_dir():
            raise UsageError(f"{given} is not a folder", "give the project's folder")
        return folder if any_folder else find_root(folder)
    try:
        return find_root(Path.cwd())
    except UsageError:
        if any_folder:
            return Path.cwd().resolve()
        raise


def load(root: Path, environ: Mapping[str, str] | None = None) -> Project:
    root = Path(root).resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    environ = os.environ if environ is None else environ
    unresolved: list[str] = []
    pyproject = _read_pyproject(root / "pyproject.toml")
    setup_cfg = _read_setup_cfg(root / "setup.cfg")
    if not pyproject and not setup_cfg and not (root / "setup.py").is_file() and not (root / "tox.ini").is_file():
        raise UsageError(f"{root} is not a Python project (no pyproject.toml, setup.cfg, setup.py or tox.ini)",
                         "give the path of a project checkout")
    meta = pyproject.get("project", {}) if pyproject else {}
    name = meta.get("name") or _cfg(setup_cfg, "metadata", "name") or root.name
    floor = _python_floor(meta, setup_cfg)
    backend, uses_pbr = _build_backend(root, pyproject)
    deps_from = ("pyproject" if "dependencies" in meta else
                 "requirements.txt" if (root / "requirements.txt").is_file() else "none")
    envs, unit_env, has_tox = _tox_envs(root, meta, environ, unresolved)
    stestr = _read_stestr(root)
    unit_env = _with_stestr(unit_env, stestr, root, environ, unresolved)
    envs = {k: _with_stestr(v, stestr, root, environ, unresolved) for k, v in envs.items()}
    if unit_env.runner.kind is None:
        unit_env = _guess_runner(root, unit_env, pyproject, stestr, environ, unresolved)

    scripts = dict(meta.get("scripts", {}) or {})
    scripts.update(_console_scripts_cfg(setup_cfg, unresolved))
    packages = _packages(root, name, setup_cfg)
    bindep = root / "bindep.txt"
    return Project(
        root=root,
        name=name,
        python_floor=floor.strip() if isinstance(floor, str) else None,
        build_backend=backend,
        uses_pbr=uses_pbr,
        has_git=(root / ".git").exists(),
        dependencies_from=deps_from,
        unit_env=unit_env,
        envs=envs,
        console_scripts=scripts,
        packages=packages,
        bindep_file=bindep if bindep.is_file() else None,
        uses_eventlet=_uses_eventlet(root, meta, unit_env),
        has_tox=has_tox,
        unresolved=tuple(dict.fromkeys(unresolved)),
        dependencies=tuple(meta.get("dependencies", []) or ()),
        optional_dependencies={k: tuple(v) for k, v in (meta.get("optional-dependencies", {}) or {}).items()},
    )


def _python_floor(meta: dict[str, Any], setup_cfg: configparser.RawConfigParser | None) -> str | None:
    return (meta.get("requires-python") or _cfg(setup_cfg, "metadata", "python_requires")
            or _cfg(setup_cfg, "metadata", "python-requires") or _cfg(setup_cfg, "options", "python_requires"))


def _build_backend(root: Path, pyproject: dict[str, Any]) -> tuple[str | None, bool]:
    """(build-backend, whether the project builds with pbr)."""
    system = (pyproject.get("build-system", {}) or {}) if pyproject else {}
    backend = system.get("build-backend")
    requires = " ".join(system.get("requires", []))
    uses_pbr = bool((backend or "").startswith("pbr") or "pbr" in requires or _setup_py_uses_pbr(root / "setup.py"))
    return backend, uses_pbr


def _tox_envs(root: Path, meta: dict[str, Any], environ: Mapping[str, str],
              unresolved: list[str]) -> tuple[dict[str, ToxEnv], ToxEnv, bool]:
    """(every tox env, the unit env, whether there is a tox.ini). Without tox.ini: the project itself,
    editable, with its test extra if it declares one."""
    test_extras = tuple(e for e in ("test", "tests", "testing") if e in (meta.get("optional-dependencies") or {}))
    unit_env = ToxEnv("testenv", usedevelop=True, extras=test_extras)
    envs: dict[str, ToxEnv] = {}
    if not (root / "tox.ini").is_file():
        return envs, unit_env, False
    ini = toxini.load(root / "tox.ini")
    envs["testenv"] = _read_env(ini, None, root, environ, unresolved)
    # Envs named only in envlist (py3 with no [testenv:py3]) are [testenv] seen through their factors.
    for env_name in dict.fromkeys([*ini.env_names, *ini.envlist]):
        envs[env_name] = _read_env(ini, env_name, root, environ, unresolved)
    return envs, _pick_unit_env(envs, ini.envlist), True


# ---- pyproject / setup.cfg -------------------------------------------------------------------------

def _read_pyproject(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the file (pip would reject it too)") from exc
    _check_pyproject_types(path, data)
    return data


# The shape PEP 621/517 give the fields devenv reads: (table, key) -> (type, what it must be).
_PYPROJECT_TYPES: dict[tuple[str, str], tuple[type, str]] = {
    ("", "project"): (dict, "a table"),
    ("", "build-system"): (dict, "a table"),
    ("", "tool"): (dict, "a table"),
    ("project", "name"): (str, "a string"),
    ("project", "requires-python"): (str, 'a string such as ">=3.10"'),
    ("project", "dependencies"): (list, 'a list of requirement strings, e.g. ["six>=1.16"]'),
    ("project", "optional-dependencies"): (dict, "a table of lists, e.g. test = [\"pytest\"]"),
    ("project", "scripts"): (dict, 'a table, e.g. name = "package.module:function"'),
    ("project", "gui-scripts"): (dict, 'a table, e.g. name = "package.module:function"'),
    ("project", "dynamic"): (list, "a list of field names"),
    ("build-system", "requires"): (list, "a list of requirement strings"),
    ("build-system", "build-backend"): (str, "a string"),
}


def _check_pyproject_types(path: Path, data: dict[str, Any]) -> None:
    """A wrong-typed field (`scripts = 5`, `name = 5`) is the user's to fix, said as such, not a crash."""
    def fail(where: str, what: str, value: Any) -> None:
        raise ConfigError(f"{path}: {where} must be {what}, not {type(value).__name__} {value!r}",
                          "fix pyproject.toml (pip and build tools reject it too)")

    for (table, key), (kind, what) in _PYPROJECT_TYPES.items():
        holder = data if not table else data.get(table)
        if isinstance(holder, dict) and key in holder and not isinstance(holder[key], kind):
            fail(f"[{table}] {key}" if table else f"[{key}]", what, holder[key])
    found = data.get("project")
    proj: dict[str, Any] = found if isinstance(found, dict) else {}
    for key in ("dependencies",):
        for item in proj.get(key) or []:
            if not isinstance(item, str):
                fail(f"[project] {key} entry", "a requirement string", item)
    for key in ("scripts", "gui-scripts"):
        for name, target in (proj.get(key) or {}).items():
            if not isinstance(target, str):
                fail(f"[project.{key}] {name}", 'a string "package.module:function"', target)
    for extra, reqs in (proj.get("optional-dependencies") or {}).items():
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            fail(f"[project.optional-dependencies] {extra}", "a list of requirement strings", reqs)


def _read_setup_cfg(path: Path) -> configparser.RawConfigParser | None:
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path} is not a valid ini file: {first}", "fix the line it names") from exc
    return parser


def _cfg(parser: configparser.RawConfigParser | None, section: str, key: str) -> str | None:
    if parser is None or not parser.has_option(section, key):
        return None
    return parser.get(section, key).strip() or None


def _setup_py_uses_pbr(path: Path) -> bool:
    try:
        return "pbr" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _console_scripts_cfg(parser: configparser.RawConfigParser | None, unresolved: list[str]) -> dict[str, str]:
    """pbr's [entry_points] and setuptools' declarative [options.entry_points] (either may be used)."""
    out: dict[str, str] = {}
    for section in ("options.entry_points", "entry_points"):
        raw = _cfg(parser, section, "console_scripts")
        for line in (raw or "").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" not in line:
                unresolved.append(f"setup.cfg [{section}] console_scripts: cannot read {line!r}")
                continue
            name, target = (x.strip() for x in line.split("=", 1))
            out[name] = target
    return out


def _packages(root: Path, name: str, setup_cfg: configparser.RawConfigParser | None) -> tuple[str, ...]:
    listed = _cfg(setup_cfg, "files", "packages") or _cfg(setup_cfg, "options", "packages")
    if listed and "find:" not in listed:
        found = [p.strip() for p in re.split(r"[\s,]+", listed) if p.strip()]
        return tuple(p for p in found if (root / p.replace(".", "/")).is_dir() or (root / "src" / p).is_dir())
    guess = name.replace("-", "_").replace(".", "_")
    candidates = [guess, name.replace("-", "_")]
    for base in (root, root / "src"):  # flat and src layouts
        found = [c for c in dict.fromkeys(candidates) if (base / c / "__init__.py").is_file()]
        if found:
            return tuple(found)
    for base in (root, root / "src"):
        found = sorted(p.parent.name for p in base.glob("*/__init__.py")
                       if p.parent.name not in ("tests", "test", "doc", "docs", "examples", "releasenotes"))
        if found:
            return tuple(found)
    return ()


# ---- tox -------------------------------------------------------------------------------------------

def _read_env(ini: toxini.ToxIni, env: str | None, root: Path, environ: Mapping[str, str],
              unresolved: list[str]) -> ToxEnv:
    r = toxini.Resolver(ini, env, environ)
    where = f"tox.ini [{r.section}]"
    deps: list[Dep] = []
    constraints: list[str] = []
    for line in r.lines("deps"):
        dep = _parse_dep(line, root)
        if dep is None:
            unresolved.append(f"{where} deps: cannot read {line!r}")
        elif dep.kind == "constraint":
            constraints.append(dep.value)
        else:
            deps.append(dep)
    for line in r.lines("constraints"):
        constraints.append(_strip_flag(line, "-c"))
    argvs = r.commands()
    commands = tuple(shlex.join(a) for a in argvs)
    setenv = toxini.parse_setenv(r.lines("setenv"), f"{where} setenv", unresolved)
    # setenv values may reference each other's results only through {env:}; resolved above.
    suites = _suites_from_commands(argvs, commands, root)
    runner = suites[0] if suites else TestRunner(None)
    unresolved.extend(r.unresolved)
    return ToxEnv(
        name=env or "testenv",
        deps=tuple(deps),
        extras=tuple(toxini.parse_list(r.lines("extras"))),
        usedevelop=toxini.truthy(r.get("usedevelop", "false")),
        skip_install=toxini.truthy(r.get("skip_install", "false")),
        constraints=tuple(constraints),
        setenv=setenv,
        passenv=tuple(toxini.parse_list(r.lines("passenv"))),
        commands=commands,
        runner=runner,
        suites=suites,
    )


def _strip_flag(line: str, flag: str) -> str:
    long = {"-c": "--constraint", "-r": "--requirement"}[flag]
    for prefix in (long + "=", long, flag):
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return line.strip()


def _parse_dep(line: str, root: Path) -> Dep | None:
    if line.startswith(("-c", "--constraint")):
        return Dep("constraint", _strip_flag(line, "-c"))
    if line.startswith(("-r", "--requirement")):
        target = _strip_flag(line, "-r")
        return Dep("file", str((root / target).resolve()) if not os.path.isabs(target) else target)
    m = re.fullmatch(r"(\.|\{toxinidir\}|" + re.escape(str(root)) + r")(\[([\w,\s-]+)\])?", line)
    if m:
        extras = tuple(e.strip() for e in (m.group(3) or "").split(",") if e.strip())
        return Dep("project", str(root), extras)
    if line.startswith("-"):
        return None
    return Dep("requirement", line)


def _pick_unit_env(envs: dict[str, ToxEnv], envlist: list[str]) -> ToxEnv:
    for name in ("py3", "unit", "py"):
        if name in envs:
            return envs[name]
    for name in envlist:
        if re.fullmatch(r"py3\d*", name) and name in envs:
            return envs[name]
    return envs["testenv"]


# Shells tox envs wrap commands in (`bash -ec "pytest ... test/unit"`, swift; `sh -c '...'`).
_SHELLS = ("bash", "sh", "dash", "zsh")
# What separates commands inside such a script: each part is read as a command line of its own.
_SCRIPT_SPLIT = re.compile(r"&&|\|\||;|\n")


def _unwrap(argv: list[str]) -> list[list[str]]:
    """The command lines a tox command really runs: `env A=B x`, `python -m x`, and shell scripts opened."""
    if argv and argv[0] == "env":  # `env A=B stestr run`
        argv = [a for a in argv[1:] if "=" not in a] or argv
    if argv and os.path.basename(argv[0]) in _SHELLS:
        for i, a in enumerate(argv[1:], 1):
            # -c, -ec, -xec...: the script is the first argument that is not an option
            if a.startswith("-") and "c" in a[1:] and i + 1 < len(argv):
                out: list[list[str]] = []
                for part in _SCRIPT_SPLIT.split(argv[i + 1]):
                    try:
                        words = shlex.split(part)
                    except ValueError:
                        continue
                    out.extend(_unwrap(words))
                return out
    if len(argv) >= 3 and os.path.basename(argv[0]).startswith("python") and argv[1] == "-m":
        argv = argv[2:]
    return [argv] if argv else []


def _suites_from_commands(argvs: list[list[str]], commands: tuple[str, ...],
                          root: Path) -> tuple[TestRunner, ...]:
    out: list[TestRunner] = []
    for outer, command in zip(argvs, commands, strict=True):
        for argv in _unwrap(outer):
            runner = _runner_from_argv(argv, command, root)
            # swift's `pytest ... test/unit || pytest --last-failed test/unit` is one suite, not two
            if runner is not None and not any((r.kind, r.args, r.test_path) == (runner.kind, runner.args,
                                                                                runner.test_path) for r in out):
                out.append(runner)
    return tuple(out)


def _runner_from_argv(argv: list[str], command: str, root: Path) -> TestRunner | None:
    prog = os.path.basename(argv[0])
    rest = argv[1:]
    if prog in ("stestr", "ostestr"):
        if "--combine" in rest or "slowest" in rest or "last" in rest or "init" in rest:
            return None
        path = None
        for i, a in enumerate(rest):
            if a.startswith("--test-path="):
                path = a.split("=", 1)[1]
            elif a == "--test-path" and i + 1 < len(rest):
                path = rest[i + 1]
        return TestRunner("stestr", test_path=_rel(path, root), command=command)
    if prog in ("pytest", "py.test"):
        args, paths = _split_pytest(rest, root)
        return TestRunner("pytest", args=tuple(args), test_path=paths[0] if paths else None, command=command)
    if prog == "unittest" or prog == "testtools.run":
        return TestRunner("unittest", args=tuple(a for a in rest if a != "discover"), command=command)
    return None


# pytest options whose value is the next argument (when not written with '=').
_PYTEST_VALUE_OPTS = {"-m", "-k", "-p", "-c", "-o", "--ds", "--ignore", "--junitxml", "--html", "--rootdir",
                      "--cov", "--cov-report", "--deselect", "--maxfail", "-n", "--durations", "--tb",
                      "--basetemp", "--confcutdir"}
# Options that only make sense for a batch run in CI, not for an IDE run.
_PYTEST_CI_ONLY = ("--junitxml", "--html", "--self-contained-html", "--cov", "--cov-report", "--cov-branch", "-n",
                   "--last-failed", "--lf")


def _split_pytest(rest: list[str], root: Path) -> tuple[list[str], list[str]]:
    args: list[str] = []
    paths: list[str] = []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a.startswith("-"):
            takes_value = a in _PYTEST_VALUE_OPTS
            pair = [a, rest[i + 1]] if takes_value and i + 1 < len(rest) else [a]
            i += len(pair)
            if pair[0].split("=", 1)[0] in _PYTEST_CI_ONLY:
                continue
            args.extend(pair)
            continue
        rel = _rel(a, root)
        if rel is not None:
            paths.append(rel)
        i += 1
    return args, paths


def _rel(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    p = Path(path)
    try:
        rel = (p if p.is_absolute() else (root / p)).resolve().relative_to(root)
    except ValueError:
        return path
    return rel.as_posix() if str(rel) != "." else "."


# ---- .stestr.conf ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Stestr:
    test_path: str | None  # raw, may hold ${OS_TEST_PATH:-default}
    top_dir: str | None


def _read_stestr(root: Path) -> _Stestr | None:
    path = root / ".stestr.conf"
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a valid ini file: {str(exc).splitlines()[0]}") from exc
    values = dict(parser.defaults())
    return _Stestr(values.get("test_path"), values.get("top_dir"))


def _shell_default(value: str | None, environ: Mapping[str, str], unresolved: list[str]) -> str | None:
    """Resolve `${NAME:-default}` and `${NAME}` the way the shell (and stestr) do."""
    if value is None:
        return None

    def repl(m: re.Match[str]) -> str:
        return environ.get(m.group(1)) or (m.group(3) or "")

    out = re.sub(r"\$\{(\w+)(:-([^}]*))?\}", repl, value)
    if "$" in out:
        unresolved.append(f".stestr.conf: cannot resolve {value!r}")
    return out


def _with_stestr(env: ToxEnv, stestr: _Stestr | None, root: Path, environ: Mapping[str, str],
                 unresolved: list[str]) -> ToxEnv:
    r = env.runner
    if stestr is None or r.kind != "stestr":
        return env
    # The env's own setenv wins over the caller's environment, as it does under tox.
    scope = {**environ, **env.setenv}
    path = r.test_path or _rel(_shell_default(stestr.test_path, scope, unresolved), root)
    top = _rel(_shell_default(stestr.top_dir, scope, unresolved), root)
    runner = TestRunner("stestr", r.args, path, top, r.command)
    return ToxEnv(**{**_fields(env), "runner": runner, "suites": (runner, *env.suites[1:])})


def _fields(env: ToxEnv) -> dict[str, Any]:
    return {f: getattr(env, f) for f in ToxEnv.__dataclass_fields__}


_PYTEST_MARKERS = ("pytest.ini", "conftest.py")


def _guess_runner(root: Path, env: ToxEnv, pyproject: dict[str, Any], stestr: _Stestr | None,
                  environ: Mapping[str, str], unresolved: list[str]) -> ToxEnv:
    """No tox command named a runner: fall back on what the tree shows, and say it is a guess."""
    if stestr is not None:
        runner = TestRunner("stestr", test_path=_rel(_shell_default(stestr.test_path, environ, unresolved), root),
                            top_dir=_rel(_shell_default(stestr.top_dir, environ, unresolved), root))
    elif "pytest" in (pyproject.get("tool", {}) or {}) or any((root / f).is_file() for f in _PYTEST_MARKERS):
        path = "tests" if (root / "tests").is_dir() else None
        runner = TestRunner("pytest", test_path=path)
    elif (root / "tests").is_dir():
        runner = TestRunner("pytest", test_path="tests")
    else:
        return env
    return ToxEnv(**{**_fields(env), "runner": runner, "suites": (runner,)})


# ---- eventlet --------------------------------------------------------------------------------------

def _uses_eventlet(root: Path, meta: dict[str, Any], env: ToxEnv) -> bool:
    lines: list[str] = list(meta.get("dependencies", []) or [])
    for name in ("requirements.txt",):
        p = root / name
        if p.is_file():
            lines.extend(p.read_text(encoding="utf-8", errors="replace").splitlines())
    for dep in env.deps:
        if dep.kind == "requirement":
            lines.append(dep.value)
    return any(re.match(r"\s*eventlet\b", ln, re.IGNORECASE) for ln in lines)
