"""What `devenv sync` tells the user: counts, every conflict with where the guest copy was kept,
clock skew, and the watch loop's running log and final summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from devenv.host import clock
from devenv.host.guests import Guest
from devenv.host.sync import SyncOptions, SyncResult, sync
from devenv.report import Reporter

MAX_LISTED = 20


def run_sync(root: Path, guest: Guest, opts: SyncOptions, rep: Reporter) -> SyncResult:
    what = "would send" if opts.dry_run else "sent"
    rep.line(f"devenv sync {root} -> {guest.describe()}" + (" (dry run)" if opts.dry_run else ""))
    with rep.phase("rsync") as info:
        result = sync(root, guest, opts, on_retry=lambda msg, delay: rep.warn(f"{msg}; retrying in {delay:g} s"))
        info["result"] = (f"{what} {len(result.created)} new, {len(result.updated)} changed, "
                          f"{'would delete' if opts.dry_run else 'deleted'} {len(result.deleted)}")
    report(result, rep, opts)
    return result


def report(result: SyncResult, rep: Reporter, opts: SyncOptions) -> None:
    rep.detail(f"rsync: {result.rsync}")
    for label, paths in (("new", result.created), ("changed", result.updated), ("deleted", result.deleted)):
        for p in paths[:MAX_LISTED]:
            rep.detail(f"{label}: {p}")
    for c in result.conflicts:
        kept = f"; the guest's copy is kept in {c.backup}" if c.backup else ""
        rep.warn(f"conflict: {c.path}: {c.reason}{kept}")
    if result.conflicts and opts.dry_run:
        rep.line("  a real run keeps every guest copy it replaces in <guest folder>/.devenv-backup/")
    if result.differing:
        rep.line(f"  verify         {len(result.differing)} file(s) differed by content only")
    elif opts.verify:
        rep.line("  verify         contents match (checksums)")
    if result.skew is not None and result.skew.significant:
        rep.warn(f"{result.skew.describe()}: {clock.FIX} (devenv sync does not depend on it; make and "
                 "mtime-based tools do)")
    for note in result.notes:
        rep.line(f"  note: {note}")
    rep.data["sync"] = result.to_json()


def run_watch(root: Path, guest: Guest, opts: SyncOptions, rep: Reporter,
              recheck: Callable[[], None] | None = None) -> None:
    run_watch_all([(root, guest)], opts, rep, recheck)


def run_watch_all(targets: list[tuple[Path, Guest]], opts: SyncOptions, rep: Reporter,
                  recheck: Callable[[], None] | None = None) -> None:
    """`sync --watch` (one target) and `sync --all --watch` (a workspace): a full sync of each, then every
    change as it is saved, through one file watch."""
    from devenv.host import watch

    def flushed(result: SyncResult) -> None:
        sent = len(result.created) + len(result.updated)
        rep.line(f"  sent {sent}, deleted {len(result.deleted)} in {result.seconds:.2f}s"
                 + (f": {', '.join((*result.created, *result.updated)[:5])}" if sent else ""))
        for c in result.conflicts:
            rep.warn(f"conflict: {c.path}: {c.reason}; the guest's copy is kept in {c.backup}")

    def waiting(message: str, delay: float, pending: int) -> None:
        rep.warn(f"{message}; {pending} change(s) pending, trying again in {delay:.0f} s")

    def ready() -> None:
        for root, guest in targets:  # start from synced trees, then follow the changes
            run_sync(root, guest, dataclasses.replace(opts, excludes=(*guest.excludes, *opts.excludes)), rep)
        rep.line("watching for changes (Ctrl-C stops)")

    summary = watch.watch_all(targets, opts, on_flush=flushed, on_wait=waiting, on_ready=ready,
                              on_tick=_every(recheck) if recheck else None)
    rep.line(f"stopped after {summary.seconds:.0f}s: {summary.flushes} update(s), {summary.sent} file(s) sent, "
             f"{summary.deleted} deleted, {summary.conflicts} conflict(s)")
    if summary.kept_on_guest:
        rep.line(f"  {len(summary.kept_on_guest)} file(s) deleted on the host are still on the guest "
                 "(run with --delete to remove them there)")
    if summary.pending:
        again = f"devenv sync {targets[0][1].name}" if len(targets) == 1 else "devenv sync --all"
        rep.warn(f"{len(summary.pending)} change(s) were not sent (guest unreachable); run: {again}")
    rep.data["watch"] = summary.__dict__


def recheck_interval() -> float:
    """How often a running watch reads the guest's local.conf again (DEVENV_RECLONE_RECHECK seconds)."""
    import os

    try:
        return max(0.5, float(os.environ.get("DEVENV_RECLONE_RECHECK", "60")))
    except ValueError:
        return 60.0


def _every(fn: Callable[[], None]) -> Callable[[], None]:
    """fn at most once per recheck_interval(): a watch runs for hours, and local.conf is edited meanwhile."""
    import time

    interval, last = recheck_interval(), [time.monotonic()]

    def tick() -> None:
        if time.monotonic() - last[0] >= interval:
            last[0] = time.monotonic()
            fn()

    return tick
