"""README's first command, run exactly as written, as a new user on a new machine runs it.

A copy of this checkout, a fresh HOME, and PATH holding only the system folders and the Python under
test as `python3`: Debian's own /usr/bin/python3 (EXTERNALLY-MANAGED, no pip), and the Python running
the tests. Then what a user does next: `devenv --version` from a new login shell, the sample's venv
importing the sample, and `scripts/install --uninstall` leaving nothing behind. Bad input: a Python
older than 3.10, a Python that cannot make venvs, and no network (a network namespace of its own).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import localindex
import pytest
from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.network]

DEBIAN_PYTHON = Path("/usr/bin/python3")


def readme_first_command() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block"
    return block.group(1).splitlines()[0]


def copy_checkout(dest: Path) -> Path:
    """The files a fresh clone of this working tree has (tracked and new, never what .gitignore hides)."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the work tree, not yet committed
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return dest


def new_user(tmp_path: Path, python: Path) -> tuple[Path, Path, dict[str, str]]:
    """(checkout, home, env) for a user whose `python3` is `python`."""
    repo = copy_checkout(tmp_path / "devenv checkout")
    home = tmp_path / "home"
    home.mkdir()
    bindir = tmp_path / "python-bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(python)
    # the user's own environment (its proxy and CA settings reach the package index), less whatever
    # points at a Python, a venv or a devenv folder; the package caches (conftest) are the only thing
    # shared with other tests, for speed, and are never in the real home
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("DEVENV_", "XDG_"))}
    env.update({"HOME": str(home), "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"})
    return repo, home, env


def pythons() -> list[object]:
    params: list[object] = [pytest.param(Path(sys.executable), id="test-python")]
    reason = None
    if not DEBIAN_PYTHON.exists():
        reason = "no /usr/bin/python3 (apt-get install python3 python3-venv; .ci/run does)"
    params.append(pytest.param(DEBIAN_PYTHON, id="debian-python",
                               marks=pytest.mark.skipif(reason is not None, reason=reason or "")))
    return params


@pytest.mark.parametrize("python", pythons())
def test_readme_first_command_as_written(tmp_path: Path, python: Path) -> None:
    repo, home, env = new_user(tmp_path, python)
    cmd = readme_first_command()
    done = subprocess.run(["bash", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{cmd!r} failed:\n{done.stdout}\n{done.stderr}"

    # a new login shell (bash and POSIX sh) finds the command without the user touching PATH
    for shell in ("bash", "sh"):
        new_shell = subprocess.run(["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", shell, "-lc",
                                    "devenv --version"], capture_output=True, text=True, timeout=60)
        assert new_shell.returncode == 0, new_shell.stderr
        assert "0.1.0" in new_shell.stdout

    # the sample is set up: its venv imports it, its console script runs, PyCharm files exist
    sample = repo / "examples" / "sample-service"
    check = subprocess.run([str(sample / ".venv" / "bin" / "python"), "-c",
                            "import sample_service, sys; print(sample_service.__file__)"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert str(sample) in check.stdout
    assert (sample / ".idea" / "runConfigurations" / "Unit_tests.xml").is_file()
    # devenv ran from its own venv, with the templates that venv installed (not the checkout's)
    data = home / ".local" / "share" / "devenv"
    assert (data / "current" / "bin" / "devenv").exists()
    assert os.readlink(home / ".local" / "bin" / "devenv") == str(data / "current" / "bin" / "devenv")

    # running it again (an upgrade) keeps one venv and the same command
    again = subprocess.run([str(python), "scripts/install", "-q"], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert len(list((data / "venvs").iterdir())) == 1
    assert (home / ".profile").read_text().count("# >>> devenv >>>") == 1

    gone = subprocess.run([str(python), "scripts/install", "--uninstall"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not data.exists()
    assert not os.path.lexists(home / ".local" / "bin" / "devenv")
    assert "devenv" not in (home / ".profile").read_text()


def test_install_keeps_users_profile_and_backs_it_up(tmp_path: Path) -> None:
    repo, home, env = new_user(tmp_path, Path(sys.executable))
    # a dotfile manager's symlinked .profile: written through the link, the link itself stays
    real = tmp_path / "dotfiles" / "profile"
    real.parent.mkdir()
    real.write_text("export EDITOR=vi\n")
    (home / ".profile").symlink_to(real)
    (home / ".bashrc").write_text("alias ll='ls -l'\n")
    done = subprocess.run([sys.executable, "scripts/install", "-q"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (home / ".profile").is_symlink()
    assert real.read_text().startswith("export EDITOR=vi\n") and "# >>> devenv >>>" in real.read_text()
    assert (home / ".profile.devenv-backup").read_text() == "export EDITOR=vi\n"
    assert (home / ".bashrc.devenv-backup").read_text() == "alias ll='ls -l'\n"
    subprocess.run([sys.executable, "scripts/install", "--uninstall", "-q"], cwd=repo, env=env, check=True,
                   timeout=60)
    assert real.read_text() == "export EDITOR=vi\n"
    assert (home / ".bashrc").read_text() == "alias ll='ls -l'\n"


def old_python() -> Path | None:
    for cand in sorted(Path("/root/.pyenv/versions").glob("3.[6-9].*/bin/python3")) + [
            Path(f"/usr/bin/python3.{m}") for m in range(6, 10)]:
        if cand.exists():
            return cand
    return None


def assert_nothing_installed(home: Path) -> None:
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == [], f"left behind in HOME: {left}"


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.skipif(old_python() is None, reason="no Python older than 3.10 on this machine")
def test_python_too_old(tmp_path: Path) -> None:
    old = old_python()
    assert old is not None
    repo, home, env = new_user(tmp_path, old)
    done = subprocess.run(["bash", "-c", readme_first_command()], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    line = one_error_line(done.stderr)
    assert "needs Python >= 3.10" in line and "apt-get install" in line
    assert_nothing_installed(home)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or not DEBIAN_PYTHON.exists(),
                    reason="needs root, unshare and Debian's /usr/bin/python3")
def test_python_without_venv(tmp_path: Path) -> None:
    """Debian's python3 without python3-venv, which is the package that ships ensurepip: the folder is
    hidden under an empty one in a mount namespace of the test's own, so the system is left untouched."""
    repo, home, env = new_user(tmp_path, DEBIAN_PYTHON)
    stdlib = subprocess.run([str(DEBIAN_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    empty = tmp_path / "empty"
    empty.mkdir()
    script = 'mount --bind "$1" "$2/ensurepip" && exec "$3" scripts/install'
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(empty),
                           stdlib, str(DEBIAN_PYTHON)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert "apt-get install python3-venv" in line
    assert_nothing_installed(home)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a network namespace of its own")
def test_no_network(tmp_path: Path) -> None:
    repo, home, env = new_user(tmp_path, Path(sys.executable))
    env["PIP_CACHE_DIR"] = str(tmp_path / "empty-pip-cache")  # the shared cache would hide the missing network
    for name in localindex.NAMES:  # ... and so would the local wheelhouse
        env.pop(name, None)
    done = subprocess.run(["unshare", "--net", sys.executable, "scripts/install"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "cannot reach the package index" in line
    log = Path(line.rsplit(" ", 1)[-1])
    assert log.is_file() and "pip" in log.read_text()
    log.unlink()
    assert_nothing_installed(home)
