"""The interpreter in each installed PyCharm's jdk.table.xml: discovery, naming, safety, health."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from idefix import copy_sample, fake_venv, sdk_of
from lxml import etree

from devenv import project
from devenv.errors import Conflict
from devenv.ide import health, jetbrains, setup
from devenv.report import Reporter

OTHER = """<application>
  <component name="ProjectJdkTable">
    <jdk version="2">
      <name value="{name}" />
      <type value="Python SDK" />
      <version value="Python 3.9.1" />
      <homePath value="{home}" />
      <roots />
      <additional />
    </jdk>
  </component>
</application>
"""


def apply(root: Path, **kw) -> setup.IdeResult:
    return setup.apply(project.load(root), Reporter(quiet=True), **kw)


TOOLS_SDK = "devenv tools ("  # the tools venv's entry (tox for the Tox configurations): checked in test_tox_configs


def names(table: Path) -> dict[str, str]:
    """The table's entries, less devenv's tools entry."""
    root = etree.parse(str(table)).getroot()
    return {j.find("name").get("value"): j.find("homePath").get("value") for j in root.iter("jdk")
            if not j.find("name").get("value").startswith(TOOLS_SDK)}


@pytest.fixture
def svc(tmp_path: Path) -> Path:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    return root


def test_discovery_covers_layouts(tmp_path: Path) -> None:
    linux_new = tmp_path / "config/JetBrains"
    for d in ("PyCharm2024.1", "PyCharmCE2023.3", "IntelliJIdea2024.1", "PyCharm-notaversion"):
        (linux_new / d).mkdir(parents=True)
    home = tmp_path / "home"
    (home / ".PyCharm2019.3/config").mkdir(parents=True)
    (home / ".PyCharmCE2018.1").mkdir(parents=True)  # no config/ inside: not a config folder
    mac_old = tmp_path / "Library/Preferences"
    (mac_old / "PyCharmCE2019.2").mkdir(parents=True)
    windows = tmp_path / "AppData/Roaming/JetBrains"
    (windows / "PyCharm2022.3").mkdir(parents=True)
    found = jetbrains.config_dirs([linux_new, home, mac_old, windows, tmp_path / "missing"])
    assert {(c.selector, c.config_dir) for c in found} == {
        ("PyCharm2024.1", linux_new / "PyCharm2024.1"),
        ("PyCharmCE2023.3", linux_new / "PyCharmCE2023.3"),
        ("PyCharm2019.3", home / ".PyCharm2019.3/config"),
        ("PyCharmCE2019.2", mac_old / "PyCharmCE2019.2"),
        ("PyCharm2022.3", windows / "PyCharm2022.3"),
    }
    assert all(c.jdk_table == c.config_dir / "options" / "jdk.table.xml" for c in found)


def test_existing_entry_for_the_same_interpreter_is_reused(jb_home: Path) -> None:
    svc = copy_sample(Path.home() / "src" / "svc")  # under $HOME: PyCharm stores it as $USER_HOME$/...
    fake_venv(svc)
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    table.write_text(OTHER.format(name="my nova venv", home="$USER_HOME$/src/svc/.venv/bin/python"))
    res = apply(svc)
    assert res.sdk_name == "my nova venv" == sdk_of(svc)
    assert list(names(table)) == ["my nova venv"]  # no duplicate
    entry = etree.parse(str(table)).getroot().find(".//jdk")
    assert entry.find("version").get("value") == "Python 3.11.7"  # refreshed in place
    backups = list(table.parent.glob("jdk.table.xml.devenv-backup-*"))
    assert len(backups) == 1 and "Python 3.9.1" in backups[0].read_text()


def test_name_taken_by_another_interpreter_gets_a_number(svc: Path, jb_home: Path) -> None:
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    table.write_text(OTHER.format(name="Python 3.11 (sample-service)", home="/elsewhere/bin/python"))
    res = apply(svc)
    assert res.sdk_name == "Python 3.11 (sample-service) (2)" and res.sdk_renamed
    assert names(table) == {"Python 3.11 (sample-service)": "/elsewhere/bin/python",
                            "Python 3.11 (sample-service) (2)": str(svc / ".venv/bin/python")}
    old_layout = jb_home / ".PyCharmCE2019.3/config/options/jdk.table.xml"
    assert list(names(old_layout)) == ["Python 3.11 (sample-service) (2)"]  # one name valid everywhere


def test_config_folder_without_options_gets_one(svc: Path, jb_home: Path) -> None:
    bare = jb_home / "PyCharmCE2023.3"
    bare.mkdir()
    apply(svc)
    assert "Python 3.11 (sample-service)" in names(bare / "options/jdk.table.xml")


def test_table_that_is_not_xml_is_backed_up_and_fails(svc: Path, jb_home: Path, run_cli) -> None:
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    table.write_text("<application><component name='ProjectJdkTable'>garbage")
    result = run_cli("ide", str(svc))
    assert result.exit_code == 3
    assert "devenv: error:" in result.output and "jdk.table.xml" in result.output
    assert "Traceback" not in result.output
    assert table.read_text().endswith("garbage")  # untouched
    backups = list(table.parent.glob("jdk.table.xml.devenv-backup-*"))
    assert [b.read_text() for b in backups] == [table.read_text()]
    assert (svc / ".idea/misc.xml").is_file()  # the project side was still written
    assert "Python 3.11 (sample-service)" in names(jb_home / ".PyCharmCE2019.3/config/options/jdk.table.xml")
    # --force cannot repair a table devenv cannot read: the hint says what can, and never suggests it
    assert "--force" not in result.output and "fix or delete the jdk.table.xml" in result.output
    forced = run_cli("ide", "--force", str(svc))
    assert forced.exit_code == 3 and table.read_text().endswith("garbage")


def test_several_problems_are_one_per_line(svc: Path, jb_home: Path, run_cli) -> None:
    for cfg in ("PyCharm2024.1/options", ".PyCharmCE2019.3/config/options"):
        (jb_home / cfg / "jdk.table.xml").write_text("<application>garbage")
    result = run_cli("ide", str(svc))
    assert result.exit_code == 3
    assert "2 problems:" in result.output
    assert len([ln for ln in result.output.splitlines() if ln.startswith("  - ") and "jdk.table.xml" in ln]) == 2
    assert "; " not in result.output.split("2 problems:")[1].split("hint:")[0]


def test_running_pycharm_is_not_written(svc: Path, jb_home: Path, fake_pycharm, run_cli) -> None:
    running = jb_home / "PyCharm2024.1"
    (running / ".lock").write_text("")
    fake_pycharm("PyCharm2024.1")
    time.sleep(0.2)
    result = run_cli("ide", str(svc))
    assert result.exit_code == Conflict.exit_code
    assert "PyCharm2024.1 is running" in result.output and "--force" in result.output
    assert not (running / "options/jdk.table.xml").exists()
    assert not (svc / ".idea/workspace.xml").exists()  # the IDE would overwrite it on exit
    assert (jb_home / ".PyCharmCE2019.3/config/options/jdk.table.xml").exists()  # not running: written
    assert (svc / ".idea/misc.xml").exists()
    result = run_cli("ide", str(svc), "--force")
    assert result.exit_code == 0, result.output
    assert "Python 3.11 (sample-service)" in names(running / "options/jdk.table.xml")


def test_lock_without_process_or_process_without_lock_is_not_running(svc: Path, jb_home: Path,
                                                                      fake_pycharm) -> None:
    # a version no other test starts: a PyCharm's selector is machine-wide, and tests run side by side
    cfg = jetbrains.PyCharmConfig("PyCharm", "2031.1", jb_home / "PyCharm2031.1")
    cfg.config_dir.mkdir()
    (cfg.config_dir / "port.lock").write_text("")
    assert not jetbrains.is_running(cfg, selectors=[])  # stale lock after a crash
    fake_pycharm("PyCharmCE2019.3")
    time.sleep(0.2)
    assert "PyCharmCE2019.3" in jetbrains.running_selectors()
    assert not jetbrains.is_running(cfg)  # another version runs
    (cfg.config_dir / "port.lock").unlink()
    fake_pycharm("PyCharm2031.1")
    time.sleep(0.2)
    assert not jetbrains.is_running(cfg)  # no lock file: not holding this config
    (cfg.config_dir / ".lock").write_text("")
    assert jetbrains.is_running(cfg)


def test_no_pycharm_installed_prints_how_to_attach(svc: Path, run_cli) -> None:
    result = run_cli("ide", str(svc))
    assert result.exit_code == 0, result.output
    assert f"PYCHARM_PYTHON_PATH={svc / '.venv/bin/python'} pycharm ." in result.output
    assert (svc / ".idea/misc.xml").is_file()


def test_health(svc: Path, jb_home: Path) -> None:
    proj = project.load(svc)
    assert {f.check: f.status for f in health.check(proj)}["ide.project"] == "fail"
    apply(svc)
    findings = health.check(proj)
    # the launch checks import the project's test modules: this venv is a shell (fake_venv), so they are
    # judged elsewhere (test_ide_run), only their presence here
    assert [f.status for f in findings if f.check not in ("ide.launch", "ide.tox")] == ["ok", "ok", "ok", "ok"]
    assert [f.status for f in findings if f.check == "ide.tox"] == ["ok", "ok"]  # tox -e pep8, tox -e functional
    assert {f.message.split(":")[0] for f in findings if f.check == "ide.launch"} == {
        "Unit tests", "Unit tests (debug)", "Functional tests"}
    (svc / ".venv/bin/python").unlink()
    sdk = [f for f in health.check(proj) if f.check == "ide.sdk"]
    assert [f.status for f in sdk] == ["fail", "fail"] and "gone" in sdk[0].message
    (jb_home / "PyCharm2024.1/options/jdk.table.xml").write_text("<application />")
    assert any("no interpreter named" in f.message for f in health.check(proj))


def test_interpreter_version_follows_the_venv(svc: Path, jb_home: Path) -> None:
    apply(svc)
    fake_venv(svc, version="3.11.9")
    apply(svc)
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    (entry,) = [j for j in etree.parse(str(table)).getroot().iter("jdk")
                if not j.find("name").get("value").startswith(TOOLS_SDK)]
    assert entry.find("version").get("value") == "Python 3.11.9"


def test_without_a_venv_project_files_come_first_and_the_sdk_follows(tmp_path: Path, jb_home: Path) -> None:
    root = copy_sample(tmp_path / "svc")
    res = apply(root)
    assert any("no .venv yet" in h for h in res.hints)
    assert set(res.jdk_tables.values()) == {"skip"}
    assert not list(jb_home.rglob("jdk.table.xml"))
    fake_venv(root)
    res = apply(root)
    assert res.files["misc.xml"] == "update" and sdk_of(root) == "Python 3.11 (sample-service)"
    assert set(res.jdk_tables.values()) == {"create"}


def test_symlinked_table_is_written_through_the_link(svc: Path, jb_home: Path, tmp_path: Path) -> None:
    """A dotfile manager keeps jdk.table.xml in its repo and links it: the link stays, its target changes."""
    real = tmp_path / "dotfiles" / "jdk.table.xml"
    real.parent.mkdir()
    real.write_text(OTHER.format(name="Python 3.9 (other)", home="/elsewhere/bin/python"))
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    table.symlink_to(real)
    apply(svc)
    assert table.is_symlink() and table.resolve() == real
    assert names(real) == {"Python 3.9 (other)": "/elsewhere/bin/python",
                           "Python 3.11 (sample-service)": str(svc / ".venv/bin/python")}


def test_two_projects_at_once_both_keep_their_sdk(tmp_path: Path, jb_home: Path) -> None:
    """`devenv ide` on two projects at the same moment: the shared jdk.table.xml ends with both entries
    (before the per-table lock, one was lost in 15 of 15 tries)."""
    import subprocess
    import sys

    roots = []
    for name in ("alpha-svc", "beta-svc"):
        root = copy_sample(tmp_path / name)
        fake_venv(root)
        roots.append(root)
    table = jb_home / "PyCharm2024.1/options/jdk.table.xml"
    for attempt in range(5):
        table.unlink(missing_ok=True)
        for r in roots:
            shutil.rmtree(r / ".idea", ignore_errors=True)
        runs = [subprocess.Popen([sys.executable, "-m", "devenv", "ide", "-q", str(r)], stderr=subprocess.PIPE,
                                 text=True) for r in roots]
        for p in runs:
            assert p.wait(timeout=120) == 0, p.stderr.read() if p.stderr else ""
        found = names(table)
        # both are named after the project (sample-service): one entry each, the second numbered
        assert sorted(found.values()) == [str(r / ".venv/bin/python") for r in roots], (attempt, found)
        assert {sdk_of(r) for r in roots} == set(found)
