"""The top-level jobs the CLI runs: init, refresh, show. Each is: load the project, then the steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv import lock, paths, project, source, venv
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
    summary = _setup(root, opts.venv, opts.ide, opts.lock_timeout, rep)
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
           hook_child: bool = False) -> dict[str, Any]:
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
        try:
            outcome = venv.ensure(proj, vopts, rep)
        except InstallError as exc:
            _name_missing_system_packages(proj, exc)
            raise
        summary: dict[str, Any] = {"project": proj.name, "root": str(proj.root), "venv": vars(outcome)}
        summary["system"] = _system(proj, rep)
        summary["tools"] = _tools(proj, rep)
        if ide:
            summary["ide"] = _ide(proj, rep)
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


def _identity(root: Path, rep: Reporter) -> None:
    from devenv import gitidentity

    keys = gitidentity.missing(root)
    if keys:
        rep.warn(f"git has no {' and no '.join(keys)}: commits and `git review` need them; devenv does not set "
                 f"them: {gitidentity.fix(keys)}")


def _ide(proj: Project, rep: Reporter) -> dict[str, Any]:
    from devenv.ide import setup as ide_setup

    with rep.phase("ide") as info:
        result = ide_setup.apply(proj, rep)
        info["result"] = result.summary()
    return result.to_json()


def show(path: str | None) -> Project:
    root = project.resolve_root(path)
    return project.load(root, environ=os.environ)
