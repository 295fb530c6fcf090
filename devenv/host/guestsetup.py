"""`devenv guest add`: check a guest really works before it is stored.

One ssh call gathers every fact (ids, python3, rsync and its version, the project folder: created if
missing), so the user learns at `add` time, not at the first sync, what is missing and how to fix it.
The host's rsync is chosen and checked too (rsyncflavour): one named with --rsync must be usable and is
remembered for the guest; one devenv picked itself that cannot serve sync is a warning (the guest may be
used through a share only), said again by every sync until it is fixed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import DevenvError, GuestError, UsageError
from devenv.host import guests, rsyncflavour, ssh, vagrant
from devenv.host.guests import Guest

# $1 = the project folder, $2 = the rsync program. Prints key=value lines.
_PROBE = r"""
rsync_prog=$2
p=$1
case $p in "~") p=$HOME ;; "~/"*) p=$HOME/${p#"~/"} ;; esac
echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "user=$(id -un)"
if command -v python3 >/dev/null 2>&1; then echo "python3=$(command -v python3)"; else echo python3=; fi
if command -v "$2" >/dev/null 2>&1; then echo "rsync=$(command -v "$2")"; else echo rsync=; fi
if [ -d "$p" ]; then echo path=exists
elif mkdir -p -- "$p" 2>/dev/null; then echo path=created
else echo path=cannot-create; fi
if [ -d "$p" ] && [ -w "$p" ]; then echo writable=yes; else echo writable=no; fi
if cd -- "$p" 2>/dev/null; then echo "abs=$(pwd -P)"; stat -c "owner=%u:%g" . ; fi
set -- "$rsync_prog"
""" + rsyncflavour.GUEST_VERSION


@dataclass(frozen=True)
class Facts:
    uid: int
    gid: int
    user: str
    python3: str
    rsync: str
    path_state: str  # exists | created | cannot-create
    writable: bool
    abs_path: str
    owner: tuple[int, int] | None
    rsync_version: str = ""  # the head of the guest rsync's `--version` answer

    @property
    def guest_rsync(self) -> rsyncflavour.Rsync | None:
        return rsyncflavour.identify(self.rsync, self.rsync_version) if self.rsync else None


@dataclass(frozen=True)
class Added:
    guest: Guest  # as stored
    facts: Facts
    host_rsync: rsyncflavour.Rsync | None  # None: no usable one (host_problem says why)
    host_problem: DevenvError | None


def probe(guest: Guest, *, accept_new_host_key: bool = False) -> Facts:
    rsync_prog = rsyncflavour.guest_program(guest)  # "sudo rsync" -> rsync
    res = ssh.run(guest, ["sh", "-c", _PROBE, "sh", guest.path, rsync_prog], timeout=60,
                  accept_new_host_key=accept_new_host_key)
    kv = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    if "uid" not in kv:
        raise GuestError(f"the guest {guest.name} answered, but not as expected: {res.stdout!r} {res.stderr!r}",
                         "is its login shell a POSIX shell?")
    uid_gid = kv.get("owner", "").split(":")
    owner = (int(uid_gid[0]), int(uid_gid[1])) if len(uid_gid) == 2 and all(x.isdigit() for x in uid_gid) else None
    return Facts(
        uid=int(kv["uid"]), gid=int(kv["gid"]), user=kv.get("user", ""),
        python3=kv.get("python3", ""), rsync=kv.get("rsync", ""),
        path_state=kv.get("path", "cannot-create"), writable=kv.get("writable") == "yes",
        abs_path=kv.get("abs", guest.path),
        owner=owner, rsync_version=kv.get("rsyncv", "").replace("|", "\n"),
    )


def build_guest(
    name: str, *, ssh_target: str | None, vagrant_dir: str | None, machine: str | None, port: int | None,
    identity: str | None, path: str, ssh_config: str | None, rsync_path: str | None,
    host_rsync: str | None = None,
) -> Guest:
    guests.check_name(name)
    if bool(ssh_target) == bool(vagrant_dir):
        raise UsageError("say how to reach the guest: --ssh USER@HOST or --vagrant [DIR] (one of them)")
    if not path:
        raise UsageError("--path is required: the project folder on the guest")
    if ssh_config and not Path(ssh_config).is_file():
        raise UsageError(f"ssh config file {ssh_config} does not exist")
    if identity and not Path(identity).is_file():
        raise UsageError(f"identity file {identity} does not exist")
    cfg = lambda p: str(Path(p).expanduser().resolve()) if p else None  # noqa: E731 - ssh runs elsewhere
    if vagrant_dir:
        vm = vagrant.ssh_config(Path(vagrant_dir), machine)
        return Guest(name=name, host=vm.host, path=path, user=vm.user, port=port or vm.port,
                     identity=cfg(identity) or vm.identity, ssh_config=cfg(ssh_config), rsync_path=rsync_path,
                     source="vagrant", vagrant_dir=str(Path(vagrant_dir).resolve()), machine=machine,
                     host_rsync=host_rsync)
    assert ssh_target is not None
    user, _, host = ssh_target.rpartition("@")
    if not host or host.startswith("-"):
        raise UsageError(f"bad --ssh value {ssh_target!r}", "use USER@HOST, HOST, or a Host alias from ssh config")
    return Guest(name=name, host=host, path=path, user=user or None, port=port, identity=cfg(identity),
                 ssh_config=cfg(ssh_config), rsync_path=rsync_path, host_rsync=host_rsync)


def add(project_root: Path, guest: Guest, *, accept_new_host_key: bool = False) -> Added:
    """Verify the guest and both rsyncs, then store it (its folder made absolute, a --rsync program
    remembered). Raises GuestError if the guest is unusable, ToolMissing/UsageError for a bad --rsync."""
    host, problem = host_rsync(guest)
    facts = probe(guest, accept_new_host_key=accept_new_host_key)
    if facts.path_state == "cannot-create":
        raise GuestError(f"cannot create {guest.path} on the guest as {facts.user}",
                         "create it there (sudo mkdir -p DIR && sudo chown USER DIR), or choose another --path")
    if not facts.writable:
        raise GuestError(f"{guest.path} on the guest is not writable by {facts.user}",
                         f"on the guest: sudo chown -R {facts.user} {guest.path}, or choose another --path")
    found = facts.guest_rsync
    too_old = rsyncflavour.guest_problem(found, guest.name) if found else None
    if too_old:
        raise too_old
    remembered = host.path if guest.host_rsync and host else None
    stored = dataclasses.replace(guest, path=facts.abs_path, host_rsync=remembered)
    guests.save(project_root, stored)
    return Added(stored, facts, host, problem)


def host_rsync(guest: Guest) -> tuple[rsyncflavour.Rsync | None, DevenvError | None]:
    """The host rsync for this guest. One the user named must be usable (raises); one devenv picked
    that is not is returned as the problem, for a warning."""
    if guest.host_rsync:
        return rsyncflavour.select(explicit=guest.host_rsync), None
    try:
        return rsyncflavour.select(), None
    except DevenvError as exc:
        return None, exc
