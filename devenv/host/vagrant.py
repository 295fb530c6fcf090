"""Reading a Vagrant machine's ssh settings from `vagrant ssh-config`.

Only HostName, User, Port and IdentityFile are taken. Vagrant's own output also says
`StrictHostKeyChecking no` and `UserKnownHostsFile /dev/null`; devenv deliberately drops those (it never
switches host-key checking off), so a new VM's key is accepted once with --accept-new-host-key.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from devenv import proc
from devenv.errors import GuestError


@dataclass(frozen=True)
class SshConfig:
    host: str
    user: str | None
    port: int | None
    identity: str | None


def parse_ssh_config(text: str, machine: str | None = None) -> SshConfig:
    """Parse `vagrant ssh-config` output; with several machines, take `machine` (else the first)."""
    blocks: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = _unquote(value.strip())
        if key.lower() == "host":
            blocks.append((value, {}))
        elif blocks:
            blocks[-1][1].setdefault(key.lower(), value)  # ssh semantics: the first value wins
    if not blocks:
        raise GuestError("`vagrant ssh-config` printed no Host block", "is the machine created? run: vagrant up")
    chosen = next((b for b in blocks if machine and b[0] == machine), None) if machine else blocks[0]
    if chosen is None:
        names = ", ".join(b[0] for b in blocks)
        raise GuestError(f"no Vagrant machine named {machine!r} (found: {names})", "pass --machine NAME")
    opts = chosen[1]
    if "hostname" not in opts:
        raise GuestError(f"`vagrant ssh-config` gave no HostName for {chosen[0]}", "is the machine running?")
    port = opts.get("port")
    return SshConfig(
        host=opts["hostname"],
        user=opts.get("user"),
        port=int(port) if port and port.isdigit() else None,
        identity=opts.get("identityfile"),
    )


def _unquote(value: str) -> str:
    # Vagrant quotes paths with spaces: IdentityFile "/home/me/my vms/.vagrant/.../private_key"
    if value.startswith('"'):
        try:
            return shlex.split(value)[0]
        except ValueError:
            return value.strip('"')
    return value


def ssh_config(vagrant_dir: Path, machine: str | None) -> SshConfig:
    argv = ["vagrant", "ssh-config", *([machine] if machine else [])]
    res = proc.run(argv, timeout=120, cwd=vagrant_dir, what="vagrant ssh-config")
    if not res.ok:
        raise GuestError(f"vagrant ssh-config failed in {vagrant_dir}: {proc.tail(res.stderr)}",
                         "run `vagrant up` there first (and `vagrant status` to see the machine names)")
    return parse_ssh_config(res.stdout, machine)
