"""What devenv's run configurations contain, decided from the Project (no XML here).

Runner choice follows the project's own tox commands: stestr/unittest projects get PyCharm's
`Unittests` factory (pytest fails on nova's TestCase cleanup), pytest projects get `py.test` with the
options tox passes (e.g. horizon's `--ds=...`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devenv.project import Project, TestRunner, ToxEnv

# PyCharm's factory ids, exactly as written in `factoryName` and in TestRunnerService.
UNITTESTS = "Unittests"
PYTEST = "py.test"

# stestr runs `$PYTHON` when set: a run configuration must never carry it.
DROPPED = ("PYTHON",)
DEBUG_ENV = {"OS_TEST_TIMEOUT": "0", "OS_STDOUT_CAPTURE": "0", "OS_STDERR_CAPTURE": "0", "OS_LOG_CAPTURE": "0"}


@dataclass(frozen=True)
class TestConfig:
    name: str
    factory: str  # UNITTESTS | PYTEST
    target: str  # '$PROJECT_DIR$/nova/tests/unit'
    additional_arguments: str
    env: tuple[tuple[str, str], ...]
    file: str  # file name under .idea/runConfigurations/


@dataclass(frozen=True)
class ScriptConfig:
    name: str
    script: str  # '$PROJECT_DIR$/.venv/bin/nova-api'
    env: tuple[tuple[str, str], ...]
    file: str


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


def _test(project: Project, name: str, env: ToxEnv, debug: bool) -> TestConfig | None:
    runner = env.runner
    if not runner.test_path:
        return None
    factory = factory_for(runner)
    args = tuple(runner.args)
    if debug and factory == PYTEST and "-s" not in args:
        args = args + ("-s",)
    return TestConfig(
        name=name,
        factory=factory,
        target="$PROJECT_DIR$/" + runner.test_path.strip("/").removeprefix("./"),
        additional_arguments=_arguments(args) if factory == PYTEST else "",
        env=debug_environment(project, env) if debug else environment(project, env),
        file=file_name(name),
    )


def tests(project: Project) -> list[TestConfig]:
    out = [_test(project, "Unit tests", project.unit_env, False),
           _test(project, "Unit tests (debug)", project.unit_env, True)]
    functional = project.functional_env
    if functional is not None:
        out.append(_test(project, "Functional tests", functional, False))
    return [c for c in out if c is not None]


def scripts(project: Project, bin_rel: str) -> list[ScriptConfig]:
    """One configuration per console script, running the venv's generated script file.

    MODULE_MODE=true would run `python -m nova.cmd.compute`, which only works when that module has a
    `if __name__ == "__main__"` guard (most OpenStack cmd modules do not). The script pip/uv writes
    into .venv/bin imports the entry point and calls it exactly as the installed service does, and
    PyCharm can run and debug it as a plain script (MODULE_MODE=false).
    """
    env = environment(project, project.unit_env)
    return [ScriptConfig(name=name, script=f"$PROJECT_DIR$/{bin_rel}/{name}", env=env, file=file_name(name))
            for name in sorted(project.console_scripts)]
