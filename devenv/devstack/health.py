"""doctor's devstack section for one guest: local.conf, the RECLONE hazard, the repos and git's ownership
check. Returns Findings, never raises for what it finds (doctor turns a raised error into one finding)."""

from __future__ import annotations

from devenv.devstack import guard, reader
from devenv.devstack.model import Devstack, Repo
from devenv.findings import Finding
from devenv.host.guests import Guest


def findings(guest: Guest, timeout: float = reader.TIMEOUT) -> list[Finding] | None:
    """None when the guest has no devstack (doctor then shows no devstack section)."""
    found = reader.find(guest, timeout=timeout)
    if found.conf is None:
        return None
    dev = reader.from_found(guest, found, timeout=timeout)
    return [_localconf(guest, dev), _reclone(guest, dev), *_repos(guest, dev)]


def _localconf(guest: Guest, dev: Devstack) -> Finding:
    check = f"devstack.{guest.name}.localconf"
    conf = dev.local_conf
    ran = "stack.sh has run" if dev.stacked else f"stack.sh has not run yet (no venv at {dev.venv})"
    message = (f"{conf.path}: DEST={dev.dest}, venv {dev.venv}, STACK_USER={dev.stack_user}, "
               f"LIBS_FROM_GIT={','.join(dev.libs_from_git) or '(none)'}; {ran}")
    if conf.unreadable:
        lines = "; ".join(f"line {u.line}: {u.why}" for u in conf.unreadable[:5])
        return Finding(check, "warn", f"{message}; {len(conf.unreadable)} line(s) not read: {lines}",
                       "devenv never runs local.conf's shell; settings made there are unknown to it")
    return Finding(check, "ok", message)


def _reclone(guest: Guest, dev: Devstack) -> Finding:
    check = f"devstack.{guest.name}.reclone"
    unknown = "RECLONE" in dev.local_conf.unknown
    if not (dev.reclone or unknown):
        return Finding(check, "ok", "RECLONE is off: stack.sh leaves existing repos alone")
    hazard = guard.Hazard(dev.reclone_where, dev.dest, guest.path, unknown)
    if reader.under(guest.path, dev.dest):
        return Finding(check, "fail", hazard.message, "devenv sync refuses to sync into DEST until it is off",
                       hazard.fix)
    return Finding(check, "warn", f"RECLONE is on at {dev.reclone_where} (the sync target {guest.path} is outside "
                   f"DEST {dev.dest}, so devenv's syncs are safe)", "stack.sh resets every repo under DEST",
                   f"set RECLONE=False in {dev.local_conf.path}")


def _repos(guest: Guest, dev: Devstack) -> list[Finding]:
    out = []
    for repo in dev.repos.values():
        out.append(_repo(guest, dev, repo))
    return out


def _repo(guest: Guest, dev: Devstack, repo: Repo) -> Finding:
    check = f"devstack.{guest.name}.repo.{repo.name}"
    role = " (the sync target)" if repo.synced else ""
    if repo.git is None:
        why = "in LIBS_FROM_GIT but " if repo.from_git else ""
        status = "warn" if repo.from_git or repo.synced else "ok"
        return Finding(check, status, f"{repo.name}{role}: {why}not cloned to {repo.path} yet",
                       "stack.sh clones it" if not repo.synced else "the first sync creates it",
                       f"run ./stack.sh in {dev.devstack_dir}" if repo.from_git else "")
    git = repo.git
    at = f"{git.branch or 'detached'}@{(git.head or 'no commit')[:10]}"
    installed = f", installed editable as {repo.dist}" if repo.editable else (
        ", not installed editable in the venv" if dev.stacked else "")
    owner = f"owned by {git.owner or git.owner_uid} (uid {git.owner_uid})"
    message = f"{repo.name}{role} at {repo.path}: {at}{installed}; {owner}"
    if git.safe_directory_ok is False:
        return Finding(check, "fail", f"{message}; git refuses it for the ssh user (uid {dev.ssh_uid}): "
                       f"{git.git_error}", "git commands (and pbr's version) fail in this repo as that user",
                       f"on the guest, as the ssh user: git config --global --add safe.directory {repo.path}  "
                       "(devstack does the same with --system for the repos it clones)")
    if git.safe_directory_ok is None:
        return Finding(check, "warn", f"{message}; git is not installed, its ownership check was not run")
    return Finding(check, "ok", f"{message}; git accepts it for the ssh user")
