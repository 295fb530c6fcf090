"""`devenv sync`: host -> guest with rsync over ssh, losing nothing that was changed on the guest.

One real rsync run does the work and detects conflicts at once: it always runs with
`--backup --backup-dir`, so every guest file it overwrites or deletes is moved aside, and its itemized
output names them. Afterwards the kept copies are compared (size, mtime in ns) with the manifest of what we
last sent: equal means the guest copy was ours, so its backup is dropped; different (or never sent)
means it was changed on the guest, so the backup stays and the file is reported as a conflict.
A no-change sync is therefore exactly one rsync run, like a plain `rsync -a`.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.errors import DevenvError, UsageError
from devenv.host import clock, conflicts, excludes, rsync, rsyncflavour, ssh, syncstate
from devenv.host.conflicts import ConflictItem
from devenv.host.guests import Guest

last_sync = syncstate.last_sync  # the public name doctor and `guest list` use
SKEW_EVERY = 600.0  # seconds between clock-skew measurements (clocks drift slowly; ssh costs ~0.3 s)
COARSE_MARGIN = 2.0  # seconds; see coarse_limit
_counter = itertools.count()


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    delete: bool = False
    verify: bool = False
    excludes: tuple[str, ...] = ()
    retry: ssh.Retry = ssh.Retry()
    check_clock: bool = True
    control_path: str | None = None  # an ssh master's socket (watch), reused when it is up
    timeout: float = rsync.IO_TIMEOUT  # seconds without I/O before rsync gives up (a hung share: sooner)
    rsync: str | None = None  # the host rsync for this run (sync --rsync); None: see rsyncflavour.select


@dataclass(frozen=True)
class SyncResult:
    guest: str
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    conflicts: tuple[ConflictItem, ...] = ()
    differing: tuple[str, ...] = ()  # --verify: same size and time, different content
    backup_dir: str | None = None
    dry_run: bool = False
    skew: clock.Skew | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    rsync: str = ""  # the host rsync that ran: its path and flavour

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "guest": self.guest, "created": list(self.created), "updated": list(self.updated),
            "deleted": list(self.deleted), "differing": list(self.differing), "dry_run": self.dry_run,
            "conflicts": [{"path": c.path, "reason": c.reason, "backup": c.backup} for c in self.conflicts],
            "backup_dir": self.backup_dir, "notes": list(self.notes), "seconds": round(self.seconds, 3),
            "skew": None if self.skew is None else round(self.skew.seconds, 3), "rsync": self.rsync,
        }


@dataclass
class _Outcome:
    items: list[rsync.Item] = field(default_factory=list)
    new: rsync.NewFiles = field(default_factory=rsync.NewFiles)  # the files sent that the guest lacked
    conflicts: list[ConflictItem] = field(default_factory=list)
    kept_backups: bool = False


def sync(
    project_root: Path,
    guest: Guest,
    opts: SyncOptions = SyncOptions(),
    *,
    files: list[str] | None = None,
    on_retry: Callable[[str, float], None] | None = None,
) -> SyncResult:
    """Send the project (or only `files`, relative paths) to the guest. Records the run unless dry."""
    with _no_gc():
        return _sync(project_root, guest, opts, files, on_retry)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """A first sync of a big tree makes an object per file (its rsync line, its manifest entry), and they all
    live on until the end: the cyclic collector would walk them over and over (measured: 0.3 s of devenv's
    1.7 s of CPU at 100,000 files). Nothing here makes reference cycles that need it meanwhile; it is back
    on (if it was) when the sync ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _sync(project_root: Path, guest: Guest, opts: SyncOptions, files: list[str] | None,
          on_retry: Callable[[str, float], None] | None) -> SyncResult:
    start = time.perf_counter()
    root = Path(project_root).resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", "pass the project folder with --project")
    # before anything reaches the guest: an rsync that cannot keep the promises stops the run here
    program = rsyncflavour.select(opts.rsync, guest.host_rsync)
    skew_box: list[clock.Skew | None] = [None]
    # rsync's own ssh connection serves the hang probe of a long run (a watch brings its own master)
    master = _Master() if opts.control_path is None else None
    due = _skew_due(root, guest, opts)
    # the guest's shell reads its clock in rsync's own session: no ssh session of its own (else a thread)
    in_run = due and opts.control_path is None and rsync.can_read_clock(guest.rsync_path)
    try:
        skew_thread = None if in_run else _start_skew(root, guest, opts, skew_box, master)
        run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}-{next(_counter)}"
        clocks: list[rsync.Clock] = []
        skew_read: list[bool] = []

        def skew_of() -> clock.Skew | None:
            """The skew this run measured (or the one remembered), once the run is over; read once."""
            if not skew_read:
                skew_read.append(True)
                if in_run:
                    skew_box[0] = _skew_from(clocks, guest)
                elif skew_thread:
                    skew_thread.join(timeout=30)
            return skew_box[0]

        try:
            out = _transfer(root, guest, opts, run_id, files, on_retry, program, master.path if master else None,
                            clocks if in_run else None, skew_of)
        finally:
            if master:
                master.done.set()
        if in_run:
            skew_of()
        differing: list[str] = []
        if opts.verify:
            differing = _verify(root, guest, opts, run_id, out, on_retry, program)
        skew_of()
    finally:
        if master:
            master.close()
    items = out.items  # all but the new files, which a first sync has 100,000 of
    created = [*out.new.paths, *(i.path for i in items if i.new and i.sent)]
    updated = [i.path for i in items if i.sent and not i.new]
    deleted = [i.path.rstrip("/") for i in items if i.deleted]
    result = SyncResult(
        guest=guest.name,
        created=tuple(created),
        updated=tuple(updated),
        deleted=tuple(deleted),
        conflicts=tuple(out.conflicts),
        differing=tuple(differing),
        backup_dir=_backup_abs(guest, run_id) if out.kept_backups else None,
        dry_run=opts.dry_run,
        skew=skew_box[0],
        notes=tuple(_notes(root)),
        seconds=time.perf_counter() - start,
        rsync=f"{program.path}: {program.describe()}",
    )
    if not opts.dry_run:
        _record(root, guest, result, skew_thread is not None or in_run)
    return result


def _skew_from(clocks: list[rsync.Clock], guest: Guest) -> clock.Skew | None:
    """The skew from the clock the guest's shell printed in rsync's session (the last attempt's); if it printed
    none (a guest without GNU date), measured by itself."""
    if clocks:
        seen = clocks[-1]
        return clock.Skew(seen.guest - (seen.before + seen.after) / 2, (seen.after - seen.before) / 2)
    try:
        return clock.measure(guest)
    except DevenvError:
        return None  # the rsync run reported any real problem


class _Master:
    """A private folder for the socket through which rsync's ssh serves this sync's other ssh calls (the
    hang probe of a long run; the clock probe when the guest's shell cannot read it in rsync's session)
    (ssh ControlMaster=auto, ControlPersist=no: it ends with rsync's own session). A socket path has
    ~104 bytes, and ssh first listens on it plus 17: with a longer temp folder there is no master."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="devenv-ssh-")  # 0700
        self.path: str | None = os.path.join(self.folder, "m")
        if len(os.fsencode(self.path)) + 17 > 100:
            self.path = None
        self.done = threading.Event()  # the transfer ended: no master to wait for

    def wait(self, limit: float = 10.0) -> str | None:
        """The socket once rsync's ssh serves it; None if the transfer ended (or never got) there first."""
        deadline = time.monotonic() + limit
        while self.path and not os.path.exists(self.path):
            if self.done.wait(0.01) or time.monotonic() > deadline:
                return None
        return self.path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _skew_due(root: Path, guest: Guest, opts: SyncOptions) -> bool:
    if not opts.check_clock:
        return False
    last = syncstate.last_sync(root, guest.name) or {}
    return opts.verify or time.time() - float(last.get("skew_measured_at") or 0) >= SKEW_EVERY


def _start_skew(
    root: Path, guest: Guest, opts: SyncOptions, box: list[clock.Skew | None], master: _Master | None = None,
) -> threading.Thread | None:
    """Measure clock skew beside the rsync run (no added wall time), at most every SKEW_EVERY s; through
    rsync's own ssh connection when it serves one (master), which saves a whole ssh handshake."""
    if not opts.check_clock:
        return None
    if not _skew_due(root, guest, opts):
        skew = (syncstate.last_sync(root, guest.name) or {}).get("skew")
        box[0] = clock.Skew(float(skew[0]), float(skew[1])) if isinstance(skew, list) else None
        return None

    def measure() -> None:
        socket = master.wait() if master else None
        try:
            box[0] = _measure_skew(guest, socket) if socket else clock.measure(guest)
        except DevenvError:
            try:  # the master may have ended with rsync's session meanwhile: ask directly
                box[0] = clock.measure(guest) if socket else None
            except DevenvError:
                box[0] = None  # the rsync run reports the real problem

    thread = threading.Thread(target=measure, name="devenv-clock", daemon=True)
    thread.start()
    return thread


def _measure_skew(guest: Guest, control_path: str, timeout: float = 20.0) -> clock.Skew:
    """clock.measure, through an ssh master connection (ControlMaster=no: never makes one)."""
    before = time.time()
    res = ssh.run(guest, ["date", "+%s.%N"], timeout=timeout, control_path=control_path)
    after = time.time()
    try:
        guest_now = float(res.stdout.strip())
    except ValueError as exc:
        raise ssh.SshFailure(f"cannot read the guest's clock: {res.stdout.strip()!r} {res.stderr.strip()}") from exc
    return clock.Skew(guest_now - (before + after) / 2, (after - before) / 2)


def _base_extra(opts: SyncOptions, files: list[str] | None, first: bool) -> list[str]:
    extra = []
    if opts.dry_run:
        extra.append("--dry-run")
    if files is not None:
        # Only these paths (relative, implied --relative). A path gone from the host is deleted on the
        # guest only with --delete (and kept in the backup); otherwise it is skipped and reported.
        missing = "--delete-missing-args" if opts.delete else "--ignore-missing-args"
        extra += ["--from0", "--files-from=-", missing]
    elif opts.delete:
        extra.append("--delete")
    if first and files is None:
        extra.append("-ii")  # first sync: list unchanged files too, so the manifest knows them all
    return extra


def _run(
    guest: Guest, args: list[str], files: list[str] | None, opts: SyncOptions,
    on_retry: Callable[[str, float], None] | None, seen: list[tuple[list[rsync.Item], rsync.NewFiles]],
    times: rsync.HostTimes | None = None, marker: str | None = None, probe_path: str | None = None,
    clocks: list[rsync.Clock] | None = None,
) -> rsync.Run:
    """rsync with bounded retries; what failed attempts did is added to seen (their backups exist too).
    A hung guest share (rsync.ShareHung) is not transient: no retry adds stuck rsyncs on the guest.
    clocks: args were made with clock=True; the guest clock the run read is added to it."""
    stdin = "\0".join(files) if files is not None else None

    def attempt() -> rsync.Run:
        try:
            run = rsync.run_once(guest, args, input=stdin, marker=marker, io_timeout=opts.timeout, times=times,
                                 probe_path=probe_path or opts.control_path, clock=clocks is not None)
            if clocks is not None and run.clock is not None:
                clocks.append(run.clock)
            return run
        except rsync.RsyncFailure as exc:
            seen.append((exc.items, exc.new))
            raise

    return ssh.with_retries(attempt, opts.retry, on_retry)


def _transfer(
    root: Path, guest: Guest, opts: SyncOptions, run_id: str, files: list[str] | None,
    on_retry: Callable[[str, float], None] | None, program: rsyncflavour.Rsync, master: str | None = None,
    clocks: list[rsync.Clock] | None = None, skew_of: Callable[[], clock.Skew | None] = lambda: None,
) -> _Outcome:
    """clocks: read the guest's clock in the first rsync run (see rsync.argv's clock) and add it there.
    skew_of: the run's clock skew, asked for once the transfer is over (see coarse_limit)."""
    first = not syncstate.has_manifest(root, guest.name)
    earlier: list[tuple[list[rsync.Item], rsync.NewFiles]] = []  # what failed attempts did, in order
    full = first and files is None
    start = time.time()  # no guest copy of this run is older
    # while rsync still runs: read the nanosecond mtime of what it just sent (overlaps the transfer);
    # a full first sync lists every file (-ii), and the manifest learns them all (the old ones in seconds)
    times = None if opts.dry_run else rsync.HostTimes(
        str(root), unchanged=full, recent=coarse_limit(start, None) if full else None)
    mtimes = times.entries if times is not None else {}

    wants_clock = [clocks is not None]  # only the first run

    def argv(extra: list[str], backup: bool = True, clock: bool = False) -> list[str]:
        return rsync.argv(guest, str(root), backup_dir=run_id, excludes=opts.excludes, extra=extra,
                          control_path=opts.control_path, exclude_from=_ignore_file(root), backup=backup,
                          io_timeout=opts.timeout, marker=run_id, program=program, master=master, clock=clock)

    def send(extra: list[str], only: list[str] | None, backup: bool = True) -> rsync.Run:
        clock, wants_clock[0] = wants_clock[0], False
        return _run(guest, argv(extra, backup, clock), only, opts, on_retry, earlier, times, marker=run_id,
                    probe_path=master,  # served once rsync's ssh is in; before that, ssh connects itself
                    clocks=clocks if clock else None)

    extra = _base_extra(opts, files, first)
    try:
        if full and not opts.dry_run and not opts.delete:
            done = _first_send(send, extra, str(root) + os.sep)
        else:
            run = send(extra, files)
            done = [(run.items, run.new)]
    except rsync.RsyncFailure:
        # What the failed run did send is on the guest now: the manifest must know it, or the next host
        # edit of such a file would be judged a guest change (a false conflict, with a full backup).
        if not opts.dry_run and earlier:
            sent = [([i for i in items if i.sent or i.deleted], new) for items, new in earlier]
            if times is not None:
                times.refine(None, [new for _, new in sent])  # no skew to trust: every file in nanoseconds
            _update_manifest(root, guest, syncstate.load_manifest(root, guest.name), sent, False, mtimes)
        raise
    parts = earlier + done
    out = _Outcome()
    for items_, new_ in parts:
        out.items += items_
        out.new.add(new_)
    items = out.items
    replaced = [i for i in items if (i.sent and not i.new) or (i.deleted and not i.path.endswith("/"))]
    retyped = [i for i in items if i.new and not i.is_file and not i.deleted]
    if (not replaced and not retyped and not out.new and not any(i.sent for i in items)
            and not (first and items)):
        return out  # the no-change path: nothing else to ask the guest, nothing to record
    manifest = syncstate.load_manifest(root, guest.name)
    # A file the host turned into a symlink or a folder: rsync lists it as new, yet it replaced (and kept)
    # the guest's file at that path, which may hold a guest edit: judge it like any replaced file.
    replaced += [i for i in retyped if i.path.rstrip("/") in manifest]
    if replaced:
        # Dry run: nothing moved, so look at the guest's live copies; real run: at the kept copies.
        folder = guest.path if opts.dry_run else _backup_abs(guest, run_id)
        found, kept = conflicts.judge(guest, folder, replaced, manifest, dry_run=opts.dry_run,
                                      control_path=opts.control_path)
        out.conflicts += found
        out.kept_backups = kept
    if not opts.dry_run:
        if times is not None and full:
            # What the guest's clock says: a guest behind the host stamps its edits earlier, so more files need
            # their ns mtime; unknown (no clock read), all of them.
            skew = skew_of()
            times.refine(None if skew is None else coarse_limit(start, skew), [new for _, new in parts])
        _update_manifest(root, guest, manifest, parts, full, mtimes)
    return out


def coarse_limit(start: float, skew: clock.Skew | None) -> int:
    """The first second whose files a full first sync remembers in nanoseconds; older ones keep rsync's second.

    What the manifest must tell apart is our copy and a guest-side edit of the same size. An edit is stamped
    with the guest's clock when it is made, after our copy arrived: no earlier than `start` plus the skew. A
    file whose host mtime second ended before that cannot share its second with such an edit, so its lstat
    (a third of devenv's own work in a 100,000-file first sync) would tell nothing more; a guest filesystem
    without nanoseconds is compared in seconds anyway (conflicts.same_copy). A guest ahead of the host may be
    set back later, so only a guest behind widens the window; COARSE_MARGIN covers clock steps and the
    skew's jitter. Not covered: a guest tool setting, by hand, that very second on a same-size edit (touch -d).
    skew None: the run has not read the guest's clock yet (taken as 0 while rsync runs, then HostTimes.refine)."""
    behind = min(skew.seconds, 0.0) - skew.uncertainty if skew is not None else 0.0
    return math.floor(start + behind - COARSE_MARGIN)


def _first_send(send: Callable[..., rsync.Run], extra: list[str], base: str,
                ) -> list[tuple[list[rsync.Item], rsync.NewFiles]]:
    """First sync: --backup costs ~25% on a tree of new files (measured), so send first only what the
    guest lacks (--ignore-existing: nothing is replaced, so nothing needs keeping), then the files it
    already has, with the usual backup. Usually the guest folder is empty and that second run is skipped."""
    run = send([*extra, "--ignore-existing", "--info=skip1"], None, backup=False)
    if not run.existing:
        return [(run.items, run.new)]
    known = all(os.path.lexists(base + p) for p in run.existing)  # else a name we misread: send all
    more = send([*extra, "--from0", "--files-from=-"] if known else extra, run.existing if known else None)
    return [(run.items, run.new), (more.items, more.new)]


def _update_manifest(
    root: Path, guest: Guest, manifest: syncstate.Manifest, parts: list[tuple[list[rsync.Item], rsync.NewFiles]],
    full: bool, entries: dict[str, list[int]],
) -> None:
    """parts: each run's items and new files, in the order they ran. full: a first sync of the whole tree
    (-ii: its unchanged files were listed too), so `entries` (rsync.HostTimes) has every file listed."""
    if full and not manifest and len(parts) == 1:
        # One run into an empty manifest, each path listed once: the manifest is its new files and entries,
        # saved from their lists as they are (no object per file)
        items, new = parts[0]
        for item in items:
            if not item.is_file and (item.deleted or item.new):
                entries.pop(item.path.rstrip("/"), None)
        syncstate.save_lists(root, guest.name, new.paths, new.sizes, new.seconds, new.nanos, entries)
        return
    base = str(root) + os.sep
    get = entries.get
    for items, new in parts:
        for item in items:
            if item.is_file:
                if item.sent or full:
                    entry = get(item.path)
                    manifest[item.path] = entry or [item.size, _mtime_ns(base + item.path, item.size, item.mtime)]
            elif item.deleted or item.new:  # gone, or now a symlink or folder
                manifest.pop(item.path.rstrip("/"), None)
        for i, path in enumerate(new.paths):
            ns = new.nanos.get(i)
            if ns is None:  # kept in whole seconds (coarse_limit), or never read (no HostTimes)
                ns = new.seconds[i] * 10**9 if full else _mtime_ns(base + path, new.sizes[i], new.seconds[i])
            manifest[path] = [new.sizes[i], ns]
    syncstate.save_manifest(root, guest.name, manifest)


def _mtime_ns(path: str, size: int, mtime: int) -> int:
    """The nanosecond mtime rsync gave the guest copy, when rsync.HostTimes did not read it (a dry run)."""
    try:
        st = os.lstat(path)
    except OSError:
        return mtime * 10**9
    if st.st_size == size and st.st_mtime_ns // 10**9 == mtime:
        return st.st_mtime_ns
    return mtime * 10**9



def _verify(
    root: Path, guest: Guest, opts: SyncOptions, run_id: str, out: _Outcome,
    on_retry: Callable[[str, float], None] | None, program: rsyncflavour.Rsync,
) -> list[str]:
    """A --checksum pass: finds what the size+mtime check misses (same size, restored mtime)."""
    check = rsync.argv(guest, str(root), backup_dir=run_id, excludes=opts.excludes,
                       exclude_from=_ignore_file(root), extra=["--checksum", "--dry-run"],
                       control_path=opts.control_path, io_timeout=opts.timeout, marker=run_id, program=program)
    checked = _run(guest, check, None, opts, on_retry, [], marker=run_id)
    differing = [*checked.new.paths, *(i.path for i in checked.items if i.sent)]
    if differing and not opts.dry_run:
        # Send the host's content; the guest's copy is kept in the backup (we cannot know which is newer).
        fix = rsync.argv(guest, str(root), backup_dir=run_id, excludes=opts.excludes,
                         extra=["--checksum", "--from0", "--files-from=-"], control_path=opts.control_path,
                         io_timeout=opts.timeout, marker=run_id, program=program)
        _run(guest, fix, differing, opts, on_retry, [], marker=run_id)
        folder = _backup_abs(guest, run_id)
        out.conflicts.extend(ConflictItem(p, "same size and time but different content (--verify); "
                                             "host copy sent", f"{folder}/{p}") for p in differing)
        out.kept_backups = True
    return differing


def _backup_abs(guest: Guest, run_id: str) -> str:
    return f"{guest.path.rstrip('/')}/{excludes.BACKUP_ROOT}/{run_id}"


def _ignore_file(root: Path) -> str | None:
    path = excludes.ignore_file(root)
    return str(path) if path else None


def _notes(root: Path) -> list[str]:
    """pbr computes the version from git: a guest tree without .git needs PBR_VERSION set."""
    if (root / ".git").exists():
        return []
    for name in ("setup.py", "setup.cfg"):
        try:
            if "pbr" in (root / name).read_text(encoding="utf-8", errors="replace"):
                return ["this pbr project has no .git on the host, so the guest has none either: "
                        "set PBR_VERSION=<version> in the guest before installing it"]
        except OSError:
            continue
    return []


def _record(root: Path, guest: Guest, result: SyncResult, fresh_skew: bool) -> None:
    previous = syncstate.last_sync(root, guest.name) or {}
    record: dict[str, Any] = {
        "time": time.time(),
        "guest": guest.name,
        "files": result.changed,
        "created": len(result.created), "updated": len(result.updated), "deleted": len(result.deleted),
        "conflicts": [{"path": c.path, "reason": c.reason, "backup": c.backup} for c in result.conflicts],
        "backup_dir": result.backup_dir,
        "skew": previous.get("skew"),
        "skew_measured_at": previous.get("skew_measured_at"),
    }
    if fresh_skew and result.skew is not None:
        record["skew"] = [result.skew.seconds, result.skew.uncertainty]
        record["skew_measured_at"] = time.time()
    syncstate.save_last(root, guest.name, record)
