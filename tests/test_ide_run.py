"""Run the generated configurations the way PyCharm runs them (tests/pycharm.py), with real venvs.

Every configuration devenv writes, and gutter runs (right-click -> Run) on a folder, a module, a class and
a method, made from the templates as PyCharm makes them. A synthetic project reproduces each module a
marked test root can hide (`cmd`, `token`, `fixtures`), and a pytest-django project has several suites.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pycharm
import pytest
from idefix import build_venv

from devenv import project
from devenv.ide import render, setup
from devenv.report import Reporter

pytestmark = pytest.mark.slow


def generate(root: Path) -> Path:
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    shutil.rmtree(root / ".idea", ignore_errors=True)
    (jb / "PyCharm2024.1").mkdir(parents=True, exist_ok=True)
    setup.apply(project.load(root), Reporter(quiet=True))
    return jb / "PyCharm2024.1/options/jdk.table.xml"


def ide_env() -> dict[str, str]:
    """The IDE's own environment (PARENT_ENVS): this one, less what only the test session sets."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}


def launch(root: Path, table: Path, conf: pycharm.Config, generation: str = "classic", **kw) -> pycharm.Outcome:
    """generation: the _jb_unittest_runner.py followed. "classic" runs folders; "quiet" (the newer one
    read) breaks every folder target, PyCharm's own included, and is checked where that shows."""
    return pycharm.run(pycharm.build(root, table, conf, parent_env=ide_env()), generation=generation, **kw)


def test_stestr_project_runs_under_unittests(sample_stestr: Path) -> None:
    table = generate(sample_stestr)
    found = pycharm.configs(sample_stestr)
    assert set(found) >= {"Unit tests", "Unit tests (debug)", "Functional tests", "sample-api", "sample-manage"}
    for name in ("Unit tests", "Unit tests (debug)", "Functional tests"):
        assert found[name].factory == "Unittests"
        res = launch(sample_stestr, table, found[name], generation="classic")
        assert res.ok and res.found > 0, f"{name}:\n{res.stdout}\n{res.stderr}"
        # the current helper's `--quiet` ahead of `discover` fails every folder target, PyCharm's own too
        assert "unrecognized arguments: -s" in launch(sample_stestr, table, found[name], "quiet").stderr
    unit = launch(sample_stestr, table, found["Unit tests"], generation="classic")
    assert (unit.found, unit.passed) == (5, 5)
    api = pycharm.run(pycharm.build(sample_stestr, table, found["sample-api"], parent_env=ide_env()))
    assert (api.returncode, api.stdout) == (0, "Hello, world!\n")
    manage = pycharm.run(pycharm.build(sample_stestr, table, found["sample-manage"], parent_env=ide_env()))
    assert manage.returncode == 0 and manage.stdout.startswith("eventlet ")


def test_services_get_the_runtime_env_not_the_test_capture(sample_stestr: Path) -> None:
    generate(sample_stestr)
    api = pycharm.configs(sample_stestr)["sample-api"]
    assert api.envs["EVENTLET_NO_GREENDNS"] == "yes"
    for k in ("OS_STDOUT_CAPTURE", "OS_STDERR_CAPTURE", "OS_TEST_TIMEOUT"):
        assert k not in api.envs
    assert pycharm.configs(sample_stestr)["Unit tests"].envs["OS_TEST_TIMEOUT"] == "60"


def test_env_from_the_configuration_reaches_the_tests(sample_stestr: Path) -> None:
    """A test that reads the env proves <envs> is what the run sees (EVENTLET_NO_GREENDNS, tox setenv)."""
    table = generate(sample_stestr)
    probe = sample_stestr / "sample_service/tests/unit/test_zz_env_probe.py"
    probe.write_text("import os, unittest\n\nclass T(unittest.TestCase):\n    def test_env(self):\n"
                     "        self.assertEqual(os.environ['EVENTLET_NO_GREENDNS'], 'yes')\n"
                     "        self.assertEqual(os.environ['SAMPLE_UNIT'], '1')\n"
                     "        self.assertNotIn('PYTHON', os.environ)\n")
    try:
        conf = pycharm.configs(sample_stestr)["Unit tests"]
        assert launch(sample_stestr, table, conf).ok
        conf.envs["SAMPLE_UNIT"] = "0"  # and a wrong env fails: the probe is not vacuous
        assert launch(sample_stestr, table, conf).failed == 1
    finally:
        probe.unlink()


def test_gutter_runs_on_folder_module_class_method(sample_stestr: Path) -> None:
    table = generate(sample_stestr)
    unit = sample_stestr / "sample_service" / "tests" / "unit"
    module = unit / "test_greeting.py"
    folder = pycharm.gutter(sample_stestr, unit, folder=True)
    # a folder is run with `discover`: the older helper runs it; the current one puts --quiet ahead of
    # discover, which unittest then rejects (PyCharm's defect; no configuration can avoid it)
    res = launch(sample_stestr, table, folder, generation="classic")
    assert res.ok and res.passed == 5, res.stdout + res.stderr
    assert "unrecognized arguments: -s" in launch(sample_stestr, table, folder, "quiet").stderr
    cases = {
        "module": (pycharm.gutter(sample_stestr, module), 3),
        "class": (pycharm.gutter(sample_stestr, module, "TestGreeting"), 3),
        "method": (pycharm.gutter(sample_stestr, module, "TestGreeting.test_greets"), 1),
    }
    for (what, (conf, expected)), generation in itertools.product(cases.items(), ("classic", "quiet")):
        res = launch(sample_stestr, table, conf, generation)
        assert res.ok and (res.found, res.passed) == (expected, expected), f"{what}: {res.stdout}\n{res.stderr}"
        assert conf.envs["EVENTLET_NO_GREENDNS"] == "yes"  # the template's env reaches gutter runs
    # the dotted name is the project's own: the module loads once, as sample_service.tests.unit...
    assert pycharm.gutter(sample_stestr, module, "TestGreeting").json("_new_target") == \
        "sample_service.tests.unit.test_greeting.TestGreeting"


def test_pytest_project_runs_under_py_test(sample_pytest: Path) -> None:
    table = generate(sample_pytest)
    found = pycharm.configs(sample_pytest)
    unit = found["Unit tests"]
    assert unit.factory == "py.test"
    assert unit.json("_new_additionalArguments").split() == ["-p", "no:cacheprovider", "-q"]
    res = launch(sample_pytest, table, unit)
    assert res.ok and res.passed == res.found == 5, res.stdout + res.stderr
    debug = launch(sample_pytest, table, found["Unit tests (debug)"])
    assert debug.ok and debug.passed == 5
    module = sample_pytest / "sample_service/tests/unit/test_greeting.py"
    for symbol, n in ((None, 3), ("TestGreeting", 3), ("TestGreeting.test_strips", 1)):
        res = launch(sample_pytest, table, pycharm.gutter(sample_pytest, module, symbol))
        assert res.ok and res.passed == n, f"{symbol}: {res.stdout}\n{res.stderr}"


# ------------------------------------------------------------------ a project whose tests shadow modules

SHADOW_SETUP = """[metadata]
name = shadow
[options]
packages = find:
"""
SHADOW_TOX = """[tox]
envlist = py3
[testenv]
usedevelop = True
deps = -r{toxinidir}/test-requirements.txt
commands = stestr run {posargs}
"""
# Each package below is named like a module the test run needs: the stdlib `cmd` (pdb imports it),
# `token` (tokenize, hence traceback and unittest, import it) and the `fixtures` library.
SHADOW_TEST = """import pdb  # noqa: F401  (pdb -> cmd.Cmd)
import tokenize  # noqa: F401  (tokenize -> token)
import fixtures
import testtools

from shadow.tests.unit.cmd import cmd_helper


class TestShadow(testtools.TestCase):
    def test_fixtures_is_the_library(self):
        self.useFixture(fixtures.EnvironmentVariable("SHADOW", "1"))
        self.assertEqual(cmd_helper(), "ok")

    def test_loaded_once(self):
        import sys
        self.assertNotIn("cmd.test_cmd", sys.modules)
"""


@pytest.fixture(scope="session")
def shadow_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shadow") / "shadow"
    unit = root / "shadow" / "tests" / "unit"
    for pkg in ("cmd", "token", "fixtures"):
        (unit / pkg).mkdir(parents=True)
        (unit / pkg / "__init__.py").write_text(f"# shadow's own {pkg} test helpers\n")
    (unit / "cmd" / "__init__.py").write_text("def cmd_helper():\n    return 'ok'\n")
    (unit / "cmd" / "test_cmd.py").write_text(SHADOW_TEST)
    for d in (root / "shadow", root / "shadow" / "tests", unit):
        (d / "__init__.py").write_text("")
    (root / "setup.cfg").write_text(SHADOW_SETUP)
    (root / "setup.py").write_text("import setuptools\nsetuptools.setup()\n")
    (root / "tox.ini").write_text(SHADOW_TOX)
    (root / "test-requirements.txt").write_text("stestr\ntesttools\nfixtures\n")
    (root / ".stestr.conf").write_text("[DEFAULT]\ntest_path=./shadow/tests/unit\ntop_dir=./\n")
    build_venv(root)
    return root


def test_no_test_root_shadows_a_module(shadow_project: Path) -> None:
    table = generate(shadow_project)
    unit = pycharm.configs(shadow_project)["Unit tests"]
    res = launch(shadow_project, table, unit)
    assert res.ok and (res.found, res.passed) == (2, 2), res.stdout + res.stderr
    test_file = shadow_project / "shadow/tests/unit/cmd/test_cmd.py"
    for symbol, n in ((None, 2), ("TestShadow", 2), ("TestShadow.test_loaded_once", 1)):
        res = launch(shadow_project, table, pycharm.gutter(shadow_project, test_file, symbol))
        assert res.ok and res.passed == n, f"{symbol}: {res.stdout}\n{res.stderr}"


def test_the_emulation_sees_what_marked_test_roots_break(shadow_project: Path, monkeypatch) -> None:
    """What devenv wrote before (test folders marked as Test Sources Roots) fails in the emulation just as
    it failed in PyCharm: so the emulation is not a kind one."""
    monkeypatch.setattr(render, "_marked_test_folders", lambda tests: ("shadow/tests/unit",))
    table = generate(shadow_project)
    unit = pycharm.configs(shadow_project)["Unit tests"]
    res = launch(shadow_project, table, unit)
    assert not res.ok
    # keystone's failure: the marked root's token/ hides the stdlib token, so not even unittest imports
    assert "cannot import name 'EXACT_TOKEN_TYPES' from 'token'" in res.stderr, res.stderr[-2000:]


def test_doctor_names_the_configuration_and_module_that_fail(shadow_project: Path, monkeypatch) -> None:
    from devenv.ide import launchcheck

    python = shadow_project / ".venv/bin/python"
    with monkeypatch.context() as m:
        m.setattr(render, "_marked_test_folders", lambda tests: ("shadow/tests/unit",))
        generate(shadow_project)
    bad = [f for f in launchcheck.check(shadow_project, python) if f.status == "fail"]
    assert bad and bad[0].message.startswith("Unit tests: import unittest fails")
    assert "token" in bad[0].message and "shadow/tests/unit hides a module" in bad[0].meaning
    generate(shadow_project)
    found = launchcheck.check(shadow_project, python)
    assert found and all(f.status == "ok" for f in found), found
    assert "shadow.tests.unit.cmd.test_cmd" in found[0].message  # a real test module was imported


def test_refresh_repairs_what_an_earlier_devenv_marked(shadow_project: Path, monkeypatch) -> None:
    """A project set up by the devenv that marked test roots is repaired by the next run, keeping the
    user's own edit to the same .iml, and the change is reported."""
    from lxml import etree

    with monkeypatch.context() as m:
        m.setattr(render, "_marked_test_folders", lambda tests: ("shadow/tests/unit",))
        generate(shadow_project)
    iml = shadow_project / ".idea/shadow.iml"
    text = iml.read_text()
    assert 'isTestSource="true"' in text
    # the user excludes a folder of their own in PyCharm
    iml.write_text(text.replace("</content>", '  <excludeFolder url="file://$MODULE_DIR$/scratch" />\n    </content>'))
    res = setup.apply(project.load(shadow_project), Reporter(quiet=True))
    tree = etree.parse(str(iml)).getroot()
    assert [s.get("isTestSource") for s in tree.iter("sourceFolder")] == ["false"]
    assert tree.find(".//excludeFolder[@url='file://$MODULE_DIR$/scratch']") is not None
    assert res.files["shadow.iml"] in ("update", "merge", "merged"), res.files


# ------------------------------------------------------------------ a horizon-like pytest-django project

DJ_TOX = """[tox]
envlist = py3
[testenv]
usedevelop = True
deps = -r{toxinidir}/test-requirements.txt
commands =
  pytest -v --ds="alpha.tests.settings" --junitxml="{toxinidir}/test_reports/alpha.xml" {toxinidir}/alpha {posargs}
  pytest -v --ds="beta.test.settings" -m "not selenium" --ignore="{toxinidir}/beta/test/selenium" \
    {toxinidir}/beta {posargs}
"""
DJ_TEST = """from django.conf import settings


class Test{name}:
    def test_settings(self):
        assert settings.WHO == "{app}"

    def test_app_installed(self):
        assert "{app}" in settings.INSTALLED_APPS
"""


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dj") / "djsite"
    for app, tests in (("alpha", "tests"), ("beta", "test")):
        t = root / app / tests
        t.mkdir(parents=True)
        (root / app / "__init__.py").write_text("")
        (t / "__init__.py").write_text("")
        (t / "settings.py").write_text(f"SECRET_KEY = 'x'\nWHO = '{app}'\nINSTALLED_APPS = ['{app}']\n"
                                       "DATABASES = {}\nUSE_TZ = True\n")
        (t / "test_app.py").write_text(DJ_TEST.format(name=app.title(), app=app))
    (root / "beta" / "test" / "selenium").mkdir()
    (root / "beta" / "test" / "selenium" / "__init__.py").write_text("")
    (root / "beta" / "test" / "selenium" / "test_browser.py").write_text("def test_needs_a_browser():\n"
                                                                          "    raise AssertionError('browser')\n")
    (root / "setup.cfg").write_text("[metadata]\nname = djsite\n[options]\npackages = find:\n")
    (root / "setup.py").write_text("import setuptools\nsetuptools.setup()\n")
    (root / "tox.ini").write_text(DJ_TOX)
    (root / "test-requirements.txt").write_text("pytest\npytest-django\ndjango\n")
    build_venv(root)
    return root


def test_each_pytest_django_suite_and_gutter_runs_anywhere(django_project: Path) -> None:
    root = django_project
    table = generate(root)
    found = pycharm.configs(root)
    assert {"Unit tests: alpha", "Unit tests: beta", "Unit tests (debug)"} <= set(found)
    beta = found["Unit tests: beta"]
    args = beta.json("_new_additionalArguments")
    assert "beta.test.settings" in args and '"not selenium"' in args and "selenium" in args.split("--ignore")[1]
    assert "junitxml" not in found["Unit tests: alpha"].json("_new_additionalArguments")  # CI-only options go
    for name in ("Unit tests: alpha", "Unit tests: beta", "Unit tests (debug)"):
        res = launch(root, table, found[name])
        assert res.ok and res.passed == 2, f"{name}: {res.stdout}\n{res.stderr}"
    # gutter runs in either app get that app's settings (devenv's per-folder plugin), as tox gives them
    for app, tests in (("alpha", "tests"), ("beta", "test")):
        module = root / app / tests / "test_app.py"
        for symbol, n in ((None, 2), (f"Test{app.title()}", 2), (f"Test{app.title()}.test_settings", 1)):
            res = launch(root, table, pycharm.gutter(root, module, symbol))
            assert res.ok and res.passed == n, f"{app} {symbol}: {res.stdout}\n{res.stderr}"
    # and doctor sees every suite import with its settings
    from devenv.ide import launchcheck

    checks = launchcheck.check(root, root / ".venv/bin/python")
    assert checks and all(c.status == "ok" for c in checks), checks
