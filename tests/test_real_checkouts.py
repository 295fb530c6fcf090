"""Opt-in: real OpenStack checkouts, each set up by `devenv init`, through the PyCharm launch emulation
beside their own runner (tests/real_checkouts.py). DEVENV_TEST_CHECKOUTS=/path/nova:/path/horizon, with
DEVENV_JETBRAINS_HOME pointing at the JetBrains folder their init used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHECKOUTS = [Path(p) for p in os.environ.get("DEVENV_TEST_CHECKOUTS", "").split(":") if p]


@pytest.mark.slow
@pytest.mark.skipif(not CHECKOUTS, reason="set DEVENV_TEST_CHECKOUTS=/path/nova:/path/horizon to run real trees")
@pytest.mark.parametrize("root", CHECKOUTS, ids=[p.name for p in CHECKOUTS])
def test_configurations_run_as_the_projects_own_runner(root: Path, monkeypatch) -> None:
    import real_checkouts

    if not (root / ".venv").is_dir() or not (root / ".idea").is_dir():
        pytest.skip(f"{root} is not set up: run `devenv init {root}` first")
    monkeypatch.setenv("DEVENV_JETBRAINS_HOME", os.environ.get("DEVENV_REAL_JETBRAINS_HOME", "/nonexistent"))
    rows = real_checkouts.check(root)
    bad = [r for r in rows if not r.same]
    assert rows and not bad, "\n".join(f"{r.what}: {r.emulated} vs {r.direct}" for r in bad)
