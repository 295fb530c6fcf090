"""Commands: guest add/list/remove, sync — the host<->guest side of devenv."""

from __future__ import annotations

from pathlib import Path

import click

from devenv.cli.options import Seconds, output_options, reporter

_project = click.option("--project", "project", metavar="PATH", type=click.Path(file_okay=False),
                        help="The project folder on the host (default: the project containing the cwd).")


def _root(project: str | None) -> Path:
    from devenv import project as proj

    return proj.resolve_root(project, any_folder=True)  # any folder can be synced, Python project or not


@click.group("guest")
def guest() -> None:
    """Guests (VMs, remote boxes) this project's code runs in, reached over ssh."""


@guest.command("add")
@click.argument("name")
@click.option("--ssh", "ssh_target", metavar="USER@HOST", help="Reach the guest with ssh (a Host alias works).")
@click.option("--vagrant", "vagrant_dir", metavar="DIR", is_flag=False, flag_value=".",
              help="Read the ssh settings from `vagrant ssh-config` in DIR (default: the cwd).")
@click.option("--machine", metavar="M", help="The Vagrant machine, for multi-machine Vagrantfiles.")
@click.option("--port", type=click.IntRange(1, 65535), help="ssh port.")
@click.option("--identity", metavar="FILE", help="Private key file for ssh (-i).")
@click.option("--path", "remote_path", required=True, metavar="REMOTE_DIR",
              help="The project folder on the guest (created if missing).")
@click.option("--ssh-config", metavar="FILE", help="An ssh config file to use instead of ~/.ssh/config.")
@click.option("--rsync-path", metavar="PROGRAM", help="The guest's rsync when it is not on its PATH.")
@click.option("--rsync", "host_rsync", metavar="PROGRAM",
              help="The host's rsync for this guest (a GNU rsync 3.1 or newer), checked and remembered.")
@click.option("--accept-new-host-key", is_flag=True,
              help="Trust the guest's host key if it was never seen (ssh StrictHostKeyChecking=accept-new).")
@_project
@output_options
def add(name, ssh_target, vagrant_dir, machine, port, identity, remote_path, ssh_config, rsync_path, host_rsync,
        accept_new_host_key, project, quiet, verbose, json_mode):
    """Add (or update) a guest after checking it: ssh, ids, python3, rsync, the project folder."""
    from devenv.host import guestsetup, uidmatch

    rep = reporter(quiet, verbose, json_mode)
    root = _root(project)
    draft = guestsetup.build_guest(name, ssh_target=ssh_target, vagrant_dir=vagrant_dir, machine=machine,
                                   port=port, identity=identity, path=remote_path, ssh_config=ssh_config,
                                   rsync_path=rsync_path, host_rsync=host_rsync)
    if accept_new_host_key:
        rep.line(f"accepting {draft.host}'s host key if it is new (StrictHostKeyChecking=accept-new); "
                 "a changed key is still refused")
    with rep.phase("connect") as info:
        added = guestsetup.add(root, draft, accept_new_host_key=accept_new_host_key)
        stored, facts = added.guest, added.facts
        info["result"] = f"{facts.user} ({facts.uid}:{facts.gid}) on {stored.host}"
    rep.line(f"  folder         {facts.abs_path} ({facts.path_state}, writable)")
    rep.line(f"  python3        {facts.python3 or 'MISSING'}")
    found = facts.guest_rsync
    rep.line(f"  rsync          {f'{found.path}: {found.describe()}' if found else 'MISSING'}")
    host = added.host_rsync
    rep.line(f"  host rsync     {f'{host.path}: {host.describe()}' if host else 'NOT USABLE'}"
             + (" (remembered for this guest)" if stored.host_rsync else ""))
    if added.host_problem is not None:
        rep.warn(f"devenv sync to this guest will stop until this is fixed: {added.host_problem.message}")
        rep.line(f"    fix: {added.host_problem.hint}")
    if not facts.rsync:
        rep.warn("rsync is not on the guest's PATH: devenv sync will fail until it is installed "
                 "(sudo apt-get install rsync) or --rsync-path is given")
    if not facts.python3:
        rep.warn("python3 is not on the guest's PATH: the project cannot run there")
    findings = uidmatch.check(root, stored)
    _print_findings(rep, findings)
    rep.line(f"guest {stored.name} saved for {root}")
    rep.data.update(guest=stored.__dict__, facts=facts.__dict__, findings=[f.to_json() for f in findings],
                    rsync={"guest": found.__dict__ if found else None, "host": host.__dict__ if host else None,
                           "host_problem": added.host_problem.message if added.host_problem else None})
    if json_mode:
        rep.emit_json()


def _print_findings(rep, findings) -> None:
    for f in findings:
        if f.status == "ok":
            rep.line(f"  ids            {f.message}")
            continue
        rep.warn(f.message)
        for line in (f.fix or "").splitlines():
            rep.line(f"    fix: {line}")


@guest.command("list")
@_project
@click.option("--json", "json_mode", is_flag=True, help="Print a machine-readable list.")
def list_(project, json_mode):
    """List this project's guests and their last sync."""
    import json
    import time

    from devenv.host import guests, sync

    root = _root(project)
    found = guests.all_guests(root)
    default = guests.default_name(root)
    if json_mode:
        rows = [{**g.__dict__, "default": g.name == default, "last_sync": sync.last_sync(root, g.name)}
                for g in found]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not found:
        click.echo(f"no guests for {root}; add one: devenv guest add NAME --ssh USER@HOST --path DIR")
    for g in found:
        last = sync.last_sync(root, g.name)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last["time"])) if last else "never synced"
        mark = "*" if g.name == default else " "
        click.echo(f"{mark} {g.describe()}  [{g.source}; {when}]")


@guest.command("remove")
@click.argument("name")
@_project
def remove(name, project):
    """Forget a guest (nothing on the guest is touched)."""
    from devenv.host import guests, syncstate

    root = _root(project)
    gone = guests.remove(root, name)
    syncstate.forget(root, name)
    click.echo(f"removed guest {gone.describe()}; nothing on the guest was changed")


@guest.command("ssh-config")
@click.argument("name")
@click.argument("guest_path", metavar="[PATH]", required=False)
@click.option("--remove", "remove_block", is_flag=True, help="Remove devenv's block for NAME (nothing else).")
@click.option("-n", "--dry-run", is_flag=True, help="Show the change as a diff; write nothing.")
@_project
@output_options
def ssh_config_cmd(name, guest_path, remove_block, dry_run, project, quiet, verbose, json_mode):
    """Let VS Code's Remote-SSH (and plain ssh) reach guest NAME as the host `devenv-NAME`.

    Writes a marked `Host devenv-NAME` block at the top of ~/.ssh/config (DEVENV_SSH_CONFIG: another
    file) with what devenv's own ssh uses for the guest, and prints the command that opens PATH on the
    guest (default: the guest's project folder) in VS Code. The file is backed up next to itself before
    each change; a second run changes nothing. A `Host devenv-NAME` of your own is never touched (exit 8).
    """
    import shlex

    from devenv.errors import UsageError
    from devenv.host import guests, sshconfig

    rep = reporter(quiet, verbose, json_mode)
    opener = None
    if remove_block:
        if guest_path:
            raise UsageError("PATH is the guest folder to open; it does not go with --remove")
        out = sshconfig.remove(name, dry_run=dry_run)
    else:
        root = _root(project)
        target = guests.load(root, name)
        out = sshconfig.write(sshconfig.block_for(target, root), dry_run=dry_run)
        opener = sshconfig.open_command(target, guest_path)
    host = sshconfig.alias(name)
    done = {"create": f"added Host {host} to {out.path}", "update": f"updated Host {host} in {out.path}",
            "identical": f"Host {host} in {out.path} is up to date; nothing changed",
            "removed": f"removed Host {host} from {out.path}",
            "absent": f"no devenv block for guest {name} in {out.path}; nothing to remove"}[out.verb]
    if dry_run and out.diff:
        rep.line(f"(dry run; nothing written) would have: {done}")
        rep.line(out.diff.rstrip("\n"))
    else:
        rep.line(done + (f" (the previous file is kept as {out.backup})" if out.backup else ""))
    if opener:
        rep.line("open it in VS Code:")
        rep.line(f"  {shlex.join(opener)}")
    rep.data.update(ssh_config={"verb": out.verb, "path": str(out.path), "host": host, "dry_run": dry_run,
                                "backup": str(out.backup) if out.backup else None, "diff": out.diff,
                                "block": list(out.block.lines) if out.block else None},
                    open=shlex.join(opener) if opener else None)
    if json_mode:
        rep.emit_json()


@click.command("sync")
@click.argument("name", required=False)
@click.option("--watch", is_flag=True, help="Keep running; send each change as it is saved (Ctrl-C stops).")
@click.option("--all", "all_repos", is_flag=True,
              help="Every repo `devenv devstack attach` checked out in this folder, over one ssh connection per "
                   "guest (with --watch: one file watch for all of them).")
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
@click.option("--delete", is_flag=True, help="Delete guest files gone from the host (kept in the backup).")
@click.option("--verify", is_flag=True, help="Also compare contents by checksum (slower; catches same-size edits).")
@click.option("--exclude", "excludes", multiple=True, metavar="PAT", help="Also exclude PAT (rsync pattern).")
@click.option("--rsync", "rsync_program", metavar="PROGRAM",
              help="The host's rsync for this run (else: the guest's remembered one, DEVENV_RSYNC, a GNU rsync "
                   ">= 3.1 in /opt/homebrew/bin or /usr/local/bin, then PATH's).")
@click.option("--timeout", type=Seconds(3600), default=60, show_default=True, metavar="SECONDS",
              help="Give up after this long without progress (rsync --timeout). A guest folder on a share "
                   "that hangs is found within seconds and ends the run with exit 12.")
@click.option("--allow-reclone", is_flag=True,
              help="Sync even though the guest's devstack has RECLONE=True and the folder is under its DEST "
                   "(the next stack.sh will wipe what was synced).")
@_project
@output_options
def sync_cmd(name, watch, all_repos, dry_run, delete, verify, excludes, rsync_program, timeout, allow_reclone, project,
             quiet, verbose, json_mode):
    """Copy the project to the guest with rsync over ssh; never silently overwrite a guest-side edit.

    A guest file changed since the last sync is kept in <guest folder>/.devenv-backup/<run>/ and
    reported as a conflict (exit 8). Files are deleted on the guest only with --delete (and kept in the
    backup).
    .git is synced too (pbr takes the version from it); .venv, .tox, .stestr, __pycache__, *.pyc, .idea,
    *.egg-info, devstack volume files and the patterns in .devenvignore are not.
    A folder under devstack's DEST is refused (exit 9) while the guest's local.conf has RECLONE=True.
    """
    from devenv.host import guests, syncreport
    from devenv.host.sync import SyncOptions

    rep = reporter(quiet, verbose, json_mode)
    root = _root(project)
    if all_repos:
        opts = SyncOptions(dry_run=dry_run, delete=delete, verify=verify, excludes=tuple(excludes), timeout=timeout,
                           rsync=rsync_program)
        _sync_all(root, name, opts, watch, allow_reclone, rep, json_mode)
        return
    target = guests.load(root, name)
    _reclone_guard(target, allow_reclone, rep)
    opts = SyncOptions(dry_run=dry_run, delete=delete, verify=verify, excludes=(*target.excludes, *excludes),
                       timeout=timeout, rsync=rsync_program)
    conflicts = False
    if watch:
        syncreport.run_watch(root, target, opts, rep, _recheck([target], allow_reclone, rep))
    else:
        conflicts = bool(syncreport.run_sync(root, target, opts, rep).conflicts)
    if json_mode:
        rep.emit_json()
    if conflicts:  # guest changes were kept aside: the run did its job, but someone has to look
        from devenv.errors import Conflict

        click.get_current_context().exit(Conflict.exit_code)


def _sync_all(workspace, name, opts, watch: bool, allow_reclone: bool, rep, json_mode: bool) -> None:
    """`sync --all`: each attached repo (devstack/attach.py's record), one ssh master per guest."""
    import dataclasses
    from pathlib import Path

    from devenv.devstack import attach
    from devenv.errors import Conflict, UsageError
    from devenv.host import guests, sshmaster, syncreport

    members = [m for m in attach.load(workspace) if name is None or m["guest"] == name]
    if not members:
        raise UsageError(f"no repos attached in {workspace}" + (f" for guest {name!r}" if name else ""),
                         "run `devenv devstack attach GUEST` there first (or sync one repo: devenv sync --project DIR)")
    targets = [(Path(m["host"]), guests.load(Path(m["host"]), m["guest"])) for m in members]
    for _, target in targets:
        _reclone_guard(target, allow_reclone, rep)
    if watch:
        syncreport.run_watch_all(targets, opts, rep, _recheck([t for _, t in targets], allow_reclone, rep))
        if json_mode:
            rep.emit_json()
        return
    masters: dict[str, sshmaster.Master] = {}
    conflicts = 0
    try:
        for root, target in targets:
            if target.destination not in masters:
                masters[target.destination] = sshmaster.Master(target)
                masters[target.destination].ensure()
            one = dataclasses.replace(opts, excludes=(*target.excludes, *opts.excludes),
                                      control_path=masters[target.destination].path)
            conflicts += len(syncreport.run_sync(root, target, one, rep).conflicts)
    finally:
        for master in masters.values():
            master.close()
    if json_mode:
        rep.emit_json()
    if conflicts:
        click.get_current_context().exit(Conflict.exit_code)


def _reclone_guard(target, allow: bool, rep) -> None:
    """Before any sync or watch: refuse a folder that devstack's RECLONE=True would wipe (devstack/guard.py)."""
    from devenv.devstack import guard

    hazard = guard.check(target, allow=allow)
    if hazard is not None:
        rep.warn(f"{hazard.message} (syncing anyway: {guard.OVERRIDE})")


def _recheck(targets, allow: bool, rep):
    """For a running watch: local.conf read again now and then (a RECLONE=True set after the watch started
    would have the next stack.sh wipe what it sends); the watch stops, saying why, unless --allow-reclone."""
    from devenv.devstack import guard

    def check() -> None:
        guard.forget()
        for target in targets:
            try:
                guard.check(target, allow=allow)
            except guard.RecloneHazard as exc:
                exc.message = f"the watch stopped: {exc.message}"
                exc.hint = f"{exc.hint}; then start the watch again (it sends what was saved meanwhile)"
                raise

    if allow:
        return None  # told once at the start; nothing would be refused later either
    return check


COMMANDS: list[click.Command] = [guest, sync_cmd]
