"""Run the generated configurations the way PyCharm runs them, with the real venv: they must pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from idefix import configs, launch

from devenv import project
from devenv.ide import setup
from devenv.report import Reporter

pytestmark = pytest.mark.slow


def _generate(root: Path, jb: Path) -> Path:
    import shutil

    shutil.rmtree(root / ".idea", ignore_errors=True)
    (jb / "PyCharm2024.1").mkdir(parents=True, exist_ok=True)
    setup.apply(project.load(root), Reporter(quiet=True))
    return jb / "PyCharm2024.1/options/jdk.table.xml"


def test_stestr_project_runs_under_unittests(sample_stestr: Path) -> None:
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    table = _generate(sample_stestr, jb)
    found = configs(sample_stestr)
    for name in ("Unit tests", "Unit tests (debug)", "Functional tests"):
        assert found[name]["factory"] == "Unittests"
        res = launch(sample_stestr, table, found[name])
        assert res.returncode == 0, f"{name}:\n{res.stdout}\n{res.stderr}"
        assert "OK" in res.stderr and "Ran 0 tests" not in res.stderr
    api = launch(sample_stestr, table, found["sample-api"])
    assert (api.returncode, api.stdout) == (0, "Hello, world!\n")
    manage = launch(sample_stestr, table, found["sample-manage"])
    assert manage.returncode == 0 and manage.stdout.startswith("eventlet ")


def test_env_from_the_configuration_reaches_the_tests(sample_stestr: Path, tmp_path: Path) -> None:
    """A test that reads the env proves <envs> is what the run sees (EVENTLET_NO_GREENDNS, tox setenv)."""
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    table = _generate(sample_stestr, jb)
    probe = sample_stestr / "sample_service/tests/unit/test_zz_env_probe.py"
    probe.write_text("import os, unittest\n\nclass T(unittest.TestCase):\n    def test_env(self):\n"
                     "        self.assertEqual(os.environ['EVENTLET_NO_GREENDNS'], 'yes')\n"
                     "        self.assertEqual(os.environ['SAMPLE_UNIT'], '1')\n"
                     "        self.assertNotIn('PYTHON', os.environ)\n")
    try:
        conf = configs(sample_stestr)["Unit tests"]
        res = launch(sample_stestr, table, conf)
        assert res.returncode == 0, res.stderr
        conf["envs"]["SAMPLE_UNIT"] = "0"  # and a wrong env fails: the probe is not vacuous
        assert launch(sample_stestr, table, conf).returncode != 0
    finally:
        probe.unlink()


def test_pytest_project_runs_under_py_test(sample_pytest: Path) -> None:
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    table = _generate(sample_pytest, jb)
    found = configs(sample_pytest)
    unit = found["Unit tests"]
    assert unit["factory"] == "py.test"
    assert json.loads(unit["options"]["_new_additionalArguments"]).split() == ["-p", "no:cacheprovider", "-q"]
    res = launch(sample_pytest, table, unit)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " passed" in res.stdout
    debug = launch(sample_pytest, table, found["Unit tests (debug)"])
    assert debug.returncode == 0 and " passed" in debug.stdout
