"""The fixes for a host/guest owner mismatch, with the real numbers filled in.

When the developer's UID/GID on the host (1000 on Linux, 501 on macOS) differs from the guest user's
(devstack's `stack`), files on a share look foreign to the guest: locks built on hard links never acquire
(protected_hardlinks → EPERM), new files get the wrong owner and git calls the repo "dubious". Each fix
below removes the mismatch at a different layer; `share check` and `sync` print them as they are.
"""

from __future__ import annotations

import shlex

from devenv.findings import Finding


def raw_mount_point(guest_path: str) -> str:
    """Where the unmapped share goes when bindfs presents the mapped view at guest_path."""
    return guest_path.rstrip("/") + "-raw"


def bindfs_map(host_uid: int, host_gid: int, guest_uid: int, guest_gid: int) -> str:
    # bindfs: files owned by HOST appear owned by GUEST; files GUEST creates are stored as HOST.
    return f"--map={host_uid}/{guest_uid}:@{host_gid}/@{guest_gid}"


def bindfs_command(
    host_uid: int, host_gid: int, guest_uid: int, guest_gid: int, *, source: str, target: str
) -> list[str]:
    return ["bindfs", bindfs_map(host_uid, host_gid, guest_uid, guest_gid), source, target]


def ruby_str(text: str) -> str:
    """A single-quoted Ruby literal (no #{} interpolation); only \\ and ' need escaping."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def vagrant_nfs_block(
    host_uid: int, host_gid: int, guest_uid: int, guest_gid: int, *, host_path: str, guest_path: str
) -> str:
    raw = raw_mount_point(guest_path)
    mapping = bindfs_map(host_uid, host_gid, guest_uid, guest_gid).removeprefix("--map=")
    return (
        f"config.vm.synced_folder {ruby_str(host_path)}, {ruby_str(raw)}, type: 'nfs', nfs_udp: false,\n"
        f"  map_uid: {host_uid}, map_gid: {host_gid}\n"
        f"config.bindfs.bind_folder {ruby_str(raw)}, {ruby_str(guest_path)}, map: {ruby_str(mapping)},\n"
        # nil drops vagrant-bindfs' default force_user/force_group/perms, which would override --map
        "  force_user: nil, force_group: nil, perms: nil"
    )


def fixes(
    host_uid: int,
    host_gid: int,
    guest_uid: int,
    guest_gid: int,
    *,
    host_path: str,
    guest_path: str,
    guest_user: str,
) -> list[str]:
    """The fix lines, best first. Paths are shell-quoted so they can be pasted as they are."""
    raw = raw_mount_point(guest_path)
    argv = bindfs_command(host_uid, host_gid, guest_uid, guest_gid, source=raw, target=guest_path)
    bindfs = shlex.join(argv)
    user = shlex.quote(guest_user)
    return [
        f"in the guest, mount the share at {shlex.quote(raw)} and present it mapped: {bindfs}",
        "Vagrant (NFS + vagrant-bindfs plugin) in the Vagrantfile:\n"
        + vagrant_nfs_block(
            host_uid, host_gid, guest_uid, guest_gid, host_path=host_path, guest_path=guest_path
        ),
        f"vboxsf/cifs shares: mount with uid={guest_uid},gid={guest_gid} (the guest user owns every file)",
        f"or give the guest user the host's ids before devstack runs: usermod -u {host_uid} {user} && "
        f"groupmod -g {host_gid} {user}  (new guest: groupadd -g {host_gid} {user} && "
        f"useradd -m -u {host_uid} -g {host_gid} {user})",
        "or keep the code on guest-local disk and sync it instead of sharing: devenv sync",
    ]


def mismatch_finding(
    host_uid: int,
    host_gid: int,
    guest_uid: int,
    guest_gid: int,
    *,
    host_path: str,
    guest_path: str,
    guest_user: str,
    check: str = "owner",
    errno: str | None = None,
    message: str | None = None,
) -> Finding:
    """A `fail` finding for the mismatch, with every fix joined into `fix`."""
    seen = message or (
        f"files in {guest_path} are owned by {host_uid}:{host_gid}; "
        f"the guest user {guest_user} is {guest_uid}:{guest_gid}"
    )
    return Finding(
        check=check,
        status="fail",
        message=seen,
        meaning=(
            "the guest's own files look foreign to it: hard-link locks never acquire "
            "(protected_hardlinks), git reports dubious ownership, new files get the wrong owner"
        ),
        fix="\n".join(
            fixes(
                host_uid,
                host_gid,
                guest_uid,
                guest_gid,
                host_path=host_path,
                guest_path=guest_path,
                guest_user=guest_user,
            )
        ),
        errno=errno,
    )
