"""`devenv ide` as a command: output modes, dry run, and bad input (exit codes, no tracebacks)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from idefix import copy_sample, fake_venv


@pytest.fixture
def svc(tmp_path: Path, jb_home: Path) -> Path:
    root = copy_sample(tmp_path / "svc")
    fake_venv(root)
    return root


def test_json_summary(svc: Path, run_cli) -> None:
    result = run_cli("ide", str(svc), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ide"]["sdk_name"] == "Python 3.11 (sample-service)"
    assert data["ide"]["files"]["runConfigurations/Unit_tests.xml"] == "create"
    assert [p["phase"] for p in data["phases"]] == ["ide"]
    again = json.loads(run_cli("ide", str(svc), "--json").output)
    assert set(again["ide"]["files"].values()) == {"identical"}


def test_quiet_prints_nothing_and_dry_run_writes_nothing(svc: Path, run_cli) -> None:
    result = run_cli("ide", str(svc), "--dry-run")
    assert result.exit_code == 0
    assert "+++ b/.idea/misc.xml" in result.output and "jdk.table.xml" in result.output
    assert not (svc / ".idea").exists()
    assert not list(Path(os.environ["DEVENV_JETBRAINS_HOME"]).rglob("jdk.table.xml"))
    result = run_cli("ide", str(svc), "-q")
    assert result.exit_code == 0 and result.output == ""
    assert (svc / ".idea/misc.xml").is_file()


def test_not_a_project(tmp_path: Path, run_cli) -> None:
    result = run_cli("ide", str(tmp_path))
    assert result.exit_code == 2 and "devenv: error:" in result.output and "Traceback" not in result.output


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """chmod is enough for a normal user; root ignores it, so root gets a read-only bind mount."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip("running as root without permission to mount: cannot make a read-only folder")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, timeout=30)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


def test_read_only_idea(svc: Path, run_cli) -> None:
    assert run_cli("ide", str(svc)).exit_code == 0
    tox = svc / "tox.ini"
    tox.write_text(tox.read_text().replace("OS_TEST_TIMEOUT=60", "OS_TEST_TIMEOUT=90"))
    before = {p: p.read_bytes() for p in (svc / ".idea").rglob("*") if p.is_file()}
    with read_only(svc / ".idea"):
        result = run_cli("ide", str(svc))
    assert result.exit_code == 3, result.output
    assert "cannot write" in result.output and "Unit_tests.xml" in result.output
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in (svc / ".idea").rglob("*") if p.is_file()} == before
    result = run_cli("ide", str(svc))  # writable again: the update goes through
    assert result.exit_code == 0, result.output
    assert 'value="90"' in (svc / ".idea/runConfigurations/Unit_tests.xml").read_text()
