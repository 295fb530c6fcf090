"""A local package index for the install tests: the wheels they need, downloaded once, served from a folder.

Without it every `devenv init` in the tests asks the network's package index (and fails or crawls when
it is slow). `build()` runs once per machine (scripts/test calls it before pytest): `pip download` of the
requirements below, under each constraints file the tests use (OpenStack's upper-constraints when it is
beside the checkout, and the sample's own pins), as wheels for each Python the tests build venvs with,
into a folder named after a hash of all that, so a changed list builds a new one. The tests then point
both installers at that folder and nowhere else (`env()`: uv's file:// index, pip's find-links), so
an install test needs no network at all. The few tests about an unreachable index take those settings
away again (`network_only`).

  python tests/localindex.py build    # prints the folder; idempotent and quick when it is there
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
UPPER_CONSTRAINTS = REPO.parent / "shared" / "data" / "upper-constraints.txt"
SAMPLE_CONSTRAINTS = REPO / "examples" / "sample-service" / "upper-constraints.txt"


def constraint_files() -> list[Path]:
    """Every constraints file the tests install under: OpenStack's real one when it is beside the
    checkout (conftest's `constraints`), and the sample's own (its tox.ini default). Their pins differ,
    so the wheelhouse holds the versions of both."""
    return [p for p in (UPPER_CONSTRAINTS, SAMPLE_CONSTRAINTS) if p.is_file()]
# What the tests install into venvs: the sample service and the test projects (their deps, test deps and
# build requirements), and what tests/test_install.py installs devenv itself with (pyproject's list).
TEST_PROJECTS = [
    "pbr", "setuptools", "wheel", "eventlet", "stestr", "testtools", "fixtures", "python-subunit", "six",
    "iso8601", "pytest", "pytest-django", "django", "pyyaml",
]
# devenv's tools venv (devenv/tools.py) installs these without the project's constraints: their own,
# unconstrained, downloaded once more without -c. flake8 is what the sample's pep8 env installs.
TOOLS = ["tox>=4", "pre-commit", "git-review", "flake8"]
READY = ".complete"  # written last: a folder without it is an interrupted build


def requirements() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        own = tomllib.load(fh)["project"]["dependencies"]
    return sorted({*TEST_PROJECTS, *own})


def pythons() -> list[str]:
    """X.Y of every Python the tests build venvs with: this one, the next newer (test_other_python_rebuilds
    moves to it when it is installed) and Debian's (README's first command)."""
    found = {f"3.{sys.version_info[1]}", f"3.{sys.version_info[1] + 1}"}
    system = Path("/usr/bin/python3")
    if system.exists():
        res = subprocess.run([str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, check=False)
        if res.returncode == 0:
            found.add(res.stdout.strip())
    return sorted(found)


def folder() -> Path:
    if os.environ.get("DEVENV_TEST_WHEELHOUSE"):
        return Path(os.environ["DEVENV_TEST_WHEELHOUSE"])
    key = hashlib.sha256(repr((requirements(), TOOLS, pythons(), _constraints_text())).encode()).hexdigest()[:12]
    return Path("/tmp") / f"devenv-test-wheelhouse-{key}"


def _constraints_text() -> str:
    return "".join(p.read_text() for p in constraint_files())


def ready() -> Path | None:
    path = folder()
    return path if (path / READY).exists() else None


def build() -> Path:
    path = folder()
    if (path / READY).exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    for cfile in constraint_files():
        for version in pythons():
            # --python-version: one pip downloads for every interpreter (binary wheels only, as pip requires)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--dest",
                 str(path), "--only-binary=:all:", "--python-version", version, "-c", str(cfile),
                 *requirements()],
                check=True, timeout=900,
            )
    for version in pythons():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--dest", str(path),
             "--only-binary=:all:", "--python-version", version, *TOOLS],
            check=True, timeout=900,
        )
    write_simple(path)
    (path / READY).write_text("\n".join(requirements()) + "\n")
    return path


def write_simple(path: Path) -> None:
    """A PEP 503 "simple" index over the folder's wheels (uv has no environment switch for --no-index,
    so it gets a file:// index URL instead; pip takes the folder itself as find-links with no index)."""
    import html
    import re

    by_project: dict[str, list[Path]] = {}
    for wheel in sorted(path.glob("*.whl")):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()  # PEP 503 normalisation
        by_project.setdefault(name, []).append(wheel)
    simple = path / "simple"
    for name, wheels in by_project.items():
        (simple / name).mkdir(parents=True, exist_ok=True)
        links = "".join(
            f'<a href="../../{html.escape(w.name)}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">'
            f"{html.escape(w.name)}</a>\n" for w in wheels)
        (simple / name / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    index = "".join(f'<a href="{n}/">{n}</a>\n' for n in sorted(by_project))
    (simple / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{index}</body></html>\n")


def env(path: Path) -> dict[str, str]:
    """Installer settings that use only the local folder (and override a pip.conf's find-links)."""
    return {"UV_INDEX_URL": (path / "simple").as_uri(), "PIP_FIND_LINKS": str(path), "PIP_NO_INDEX": "1"}


CLEARED = ("UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_DEFAULT_INDEX", "UV_INDEX", "PIP_INDEX_URL",
           "PIP_EXTRA_INDEX_URL")  # other indexes the machine may name: the tests must not reach them


def environ(base: dict[str, str]) -> dict[str, str]:
    """base with the installers pointed at the wheelhouse, when it is built (for session fixtures,
    which run outside conftest's per-test settings)."""
    path = ready()
    if path is None:
        return dict(base)
    return {**{k: v for k, v in base.items() if k not in CLEARED}, **env(path)}


NAMES = ("UV_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")  # env()'s keys


def network_only(monkeypatch: object) -> None:
    """For the tests about the network index itself: forget the local folder."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)  # type: ignore[attr-defined]


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        sys.exit(__doc__)
    print(build())
