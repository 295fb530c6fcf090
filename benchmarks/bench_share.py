"""How long `devenv share check` takes: healthy share (target <= 1 s median) and hung share (target: the
answer within --timeout + 0.5 s). Needs root, FUSE, bindfs, sshd, sshfs (it builds the test suite's real
guest: two users, a loopback sshd, bindfs shares). Run: python benchmarks/bench_share.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import guestfix  # noqa: E402 - the test suite's real guest, reused

from devenv import proc  # noqa: E402


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    res = proc.run(argv, timeout=120, env=env)
    return time.perf_counter() - start, res.returncode


def series(argv: list[str], env: dict[str, str], n: int) -> tuple[list[float], set[int]]:
    times, codes = [], set()
    for _ in range(n):
        t, code = timed(argv, env)
        times.append(t)
        codes.add(code)
    return times, codes


def row(name: str, times: list[float], codes: set[int], target: float) -> str:
    med = statistics.median(times)
    verdict = "ok" if med <= target else "OVER"
    return (f"| {name:<44} | {len(times):>2} | {med:7.3f} | {min(times):6.3f} | {max(times):6.3f} | "
            f"{target:6.2f} | {verdict:<4} | {','.join(map(str, sorted(codes))):<4} |")


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    reason = guestfix.skip_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    cleanup = guestfix.Cleanup()
    state = tempfile.mkdtemp(prefix="devenv-bench-share-")
    env = {**os.environ, "DEVENV_HOME": state, "HOME": state}
    try:
        box = guestfix.build(cleanup)
        os.environ["DEVENV_HOME"] = state
        from devenv.host.guests import Guest, save

        project = Path(state) / "proj"
        project.mkdir()
        (project / "setup.cfg").write_text("[metadata]\nname = proj\n")
        save(project, Guest(name="fx", host=box.alias, path=str(box.share_mapped), ssh_config=str(box.ssh_config)))
        cli = [sys.executable, "-m", "devenv", "share", "check"]
        rows = [
            row("healthy bindfs --map, local", *series([*cli, str(box.share_mapped)], env, n), 1.0),
            row("healthy bindfs --map, in the guest over ssh",
                *series([*cli, str(box.share_mapped), "--guest", "fx", "--project", str(project)], env, n), 1.0),
            row("unmapped bindfs (fails fast), over ssh",
                *series([*cli, str(box.share_unmapped), "--guest", "fx", "--project", str(project)], env, n), 2.0),
        ]
        for timeout in (1.0, 2.0):
            with guestfix.frozen_bindfs(box.host_tree, box.tmp / "mnt" / f"frozen-{timeout:g}") as frozen:
                times, codes = series([*cli, str(frozen), "--timeout", f"{timeout:g}"], env, max(3, n // 2))
            rows.append(row(f"hung (SIGSTOPped FUSE), --timeout {timeout:g}", times, codes, timeout + 0.5))
    finally:
        cleanup.run()
    print(f"devenv share check, wall seconds per run (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"| {'case':<44} | {'n':>2} | {'median':>7} | {'min':>6} | {'max':>6} | {'target':>6} | {'':<4} | exit |")
    print(f"|{'-' * 46}|{'-' * 4}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 6}|{'-' * 6}|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
