"""`devenv share setup`: the configuration that makes a share work for development, with the real ids.

Modes: nfs (Vagrantfile: NFS with map_uid/map_gid + vagrant-bindfs --map), rsync (Vagrantfile: rsync
synced folder with devenv's excludes), bindfs (the command for the guest), fstab (a bindfs line that waits
for the network and never blocks the boot). Rendered from templates/share/*.j2. With --write the text goes
into a marked block of FILE (replaced on the next run, everything else kept), written atomically after a
backup; a second run with the same input changes nothing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import fsutil, paths
from devenv.errors import UsageError
from devenv.host import excludes, uidfix

if TYPE_CHECKING:
    from devenv.host.guests import Guest

MODES = ("nfs", "rsync", "bindfs", "fstab")
TEMPLATES = {"nfs": "vagrant_nfs.rb.j2", "rsync": "vagrant_rsync.rb.j2", "bindfs": "bindfs.sh.j2",
             "fstab": "fstab.j2"}
# _netdev: wait for the network; nofail: boot even without it; automount: mount on first access, so
# nothing starts writing into the empty mount point; mount-timeout: a dead server fails in 30 s.
FSTAB_OPTIONS = ("_netdev", "nofail", "x-systemd.automount", "x-systemd.mount-timeout=30")
BEGIN, END = "# >>> devenv share setup ({mode}) >>>", "# <<< devenv share setup <<<"


@dataclass(frozen=True)
class Ids:
    host_uid: int
    host_gid: int
    guest_uid: int | None
    guest_gid: int | None
    guest_user: str
    guest_group: str


@dataclass(frozen=True)
class Layout:
    host_path: str  # the project on the host
    guest_path: str  # where the guest user works
    raw_path: str  # where the unmapped share is mounted in the guest (nfs, bindfs, fstab)


def render(mode: str, layout: Layout, ids: Ids) -> str:
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}", f"use one of: {', '.join(MODES)}")
    for value in (layout.host_path, layout.guest_path, layout.raw_path):
        if "\n" in value or "\0" in value:
            raise UsageError(f"a path with a line break cannot go into a config file: {value!r}")
    needs_ids = mode != "rsync"
    if needs_ids and (ids.guest_uid is None or ids.guest_gid is None):
        raise UsageError(f"--mode {mode} needs the guest user's uid and gid",
                         f"pass --guest-uid/--guest-gid (in the guest: id {ids.guest_user}), or --guest NAME")
    return _env().get_template(TEMPLATES[mode]).render(**_context(layout, ids))


def _context(layout: Layout, ids: Ids) -> dict[str, object]:
    guest_uid = ids.guest_uid if ids.guest_uid is not None else -1
    guest_gid = ids.guest_gid if ids.guest_gid is not None else -1
    argv = uidfix.bindfs_command(ids.host_uid, ids.host_gid, guest_uid, guest_gid,
                                 source=layout.raw_path, target=layout.guest_path)
    mapping = uidfix.bindfs_map(ids.host_uid, ids.host_gid, guest_uid, guest_gid).removeprefix("--map=")
    return {
        "host_path": layout.host_path, "guest_path": layout.guest_path, "raw_path": layout.raw_path,
        "host_uid": ids.host_uid, "host_gid": ids.host_gid, "guest_uid": guest_uid, "guest_gid": guest_gid,
        "guest_user": ids.guest_user, "guest_group": ids.guest_group, "mapping": mapping,
        "bindfs_command": shlex.join(argv), "excludes": excludes.DEFAULT,
        "fstab_options": ",".join([f"map={mapping}", *FSTAB_OPTIONS,
                                   f"x-systemd.requires-mounts-for={fstab_escape(layout.raw_path)}"]),
    }


def fstab_escape(text: str) -> str:
    """fstab fields are split on blanks; mount(8) reads octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\\#" else c for c in text)


def _env() -> Any:  # a jinja2.Environment; jinja2 is imported only when rendering
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(ruby=uidfix.ruby_str, sh=shlex.quote, fstab=fstab_escape)
    return env


def template_dir() -> Path:
    return paths.templates() / "share"


def merge_block(existing: str, mode: str, text: str) -> str:
    """`existing` with devenv's block replaced by (or, if absent, followed by) the new one."""
    block = f"{BEGIN.format(mode=mode)}\n{text.rstrip()}\n{END}\n"
    lines = existing.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("# >>> devenv share setup (")), None)
    if start is not None:
        stop = next((i for i in range(start, len(lines)) if lines[i].rstrip("\n") == END), None)
        if stop is None:
            raise UsageError("devenv's block in the file has no end marker", f"restore the line: {END}")
        return "".join(lines[:start]) + block + "".join(lines[stop + 1:])
    sep = "" if not existing or existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
    return existing + sep + block


@dataclass(frozen=True)
class WriteResult:
    path: Path
    action: str  # 'created' | 'updated' | 'identical'
    backup: Path | None


def write(path: Path, mode: str, text: str) -> WriteResult:
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    new = merge_block(existing or "", mode, text)
    if new == existing:
        return WriteResult(path, "identical", None)
    saved = fsutil.backup(path) if existing is not None else None
    fsutil.atomic_write(path, new)
    return WriteResult(path, "updated" if existing is not None else "created", saved)


@dataclass(frozen=True)
class Given:
    """What the user passed; None = find it out (PATH's owner, the guest, devstack's defaults)."""

    guest_path: str | None = None
    raw_path: str | None = None
    host_uid: int | None = None
    host_gid: int | None = None
    guest_user: str | None = None
    guest_uid: int | None = None
    guest_gid: int | None = None


def generate(host: Path, mode: str, given: Given, guest: Guest | None = None) -> str:
    """The configuration text for sharing `host` with the guest, defaults filled in."""
    if not host.is_dir():
        raise UsageError(f"{host} is not a folder", "give the project folder on the host")
    st = host.stat()
    uid, gid = given.guest_uid, given.guest_gid
    user = group = given.guest_user or "stack"  # devstack's user
    if guest is not None and mode != "rsync" and (uid is None or gid is None):
        known_uid, known_gid, user, group = guest_ids(guest, given.guest_user)
        uid = known_uid if uid is None else uid
        gid = known_gid if gid is None else gid
    target = given.guest_path or (guest.path if guest else f"/opt/stack/{host.name}")
    layout = Layout(str(host), target, given.raw_path or uidfix.raw_mount_point(target))
    ids = Ids(st.st_uid if given.host_uid is None else given.host_uid,
              st.st_gid if given.host_gid is None else given.host_gid, uid, gid, user, group)
    return render(mode, layout, ids)


def guest_ids(guest: Guest, user: str | None) -> tuple[int, int, str, str]:
    """uid, gid, user and group names of `user` (default: the ssh user) in the guest, from `id`."""
    from devenv.errors import GuestError
    from devenv.host import ssh

    res = ssh.run(guest, ["id", user] if user else ["id"], timeout=30)
    m = re.search(r"uid=(\d+)\(([^)]*)\)\s+gid=(\d+)\(([^)]*)\)", res.stdout)
    if not res.ok or not m:
        raise GuestError(f"cannot read the ids of {user or 'the ssh user'} in {guest.describe()}: "
                         f"{res.stderr.strip() or res.stdout.strip()}", "create the user first, or pass --guest-uid")
    return int(m.group(1)), int(m.group(3)), m.group(2), m.group(4)
