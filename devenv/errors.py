"""The one error hierarchy.

Every failure a user can act on is a DevenvError: a message that says what happened, a hint that says
what to do, and an exit code. The CLI maps them to output in one place (cli/__init__.py); anything else
is a bug and gets a log file with the traceback.
"""

from __future__ import annotations


class DevenvError(Exception):
    """A failure the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(DevenvError):
    """Bad arguments or a path that is not what the command needs."""

    exit_code = 2


class ConfigError(DevenvError):
    """A project file (tox.ini, setup.cfg, pyproject.toml, XML) that cannot be read."""

    exit_code = 3


class ToolMissing(DevenvError):
    """A program devenv needs (git, rsync, ssh, a Python) is not installed."""

    exit_code = 4


class NetworkError(DevenvError):
    """A host, an index or a URL that cannot be reached."""

    exit_code = 5


class InstallError(DevenvError):
    """The installer failed; the previous venv is still in place."""

    exit_code = 6


class LockBusy(DevenvError):
    """Another devenv run holds the project's lock."""

    exit_code = 7


class Conflict(DevenvError):
    """devenv will not overwrite something the user changed."""

    exit_code = 8


class GuestError(DevenvError):
    """A guest (VM, remote box) is unreachable or not set up as devenv needs."""

    exit_code = 9


class Interrupted(DevenvError):
    exit_code = 130
