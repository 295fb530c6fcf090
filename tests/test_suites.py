"""Which test suites a tox env runs, read from its commands as tox would run them (no tox needed here:
test_toxini compares the substitutions with `tox config`)."""

from __future__ import annotations

from pathlib import Path

from devenv import project
from devenv.ide import runconfigs


def load(tmp_path: Path, tox: str, **files: str) -> project.Project:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "setup.cfg").write_text("[metadata]\nname = proj\n")
    (root / "tox.ini").write_text(tox)
    for rel, text in files.items():
        path = root / rel.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project.load(root)


def test_swift_bash_ec_with_a_rerun_is_one_pytest_suite(tmp_path: Path) -> None:
    p = load(tmp_path, '[testenv]\ncommands =\n  find {envdir} -name "*.pyc" -delete\n'
                       '  bash -ec "pytest --cov=swift --cov-branch --cov-report=html:cover --cov-report term '
                       '{posargs:test/unit} || pytest --last-failed {posargs:test/unit}"\n')
    (suite,) = p.unit_env.suites
    assert (suite.kind, suite.test_path, suite.args) == ("pytest", "test/unit", ())
    assert [c.name for c in runconfigs.tests(p)] == ["Unit tests", "Unit tests (debug)"]


def test_sh_c_and_python_m_forms(tmp_path: Path) -> None:
    p = load(tmp_path, "[testenv]\ncommands =\n  sh -c 'python -m stestr --test-path=./proj/tests/unit run {posargs}'\n"
                       "  python3 -m pytest -m 'not slow' -k api proj/tests/api\n"
                       "  python -m testtools.run discover proj.tests.other\n")
    kinds = [(s.kind, s.test_path) for s in p.unit_env.suites]
    assert kinds == [("stestr", "proj/tests/unit"), ("pytest", "proj/tests/api"), ("unittest", None)]
    assert p.unit_env.suites[1].args == ("-m", "not slow", "-k", "api")
    names = [c.name for c in runconfigs.tests(p)]
    assert names == ["Unit tests: proj/tests/unit", "Unit tests (debug)", "Unit tests: proj/tests/api"]


def test_horizon_like_four_pytest_runs_are_four_configurations(tmp_path: Path) -> None:
    ds = '--junitxml="{toxinidir}/r.xml" --html="{toxinidir}/r.html" --self-contained-html'
    p = load(tmp_path, "[testenv]\ncommands =\n"
                       f'  pytest -v --ds="a.tests.settings" {ds} {{toxinidir}}/a {{posargs}}\n'
                       f'  pytest -v --ds="b.test.settings" {ds} {{toxinidir}}/b {{posargs}}\n'
                       f'  pytest -v --ds="b.test.settings" -m "not selenium and not plugin_test" '
                       f'--ignore="{{toxinidir}}/b/test/selenium" {ds} {{toxinidir}}/b/dash {{posargs}}\n'
                       f'  pytest -v --ds="b.test.settings" -m plugin_test {ds} {{toxinidir}}/b/dash {{posargs}}\n')
    names = [c.name for c in runconfigs.tests(p)]
    assert names == ["Unit tests: a", "Unit tests (debug)", "Unit tests: b", "Unit tests: b/dash",
                     "Unit tests: b/dash [plugin_test]"]
    for c in runconfigs.tests(p):
        assert "junitxml" not in c.additional_arguments and "--html" not in c.additional_arguments
    assert runconfigs.django_settings(p) == {"": "a.tests.settings", "a": "a.tests.settings",
                                             "b": "b.test.settings", "b/dash": "b.test.settings"}


def test_stestr_slowest_combine_and_init_are_not_suites(tmp_path: Path) -> None:
    p = load(tmp_path, "[testenv]\ncommands =\n  stestr init\n  stestr run {posargs}\n"
                       "  env TEST_OSPROFILER=1 stestr run --combine --no-discover 'proj.tests.unit.test_profiler'\n"
                       "  stestr slowest\n",
             **{".stestr.conf": "[DEFAULT]\ntest_path=./proj/tests/unit\ntop_dir=./\n"})
    (suite,) = p.unit_env.suites
    assert (suite.kind, suite.test_path) == ("stestr", "proj/tests/unit")


def test_functional_env_needing_more_is_left_out_and_said(tmp_path: Path) -> None:
    p = load(tmp_path, "[testenv]\ndeps = -r{toxinidir}/test-requirements.txt\ncommands = stestr run\n"
                       "[testenv:functional]\ndeps =\n  {[testenv]deps}\n  openstack-placement>=9.0.0\n"
                       "commands = stestr --test-path=./proj/tests/functional run {posargs}\n",
             **{".stestr.conf": "[DEFAULT]\ntest_path=./proj/tests/unit\n"})
    assert "Functional tests" not in [c.name for c in runconfigs.tests(p)]
    assert runconfigs.functional_missing(p) == ["openstack-placement>=9.0.0"]
    assert any("Functional tests left out" in n and "openstack-placement" in n for n in runconfigs.notes(p))


def test_functional_env_the_venv_covers_is_written(tmp_path: Path) -> None:
    p = load(tmp_path, "[testenv]\ndeps = -r{toxinidir}/test-requirements.txt\ncommands = stestr run\n"
                       "[testenv:functional]\nsetenv = OS_TEST_PATH=./proj/tests/functional\n",
             **{".stestr.conf": "[DEFAULT]\ntest_path=${OS_TEST_PATH:-./proj/tests/unit}\n"})
    names = [c.name for c in runconfigs.tests(p)]
    assert "Functional tests" in names
    func = next(c for c in runconfigs.tests(p) if c.name == "Functional tests")
    assert func.target == "$PROJECT_DIR$/proj/tests/functional"
