"""fingerprint.decide, every outcome: what a change to the project's inputs does to the venv (fast, no venv).
The end-to-end tests (test_init) reach only some of these; the reasons are what the user reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from devenv import fingerprint
from devenv.fingerprint import Fingerprint

BASE = Fingerprint(python="3.11.7", requirements=("stestr>=3", "six"), constraints=("six===1.17.0",),
                   extras=("test",), install_project="editable", project_meta="m1", devenv="0.1.0",
                   runner=None)


def new(**changes) -> Fingerprint:
    return dataclasses.replace(BASE, **changes)


@pytest.mark.parametrize("old, fresh, exists, verb, reason", [
    (BASE, BASE, False, "create", "no venv yet"),
    (None, BASE, True, "rebuild", "no devenv fingerprint"),
    (BASE, BASE, True, "noop", "nothing changed"),
    (BASE, new(python="3.12.1"), True, "rebuild", "Python changed (3.11.7 -> 3.12.1)"),
    (new(runner="stestr"), new(runner=None), True, "rebuild", "test runner devenv added (stestr)"),
    (BASE, new(install_project="regular"), True, "rebuild", "install mode changed (editable -> regular)"),
    (BASE, new(requirements=("stestr>=3",)), True, "rebuild", "six removed"),
    (BASE, new(requirements=("stestr>=4", "six")), True, "rebuild", "stestr>=3 -> stestr>=4"),
    (BASE, new(extras=()), True, "rebuild", "extras changed (test)"),
    (BASE, new(constraints=()), True, "rebuild", "1 constraint line(s) changed"),
    (BASE, new(project_meta="m2"), True, "add", "project metadata changed"),
    (BASE, new(requirements=("stestr>=3", "six", "fixtures")), True, "add", "fixtures added"),
    (BASE, new(runner="pytest"), True, "add", "test runner pytest added"),
    (BASE, new(devenv="0.2.0"), True, "add", "devenv changed (0.1.0 -> 0.2.0)"),
])
def test_every_decision(old, fresh, exists, verb, reason) -> None:
    d = fingerprint.decide(old, fresh, exists)
    assert d.action == verb and reason in d.reason, d


def test_requirement_changes_are_marked_for_the_installed_check() -> None:
    """Only requirement, pin and extra changes may be judged against what is installed (installed.judge)
    and applied as an exact sync; another Python, install mode or project files may not."""
    only = {"six removed": new(requirements=("stestr>=3",)), "pin": new(constraints=()),
            "added": new(requirements=("stestr>=3", "six", "fixtures")), "runner": new(runner="pytest")}
    assert all(fingerprint.decide(BASE, f, True).requirements_only for f in only.values())
    for other in (new(python="3.12.1"), new(install_project="regular"), new(project_meta="m2"),
                  new(requirements=("stestr>=3",), project_meta="m2")):
        assert not fingerprint.decide(BASE, other, True).requirements_only


def test_constraints_option_is_not_compared() -> None:
    """Where the pins came from is remembered for later runs but is no reason to touch the venv."""
    assert fingerprint.decide(BASE, new(constraints_option="/elsewhere/uc.txt"), True).action == "noop"


def test_fingerprint_round_trips_and_a_damaged_one_is_none(tmp_path: Path) -> None:
    fingerprint.write(tmp_path, BASE)
    assert fingerprint.read(tmp_path) == BASE
    (tmp_path / fingerprint.FILE).write_text("{not json")
    assert fingerprint.read(tmp_path) is None


@pytest.mark.parametrize("output, kind, says", [
    ("error: Failed to fetch: `https://pypi.org/simple/six/`\n  Caused by: dns error", "NetworkError",
     "the package index cannot be reached"),
    ("  × Failed to build `python-ldap==3.4.5`\n  ╰─▶ The build backend returned an error", "InstallError",
     "package python-ldap failed to build"),
    ("ERROR: Failed building wheel for netifaces\n", "InstallError", "package netifaces failed to build"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because nosuchpkg was not found in the package "
     "registry and you require nosuchpkg, we can conclude...", "InstallError",
     "nosuchpkg is not available from the package index"),
    ("ERROR: No matching distribution found for nosuchpkg==9\n", "InstallError", "nosuchpkg==9 is not available"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because six==1.0 and six>=1.16 ...", "InstallError",
     "cannot be installed together"),
    ("OSError: [Errno 28] No space left on device", "DevenvError", "the disk is full"),
    ("something else entirely\n", "InstallError", "the installer failed (the previous venv was kept): something else"),
])
def test_installer_failures_are_explained(tmp_path: Path, output: str, kind: str, says: str) -> None:
    """installer.explain turns the installer's output into one message of the right class (exit code)."""
    from devenv import installer

    exc = installer.explain(output, tmp_path / "install.log")
    assert type(exc).__name__ == kind and says in exc.message, (type(exc).__name__, exc.message)
    assert str(tmp_path / "install.log") in (exc.hint or "")
