"""devenv sync vs raw rsync, and devenv sync --watch vs a full-tree rsync per change (vagrant rsync-auto).

Run: python benchmarks/bench_sync.py [--sizes 20000,100000] [--repeat 3] [--changes 20]
         [--cases initial,nochange,watch] [--compare REF]
Needs root-less nothing special: starts its own sshd on loopback in a tmp folder (needs /usr/sbin/sshd),
generates trees of small files, and prints one table: medians, and devenv/raw ratios.
Targets: initial and no-change sync <= 1.1x raw rsync; watch save->guest p50 <= 0.5 s, p95 <= 1 s.

--compare REF: REF is a folder holding another devenv tree (e.g. `git archive HEAD | tar -x -C /tmp/ref`).
Then each devenv version syncs from a long-lived worker process of its own (this script with --worker,
importing devenv from its tree), both in the same loop as raw rsync and in rotating order, and the table
gets a column for REF: the two versions are compared in one run, on the same trees, same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if "--worker" in sys.argv:  # a devenv version other than this checkout's: import it from its tree
    sys.path.insert(0, sys.argv[sys.argv.index("--worker") + 1])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devenv import proc  # noqa: E402
from devenv.host import ssh, syncstate, watch  # noqa: E402
from devenv.host.guests import Guest  # noqa: E402
from devenv.host.sync import SyncOptions, sync  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(tmp: Path, light_shell: bool = False) -> tuple[subprocess.Popen[bytes], Path]:
    """A loopback sshd letting the current user in with a tmp key; returns it and a client config.

    light_shell: sessions skip the user's ~/.bashrc. bash sources it for a command run by sshd only while
    SHLVL < 2 (bash's SSH_SOURCE_BASHRC rule), so sshd's SetEnv SHLVL=1 skips it. This machine's root
    ~/.bashrc runs `pyenv init` (~0.25 s in every ssh session); a devstack guest's stack user has the
    distribution's .bashrc, which returns at once for a non-interactive shell."""
    for name in ("hostkey", "clientkey"):
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], timeout=30, check=True)
    (tmp / "authorized_keys").write_text((tmp / "clientkey.pub").read_text())
    port = free_port()
    (tmp / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'hostkey'}\nPidFile none\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "LogLevel ERROR\nMaxStartups 100\n" + ("SetEnv SHLVL=1\n" if light_shell else ""))
    Path("/run/sshd").mkdir(exist_ok=True)
    daemon = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(tmp / "sshd_config")],  # noqa: S603
                              stderr=subprocess.DEVNULL)
    hostpub = " ".join((tmp / "hostkey.pub").read_text().split()[:2])
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {hostpub}\n")
    cfg = tmp / "ssh_config"
    cfg.write_text(f"Host bench\n  HostName 127.0.0.1\n  Port {port}\n  User {os.environ.get('USER', 'root')}\n"
                   f"  IdentityFile {tmp / 'clientkey'}\n  IdentitiesOnly yes\n"
                   f"  UserKnownHostsFile {tmp / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return daemon, cfg
        time.sleep(0.05)
    raise SystemExit("sshd did not start")


def make_tree(root: Path, files: int) -> None:
    """Small Python-ish files, 100 per folder (an OpenStack tree is ~20,000 files)."""
    body = "# generated\n" + "x = 1\n" * 30
    for i in range(files):
        folder = root / f"pkg{i // 1000}" / f"mod{(i // 100) % 10}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.py").write_text(body)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_rsync(cfg: Path, src: Path, dest: str) -> None:
    rsh = shlex.join(["ssh", "-F", str(cfg), "-o", "BatchMode=yes"])
    proc.run(["rsync", "-a", "-e", rsh, f"{src}/", f"bench:{dest}/"], timeout=3600, check=True)


def watch_latency(root: Path, guest: Guest, remote: Path, changes: int) -> list[float]:
    """Save a file, poll the guest copy until it has the new content; save->visible seconds."""
    stop, ready = threading.Event(), threading.Event()
    worker = threading.Thread(target=watch.watch, args=(root, guest, SyncOptions(check_clock=False)),
                              kwargs={"stop": stop, "on_ready": ready.set}, daemon=True)
    worker.start()
    ready.wait(120)
    time.sleep(0.5)
    return _latencies(root, remote, changes, lambda: None, stop, worker)


def full_rsync_latency(root: Path, cfg: Path, remote: Path, changes: int) -> list[float]:
    """What `vagrant rsync-auto` does: on each change, rsync the whole tree."""
    def on_change() -> None:
        raw_rsync(cfg, root, str(remote))

    return _latencies(root, remote, changes, on_change, None, None)


def _latencies(root, remote, changes, after_save, stop, worker) -> list[float]:
    files = sorted(root.glob("pkg*/mod*/f*.py"))
    step = max(1, len(files) // changes)
    found = []
    for n in range(changes):
        rel = files[n * step].relative_to(root)
        text = f"# edit {n} {time.time()}\n"
        start = time.perf_counter()
        (root / rel).write_text(text)
        after_save()
        target = remote / rel
        while True:
            try:
                if target.read_text() == text:
                    break
            except OSError:
                pass
            if time.perf_counter() - start > 30:
                raise SystemExit(f"change {rel} never arrived")
            time.sleep(0.005)
        found.append(time.perf_counter() - start)
        time.sleep(1.0)  # let the flush finish its bookkeeping, as between real saves
    if stop is not None:
        stop.set()
        worker.join(30)
    return found


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Worker:
    """A devenv version syncing in a process of its own, started once (no interpreter start per run)."""

    def __init__(self, tree: str, label: str) -> None:
        self.label = label
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--worker", tree], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def sync(self, src: Path, guest: Guest, forget: bool = False) -> tuple[float, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        job = {"src": str(src), "name": guest.name, "path": guest.path, "cfg": guest.ssh_config, "forget": forget}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise SystemExit(f"{self.label}: {answer['error']}")
        return float(answer["seconds"]), float(answer["cpu"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(30)


def own_cpu() -> float:
    """CPU seconds of this process and its waited-for children (the host rsync and its ssh)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def server_cpu(daemon: subprocess.Popen[bytes]) -> float:
    """CPU seconds of the sshd's finished sessions (the guest-side rsyncs): its cutime + cstime."""
    fields = Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def worker_loop() -> None:
    """--worker TREE: read sync jobs (json lines) on stdin, answer each with its wall time."""
    for line in sys.stdin:
        job = json.loads(line)
        guest = Guest(name=job["name"], host="bench", path=job["path"], ssh_config=job["cfg"])
        if job["forget"]:
            syncstate.forget(Path(job["src"]), guest.name)
        start, cpu = time.perf_counter(), own_cpu()
        try:
            sync(Path(job["src"]), guest, SyncOptions(retry=ssh.Retry(attempts=1)))
            answer = {"seconds": time.perf_counter() - start, "cpu": own_cpu() - cpu}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops
            answer = {"error": repr(exc)}
        print(json.dumps(answer), flush=True)


Row = tuple[str, float, list[float]]  # name, raw (or full-rsync) median, one median per devenv version
CPU_ROWS: list[Row] = []  # the same for CPU seconds, host and guest side (all of it on this machine)


def bench_size(tmp: Path, cfg: Path, size: int, repeat: int, changes: int, cases: set[str],
               workers: list[Worker], daemon: subprocess.Popen[bytes]) -> list[Row]:
    src = tmp / f"tree-{size}"
    t = timed(lambda: make_tree(src, size))
    print(f"[{size}] generated in {t:.1f}s", flush=True)
    raw_dest = tmp / f"raw-{size}"
    guests = [Guest(name=f"bench{size}-{n}", host="bench", path=str(tmp / f"dev{n}-{size}"), ssh_config=str(cfg))
              for n in range(max(1, len(workers)))]
    opts = SyncOptions(retry=ssh.Retry(attempts=1))

    def devenv_runs(forget: bool) -> list[tuple[int, object]]:
        if not workers:
            return [(1, lambda: sync(src, guests[0], opts))]
        pairs = enumerate(zip(workers, guests, strict=True))
        return [(1 + n, lambda w=w, g=g: w.sync(src, g, forget)) for n, (w, g) in pairs]

    def measure(rounds: int, forget: bool, clean: bool) -> list[list[float]]:
        runs = [(0, lambda: raw_rsync(cfg, src, str(raw_dest))), *devenv_runs(forget)]
        buckets: list[list[float]] = [[] for _ in runs]
        cpus.clear()
        cpus.extend([] for _ in runs)
        for n in range(rounds):
            if clean:
                shutil.rmtree(raw_dest, ignore_errors=True)
                for g in guests:
                    shutil.rmtree(g.path, ignore_errors=True)
                    syncstate.forget(src, g.name)
            k = n % len(runs)
            for slot, fn in runs[k:] + runs[:k]:  # rotate who goes first (page cache, warm CPU)
                if clean:
                    proc.run(["sync"], timeout=120)
                bucket = buckets[slot]
                host_cpu, guest_cpu = own_cpu(), server_cpu(daemon)
                if workers and slot:
                    seconds, host = fn()  # the worker's own wall time and CPU of sync()
                    bucket.append(seconds)
                else:
                    bucket.append(timed(fn))
                    host = own_cpu() - host_cpu
                time.sleep(0.05)  # the guest side's session has ended and been reaped
                cpus[slot].append(host + server_cpu(daemon) - guest_cpu)
        return buckets

    cpus: list[list[float]] = []

    rows: list[Row] = []
    if "initial" in cases or "nochange" in cases:
        found = measure(repeat, forget=True, clean=True)
        print(f"[{size}] initial " + " | ".join(str([round(x, 3) for x in b]) for b in found), flush=True)
        if "initial" in cases:
            rows.append((f"initial sync, {size} files", statistics.median(found[0]),
                         [statistics.median(b) for b in found[1:]]))
            CPU_ROWS.append((f"initial sync, {size} files", statistics.median(cpus[0]),
                             [statistics.median(b) for b in cpus[1:]]))
            print(f"[{size}] initial cpu " + " | ".join(str([round(x, 3) for x in b]) for b in cpus), flush=True)
    if "nochange" in cases:
        found = measure(repeat + 4, forget=False, clean=False)
        print(f"[{size}] no-change " + " | ".join(str([round(x, 3) for x in b]) for b in found), flush=True)
        rows.append((f"no-change sync, {size} files", statistics.median(found[0]),
                     [statistics.median(b) for b in found[1:]]))
        CPU_ROWS.append((f"no-change sync, {size} files", statistics.median(cpus[0]),
                         [statistics.median(b) for b in cpus[1:]]))
    if "watch" in cases:
        if not (tmp / f"dev0-{size}").exists():
            sync(src, guests[0], opts)
        if not raw_dest.exists():
            raw_rsync(cfg, src, str(raw_dest))
        lat_dev = watch_latency(src, guests[0], Path(guests[0].path), changes)
        lat_full = full_rsync_latency(src, cfg, raw_dest, max(5, changes // 4))
        print(f"[{size}] watch {[round(x, 3) for x in lat_dev]}", flush=True)
        rows.append((f"save->guest p50, {size} files", pct(lat_full, 0.5), [pct(lat_dev, 0.5)]))
        rows.append((f"save->guest p95, {size} files", pct(lat_full, 0.95), [pct(lat_dev, 0.95)]))
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(raw_dest, ignore_errors=True)
    for g in guests:
        shutil.rmtree(g.path, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--cases", default="initial,nochange,watch", help="comma-separated: initial,nochange,watch")
    ap.add_argument("--compare", metavar="REF", help="another devenv tree, timed beside this one in the same run")
    # tmpfs by default: on a shared machine, other jobs' disk writeback made the same rsync take 6 s or 70 s
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.tmp))
    tmp.chmod(0o755)
    os.environ["DEVENV_HOME"] = str(tmp / "state")
    daemon, cfg = start_sshd(tmp)
    here = str(Path(__file__).resolve().parent.parent)
    workers = [Worker(here, "devenv"), Worker(str(Path(args.compare).resolve()), "REF")] if args.compare else []
    rows: list[Row] = []
    try:
        print(f"{proc.run(['rsync', '--version'], timeout=10).stdout.splitlines()[0]}; {os.cpu_count()} cores; "
              f"trees in {tmp}", flush=True)
        for size in (int(s) for s in args.sizes.split(",")):
            rows += bench_size(tmp, cfg, size, args.repeat, args.changes, cases, workers, daemon)
    finally:
        for w in workers:
            w.close()
        daemon.terminate()
        daemon.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    ref = f" {'REF':>10} {'ratio':>8}" if args.compare else ""
    print(f"{'measurement (median s)':<34} {'raw rsync / full rsync':>22} {'devenv':>10} {'ratio':>8}{ref}")
    for name, raw, devs in rows:
        print(f"{name:<34} {raw:>22.3f}" + "".join(f" {d:>10.3f} {d / raw:>8.2f}" for d in devs))
    print(f"\n{'CPU seconds (median, both sides)':<34} {'raw rsync':>22} {'devenv':>10} {'ratio':>8}{ref}")
    for name, raw, devs in CPU_ROWS:
        print(f"{name:<34} {raw:>22.3f}" + "".join(f" {d:>10.3f} {d / raw:>8.2f}" for d in devs))
    if args.compare:
        print(f"\n(REF: {Path(args.compare).resolve()}; each devenv version in its own long-lived worker)")
    print("\n(watch rows: 'raw' is a full-tree rsync per change, as vagrant rsync-auto does; "
          "devenv sends only the changed paths)")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker_loop()
    else:
        main()
