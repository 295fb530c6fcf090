"""Regeneration keeps what the user did in PyCharm: element-level three-way merge, conflicts reported."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from idefix import configs, copy_sample, fake_venv
from lxml import etree

from devenv import paths, project
from devenv.errors import ConfigError, Conflict
from devenv.ide import merge, setup, xmlio
from devenv.report import Reporter

UNIT = "runConfigurations/Unit_tests.xml"


def apply(root: Path, **kw) -> setup.IdeResult:
    return setup.apply(project.load(root), Reporter(quiet=True), **kw)


def mtimes(root: Path, jb: Path) -> dict[Path, int]:
    files = list((root / ".idea").rglob("*")) + list(jb.rglob("*.xml"))
    return {p: p.stat().st_mtime_ns for p in files if p.is_file()}


def edit(path: Path, fn) -> None:
    tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=True))
    fn(tree.getroot())
    path.write_text(xmlio.serialize(tree.getroot(), header=False))


def set_tox_env(root: Path, old: str, new: str) -> None:
    tox = root / "tox.ini"
    text = tox.read_text()
    assert old in text
    tox.write_text(text.replace(old, new, 1))


@pytest.fixture
def proj(tmp_path: Path, jb_home: Path) -> Path:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    apply(root)
    return root


# ----------------------------------------------------------------------------- merge3 itself


def _m(base: str | None, ours: str, theirs: str, force: bool = False) -> tuple[str, list[str]]:
    out = merge.merge3(xmlio.parse(base) if base else None, xmlio.parse(ours), xmlio.parse(theirs), force=force)
    return xmlio.serialize(out.root, header=False), out.conflicts


def test_merge_rules() -> None:
    base = '<c><option name="A" value="1" /><option name="B" value="1" /><option name="C" value="1" /></c>'
    ours = '<c><option name="A" value="2" /><option name="B" value="1" /><option name="D" value="1" /></c>'
    theirs = '<c><option name="A" value="1" /><option name="B" value="9" /><option name="C" value="1" />' \
             '<option name="U" value="u" /></c>'
    text, conflicts = _m(base, ours, theirs)
    got = {o.get("name"): o.get("value") for o in xmlio.parse(text)}
    # A: upstream change applied; B: user's edit kept; C: dropped upstream (untouched); D: new; U: user's own
    assert got == {"A": "2", "B": "9", "D": "1", "U": "u"}
    assert conflicts == []


def test_merge_conflict_keeps_theirs_or_force_takes_ours() -> None:
    base, ours, theirs = ('<c><option name="A" value="1" /></c>', '<c><option name="A" value="2" /></c>',
                          '<c><option name="A" value="3" /></c>')
    text, conflicts = _m(base, ours, theirs)
    assert 'value="3"' in text and len(conflicts) == 1 and "option[A]@value" in conflicts[0]
    text, conflicts = _m(base, ours, theirs, force=True)
    assert 'value="2"' in text


def test_merge_user_deletion_stays_and_order_follows_ours() -> None:
    base = '<c><a name="1" /><a name="2" /></c>'
    ours = '<c><a name="0" /><a name="1" /><a name="2" /><a name="3" /></c>'
    theirs = '<c><a name="1" /></c>'  # the user deleted 2
    text, _ = _m(base, ours, theirs)
    assert [a.get("name") for a in xmlio.parse(text)] == ["0", "1", "3"]


def test_merge_without_base_adopts_devenv_values_and_keeps_the_rest() -> None:
    text, conflicts = _m(None, '<c><o name="A" value="new" /></c>', '<c><o name="A" value="old" /><o name="Z" /></c>')
    assert [(o.get("name"), o.get("value")) for o in xmlio.parse(text)] == [("A", "new"), ("Z", None)]
    assert conflicts == []


# ----------------------------------------------------------------------------- whole runs


def test_second_run_is_identical_and_writes_nothing(proj: Path, jb_home: Path) -> None:
    before = mtimes(proj, jb_home)
    state = paths.project_state(proj) / "ide.json"
    state_mtime = state.stat().st_mtime_ns
    res = apply(proj)
    assert set(res.files.values()) == {"identical"} and set(res.jdk_tables.values()) == {"identical"}
    assert mtimes(proj, jb_home) == before
    assert state.stat().st_mtime_ns == state_mtime


def test_unchanged_project_is_answered_without_rendering(proj: Path) -> None:
    code = ("import sys, pathlib; from devenv import project; from devenv.ide import setup;"
            "from devenv.report import Reporter;"
            f"r = setup.apply(project.load(pathlib.Path({str(proj)!r})), Reporter(quiet=True));"
            "print(sorted(set(r.files.values())), 'jinja2' in sys.modules, 'lxml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['identical']", "False", "False"]


def test_user_edits_survive_an_upstream_change(proj: Path) -> None:
    idea = proj / ".idea"

    def user_edits(conf: etree._Element) -> None:
        c = conf.find("configuration")
        c.find("option[@name='WORKING_DIRECTORY']").set("value", "$PROJECT_DIR$/sample_service")
        etree.SubElement(c.find("envs"), "env", name="MY_VAR", value="mine")

    edit(idea / UNIT, user_edits)
    edit(idea / "svc.iml", lambda m: etree.SubElement(m.find(".//content"), "excludeFolder",
                                                       url="file://$MODULE_DIR$/docs"))
    (idea / "runConfigurations/sample_manage.xml").unlink()  # deleted in PyCharm
    mine = idea / "runConfigurations/Mine.xml"
    mine.write_text((idea / "runConfigurations/sample_api.xml").read_text().replace('name="sample-api"',
                                                                                       'name="Mine"'))
    set_tox_env(proj, "OS_TEST_TIMEOUT=60", "OS_TEST_TIMEOUT=90\n  NEW_VAR=1")
    res = apply(proj)
    assert res.files[UNIT] == "update"
    assert res.files["runConfigurations/sample_manage.xml"] == "skip"
    unit = configs(proj)["Unit tests"]
    assert unit["options"]["WORKING_DIRECTORY"] == "$PROJECT_DIR$/sample_service"  # the user's value
    assert unit["envs"]["MY_VAR"] == "mine"  # the user's variable
    assert unit["envs"]["OS_TEST_TIMEOUT"] == "90" and unit["envs"]["NEW_VAR"] == "1"  # upstream
    assert list(unit["envs"]).index("NEW_VAR") == list(unit["envs"]).index("OS_TEST_TIMEOUT") + 1
    assert "sample-manage" not in configs(proj)  # not brought back
    assert "Mine" in configs(proj)
    assert "file://$MODULE_DIR$/docs" in (idea / "svc.iml").read_text()
    again = apply(proj).files
    assert again["runConfigurations/sample_manage.xml"] == "skip"
    assert {v for k, v in again.items() if k != "runConfigurations/sample_manage.xml"} == {"identical"}


def test_clash_is_a_conflict_until_resolved(proj: Path) -> None:
    idea = proj / ".idea"
    edit(idea / UNIT, lambda c: c.find(".//env[@name='OS_TEST_TIMEOUT']").set("value", "999"))
    set_tox_env(proj, "OS_TEST_TIMEOUT=60", "OS_TEST_TIMEOUT=90\n  NEW_VAR=1")
    with pytest.raises(Conflict) as exc:
        apply(proj)
    res = exc.value.result  # type: ignore[attr-defined]
    assert res.files[UNIT] == "conflict"
    assert any(UNIT in c and "env[OS_TEST_TIMEOUT]@value" in c for c in res.conflicts)
    unit = configs(proj)["Unit tests"]
    assert unit["envs"]["OS_TEST_TIMEOUT"] == "999"  # the user's value is kept...
    assert unit["envs"]["NEW_VAR"] == "1"  # ...and the rest of the update is applied
    assert configs(proj)["Unit tests (debug)"]["envs"]["NEW_VAR"] == "1"  # other files written
    with pytest.raises(Conflict):
        apply(proj)  # still reported: never silently resolved
    forced = apply(proj, force=True)
    assert configs(proj)["Unit tests"]["envs"]["OS_TEST_TIMEOUT"] == "90"
    # --force replaced the user's 999, and kept it first, as --help promises
    saved = list((paths.project_state(proj) / "backups").glob("Unit_tests.xml.devenv-backup-*"))
    assert len(saved) == 1 and 'value="999"' in saved[0].read_text() and str(saved[0]) in forced.backups
    assert set(apply(proj).files.values()) == {"identical"}


def test_dry_run_prints_a_diff_and_writes_nothing(proj: Path, jb_home: Path) -> None:
    set_tox_env(proj, "OS_TEST_TIMEOUT=60", "OS_TEST_TIMEOUT=90")
    before = mtimes(proj, jb_home)
    state = (paths.project_state(proj) / "ide.json").read_text()
    out = io.StringIO()
    setup.apply(project.load(proj), Reporter(stream=out, err=io.StringIO()), dry_run=True)
    assert mtimes(proj, jb_home) == before
    assert (paths.project_state(proj) / "ide.json").read_text() == state
    text = out.getvalue()
    assert f"+++ b/.idea/{UNIT}" in text
    assert '-      <env name="OS_TEST_TIMEOUT" value="60" />' in text
    assert '+      <env name="OS_TEST_TIMEOUT" value="90" />' in text


@pytest.mark.parametrize("content", ["<project version='4'><component", "not xml at all", "<html><body/></html>"])
def test_corrupt_or_foreign_file_is_backed_up_and_reported(proj: Path, content: str) -> None:
    misc = proj / ".idea/misc.xml"
    misc.write_text(content)
    set_tox_env(proj, "OS_TEST_TIMEOUT=60", "OS_TEST_TIMEOUT=90")
    with pytest.raises(ConfigError) as exc:
        apply(proj)
    assert "misc.xml" in exc.value.message
    assert misc.read_text() == content  # never silently replaced
    backups = list((paths.project_state(proj) / "backups").glob("misc.xml.devenv-backup-*"))
    assert [b.read_text() for b in backups] == [content]
    assert configs(proj)["Unit tests"]["envs"]["OS_TEST_TIMEOUT"] == "90"  # the rest was written
    apply(proj, force=True)
    assert "ProjectRootManager" in misc.read_text()


def test_workspace_is_merged_not_replaced(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    ws = root / ".idea/workspace.xml"
    ws.parent.mkdir()
    ws.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<project version="4">\n'
                  '  <component name="ChangeListManager"><list default="true" id="x" name="Changes" /></component>\n'
                  '  <component name="RunManager" selected="Python.foo">\n'
                  '    <configuration name="foo" type="PythonConfigurationType" factoryName="Python" />\n'
                  '  </component>\n</project>\n')
    apply(root)
    tree = etree.parse(str(ws)).getroot()
    assert tree.find("component[@name='ChangeListManager']/list").get("id") == "x"
    rm = tree.find("component[@name='RunManager']")
    assert rm.get("selected") == "Python.foo" and rm.find("configuration[@name='foo']") is not None
    assert len(rm.findall("configuration[@default='true']")) == 3  # Unittests, py.test and Python


def test_removed_console_script_config_is_retired(proj: Path) -> None:
    cfg = proj / "pyproject.toml"
    cfg.write_text(cfg.read_text().replace('sample-manage = "sample_service.cmd.manage:main"\n', ""))
    res = apply(proj)
    assert res.files["runConfigurations/sample_manage.xml"] == "delete"
    assert not (proj / ".idea/runConfigurations/sample_manage.xml").exists()


def test_git_status_stays_clean(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "svc")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=30)
    fake_venv(root)
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-qm", "init"], check=True, timeout=30)
    apply(root)
    status = subprocess.run([*git, "status", "--porcelain", "--ignored=no"], capture_output=True, text=True,
                            check=True, timeout=30)
    assert status.stdout == ""


def test_existing_pycharm_module_is_kept(tmp_path: Path, jb_home: Path) -> None:
    """A folder PyCharm opened before has its own module: devenv adopts it instead of adding a second one."""
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    idea = root / ".idea"
    idea.mkdir()
    (idea / "modules.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<project version="4">\n  <component name="ProjectModuleManager">\n'
        '    <modules>\n      <module fileurl="file://$PROJECT_DIR$/.idea/old-name.iml" '
        'filepath="$PROJECT_DIR$/.idea/old-name.iml" />\n    </modules>\n  </component>\n</project>\n')
    (idea / "old-name.iml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<module type="PYTHON_MODULE" '
                                       'version="4">\n  <component name="NewModuleRootManager">\n'
                                       '    <content url="file://$MODULE_DIR$" />\n  </component>\n</module>\n')
    apply(root)
    assert not (idea / "svc.iml").exists()
    modules = etree.parse(str(idea / "modules.xml")).getroot().findall(".//module")
    assert [m.get("filepath") for m in modules] == ["$PROJECT_DIR$/.idea/old-name.iml"]
    assert configs(root)["Unit tests"]["module"] == "old-name"
    assert "isTestSource" in (idea / "old-name.iml").read_text()


def test_adopting_an_existing_idea_keeps_a_backup(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    misc = root / ".idea/misc.xml"
    misc.parent.mkdir()
    original = ('<?xml version="1.0" encoding="UTF-8"?>\n<project version="4">\n'
                '  <component name="Black">\n    <option name="sdkName" value="Python 3.10" />\n  </component>\n'
                '  <component name="ProjectRootManager" version="2" project-jdk-name="Python 3.10" '
                'project-jdk-type="Python SDK" />\n</project>\n')
    misc.write_text(original)
    res = apply(root)
    assert res.files["misc.xml"] == "update"
    tree = etree.parse(str(misc)).getroot()
    assert tree.find("component[@name='Black']/option").get("value") == "Python 3.10"  # kept
    assert tree.find("component[@name='ProjectRootManager']").get("project-jdk-name") == res.sdk_name
    (backup,) = (paths.project_state(root) / "backups").glob("misc.xml.devenv-backup-*")
    assert backup.read_text() == original
