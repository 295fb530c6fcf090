"""PyCharm Tox configurations (issue 14, part 1): which envs get one, their XML as PyCharm serializes it,
and a launch the way PyCharm launches one (tests/pycharm.py: the interpreter found by SDK_HOME in
jdk.table.xml, the tox helper stand-in with "-e ENV" as one argument), against real tox."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pycharm
import pytest
from idefix import copy_sample

from devenv import project, tools
from devenv.ide import runconfigs, xmlio

TOX_INI = """[tox]
envlist = py3,pep8

[testenv]
deps = -r{toxinidir}/test-requirements.txt
commands = stestr run {posargs}

[testenv:pep8]
commands = flake8

[testenv:docs]
commands = sphinx-build doc/source doc/build/html

[testenv:functional{,-py311}]
commands = stestr --test-path=./x/tests/functional run

[testenv:cover]
commands = coverage run

[testenv:venv]
commands = {posargs}

[testenv:genconfig]
commands = oslo-config-generator --config-file=etc/x.conf

[testenv:debug]
commands = oslo_debug_helper {posargs}
"""


def test_the_envs_a_contributor_runs_by_hand_get_one_each(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "p", TOX_INI)
    proj = project.load(root)
    assert runconfigs.tox_envs(proj) == ["pep8", "docs", "functional", "genconfig"]
    configs = runconfigs.tox(proj, "/tools/bin/python")
    assert [c.name for c in configs] == ["tox -e pep8", "tox -e docs", "tox -e functional", "tox -e genconfig"]
    assert runconfigs.tox(proj, None) == []  # no interpreter with tox: none written


def _init(run_cli, root: Path) -> Path:
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"]) / "PyCharm2025.2"
    jb.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    res = run_cli("init", str(root))
    assert res.exit_code == 0, res.output
    return jb / "options" / "jdk.table.xml"


@pytest.mark.slow
def test_pep8_configuration_runs_as_pycharm_runs_it_and_fails_on_a_lint_error(tmp_path: Path, run_cli,
                                                                             tools_venv: tools.Tools) -> None:
    # not "sample service": tox itself splits the sample's `constraints = {toxinidir}/...` at the space
    root = copy_sample(tmp_path / "sample-service")
    table = _init(run_cli, root)
    xml = (root / ".idea" / "runConfigurations" / "tox__e_pep8.xml").read_text()
    el = xmlio.parse(xml).find("configuration")
    assert (el.get("type"), el.get("factoryName"), el.get("name")) == ("Tox", "Tox", "tox -e pep8")
    opts = {o.get("name"): o.get("value") for o in el.findall("option")}
    assert opts["IS_MODULE_SDK"] == "false" and opts["SDK_HOME"] == str(tools_venv.python)
    assert el.find("module") is None  # PyToxConfiguration skips module serialization
    assert [o.get("value") for o in el.findall("runOnlyEnvs/array/option")] == ["pep8"]
    # the tools SDK is registered (findSdkByPath), shared: associated with no project
    sdk = [j for j in xmlio.parse(table.read_text()).iter("jdk") if j.find("name").get("value") == tools_venv.sdk_name]
    assert len(sdk) == 1 and sdk[0].find("homePath").get("value") == str(tools_venv.python)
    assert sdk[0].find("additional").get("ASSOCIATED_PROJECT_PATH") is None
    assert "the 'tox -e pep8' configuration" in run_cli("init", str(root)).output

    conf = pycharm.configs(root)["tox -e pep8"]
    launch = pycharm.build(root, table, conf)
    assert launch.argv[1:] == [str(pycharm.HELPERS / pycharm.TOX_RUNNER), "-e pep8"]
    ok = pycharm.run(launch, timeout=600)
    assert ok.returncode == 0 and ok.envs == {"pep8": "passed"}, ok.stdout[-2000:] + ok.stderr[-2000:]

    (root / "sample_service" / "lint_me.py").write_text("import os\n")  # F401: unused import
    bad = pycharm.run(launch, timeout=600)
    assert bad.returncode != 0 and bad.envs == {"pep8": "failed"}
    assert "F401" in bad.stdout


def test_without_the_tools_init_still_works_and_says_what_is_left_out(tmp_path: Path, run_cli,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("DEVENV_TOOLS_HOME", str(blocker / "tools"))  # cannot be created
    root = copy_sample(tmp_path / "p")
    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"]) / "PyCharm2025.2"
    jb.mkdir(parents=True)
    res = run_cli("init", str(root))
    assert res.exit_code == 0, res.output
    assert "devenv's tools (tox, pre-commit, git-review) could not be installed" in res.output
    assert "DEVENV_TOOLS_HOME" in res.output
    assert not list((root / ".idea" / "runConfigurations").glob("tox*"))
    assert (root / ".idea" / "runConfigurations" / "Unit_tests.xml").is_file()
    assert "lint as the gate does: tox -e pep8" in res.output


def test_the_emulation_reads_runonlyenvs_as_xmlserializer_does() -> None:
    """Written without <array>, PyCharm reads no env at all (AbstractCollectionBinding.deserialize takes the
    tag's single child as the collection): tox would then run every env of envlist."""
    good = xmlio.parse('<runOnlyEnvs><array><option value="pep8" /></array></runOnlyEnvs>')
    flat = xmlio.parse('<runOnlyEnvs><option value="pep8" /></runOnlyEnvs>')
    assert pycharm.string_array(good) == ["pep8"]
    assert pycharm.string_array(flat) == []


def test_doctor_checks_that_each_tox_configuration_imports_tox(tmp_path: Path, tools_venv: tools.Tools) -> None:
    import sys

    from devenv.ide import launchcheck, render

    root = copy_sample(tmp_path / "p")
    folder = root / ".idea" / "runConfigurations"
    folder.mkdir(parents=True)
    proj = project.load(root)
    plan = render.plan(proj, "sdk", str(tools_venv.python))
    for rel, text in render.project_files(plan).items():
        if rel.startswith("runConfigurations/tox"):
            (root / ".idea" / rel).write_text(text)
    found = [f for f in launchcheck.check(root, Path(sys.executable)) if f.check == "ide.tox"]
    assert [f.status for f in found] == ["ok", "ok"] and "tox 4." in found[0].message
    pep8 = folder / "tox__e_pep8.xml"
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)  # no tox there
    pep8.write_text(pep8.read_text().replace(str(tools_venv.python), str(bare / "bin" / "python")))
    bad = {f.message.split(":")[0]: f for f in launchcheck.check(root, Path(sys.executable)) if f.check == "ide.tox"}
    assert bad["tox -e pep8"].status == "fail" and "cannot import tox" in bad["tox -e pep8"].message
    assert bad["tox -e functional"].status == "ok"
