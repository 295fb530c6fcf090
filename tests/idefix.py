"""Fixtures for the PyCharm tests: sample projects (with a real venv, or with a minimal one), PyCharm
config folders under the redirected DEVENV_JETBRAINS_HOME, and a stand-in for a running PyCharm."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import localindex
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample-service"
UPPER_CONSTRAINTS = REPO.parent / "shared" / "data" / "upper-constraints.txt"

UV_ENV = {"UV_CACHE_DIR": os.environ.get("DEVENV_TEST_UV_CACHE", "/tmp/devenv-test-uv-cache"),
          "PBR_VERSION": "0.1.0"}  # the copy has no .git: pbr needs its version given


def copy_sample(dest: Path, tox_ini: str | None = None) -> Path:
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns(".venv", ".idea", ".tox", ".stestr", "*.egg-info"))
    if tox_ini is not None:
        (dest / "tox.ini").write_text(tox_ini, encoding="utf-8")
    return dest


def fake_venv(root: Path, version: str = "3.11.7") -> Path:
    """A venv shell: pyvenv.cfg and bin/python (the running interpreter), enough for generation tests."""
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion_info = {version}\n", encoding="utf-8")
    python = venv / "bin" / "python"
    if not python.exists():
        python.symlink_to(sys.executable)
    return python


def build_venv(root: Path, *extra: str) -> Path:
    """A real venv with the project installed editable, as devenv init would make it (uv, constraints)."""
    env = localindex.environ({**os.environ, **UV_ENV})
    uv = shutil.which("uv") or pytest.skip("uv is not installed")
    subprocess.run([uv, "venv", "-q", str(root / ".venv")], check=True, env=env, timeout=120)
    python = root / ".venv" / "bin" / "python"
    args = [uv, "pip", "install", "-q", "--python", str(python), "-e", str(root),
            "-r", str(root / "test-requirements.txt"), *extra]
    if UPPER_CONSTRAINTS.is_file():
        args += ["-c", str(UPPER_CONSTRAINTS)]
    res = subprocess.run(args, env=env, timeout=600, capture_output=True, text=True)
    if res.returncode != 0:
        # a failure, not a skip: the local wheelhouse (tests/localindex.py) has what these tests need
        pytest.fail(f"cannot install the sample's requirements: {res.stderr[-400:]}")
    return python


PYTEST_TOX = """[tox]
envlist = py3

[testenv]
usedevelop = True
setenv =
  SAMPLE_UNIT=1
  PYTHON=/somewhere/else/python
deps = -r{toxinidir}/test-requirements.txt
commands =
  pytest -p no:cacheprovider -q {posargs} sample_service/tests/unit
"""


@pytest.fixture(scope="session")
def sample_stestr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/sample-service with a real .venv (stestr project, eventlet, console scripts)."""
    root = copy_sample(tmp_path_factory.mktemp("real") / "sample service")
    build_venv(root)
    return root


@pytest.fixture(scope="session")
def sample_pytest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same service driven by pytest in tox (so devenv must pick PyCharm's py.test runner)."""
    root = copy_sample(tmp_path_factory.mktemp("real") / "sample-pytest", PYTEST_TOX)
    build_venv(root, "pytest")
    return root


@pytest.fixture
def jb_home() -> Path:
    """The redirected JetBrains root, with one current and one old-layout PyCharm."""
    home = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    (home / "PyCharm2024.1" / "options").mkdir(parents=True)
    (home / ".PyCharmCE2019.3" / "config" / "options").mkdir(parents=True)
    return home


@pytest.fixture
def fake_pycharm() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start processes whose command line looks like PyCharm's (the one thing these tests fake)."""
    started: list[subprocess.Popen[bytes]] = []

    def _start(selector: str) -> subprocess.Popen[bytes]:
        argv = ["pycharm", "-c", "import time; time.sleep(300)", f"-Didea.paths.selector={selector}",
                "-Didea.platform.prefix=Python"]
        p = subprocess.Popen(argv, executable=sys.executable)
        started.append(p)
        return p

    yield _start  # type: ignore[misc]
    for p in started:
        p.kill()
        p.wait(timeout=10)


# ------------------------------------------------------------------ reading what PyCharm would read


def read_config(path: Path) -> dict:
    """One shared run configuration as PyCharm reads it: attributes, options, envs, module."""
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    assert root.tag == "component" and root.get("name") == "ProjectRunConfigurationManager"
    (conf,) = root.findall("configuration")
    options = {o.get("name"): o.get("value") for o in conf.findall("option")}
    envs = {e.get("name"): e.get("value") for e in conf.findall("envs/env")}
    module = conf.find("module")
    return {"name": conf.get("name"), "type": conf.get("type"), "factory": conf.get("factoryName"),
            "options": options, "envs": envs, "module": module.get("name") if module is not None else None,
            "children": [c.tag for c in conf], "element": conf}


def configs(root: Path) -> dict[str, dict]:
    return {c["name"]: c for c in (read_config(p) for p in sorted((root / ".idea/runConfigurations").glob("*.xml")))}


def sdk_of(root: Path) -> str:
    from lxml import etree

    misc = etree.parse(str(root / ".idea/misc.xml")).getroot()
    return misc.find("component[@name='ProjectRootManager']").get("project-jdk-name")
