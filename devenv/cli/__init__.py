"""The command line: options in, one call to a domain function, a report out.

Errors are mapped to messages and exit codes here and only here. Domain modules are imported inside
each command so that `devenv refresh` in a git hook starts fast.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import NoReturn

import click

from devenv import __version__
from devenv.errors import DevenvError, exit_codes_help

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, `kill`, systemd): the same cleanup as Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _handle_termination() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_terminated)


class DevenvGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["devenv.argv"] = list(args)  # what --json on a failure looks for
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DevenvError as exc:
            click.echo(f"devenv: error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            _json_failure(ctx, exc.exit_code, exc.message, exc.hint)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo("devenv: interrupted; nothing half-done was kept — run the command again", err=True)
            ctx.exit(128 + exc.signum if isinstance(exc, Terminated) else 130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            folder = _unwritable_root(exc)
            if folder is None:
                self._crash(ctx)
            message = f"cannot write {exc.filename}: {exc.strerror}"
            hint = f"devenv keeps its state in {folder[0]}; make it a writable folder or point {folder[1]} at one"
            click.echo(f"devenv: error: {message}\n  hint: {hint}", err=True)
            _json_failure(ctx, 1, message, hint)
            ctx.exit(1)
        except Exception:  # a bug: keep the traceback in a log, show one line
            self._crash(ctx)
        return None

    def _crash(self, ctx: click.Context) -> NoReturn:
        log = _crash_log()
        click.echo(f"devenv: internal error (a bug); details in {log}", err=True)
        _json_failure(ctx, 70, "internal error (a bug)", f"details in {log}")
        ctx.exit(70)


def _json_failure(ctx: click.Context, code: int, message: str, hint: str | None) -> None:
    """A --json run prints JSON on stdout whatever happens, so a script never parses an error message."""
    import json

    if "--json" in ctx.meta.get("devenv.argv", ()):
        click.echo(json.dumps({"ok": False, "exit_code": code, "error": message, "hint": hint}))


def _unwritable_root(exc: OSError) -> tuple[str, str] | None:
    """(folder, variable) when the failed path lies in one of devenv's redirectable roots (paths.py)."""
    from pathlib import Path

    from devenv import paths

    if not exc.filename:
        return None
    failed = Path(os.fsdecode(exc.filename))
    roots = [(paths.state_home(), "DEVENV_HOME")] + [(r, "DEVENV_JETBRAINS_HOME") for r in paths.jetbrains_roots()]
    for root, var in roots:
        if failed == root or root in failed.parents:
            return str(root), var
    return None


def _crash_log() -> str:
    from devenv.paths import state_home

    folder = state_home() / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(
            f"devenv {__version__}, Python {sys.version}\nargv: {sys.argv}\n\n{traceback.format_exc()}"
        )
        return str(path)
    except OSError:
        traceback.print_exc()
        return "(could not write a log; traceback above)"


@click.group(cls=DevenvGroup, context_settings=CONTEXT, epilog="\b\nExit codes:\n" + exit_codes_help())
@click.version_option(__version__, prog_name="devenv")
def main() -> None:
    """Take an OpenStack-style Python project from a checkout to a working development setup.

    \b
    Typical use:
      devenv init nova          clone nova, build .venv, set up PyCharm
      devenv refresh            bring venv and IDE up to date after a pull/rebase
      devenv hooks install      refresh automatically after checkout, merge and rebase
      devenv doctor             one health report over everything devenv knows
    """


def _register() -> None:
    # Each concern owns its command module; they import only click at the top.
    from devenv.cli import devstack_cmds, guest_cmds, ide_cmds, share_cmds, venv_cmds

    for module in (venv_cmds, ide_cmds, guest_cmds, share_cmds, devstack_cmds):
        for command in module.COMMANDS:
            main.add_command(command)


_register()


def run() -> None:
    """The `devenv` command: SIGTERM and SIGHUP are handled like Ctrl-C (children stopped, half-built
    state removed, exit 128+signal). In-process callers (tests, CliRunner) call `main` and keep theirs."""
    _handle_termination()
    main()
