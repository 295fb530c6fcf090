"""The top-level jobs the CLI runs: init, refresh, show. Each is: load the project, then the steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv import crossrepo, lock, paths, project, source, venv
from devenv.errors import DevenvError, InstallError
from devenv.project import Project
from devenv.report import Reporter

LOCK_TIMEOUT = lock.DEFAULT_TIMEOUT


@dataclass(frozen=True)
class InitOptions:
    target: str | None = None
    source: str | None = None
    venv: venv.Options = venv.Options()
    ide: bool = True
    lock_timeout: float = LOCK_TIMEOUT
    gerrit_user: str | None = None  # --gerrit-user: for git review -s, when git config has no gitreview.username
    gerrit_timeout: float = 30.0
    pre_commit: bool | None = None  # --pre-commit / --no-pre-commit; None: as remembered for the project
    with_: crossrepo.Change = crossrepo.Change()  # --with / --without / --with-none: other checkouts, editable
    ide_choice: str | None = None  # --ide pycharm,vscode (remembered); None: as remembered, else as found


def init(opts: InitOptions, rep: Reporter) -> dict[str, Any]:
    cwd = Path.cwd()
    if opts.target is None:
        root = project.find_root(cwd)
    else:
        with rep.phase("source") as info:
            root, url = source.locate(opts.target, opts.source, cwd)
            if url:
                source.clone(url, root)
                info["result"] = f"cloned {url}"
            else:
                info["result"] = str(root)
    summary = _setup(root, opts.venv, opts.ide, opts.lock_timeout, rep, change=opts.with_, ide_choice=opts.ide_choice)
    # The contributor steps after the venv and the IDE: each is said and, where the user must act, raised
    # only after the others are done (as the IDE merge's conflicts are).
    pending: list[DevenvError] = []
    summary["pre_commit"] = _precommit(root, opts, rep, pending)
    summary["gerrit"] = _gerrit(root, opts, rep)
    rep.data.update(summary)
    if pending:
        raise pending[0]
    if not rep.quiet:
        from devenv import onboarding

        steps = onboarding.next_steps(project.load(root))
        if steps:
            rep.line("next:")
            for step in steps:
                rep.line(f"  {step}")
    return summary


def refresh(path: str | None, opts: venv.Options, rep: Reporter, lock_timeout: float = LOCK_TIMEOUT,
            hook_child: bool = False) -> dict[str, Any]:
    """hook_child: the refresh a git hook started (hookrun): a failure is also recorded, for the next
    devenv command to say, since nobody may be watching."""
    root = project.resolve_root(path)
    if not hook_child:
        return _setup(root, opts, True, lock_timeout, rep)
    from devenv import hookrun

    try:
        out = _setup(root, opts, True, lock_timeout, rep, hook_child=True)
    except DevenvError as exc:
        hookrun.record_failure(root, exc.message)
        raise
    except Exception as exc:  # a bug (exit 70): in the background nobody would see its log line either
        hookrun.record_failure(root, f"internal error ({type(exc).__name__}: {exc}); see devenv's log")
        raise
    hookrun.clear_failure(root)
    return out


def _setup(root: Path, vopts: venv.Options, ide: bool, lock_timeout: float, rep: Reporter,
           hook_child: bool = False, change: crossrepo.Change = crossrepo.Change(),
           ide_choice: str | None = None) -> dict[str, Any]:
    from devenv import hookrun

    if not hook_child:
        missed = hookrun.last_failure(root)  # a hook's refresh that failed in the background: said once
        if missed:
            rep.warn(missed)
    with lock.project_lock(paths.project_state(root) / "lock", lock_timeout):
        with rep.phase("project") as info:
            proj = project.load(root)
            info["result"] = f"{proj.name} ({proj.runner.kind or 'no'} tests, Python {proj.python_floor or 'any'})"
        for problem in proj.unresolved:
            rep.warn(f"not resolved: {problem}")
        others = crossrepo.select(proj, change)  # checked before anything is touched
        try:
            outcome = crossrepo.install(proj, others, vopts, rep)
        except InstallError as exc:
            _name_missing_system_packages(proj, exc)
            raise
        summary: dict[str, Any] = {"project": proj.name, "root": str(proj.root), "venv": vars(outcome)}
        summary["system"] = _system(proj, rep)
        summary["tools"] = _tools(proj, rep)
        if ide:
            from devenv import idechoice

            summary.update(_ide(proj, rep, idechoice.resolve(root, ide_choice)))
    if not rep.quiet:  # the hooks run quietly: no nagging on every checkout
        _identity(root, rep)
    rep.data.update(summary)
    return summary


def _name_missing_system_packages(proj: Project, exc: InstallError) -> None:
    """A package that fails to build usually lacks a system library bindep.txt names: say which."""
    if proj.bindep_file is None:
        return
    from devenv import sysdeps

    try:
        report = sysdeps.check(proj.bindep_file, proj.root)
    except DevenvError:
        return
    if report.missing and report.install_command:
        exc.hint = f"this machine lacks system packages bindep.txt lists: {report.install_command}\n  then: {exc.hint}"


def _system(proj: Project, rep: Reporter) -> dict[str, Any] | None:
    if proj.bindep_file is None:
        return None
    from devenv import sysdeps

    with rep.phase("system") as info:
        report = sysdeps.check(proj.bindep_file, proj.root)
        info["result"] = "all bindep.txt packages present" if not report.missing else \
            f"{len(report.missing)} missing"
    if rep.quiet:  # `refresh --quiet` runs from git hooks: no repeated nagging on every checkout
        return report.to_json()
    if report.missing:
        rep.warn(f"system packages missing (from bindep.txt): {' '.join(report.missing)}")
        if report.install_command:
            rep.line(f"    install them with: {report.install_command}")
    for bad in report.bad_versions:
        rep.warn(f"system package version: {bad}")
    return report.to_json()


def needs_tools(proj: Project) -> bool:
    """tox envs to configure, a pre-commit config, or a .gitreview: what devenv's tools venv serves."""
    from devenv.ide import runconfigs

    return bool(runconfigs.tox_envs(proj)) or (proj.root / ".pre-commit-config.yaml").is_file() \
        or (proj.root / ".gitreview").is_file()


def _tools(proj: Project, rep: Reporter) -> str | None:
    """devenv's tools venv (tox, pre-commit, git-review) for the venv's Python; built once per machine.

    Not having it is not fatal: the venv and the test configurations work without it, so a failure (an
    unreachable index) is a warning naming what is left out, and the next init tries again."""
    if not needs_tools(proj):
        return None
    from devenv import interpreter, tools

    interp = interpreter.from_venv(proj.venv)
    if interp is None:
        return None
    found = tools.find(interp.version)
    if found is not None:
        return str(found.root)
    with rep.phase("tools") as info:
        try:
            built = tools.ensure(Path(interp.path), interp.version)
        except DevenvError as exc:
            info["result"] = "not installed"
            fix = f" ({exc.hint})" if exc.hint else ""
            rep.warn(f"devenv's tools (tox, pre-commit, git-review) could not be installed: {exc.message}{fix}; "
                     "the Tox configurations, the pre-commit hook and the Gerrit setup are left out until "
                     "`devenv init` runs again")
            return None
        info["result"] = f"{', '.join(tools.TOOLS)} in {built.root}"
    return str(built.root)


def _toolset(root: Path):
    from devenv import interpreter, tools

    interp = interpreter.from_venv(root / ".venv")
    return tools.find(interp.version) if interp is not None else None


def _precommit(root: Path, opts: InitOptions, rep: Reporter, pending: list[DevenvError]) -> dict[str, Any] | None:
    """pre-commit's git hook (precommit.py) when the project has a .pre-commit-config.yaml, unless opted out
    (--no-pre-commit, remembered per project; --pre-commit opts back in)."""
    from devenv import precommit

    if opts.pre_commit is not None:
        precommit.set_opted_out(root, not opts.pre_commit)
    if precommit.config_file(root) is None:
        return None
    if opts.pre_commit is False:  # opting out after an install: take devenv's hook away (the user's comes back)
        installed = precommit.installed_tools(root)
        if installed is not None:
            for line in precommit.uninstall(root, installed):
                rep.line(f"    {line}")
    toolset = _toolset(root)
    if toolset is None:
        if not precommit.opted_out(root):
            rep.warn("pre-commit's hook is not installed: devenv's tools venv is missing (see above); "
                     "`devenv init` installs it when it can")
        return {"verb": "skipped"}
    with rep.phase("pre-commit") as info:
        try:
            out = precommit.install(root, toolset)
        except DevenvError as exc:
            info["result"] = "not installed"
            pending.append(exc)
            return {"verb": "failed", "error": exc.message}
        info["result"] = f"{out.verb}" + (f" ({', '.join(out.hook_types)})" if out.hook_types else "")
    for line in out.messages:
        rep.line(f"    {line}")
    return {"verb": out.verb, "hook_types": list(out.hook_types), "ready": out.ready}


def _gerrit(root: Path, opts: InitOptions, rep: Reporter) -> dict[str, Any] | None:
    """What `git review -s` sets up (gerrit.py), when the project has a .gitreview. Never fatal: a contributor
    without a Gerrit account yet, or offline, still gets a working setup, and is told what to run later."""
    if not (root / ".gitreview").is_file():
        return None
    from devenv import gerrit

    toolset = _toolset(root)
    with rep.phase("gerrit") as info:
        out = gerrit.setup(root, toolset.bin("git-review") if toolset else None, user=opts.gerrit_user,
                           timeout=opts.gerrit_timeout)
        info["result"] = out.status
    for i, line in enumerate(out.lines):
        if i == 0 and out.needs_action:
            rep.warn(line)
        else:
            rep.line(f"  {line}" if i == 0 else line)
    return {"status": out.status, "remote": out.remote_url, "hook": out.hook, "later": out.later}


def _identity(root: Path, rep: Reporter) -> None:
    from devenv import gitidentity

    keys = gitidentity.missing(root)
    if keys:
        rep.warn(f"git has no {' and no '.join(keys)}: commits and `git review` need them; devenv does not set "
                 f"them: {gitidentity.fix(keys)}")


def _ide(proj: Project, rep: Reporter, ides: tuple[str, ...] = ("pycharm",)) -> dict[str, Any]:
    """Each chosen IDE's setup. A conflict or unreadable file in one is raised after the other is written."""
    out: dict[str, Any] = {"ides": list(ides)}
    pending: list[DevenvError] = []
    for name, fn in (("pycharm", _pycharm), ("vscode", _vscode)):
        if name not in ides:
            continue
        try:
            out["ide" if name == "pycharm" else name] = fn(proj, rep)
        except DevenvError as exc:
            pending.append(exc)
    if pending:
        raise pending[0]
    return out


def _pycharm(proj: Project, rep: Reporter) -> dict[str, Any]:
    """The PyCharm setup: the project alone, or with its --with checkouts one window over all of them
    (ide/workspace.py: a module per repo, one interpreter: the project's venv, which has them all)."""
    from devenv import crossrepo
    from devenv.ide import setup as ide_setup

    others = [project.load(p) for p in crossrepo.remembered(proj.root) if p.is_dir()]
    with rep.phase("ide") as info:
        if others:
            from devenv.ide import workspace

            result = workspace.apply(proj.root, [proj, *others], proj.venv, rep)
        else:
            result = ide_setup.apply(proj, rep)
        info["result"] = result.summary()
    return result.to_json()


def _vscode(proj: Project, rep: Reporter) -> dict[str, Any]:
    """VS Code's .vscode/ files (vscode/setup.py); with --with checkouts also a .code-workspace over all of
    them, each repo's folder set up with the project's venv (vscode/workspace.py)."""
    from devenv import crossrepo
    from devenv.vscode import setup as vscode_setup

    others = [project.load(p) for p in crossrepo.remembered(proj.root) if p.is_dir()]
    with rep.phase("vscode") as info:
        if others:
            from devenv.vscode import workspace as vscode_workspace

            result = vscode_workspace.apply(proj.root, [proj, *others], proj.venv, rep, main=proj)
        else:
            result = vscode_setup.apply(proj, rep)
        info["result"] = result.summary()
    _remote_hints(proj.root, rep)
    return result.to_json()


def _remote_hints(root: Path, rep: Reporter) -> None:
    """For each registered guest: how VS Code's Remote-SSH opens it (guest ssh-config), and how that window
    gets the same setup (devenv run inside the guest)."""
    from devenv.host import guests, sshconfig

    for guest in guests.all_guests(root):
        try:
            block = sshconfig.find(guest.name)
        except DevenvError:  # an ssh config devenv cannot read: guest ssh-config says why, init goes on
            block = None
        if block is None:
            rep.line(f"  hint: `devenv guest ssh-config {guest.name}` lets VS Code's Remote-SSH open guest "
                     f"{guest.name} by name")
            continue
        import shlex

        rep.line(f"  open guest {guest.name} in VS Code: {shlex.join(sshconfig.open_command(guest))}; "
                 f"there, `devenv init --ide vscode {shlex.quote(guest.path)}` sets that window up the same way")


def show(path: str | None) -> Project:
    root = project.resolve_root(path)
    return project.load(root, environ=os.environ)
