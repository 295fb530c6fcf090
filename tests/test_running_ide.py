"""A running PyCharm is seen without /proc (issue 12, part 2: macOS has no /proc, so jdk.table.xml was
written under a running IDE, which rewrites it on exit and loses the SDK entry).

macOS cannot run here: its code paths are forced on Linux by pointing jetbrains.PROC at a folder that does
not exist. psutil (a dependency on macOS) reads each process's real argument vector; without it, `ps -axww
-o pid=,command=` prints them joined by spaces, which is what these tests also check, with a launcher path
that has a space in it as PyCharm CE's has on a Mac ("/Applications/PyCharm CE.app/Contents/MacOS/pycharm")
and its product-info.json where a Mac install keeps it (Contents/Resources/).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from idefix import copy_sample, fake_venv

from devenv.errors import Conflict
from devenv.ide import jetbrains

PATHS = ["psutil", "ps"]


@pytest.fixture(params=PATHS)
def no_proc(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setattr(jetbrains, "PROC", tmp_path / "no-proc")
    if request.param == "psutil":
        pytest.importorskip("psutil")
    else:
        monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError: the `ps` path
    return request.param


@pytest.fixture
def mac_pycharm(tmp_path: Path):
    """A process started as a Mac's PyCharm CE launcher: a space in its path, product-info.json in
    Contents/Resources naming its config folder, and no selector on its command line (the native launcher
    runs the JVM in-process with no arguments)."""
    app = tmp_path / "Applications" / "PyCharm CE.app" / "Contents"
    (app / "MacOS").mkdir(parents=True)
    (app / "Resources").mkdir()
    launcher = app / "MacOS" / "pycharm"
    launcher.symlink_to(sys.executable)
    (app / "Resources" / "product-info.json").write_text(json.dumps({"dataDirectoryName": "PyCharmCE2032.1"}))
    started = []

    def start() -> subprocess.Popen[bytes]:
        p = subprocess.Popen([str(launcher), "-c", "import time; time.sleep(300)"], executable=sys.executable)
        started.append(p)
        time.sleep(0.3)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait(timeout=10)


def test_without_proc_the_same_selectors_are_seen(no_proc: str, fake_pycharm, mac_pycharm) -> None:
    assert not jetbrains.PROC.exists()
    fake_pycharm("PyCharm2032.2")
    mac_pycharm()
    found = jetbrains.running_selectors()
    assert "PyCharm2032.2" in found  # from -Didea.paths.selector on the command line
    assert "PyCharmCE2032.1" in found  # from the Mac install's Contents/Resources/product-info.json


def test_ps_output_is_split_back_at_the_existing_program(tmp_path: Path) -> None:
    app = tmp_path / "PyCharm CE.app" / "Contents" / "MacOS"
    app.mkdir(parents=True)
    (app / "pycharm").write_text("")
    assert jetbrains.split_command(f"{app}/pycharm -Dx=1  --wait") == [f"{app}/pycharm", "-Dx=1", "--wait"]
    assert jetbrains.split_command("java -Didea.paths.selector=PyCharm2024.1") == [
        "java", "-Didea.paths.selector=PyCharm2024.1"]


def test_the_running_ide_refusal_holds_without_proc(no_proc: str, tmp_path: Path, fake_pycharm, run_cli,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    jb = Path(os.environ["DEVENV_JETBRAINS_HOME"])
    running = jb / "PyCharm2032.3"
    running.mkdir(parents=True)
    (running / ".lock").write_text("")
    svc = copy_sample(tmp_path / "svc")
    fake_venv(svc)
    fake_pycharm("PyCharm2032.3")
    time.sleep(0.3)
    result = run_cli("ide", str(svc))
    assert result.exit_code == Conflict.exit_code, result.output
    assert "PyCharm2032.3 is running" in result.output
    assert not (running / "options" / "jdk.table.xml").exists()
