"""The project model on trees without tox: plain pyproject projects and older setup.cfg ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devenv import project

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "plainpkg"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["six"]

[project.optional-dependencies]
test = ["iso8601"]

[project.scripts]
plain = "plainpkg:main"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""


def plain(tmp_path: Path) -> Path:
    root = tmp_path / "plainpkg"
    (root / "src" / "plainpkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "plainpkg" / "__init__.py").write_text("def main():\n    return 0\n")
    (root / "tests" / "test_ok.py").write_text("import six, iso8601\n\ndef test_ok():\n    assert True\n")
    return root


def test_plain_pyproject_model(tmp_path: Path, run_cli) -> None:
    root = plain(tmp_path)
    model = project.load(root)
    assert (model.name, model.python_floor, model.has_tox) == ("plainpkg", ">=3.10", False)
    assert model.packages == ("plainpkg",)  # found in the src layout
    assert model.runner.kind == "pytest" and model.runner.test_path == "tests"
    assert model.unit_env.extras == ("test",) and model.unit_env.usedevelop
    assert model.console_scripts == {"plain": "plainpkg:main"}
    assert model.dependencies == ("six",)
    data = json.loads(run_cli("show", str(root), "--json").output)
    assert data["name"] == "plainpkg" and data["unit_env"]["runner"]["kind"] == "pytest"


def test_setup_cfg_only_project(tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "oldpkg" / "tests").mkdir(parents=True)
    (root / "oldpkg" / "__init__.py").write_text("")
    (root / "setup.py").write_text("import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n")
    (root / "setup.cfg").write_text("[metadata]\nname = oldpkg\n\n[options]\npython_requires = >=3.8\n\n"
                                    "[files]\npackages =\n    oldpkg\n\n[entry_points]\nconsole_scripts =\n"
                                    "    old-api = oldpkg.cmd:main\n")
    (root / ".stestr.conf").write_text("[DEFAULT]\ntest_path=./oldpkg/tests\ntop_dir=./\n")
    model = project.load(root)
    assert (model.name, model.python_floor, model.uses_pbr) == ("oldpkg", ">=3.8", True)
    assert model.console_scripts == {"old-api": "oldpkg.cmd:main"}
    assert model.packages == ("oldpkg",)
    assert (model.runner.kind, model.runner.test_path) == ("stestr", "oldpkg/tests")  # from .stestr.conf alone


def test_setup_cfg_declarative_entry_points(tmp_path: Path) -> None:
    """setuptools' [options.entry_points] (no pbr) gives console scripts too."""
    root = tmp_path / "decl"
    (root / "declpkg").mkdir(parents=True)
    (root / "declpkg" / "__init__.py").write_text("")
    (root / "setup.py").write_text("import setuptools\nsetuptools.setup()\n")
    (root / "setup.cfg").write_text("[metadata]\nname = declpkg\n\n[options]\npackages = find:\n\n"
                                    "[options.entry_points]\nconsole_scripts =\n    decl-api = declpkg.cmd:main\n"
                                    "    decl-manage = declpkg.manage:main  # the admin tool\n")
    assert project.load(root).console_scripts == {"decl-api": "declpkg.cmd:main", "decl-manage": "declpkg.manage:main"}


@pytest.mark.network
def test_plain_project_venv_gets_its_runner_and_rebuilds_on_removal(tmp_path: Path, run_cli) -> None:
    root = plain(tmp_path)
    r = run_cli("init", str(root), "--no-ide")
    assert r.exit_code == 0, r.output
    py = str(root / ".venv" / "bin" / "python")
    # pytest is the runner the IDE configuration uses: installed although no dependency names it
    run = subprocess.run([py, "-m", "pytest", "-q", "tests"], cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    (root / "pyproject.toml").write_text(PYPROJECT.replace('dependencies = ["six"]', "dependencies = []"))
    r = run_cli("init", str(root), "--no-ide", "-v")
    assert r.exit_code == 0 and "rebuild" in r.output, r.output
    assert subprocess.run([py, "-c", "import six"], capture_output=True).returncode != 0


@pytest.mark.parametrize("body, says", [
    ('[project]\nname = 5\n', "[project] name must be a string"),
    ('[project]\nname = "x"\nscripts = 5\n', "[project] scripts must be a table"),
    ('[project]\nname = "x"\ndependencies = "six"\n', "[project] dependencies must be a list"),
    ('[project]\nname = "x"\noptional-dependencies = 3\n', "[project] optional-dependencies must be a table"),
    ('[project]\nname = "x"\nrequires-python = 3\n', "[project] requires-python must be a string"),
    ('[build-system]\nrequires = 5\n[project]\nname = "x"\n', "[build-system] requires must be a list"),
    ('project = 5\n', "[project] must be a table"),
    ('[project]\nname = "x"\n[project.scripts]\na = 1\n', "[project.scripts] a must be a string"),
])
def test_wrong_typed_pyproject_field_is_one_message(tmp_path: Path, body: str, says: str) -> None:
    """These ended in an internal error (exit 70), or were silently misread (a string of deps)."""
    import sys

    (tmp_path / "pyproject.toml").write_text(body)
    done = subprocess.run([sys.executable, "-m", "devenv", "show", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 3, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
