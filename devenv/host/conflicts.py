"""Conflicts: was the guest copy that a sync replaced or deleted ours, or edited on the guest?

Each real sync moves every guest file it overwrites or deletes into its backup folder. Those kept copies
are compared with the manifest (what we last sent: size and nanosecond mtime). Equal: the copy was ours,
its backup is noise and is removed. Different, or never sent by us: a guest-side change, so the copy
stays in the backup folder and is reported. One ssh call to look, one to prune, and only when a sync
replaced something.
"""

from __future__ import annotations

from dataclasses import dataclass

from devenv.host import rsync, ssh, syncstate
from devenv.host.guests import Guest


@dataclass(frozen=True)
class ConflictItem:
    path: str
    reason: str
    backup: str | None  # where the guest's copy was kept (a path on the guest)


def judge(
    guest: Guest, folder: str, replaced: list[rsync.Item], manifest: syncstate.Manifest, *,
    dry_run: bool, control_path: str | None,
) -> tuple[list[ConflictItem], bool]:
    """Tell our own earlier sends from guest-side edits; drop backups of the former, report the latter.

    `folder` holds the guest copies to look at (the run's backup folder; the live tree for a dry run).
    Returns the conflicts and whether any backup was kept.
    """
    names = [i.path.rstrip("/") for i in replaced]
    seen = remote_stat(guest, folder, names, control_path)
    found: list[ConflictItem] = []
    ours: list[str] = []
    for item, name in zip(replaced, names, strict=True):
        stat = seen.get(name)
        if stat is None:
            continue
        if same_copy(manifest.get(name), stat):
            if not item.deleted:
                ours.append(name)  # our own earlier copy: its backup is noise (deletions stay kept)
            continue
        reason = "changed on the guest since the last sync" if name in manifest else "not sent by devenv"
        reason += ", deleted (--delete)" if item.deleted else ", replaced by the host's copy"
        found.append(ConflictItem(name, reason, None if dry_run else f"{folder}/{name}"))
    if ours and not dry_run:
        prune_backups(guest, folder, ours, control_path)
    return found, not dry_run and len(ours) < len(names)


def same_copy(entry: list[int] | None, seen: tuple[int, int]) -> bool:
    """Is the guest's copy (size, mtime ns) the one we sent? Nanoseconds count where both sides have them
    (a same-size guest edit within the same second is still seen); coarse filesystems compare seconds."""
    if entry is None or entry[0] != seen[0]:
        return False
    sent, got = entry[1], seen[1]
    if sent % 10**9 and got % 10**9:
        return sent == got
    return sent // 10**9 == got // 10**9


def remote_stat(
    guest: Guest, folder: str, names: list[str], control_path: str | None = None
) -> dict[str, tuple[int, int]]:
    """(size, mtime ns) of each name under folder on the guest; missing names are left out."""
    # %Y: whole seconds everywhere; %y: the same time with nanoseconds (where the filesystem has them)
    script = 'cd -- "$1" && xargs -0 -r stat --printf "%s %Y %y\\t%n\\0" -- 2>/dev/null; exit 0'
    res = ssh.run(guest, ["sh", "-c", script, "sh", folder], input="\0".join(names), timeout=120,
                  control_path=control_path, errors="surrogateescape")  # names as rsync gave them
    found = {}
    for entry in res.stdout.split("\0"):
        head, _, name = entry.partition("\t")
        parts = head.split(" ")
        if name and len(parts) >= 3 and parts[0].isdigit() and parts[1].lstrip("-").isdigit():
            frac = parts[3].partition(".")[2] if len(parts) > 3 else ""
            found[name] = (int(parts[0]), int(parts[1]) * 10**9 + int((frac + "000000000")[:9] or 0))
    return found


def prune_backups(guest: Guest, folder: str, names: list[str], control_path: str | None = None) -> None:
    script = ('cd -- "$1" && xargs -0 -r rm -f -- && find . -mindepth 1 -depth -type d -empty -delete; '
              'rmdir -- "$1" 2>/dev/null; exit 0')
    ssh.run(guest, ["sh", "-c", script, "sh", folder], input="\0".join(names), timeout=120,
            control_path=control_path, errors="surrogateescape")
