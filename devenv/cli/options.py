"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from devenv.report import Reporter


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--json", "json_mode", is_flag=True, help="Print a machine-readable summary.")(func)
    func = click.option("-v", "--verbose", is_flag=True, help="Say more about each step.")(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")(func)
    return func


def reporter(quiet: bool, verbose: bool, json_mode: bool) -> Reporter:
    return Reporter(quiet=quiet, verbose=verbose, json_mode=json_mode)
