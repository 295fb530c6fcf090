"""devenv sync vs raw rsync, and devenv sync --watch vs a full-tree rsync per change (vagrant rsync-auto).

Run: python benchmarks/bench_sync.py [--sizes 20000,100000] [--repeat 3] [--changes 20]
Needs root-less nothing special: starts its own sshd on loopback in a tmp folder (needs /usr/sbin/sshd),
generates trees of small files, and prints one table: medians, and devenv/raw ratios.
Targets: initial and no-change sync <= 1.1x raw rsync; watch save->guest p50 <= 0.5 s, p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devenv import proc  # noqa: E402
from devenv.host import rsync as devenv_rsync  # noqa: E402
from devenv.host import ssh, syncstate, watch  # noqa: E402
from devenv.host.guests import Guest  # noqa: E402
from devenv.host.sync import SyncOptions, sync  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A loopback sshd letting the current user in with a tmp key; returns it and a client config."""
    for name in ("hostkey", "clientkey"):
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], timeout=30, check=True)
    (tmp / "authorized_keys").write_text((tmp / "clientkey.pub").read_text())
    port = free_port()
    (tmp / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'hostkey'}\nPidFile none\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "LogLevel ERROR\nMaxStartups 100\n")
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


def bench_size(tmp: Path, cfg: Path, size: int, repeat: int, changes: int) -> list[tuple[str, float, float]]:
    src = tmp / f"tree-{size}"
    t = timed(lambda: make_tree(src, size))
    print(f"[{size}] generated in {t:.1f}s", flush=True)
    raw_dest, dev_dest = tmp / f"raw-{size}", tmp / f"dev-{size}"
    guest = Guest(name=f"bench{size}", host="bench", path=str(dev_dest), ssh_config=str(cfg))
    opts = SyncOptions(retry=ssh.Retry(attempts=1))
    rows = []
    init_raw, init_dev = [], []
    for n in range(repeat):
        shutil.rmtree(raw_dest, ignore_errors=True)
        shutil.rmtree(dev_dest, ignore_errors=True)
        syncstate.forget(src, guest.name)
        runs = [(init_raw, lambda: raw_rsync(cfg, src, str(raw_dest))), (init_dev, lambda: sync(src, guest, opts))]
        for bucket, fn in runs if n % 2 == 0 else runs[::-1]:  # alternate who goes first (page cache)
            proc.run(["sync"], timeout=120)
            bucket.append(timed(fn))
    rows.append((f"initial sync, {size} files", statistics.median(init_raw), statistics.median(init_dev)))
    print(f"[{size}] initial raw {init_raw} devenv {init_dev}", flush=True)
    nc_raw, nc_dev = [], []
    for n in range(repeat + 4):
        runs = [(nc_raw, lambda: raw_rsync(cfg, src, str(raw_dest))), (nc_dev, lambda: sync(src, guest, opts))]
        for bucket, fn in runs if n % 2 == 0 else runs[::-1]:
            bucket.append(timed(fn))
    rows.append((f"no-change sync, {size} files", statistics.median(nc_raw), statistics.median(nc_dev)))
    print(f"[{size}] no-change raw {nc_raw} devenv {nc_dev}", flush=True)
    lat_dev = watch_latency(src, guest, dev_dest, changes)
    lat_full = full_rsync_latency(src, cfg, raw_dest, max(5, changes // 4))
    print(f"[{size}] watch {[round(x, 3) for x in lat_dev]}", flush=True)
    rows.append((f"save->guest p50, {size} files", pct(lat_full, 0.5), pct(lat_dev, 0.5)))
    rows.append((f"save->guest p95, {size} files", pct(lat_full, 0.95), pct(lat_dev, 0.95)))
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(raw_dest, ignore_errors=True)
    shutil.rmtree(dev_dest, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--changes", type=int, default=20)
    # tmpfs by default: on a shared machine, other jobs' disk writeback made the same rsync take 6 s or 70 s
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.tmp))
    tmp.chmod(0o755)
    os.environ["DEVENV_HOME"] = str(tmp / "state")
    daemon, cfg = start_sshd(tmp)
    rows: list[tuple[str, float, float]] = []
    try:
        print(f"rsync {devenv_rsync.protect_args_flag()} supported; {os.cpu_count()} cores; trees in {tmp}", flush=True)
        for size in (int(s) for s in args.sizes.split(",")):
            rows += bench_size(tmp, cfg, size, args.repeat, args.changes)
    finally:
        daemon.terminate()
        daemon.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'measurement (median s)':<34} {'raw rsync / full rsync':>22} {'devenv':>10} {'ratio':>8}")
    for name, raw, dev in rows:
        print(f"{name:<34} {raw:>22.3f} {dev:>10.3f} {dev / raw:>8.2f}")
    print("\n(watch rows: 'raw' is a full-tree rsync per change, as vagrant rsync-auto does; "
          "devenv sends only the changed paths)")


if __name__ == "__main__":
    main()
