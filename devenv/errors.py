"""The one error hierarchy.

Every failure a user can act on is a DevenvError: a message that says what happened, a hint that says
what to do, and an exit code. The CLI maps them to output in one place (cli/__init__.py); anything else
is a bug and gets a log file with the traceback.
"""

from __future__ import annotations

# Every exit code devenv uses, in one place (README and `devenv --help` show this table). No two
# meanings share a code: "unhealthy" is not a generic error, and "hung" is not click's usage error.
EXIT_CODES: dict[int, str] = {
    0: "success (doctor/share check: healthy; wait-mount: mounted)",
    1: "an error not listed below, said in one line",
    2: "usage: a bad option, argument or path",
    3: "a project file that cannot be read (tox.ini, setup.cfg, pyproject.toml, .idea XML)",
    4: "a tool devenv needs is missing",
    5: "the network or package index cannot be reached",
    6: "installing into the venv failed",
    7: "another devenv run holds the project's lock",
    8: "a conflict: an IDE file edited on both sides, or guest changes sync kept aside",
    9: "the guest cannot be reached or used",
    10: "doctor or share check found something that needs action",
    11: "wait-mount: not mounted within the timeout",
    12: "wait-mount, share check or sync: the mount hangs",
    70: "an internal error (a bug): the log has the traceback",
    129: "stopped by SIGHUP",
    130: "interrupted (Ctrl-C)",
    143: "stopped by SIGTERM",
}
UNHEALTHY, NOT_MOUNTED, HUNG = 10, 11, 12


def exit_codes_help() -> str:
    return "\n".join(f"  {code:>3}  {what}" for code, what in EXIT_CODES.items())


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
