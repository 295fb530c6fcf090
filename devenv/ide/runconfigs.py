"""What devenv's run configurations contain, decided from the Project (no XML here).

Runner choice follows the project's own tox commands: stestr/unittest projects get PyCharm's
`Unittests` factory (pytest fails on nova's TestCase cleanup), pytest projects get `py.test` with the
options tox passes (e.g. horizon's `--ds=...`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devenv.project import TestRunner

if TYPE_CHECKING:
    from devenv.project import Project, ToxEnv

# PyCharm's factory ids, exactly as written in `factoryName` and in TestRunnerService.
UNITTESTS = "Unittests"
PYTEST = "py.test"

# stestr runs `$PYTHON` when set: a run configuration must never carry it.
DROPPED = ("PYTHON",)
# What tox's setenv sets only for the test run (output capture, timeouts, test paths): a service
# started from PyCharm must not swallow its own output or die after OS_TEST_TIMEOUT seconds.
_TEST_ONLY = re.compile(r"OS_TEST_\w*|OS_(STDOUT|STDERR|LOG)_CAPTURE|OS_DEBUG|OS_LOG_DEFAULTS|PYTHONWARNINGS"
                        r"|TESTS_DIR|OS_TOP_LEVEL|DJANGO_SETTINGS_MODULE")
DEBUG_ENV = {"OS_TEST_TIMEOUT": "0", "OS_STDOUT_CAPTURE": "0", "OS_STDERR_CAPTURE": "0", "OS_LOG_CAPTURE": "0"}


@dataclass(frozen=True)
class TestConfig:
    name: str
    factory: str  # UNITTESTS | PYTEST
    target: str  # '$PROJECT_DIR$/nova/tests/unit'
    additional_arguments: str
    env: tuple[tuple[str, str], ...]
    file: str  # file name under .idea/runConfigurations/
    workdir: str = "$PROJECT_DIR$"  # WORKING_DIRECTORY (a repo of a several-repo window: its own folder)


@dataclass(frozen=True)
class ScriptConfig:
    name: str
    script: str  # '$PROJECT_DIR$/.venv/bin/nova-api'
    env: tuple[tuple[str, str], ...]
    file: str
    workdir: str = "$PROJECT_DIR$"


@dataclass(frozen=True)
class ToxConfig:
    name: str  # 'tox -e pep8': what the contributor guide says to run, as the IDE lists it
    envs: tuple[str, ...]  # runOnlyEnvs
    arguments: tuple[str, ...]
    sdk_home: str  # the tools venv's python (it has tox)
    file: str
    workdir: str = "$PROJECT_DIR$"  # where tox finds the repo's tox.ini


# The tox envs a contributor runs by hand, in this order, when tox.ini defines them: lint, the docs builds
# the gate checks, the functional tests, and the sample config/policy generators. Unit tests have their
# own configurations (tox's py3 env is the same suite); cover, debug, venv, bindep and the py3X variants
# are left out (README: "Tox configurations").
TOX_ENVS = ("pep8", "docs", "api-ref", "releasenotes", "functional", "genconfig", "genpolicy")


def tox_envs(project: Project) -> list[str]:
    out = []
    for name in TOX_ENVS:
        if name == "functional":
            env = project.functional_env
            name = env.name if env is not None else ("func" if "func" in project.envs else "")
        if name and name in project.envs and name not in out:
            out.append(name)
    return out


def tox(project: Project, sdk_home: str | None) -> list[ToxConfig]:
    """One Tox configuration per env of tox_envs(); none without the tools venv (no interpreter has tox)."""
    if not sdk_home:
        return []
    return [ToxConfig(name=f"tox -e {e}", envs=(e,), arguments=(), sdk_home=sdk_home, file=file_name(f"tox -e {e}"))
            for e in tox_envs(project)]


def factory_for(runner: TestRunner) -> str:
    return PYTEST if runner.kind == "pytest" else UNITTESTS


def file_name(name: str) -> str:
    """PyCharm's own file naming for shared configurations: non-word characters become '_'."""
    return re.sub(r"\W", "_", name, flags=re.ASCII) + ".xml"


def environment(project: Project, env: ToxEnv) -> tuple[tuple[str, str], ...]:
    values = {k: v for k, v in env.setenv.items() if k not in DROPPED}
    values["PYTHONUNBUFFERED"] = "1"
    if project.uses_eventlet:
        # Only the value 'yes' is honoured by eventlet.
        values["EVENTLET_NO_GREENDNS"] = "yes"
    return tuple(values.items())


def runtime_environment(project: Project) -> tuple[tuple[str, str], ...]:
    """The environment a service (console script) runs with: tox's setenv less the test-only settings."""
    return tuple((k, v) for k, v in environment(project, project.unit_env) if not _TEST_ONLY.fullmatch(k))


def template_environment(project: Project) -> tuple[tuple[str, str], ...]:
    """Gutter runs are made from the templates, for Run and Debug alike: the unit env, plus (eventlet)
    GEVENT_SUPPORT, which only the debugger reads (pydevd keeps real threads for itself)."""
    values = dict(environment(project, project.unit_env))
    if project.uses_eventlet:
        values["GEVENT_SUPPORT"] = "True"
    table = django_settings(project)
    if len(set(table.values())) > 1:
        import json

        # the plugin's folder goes on PYTHONPATH (PyCharm appends the project roots after it)
        values["PYTHONPATH"] = str(project.root / ".idea" / "devenv")
        values["DEVENV_DJANGO_SETTINGS"] = json.dumps(table, sort_keys=True)
        values["DEVENV_PROJECT_DIR"] = str(project.root)
    return tuple(values.items())


DJANGO_PLUGIN = "devenv_django_settings"  # templates/devenv_django_settings.py, written to .idea/devenv/


def settings_option(args: tuple[str, ...] | list[str]) -> str | None:
    """The Django settings module a pytest command line names (`--ds X` or `--ds=X`)."""
    for i, a in enumerate(args):
        if a == "--ds" and i + 1 < len(args):
            return args[i + 1].strip('"')
        if a.startswith("--ds="):
            return a.split("=", 1)[1].strip('"')
    return None


def django_settings(project: Project) -> dict[str, str]:
    """Test folder (relative) -> the Django settings module tox runs it with; "" is the main suite's."""
    table: dict[str, str] = {}
    for runner in project.unit_env.suites:
        settings = settings_option(runner.args) if runner.kind == "pytest" else None
        if settings:
            table.setdefault("", settings)
            table.setdefault((runner.test_path or ".").strip("/").removeprefix("./").rstrip("."), settings)
    return table


def template_pytest_arguments(project: Project) -> str:
    """The py.test template's options: the main suite's, with `--ds` replaced by devenv's per-folder
    settings plugin when tox runs folders with different settings modules."""
    runner = project.unit_env.runner
    if runner.kind != "pytest":
        return ""
    args = tuple(runner.args)
    if len(set(django_settings(project).values())) > 1:
        drop = {i for i, a in enumerate(args) if a.startswith("--ds=")}
        drop |= {i for i, a in enumerate(args) if a == "--ds"} | {i + 1 for i, a in enumerate(args) if a == "--ds"}
        args = tuple(a for i, a in enumerate(args) if i not in drop) + ("-p", DJANGO_PLUGIN)
    return _arguments(args)


def debug_environment(project: Project, env: ToxEnv) -> tuple[tuple[str, str], ...]:
    values = dict(environment(project, env))
    if factory_for(env.runner) == UNITTESTS:
        values.update(DEBUG_ENV)
    if project.uses_eventlet:
        values["GEVENT_SUPPORT"] = "True"  # pydevd keeps unpatched threading for itself
    return tuple(values.items())


def dropped(project: Project) -> list[str]:
    return [k for k in DROPPED if k in project.unit_env.setenv]


def _arguments(args: tuple[str, ...]) -> str:
    """PyCharm splits additionalArguments with ParametersListUtil: double quotes group words."""
    return " ".join(f'"{a}"' if (" " in a or not a) else a for a in args)


def _test(project: Project, name: str, env: ToxEnv, runner: TestRunner, debug: bool) -> TestConfig | None:
    factory = factory_for(runner)
    path = runner.test_path
    if not path:
        if factory != PYTEST:
            return None
        path = "."  # pytest with no path collects from the project root (its testpaths), as tox does
    args = tuple(runner.args)
    if debug and factory == PYTEST and "-s" not in args:
        args = args + ("-s",)
    rel = path.strip("/").removeprefix("./")
    target = "$PROJECT_DIR$" if rel in ("", ".") else "$PROJECT_DIR$/" + rel
    # A folder target, as PyCharm itself writes for a folder. Tried and left: a Custom target with
    # `-k <package>.` (discovery from the project root) survives the current _jb_unittest_runner.py, which
    # puts `--quiet` ahead of `discover` so that unittest rejects `-s` for any folder; but it imports every
    # test package, and nova's functional tests without placement became 255 errors in the unit run.
    arguments = _arguments(args) if factory == PYTEST else ""
    return TestConfig(
        name=name,
        factory=factory,
        target=target,
        additional_arguments=arguments,
        env=debug_environment(project, env) if debug else environment(project, env),
        file=file_name(name),
    )


def _label(runner: TestRunner) -> str:
    """A suite is named after its target: horizon's four pytest runs become 'Unit tests: horizon', ..."""
    path = (runner.test_path or ".").strip("/").removeprefix("./") or "."
    marks = [runner.args[i + 1] for i, a in enumerate(runner.args[:-1]) if a == "-m"]
    if marks and not any(m.startswith("not ") for m in marks):
        return f"{path} [{marks[0]}]"
    return path


def _suite_configs(project: Project, title: str, env: ToxEnv, with_debug: bool) -> list[TestConfig]:
    suites = env.suites or ((env.runner,) if env.runner.kind else ())
    out: list[TestConfig] = []
    names: set[str] = set()
    for i, runner in enumerate(suites):
        name = title if len(suites) == 1 else f"{title}: {_label(runner)}"
        n = 2
        while name in names:
            name, n = f"{name.split(' (')[0]} ({n})", n + 1
        names.add(name)
        cfg = _test(project, name, env, runner, False)
        if cfg is None:
            continue
        out.append(cfg)
        if with_debug and i == 0:
            debug = _test(project, f"{title} (debug)", env, runner, True)
            if debug is not None:
                out.append(debug)
    return out


def tests(project: Project) -> list[TestConfig]:
    """One configuration per test suite tox runs (unit env; the functional env when the venv can run it),
    and a debug twin of the main suite."""
    out = _suite_configs(project, "Unit tests", project.unit_env, True)
    functional = project.functional_env
    if functional is not None and not functional_missing(project):
        out += _suite_configs(project, "Functional tests", functional, False)
    return out


def functional_missing(project: Project) -> list[str]:
    """What the functional env installs that the venv (built from the unit env) does not have.

    nova's functional env adds openstack-placement: a configuration without it fails at import, so it is
    left out (and `devenv show` says why) rather than written broken.
    """
    functional = project.functional_env
    if functional is None:
        return []
    unit = project.unit_env
    have = set(unit.deps)
    missing = [d.value if d.kind != "file" else os.path.basename(d.value) for d in functional.deps if d not in have]
    missing += [f"extra [{e}]" for e in functional.extras if e not in unit.extras]
    return missing


def left_out(project: Project) -> list[str]:
    """The configurations devenv does not write, each with its reason (said by `show`, `init`, `ide`)."""
    functional = project.functional_env
    missing = functional_missing(project)
    if functional is None or not missing:
        return []
    return [f"Functional tests left out: tox env '{functional.name}' installs what the venv lacks "
            f"({', '.join(missing)}); run them with `tox -e {functional.name}`"]


def scripts(project: Project, bin_rel: str) -> list[ScriptConfig]:
    """One configuration per console script, running the venv's generated script file.

    MODULE_MODE=true would run `python -m nova.cmd.compute`, which only works when that module has a
    `if __name__ == "__main__"` guard (most OpenStack cmd modules do not). The script pip/uv writes
    into .venv/bin imports the entry point and calls it exactly as the installed service does, and
    PyCharm can run and debug it as a plain script (MODULE_MODE=false).
    """
    env = runtime_environment(project)
    return [ScriptConfig(name=name, script=f"$PROJECT_DIR$/{bin_rel}/{name}", env=env, file=file_name(name))
            for name in sorted(project.console_scripts)]


def notes(project: Project) -> list[str]:
    """What `devenv show` says about the configurations: each suite written, and what was left out and why."""
    out = [f"{c.name}: {c.factory} {c.target}" + (f" {c.additional_arguments}" if c.additional_arguments else "")
           for c in tests(project) if not c.name.endswith("(debug)")]
    return out + left_out(project)
