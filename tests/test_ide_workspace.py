"""One PyCharm window over several repos on one venv (devenv/ide/workspace.py), run the way PyCharm runs it.

Two real checkouts (the stestr sample service and a tiny pytest library) installed editable into ONE real
venv; each layout (a devstack-like parent folder, and `--with ../tinylib` from the service's folder) is
applied, then every repo's configurations are launched through tests/pycharm.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import localindex
import pycharm
import pytest
from idefix import UPPER_CONSTRAINTS, UV_ENV, copy_sample
from lxml import etree

from devenv import project
from devenv.ide import workspace
from devenv.report import Reporter

pytestmark = pytest.mark.slow

TINY_PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "tinylib"
version = "0.1"

[project.scripts]
tinylib-hello = "tinylib.cli:main"

[tool.setuptools.packages.find]
include = ["tinylib*"]
"""
TINY_TOX = """[tox]
envlist = py3
[testenv]
usedevelop = True
setenv =
  TINY_UNIT=1
deps = pytest
commands = pytest -q {posargs} tinylib/tests
[testenv:pep8]
deps = flake8
commands = flake8
"""
TINY_TEST = """import os
from pathlib import Path

import tinylib


def test_double():
    assert tinylib.double(21) == 42


def test_runs_in_its_own_checkout():
    # the right repo: imported from this checkout, started in it, with its own tox setenv
    assert Path(tinylib.__file__).resolve().parents[1] == Path.cwd().resolve()
    assert os.environ["TINY_UNIT"] == "1"
    assert "SAMPLE_UNIT" not in os.environ
"""


def _tinylib(root: Path) -> Path:
    (root / "tinylib" / "tests").mkdir(parents=True)
    (root / "tinylib" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "tinylib" / "cli.py").write_text("import os\n\n\ndef main():\n    print('tiny', os.getcwd())\n")
    (root / "tinylib" / "tests" / "__init__.py").write_text("")
    (root / "tinylib" / "tests" / "test_lib.py").write_text(TINY_TEST)
    (root / "pyproject.toml").write_text(TINY_PYPROJECT)
    (root / "tox.ini").write_text(TINY_TOX)
    return root


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ws/sample-service, ws/tinylib, and ws/.venv with both installed editable (uv, local wheelhouse)."""
    root = tmp_path_factory.mktemp("ws") / "ws"
    sample = copy_sample(root / "sample-service")
    tiny = _tinylib(root / "tinylib")
    env = localindex.environ({**os.environ, **UV_ENV})
    uv = shutil.which("uv") or pytest.skip("uv is not installed")
    subprocess.run([uv, "venv", "-q", str(root / ".venv")], check=True, env=env, timeout=120)
    args = [uv, "pip", "install", "-q", "--python", str(root / ".venv/bin/python"), "-e", str(sample),
            "-r", str(sample / "test-requirements.txt"), "-e", str(tiny), "pytest"]
    if UPPER_CONSTRAINTS.is_file():
        args += ["-c", str(UPPER_CONSTRAINTS)]
    res = subprocess.run(args, env=env, timeout=600, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"cannot install the checkouts: {res.stderr[-400:]}")
    return root


def generate(window: Path, repos: list[Path], venv: Path, **kw) -> Path:
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    (jb / "PyCharm2024.1").mkdir(parents=True, exist_ok=True)
    workspace.apply(window, [project.load(r) for r in repos], venv, Reporter(quiet=True), **kw)
    return jb / "PyCharm2024.1/options/jdk.table.xml"


@pytest.fixture
def clean(ws: Path):
    for folder in (ws, ws / "sample-service", ws / "tinylib"):
        shutil.rmtree(folder / ".idea", ignore_errors=True)
    yield ws
    for folder in (ws, ws / "sample-service", ws / "tinylib"):
        shutil.rmtree(folder / ".idea", ignore_errors=True)


def ide_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}


def launch(window: Path, table: Path, conf: pycharm.Config) -> pycharm.Outcome:
    return pycharm.run(pycharm.build(window, table, conf, parent_env=ide_env()), generation="classic")


def parse(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def test_one_window_one_sdk_a_module_per_repo(clean: Path) -> None:
    ws = clean
    table = generate(ws, [ws / "sample-service", ws / "tinylib"], ws / ".venv")
    assert pycharm.modules(ws) == {"sample-service": ws / ".idea/sample-service.iml",
                                   "tinylib": ws / ".idea/tinylib.iml"}
    content = {m: [c.get("url") for c in parse(iml).iter("content")] for m, iml in pycharm.modules(ws).items()}
    assert content == {"sample-service": ["file://$MODULE_DIR$/sample-service"], "tinylib": ["file://$MODULE_DIR$/tinylib"]}
    # one interpreter: the shared venv, named once in the table, by misc.xml and by every module
    entries = [j for j in parse(table).iter("jdk") if j.find("homePath").get("value") == str(ws / ".venv/bin/python")]
    assert len(entries) == 1
    name = entries[0].find("name").get("value")
    assert name == "Python {} (ws)".format(".".join(entries[0].find("version").get("value").split()[1].split(".")[:2]))
    assert entries[0].find("additional").get("ASSOCIATED_PROJECT_PATH") == str(ws)
    assert parse(ws / ".idea/misc.xml").find("component").get("project-jdk-name") == name
    for iml in pycharm.modules(ws).values():
        assert parse(iml).find("component/orderEntry[@type='jdk']").get("jdkName") == name
        assert parse(iml).find("component/orderEntry[@type='module']") is None  # no dependency (see workspace.py)
    # the test runner is each module's own
    assert (pycharm.project_runner(ws, "sample-service"), pycharm.project_runner(ws, "tinylib")) == \
        ("Unittests", "py.test")
    found = pycharm.configs(ws)
    assert {"sample-service: Unit tests", "sample-service: Unit tests (debug)", "sample-service: sample-api",
            "sample-service: tox -e pep8", "tinylib: Unit tests", "tinylib: Unit tests (debug)",
            "tinylib: tinylib-hello", "tinylib: tox -e pep8"} <= set(found)
    for cname, conf in found.items():
        module = cname.split(":")[0]
        if conf.type != "Tox":  # Tox configurations name no module (PyToxConfiguration)
            assert conf.element.find("module").get("name") == module
        assert conf.options["WORKING_DIRECTORY"] == f"$PROJECT_DIR$/{module}"


def test_each_repos_tests_run_from_that_repo(clean: Path) -> None:
    ws = clean
    table = generate(ws, [ws / "sample-service", ws / "tinylib"], ws / ".venv")
    found = pycharm.configs(ws)
    expected = {"sample-service: Unit tests": 5, "sample-service: Unit tests (debug)": 5,
                "sample-service: Functional tests": None, "tinylib: Unit tests": 2, "tinylib: Unit tests (debug)": 2}
    for name, n in expected.items():
        if name not in found:
            assert n is None, f"{name} missing"
            continue
        res = launch(ws, table, found[name])
        assert res.ok and res.found > 0, f"{name}:\n{res.stdout}\n{res.stderr}"
        if n is not None:
            assert (res.found, res.passed) == (n, n), f"{name}: {res.stdout}\n{res.stderr}"
    # PYTHONPATH is the configuration's own repo (then the helpers): nothing of the other checkout
    for module, other in (("sample-service", "tinylib"), ("tinylib", "sample-service")):
        env = pycharm.build(ws, table, found[f"{module}: Unit tests"], parent_env=ide_env()).env
        parts = env["PYTHONPATH"].split(os.pathsep)
        assert parts[0] == str(ws / module) and not any(p.startswith(str(ws / other)) for p in parts), parts


def test_services_and_tox_run_in_their_repo(clean: Path) -> None:
    ws = clean
    table = generate(ws, [ws / "sample-service", ws / "tinylib"], ws / ".venv")
    found = pycharm.configs(ws)
    api = pycharm.run(pycharm.build(ws, table, found["sample-service: sample-api"], parent_env=ide_env()))
    assert (api.returncode, api.stdout) == (0, "Hello, world!\n"), api.stderr
    assert found["sample-service: sample-api"].options["SCRIPT_NAME"] == "$PROJECT_DIR$/.venv/bin/sample-api"
    tiny = pycharm.run(pycharm.build(ws, table, found["tinylib: tinylib-hello"], parent_env=ide_env()))
    assert (tiny.returncode, tiny.stdout) == (0, f"tiny {ws / 'tinylib'}\n"), tiny.stderr
    tox = pycharm.build(ws, table, found["tinylib: tox -e pep8"], parent_env=ide_env())
    assert tox.cwd == str(ws / "tinylib") and tox.argv[-1] == "-e pep8"  # tox finds tinylib's tox.ini there


def test_with_layout_from_the_main_checkout(clean: Path) -> None:
    """`devenv init sample-service --with ../tinylib`: the window is the main checkout, the other repo beside it."""
    ws = clean
    main = ws / "sample-service"
    table = generate(main, [main, ws / "tinylib"], ws / ".venv")
    assert not (ws / ".idea").exists()
    iml = parse(main / ".idea/tinylib.iml")
    assert iml.find(".//content").get("url") == "file://$MODULE_DIR$/../tinylib"
    assert parse(main / ".idea/sample-service.iml").find(".//content").get("url") == "file://$MODULE_DIR$"
    found = pycharm.configs(main)
    assert found["tinylib: Unit tests"].options["WORKING_DIRECTORY"] == "$PROJECT_DIR$/../tinylib"
    for name, n in (("sample-service: Unit tests", 5), ("tinylib: Unit tests", 2)):
        res = launch(main, table, found[name])
        assert res.ok and (res.found, res.passed) == (n, n), f"{name}: {res.stdout}\n{res.stderr}"
    tiny = pycharm.run(pycharm.build(main, table, found["tinylib: tinylib-hello"], parent_env=ide_env()))
    assert (tiny.returncode, tiny.stdout) == (0, f"tiny {ws / 'tinylib'}\n"), tiny.stderr


def test_reapply_is_a_no_op_and_keeps_a_user_edit(clean: Path) -> None:
    ws = clean
    repos, venv = [ws / "sample-service", ws / "tinylib"], ws / ".venv"
    table = generate(ws, repos, venv)
    before = {p: p.read_bytes() for p in (ws / ".idea").rglob("*") if p.is_file()}
    again = workspace.apply(ws, [project.load(r) for r in repos], venv, Reporter(quiet=True))
    assert set(again.files.values()) == {"identical"} and not again.changed, again.files
    assert {p: p.read_bytes() for p in (ws / ".idea").rglob("*") if p.is_file()} == before
    # the user adds an env var to one configuration in PyCharm; then tinylib's tox.ini changes upstream
    conf = ws / ".idea/runConfigurations/tinylib__Unit_tests.xml"
    mine = '<env name="TINY_UNIT" value="1" />\n      <env name="MINE" value="kept" />'
    conf.write_text(conf.read_text().replace('<env name="TINY_UNIT" value="1" />', mine))
    tox_ini = ws / "tinylib/tox.ini"
    original = tox_ini.read_text()
    try:
        tox_ini.write_text(original.replace("  TINY_UNIT=1\n", "  TINY_UNIT=1\n  TINY_NEW=2\n"))
        res = workspace.apply(ws, [project.load(r) for r in repos], venv, Reporter(quiet=True))
        assert res.files["runConfigurations/tinylib__Unit_tests.xml"] == "update" and not res.conflicts
        envs = pycharm.configs(ws)["tinylib: Unit tests"].envs
        assert (envs["MINE"], envs["TINY_NEW"], envs["TINY_UNIT"]) == ("kept", "2", "1")
        assert res.files["runConfigurations/sample_service__Unit_tests.xml"] == "identical"
        assert launch(ws, table, pycharm.configs(ws)["tinylib: Unit tests"]).passed == 2
    finally:
        tox_ini.write_text(original)


def test_an_attached_projects_dependency_would_leak_into_pythonpath(clean: Path) -> None:
    """Why not "attach": PyCharm's attach adds a module dependency to the primary module, and collectPythonPath
    puts the dependency's roots on the primary's PYTHONPATH; the emulation follows it, so the choice is tested."""
    ws = clean
    table = generate(ws, [ws / "sample-service", ws / "tinylib"], ws / ".venv")
    iml = ws / ".idea/sample-service.iml"
    iml.write_text(iml.read_text().replace('<orderEntry type="sourceFolder" forTests="false" />',
                                           '<orderEntry type="sourceFolder" forTests="false" />\n'
                                           '    <orderEntry type="module" module-name="tinylib" />'))
    env = pycharm.build(ws, table, pycharm.configs(ws)["sample-service: Unit tests"], parent_env=ide_env()).env
    assert env["PYTHONPATH"].split(os.pathsep)[:2] == [str(ws / "sample-service"), str(ws / "tinylib")]


def test_dry_run_writes_nothing(tmp_path: Path, jb_home: Path) -> None:
    from idefix import fake_venv

    sample = copy_sample(tmp_path / "sample-service")
    tiny = _tinylib(tmp_path / "tinylib")
    fake_venv(tmp_path)
    res = workspace.apply(tmp_path, [project.load(sample), project.load(tiny)], tmp_path / ".venv",
                          Reporter(quiet=True), dry_run=True)
    assert set(res.files.values()) == {"create"} and "tinylib.iml" in res.files
    assert "+++ b/.idea/modules.xml" in res.diff
    assert not (tmp_path / ".idea").exists() and not list(jb_home.rglob("jdk.table.xml"))
