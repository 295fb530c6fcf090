"""Commands: share check, share setup, wait-mount — is the host<->guest share fit for development?"""

from __future__ import annotations

import json
from pathlib import Path

import click

_timeout = click.option("--timeout", type=float, default=3.0, show_default=True, metavar="SECONDS",
                        help="Deadline for each probe; a probe that takes longer is reported as hung.")


def _project_root(project: str | None) -> Path:
    from devenv import project as proj

    return Path(project).resolve() if project else proj.find_root(Path.cwd())


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
    failed or hung, 1 otherwise; each problem comes with its fix (e.g. the bindfs --map line).
    """
    from devenv.host import guests, share_check

    guest = guests.load(_project_root(project), guest_name) if guest_name else None
    result = share_check.check(path, host_path=host_path, guest=guest, timeout=timeout)
    if json_mode:
        click.echo(json.dumps([f.to_json() for f in result.findings], indent=2))
    else:
        for line in share_check.report_lines(result):
            click.echo(line)
    click.get_current_context().exit(1 if result.failed else 0)


@click.command("wait-mount")
@click.argument("path")
@click.option("--timeout", type=float, default=60.0, show_default=True, metavar="SECONDS",
              help="Give up after this long.")
@click.option("--interval", type=float, default=0.5, show_default=True, metavar="SECONDS",
              help="Time between looks.")
def wait_mount(path: str, timeout: float, interval: float) -> None:
    """Wait, with a bound, until PATH is a live mount (for boot scripts and services).

    Live means: a mount point in /proc/self/mountinfo, a device other than its parent's, and statvfs
    answering in a child process within a deadline. Exit 0 mounted, 1 not mounted in time, 2 hung.
    """
    from devenv.host import mounts

    state = mounts.wait(path, timeout, interval)
    click.echo(f"{state.path}: {state.state} after {state.waited:.1f} s ({state.detail})",
               err=state.state != mounts.MOUNTED)
    click.get_current_context().exit(state.exit_code)


COMMANDS: list[click.Command] = [share, wait_mount]
