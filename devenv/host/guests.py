"""Guests: the machines (VM, container, remote box) a project's code runs in, reached over ssh.

Stored per project in devenv's state (`guests.json`, written atomically). A Guest is parsed once here
and passed around frozen; nothing else reads the JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from devenv import fsutil, paths
from devenv.errors import ConfigError, UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Guest:
    name: str
    host: str  # a hostname, an address, or a Host alias from the ssh config
    path: str  # the project folder on the guest (absolute once verified by `guest add`)
    user: str | None = None  # None: whatever the ssh config says
    port: int | None = None
    identity: str | None = None  # a private key file (-i)
    ssh_config: str | None = None  # an ssh config file (-F); None: the user's ~/.ssh/config
    rsync_path: str | None = None  # the guest's rsync if not on its PATH (e.g. "sudo rsync")
    host_rsync: str | None = None  # the host's rsync for this guest (`guest add --rsync`); None: devenv picks
    # rsync patterns this target never syncs: an attached devstack repo keeps the guest's own /.git (devstack's
    # clone; the host's is a separate clone of the same commits)
    excludes: tuple[str, ...] = ()
    source: str = "ssh"  # 'ssh' | 'vagrant'
    vagrant_dir: str | None = None
    machine: str | None = None

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def describe(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.name} ({self.destination}{port}:{self.path})"


def state_file(project_root: Path) -> Path:
    return paths.project_state(project_root) / "guests.json"


def _read(project_root: Path) -> dict[str, Any]:
    path = state_file(project_root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"guests": {}, "default": None}
    except (OSError, ValueError) as exc:
        hint = "fix or delete the file, then add the guest again"
        raise ConfigError(f"cannot read {path}: {exc}", hint) from exc
    if not isinstance(data, dict) or not isinstance(data.get("guests"), dict):
        raise ConfigError(f"{path} is not a devenv guests file", "delete it and add the guests again")
    return data


def _write(project_root: Path, data: dict[str, Any]) -> None:
    fsutil.atomic_write(state_file(project_root), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _from_dict(raw: dict[str, Any]) -> Guest:
    known = {f.name for f in fields(Guest)}
    values = {k: v for k, v in raw.items() if k in known}
    if isinstance(values.get("excludes"), list):
        values["excludes"] = tuple(values["excludes"])
    try:
        return Guest(**values)
    except TypeError as exc:
        raise ConfigError(f"a stored guest is incomplete: {exc}", "remove it and add it again") from exc


def all_guests(project_root: Path) -> list[Guest]:
    data = _read(project_root)
    return [_from_dict(raw) for _, raw in sorted(data["guests"].items())]


def default_name(project_root: Path) -> str | None:
    data = _read(project_root)
    default = data.get("default")
    return default if isinstance(default, str) else None


def load(project_root: Path, name: str | None = None) -> Guest:
    """The guest called `name`; with None, the default guest (or the only one)."""
    data = _read(project_root)
    stored = data["guests"]
    if not stored:
        raise UsageError(
            f"no guest is set up for {project_root}",
            "add one: devenv guest add NAME --ssh USER@HOST --path REMOTE_DIR (or --vagrant)",
        )
    if name is None:
        name = data.get("default") if data.get("default") in stored else None
        if name is None:
            if len(stored) > 1:
                raise UsageError(
                    f"this project has several guests ({', '.join(sorted(stored))})", "name the one to use"
                )
            name = next(iter(stored))
    if name not in stored:
        known = ", ".join(sorted(stored))
        raise UsageError(f"no guest named {name!r} (known: {known})", "see: devenv guest list")
    return _from_dict(stored[name])


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"bad guest name {name!r}", "use letters, digits, '.', '_' or '-' (not starting with '-' or '.')"
        )
    return name


def save(project_root: Path, guest: Guest, *, make_default: bool = False) -> None:
    check_name(guest.name)
    data = _read(project_root)
    data["guests"][guest.name] = asdict(guest)
    if make_default or data.get("default") not in data["guests"]:
        data["default"] = guest.name
    _write(project_root, data)


def remove(project_root: Path, name: str) -> Guest:
    data = _read(project_root)
    if name not in data["guests"]:
        raise UsageError(f"no guest named {name!r}", "see: devenv guest list")
    guest = _from_dict(data["guests"].pop(name))
    if data.get("default") == name:
        data["default"] = next(iter(sorted(data["guests"])), None)
    _write(project_root, data)
    return guest
