"""Commands: ide, hooks — the PyCharm side of devenv."""

from __future__ import annotations

from pathlib import Path

import click

from devenv.cli.options import Seconds, output_options, reporter
from devenv.cli.venv_cmds import _check_ide


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what would change as a unified diff; write nothing.")
@click.option("--force", is_flag=True,
              help="Write even while PyCharm runs, take devenv's side in conflicts, replace unreadable files "
                   "(each is backed up first).")
@click.option("--ide", "ide_choice", metavar="pycharm|vscode|pycharm,vscode", callback=_check_ide,
              help="The IDEs to set up (remembered for the project); default: as remembered, else the IDEs "
                   "whose folder (.idea/, .vscode/) the project has, else PyCharm.")
@click.option("--venv", "venv_path", type=click.Path(file_okay=False, path_type=Path), metavar="PATH",
              help="VS Code only: name this venv instead of the project's .venv, e.g. devstack's "
                   "/opt/stack/data/venv when run inside the guest for a Remote-SSH window.")
@output_options
def ide(path: Path | None, dry_run: bool, force: bool, ide_choice: str | None, venv_path: Path | None, quiet: bool,
        verbose: bool, json_mode: bool) -> None:
    """Write the IDE setup only: PyCharm's interpreter, project files and run configurations; VS Code's
    .vscode/settings.json, launch.json and env files.

    Your own changes (made in the IDE or by hand) are kept; a clash with an upstream change is reported as a
    conflict. In VS Code's files only the keys and configurations devenv owns change; comments stay.
    """
    from devenv import idechoice, lock, paths, project
    from devenv.errors import DevenvError
    from devenv.ide import setup
    from devenv.vscode import setup as vscode_setup

    rep = reporter(quiet, verbose, json_mode)
    root = project.resolve_root(path)
    try:
        # The same lock as init/refresh: a git hook's refresh and this command never interleave.
        with lock.project_lock(paths.project_state(root) / "lock", lock.DEFAULT_TIMEOUT):
            ides = idechoice.parse(ide_choice) if ide_choice else idechoice.remembered(root) or idechoice.detected(root)
            if venv_path is not None:
                _check_venv(venv_path, ides)
            if ide_choice and not dry_run:
                idechoice.remember(root, ides)  # only a choice that was usable
            proj = project.load(root)
            pending: list[DevenvError] = []
            for name in ides:
                with rep.phase("ide" if name == "pycharm" else name) as info:
                    try:
                        if name == "pycharm":
                            info["result"] = setup.apply(proj, rep, dry_run=dry_run, force=force).summary()
                        else:
                            info["result"] = vscode_setup.apply(proj, rep, dry_run=dry_run, force=force,
                                                                venv=venv_path.absolute() if venv_path else None
                                                                ).summary()
                    except DevenvError as exc:
                        pending.append(exc)
            if pending:
                raise pending[0]
    finally:
        if json_mode:
            rep.emit_json()


def _check_venv(venv: Path, ides: tuple[str, ...]) -> None:
    from devenv import venvlayout
    from devenv.errors import UsageError

    if "pycharm" in ides:
        raise UsageError("--venv is for VS Code only: PyCharm's interpreter is the project's .venv",
                         "add --ide vscode")
    if not venvlayout.python(venv.absolute()).exists():
        raise UsageError(f"--venv {venv}: no {venvlayout.python(venv.absolute())} there",
                         "name a venv folder (the one with bin/python), e.g. /opt/stack/data/venv")


@click.group()
def hooks() -> None:
    """Refresh the venv and IDE setup automatically after git checkout, merge and rebase."""


@hooks.command("install")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--shared-hooks-path", is_flag=True,
              help="Install even when core.hooksPath points outside the repository (the hooks then act only "
                   "in this repository and its worktrees).")
@click.option("--background", is_flag=True,
              help="Never make git wait: the refresh runs detached, with a log; a failure is said by the next "
                   "devenv command.")
@click.option("--wait", type=Seconds(3600, zero=True), default=30, show_default=True, metavar="SECONDS",
              help="How long git waits for the refresh before it goes on in the background.")
@output_options
def hooks_install(path: Path | None, shared_hooks_path: bool, background: bool, wait: float, quiet: bool,
                  verbose: bool, json_mode: bool) -> None:
    """Add post-checkout, post-merge and post-rewrite hooks (existing hooks are chained, not replaced).

    Each runs `devenv refresh --hook`: silent when nothing that matters changed, one line on stderr when
    it did real work or failed; git never waits longer than --wait seconds.
    A devenv hook that was edited is backed up before it is rewritten; put commands of your own in
    <hook>.devenv-chained, which the hook runs first.
    """
    from devenv import paths
    from devenv.ide import hooks as domain

    root = (path or Path.cwd()).resolve()
    changes = domain.install(root, shared=shared_hooks_path, backup_dir=paths.project_state(root) / "backups",
                             wait=0 if background else wait)
    _show(changes, quiet, verbose, json_mode)


@hooks.command("uninstall")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@output_options
def hooks_uninstall(path: Path | None, quiet: bool, verbose: bool, json_mode: bool) -> None:
    """Remove devenv's hooks (and the pre-commit hook devenv installed) and put back any hook they chained."""
    from devenv import precommit
    from devenv.ide import hooks as domain

    root = (path or Path.cwd()).resolve()
    changes = domain.uninstall(root)
    tools = precommit.installed_tools(root)
    lines = precommit.uninstall(root, tools) if tools is not None else []
    _show(changes, quiet, verbose, json_mode, lines)


def _show(changes: list, quiet: bool, verbose: bool, json_mode: bool, lines: list[str] | None = None) -> None:
    rep = reporter(quiet, verbose, json_mode)
    for c in changes:
        rep.line(f"  {c.verb:<9} {c.path}")
    for line in lines or []:
        rep.line(f"  {line}")
    if json_mode:
        rep.data["hooks"] = {c.hook: {"verb": c.verb, "path": str(c.path)} for c in changes}
        rep.emit_json()


COMMANDS: list[click.Command] = [ide, hooks]
