"""devstack's services on a guest: the `devstack@<svc>` systemd units, read and driven with systemctl over ssh.

Read with `systemctl show` (systemd's own view: the unit file plus drop-ins), never by parsing unit files.
Every call is one bounded ssh round trip. start/stop/restart need root: the ssh user's own systemctl when it
is root, else `sudo -n systemctl` (devstack's docs say `sudo systemctl restart devstack@n-cpu`; -n so that a
sudo wanting a password fails at once with a message instead of hanging on a prompt nobody sees).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace

from devenv import proc
from devenv.errors import GuestError, UsageError
from devenv.host import ssh
from devenv.host.guests import Guest

TIMEOUT = 20.0  # seconds for one systemctl round trip
CHANGE_TIMEOUT = 330.0  # start/stop/restart: devstack's units have TimeoutStopSec=300
PREFIX = "devstack@"
PROPS = ("Id", "LoadState", "ActiveState", "SubState", "ExecStart", "User", "Group", "Environment",
         "WorkingDirectory")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class Unit:
    """One devstack service as systemd runs it."""

    name: str  # devstack's service name: n-cpu
    argv: tuple[str, ...]  # ExecStart's argv[] (argv[0] as written in the unit)
    path: str  # ExecStart's path= (the program systemd executes)
    user: str  # User=; "" means root (systemd's default)
    group: str  # Group=; "" means the user's own primary group
    env: tuple[tuple[str, str], ...]  # Environment=, in order
    working_dir: str  # WorkingDirectory=; "" means / (systemd's default for system units)
    active: bool
    state: str  # ActiveState/SubState, e.g. "inactive/dead"

    @property
    def unit(self) -> str:
        return unit_name(self.name)

    @property
    def uwsgi(self) -> bool:
        """An API served by uwsgi (devstack's write_uwsgi_user_unit_file: `uwsgi --procname-prefix X --ini F`)."""
        return bool(self.argv) and self.argv[0].rsplit("/", 1)[-1].startswith("uwsgi")


@dataclass(frozen=True)
class Listed:
    name: str
    active: str  # ActiveState
    sub: str  # SubState


def service_name(text: str) -> str:
    """n-cpu, devstack@n-cpu or devstack@n-cpu.service -> n-cpu; a UsageError for anything else."""
    name = text.strip()
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    name = name[: -len(".service")] if name.endswith(".service") else name
    if not _NAME.match(name):
        raise UsageError(f"{text!r} is not a devstack service name",
                         "name one service, e.g. n-cpu or devstack@n-cpu (list them: devenv devstack services)")
    return name


def unit_name(service: str) -> str:
    return f"{PREFIX}{service}.service"


# ---------------------------------------------------------------- parsing systemctl's output (pure)

def parse_exec_start(text: str) -> tuple[str, tuple[str, ...]]:
    """(path, argv) from systemd's `{ path=/x ; argv[]=/x --a b ; ignore_errors=no ; ... }` (the first one,
    when a unit has several ExecStart= lines). ("", ()) when empty."""
    m = re.search(r"path=(?P<path>[^;]*?)\s*;\s*argv\[\]=(?P<argv>.*?)\s*;\s*ignore_errors=", text)
    if not m:
        return "", ()
    return m.group("path").strip(), tuple(_split(m.group("argv")))


def parse_environment(text: str) -> tuple[tuple[str, str], ...]:
    """systemctl show's Environment=: assignments separated by spaces, quoted when a value has one."""
    out: list[tuple[str, str]] = []
    for word in _split(text):
        if "=" in word:
            key, value = word.split("=", 1)
            out.append((key, value))
    return tuple(out)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote systemd printed literally
        return text.split()


UNPRINTABLE = "[unprintable]"  # how systemctl show prints a value with a space or newline in it


def environment_from_cat(text: str) -> tuple[tuple[str, str], ...]:
    """Environment= from `systemctl cat UNIT` (the unit file and its drop-ins, in the order systemd reads them):
    each line's assignments, quoted as systemd quotes them; a later one wins; an empty `Environment=` resets."""
    env: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Service]" and "=" in line and line.split("=", 1)[0].strip() == "Environment":
            value = line.split("=", 1)[1].strip()
            if not value:
                env.clear()
            env.update(parse_environment(value))
    return tuple(env.items())


def parse_show(text: str) -> dict[str, str]:
    """KEY=VALUE lines of `systemctl show -p ...` (one unit)."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            props.setdefault(key, value)
    return props


def unit_from_props(service: str, props: dict[str, str]) -> Unit:
    path, argv = parse_exec_start(props.get("ExecStart", ""))
    active = props.get("ActiveState", "")
    return Unit(service, argv, path, props.get("User", ""), props.get("Group", ""),
                parse_environment(props.get("Environment", "")), props.get("WorkingDirectory", ""),
                active == "active", f"{active or '?'}/{props.get('SubState', '') or '?'}")


def parse_list_units(text: str) -> list[Listed]:
    """`systemctl list-units --all --plain --no-legend 'devstack@*'`: UNIT LOAD ACTIVE SUB DESCRIPTION."""
    out = []
    for line in text.splitlines():
        words = line.replace("\u25cf", " ").split()  # a failed unit may carry systemd's bullet
        if len(words) >= 4 and words[0].startswith(PREFIX) and words[0].endswith(".service"):
            if words[1] == "not-found":
                continue  # a unit something refers to but whose file is gone
            out.append(Listed(words[0][len(PREFIX):-len(".service")], words[2], words[3]))
    return out


# ---------------------------------------------------------------- over ssh

def list_services(guest: Guest) -> list[Listed]:
    res = _systemctl(guest, ["list-units", "--all", "--plain", "--no-legend", "--no-pager", f"{PREFIX}*"])
    if not res.ok:
        raise GuestError(f"systemctl list-units failed on {guest.name} (exit {res.returncode}): "
                         f"{_tail(res.stderr)}", "is this a systemd guest with devstack installed?")
    return sorted(parse_list_units(res.stdout), key=lambda s: s.name)


def read(guest: Guest, service: str) -> Unit:
    """The unit of one service; UsageError (exit 2) naming the services that exist when there is none."""
    name = service_name(service)
    argv = ["show", unit_name(name), "--no-pager", *[a for p in PROPS for a in ("-p", p)]]
    res = _systemctl(guest, argv)
    if not res.ok:
        raise GuestError(f"systemctl show {unit_name(name)} failed on {guest.name} (exit {res.returncode}): "
                         f"{_tail(res.stderr)}", "is this a systemd guest with devstack installed?")
    props = parse_show(res.stdout)
    if props.get("LoadState") != "loaded":
        raise unknown(guest, name)
    unit = unit_from_props(name, props)
    if UNPRINTABLE in props.get("Environment", "").split():  # a value with a space: read the files themselves
        cat = _systemctl(guest, ["cat", "--no-pager", unit_name(name)])
        if cat.ok:
            unit = replace(unit, env=environment_from_cat(cat.stdout))
    return unit


def unknown(guest: Guest, name: str) -> UsageError:
    known = [s.name for s in list_services(guest)]
    listed = ", ".join(known) if known else "none (has stack.sh run?)"
    return UsageError(f"devstack on {guest.name} has no service {name!r} (no {unit_name(name)}); "
                      f"its services: {listed}", "name one of those; devenv devstack services lists them")


def is_active(guest: Guest, name: str) -> bool:
    return _systemctl(guest, ["is-active", unit_name(name)]).stdout.strip() == "active"


def change(guest: Guest, verb: str, name: str, *, as_root: bool) -> None:
    """systemctl start|stop|restart devstack@NAME, as root (sudo -n unless the ssh user is root)."""
    argv = ["systemctl", verb, unit_name(name)]
    if not as_root:
        argv = ["sudo", "-n", *argv]
    res = ssh.run(guest, argv, timeout=CHANGE_TIMEOUT)
    if res.ok:
        return
    if not as_root and sudo_refused(res):
        raise sudo_error(guest, f"systemctl {verb} {unit_name(name)}", res.stderr)
    if res.returncode == 5 or "not found" in res.stderr or "not loaded" in res.stderr:
        raise unknown(guest, name)
    raise GuestError(f"systemctl {verb} {unit_name(name)} failed on {guest.name} (exit {res.returncode}): "
                     f"{_tail(res.stderr)}", f"see its log on the guest: journalctl -u {unit_name(name)} -n 50")


def sudo_refused(res: proc.Result) -> bool:
    """sudo itself said no (a password wanted, not in sudoers, not installed): not the command failing."""
    if res.returncode == 127 and "sudo" in res.stderr:
        return True
    said = [ln for ln in res.stderr.splitlines() if ln.startswith("sudo: ")]
    words = ("password", "not allowed", "not in the sudoers", "terminal is required")
    return any(w in ln for ln in said for w in words)


def sudo_error(guest: Guest, what: str, stderr: str) -> GuestError:
    user = guest.user or "the ssh user"
    return GuestError(f"{what} needs root on {guest.name}, and `sudo -n` refused: {_tail(stderr, 2)}",
                      f"let {user} use sudo without a password (devstack gives its stack user NOPASSWD: ALL): "
                      f"echo '{user} ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/devenv-{user}; "
                      "or reach the guest as that user (devenv guest add --ssh stack@HOST)")


def whoami(guest: Guest) -> str:
    res = ssh.run(guest, ["id", "-un"], timeout=TIMEOUT)
    if not res.ok or not res.stdout.strip():
        raise GuestError(f"cannot tell which user devenv is on {guest.name}: {_tail(res.stderr)}")
    return res.stdout.strip()


def _systemctl(guest: Guest, argv: list[str]) -> proc.Result:
    res = ssh.run(guest, ["systemctl", *argv], timeout=TIMEOUT)
    if res.returncode == 127:
        raise GuestError(f"systemctl is not on {guest.name}'s PATH: devstack runs its services under systemd",
                         "devenv devstack needs a systemd guest on which stack.sh has run")
    return res


def _tail(text: str, lines: int = 3) -> str:
    return proc.tail(text, lines)
