"""`devenv doctor`: one report over venv, IDE and guests; exit 0 healthy, 1 when something needs action."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import SAMPLE, UPPER_CONSTRAINTS


def sample(tmp_path: Path) -> Path:
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))
    return root


def doctor_json(run_cli, *args: str) -> tuple[int, dict]:
    r = run_cli("doctor", *args, "--json")
    return r.exit_code, json.loads(r.output)


def by_check(data: dict) -> dict[str, dict]:
    return {f["check"]: f for s in data["sections"] for f in s["findings"]}


@pytest.mark.network
def test_healthy_after_init_then_stale_then_broken(tmp_path: Path, run_cli) -> None:
    (Path(os.environ["DEVENV_JETBRAINS_HOME"]) / "PyCharmCE2024.1" / "options").mkdir(parents=True)
    root = sample(tmp_path)
    constraints = UPPER_CONSTRAINTS if UPPER_CONSTRAINTS.is_file() else SAMPLE / "upper-constraints.txt"
    assert run_cli("init", str(root), "--constraints", str(constraints)).exit_code == 0
    code, data = doctor_json(run_cli, str(root))
    assert code == 0 and data["healthy"], data
    checks = by_check(data)
    assert checks["venv.fingerprint"]["status"] == "ok"  # the --constraints of init is remembered
    assert checks["venv.import"]["status"] == "ok"
    assert [s["title"] for s in data["sections"]] == ["venv", "IDE", "git"]

    req = root / "test-requirements.txt"
    req.write_text(req.read_text() + "six\n")
    code, data = doctor_json(run_cli, str(root))
    assert code == 10 and not data["healthy"]
    stale = by_check(data)["venv.fingerprint"]
    assert stale["status"] == "fail" and "out of date" in stale["message"] and "devenv refresh" in stale["fix"]
    human = run_cli("doctor", str(root))
    assert human.exit_code == 10 and "fix: devenv refresh" in human.output and "needs action" in human.output

    shutil.rmtree(root / ".venv")
    code, data = doctor_json(run_cli, str(root))
    assert code == 10 and by_check(data)["venv"]["status"] == "fail"


@pytest.mark.guest
def test_guest_on_unmapped_share_reports_uid_mismatch_and_links(tmp_path: Path, run_cli, real_guest) -> None:
    root = sample(tmp_path)
    add = run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                  "--path", str(real_guest.share_unmapped), "--project", str(root))
    assert add.exit_code == 0, add.output
    code, data = doctor_json(run_cli, str(root), "--guest", "vm")
    assert code == 10
    titles = [s["title"] for s in data["sections"]]
    assert titles[:3] == ["venv", "IDE", "git"] and titles[3].startswith("guest vm")
    (section,) = [s for s in data["sections"] if s["title"].startswith("guest vm")]
    guest = {f["check"]: f for f in section["findings"]}
    assert guest["guest.vm.reachable"]["status"] == "ok"
    uid = next(f for c, f in guest.items() if c.startswith("guest.vm.uid") and f["status"] == "fail")
    assert f"--map={real_guest.host_uid}/{real_guest.uid}" in uid["fix"]
    link = next(f for f in section["findings"] if f["check"] == "hardlink")
    assert link["status"] == "fail" and link["errno"] == "EPERM"
    assert guest["guest.vm.sync"]["status"] == "warn"  # never synced


@pytest.mark.guest
def test_guest_on_mapped_share_is_clean(tmp_path: Path, run_cli, real_guest) -> None:
    root = sample(tmp_path)
    assert run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                   "--path", str(real_guest.share_mapped), "--project", str(root)).exit_code == 0
    _, data = doctor_json(run_cli, str(root), "--guest", "vm")
    (section,) = [s for s in data["sections"] if s["title"].startswith("guest vm")]
    guest_findings = section["findings"]
    assert any(f["check"] == "guest.vm.reachable" for f in guest_findings)  # the guest's own findings
    bad = [f for f in guest_findings if f["status"] in ("fail", "hung")]
    assert bad == [], bad


@pytest.mark.guest
def test_unreachable_guest_is_reported_quickly(tmp_path: Path, run_cli, real_guest) -> None:
    root = sample(tmp_path)
    assert run_cli("guest", "add", "vm", "--ssh", real_guest.alias, "--ssh-config", str(real_guest.ssh_config),
                   "--path", str(real_guest.share_mapped), "--project", str(root)).exit_code == 0
    state = next(Path(os.environ["DEVENV_HOME"]).rglob("guests.json"))
    data = json.loads(state.read_text())
    text = json.dumps(data).replace(f'"host": "{real_guest.alias}"', '"host": "127.0.0.1"')
    state.write_text(text.replace('"port": null', '"port": 9'))
    start = time.monotonic()
    code, out = doctor_json(run_cli, str(root))
    assert code == 10
    reach = by_check(out)["guest.vm.reachable"]
    assert reach["status"] == "fail"
    assert time.monotonic() - start < 60


def test_unknown_guest_name_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    root = sample(tmp_path)
    r = run_cli("doctor", str(root), "--guest", "nope")
    assert r.exit_code == 2 and "devenv: error: no guest is set up" in r.output and "devenv guest add" in r.output
