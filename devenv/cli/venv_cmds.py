"""Commands: init, refresh, show — the venv side of devenv."""

from __future__ import annotations

import json

import click

from devenv import lock
from devenv.cli.options import Seconds, output_options, reporter

_installer = click.option("--installer", type=click.Choice(["auto", "uv", "pip"]), default="auto", show_default=True,
                          help="Package installer; auto uses uv when available.")
_python = click.option("--python", "python", metavar="PATH|X.Y",
                       help="Interpreter for the venv (default: one that satisfies the project's floor).")
_constraints = click.option("--constraints", metavar="FILE|URL",
                            help="Constraints (default: $TOX_CONSTRAINTS_FILE, else what tox.ini names).")
_lock = click.option("--lock-timeout", type=Seconds(), default=lock.DEFAULT_TIMEOUT, show_default=True,
                     metavar="SECONDS",
                     help="How long to wait for another devenv run on the same project.")


def _check_ide(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A bad --ide value is said before anything is cloned or built."""
    if value is not None:
        from devenv import idechoice
        from devenv.errors import UsageError

        try:
            idechoice.parse(value)
        except UsageError as exc:
            raise click.BadParameter(f"{exc.message} ({exc.hint})") from None
    return value


def _venv_opts(python: str | None, constraints: str | None, installer: str, refresh_constraints: bool = False):
    from devenv.venv import Options

    return Options(python=python, constraints=constraints, installer=installer,
                   refresh_constraints=refresh_constraints)


@click.command()
@click.argument("target", required=False)
@click.option("--source", metavar="URL|PATH", help="Clone from here instead of the project's upstream.")
@_python
@_constraints
@_installer
@click.option("--refresh-constraints", is_flag=True, help="Download a constraints URL again even if cached.")
@click.option("--no-ide", is_flag=True, help="Build the venv only; skip the IDE setup.")
@click.option("--ide", "ide_choice", metavar="pycharm|vscode|pycharm,vscode", callback=_check_ide,
              help="The IDEs to set up, remembered for the project (refresh and the git hooks keep them); "
                   "default: the IDEs whose folder (.idea/, .vscode/) the project has, else PyCharm.")
@click.option("--gerrit-user", metavar="NAME",
              help="Your Gerrit username, for the 'gerrit' remote `git review -s` adds (default: git config "
                   "gitreview.username; without either, devenv says how to set it and does not guess).")
@click.option("--pre-commit/--no-pre-commit", "pre_commit", default=None,
              help="Install pre-commit's git hook when the project has a .pre-commit-config.yaml (the default), "
                   "or not; the choice is remembered for the project.")
@click.option("--with", "with_", multiple=True, metavar="PATH",
              help="Also install this checkout of another project editable into the venv, its pin dropped from "
                   "the constraints (devstack's LIBS_FROM_GIT); repeatable, remembered for refresh and the git "
                   "hooks.")
@click.option("--without", multiple=True, metavar="PATH|NAME", help="Drop one remembered --with checkout.")
@click.option("--with-none", is_flag=True, help="Drop every remembered --with checkout (before any --with).")
@_lock
@output_options
def init(target, source, python, constraints, installer, refresh_constraints, no_ide, ide_choice, gerrit_user,
         pre_commit, with_, without, with_none, lock_timeout, quiet, verbose, json_mode):
    """Set up a project: clone it if needed, build .venv, set up PyCharm and/or VS Code.

    TARGET is a project folder, or the name of a known OpenStack project (e.g. nova) to clone into ./NAME.
    Without TARGET, the project containing the current folder. Running it again when nothing changed does
    nothing; after a requirements change it installs only what is new, or rebuilds beside the old venv.
    --with PATH installs other checkouts editable beside it (remembered: refresh keeps them).
    """
    from devenv import crossrepo, workflow

    rep = reporter(quiet, verbose, json_mode)
    opts = workflow.InitOptions(target=target, source=source, ide=not no_ide, lock_timeout=lock_timeout,
                                gerrit_user=gerrit_user, pre_commit=pre_commit, ide_choice=ide_choice,
                                venv=_venv_opts(python, constraints, installer, refresh_constraints),
                                with_=crossrepo.Change(tuple(with_), tuple(without), with_none))
    if not json_mode and not quiet:
        click.echo(f"devenv init {target or '.'}")
    workflow.init(opts, rep)
    if json_mode:
        rep.emit_json()


@click.command()
@click.argument("path", required=False)
@_python
@_constraints
@_installer
@_lock
@click.option("--hook", is_flag=True,
              help="As the git hooks run it: in the background after --wait seconds; one line on stderr when "
                   "it did real work or failed, nothing otherwise; always exit 0.")
@click.option("--wait", type=Seconds(3600, zero=True), default=30, show_default=True, metavar="SECONDS",
              help="With --hook: how long git waits for the refresh (hooks install --background: 0).")
@click.option("--hook-child", is_flag=True, hidden=True)
@output_options
def refresh(path, python, constraints, installer, lock_timeout, hook, wait, hook_child, quiet, verbose, json_mode):
    """Bring the venv and the IDE setup up to date (what the git hooks run after a pull or rebase).

    A requirements change the venv already satisfies is only recorded; a real one is applied as one
    exact uv sync on a copy of the venv; a state built before (git checkout -) is swapped back in.
    """
    from devenv import workflow

    if hook:
        from devenv import hookrun, project
        from devenv.ide import hooks

        click.get_current_context().exit(hookrun.run(project.resolve_root(path), hooks.devenv_command(), wait))
    rep = reporter(quiet, verbose, json_mode)
    workflow.refresh(path, _venv_opts(python, constraints, installer), rep, lock_timeout, hook_child=hook_child)
    if json_mode:
        rep.emit_json()


@click.command()
@click.argument("path", required=False)
@click.option("--json", "json_mode", is_flag=True, help="Print the whole model as JSON.")
def show(path, json_mode):
    """Print what devenv reads from a project: name, Python floor, deps, constraints, test env, runner."""
    from devenv import crossrepo, workflow
    from devenv.ide import runconfigs

    proj = workflow.show(path)
    others = crossrepo.describe(proj.root)
    if json_mode:
        data = proj.to_json()
        data["pycharm_notes"] = runconfigs.notes(proj)
        data["with"] = [{"path": str(folder), "name": name} for folder, name in others]
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    env = proj.unit_env
    r = proj.runner
    click.echo(f"project      {proj.name}  ({proj.root})")
    click.echo(f"python       {proj.python_floor or 'any'}")
    click.echo(f"build        {proj.build_backend or 'setup.py'}{' (pbr)' if proj.uses_pbr else ''}")
    click.echo(f"tox env      {env.name}{'' if proj.has_tox else ' (no tox.ini)'}")
    for dep in env.deps:
        label = {"file": "-r", "project": "project", "requirement": "req"}.get(dep.kind, dep.kind)
        click.echo(f"  deps       {label} {dep.value}{'[' + ','.join(dep.extras) + ']' if dep.extras else ''}")
    click.echo(f"  extras     {', '.join(env.extras) or '-'}")
    click.echo(f"  usedevelop {env.usedevelop}")
    click.echo(f"  constraints {', '.join(env.constraints) or '-'}")
    for k, v in env.setenv.items():
        click.echo(f"  setenv     {k}={v}")
    click.echo(f"  passenv    {', '.join(env.passenv) or '-'}")
    args = " ".join(r.args)
    click.echo(f"tests        {r.kind or 'unknown'} {args} path={r.test_path or '-'} top={r.top_dir or '-'}")
    for suite in env.suites[1:]:
        click.echo(f"  suite      {suite.kind} {' '.join(suite.args)} path={suite.test_path or '-'}")
    for name, e in proj.envs.items():
        if name != env.name and e.runner.kind and name.startswith("functional"):
            click.echo(f"  {name:<10} {e.runner.kind} path={e.runner.test_path or '-'}")
    for line in runconfigs.notes(proj):
        click.echo(f"pycharm      {line}")
    click.echo(f"eventlet     {'yes' if proj.uses_eventlet else 'no'}")
    click.echo(f"scripts      {', '.join(proj.console_scripts) or '-'}")
    click.echo(f"bindep       {proj.bindep_file or '-'}")
    for folder, name in others:
        click.echo(f"with         {name or '(cannot be read)'}  ({folder}, editable)")
    for problem in proj.unresolved:
        click.echo(f"unresolved   {problem}")


@click.command()
@click.argument("path", required=False)
@click.option("--guest", "guest_name", metavar="NAME", help="Check only this guest (default: every guest).")
@click.option("--share-timeout", type=Seconds(), default=3.0, show_default=True, metavar="SECONDS",
              help="Deadline for each share probe on a guest.")
@click.option("--json", "json_mode", is_flag=True, help="Print the findings as JSON.")
def doctor(path, guest_name, share_timeout, json_mode):
    """One health report: venv, IDE setup, guests (reachable, UID/GID match, clock, share, last sync).

    Exits 0 when healthy, 10 when something needs action (a `fail` or `hung` finding).
    """

    from devenv import doctor as doctor_mod
    from devenv import project

    root = project.resolve_root(path)
    sections = doctor_mod.run(root, guest_name, share_timeout)
    findings = [f for s in sections for f in s.findings]
    unhealthy = any(f.needs_action for f in findings)
    if json_mode:
        click.echo(json.dumps({"root": str(root), "healthy": not unhealthy,
                               "sections": [{"title": s.title, "findings": [f.to_json() for f in s.findings]}
                                            for s in sections]}, indent=2))
    else:
        for s in sections:
            click.echo(s.title)
            for f in s.findings:
                click.echo(f"  {f.status:<5} {f.check:<28} {f.message}")
                if f.status != "ok" and f.meaning:
                    click.echo(f"        why: {f.meaning}")
                if f.status != "ok" and f.fix:
                    click.echo(f"        fix: {f.fix}")
        click.echo("healthy" if not unhealthy else "needs action: see the fail/hung lines above")
    if unhealthy:
        from devenv import errors

        raise SystemExit(errors.UNHEALTHY)


COMMANDS: list[click.Command] = [init, refresh, show, doctor]
