"""A devstack workspace: `sync --all --watch` latency against the number of repos, and the first
`devenv devstack attach` beside cloning the same repos over ssh by hand.

Run: python benchmarks/bench_workspace.py [--repos 1,5,15] [--changes 15] [--files 2000] [--repeat 3]
         [--cases latency,attach]
Starts its own sshd on loopback (benchmarks/bench_sync.py's), makes the repos in a tmp folder standing for
/opt/stack, and prints one table of medians and ratios. Targets (issue 10): save -> guest p50 <= 0.2 s and flat
across 1, 5 and 15 repos; the first attach of nova + 4 libraries <= 1.2x the clones by hand.

The clones by hand are made one after the other, each `git clone ssh://...` with its own ssh connection, as a
person types them; attach (a whole `devenv` process: start-up, reading devstack, the clones, the mtimes)
clones side by side over one ssh master connection. The table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import make_tree, start_sshd  # noqa: E402

from devenv.host import guests, watch  # noqa: E402
from devenv.host.guests import Guest  # noqa: E402
from devenv.host.sync import SyncOptions, sync  # noqa: E402


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    make_tree(path, files)
    (path / "setup.cfg").write_text(f"[metadata]\nname = {path.name}\n")
    git("init", "-q", "-b", "master", str(path))
    git("add", "-A", cwd=path)
    git("-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qm", "initial", cwd=path)


def latency(n: int, tmp: Path, cfg: Path, files: int, changes: int) -> list[float]:
    """n host trees, each already synced to its guest folder, one watch_all over them; each save is in a
    random repo; save -> the guest copy has the new content."""
    targets = []
    for i in range(n):
        host, remote = tmp / f"ws{n}" / f"repo{i}", tmp / f"guest{n}" / f"repo{i}"
        make_tree(host, files)
        remote.mkdir(parents=True)
        g = Guest(name="bench", host="bench", path=str(remote), ssh_config=str(cfg))
        guests.save(host, g)
        sync(host, g, SyncOptions(check_clock=False))
        targets.append((host, g, remote))
    stop, ready = threading.Event(), threading.Event()
    worker = threading.Thread(target=watch.watch_all, args=([(h, g) for h, g, _ in targets],
                                                            SyncOptions(check_clock=False)),
                              kwargs={"stop": stop, "on_ready": ready.set}, daemon=True)
    worker.start()
    ready.wait(120)
    time.sleep(0.5)
    rng = random.Random(n)
    found = []
    for k in range(changes):
        host, _, remote = targets[rng.randrange(n)]
        rel = Path("pkg0") / "mod0" / f"f{k % 100}.py"
        text = f"# edit {k} {time.time()}\n"
        start = time.perf_counter()
        (host / rel).write_text(text)
        while True:
            try:
                if (remote / rel).read_text() == text:
                    break
            except OSError:
                pass
            if time.perf_counter() - start > 30:
                raise SystemExit(f"change {rel} in {host} never arrived")
            time.sleep(0.005)
        found.append(time.perf_counter() - start)
        time.sleep(0.6)  # between saves, as a person types
    stop.set()
    worker.join(30)
    return found


def attach_vs_clone(tmp: Path, cfg: Path, files: int, trees: list[str], turn: int = 0) -> list[float]:
    """nova + 4 libraries under a DEST with a local.conf naming them; `git clone ssh://...` of each, one after
    the other, as by hand, and `devenv devstack attach` of each devenv tree in `trees` into an empty workspace.
    Returns [by hand, attach per tree]; `turn` rotates who goes first (page cache, warm CPU)."""
    import os

    dest = tmp / "opt-stack"
    names = ["nova", "oslo.messaging", "oslo.config", "python-novaclient", "keystoneauth"]
    for name in names:
        make_repo(dest / name, files)
    (dest / "devstack").mkdir(parents=True)
    (dest / "devstack" / "local.conf").write_text(
        f"[[local|localrc]]\nDEST={dest}\nDATA_DIR=$DEST/data\nLIBS_FROM_GIT={','.join(names[1:])}\n"
        "RECLONE=False\n")
    env_ssh = shlex.join(["ssh", "-F", str(cfg), "-o", "BatchMode=yes"])

    def by_hand() -> None:
        folder = tmp / "by-hand"
        folder.mkdir()
        for name in names:
            subprocess.run(["git", "clone", "-q", f"ssh://bench{dest / name}", str(folder / name)], check=True,
                           env={**os.environ, "GIT_SSH_COMMAND": env_ssh})

    def attach(n: int, tree: str) -> None:
        ws = tmp / f"ws-attach{n}"
        ws.mkdir()
        guests.save(ws, Guest(name="bench", host="bench", path=str(dest), ssh_config=str(cfg)), make_default=True)
        res = subprocess.run([sys.executable, "-m", "devenv", "devstack", "attach", "bench", "--project", str(ws),
                              "--local-conf", str(dest / "devstack" / "local.conf"),
                              *[a for n in names for a in ("--repo", n)]], capture_output=True, text=True,
                             cwd=tree, env={**os.environ, "PYTHONPATH": tree})
        if res.returncode != 0:
            raise SystemExit(f"attach ({tree}) failed: {res.stdout}{res.stderr}")

    runs = [by_hand, *[lambda n=n, t=t: attach(n, t) for n, t in enumerate(trees)]]
    took = [0.0] * len(runs)
    k = turn % len(runs)
    for slot in [*range(k, len(runs)), *range(k)]:
        start = time.perf_counter()
        runs[slot]()
        took[slot] = time.perf_counter() - start
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", default="1,5,15")
    ap.add_argument("--changes", type=int, default=15)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="latency,attach", help="comma-separated: latency,attach")
    ap.add_argument("--guest-shell", choices=("light", "as-is"), default="light",
                    help="light: the guest's sessions skip ~/.bashrc (bench_sync.start_sshd), as a devstack stack "
                         "user's non-interactive bash does at once; as-is: this machine's root ~/.bashrc runs "
                         "`pyenv init` in every session (~0.25 s)")
    ap.add_argument("--compare", metavar="REF", help="another devenv tree (e.g. `git archive HEAD | tar -x -C "
                    "/tmp/ref`): its attach is timed beside this one's, in the same rounds")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as t:
        tmp = Path(t)
        os.environ.setdefault("DEVENV_HOME", str(tmp / "state"))
        daemon, cfg = start_sshd(tmp, light_shell=args.guest_shell == "light")
        try:
            p50s = {}
            for n in [int(x) for x in args.repos.split(",")] if "latency" in cases else []:
                lat = latency(n, tmp, cfg, args.files, args.changes)
                lat.sort()
                p50s[n] = statistics.median(lat)
                rows.append((f"sync --all --watch, {n} repo(s): save -> guest p50 / p95",
                             f"{p50s[n]:.3f} s / {lat[int(0.95 * (len(lat) - 1))]:.3f} s"))
            for n, v in p50s.items():
                rows.append((f"  p50 with {n} repo(s) / with {min(p50s)}", f"{v / p50s[min(p50s)]:.2f}x"))
            here = str(Path(__file__).resolve().parent.parent)
            trees = [here] + ([str(Path(args.compare).resolve())] if args.compare else [])
            labels = ["devenv"] + (["REF"] if args.compare else [])
            runs: list[list[float]] = []
            for i in range(args.repeat) if "attach" in cases else []:
                sub = tmp / f"attach{i}"
                sub.mkdir()
                runs.append(attach_vs_clone(sub, cfg, args.files, trees, i))
            if runs:
                hand = statistics.median(r[0] for r in runs)
                rows.append(("git clone of the same 5 over ssh, by hand (median; one after the other)",
                             f"{hand:.2f} s"))
                for n, label in enumerate(labels, start=1):
                    ours = statistics.median(r[n] for r in runs)
                    rows.append((f"first attach of nova + 4 libraries, {label} (median)", f"{ours:.2f} s"))
                    rows.append((f"  attach / by hand, {label} ({len(runs)} runs, each: " + ", ".join(
                        f"{r[n] / r[0]:.2f}x" for r in runs) + ")", f"{ours / hand:.2f}x"))
        finally:
            daemon.terminate()
    rows.append(("guest shell (--guest-shell)", args.guest_shell))
    rows.append(("load average (1 min) at start / at end", f"{load:.2f} / {os.getloadavg()[0]:.2f}"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
