"""Commands: share check, share setup, wait-mount — is the host<->guest share fit for development?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from devenv.cli.options import Seconds

_timeout = click.option("--timeout", type=Seconds(), default=3.0, show_default=True, metavar="SECONDS",
                        help="Deadline for each probe; a probe that takes longer is reported as hung.")


def _project_root(project: str | None) -> Path:
    from devenv import project as proj

    return proj.resolve_root(project, any_folder=True)


@click.group()
def share() -> None:
    """Check a host<->guest share, or print the configuration that sets one up right."""


@share.command("check")
@click.argument("path")
@click.option("--host-path", type=click.Path(path_type=Path), metavar="DIR",
              help="The same folder seen from the host side: enables the stale-cache and inotify probes.")
@click.option("--guest", "guest_name", metavar="NAME",
              help="Run the probes in this guest (over ssh); PATH is then the share's path in the guest.")
@click.option("--project", metavar="DIR", help="The project whose guests --guest names (default: the current one).")
@_timeout
@click.option("--json", "json_mode", is_flag=True, help="Print the findings as a JSON list.")
def check(path: str, host_path: Path | None, guest_name: str | None, project: str | None, timeout: float,
          json_mode: bool) -> None:
    """Probe the share at PATH for what breaks development on shares.

    Hard links and link-based locks (UID/GID mismatch), owner and modes of new files, symlinks, case,
    mtime skew and granularity, locks across processes, small-file cost, git's ownership check, sshfs
    options, and (with --host-path) stale caches and inotify. Each probe runs in a child with a deadline,
    in a scratch folder it removes; a hung share is reported within --timeout. Exit 0 when nothing
    failed or hung, 10 when a probe failed, 12 when the share hangs; each problem comes with its fix (e.g. the
    bindfs --map line).
    """
    from devenv.host import guests, share_check

    guest = guests.load(_project_root(project), guest_name) if guest_name else None
    result = share_check.check(path, host_path=host_path, guest=guest, timeout=timeout)
    if json_mode:
        click.echo(json.dumps([f.to_json() for f in result.findings], indent=2))
    else:
        for line in share_check.report_lines(result):
            click.echo(line)
    from devenv import errors

    hung = any(f.status == "hung" for f in result.findings)
    click.get_current_context().exit(errors.HUNG if hung else errors.UNHEALTHY if result.failed else 0)


@share.command("setup")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--mode", type=click.Choice(["nfs", "rsync", "bindfs", "fstab"]), required=True,
              help="nfs: Vagrantfile NFS + bindfs block; rsync: Vagrantfile rsync block; bindfs: the guest's "
                   "bindfs command; fstab: an /etc/fstab line for the mapped view.")
@click.option("--guest", "guest_name", metavar="NAME", help="Read the guest path and the guest user's ids from "
              "this guest (over ssh).")
@click.option("--project", metavar="DIR", help="The project whose guests --guest names (default: PATH's).")
@click.option("--guest-path", metavar="DIR", help="Where the code lives in the guest (default: the guest's "
              "path, else /opt/stack/NAME).")
@click.option("--raw-path", metavar="DIR", help="Where the unmapped share is mounted in the guest "
              "(default: GUEST_PATH-raw).")
@click.option("--host-uid", type=int, help="Owner of the files on the host (default: PATH's owner).")
@click.option("--host-gid", type=int, help="Group of the files on the host (default: PATH's group).")
@click.option("--guest-user", metavar="NAME", help="The user that runs the code in the guest (default: stack, "
              "or the ssh user with --guest).")
@click.option("--guest-uid", type=int, help="That user's uid (default: asked from the guest with --guest).")
@click.option("--guest-gid", type=int, help="That user's gid (default: asked from the guest with --guest).")
@click.option("--write", "write_to", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Put the configuration into FILE (a marked block, replaced on the next run) instead of "
                   "printing it; the old file is backed up first.")
def setup(path: Path | None, mode: str, guest_name: str | None, project: str | None, guest_path: str | None,
          raw_path: str | None, host_uid: int | None, host_gid: int | None, guest_user: str | None,
          guest_uid: int | None, guest_gid: int | None, write_to: Path | None) -> None:
    """Print or --write the share configuration: Vagrantfile block, bindfs command or fstab line.

    PATH is the project on the host (default: the current folder). Fills in the real UIDs/GIDs so the
    guest user owns what it sees: a Vagrantfile synced-folder block (NFS with map_uid/map_gid plus bindfs
    --map, or rsync with devenv's excludes), the bindfs command, or an /etc/fstab line with
    _netdev,nofail,x-systemd.automount,x-systemd.mount-timeout=30.
    """
    from devenv.host import guests, share_setup

    host = (path or Path.cwd()).resolve()
    guest = guests.load(_project_root(project) if project else host, guest_name) if guest_name else None
    given = share_setup.Given(guest_path=guest_path, raw_path=raw_path, host_uid=host_uid, host_gid=host_gid,
                              guest_user=guest_user, guest_uid=guest_uid, guest_gid=guest_gid)
    text = share_setup.generate(host, mode, given, guest)
    if write_to is None:
        click.echo(text, nl=False)
        return
    result = share_setup.write(write_to, mode, text)
    saved = f" (previous version saved as {result.backup})" if result.backup else ""
    click.echo(f"{result.path}: {result.action}{saved}")


@click.command("wait-mount")
@click.argument("path")
@click.option("--timeout", type=Seconds(), default=60.0, show_default=True, metavar="SECONDS",
              help="Give up after this long.")
@click.option("--interval", type=Seconds(), default=0.5, show_default=True, metavar="SECONDS",
              help="Time between looks.")
def wait_mount(path: str, timeout: float, interval: float) -> None:
    """Wait, with a bound, until PATH is a live mount (for boot scripts and services).

    Live means: a mount point in /proc/self/mountinfo, a device other than its parent's, and statvfs
    answering in a child process within a deadline. Exit 0 mounted, 11 not mounted in time, 12 hung.
    """
    from devenv.host import mounts

    state = mounts.wait(path, timeout, interval)
    click.echo(f"{state.path}: {state.state} after {state.waited:.1f} s ({state.detail})",
               err=state.state != mounts.MOUNTED)
    click.get_current_context().exit(state.exit_code)


COMMANDS: list[click.Command] = [share, wait_mount]
