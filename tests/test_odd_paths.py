"""Projects in folders with odd names: the finished venv works, checked by running its pip and a console
script (init's exit code alone once hid a venv whose scripts all pointed at .venv.devenv-new)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from idefix import copy_sample

pytestmark = [pytest.mark.slow, pytest.mark.network]

ODD = {"quote": "it's", "double-quote": 'say "hi"', "space": "two words", "dollar": "cost$HOME",
       "backslash": "back\\slash", "unicode": "prøject-ünï", "leading-dash": "-dash", "backquote": "tick`x`"}


@pytest.mark.parametrize("name", list(ODD.values()), ids=list(ODD))
def test_venv_in_an_odd_folder_runs(tmp_path: Path, name: str) -> None:
    root = copy_sample(tmp_path / name / "svc")
    env = {**os.environ, "PBR_VERSION": "0.1.0"}
    done = subprocess.run([sys.executable, "-m", "devenv", "init", "-q", "--", str(root)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    pip = subprocess.run([str(root / ".venv/bin/pip"), "--version"], capture_output=True, text=True, timeout=60)
    assert pip.returncode == 0 and str(root / ".venv") in pip.stdout, pip.stderr
    api = subprocess.run([str(root / ".venv/bin/sample-api")], capture_output=True, text=True, timeout=60)
    assert (api.returncode, api.stdout) == (0, "Hello, world!\n"), api.stderr
    assert not (root / ".venv.devenv-new").exists()
    # the activate script names the final folder too (a shell user sources it)
    act = subprocess.run(["bash", "-c", 'source "$1/.venv/bin/activate" && python -c "import sys; print(sys.prefix)"',
                          "bash", str(root)], capture_output=True, text=True, timeout=60)
    assert act.returncode == 0 and act.stdout.strip() == str(root / ".venv"), act.stderr
