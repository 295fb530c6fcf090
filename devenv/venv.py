"""The project's venv: created with virtualenv, kept current incrementally, never left broken.

A rebuild happens beside the old venv (`.venv.devenv-new`) and is swapped in only after it installed
and imports the project; until then the old venv keeps working. `recover()` finishes or undoes a swap
that an interrupted run left half-done, so the next run always starts from a usable state.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv import constraints as constraints_mod
from devenv import fingerprint, interpreter, proc, venvlayout, venvstore
from devenv.errors import DevenvError, InstallError
from devenv.findings import Finding
from devenv.project import Project
from devenv.report import Reporter

COMPLETE_MARK = venvlayout.COMPLETE_MARK


@dataclass(frozen=True)
class Options:
    python: str | None = None
    constraints: str | None = None
    installer: str = "auto"
    refresh_constraints: bool = False


@dataclass
class Outcome:
    venv: Path
    action: str
    reason: str
    python: str
    installer: str | None = None
    constraints: str | None = None
    added: list[str] = field(default_factory=list)
    log: str | None = None
    others: dict[str, str] = field(default_factory=dict)  # the --with checkouts: name -> folder


def ensure(project: Project, opts: Options, rep: Reporter, others: Sequence[Project] = ()) -> Outcome:
    """others: checkouts installed editable beside the project, in the same installer call, their pins
    dropped from the constraints (`devenv init --with`; validated by crossrepo.py)."""
    venv = project.venv
    recover(venv, rep)
    with rep.phase("python") as info:
        interp = _interpreter(project, opts, venv)
        info["result"] = f"Python {interp.version} ({interp.path})"
    # Read every -r file now, so a missing one is reported before any network access.
    fingerprint.compute(project, interp.version, constraints_mod.Constraints(None, "", "none"), others)
    old_fp = fingerprint.read(venv)
    with rep.phase("constraints") as info:
        cons = constraints_mod.resolve(project, opts.constraints, refresh=opts.refresh_constraints,
                                       remembered=old_fp.constraints_option if old_fp else None,
                                       drop=[o.name for o in others])
        info["result"] = f"{len(cons.lines())} pins from {cons.source}" if cons.source else "none"
    new_fp = fingerprint.compute(project, interp.version, cons, others)
    decision = fingerprint.decide(old_fp, new_fp, _healthy_enough(venv))
    outcome = Outcome(venv, decision.action, decision.reason, interp.version, constraints=cons.source,
                      added=list(decision.added), others={o.name: str(o.root) for o in others})
    if decision.action == "noop":
        if old_fp is not None and old_fp.constraints_option != new_fp.constraints_option:
            fingerprint.write(venv, new_fp)  # remember a newly given --constraints for later refreshes
        rep.line(f"  venv           up to date ({venv})")
        return outcome
    if decision.action == "create" and _from_worktree(project, venv, new_fp, rep):
        outcome.action, outcome.reason = "copy", "copied from another worktree's venv with the same fingerprint"
        return outcome
    if decision.action != "create" and _restore_kept(project, venv, old_fp, new_fp, rep):
        outcome.action, outcome.reason = "restore", f"a venv built for this state was kept ({decision.reason})"
        return outcome
    from devenv import installed  # packaging's marker parser and email: only when something changed

    healthy = _healthy_enough(venv)
    dists = installed.read(venv) if decision.requirements_only and healthy else None
    if dists is not None and _satisfied(project, dists, new_fp, rep, decision, others):
        fingerprint.write(venv, new_fp)  # nothing for an installer to do: remember the new state
        outcome.action = "satisfied"
        return outcome
    from devenv import installer  # its error patterns are compiled at import: only when installing

    kind, uv = installer.choose(opts.installer)
    outcome.installer = kind
    rep.detail(f"{decision.action}: {decision.reason}")
    # With uv, a change of the requirements or of the project's own files (same Python, same install
    # mode) is applied to a copy as one exact sync, so the venv it replaces can be kept for going back.
    if uv is not None and project.unit_env.usedevelop and healthy and decision.same_venv:
        # project files unchanged: no rebuild of its metadata
        by_name = (dists is not None and _metadata_current(project, dists)) if decision.requirements_only \
            else decision.project_same
        outcome.log = str(_exact_sync(project, venv, cons, old_fp, new_fp, uv, rep, decision, by_name, others))
        outcome.action = "sync"
        return outcome
    if decision.action == "add":
        with rep.phase("install") as info:
            outcome.log = str(_install(project, venv, cons, new_fp, kind, uv, rep, others=others))
            info["result"] = f"{kind}, in place: {decision.reason}"
    else:
        # Always built beside and swapped in, a first venv too: a failed or interrupted build then never
        # leaves a half-made .venv behind, only the previous one (or none).
        target = venvlayout.new_of(venv)
        had_venv = venv.exists()
        try:  # from the first file of the new venv on: a Ctrl-C or SIGTERM inside virtualenv too
            with rep.phase("venv") as info:
                _create(interp, target, venv)
                info["result"] = f"{decision.action}: {decision.reason}"
            with rep.phase("install") as info:
                outcome.log = str(_install(project, target, cons, new_fp, kind, uv, rep, kept=had_venv,
                                           others=others))
                info["result"] = kind
            with rep.phase("check") as info:
                _import_check(project, target, others=others)
                info["result"] = "project imports"
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)  # the old venv, if any, stays as it was
            raise
        _swap(target, venv, lambda old: venvstore.keep(project.root, old, old_fp, venv))
    fingerprint.write(venv, new_fp)
    return outcome


def _restore_kept(project: Project, venv: Path, old_fp: fingerprint.Fingerprint | None,
                  new_fp: fingerprint.Fingerprint, rep: Reporter) -> bool:
    """`git checkout -` to a state built before: swap its kept venv back in (two renames)."""
    kept = venvstore.take(project.root, new_fp, venv)
    if kept is None:
        return False
    with rep.phase("venv") as info:
        new = venvlayout.new_of(venv)
        shutil.rmtree(new, ignore_errors=True)
        venvstore.forget(kept)
        (kept / COMPLETE_MARK).write_text("ok")  # from here on, recover() finishes an interrupted swap
        os.replace(kept, new)
        _swap(new, venv, lambda old: venvstore.keep(project.root, old, old_fp, venv))
        info["result"] = "restored: the venv built for this state was kept (a rename, no install)"
    return True


def _from_worktree(project: Project, venv: Path, fp: fingerprint.Fingerprint, rep: Reporter) -> bool:
    """`git worktree add ../nova-review`: a worktree whose venv has this very fingerprint is copied (hard
    links) and pointed at this checkout, instead of installing everything again. Checked by importing
    the project from the copy: it must come from this tree."""
    from devenv import venvcopy

    for other in _worktree_venvs(project.root):
        if fingerprint.read(other) != fp or not venvlayout.looks_usable(other) \
                or not venvcopy.relocatable(other.parent, project.root):
            continue
        new = venvlayout.new_of(venv)
        try:
            with rep.phase("venv") as info:
                venvcopy.link_copy(other, new)
                venvcopy.relocate(new, other.parent, project.root)
                _import_check(project, new, from_tree=project.root)
                info["result"] = f"copied from the worktree {other.parent} (same requirements; hard links)"
        except DevenvError as exc:
            shutil.rmtree(new, ignore_errors=True)
            rep.detail(f"could not copy the venv of {other.parent}: {exc.message}")
            continue
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        _swap(new, venv)
        return True
    return False


def _worktree_venvs(root: Path) -> list[Path]:
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return []
    res = proc.run([git, "-C", str(root), "worktree", "list", "--porcelain"], timeout=10, what="git worktree")
    if not res.ok:
        return []
    here = root.resolve()
    out = []
    for line in res.stdout.splitlines():
        if line.startswith("worktree "):
            tree = Path(line[len("worktree "):])
            if tree.resolve() != here and venvlayout.of(tree).is_dir():
                out.append(venvlayout.of(tree))
    return out


def _check_requirements(project: Project, venv: Path, fp: fingerprint.Fingerprint, others: Sequence[Project],
                        log: Path) -> None:
    """The copy meets every requirement line of the new state, or the sync failed to do its job: never record
    a fingerprint that says so when it is not (the next run would be a no-op on a venv that lacks a package)."""
    from devenv import installed

    dists = installed.read(venv)
    if dists is None:
        return
    verdict = installed.judge(dists, fp.requirements, fp.constraints, fp.python,
                              project=None if project.unit_env.skip_install else project.name,
                              project_extras=fp.extras, keep=[fp.runner] if fp.runner else (),
                              project_deps=project.dependencies_from != "requirements.txt",
                              others={o.name: o.root for o in others})
    from packaging.requirements import InvalidRequirement, Requirement

    def plain(line: str) -> bool:  # a line judge() could not read is no proof of anything
        try:
            return Requirement(line).url is None
        except InvalidRequirement:
            return False

    missing = [u for u in verdict.unmet if plain(u)]
    if missing:
        raise InstallError(f"the exact sync left requirements unmet: {', '.join(missing[:5])}",
                           f"the previous venv was kept; see {log}, then run `devenv refresh` again")


def _metadata_current(project: Project, dists: dict[str, Any]) -> bool:
    """Does the installed project's metadata still list the requirements it has now? pbr and setuptools copy
    requirements.txt into it when the project is built, and uv, asked for the project by name, follows that
    copy: a line added to requirements.txt (of a project whose tox deps do not name the file) would never be
    installed. When the copy is stale the project is built again from its folder instead."""
    if project.unit_env.skip_install or project.dependencies_from != "requirements.txt":
        return True
    own_file = (project.root / "requirements.txt").resolve()
    if any(d.kind == "file" and (project.root / d.value).resolve() == own_file for d in project.unit_env.deps):
        return True  # tox's deps install requirements.txt itself (nova's do): its lines reach the venv anyway
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    def norm(lines: Sequence[str]) -> set[str] | None:
        out = set()
        for line in lines:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                return None
            if req.marker is not None and "extra" in str(req.marker):
                continue  # an extra's lines: not from requirements.txt
            out.add(f"{canonicalize_name(req.name)}{req.specifier}"
                    f"{'[' + ','.join(sorted(req.extras)) + ']' if req.extras else ''};{req.marker or ''}")
        return out

    own = dists.get(canonicalize_name(project.name))
    if own is None:
        return False
    have, want = norm(own.requires), norm(fingerprint.requirement_lines(project))
    return have is not None and have == want


def _satisfied(project: Project, dists: dict[str, Any], fp: fingerprint.Fingerprint, rep: Reporter,
               decision: fingerprint.Decision, others: Sequence[Project] = ()) -> bool:
    """Would the installer change nothing? (A changed specifier the installed version still meets.)"""
    from devenv import installed

    # pbr and setuptools projects copy requirements.txt into their installed metadata, which is stale now:
    # the fresh lines (in the fingerprint) stand for it, and only the project's extras are followed.
    verdict = installed.judge(dists, fp.requirements, fp.constraints, fp.python,
                              project=None if project.unit_env.skip_install else project.name,
                              project_extras=fp.extras, keep=[fp.runner] if fp.runner else (),
                              project_deps=project.dependencies_from != "requirements.txt",
                              others={o.name: o.root for o in others})
    if not verdict.satisfied:
        rep.detail(f"not satisfied: {', '.join((*verdict.unmet, *verdict.extraneous)[:5])}")
        return False
    with rep.phase("venv") as info:
        info["result"] = f"up to date: the installed packages satisfy the change ({decision.reason})"
    return True


def _exact_sync(project: Project, venv: Path, cons: constraints_mod.Constraints,
                old_fp: fingerprint.Fingerprint | None, new_fp: fingerprint.Fingerprint, uv: str, rep: Reporter,
                decision: fingerprint.Decision, by_name: bool, others: Sequence[Project] = ()) -> Path:
    """Apply a requirements change as one exact uv sync to a hard-linked copy of the venv, check the
    copy, and swap it in; the venv it replaces is kept (venvstore). Until the swap the venv in use is
    untouched, so a failure or a kill leaves it working (recover() removes the copy)."""
    from devenv import fsutil, installer, venvcopy

    new = venvlayout.new_of(venv)
    try:
        with rep.phase("venv") as info:
            venvcopy.link_copy(venv, new)
            info["result"] = f"copy (hard links) to apply: {decision.reason}"
        with rep.phase("install") as info:
            cfile = None
            if cons.source:
                cfile = new / "devenv-constraints.txt"
                fsutil.atomic_write(cfile, cons.text)
            # a --with checkout installed as before (same folder, project files and requirements) is named;
            # one that is new or changed is built from its folder (its installed metadata would be stale)
            same = {o.name for o in new_fp.others if old_fp is not None and o in old_fp.others}
            p = installer.plan(project, cfile, new_fp.extras, new_fp.runner, exact=True, by_name=by_name,
                               others=others, others_by_name=same)
            log = installer.install("uv", uv, venvlayout.python(new), p, echo=rep.interactive, project=project,
                                    on_warning=rep.warn)
            info["result"] = "uv, one exact sync"
        with rep.phase("check") as info:
            _import_check(project, new, others=others)
            _check_requirements(project, new, new_fp, others, log)
            info["result"] = "project imports, every requirement met"
        fingerprint.write(new, new_fp)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)  # the venv in use was never touched
        raise
    _swap(new, venv, lambda old: venvstore.keep(project.root, old, old_fp, venv))
    return log


def _interpreter(project: Project, opts: Options, venv: Path) -> interpreter.Interpreter:
    if opts.python:
        return interpreter.choose(project.python_floor, opts.python)
    current = interpreter.from_venv(venv)
    if current and interpreter.floor_spec(project.python_floor).contains(current.version, prereleases=True):
        return current  # keep the venv's Python: no probing on a re-run
    return interpreter.choose(project.python_floor)


def _healthy_enough(venv: Path) -> bool:
    return venvlayout.looks_usable(venv)


def _create(interp: interpreter.Interpreter, target: Path, final: Path) -> None:
    from virtualenv import cli_run  # heavy import: only when a venv is really made

    if target.exists():
        shutil.rmtree(target)
    had_final = final.exists() or final.is_symlink()
    # pip is seeded even when uv installs: PyCharm's package manager and users expect it in the venv.
    seed = ["--no-setuptools"]
    try:
        cli_run(["--quiet", "-p", interp.path, *seed, "--", str(target)], setup_logging=False)
    except (Exception, SystemExit) as exc:  # virtualenv raises RuntimeError/SystemExit on a bad interpreter
        shutil.rmtree(target, ignore_errors=True)
        raise InstallError(f"virtualenv could not create {target}: {exc}",
                           "check the interpreter (devenv init --python PATH)") from exc
    finally:
        # virtualenv >= 21 writes a PEP 832 `.venv` redirect file beside a venv made next to a pyproject.toml;
        # ours is built beside .venv and renamed to it, so such a file would take .venv's place.
        if not had_final and final.is_file():
            final.unlink()


def _install(project: Project, venv: Path, cons: constraints_mod.Constraints, fp: fingerprint.Fingerprint,
             kind: str, uv: str | None, rep: Reporter, kept: bool = True, others: Sequence[Project] = ()) -> Path:
    cfile = None
    if cons.source:
        cfile = venv / "devenv-constraints.txt"
        from devenv import fsutil

        fsutil.atomic_write(cfile, cons.text)
    from devenv import installer

    p = installer.plan(project, cfile, fp.extras, fp.runner, others=others)
    return installer.install(kind, uv, venv / "bin" / "python", p, echo=rep.interactive, project=project, kept=kept,
                             on_warning=rep.warn)


def _import_check(project: Project, venv: Path, from_tree: Path | None = None, others: Sequence[Project] = ()) -> None:
    """The venv imports the project's packages (from_tree: and each comes from that folder), and those of
    each --with checkout, each from its own folder (not a copy from the index)."""
    trees: list[tuple[tuple[str, ...], Path | None]] = []
    if not project.unit_env.skip_install and project.packages:
        trees.append((project.packages, from_tree))
    trees += [(o.packages, o.root) for o in others if o.packages]
    if not trees:
        return
    names = [p for packages, _ in trees for p in packages]
    code = "import os, sys; " + "; ".join(f"import {p}" for p in names)
    args = [str(venv / "bin" / "python"), "-c", ""]
    for packages, tree in trees:
        if tree is None:
            continue
        args.append(str(tree.resolve()))
        code += "; " + "; ".join(
            f"sys.exit('{p} comes from ' + os.path.realpath({p}.__file__) + ', not ' + sys.argv[{len(args) - 3}]) "
            f"if not os.path.realpath({p}.__file__).startswith(sys.argv[{len(args) - 3}] + os.sep) else None"
            for p in packages)
    args[2] = code
    r = proc.run(args, timeout=120, cwd="/", what="import check")
    if not r.ok:
        raise InstallError(f"the new venv cannot import {', '.join(names)}: {proc.tail(r.stderr, 3)}",
                           "the previous venv was kept; see the error above")


def _swap(new: Path, venv: Path, keep: Callable[[Path], bool] | None = None) -> None:
    """Relocate the new venv's scripts to the final path, then rename it into place. The venv it replaces
    is handed to `keep` (venvstore.keep: moved away, for a later swap back), else deleted."""
    _relocate(new, venv)
    (new / COMPLETE_MARK).write_text("ok")
    old = venvlayout.old_of(venv)
    shutil.rmtree(old, ignore_errors=True)
    if venv.exists():
        os.replace(venv, old)
    os.replace(new, venv)
    (venv / COMPLETE_MARK).unlink(missing_ok=True)
    if old.exists() and not (keep is not None and keep(old)):
        shutil.rmtree(old, ignore_errors=True)


def _relocate(new: Path, final: Path) -> None:
    """Script shebangs and activate files name the folder they were made in; point them at `final`.

    `new` and `final` are siblings (.venv.devenv-new and .venv), so what changes is the last name only,
    and that name has no character any quoting touches. Matching the whole path did not work: installers
    quote a path with `'`, `"`, `$` or a backslash in their own ways ('/a/it'"'"'s/...', '/a/b'"\\"'c/...),
    and such a venv's scripts kept pointing at the -new folder.
    """
    assert new.parent == final.parent
    pattern = re.compile(re.escape(os.fsencode("/" + new.name)) + rb"(?=[/'\"\\\s]|$)", re.M)
    from devenv import venvcopy

    venvcopy.rewrite([*(new / "bin").iterdir(), new / "pyvenv.cfg"], pattern, os.fsencode("/" + final.name))


def recover(venv: Path, rep: Reporter) -> None:
    """Clean up after an interrupted run so the venv is usable again."""
    new = venvlayout.new_of(venv)
    old = venvlayout.old_of(venv)
    if not venv.exists() and new.is_dir() and (new / COMPLETE_MARK).exists():
        os.replace(new, venv)  # interrupted between the two renames of a swap: finish it
        (venv / COMPLETE_MARK).unlink(missing_ok=True)
        rep.warn("finished a venv swap that an interrupted run left half-done")
    elif not venv.exists() and old.is_dir():
        os.replace(old, venv)
        rep.warn("restored the previous venv that an interrupted run had moved aside")
    if new.exists():
        shutil.rmtree(new, ignore_errors=True)
        rep.detail("removed an unfinished venv left by an interrupted run")
    if old.exists() and venv.exists():
        shutil.rmtree(old, ignore_errors=True)


def health(project: Project) -> list[Finding]:
    """venv checks for `devenv doctor`: exists, interpreter, floor, fingerprint current, project importable."""
    venv = project.venv
    if not venv.exists():
        return [Finding("venv", "fail", f"no venv at {venv}", "nothing is installed for this project",
                        f"devenv init {project.root}")]
    interp = interpreter.from_venv(venv)
    if interp is None:
        return [Finding("venv.python", "fail", f"{venv}/bin/python is missing or its base Python was removed",
                        "the venv cannot run", f"devenv refresh {project.root} (rebuilds it)")]
    out = [Finding("venv.python", "ok", f"Python {interp.version}")]
    if not interpreter.floor_spec(project.python_floor).contains(interp.version, prereleases=True):
        out.append(Finding("venv.floor", "fail", f"Python {interp.version} does not satisfy {project.python_floor}",
                           "the project may not run or install", f"devenv init --python 3.X {project.root}"))
    try:
        from devenv import crossrepo

        others = crossrepo.select(project, crossrepo.Change())
        stored = fingerprint.read(venv)
        cons = constraints_mod.resolve(project, None, remembered=stored.constraints_option if stored else None,
                                       drop=[o.name for o in others])
        current = fingerprint.compute(project, interp.version, cons, others)
        if stored != current:
            d = fingerprint.decide(stored, current, True)
            out.append(Finding("venv.fingerprint", "fail", f"the venv is out of date: {d.reason}",
                               "requirements changed since the last install", f"devenv refresh {project.root}"))
        else:
            out.append(Finding("venv.fingerprint", "ok", "requirements unchanged since the last install"))
    except DevenvError as exc:
        out.append(Finding("venv.fingerprint", "warn", f"cannot compare requirements: {exc.message}", "",
                           exc.hint or ""))
    try:
        _import_check(project, venv)
        out.append(Finding("venv.import", "ok", f"imports {', '.join(project.packages) or '(nothing to import)'}"))
    except Exception as exc:  # noqa: BLE001
        out.append(Finding("venv.import", "fail", str(exc), "the project is not installed in the venv",
                           f"devenv refresh {project.root}"))
    return out
