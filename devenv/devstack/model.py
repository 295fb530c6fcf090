"""What devenv read about a guest's devstack. Parsed once at the edge (localconf, reader), then frozen."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TRUE = ("1", "yes", "Yes", "YES", "true", "True", "TRUE")  # devstack's trueorfalse (functions-common)
FALSE = ("0", "no", "No", "NO", "false", "False", "FALSE")


def trueorfalse(value: str | None, default: bool) -> bool:
    """devstack's own reading of a flag: anything it does not recognise is the default."""
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return default


@dataclass(frozen=True)
class Unreadable:
    """A local.conf line devenv did not evaluate (it never runs shell), and why."""

    line: int
    text: str
    why: str


@dataclass(frozen=True)
class Plugin:
    name: str
    url: str
    branch: str | None = None


@dataclass(frozen=True)
class LocalConf:
    """The [[local|localrc]] part of a local.conf, evaluated as far as it can be without a shell.

    values: every NAME (and NAME[key]) assigned in localrc, expanded; lines: where each was last set.
    unknown: names whose value devenv could not compute (set by a line in `unreadable`).
    """

    path: str
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    enabled: tuple[str, ...] = ()  # enable_service, in order
    disabled: tuple[str, ...] = ()  # disable_service
    services_replaced: bool = False  # ENABLED_SERVICES= or disable_all_services: devstack's default list is gone
    plugins: tuple[Plugin, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()  # every meta-section header, e.g. ("post-config", "$NOVA_CONF")
    unreadable: tuple[Unreadable, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def where(self, name: str) -> str:
        """'PATH line N' for a name set in localrc, else 'PATH'."""
        line = self.lines.get(name)
        return f"{self.path} line {line}" if line else self.path


@dataclass(frozen=True)
class GitState:
    """A folder on the guest that is a git repo, as the ssh user sees it."""

    branch: str | None  # None: detached HEAD
    head: str | None  # the commit, None when the branch has no commit yet
    owner_uid: int
    owner: str | None  # the owner's user name on the guest
    safe_directory_ok: bool | None  # git accepts it for the ssh user; None: git is not installed there
    git_error: str | None = None  # git's own words when it refused (e.g. "detected dubious ownership")


@dataclass(frozen=True)
class Repo:
    name: str  # devstack's name: nova, oslo.messaging, requirements
    path: str  # where devstack clones it: $DEST/<name>
    url: str | None = None  # <PROJECT>_REPO / GITREPO, as set in local.conf (None: devstack's default)
    branch: str | None = None  # <PROJECT>_BRANCH, as set in local.conf
    from_git: bool = False  # named in LIBS_FROM_GIT
    editable: str | None = None  # the folder the venv's editable install points at; None: not editable there
    dist: str | None = None  # the distribution installed from it (e.g. oslo.messaging)
    git: GitState | None = None  # None: not cloned yet (no such folder, or not a git repo)
    synced: bool = False  # the guest's sync target (devenv sync writes here)

    @property
    def cloned(self) -> bool:
        return self.git is not None


@dataclass(frozen=True)
class Devstack:
    local_conf: LocalConf
    devstack_dir: str  # the devstack checkout (where stack.sh and local.conf are)
    dest: str
    data_dir: str
    venv: str
    global_venv: bool
    stack_user: str
    services: tuple[str, ...]  # enabled in local.conf; plus devstack's default list unless services_replaced
    libs_from_git: tuple[str, ...]
    reclone: bool
    stacked: bool  # the venv exists: stack.sh has run (at least that far)
    ssh_uid: int | None = None  # the uid devenv's ssh user has on the guest
    repos: dict[str, Repo] = field(default_factory=dict)

    @property
    def reclone_where(self) -> str:
        return self.local_conf.where("RECLONE")

    def repo(self, name: str) -> Repo:
        """The repo called name; a clear error when devstack does not know it or has not cloned it yet."""
        from devenv.errors import GuestError, UsageError

        if name not in self.repos:
            known = ", ".join(sorted(self.repos)) or "none"
            raise UsageError(f"devstack on this guest has no repo {name!r} (known: {known})",
                             "add it to LIBS_FROM_GIT in local.conf, or name one of the known repos")
        repo = self.repos[name]
        if repo.git is None:
            why = "it is in LIBS_FROM_GIT but" if repo.from_git else "it"
            raise GuestError(f"{name}: {why} is not cloned to {repo.path} yet",
                             f"run stack.sh on the guest (it clones it), or: git clone {repo.url or 'URL'} {repo.path}")
        return repo

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["local_conf"]["unknown"] = sorted(self.local_conf.unknown)
        return data
