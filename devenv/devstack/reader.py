"""Read a guest's devstack over ssh: local.conf first (works before stack.sh ran), then the venv and repos.

Two bounded ssh round trips, each running guest_probe.py with `python3 -` (the guest needs nothing but
python3, as for the share probes). The parsing happens here, on the host, in between: the second asks
about the DEST and venv that local.conf names. Given an ssh master's socket (control_path, as attach
passes), both ride on its connection and skip the handshake.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv import proc
from devenv.devstack import localconf
from devenv.devstack.model import Devstack, GitState, LocalConf, Repo
from devenv.errors import ConfigError, GuestError
from devenv.host.guests import Guest

SCRIPT = Path(__file__).with_name("guest_probe.py")
TIMEOUT = 20.0  # seconds for one round trip; the probe's own alarm fires a little earlier


@dataclass(frozen=True)
class Found:
    """Where devstack lives on a guest, and its local.conf (None when there is no devstack)."""

    devstack_dir: str | None
    conf: LocalConf | None
    owner: str | None  # owner of the devstack folder: who runs stack.sh, devstack's STACK_USER default
    gitrepo: dict[str, str]  # local.conf prefix -> library name, from the guest's stackrc (OSLOMSG -> oslo.messaging)
    ssh_uid: int | None
    tried: tuple[str, ...]


def probe(guest: Guest, args: list[str], *, timeout: float = TIMEOUT, control_path: str | None = None) -> Any:
    from devenv.host import ssh

    deadline = max(1.0, timeout - 2)
    res = ssh.run(guest, ["python3", "-", *args, "--deadline", f"{deadline:g}"],
                  input=SCRIPT.read_text(encoding="utf-8"), timeout=timeout, control_path=control_path)
    if res.returncode == 127 or "python3: not found" in res.stderr:
        raise GuestError(f"python3 is not installed on {guest.describe()}",
                         "install it in the guest (apt-get install python3); devenv reads devstack with it")
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        raise GuestError(f"the devstack probe on {guest.name} gave no answer within {deadline:g} s "
                         f"(exit {res.returncode}: {proc.tail(res.stderr)}); a folder on a hung share?",
                         f"try it by hand: ssh {guest.destination} ls /opt/stack") from None


def find(guest: Guest, local_conf: str | None = None, *, timeout: float = TIMEOUT,
         control_path: str | None = None) -> Found:
    """Locate devstack and parse its local.conf. Found.conf is None when the guest has no devstack;
    a devstack without a readable local.conf, or a malformed one, is a ConfigError."""
    args = ["find"] + (["--local-conf", local_conf] if local_conf else [])
    raw = probe(guest, args, timeout=timeout, control_path=control_path)
    tried = tuple(raw.get("tried") or ())
    found = Found(raw.get("devstack_dir"), None, raw.get("owner"), dict(raw.get("gitrepo") or {}),
                  raw.get("uid"), tried)
    if raw.get("error"):
        raise ConfigError(f"cannot read local.conf on {guest.name}: {raw['error']}",
                          "make it readable for the ssh user (chmod o+r), or pass --local-conf PATH")
    if raw.get("localrc_text") is not None:  # an old-style localrc wins over local.conf's (stackrc)
        conf = localconf.parse(raw["localrc_text"], raw["localrc"], bare=True)
        return Found(found.devstack_dir, conf, found.owner, found.gitrepo, found.ssh_uid, tried)
    if raw.get("text") is None:
        if found.devstack_dir is None and local_conf is None:
            return found  # no devstack at all
        where = local_conf or posixpath.join(found.devstack_dir or "", "local.conf")
        raise ConfigError(f"no local.conf at {where} on {guest.name}",
                          "write one with a [[local|localrc]] section (devstack's doc/source/configuration.rst),"
                          " or pass --local-conf PATH")
    conf = localconf.parse(raw["text"], raw["local_conf"])
    return Found(found.devstack_dir, conf, found.owner, found.gitrepo, found.ssh_uid, tried)


def require(found: Found, guest: Guest) -> LocalConf:
    if found.conf is None:
        raise GuestError(f"no devstack on {guest.describe()} (looked for {', '.join(found.tried)})",
                         "clone devstack there (git clone https://opendev.org/openstack/devstack), or pass "
                         "--local-conf PATH if it lives elsewhere")
    return found.conf


def read(guest: Guest, local_conf: str | None = None, *, timeout: float = TIMEOUT,
         control_path: str | None = None) -> Devstack:
    """Everything devenv knows about the guest's devstack. GuestError when there is none.
    control_path: an ssh master's socket (sshmaster.Master.wait()) both round trips go through."""
    found = find(guest, local_conf, timeout=timeout, control_path=control_path)
    return from_found(guest, found, timeout=timeout, control_path=control_path)


def from_found(guest: Guest, found: Found, *, timeout: float = TIMEOUT, control_path: str | None = None) -> Devstack:
    """read(), given what find() said (one ssh round trip fewer)."""
    conf = require(found, guest)
    s = localconf.settings(conf, stack_user=found.owner or "stack")
    dest, venv = str(s["dest"]), str(s["venv"])
    planned = planned_repos(conf, found.gitrepo, dest, str(s["requirements_dir"]), guest.path)
    args = ["state", "--venv", venv, "--dest", dest] + [f"--repo={r.name}={r.path}" for r in planned.values()]
    raw = probe(guest, args, timeout=timeout, control_path=control_path)
    repos = attach_state(planned, raw, dest, guest.path)
    services = tuple(dict.fromkeys(s for s in conf.enabled if s not in conf.disabled))
    return Devstack(conf, found.devstack_dir or posixpath.dirname(conf.path), dest, str(s["data_dir"]), venv,
                    bool(s["global_venv"]), str(s["stack_user"]), services, tuple(s["libs_from_git"]),  # type: ignore[arg-type]
                    bool(s["reclone"]), bool(raw.get("venv")), raw.get("uid"), repos)


def planned_repos(conf: LocalConf, gitrepo: dict[str, str], dest: str, requirements_dir: str,
                  synced: str) -> dict[str, Repo]:
    """The repos local.conf names: LIBS_FROM_GIT, <PROJECT>_REPO settings, requirements (always cloned)."""
    repos: dict[str, Repo] = {"requirements": Repo("requirements", requirements_dir)}
    libs = set(localconf.settings(conf)["libs_from_git"])  # type: ignore[call-overload]
    for lib in sorted(libs - {"ALL"}):
        repos[lib] = Repo(lib, posixpath.join(dest, lib), from_git=True)
    for key, value in conf.values.items():
        name = _repo_name(key, gitrepo)
        if name is None:
            continue
        old = repos.get(name, Repo(name, posixpath.join(dest, name), from_git=name in libs))
        repos[name] = Repo(name, old.path, value, conf.get(f"{key[:-5]}_BRANCH") if key.endswith("_REPO") else None,
                           old.from_git)
    if not any(_under(posixpath.normpath(synced), posixpath.normpath(r.path)) for r in repos.values()):
        name = posixpath.basename(posixpath.normpath(synced))  # the sync target: its git state is reported too
        repos.setdefault(name, Repo(name, synced))
    return repos


def _repo_name(key: str, gitrepo: dict[str, str]) -> str | None:
    if key.startswith("GITREPO[") and key.endswith("]"):
        return key[len("GITREPO["):-1]
    if not key.endswith("_REPO") or key in ("DEVSTACK_REPO",):
        return None
    prefix = key[:-len("_REPO")]
    return gitrepo.get(prefix, prefix.lower().replace("_", "-"))


def attach_state(planned: dict[str, Repo], raw: dict[str, Any], dest: str, synced: str) -> dict[str, Repo]:
    """Add what the guest said: git state per repo, and the venv's editable installs (repo <-> folder)."""
    by_location = {posixpath.normpath(e["location"]): e["dist"] for e in raw.get("editables") or []}
    repos = dict(planned)
    for name in raw.get("found") or []:
        repos.setdefault(name, Repo(name, posixpath.join(dest, name)))
    for location in by_location:  # editable installs from outside DEST (NOVA_REPO=/home/me/nova)
        if not any(posixpath.normpath(r.path) == location for r in repos.values()):
            name = posixpath.basename(location)
            repos.setdefault(name, Repo(name, location))
    out = {}
    for name, repo in sorted(repos.items()):
        git = (raw.get("repos") or {}).get(name)
        path = posixpath.normpath(repo.path)
        out[name] = Repo(repo.name, repo.path, repo.url, repo.branch, repo.from_git,
                         path if path in by_location else None, by_location.get(path),
                         GitState(**git) if git else None, _under(posixpath.normpath(synced), path))
    return out


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def under(path: str, folder: str) -> bool:
    """path is folder or inside it (both absolute posix paths on the guest)."""
    return _under(posixpath.normpath(path), posixpath.normpath(folder))
