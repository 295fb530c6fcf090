"""Commands: devstack show — what devenv reads of a guest's devstack (local.conf, venv, repos); devstack
services / restart / run — its systemd units (devenv/devstack/services.py, foreground.py)."""

from __future__ import annotations

import json

import click

from devenv.cli.guest_cmds import _project, _root
from devenv.cli.options import Seconds, output_options, reporter
from devenv.cli.venv_cmds import _check_ide


@click.group("devstack")
def devstack() -> None:
    """The devstack on a guest (read over ssh with python3; devenv never runs its shell)."""


@devstack.command("show")
@click.argument("name", required=False, metavar="GUEST")
@click.option("--local-conf", metavar="PATH",
              help="The guest's local.conf (default: /opt/stack/devstack, ~stack/devstack, then ~/devstack).")
@click.option("--repo", metavar="NAME", help="Show one repo; fails if devstack does not know it or has not cloned it.")
@_project
@click.option("--json", "json_mode", is_flag=True, help="Print it as JSON.")
def show(name, local_conf, repo, project, json_mode):
    """Show the guest's devstack: DEST, venv, services, LIBS_FROM_GIT, RECLONE, and each repo's
    folder, branch, editable install and git ownership state. Works before stack.sh has run."""
    from devenv.devstack import reader

    _root_dir, target = _guest(name, project)
    dev = reader.read(target, local_conf)
    if repo is not None:
        one = dev.repo(repo)
        click.echo(json.dumps(dev.to_json()["repos"][one.name], indent=2) if json_mode else _repo_line(one))
        return
    if json_mode:
        click.echo(json.dumps(dev.to_json(), indent=2))
        return
    for line in _lines(dev):
        click.echo(line)


def _lines(dev) -> list[str]:
    conf = dev.local_conf
    services = ", ".join(dev.services) or "(none named)"
    if not conf.services_replaced:
        services += " + devstack's default list"
    if conf.disabled:
        services += f"; disabled: {', '.join(conf.disabled)}"
    out = [f"local.conf     {conf.path}", f"DEST           {dev.dest}", f"DATA_DIR       {dev.data_dir}",
           f"venv           {dev.venv} ({'GLOBAL_VENV' if dev.global_venv else 'per-project venvs'}; "
           f"{'stack.sh has run' if dev.stacked else 'not created yet: stack.sh has not run'})",
           f"STACK_USER     {dev.stack_user}", f"services       {services}",
           f"LIBS_FROM_GIT  {', '.join(dev.libs_from_git) or '(none)'}",
           f"RECLONE        {'True' if dev.reclone else 'False'}"
           + (f" ({dev.reclone_where}): stack.sh resets every repo under DEST" if dev.reclone else ""),
           "repos"]
    out += [f"  {_repo_line(r)}" for r in dev.repos.values()]
    out += [f"not read: line {u.line}: {u.text.splitlines()[0]}  ({u.why})" for u in conf.unreadable]
    return out


def _repo_line(repo) -> str:
    if repo.git is None:
        return f"{repo.name:<16} {repo.path}  not cloned yet" + (" (LIBS_FROM_GIT)" if repo.from_git else "")
    git = repo.git
    parts = [f"{git.branch or 'detached'}@{(git.head or 'no commit')[:10]}",
             f"editable: {repo.dist}" if repo.editable else "not editable",
             f"owner {git.owner or git.owner_uid}",
             {True: "git ok", False: "git refuses it (safe.directory)", None: "git missing"}[git.safe_directory_ok]]
    if repo.url:
        parts.append(f"from {repo.url}" + (f" {repo.branch}" if repo.branch else ""))
    if repo.synced:
        parts.append("sync target")
    return f"{repo.name:<16} {repo.path}  " + ", ".join(parts)


@devstack.command("attach")
@click.argument("name", required=False, metavar="GUEST")
@click.option("--repo", "repos", multiple=True, metavar="NAME",
              help="Attach this repo (repeatable; default: every repo the guest's venv has editable, and "
                   "LIBS_FROM_GIT).")
@click.option("--local-conf", metavar="PATH", help="The guest's local.conf (default: devstack's usual places).")
@click.option("--no-venv", is_flag=True,
              help="Only the checkouts and the sync targets: no host venv, no IDE window.")
@click.option("--ide", "ide_choice", metavar="pycharm|vscode|pycharm,vscode", callback=_check_ide,
              help="The IDE window(s) over every repo: PyCharm's .idea/ and/or VS Code's .code-workspace "
                   "(remembered for the workspace; default: as remembered, else the IDE folders found, else "
                   "PyCharm).")
@_project
@output_options
def attach_cmd(name, repos, local_conf, no_venv, ide_choice, project, quiet, verbose, json_mode):
    """Check out on the host every repo the guest's devstack runs from source, and register each as a sync
    target of GUEST (run it in the folder where `devenv guest add GUEST ...` registered the guest).

    Each repo is cloned from the guest over ssh (its branch and local commits come along) into
    ./<repo>, or an existing checkout there is adopted when it holds the guest's commit. A checkout that
    lacks the guest's commit, or diverged from it, is left alone and reported with both commits (exit 8).
    Then one host venv with every repo installed editable (nova's, as `devenv init nova --with ...` makes
    it) and one PyCharm window over all of them in this folder. `devenv sync --all [--watch]` sends your edits.
    """
    from devenv.devstack import attach, reader
    from devenv.host import guests

    rep = reporter(quiet, verbose, json_mode)
    workspace = _root(project)
    target = guests.load(workspace, name)
    try:
        with attach.connect(target) as master:  # one ssh handshake: the reader, the facts and the clones
            dev = reader.read(target, local_conf, control_path=_master_socket(target, master))
            members = attach.attach(workspace, target, dev, tuple(repos), master=master)
    finally:
        for m in attach.load(workspace):
            rep.line(f"  {m['name']:<18} {m['host']} <-> {target.name}:{m['guest_path']}")
    for m in members:
        rep.detail(f"  {m.name}: {m.action} {m.detail}")
    if not no_venv:
        rep.data["venv"] = _workspace_venv(workspace, members, rep, ide_choice, target, dev)
    if json_mode:
        rep.data["members"] = [{"name": m.name, "host": str(m.host), "guest_path": m.guest_path,
                                "action": m.action, "detail": m.detail} for m in members]
        rep.emit_json()


def _master_socket(target, master) -> str | None:
    """The master's socket; None when it ended (the reader then connects itself and says why). A guest
    that did not answer the master within ssh's connect timeout would make the reader wait as long again:
    said at once."""
    import time

    from devenv.host import ssh

    started = time.monotonic()
    path = master.wait()
    if path is None and time.monotonic() - started >= ssh.CONNECT_TIMEOUT - 0.5:
        raise ssh.SshFailure(f"{target.describe()} did not answer within {ssh.CONNECT_TIMEOUT} s",
                             "is the guest running and reachable? try: ssh " + target.destination, transient=True)
    return path


def _note(text: str) -> None:
    click.echo(f"devenv: {text}", err=True)


def _guest(name, project):
    """The project root and the guest; first, start any unit a lost `devenv devstack run` left stopped."""
    from devenv.devstack import foreground
    from devenv.host import guests

    root = _root(project)
    target = guests.load(root, name)
    foreground.recover(target, _note)
    return root, target


_no_sync = click.option("--no-sync", is_flag=True, help="Do not sync the project to the guest first.")
_allow_reclone = click.option("--allow-reclone", is_flag=True,
                              help="Sync even though the guest's devstack has RECLONE=True and the folder is "
                                   "under its DEST (as for devenv sync).")
_timeout = click.option("--timeout", type=Seconds(3600), default=60, show_default=True, metavar="SECONDS",
                        help="The sync gives up after this long without progress (as for devenv sync).")


def _sync_first(project, target, no_sync: bool, allow_reclone: bool, timeout: float) -> bool:
    """Run `devenv sync GUEST` itself (its RECLONE guard and options included) unless --no-sync; True when
    it kept guest edits aside (its exit 8)."""
    if no_sync:
        return False
    from devenv.cli.guest_cmds import _root, sync_cmd
    from devenv.devstack import attach
    from devenv.errors import Conflict

    # In a workspace that `attach` made, the guest's own folder is DEST: what is synced is each attached repo
    # (sync --all), never the workspace folder itself into DEST.
    everything = bool(attach.load(_root(project)))
    try:
        click.get_current_context().invoke(sync_cmd, name=target.name, timeout=timeout, all_repos=everything,
                                           allow_reclone=allow_reclone, project=project)
    except click.exceptions.Exit as exc:
        if exc.exit_code != Conflict.exit_code:
            raise
        return True
    return False


@devstack.command("services")
@click.argument("name", required=False, metavar="GUEST")
@_project
@click.option("--json", "json_mode", is_flag=True, help="Print them as JSON.")
def services_cmd(name, project, json_mode):
    """List the guest's devstack services (its devstack@SVC systemd units) and whether each runs."""
    from devenv.devstack import services

    _root_dir, target = _guest(name, project)
    found = services.list_services(target)
    if json_mode:
        click.echo(json.dumps([s.__dict__ for s in found], indent=2))
        return
    if not found:
        click.echo(f"no devstack@ units on {target.name} (has stack.sh run?)")
    for s in found:
        click.echo(f"{s.name:<20} {s.active} ({s.sub})")


@devstack.command("restart")
@click.argument("name", metavar="GUEST")
@click.argument("service", metavar="SVC")
@_no_sync
@_allow_reclone
@_timeout
@_project
def restart(name, service, no_sync, allow_reclone, timeout, project):
    """Sync the project to the guest, then `systemctl restart devstack@SVC` there (as root: sudo -n unless
    the ssh user is root). Exit 8 after the restart when the sync kept guest edits aside."""
    from devenv.devstack import services

    _root_dir, target = _guest(name, project)
    unit = services.read(target, service)  # an unknown service fails before anything is sent
    conflicts = _sync_first(project, target, no_sync, allow_reclone, timeout)
    as_root = services.whoami(target) == "root"
    services.change(target, "restart", unit.name, as_root=as_root)
    state = "active" if services.is_active(target, unit.name) else "NOT active (see: journalctl -u " + unit.unit + ")"
    click.echo(f"restarted {unit.unit} on {target.name}: {state}")
    if conflicts:
        from devenv.errors import Conflict

        click.get_current_context().exit(Conflict.exit_code)


@devstack.command("run")
@click.argument("name", metavar="GUEST")
@click.argument("service", metavar="SVC")
@_no_sync
@_allow_reclone
@_timeout
@_project
def run(name, service, no_sync, allow_reclone, timeout, project):
    """Sync, stop devstack@SVC, and run its command in the foreground on the guest with the unit's user,
    group, environment and working directory (a real terminal over ssh -t, so pdb and breakpoints work; a
    uwsgi API runs as one process). When it ends, or on Ctrl-C, the unit is started again; if the connection
    is lost, the next `devenv devstack` command on this guest starts it and says so.
    Exit status: 0 when the command exited 0, 1 when it failed, 130 on Ctrl-C, 9 when the connection was lost."""
    from devenv.devstack import foreground, services
    from devenv.errors import GuestError

    _root_dir, target = _guest(name, project)
    unit = services.read(target, service)
    if not unit.argv:
        raise GuestError(f"{unit.unit} on {target.name} has no ExecStart", "is it a devstack service?")
    _sync_first(project, target, no_sync, allow_reclone, timeout)
    outcome = foreground.run(target, unit, services.whoami(target), _note)
    ctx = click.get_current_context()
    if outcome.lost:
        kept = "started again" if outcome.restarted else "still stopped (the next devenv devstack command starts it)"
        raise GuestError(f"the connection to {target.name} was lost while {unit.unit} ran in the foreground; "
                         f"the unit is {kept}", f"check the guest, then run it again: devenv devstack run "
                         f"{target.name} {unit.name}")
    if outcome.interrupted:
        ctx.exit(130)
    if outcome.returncode:
        _note(f"{unit.name}'s command exited with status {outcome.returncode}")
        ctx.exit(1)


def _workspace_venv(workspace, members, rep, ide_choice, target, dev) -> dict:
    """The host venv of the workspace: the main repo's (nova when attached, else the first), with the others
    editable (crossrepo.py, devstack's LIBS_FROM_GIT on the host), then one IDE window at the workspace:
    PyCharm's .idea/ and/or VS Code's <workspace>.code-workspace (each repo's own .vscode/)."""
    from devenv import crossrepo, idechoice, project, venv
    from devenv.errors import DevenvError

    roots = [m.host for m in members if (m.host / "setup.py").exists() or (m.host / "pyproject.toml").exists()]
    if not roots:
        return {}
    main = next((r for r in roots if r.name == "nova"), roots[0])
    others = [r for r in roots if r != main]
    outcome = crossrepo.ensure(main, others, venv.Options(), rep)
    projects = [project.load(main), *[project.load(r) for r in others]]
    ides = idechoice.resolve(workspace, ide_choice)
    pending: list[DevenvError] = []
    for name in ides:
        with rep.phase("ide" if name == "pycharm" else name) as info:
            try:
                if name == "pycharm":
                    from devenv.ide import workspace as ide_workspace

                    info["result"] = ide_workspace.apply(workspace, projects, main / ".venv", rep).summary()
                else:
                    from devenv.vscode import workspace as vscode_workspace

                    info["result"] = vscode_workspace.apply(workspace, projects, main / ".venv", rep,
                                                            main=projects[0]).summary()
            except DevenvError as exc:
                pending.append(exc)
    if "vscode" in ides:
        _remote_window(target, dev, [m for m in members if m.host in roots], rep)
    if pending:
        raise pending[0]
    return {"main": str(main), "others": [str(r) for r in others], "action": outcome.action, "ides": list(ides)}


def _remote_window(target, dev, members, rep) -> None:
    """How VS Code's Remote-SSH opens the guest's trees, and how that window gets the same setup."""
    import shlex

    from devenv.errors import DevenvError
    from devenv.host import sshconfig

    try:
        known = sshconfig.find(target.name) is not None
    except DevenvError:
        known = False
    if not known:
        rep.line(f"  hint: `devenv guest ssh-config {target.name}` lets VS Code's Remote-SSH open the guest's "
                 "repos by name")
        return
    for m in members[:1]:
        rep.line(f"  open {m.name} on the guest: {shlex.join(sshconfig.open_command(target, m.guest_path))}")
        rep.line(f"    there, `devenv ide --ide vscode --venv {shlex.quote(dev.venv)} {shlex.quote(m.guest_path)}` "
                 "sets that window up with devstack's venv")


COMMANDS: list[click.Command] = [devstack]
