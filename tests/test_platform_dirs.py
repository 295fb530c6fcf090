"""State and cache folders where each OS keeps them (issue 12, part 3). macOS cannot run here: its folders
are asked for by setting sys.platform, which paths.py reads on each call (platformdirs' own choice is made
at its import)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from devenv import constraints, paths


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DEVENV_HOME and no XDG overrides: the platform's defaults under a HOME of our own."""
    for name in ("DEVENV_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_linux_keeps_the_state_where_it_always_was(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert paths.state_home() == plain / ".local" / "state" / "devenv"
    assert paths.cache_home() == plain / ".cache" / "devenv"
    monkeypatch.setenv("XDG_STATE_HOME", str(plain / "st"))
    assert paths.state_home() == plain / "st" / "devenv"


def test_a_mac_gets_its_library_folders(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert paths.state_home() == plain / "Library" / "Application Support" / "devenv"
    assert paths.cache_home() == plain / "Library" / "Caches" / "devenv"


def test_devenv_home_redirects_both(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVENV_HOME", str(plain / "dh"))
    for platform in ("linux", "darwin"):
        monkeypatch.setattr(sys, "platform", platform)
        assert paths.state_home() == plain / "dh"
        assert paths.cache_home() == plain / "dh" / "cache"


def test_a_constraints_file_an_earlier_devenv_cached_is_still_found_offline(plain: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    url = "http://127.0.0.1:9/constraints/upper/master"  # a closed port: the download fails at once
    name = hashlib.sha256(url.encode()).hexdigest()[:16] + ".txt"
    legacy = paths.state_home() / "cache" / "constraints" / name
    legacy.parent.mkdir(parents=True)
    legacy.write_text("six===1.16.0\n")
    assert constraints._fetch(url, refresh=False) == "six===1.16.0\n"
    assert (paths.cache_home() / "constraints" / name).is_file() and not legacy.exists()
