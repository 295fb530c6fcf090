"""How long `devenv ide` takes on a nova-sized project.

    python benchmarks/bench_ide.py [PROJECT] [-n RUNS]

PROJECT (e.g. /tmp/nova) is never modified: its top-level files and its folder tree (empty .py files)
are mirrored into a temp folder. Without it, a synthetic nova-sized project is generated (≈1,800 test
modules, a dozen console scripts, nova's tox.ini shape). Everything devenv writes (state, JetBrains
config) is redirected into the temp folder.

Rows (medians of RUNS):
  apply() full          in-process render + three-way merge + jdk tables, nothing to write (--force path)
  apply() unchanged     in-process, inputs unchanged: the fingerprint path (target <= 100 ms)
  project.load()        for reference: reading tox.ini/setup.cfg/... (the lead's part)
  devenv ide (CLI)      wall time of a new process, nothing changed, vs `python -c pass` in the same run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOX = """[tox]
envlist = py3,functional

[testenv]
usedevelop = True
setenv =
  LANGUAGE=en_US
  LC_ALL=en_US.utf-8
  OS_STDOUT_CAPTURE=1
  OS_STDERR_CAPTURE=1
  OS_TEST_TIMEOUT=160
  PYTHONDONTWRITEBYTECODE=1
deps = -r{toxinidir}/test-requirements.txt
commands = stestr run {posargs}

[testenv:{unit,py3,py311,py312}]
setenv =
  {[testenv]setenv}
  NOVA_RAISE_ON_GREENLET_LEAK=True

[testenv:functional]
commands = stestr --test-path=./bignova/tests/functional run {posargs}
"""


def synthesize(root: Path, modules: int = 1800, scripts: int = 12) -> None:
    pkg = root / "bignova"
    (root / "tox.ini").write_text(TOX)
    (root / ".stestr.conf").write_text("[DEFAULT]\ntest_path=./bignova/tests/unit\ntop_dir=./\n")
    (root / "requirements.txt").write_text("pbr\neventlet>=0.30\n")
    (root / "test-requirements.txt").write_text("stestr\n")
    entry = "\n".join(f"    bignova-svc{i} = bignova.cmd.svc{i}:main" for i in range(scripts))
    (root / "setup.cfg").write_text(f"[metadata]\nname = bignova\n\n[files]\npackages =\n    bignova\n\n"
                                    f"[entry_points]\nconsole_scripts =\n{entry}\n")
    (root / "setup.py").write_text("import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n")
    for i in range(modules):
        folder = pkg / "tests" / "unit" / f"area{i // 60}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"test_mod{i}.py").write_text("")
    (pkg / "tests" / "functional").mkdir(parents=True)
    (pkg / "cmd").mkdir()


def mirror(src: Path, root: Path) -> None:
    for item in src.iterdir():
        if item.is_file():
            shutil.copy2(item, root / item.name)
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(src)
        if rel == Path("."):
            continue
        (root / rel).mkdir(parents=True, exist_ok=True)
        for f in filenames:
            if f.endswith(".py"):
                (root / rel / f).write_text("")


def fake_venv(root: Path) -> None:
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.11.7\n")
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", type=Path)
    parser.add_argument("-n", "--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ide-") as tmp:
        base = Path(tmp)
        os.environ.update(DEVENV_HOME=str(base / "state"), DEVENV_JETBRAINS_HOME=str(base / "jb"))
        for product in ("PyCharm2024.1", "PyCharmCE2023.3"):
            (base / "jb" / product / "options").mkdir(parents=True)
        root = base / (args.project.name if args.project else "bignova")
        root.mkdir()
        mirror(args.project, root) if args.project else synthesize(root)
        fake_venv(root)
        run(root, args.runs)


def run(root: Path, runs: int) -> None:
    from devenv import project
    from devenv.ide import setup
    from devenv.report import Reporter

    proj = project.load(root)
    tests = sum(1 for _ in root.rglob("test_*.py"))
    rep = Reporter(quiet=True)
    setup.apply(proj, rep)  # first run writes everything
    rows = [
        ("apply() full (render+merge)", median_ms(lambda: setup.apply(proj, rep, force=True), runs)),
        ("apply() unchanged", median_ms(lambda: setup.apply(proj, rep), runs)),
        ("project.load()", median_ms(lambda: project.load(root), runs)),
    ]
    env = dict(os.environ)
    cli = [sys.executable, "-m", "devenv", "ide", str(root), "-q"]
    assert subprocess.run(cli, env=env, timeout=120).returncode == 0
    py = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], env=env, timeout=60), runs)
    rows.append(("devenv ide (CLI, unchanged)", median_ms(lambda: subprocess.run(cli, env=env, timeout=120), runs)))
    rows.append(("python -c pass", py))
    print(f"project: {proj.name} at {root} ({tests} test modules, {len(proj.console_scripts)} console scripts, "
          f"{runs} runs each)")
    print(f"{'measure':<32} {'median ms':>10} {'vs python -c pass':>18}")
    for name, ms in rows:
        print(f"{name:<32} {ms:>10.1f} {ms / py:>17.1f}x")
    unchanged = rows[1][1]
    print(f"target: apply() unchanged <= 100 ms: {'met' if unchanged <= 100 else 'NOT met'} ({unchanged:.1f} ms)")


if __name__ == "__main__":
    main()
