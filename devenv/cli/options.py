"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from devenv.report import Reporter


class Seconds(click.ParamType):
    """A duration in seconds: finite, positive, and at most `most` (a day by default).

    float() alone takes 'nan', 'inf' and 1e12, and a deadline built from them never comes: `wait-mount
    --timeout nan` waited for ever. Those are usage errors (exit 2), said at once.
    """

    name = "seconds"

    def __init__(self, most: float = 86400.0, zero: bool = False) -> None:
        self.most = most
        self.zero = zero  # 0 is allowed (e.g. "do not wait")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or number < 0 or (number == 0 and not self.zero) or number > self.most:
            least = "0 or more" if self.zero else "greater than 0"
            self.fail(f"{value!r}: give a number of seconds {least} and at most {self.most:g}", param, ctx)
        return number


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--json", "json_mode", is_flag=True, help="Print a machine-readable summary.")(func)
    func = click.option("-v", "--verbose", is_flag=True, help="Say more about each step.")(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")(func)
    return func


def reporter(quiet: bool, verbose: bool, json_mode: bool) -> Reporter:
    return Reporter(quiet=quiet, verbose=verbose, json_mode=json_mode)
