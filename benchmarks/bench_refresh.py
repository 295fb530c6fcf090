"""Branch switches on a real nova checkout: devenv refresh beside the same step done by hand with uv
(and, with --tox, beside `tox -e py3 --notest`), in one run.

    python benchmarks/bench_refresh.py --nova PATH [--commits N] [--tox]

Walks the last N commits that touched requirements.txt, test-requirements.txt or tox.ini, checking each
out in turn (forward) and then walking back (`git checkout -` to states built before). Each step is
timed for:
  devenv    `devenv refresh -q` in a clone set up by `devenv init`
  uv -e .   `uv pip install -c UC -r requirements.txt -r test-requirements.txt -e .` in a hand-made venv
            (what a contributor types; uv rebuilds the editable project's metadata on every call)
  uv deps   the same without `-e .` (the fastest hand-made step; it leaves removed packages installed)
  tox       `tox -e py3 --notest` (tox's own rule), with --tox only: it recreates its env on a removal
and a second worktree (`git worktree add`, then `devenv init` there) beside a fresh `uv venv` + install.
Targets (issue 13): satisfied-specifier change <= 0.3 s; one real package change <= 1.5 s; back to a
built state <= 0.5 s; second worktree <= 2 s; never slower than the hand-made uv step.
Medians per kind of step (the machines are noisy); the devenv action of every step is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UPPER = REPO.parent / "shared" / "data" / "upper-constraints.txt"
FILES = ("requirements.txt", "test-requirements.txt", "tox.ini")


def run(argv: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> tuple[float, str]:
    start = time.perf_counter()
    res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if check and res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(argv)}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return wall, res.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          timeout=600).stdout


def clone(src: Path, dest: Path, commit: str) -> Path:
    subprocess.run(["git", "clone", "-q", "--local", "--no-checkout", str(src), str(dest)], check=True, timeout=600)
    git(dest, "checkout", "-q", commit)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nova", type=Path, default=os.environ.get("DEVENV_BENCH_NOVA"), required=False)
    ap.add_argument("--commits", type=int, default=8)
    ap.add_argument("--tox", action="store_true")
    args = ap.parse_args()
    if not args.nova or not (args.nova / "setup.cfg").is_file():
        raise SystemExit("give a nova checkout: --nova PATH (or DEVENV_BENCH_NOVA)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    env = {**os.environ, "DEVENV_HOME": str(tmp / "state"), "DEVENV_JETBRAINS_HOME": str(tmp / "jb"),
           "TOX_CONSTRAINTS_FILE": str(UPPER)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine: devenv's own bytecode is cached
    uv = shutil.which("uv") or sys.exit("uv is not installed")
    head = git(args.nova, "rev-parse", "HEAD").strip()
    commits = git(args.nova, "log", f"-n{args.commits}", "--format=%H", head, "--", *FILES).split()
    # start at the oldest, walk forward to the newest, then back again
    walk = [*reversed(commits), *commits[1:]]
    print(f"nova {head[:10]}: {len(commits)} commits touching {', '.join(FILES)}; {len(walk) - 1} steps")

    dev = clone(args.nova, tmp / "nova", walk[0])
    devenv = [sys.executable, "-m", "devenv"]
    t, _ = run([*devenv, "init", str(dev), "-q", "--constraints", str(UPPER)], dev, env)
    print(f"devenv init (setup, not measured as a step): {t:.1f}s")
    hand = clone(args.nova, tmp / "nova-hand", walk[0])
    run([uv, "venv", "-q", "--python", sys.executable, str(hand / ".venv")], hand, env)
    hand_py = str(hand / ".venv" / "bin" / "python")

    def uv_step(editable: bool) -> float:
        argv = [uv, "pip", "install", "-q", "--python", hand_py, "-c", str(UPPER), "-r", "requirements.txt",
                "-r", "test-requirements.txt", *(["-e", "."] if editable else [])]
        return run(argv, hand, env)[0]

    uv_step(True)
    toxed = None
    if args.tox:
        toxed = clone(args.nova, tmp / "nova-tox", walk[0])
        run(["tox", "-e", "py3", "--notest", "-q"], toxed, env)

    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    print(f"{'step':>4} {'commit':<10} {'devenv':>7} {'action':<10} {'uv -e .':>8} {'uv deps':>8} {'tox':>7}")
    for i, commit in enumerate(walk[1:], 1):
        for repo in filter(None, (dev, hand, toxed)):
            git(repo, "checkout", "-q", commit)
        t_dev, out = run([*devenv, "refresh", "--json", str(dev)], dev, env)
        action = json.loads(out)["venv"]["action"]
        t_uve = uv_step(True)
        t_uvd = uv_step(False)
        t_tox = run(["tox", "-e", "py3", "--notest", "-q"], toxed, env)[0] if toxed else float("nan")
        kind = {"noop": "unchanged", "satisfied": "satisfied", "sync": "real change", "restore": "back",
                "rebuild": "rebuild", "add": "in place"}.get(action, action)
        for name, value in (("devenv", t_dev), ("uv -e .", t_uve), ("uv deps", t_uvd), ("tox", t_tox)):
            rows[kind][name].append(value)
        print(f"{i:>4} {commit[:10]:<10} {t_dev:>6.2f}s {action:<10} {t_uve:>7.2f}s {t_uvd:>7.2f}s {t_tox:>6.2f}s",
              flush=True)

    # a second worktree of the same commit
    review = tmp / "nova-review"
    git(dev, "worktree", "add", "-q", str(review), walk[-1])
    t_wt, _ = run([*devenv, "init", str(review), "-q", "--no-ide", "--constraints", str(UPPER)], review, env)
    fresh = tmp / "nova-fresh"
    git(hand, "worktree", "add", "-q", str(fresh), walk[-1])
    start = time.perf_counter()
    run([uv, "venv", "-q", "--python", sys.executable, str(fresh / ".venv")], fresh, env)
    run([uv, "pip", "install", "-q", "--python", str(fresh / ".venv" / "bin" / "python"), "-c", str(UPPER),
         "-r", "requirements.txt", "-r", "test-requirements.txt", "-e", "."], fresh, env)
    t_fresh = time.perf_counter() - start

    targets = {"satisfied": 0.3, "real change": 1.5, "back": 0.5, "unchanged": 0.3}
    print("\nmedians per kind of step (seconds; ratio = hand-made uv -e . / devenv)")
    print(f"{'kind':<12} {'n':>3} {'devenv':>7} {'uv -e .':>8} {'uv deps':>8} {'tox':>7} {'ratio':>6} {'target':>7}")
    for kind, cols in sorted(rows.items()):
        med = {k: statistics.median(v) for k, v in cols.items()}
        ratio = med["uv -e ."] / med["devenv"] if med["devenv"] else float("inf")
        target = targets.get(kind)
        print(f"{kind:<12} {len(cols['devenv']):>3} {med['devenv']:>7.2f} {med['uv -e .']:>8.2f} "
              f"{med['uv deps']:>8.2f} {med['tox']:>7.2f} {ratio:>6.1f} "
              f"{f'<= {target:.1f}' if target else '':>7}")
    print(f"{'worktree':<12} {1:>3} {t_wt:>7.2f} {t_fresh:>8.2f} {'':>8} {'':>7} {t_fresh / t_wt:>6.1f} {'<= 2.0':>7}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
