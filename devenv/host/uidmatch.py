"""Do the host's and the guest's user ids agree where it matters?

Compared: the host user and the owner of the project tree (host side) with the guest user (`id` over
ssh) and with the owner the guest sees on its project folder (`stat` over ssh). What matters is the
last one: if the guest user does not own what it sees (a share without id mapping), locks, git and new
files break (see uidfix). Synced copies are written by the guest user, so they always match.
"""

from __future__ import annotations

import os
from pathlib import Path

from devenv.errors import DevenvError
from devenv.findings import Finding
from devenv.host import guestsetup, uidfix
from devenv.host.guests import Guest


def check(project_root: Path, guest: Guest) -> list[Finding]:
    """Findings for doctor and `guest add`: one for the guest's view, one comparing the host's ids."""
    check_id = f"guest.{guest.name}.uid"
    try:
        facts = guestsetup.probe(guest)
    except DevenvError as exc:
        return [Finding(check_id, "warn", f"cannot compare ids: {exc.message}", "", exc.hint or "")]
    st = Path(project_root).stat()
    host_uid, host_gid = os.getuid(), os.getgid()
    tree = (st.st_uid, st.st_gid)
    found = [_guest_view(guest, facts, tree, str(project_root))]
    if tree != (host_uid, host_gid):
        found.append(Finding(f"{check_id}.host", "warn",
                             f"the project tree is owned by {tree[0]}:{tree[1]}, you are {host_uid}:{host_gid}",
                             "files devenv writes on the host get your ids, not the tree owner's",
                             f"sudo chown -R {host_uid}:{host_gid} {project_root}"))
    return found


def _guest_view(guest: Guest, facts: guestsetup.Facts, tree: tuple[int, int], host_path: str) -> Finding:
    check_id = f"guest.{guest.name}.uid"
    ids = f"guest user {facts.user} is {facts.uid}:{facts.gid}; host tree owner is {tree[0]}:{tree[1]}"
    if facts.owner is None:
        return Finding(check_id, "warn", f"{guest.path} does not exist on the guest yet ({ids})",
                       "the first sync creates it owned by the guest user", f"devenv sync {guest.name}")
    if facts.owner == (facts.uid, facts.gid) or (facts.owner[0] == facts.uid and facts.uid == 0):
        same = tree == (facts.uid, facts.gid)
        how = "ids match" if same else "ids differ, but the guest user owns its copy (synced or mapped share)"
        return Finding(check_id, "ok", f"{ids}: {how}")
    seen_uid, seen_gid = facts.owner
    return uidfix.mismatch_finding(
        seen_uid, seen_gid, facts.uid, facts.gid,
        host_path=host_path, guest_path=facts.abs_path, guest_user=facts.user, check=check_id,
        message=(f"on the guest, {facts.abs_path} is owned by {seen_uid}:{seen_gid}, "
                 f"but the guest user {facts.user} is {facts.uid}:{facts.gid}"),
    )
