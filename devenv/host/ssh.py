"""Talking to a guest through the system OpenSSH client.

The system client (not a Python ssh library) so that ~/.ssh/config, agents, jump hosts and known_hosts
work exactly as they do for the user. Always non-interactive (BatchMode: a password prompt would hang a
git hook), with a connect timeout and keep-alives. Host-key checking is never switched off: an unknown
key is an error that says how to accept it, a changed key is an error, full stop.

ssh always hands the remote command to the guest's shell, so every remote argument is quoted with
shlex.quote here and nowhere else.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from devenv import proc
from devenv.errors import GuestError
from devenv.findings import Finding
from devenv.host.guests import Guest

CONNECT_TIMEOUT = 10  # seconds; a guest that takes longer to answer is "down", not "slow"
ALIVE_INTERVAL = 5  # keep-alive every 5 s, give up after 3 unanswered: a vanished guest fails in ~15 s

T = TypeVar("T")


def options(guest: Guest, *, accept_new_host_key: bool = False, control_path: str | None = None) -> list[str]:
    """The ssh options devenv always uses (without the program name and destination).

    control_path: reuse a master connection (sshmaster) when its socket is there; without it ssh
    simply connects directly (ControlMaster=no never creates one).
    """
    opts = [
        "-o", "BatchMode=yes",
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
        "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
        "-o", "ServerAliveCountMax=3",
    ]
    if accept_new_host_key:
        # Only on an explicit --accept-new-host-key: trusts a host seen for the first time, and still
        # refuses a key that changed.
        opts += ["-o", "StrictHostKeyChecking=accept-new"]
    if guest.ssh_config:
        opts = ["-F", guest.ssh_config, *opts]
    if guest.port:
        opts += ["-p", str(guest.port)]
    if guest.identity:
        opts += ["-i", guest.identity, "-o", "IdentitiesOnly=yes"]
    if control_path:
        opts += ["-o", "ControlMaster=no", "-o", f"ControlPath={control_path}"]
    return opts


def remote_command(argv: Sequence[str]) -> str:
    """One string for the guest's shell, each argument quoted (odd names survive the remote shell)."""
    return " ".join(shlex.quote(a) for a in argv)


def ssh_argv(
    guest: Guest, argv: Sequence[str], *, accept_new_host_key: bool = False, control_path: str | None = None
) -> list[str]:
    # "--" ends ssh's options, so a host alias can never be read as one.
    opts = options(guest, accept_new_host_key=accept_new_host_key, control_path=control_path)
    return ["ssh", *opts, "--", guest.destination, remote_command(argv)]


def rsh(guest: Guest, control_path: str | None = None) -> str:
    """rsync's -e value. rsync splits it itself (shell-like quoting, no shell), so shlex.join is right."""
    return shlex.join(["ssh", *options(guest, control_path=control_path)])


def run(
    guest: Guest,
    argv: list[str],
    *,
    input: str | None = None,
    timeout: float,
    accept_new_host_key: bool = False,
    control_path: str | None = None,
    errors: str = "replace",
) -> proc.Result:
    """Run argv on the guest. Returns the remote command's Result (any exit code but 255).
    errors: see proc.run ("surrogateescape" where input or output carries file names).

    Raises GuestError when ssh itself fails (unreachable, host key unknown or changed, auth refused,
    or no answer within `timeout`); GuestError.transient says whether retrying may help.
    """
    try:
        argv_ = ssh_argv(guest, argv, accept_new_host_key=accept_new_host_key, control_path=control_path)
        res = proc.run(argv_, timeout=timeout, input=input, what=f"ssh to {guest.name}", errors=errors)
    except proc.Timeout as exc:
        raise SshFailure(f"{guest.describe()} did not answer within {timeout:g} s",
                         "is the guest running and reachable? try: ssh " + guest.destination,
                         transient=True) from exc
    if res.returncode == 255:
        raise classify(guest, res.stderr)
    return res


class SshFailure(GuestError):
    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, hint)
        self.transient = transient


# (pattern in ssh's stderr, transient?, message, hint). First match wins; order matters.
_RULES: list[tuple[str, bool, str, str]] = [
    (r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed",
     False, "the host key of {dest} has CHANGED since it was last accepted",
     "this can be an attack, or a re-created VM. If you know the VM was re-created, remove the old key "
     "with: ssh-keygen -R {keyhost} (add -f FILE for a custom known_hosts), then accept the new one"),
    (r"No \S+ host key is known|Host key verification failed|host key is not known",
     False, "the host key of {dest} is not known yet (devenv never accepts keys silently)",
     "check and accept it once by hand: ssh {port_opt}{dest} true (or: ssh-keyscan {port_opt2}{host} "
     ">> ~/.ssh/known_hosts), or re-add the guest with --accept-new-host-key"),
    (r"Permission denied|Too many authentication failures|no mutual signature",
     False, "{dest} refused our key (authentication failed)",
     "check the user and key: ssh {port_opt}{dest} true; add the key with ssh-copy-id "
     "or pass --identity FILE"),
    (r"Could not resolve hostname|Name or service not known",
     False, "cannot resolve the guest's host name {host}", "check the name, or use its IP address"),
    (r"Bad configuration option|Bad owner or permissions|Unsupported option|no argument after keyword|"
     r"unknown option|Can't open user config file",
     False, "ssh rejected its configuration for {dest}", "fix the ssh config file named below"),
    (r"Connection refused|Connection reset|Connection timed out|Connection closed|timed out|"
     r"No route to host|Network is unreachable|Broken pipe|kex_exchange_identification|"
     r"Timeout, server .* not responding|closed by remote host|Connection to .* closed",
     True, "cannot reach {dest}{port_txt}", "is the guest running? (vagrant up / start the VM / check sshd)"),
]


def classify(guest: Guest, stderr: str) -> SshFailure:
    """Turn ssh's stderr (exit 255) into one clear GuestError."""
    keyhost = f"[{guest.host}]:{guest.port}" if guest.port and guest.port != 22 else guest.host
    fmt = {
        "dest": guest.destination, "host": guest.host, "keyhost": keyhost,
        "port_opt": f"-p {guest.port} " if guest.port else "",
        "port_opt2": f"-p {guest.port} " if guest.port else "",
        "port_txt": f" on port {guest.port}" if guest.port else "",
    }
    if guest.ssh_config:
        fmt["port_opt"] = f"-F {shlex.quote(guest.ssh_config)} " + fmt["port_opt"]
    detail = proc.tail(stderr, 3)
    for pattern, transient, message, hint in _RULES:
        if re.search(pattern, stderr, re.IGNORECASE):
            return SshFailure(f"{message.format(**fmt)}: {detail}", hint.format(**fmt), transient=transient)
    hint = "try it by hand: ssh " + guest.destination
    return SshFailure(f"ssh to {guest.destination} failed: {detail}", hint, transient=True)


@dataclass(frozen=True)
class Retry:
    """Bounded retries with exponential backoff: never for ever."""

    attempts: int = 5  # the first try and 4 retries
    first_delay: float = 1.0
    max_total: float = 30.0  # seconds of waiting, all retries together


def with_retries(
    action: Callable[[], T], policy: Retry, on_retry: Callable[[str, float], None] | None = None
) -> T:
    """Call action(); on a transient SshFailure wait and try again, at most policy.attempts times."""
    waited = 0.0
    delay = policy.first_delay
    for attempt in range(1, policy.attempts + 1):
        try:
            return action()
        except SshFailure as exc:
            last = exc
            if not exc.transient or attempt == policy.attempts or waited + delay > policy.max_total:
                break
            if on_retry:
                on_retry(exc.message, delay)
            time.sleep(delay)
            waited += delay
            delay *= 2
    if last.transient:
        raise SshFailure(f"{last.message} (gave up after {attempt} attempts, {waited:.0f} s)", last.hint,
                         transient=True)
    raise last


def reachable(guest: Guest, timeout: float = 15.0) -> Finding:
    """Doctor's check: can we run a command on the guest, and is its project folder there?"""
    from devenv.errors import DevenvError

    try:
        res = run(guest, ["test", "-d", guest.path], timeout=timeout)
    except DevenvError as exc:
        meaning = "sync and guest checks cannot run"
        return Finding(f"guest.{guest.name}.reachable", "fail", exc.message, meaning, exc.hint or "")
    if not res.ok:
        return Finding(f"guest.{guest.name}.reachable", "warn", f"{guest.path} does not exist on the guest",
                       "the first sync will create it", f"devenv sync {guest.name}")
    return Finding(f"guest.{guest.name}.reachable", "ok", f"{guest.describe()} answers over ssh")
