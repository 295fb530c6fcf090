"""VS Code's files (devenv/vscode/): used as the Python extension and debugpy use them (tests/vscode_ext.py),
merged into the user's JSONC without losing a key or a comment, and every bad input said once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import vscode_ext
from idefix import copy_sample, fake_venv

from devenv import project
from devenv.vscode import envfile, setup


@pytest.fixture
def svc(tmp_path: Path) -> Path:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    return root


def _vscode(root: Path) -> Path:
    return root / ".vscode"


# -- used as VS Code uses them -------------------------------------------------------------------------------


@pytest.mark.slow
def test_stestr_project_discovers_runs_and_debugs_as_the_testing_view(sample_stestr: Path, run_cli) -> None:
    result = run_cli("ide", str(sample_stestr), "--ide", "vscode")
    assert result.exit_code == 0, result.output
    conf = vscode_ext.settings(sample_stestr)
    assert conf["python.testing.unittestEnabled"] is True and conf["python.testing.pytestEnabled"] is False
    found = vscode_ext.discover(sample_stestr)
    assert found.errors == [] and found.returncode == 0, found.stderr
    assert len(found.tests) == 5 and all(t.startswith("sample_service.tests.unit.") for t in found.tests)
    ran = vscode_ext.run_tests(sample_stestr, found.tests)
    assert set(ran.outcomes.values()) == {"success"} and len(ran.outcomes) == 5, ran.stdout + ran.stderr
    # debugging a test takes the debug-test configuration's environment (no per-test timeout) and gevent
    debug = vscode_ext.launch_config(sample_stestr, "Debug tests (devenv)")
    env = vscode_ext.launcher_env(sample_stestr, debug, vscode_ext.ide_env())
    assert env["OS_TEST_TIMEOUT"] == "0" and env["GEVENT_SUPPORT"] == "True" and env["EVENTLET_NO_GREENDNS"] == "yes"
    debugged = vscode_ext.run_tests(sample_stestr, found.tests[:1], debug_config="Debug tests (devenv)")
    assert list(debugged.outcomes.values()) == ["success"], debugged.stdout + debugged.stderr
    # the console scripts, as debugpy's launcher starts them
    api = vscode_ext.run_launch(sample_stestr, "sample-api")
    assert (api.returncode, api.stdout) == (0, "Hello, world!\n"), api.stderr
    manage = vscode_ext.run_launch(sample_stestr, "sample-manage")
    assert manage.returncode == 0 and manage.stdout.startswith("eventlet "), manage.stderr


@pytest.mark.slow
def test_a_failing_test_fails_in_the_testing_view(sample_stestr: Path, tmp_path: Path, run_cli) -> None:
    """The emulation can fail: a broken test is reported as a failure, an unimportable module as a
    discovery error (as the Testing view shows them)."""
    root = copy_sample(tmp_path / "broken")
    os.symlink(sample_stestr / ".venv", root / ".venv")
    unit = root / "sample_service" / "tests" / "unit"
    (unit / "test_zz_broken.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_fails(self):\n        self.assertEqual(1, 2)\n")
    (unit / "test_zz_unimportable.py").write_text("import no_such_module_here\n")
    assert run_cli("ide", str(root), "--ide", "vscode").exit_code == 0
    found = vscode_ext.discover(root)
    assert any("no_such_module_here" in e for e in found.errors)
    failing = [t for t in found.tests if t.endswith("test_fails")]
    assert vscode_ext.run_tests(root, failing).outcomes == {failing[0]: "failure"}


@pytest.mark.slow
def test_pytest_project_uses_pytest_with_tox_options(sample_pytest: Path, run_cli) -> None:
    assert run_cli("ide", str(sample_pytest), "--ide", "vscode").exit_code == 0
    conf = vscode_ext.settings(sample_pytest)
    assert conf["python.testing.pytestEnabled"] is True and conf["python.testing.unittestEnabled"] is False
    assert conf["python.testing.pytestArgs"] == ["-p", "no:cacheprovider", "-q", "./sample_service/tests/unit"]
    found = vscode_ext.discover(sample_pytest)
    assert found.returncode == 0 and len(found.tests) == 5, found.stdout + found.stderr
    ran = vscode_ext.run_tests(sample_pytest, found.tests)
    assert ran.returncode == 0 and "5 passed" in ran.stdout, ran.stdout
    # tox's setenv reaches the tests; PYTHON (stestr would run it) is left out
    env = vscode_ext.environment(sample_pytest, conf["python.envFile"], {})
    assert env["SAMPLE_UNIT"] == "1" and "PYTHON" not in env


def test_env_file_round_trips_through_the_extensions_parser() -> None:
    values = [("PLAIN", "a b"), ("DOLLAR", "$HOME and ${HOME}"), ("PADDED", "  x "), ("QUOTED", '"q"'),
              ("SINGLE", "'s'"), ("NEWLINE", "one\ntwo"), ("HASH", "a#b"), ("EMPTY", ""), ("EQ", "a=b=c"),
              ("BACKSLASH", "C:\\path"), ("UNI", "héllo ☃")]
    text = envfile.render(values + [("BAD-NAME", "x"), ("ESCAPED", "\\$x")], "test")
    parsed = vscode_ext.parse_env_file(text, {"HOME": "/home/someone"})
    assert parsed == dict(values)
    assert "# left out: BAD-NAME" in text and "# left out: ESCAPED" in text


# -- merging into the user's files ---------------------------------------------------------------------------

USER_SETTINGS = """// my settings
{
    /* the font I like */
    "editor.fontSize": 15,
    "python.testing.unittestEnabled": false, // I will turn it on myself
    "files.exclude": {
        "**/build": true, // mine
    },
}
"""


def test_user_keys_and_comments_survive_and_a_changed_key_is_a_conflict(svc: Path, run_cli) -> None:
    _vscode(svc).mkdir()
    path = _vscode(svc) / "settings.json"
    path.write_text(USER_SETTINGS, encoding="utf-8")
    result = run_cli("ide", str(svc), "--ide", "vscode")
    # the user's unittestEnabled=false differs from devenv's: theirs stays, said as a conflict (exit 8)
    assert result.exit_code == 8, result.output
    assert "python.testing.unittestEnabled" in result.output
    text = path.read_text(encoding="utf-8")
    for kept in ("// my settings", "/* the font I like */", "// I will turn it on myself", "// mine",
                 '"**/build": true'):
        assert kept in text
    data = vscode_ext.read_jsonc(path)
    assert data["editor.fontSize"] == 15 and data["python.testing.unittestEnabled"] is False
    assert data["files.exclude"]["**/build"] is True and data["files.exclude"]["**/.venv"] is True
    assert data["python.defaultInterpreterPath"] == "${workspaceFolder}/.venv/bin/python"
    backups = list(Path(os.environ["DEVENV_HOME"]).rglob("backups/settings.json*"))
    assert backups and backups[0].read_text(encoding="utf-8") == USER_SETTINGS  # before devenv first changed it
    # a second run changes nothing and still says the conflict
    before = path.read_bytes()
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 8
    assert path.read_bytes() == before
    # --force takes devenv's value
    assert run_cli("ide", str(svc), "--ide", "vscode", "--force").exit_code == 0
    assert vscode_ext.read_jsonc(path)["python.testing.unittestEnabled"] is True
    assert "// I will turn it on myself" in path.read_text(encoding="utf-8")


def test_devenv_updates_its_own_values_and_keeps_a_deleted_key_deleted(svc: Path, run_cli) -> None:
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    path = _vscode(svc) / "settings.json"
    text = path.read_text(encoding="utf-8")
    # the user removes the rulers and adds a key of their own; the project's test path changes upstream
    text = text.replace('    "editor.rulers": [\n        79\n    ]\n', '    "my.own": 1\n')
    text = text.replace('"files.watcherExclude"', '// watch less\n    "files.watcherExclude"')
    path.write_text(text, encoding="utf-8")
    stestr = svc / ".stestr.conf"
    stestr.write_text(stestr.read_text().replace("./sample_service/tests/unit", "./sample_service/tests"))
    result = run_cli("ide", str(svc), "--ide", "vscode")
    assert result.exit_code == 0
    data = vscode_ext.read_jsonc(path)
    # sample_service/ has cmd/, which would hide the standard library's cmd (pdb needs it) on sys.path
    assert data["python.testing.unittestArgs"] == ["-v", "-s", "./sample_service", "-t", ".", "-p", "test_*.py"]
    assert "sample_service/cmd would hide" in " ".join(result.output.split())
    assert "editor.rulers" not in data and data["my.own"] == 1
    assert "// watch less" in path.read_text(encoding="utf-8")


def test_launch_json_keeps_user_configurations_and_retires_devenvs(svc: Path, run_cli) -> None:
    _vscode(svc).mkdir()
    path = _vscode(svc) / "launch.json"
    path.write_text('{\n  // mine\n  "version": "0.2.0",\n  "configurations": [\n    {"name": "my attach", '
                    '"type": "debugpy", "request": "attach", "connect": {"port": 5678}},\n  ]\n}\n')
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    names = list(vscode_ext.launch_configs(svc))
    assert names == ["my attach", "sample-api", "sample-manage", "Debug tests (devenv)"]
    assert "// mine" in path.read_text() and "debugpy#1048" in path.read_text()
    # a console script removed upstream: its configuration goes, as devenv wrote it
    meta = svc / "pyproject.toml"
    meta.write_text("\n".join(line for line in meta.read_text().splitlines() if not line.startswith("sample-manage")))
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    assert list(vscode_ext.launch_configs(svc)) == ["my attach", "sample-api", "Debug tests (devenv)"]
    # a configuration of devenv's the user edited is theirs: kept silently while devenv's stays the same...
    text = path.read_text().replace('"args": []', '"args": ["--debug"]', 1)
    path.write_text(text)
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    assert vscode_ext.launch_config(svc, "sample-api")["args"] == ["--debug"]
    # ...and a conflict, still kept, when devenv's changes too (the project no longer uses eventlet)
    reqs = svc / "requirements.txt"
    reqs.write_text(reqs.read_text().replace("eventlet>=0.30.0 # MIT\n", ""))
    res = run_cli("ide", str(svc), "--ide", "vscode")
    assert res.exit_code == 8 and "sample-api" in res.output, res.output
    assert vscode_ext.launch_config(svc, "sample-api") == {**vscode_ext.launch_config(svc, "sample-api"),
                                                           "args": ["--debug"], "gevent": True}
    assert "gevent" not in vscode_ext.launch_config(svc, "Debug tests (devenv)")


def test_dry_run_shows_the_diff_and_writes_nothing(svc: Path, run_cli) -> None:
    result = run_cli("ide", str(svc), "--ide", "vscode", "--dry-run")
    assert result.exit_code == 0
    assert "+++ b/.vscode/settings.json" in result.output and '"python.envFile"' in result.output
    assert not _vscode(svc).exists()


def test_second_run_is_identical(svc: Path, run_cli) -> None:
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in _vscode(svc).iterdir()}
    again = json.loads(run_cli("ide", str(svc), "--ide", "vscode", "--json").output)
    assert set(again["vscode"]["files"].values()) == {"identical"}
    assert {p: p.stat().st_mtime_ns for p in _vscode(svc).iterdir()} == stamps


# -- bad input ------------------------------------------------------------------------------------------------


def test_invalid_settings_left_untouched_with_line_and_column(svc: Path, run_cli) -> None:
    _vscode(svc).mkdir()
    path = _vscode(svc) / "settings.json"
    broken = '{\n    "a": 1\n    "b": 2\n}\n'
    path.write_text(broken)
    result = run_cli("ide", str(svc), "--ide", "vscode")
    assert result.exit_code == 3
    assert "line 3, column 5" in result.output and "settings.json" in result.output
    assert "Traceback" not in result.output
    assert path.read_text() == broken
    # the rest was written
    assert (_vscode(svc) / "launch.json").is_file() and (_vscode(svc) / "devenv-test.env").is_file()


def test_vscode_that_is_a_file(svc: Path, run_cli) -> None:
    (svc / ".vscode").write_text("not a folder")
    result = run_cli("ide", str(svc), "--ide", "pycharm,vscode")
    assert result.exit_code == 3 and "is a file, not a folder" in result.output
    assert (svc / ".vscode").read_text() == "not a folder"
    assert (svc / ".idea" / "misc.xml").is_file()  # PyCharm's side was still written


def test_unknown_ide_is_a_usage_error(svc: Path, run_cli) -> None:
    result = run_cli("ide", str(svc), "--ide", "emacs")
    assert result.exit_code == 2 and "emacs" in result.output and "pycharm" in result.output


def test_top_level_not_an_object(svc: Path, run_cli) -> None:
    _vscode(svc).mkdir()
    (_vscode(svc) / "launch.json").write_text("[1, 2]\n")
    result = run_cli("ide", str(svc), "--ide", "vscode")
    assert result.exit_code == 3 and "launch.json" in result.output and "not an object" in result.output
    assert (_vscode(svc) / "launch.json").read_text() == "[1, 2]\n"


# -- which IDEs ------------------------------------------------------------------------------------------------


def test_ide_choice_is_remembered_and_detected(svc: Path, run_cli) -> None:
    from devenv import idechoice

    assert idechoice.resolve(svc, None) == ("pycharm",)
    _vscode(svc).mkdir()
    assert idechoice.resolve(svc, None) == ("vscode",)  # the folder the project has
    (svc / ".idea").mkdir()
    assert idechoice.resolve(svc, None) == ("pycharm", "vscode")
    assert idechoice.resolve(svc, "vscode") == ("vscode",)
    assert idechoice.resolve(svc, None) == ("vscode",)  # remembered beats what is found


@pytest.mark.slow
def test_init_with_ide_vscode_then_refresh_keeps_it(tmp_path: Path, run_cli, constraints: str) -> None:
    root = copy_sample(tmp_path / "proj")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    env = {"PBR_VERSION": "0.1.0"}
    result = run_cli("init", str(root), "--ide", "vscode", "--constraints", constraints, "--no-pre-commit", env=env)
    assert result.exit_code == 0, result.output
    assert (_vscode(root) / "settings.json").is_file() and not (root / ".idea").exists()
    assert ".vscode/" in (root / ".git" / "info" / "exclude").read_text()
    found = vscode_ext.discover(root)
    assert len(found.tests) == 5 and not found.errors, found.stderr
    (_vscode(root) / "devenv-test.env").unlink()
    assert run_cli("refresh", str(root), env=env).exit_code == 0
    assert (_vscode(root) / "devenv-test.env").is_file() and not (root / ".idea").exists()


# -- several repos ---------------------------------------------------------------------------------------------


def test_code_workspace_over_several_repos(tmp_path: Path) -> None:
    from devenv.report import Reporter
    from devenv.vscode import workspace

    main = copy_sample(tmp_path / "main")
    lib = copy_sample(tmp_path / "lib")
    fake_venv(main)
    projects = [project.load(main), project.load(lib)]
    res = workspace.apply(main, projects, main / ".venv", Reporter(quiet=True), main=projects[0])
    path = main / "main.code-workspace"
    data = vscode_ext.read_jsonc(path)
    assert data["folders"] == [{"path": "."}, {"path": "../lib"}]
    python = str(main / ".venv" / "bin" / "python")
    assert data["settings"]["python.defaultInterpreterPath"] == python
    assert vscode_ext.settings(lib)["python.defaultInterpreterPath"] == python
    assert vscode_ext.settings(main)["python.defaultInterpreterPath"] == "${workspaceFolder}/.venv/bin/python"
    assert any("code " in h and "main.code-workspace" in h for h in res.hints)
    # the user adds a folder of their own: kept on the next run
    path.write_text(path.read_text().replace('"folders": [', '"folders": [\n        {"path": "/elsewhere"},'))
    workspace.apply(main, projects, main / ".venv", Reporter(quiet=True), main=projects[0])
    assert {"path": "/elsewhere"} in vscode_ext.read_jsonc(path)["folders"]


def test_result_summary_counts_verbs() -> None:
    res = setup.VscodeResult(files={"a": "create", "b": "create", "c": "identical"})
    assert res.summary() == "2 create, 1 identical"


def test_doctor_reports_vscode(svc: Path, run_cli) -> None:
    assert run_cli("ide", str(svc), "--ide", "vscode").exit_code == 0
    result = run_cli("doctor", str(svc), "--json")
    data = json.loads(result.output)
    vs = {f["check"]: f for s in data["sections"] if s["title"] == "VS Code" for f in s["findings"]}
    assert vs["vscode.settings"]["status"] == "ok" and vs["vscode.envfile"]["status"] == "ok"
    assert "Python: Select Interpreter" in vs["vscode.interpreter"]["message"]
    assert "IDE" not in [s["title"] for s in data["sections"]]  # PyCharm was not chosen
    (svc / ".vscode" / "settings.json").write_text('{"python.envFile": 3,,}')
    data = json.loads(run_cli("doctor", str(svc), "--json").output)
    vs = {f["check"]: f for s in data["sections"] if s["title"] == "VS Code" for f in s["findings"]}
    assert vs["vscode.settings"]["status"] == "fail" and "line 1, column" in vs["vscode.settings"]["message"]


def test_venv_elsewhere_is_named_and_remembered(svc: Path, tmp_path: Path, run_cli) -> None:
    """Inside a devstack guest (a Remote-SSH window): the repo's interpreter is devstack's global venv."""
    shared = tmp_path / "opt" / "stack" / "data" / "venv"
    fake_venv(shared.parent / "x")  # a real venv shell lives at .../x/.venv; point a folder at it
    (shared / "bin").mkdir(parents=True)
    (shared / "bin" / "python").symlink_to(shared.parent / "x" / ".venv" / "bin" / "python")
    result = run_cli("ide", str(svc), "--ide", "vscode", "--venv", str(shared))
    assert result.exit_code == 0, result.output
    assert vscode_ext.settings(svc)["python.defaultInterpreterPath"] == str(shared / "bin" / "python")
    assert vscode_ext.launch_config(svc, "sample-api")["program"] == str(shared / "bin" / "sample-api")
    assert run_cli("ide", str(svc)).exit_code == 0  # as refresh runs it: the remembered venv stays
    assert vscode_ext.settings(svc)["python.defaultInterpreterPath"] == str(shared / "bin" / "python")
    bad = run_cli("ide", str(svc), "--ide", "pycharm,vscode", "--venv", str(shared))
    assert bad.exit_code == 2 and "VS Code only" in bad.output
    missing = run_cli("ide", str(svc), "--venv", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "bin/python" in missing.output


def test_start_folder_never_puts_a_shadowing_parent_on_sys_path(tmp_path: Path) -> None:
    """nova/tests and nova/tests/unit both have fixtures/, placement/tests has fixtures.py: with the extension's
    `sys.path.insert(0, dirname(start_dir))` they would hide the fixtures library from every test."""
    from devenv.vscode import model

    root = copy_sample(tmp_path / "p")
    fake_venv(root)
    site = root / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "fixtures").mkdir(parents=True)
    (site / "fixtures" / "__init__.py").write_text("")
    proj = project.load(root)
    assert model.start_folder(proj, root / ".venv", "./sample_service/tests/unit") == (
        "./sample_service/tests/unit", [])
    (root / "sample_service" / "tests" / "fixtures.py").write_text("")
    start, hidden = model.start_folder(proj, root / ".venv", "./sample_service/tests/unit")
    assert start == "./sample_service" and hidden == ["sample_service/tests/fixtures", "sample_service/cmd"]
    # a folder without __init__.py is a namespace portion: it never wins over the real package
    (root / "sample_service" / "tests" / "fixtures.py").unlink()
    (root / "sample_service" / "tests" / "fixtures").mkdir()
    assert model.start_folder(proj, root / ".venv", "./sample_service/tests/unit")[0] == "./sample_service/tests/unit"


def test_unwritable_vscode_folder_is_one_error(svc: Path, run_cli) -> None:
    _vscode(svc).mkdir()
    if subprocess.run(["chattr", "+i", str(_vscode(svc))], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = run_cli("ide", str(svc), "--ide", "vscode")
    finally:
        subprocess.run(["chattr", "-i", str(_vscode(svc))])
    assert result.exit_code == 3 and "cannot write" in result.output and "Traceback" not in result.output
    assert list(_vscode(svc).iterdir()) == []


def test_an_env_file_that_is_a_folder_is_one_error(svc: Path, run_cli) -> None:
    (_vscode(svc) / "devenv-test.env").mkdir(parents=True)
    result = run_cli("ide", str(svc), "--ide", "vscode")
    assert result.exit_code == 3 and "devenv-test.env" in result.output and "Traceback" not in result.output
    assert (_vscode(svc) / "devenv-test.env").is_dir() and (_vscode(svc) / "settings.json").is_file()


def test_the_process_path_is_appended_to_the_env_files(tmp_path: Path) -> None:
    """The emulation's merge follows environmentVariablesProvider.ts, not a plain override."""
    (tmp_path / "e.env").write_text("PATH=/from/file\nA=1\n")
    env = vscode_ext.environment(tmp_path, str(tmp_path / "e.env"), {"PATH": "/usr/bin", "A": "0", "B": "2"})
    assert env == {"PATH": "/from/file" + os.pathsep + "/usr/bin", "A": "1", "B": "2"}
