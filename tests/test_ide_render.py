"""What devenv writes into .idea/ and jdk.table.xml, parsed and checked the way PyCharm reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from idefix import configs, copy_sample, fake_venv, sdk_of
from lxml import etree

from devenv import project
from devenv.ide import setup, xmlio
from devenv.report import Reporter

# Element order PyCharm writes (AbstractPythonRunConfiguration, then the factory's own options).
COMMON = ["module", "option", "option", "envs", "option", "option", "option", "option", "option", "EXTENSION"]
UNITTEST_TAIL = ["option"] * 4 + ["method"]
PYTEST_TAIL = ["option"] * 5 + ["method"]
SCRIPT_TAIL = ["option"] * 7 + ["method"]
COMMON_OPTIONS = ["INTERPRETER_OPTIONS", "PARENT_ENVS", "SDK_HOME", "WORKING_DIRECTORY", "IS_MODULE_SDK",
                  "ADD_CONTENT_ROOTS", "ADD_SOURCE_ROOTS"]


def apply(root: Path, **kw) -> setup.IdeResult:
    return setup.apply(project.load(root), Reporter(quiet=True), **kw)


def jdk_entries(table: Path) -> dict[str, etree._Element]:
    return {j.find("name").get("value"): j for j in etree.parse(str(table)).getroot().iter("jdk")}


def test_sample_project_files(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "sample-service")
    python = fake_venv(root)
    res = apply(root)
    assert set(res.files.values()) == {"create"}
    name = "Python 3.11 (sample-service)"
    assert res.sdk_name == name == sdk_of(root)
    misc = etree.parse(str(root / ".idea/misc.xml")).getroot()
    assert misc.tag == "project" and misc.get("version") == "4"
    assert misc.find("component").attrib == {"name": "ProjectRootManager", "version": "2",
                                              "project-jdk-name": name, "project-jdk-type": "Python SDK"}
    mod = etree.parse(str(root / ".idea/modules.xml")).getroot().find("component/modules/module")
    assert mod.get("fileurl") == "file://$PROJECT_DIR$/.idea/sample-service.iml"
    assert mod.get("filepath") == "$PROJECT_DIR$/.idea/sample-service.iml"
    iml = etree.parse(str(root / ".idea/sample-service.iml")).getroot()
    assert (iml.tag, iml.get("type")) == ("module", "PYTHON_MODULE")
    content = iml.find("component[@name='NewModuleRootManager']/content")
    assert content.get("url") == "file://$MODULE_DIR$"
    sources = {s.get("url"): s.get("isTestSource") for s in content.findall("sourceFolder")}
    # no Test Sources Root: PyCharm would put it on PYTHONPATH and re-root gutter-run names (see render.plan)
    assert sources == {"file://$MODULE_DIR$": "false"}
    excluded = {e.get("url").rsplit("/", 1)[1] for e in content.findall("excludeFolder")}
    assert {".venv", ".tox", ".stestr", "build", "dist", "sample_service.egg-info"} <= excluded
    jdk_entry = iml.find("component/orderEntry[@type='jdk']")
    assert (jdk_entry.get("jdkName"), jdk_entry.get("jdkType")) == (name, "Python SDK")
    runner = iml.find("component[@name='TestRunnerService']/option[@name='PROJECT_TEST_RUNNER']")
    assert runner.get("value") == "Unittests"
    # the interpreter, in every installed PyCharm (new and old layout), with an existing homePath
    for table in (jb_home / "PyCharm2024.1/options/jdk.table.xml",
                  jb_home / ".PyCharmCE2019.3/config/options/jdk.table.xml"):
        entry = jdk_entries(table)[name]
        assert entry.find("type").get("value") == "Python SDK"
        assert entry.find("version").get("value") == "Python 3.11.7"
        assert Path(entry.find("homePath").get("value")) == python and python.exists()
        assert entry.find("additional").get("ASSOCIATED_PROJECT_PATH") == str(root)
        assert [r.get("type") for r in entry.iter("root")] == ["composite", "composite"]


def test_sample_run_configurations(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "sample-service")
    fake_venv(root)
    apply(root)
    found = configs(root)
    assert set(found) == {"Unit tests", "Unit tests (debug)", "Functional tests", "sample-api", "sample-manage",
                          "tox -e pep8", "tox -e functional"}
    unit = found["Unit tests"]
    assert (unit["type"], unit["factory"], unit["module"]) == ("tests", "Unittests", "sample-service")
    assert unit["children"] == COMMON + UNITTEST_TAIL
    assert list(unit["options"]) == COMMON_OPTIONS + ["_new_pattern", "_new_additionalArguments", "_new_target",
                                                      "_new_targetType"]
    assert unit["element"].find("method").get("v") == "2"
    opts = unit["options"]
    assert (opts["SDK_HOME"], opts["IS_MODULE_SDK"], opts["WORKING_DIRECTORY"]) == ("", "true", "$PROJECT_DIR$")
    assert json.loads(opts["_new_target"]) == "$PROJECT_DIR$/sample_service/tests/unit"
    assert json.loads(opts["_new_targetType"]) == "PATH"
    assert unit["envs"] == {"LANGUAGE": "en_US", "OS_STDOUT_CAPTURE": "1", "OS_STDERR_CAPTURE": "1",
                            "OS_TEST_TIMEOUT": "60", "PYTHONDONTWRITEBYTECODE": "1", "SAMPLE_UNIT": "1",
                            "PYTHONUNBUFFERED": "1", "EVENTLET_NO_GREENDNS": "yes"}
    debug = found["Unit tests (debug)"]["envs"]
    assert {k: debug[k] for k in ("OS_TEST_TIMEOUT", "OS_STDOUT_CAPTURE", "OS_STDERR_CAPTURE", "OS_LOG_CAPTURE",
                                  "GEVENT_SUPPORT", "EVENTLET_NO_GREENDNS")} == {
        "OS_TEST_TIMEOUT": "0", "OS_STDOUT_CAPTURE": "0", "OS_STDERR_CAPTURE": "0", "OS_LOG_CAPTURE": "0",
        "GEVENT_SUPPORT": "True", "EVENTLET_NO_GREENDNS": "yes"}
    functional = found["Functional tests"]
    assert json.loads(functional["options"]["_new_target"]) == "$PROJECT_DIR$/sample_service/tests/functional"
    assert functional["envs"]["OS_TEST_PATH"] == "./sample_service/tests/functional"
    assert "SAMPLE_UNIT" not in functional["envs"]
    api = found["sample-api"]
    assert (api["type"], api["factory"]) == ("PythonConfigurationType", "Python")
    assert api["children"] == COMMON + SCRIPT_TAIL
    assert api["options"]["SCRIPT_NAME"] == "$PROJECT_DIR$/.venv/bin/sample-api"
    assert api["options"]["MODULE_MODE"] == "false"
    assert api["envs"]["EVENTLET_NO_GREENDNS"] == "yes" and "PYTHON" not in api["envs"]
    assert "OS_STDOUT_CAPTURE" not in api["envs"] and "OS_TEST_TIMEOUT" not in api["envs"]
    # JSON values are stored quoted, as PyCharm's Gson writes them
    raw = (root / ".idea/runConfigurations/Unit_tests.xml").read_text()
    assert '<option name="_new_target" value="&quot;$PROJECT_DIR$/sample_service/tests/unit&quot;" />' in raw


def test_workspace_templates_carry_the_environment(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "sample-service")
    fake_venv(root)
    apply(root)
    ws = etree.parse(str(root / ".idea/workspace.xml")).getroot()
    templates = ws.findall("component[@name='RunManager']/configuration[@default='true']")
    tests = [t for t in templates if t.get("type") == "tests"]
    assert {t.get("factoryName") for t in tests} == {"Unittests", "py.test"}
    for t in tests:
        assert t.get("name") is None
        envs = {e.get("name"): e.get("value") for e in t.findall("envs/env")}
        assert envs["SAMPLE_UNIT"] == "1" and envs["EVENTLET_NO_GREENDNS"] == "yes"
        assert envs["GEVENT_SUPPORT"] == "True"  # eventlet: debugging a gutter run needs it
    # the Python template (scripts run from the editor): the runtime env, without the test capture settings
    (script,) = [t for t in templates if t.get("type") == "PythonConfigurationType"]
    envs = {e.get("name"): e.get("value") for e in script.findall("envs/env")}
    assert envs["EVENTLET_NO_GREENDNS"] == "yes"
    assert not any(k.startswith("OS_") and k.endswith("_CAPTURE") for k in envs)


def _copy_top(src: Path, dest: Path, dirs: tuple[str, ...]) -> Path:
    """Only the files devenv reads (top-level files) plus the package folders: fast, no history."""
    dest.mkdir(parents=True)
    for item in src.iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)
    for d in dirs:
        (dest / d).mkdir(parents=True, exist_ok=True)
    return dest


@pytest.mark.skipif(not Path("/tmp/nova/tox.ini").is_file(), reason="no nova checkout in /tmp/nova")
def test_nova_generation(tmp_path: Path, jb_home: Path) -> None:
    root = _copy_top(Path("/tmp/nova"), tmp_path / "nova", ("nova/tests/unit", "nova/tests/functional"))
    fake_venv(root)
    apply(root)
    found = configs(root)
    unit = found["Unit tests"]
    assert unit["factory"] == "Unittests"
    assert json.loads(unit["options"]["_new_target"]) == "$PROJECT_DIR$/nova/tests/unit"
    assert unit["envs"]["EVENTLET_NO_GREENDNS"] == "yes"
    assert unit["envs"]["OS_NOVA_DISABLE_EVENTLET_PATCHING"] == "False"
    assert found["Unit tests (debug)"]["envs"]["GEVENT_SUPPORT"] == "True"
    assert json.loads(found["Functional tests"]["options"]["_new_target"]) == "$PROJECT_DIR$/nova/tests/functional"
    assert {"nova-compute", "nova-api", "nova-manage"} & set(found)
    assert found["nova-compute"]["options"]["SCRIPT_NAME"] == "$PROJECT_DIR$/.venv/bin/nova-compute"
    assert sdk_of(root) == "Python 3.11 (nova)"


@pytest.mark.skipif(not Path("/tmp/horizon/tox.ini").is_file(), reason="no horizon checkout in /tmp/horizon")
def test_horizon_generation(tmp_path: Path, jb_home: Path) -> None:
    root = _copy_top(Path("/tmp/horizon"), tmp_path / "horizon", ("horizon", "openstack_auth"))
    fake_venv(root)
    apply(root)
    unit = configs(root)["Unit tests"]
    assert unit["factory"] == "py.test"
    assert unit["children"] == COMMON + PYTEST_TAIL
    args = json.loads(unit["options"]["_new_additionalArguments"])
    assert "--ds=openstack_auth.tests.settings" in args.split()
    assert "EVENTLET_NO_GREENDNS" not in unit["envs"]
    raw = (root / ".idea/runConfigurations/Unit_tests.xml").read_text()
    assert "--ds\\u003dopenstack_auth.tests.settings" in raw  # Gson's HTML-safe escaping of '='
    assert "-s" in json.loads(configs(root)["Unit tests (debug)"]["options"]["_new_additionalArguments"]).split()
    iml = etree.parse(str(root / ".idea/horizon.iml")).getroot()
    assert iml.find(".//option[@name='PROJECT_TEST_RUNNER']").get("value") == "py.test"


def test_python_from_tox_is_dropped_and_reported(tmp_path: Path, jb_home: Path) -> None:
    from idefix import PYTEST_TOX

    root = copy_sample(tmp_path / "sample-pytest", PYTEST_TOX)
    fake_venv(root)
    res = apply(root)
    assert any("PYTHON" in h for h in res.hints)
    for path in (root / ".idea").rglob("*.xml"):
        assert 'name="PYTHON"' not in path.read_text()
    assert configs(root)["Unit tests"]["factory"] == "py.test"


@pytest.mark.parametrize("folder", ['with space', 'ünïcødé-项目', 'q"uo\'te & <amp>', '-leading-dash'])
def test_odd_project_paths(tmp_path: Path, jb_home: Path, folder: str) -> None:
    root = copy_sample(tmp_path / folder)
    python = fake_venv(root)
    apply(root)
    for path in list((root / ".idea").rglob("*.xml")) + list((root / ".idea").glob("*.iml")):
        etree.parse(str(path))  # well-formed, whatever the path holds
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    entry = next(iter(jdk_entries(table).values()))
    assert entry.find("homePath").get("value") == str(python)  # exact, not percent-encoded
    assert entry.find("additional").get("ASSOCIATED_PROJECT_PATH") == str(root)
    assert "%20" not in table.read_text()
    assert (root / ".idea" / f"{folder}.iml").is_file()
    assert configs(root)["Unit tests"]["module"] == folder


def test_gson_matches_pycharm() -> None:
    assert xmlio.gson("") == '""'
    assert xmlio.gson("--ds=a.b") == '"--ds\\u003da.b"'
    assert xmlio.gson("it's <a> & \"b\"") == '"it\\u0027s \\u003ca\\u003e \\u0026 \\"b\\""'
    assert xmlio.gson("ünï") == '"ünï"'  # Gson does not escape non-ASCII
    assert json.loads(xmlio.gson("x=1 'q' <&>")) == "x=1 'q' <&>"


def test_serializer_writes_like_jdom() -> None:
    root = xmlio.parse('<a><b x="1&amp;&lt;&quot;&#10;" y=""/><c>t &amp; u</c></a>')
    assert xmlio.serialize(root, header=False) == (
        '<a>\n  <b x="1&amp;&lt;&quot;&#10;" y="" />\n  <c>t &amp; u</c>\n</a>\n')


def test_git_status_stays_clean_and_pycharm_files_are_there(tmp_path: Path, jb_home: Path) -> None:
    """horizon-like: the project's .gitignore covers neither .venv nor .idea; devenv adds them to
    .git/info/exclude (never to the tracked .gitignore), and writes .idea/.gitignore and the code style."""
    import subprocess

    root = copy_sample(tmp_path / "svc")
    (root / ".gitignore").write_text("*.pyc\n")
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    fake_venv(root)
    apply(root)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    assert status == ""
    exclude = (root / ".git/info/exclude").read_text()
    assert "/.venv/" in exclude and "/.idea/" in exclude
    assert (root / ".gitignore").read_text() == "*.pyc\n"
    assert (root / ".idea/.gitignore").read_text() == "# Default ignored files\n/shelf/\n/workspace.xml\n"
    style = etree.parse(str(root / ".idea/codeStyles/Project.xml")).getroot()
    assert style.find("code_scheme/option[@name='RIGHT_MARGIN']").get("value") == "79"
    assert style.find("code_scheme/codeStyleSettings[@language='Python']/option").get("value") == "79"
    iml = (root / ".idea/svc.iml").read_text()
    for folder in ("doc/build", "releasenotes/build", ".eggs", "cover", "test_reports", "node_modules"):
        assert f'<excludeFolder url="file://$MODULE_DIR$/{folder}" />' in iml
    # a second run adds nothing twice
    apply(root)
    assert (root / ".git/info/exclude").read_text() == exclude
