"""devenv reads the templates beside the code that runs, whatever the install.

The case that went wrong: this checkout is installed editable (scripts/test does that), and a second
checkout runs `python -m devenv` from its own folder. Its `devenv` package comes from the second tree,
but importing `devenv.templates` is answered by the editable install's finder, with this tree's
templates. A wheel install is covered by test_install (README's first command builds one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SAMPLE


def second_checkout(tmp_path: Path) -> Path:
    other = tmp_path / "other checkout"
    shutil.copytree(REPO / "devenv", other / "devenv", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "templates", other / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", other / "pyproject.toml")
    return other


def test_second_checkout_renders_its_own_templates(tmp_path: Path) -> None:
    other = second_checkout(tmp_path)
    # a visible change in the second tree's run-configuration template
    tpl = other / "templates" / "test_config.xml.j2"
    text = tpl.read_text()
    assert "{{ c.name }}" in text, "template changed shape; update test"
    tpl.write_text(text.replace("{{ c.name }}", "{{ c.name }} (other tree)", 1))
    project = tmp_path / "sample"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns(".venv", ".idea", "*.egg-info"))

    where = subprocess.run([sys.executable, "-c", "import devenv.paths as p, devenv; print(devenv.__file__);"
                            "print(p.templates())"], cwd=other, capture_output=True, text=True, check=True)
    code_file, templates = where.stdout.splitlines()
    assert Path(code_file).is_relative_to(other)
    assert Path(templates) == other / "templates"

    done = subprocess.run([sys.executable, "-m", "devenv", "ide", str(project)], cwd=other, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    unit = (project / ".idea" / "runConfigurations" / "Unit_tests.xml").read_text()
    assert "(other tree)" in unit

    # and this checkout, run from anywhere else, still uses its own
    here = subprocess.run([sys.executable, "-c", "import devenv.paths as p; print(p.templates())"],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(here.stdout.strip()) == REPO / "templates"
