"""devenv init beside the same work done by hand with uv, and beside `tox devenv` (pip), in one run.

    python benchmarks/bench_init.py [--nova PATH] [--runs N] [--skip-cold]

Measures, on examples/sample-service (and on a nova checkout when given, or $DEVENV_BENCH_NOVA):
  cold   new venv, empty installer cache         devenv init | uv venv + uv pip install | tox devenv
  warm   new venv, warm installer cache          (same three)
  no-op  devenv init again with nothing changed, wall including interpreter start, beside `python -c pass`
  peak   devenv's own peak RSS (the devenv process, not the installer it starts)
Targets: warm init <= 1.15x hand-made uv; >= 4x faster than tox devenv; no-op <= 0.3 s.
Machines here are noisy: medians of N runs and ratios, never single timings.
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample-service"
UPPER = REPO.parent / "shared" / "data" / "upper-constraints.txt"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and the started process's own peak RSS in KiB (VmHWM, sampled until it exits)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr.read() if proc.stderr else ''}")
    return wall, peak


def fresh_copy(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".venv*", ".tox", ".idea", "*.egg-info"))
    if not (dest / ".git").exists():
        # pbr needs git history (tox does not pass PBR_VERSION through): make the copy a repository,
        # as every real checkout is.
        git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        subprocess.run(["git", "init", "-q", str(dest)], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "snapshot"], check=True)
    return dest


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def by_hand(root: Path, env: dict[str, str], constraints: Path) -> list[list[str]]:
    """What a contributor types with uv: a venv, then deps + the project editable, under constraints."""
    from devenv import project

    model = project.load(root, environ={"TOX_CONSTRAINTS_FILE": str(constraints)})
    args = ["-c", str(constraints)]
    for dep in model.unit_env.deps:
        args += ["-r", dep.value] if dep.kind == "file" else ([dep.value] if dep.kind == "requirement" else [])
    extras = sorted({*model.unit_env.extras, *(e for d in model.unit_env.deps for e in d.extras)})
    target = str(root) + (f"[{','.join(extras)}]" if extras else "")
    py = str(root / ".venv-hand" / "bin" / "python")
    return [[uv_bin(), "venv", "-q", "--seed", str(root / ".venv-hand")],
            [uv_bin(), "pip", "install", "-q", "--python", py, *args, "-e", target]]


def run_case(name: str, src: Path, work: Path, runs: int, cold: bool) -> list[tuple[str, str, float, str]]:
    constraints = work / "upper-constraints.txt"
    shutil.copy(UPPER, constraints)
    base_env = {**os.environ, "TOX_CONSTRAINTS_FILE": str(constraints), "DEVENV_HOME": str(work / "state"),
                "DEVENV_JETBRAINS_HOME": str(work / "jb")}
    base_env.pop("VIRTUAL_ENV", None)
    base_env.pop("PBR_VERSION", None)
    devenv = [sys.executable, "-m", "devenv", "init", "--no-ide", "--constraints", str(constraints), "-q"]
    tox = [sys.executable, "-m", "tox", "devenv", "-q", "-e", "py3", ".venv-tox"]
    rows: list[tuple[str, str, float, str]] = []
    temps: dict[str, list[float]] = {}

    def one(label: str, temp: str) -> None:
        root = fresh_copy(src, work / f"{name}-proj")
        env = dict(base_env)
        cache = work / "cache" / (temp if temp == "warm" else f"cold-{label}-{time.monotonic_ns()}")
        env["UV_CACHE_DIR"] = str(cache / "uv")
        env["PIP_CACHE_DIR"] = str(cache / "pip")
        if label == "devenv init":
            wall, peak = timed([*devenv, str(root)], root, env)
            if temp == "warm":
                temps.setdefault("peak", []).append(peak)
        elif label == "uv by hand":
            wall = 0.0
            for argv in by_hand(root, env, constraints):
                wall += timed(argv, root, env)[0]
        else:
            wall = timed(tox, root, env)[0]
        temps.setdefault(f"{temp}:{label}", []).append(wall)
        if temp == "warm" and label == "devenv init" and "noop" not in temps:
            noop = [timed([*devenv, str(root)], root, env)[0] for _ in range(max(5, runs))]
            bare = [timed([sys.executable, "-c", "pass"], root, env)[0] for _ in range(max(5, runs))]
            temps["noop"], temps["bare"] = noop, bare
        if temp == "cold":
            shutil.rmtree(cache, ignore_errors=True)

    labels = ["devenv init", "uv by hand", "tox devenv (pip)"]
    for label in labels:  # prime the warm caches once, untimed in the table
        one(label, "warm")
    temps.clear()
    for temp in (["cold"] if cold else []) + ["warm"]:
        for _ in range(1 if temp == "cold" else runs):
            for label in labels:
                one(label, temp)
    for temp in (["cold"] if cold else []) + ["warm"]:
        ref = statistics.median(temps[f"{temp}:devenv init"])
        for label in labels:
            med = statistics.median(temps[f"{temp}:{label}"])
            rows.append((name, f"{temp} {label}", med, f"devenv/this = {ref / med:.2f}x" if label != labels[0] else ""))
    noop, bare = statistics.median(temps["noop"]), statistics.median(temps["bare"])
    rows.append((name, "no-op devenv init (wall)", noop, f"python -c pass = {bare:.3f}s; target <= 0.300s"))
    rows.append((name, "devenv peak RSS (MiB)", statistics.median(temps["peak"]) / 1024, "the devenv process itself"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nova", default=os.environ.get("DEVENV_BENCH_NOVA"), help="a nova checkout to measure too")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-cold", action="store_true", help="skip the empty-cache runs (they download)")
    args = ap.parse_args()
    if not UPPER.is_file():
        raise SystemExit(f"needs {UPPER} (OpenStack's upper-constraints)")
    cases = [("sample", SAMPLE)] + ([("nova", Path(args.nova))] if args.nova else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="devenv-bench-") as tmp:
        for name, src in cases:
            rows += run_case(name, src, Path(tmp), args.runs, not args.skip_cold)
    print(f"\n{'project':<8} {'measure':<34} {'median':>9}  note")
    for project_name, measure, value, note in rows:
        unit = "" if "MiB" in measure else "s"
        print(f"{project_name:<8} {measure:<34} {value:>8.3f}{unit}  {note}")


if __name__ == "__main__":
    main()
