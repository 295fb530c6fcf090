"""`devenv ide`: write the PyCharm setup of a project, keeping every edit the user made in PyCharm.

Project half: .idea/misc.xml, modules.xml, <module>.iml, runConfigurations/*.xml (three-way merged),
the run-configuration templates in workspace.xml (merged into the user's file). Application half: the
SDK entry in each installed PyCharm's jdk.table.xml (backed up first, never while that IDE runs).
Whatever is safe is written even when something else needs the user; then Conflict/ConfigError.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import __version__, fsutil, paths
from devenv.ide import jetbrains, record, render, venvinfo
from devenv.ide.result import IdeResult, raise_if_needed, report

if TYPE_CHECKING:
    from devenv.ide.files import FileOutcome
    from devenv.project import Project
    from devenv.report import Reporter

__all__ = ["IdeResult", "apply", "fingerprint"]

WORKSPACE = "workspace.xml"


def fingerprint(project: Project, venv: venvinfo.VenvInfo, configs: list[jetbrains.PyCharmConfig],
                tools_python: str | None = None) -> str:
    parts = [__version__, str(record.FORMAT), repr(project), str(venv.python), venv.version or "", tools_python or "",
             render.template_stamp(), render.code_stamp(), *(str(c.config_dir) for c in configs)]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def apply(project: Project, rep: Reporter, *, dry_run: bool = False, force: bool = False) -> IdeResult:
    """Write (or with dry_run only diff) the IDE setup. The caller times it (rep.phase) if it wants."""
    result = _apply(project, rep, dry_run=dry_run, force=force)
    report(result, rep, dry_run)
    raise_if_needed(result)
    return result


def _apply(project: Project, rep: Reporter, *, dry_run: bool, force: bool) -> IdeResult:
    idea = project.root / ".idea"
    rec = record.load(project.root)
    venv = venvinfo.read(project.venv)
    configs = jetbrains.discover()
    from devenv import tools as tools_mod

    # The Tox configurations run on devenv's tools venv (it has tox), when it is built (workflow builds it)
    toolset = tools_mod.find(venv.version)
    fp = fingerprint(project, venv, configs, str(toolset.python) if toolset else None)
    if not force and not dry_run and rec.fingerprint == fp and record.unchanged_on_disk(idea, rec):
        # Nothing changed since the last run: answer without rendering (no jinja2, no lxml).
        res = IdeResult(files={rel: "identical" if sha else "skip" for rel, sha in rec.disk.items()},
                        sdk_name=rec.sdk_name,
                        jdk_tables={p: "identical" for p in rec.tables})
        _hints(res, configs, venv, project)
        return res
    from devenv.ide import sdk

    res = IdeResult()
    # jdk.table.xml is shared by every project on the machine: read, choose the name and write under one
    # lock per table, or two `devenv ide` runs on different projects each write back what they read and
    # one SDK entry is lost (and a name can be handed out twice).
    with sdk.tables_locked(configs, dry_run=dry_run):
        tables = sdk.load_tables(configs, res, dry_run=dry_run, backup_dir=_backups(project))
        name, renamed = sdk.choose(tables, project, venv, rec.sdk_name)
        res.sdk_name, res.sdk_renamed = name, renamed
        plan = render.plan(project, name, str(toolset.python) if toolset and plan_has_tox(project) else None)
        new = _project_files(project, idea, plan, rec, res, dry_run=dry_run, force=force)
        running = sdk.write_tables(tables, project, venv, name, res, dry_run=dry_run, force=force,
                                   tools=toolset if plan.tox else None)
    _workspace(project, idea, plan, rec, new, res, running, dry_run=dry_run, force=force)
    _hints(res, configs, venv, project)
    if not dry_run:
        _git_hygiene(project, idea, res)
    if not dry_run:
        clean = not (res.conflicts or res.errors)
        rec = record.Record(fingerprint=fp if clean else "", sdk_name=name, bases=new,
                            disk={rel: record.file_sha(idea / rel) for rel in new},
                            tables={str(t.path): record.file_sha(t.path) for t in tables if t.root is not None})
        record.save(project.root, rec)
    return res


def plan_has_tox(project: Project) -> bool:
    from devenv.ide import runconfigs

    return bool(runconfigs.tox_envs(project))


def _backups(project: Project) -> Path:
    return paths.project_state(project.root) / "backups"


def _note(res: IdeResult, out: FileOutcome) -> None:
    res.files[out.rel] = out.verb
    res.conflicts += [f".idea/{out.rel}: {c}" for c in out.conflicts]
    if out.error:
        res.errors.append(out.error + (f" (backed up to {out.backup})" if out.backup else ""))
    if out.backup:
        res.backups.append(str(out.backup))
    res.diff += out.diff


def _project_files(project: Project, idea: Path, plan: render.Plan, rec: record.Record, res: IdeResult,
                   *, dry_run: bool, force: bool) -> dict[str, str]:
    return apply_rendered(idea, render.project_files(plan), rec, res, _backups(project), dry_run=dry_run, force=force)


def apply_rendered(idea: Path, rendered: dict[str, str], rec: record.Record, res: IdeResult, backups: Path,
                   *, dry_run: bool, force: bool) -> dict[str, str]:
    """Merge each rendered file into .idea/ and retire what devenv made before and renders no more; returns
    the new merge bases. Shared by the one-project window and the several-repo one (ide/workspace.py)."""
    from devenv.ide import files

    fresh = not (idea / "misc.xml").exists()  # .idea removed or never made: recreate everything
    bases: dict[str, str] = {}
    for rel, text in rendered.items():
        keep_deleted = rel.startswith("runConfigurations/") and not fresh
        out = files.apply(idea, rel, text, rec.bases.get(rel), force=force, dry_run=dry_run,
                          recreate_missing=not keep_deleted, backup_dir=backups)
        _note(res, out)
        if out.base is not None:
            bases[rel] = out.base
    for rel in sorted(set(rec.bases) - set(rendered) - {WORKSPACE}):
        out = files.retire(idea, rel, rec.bases[rel], dry_run=dry_run)
        _note(res, out)
        if out.base is not None:
            bases[rel] = out.base
    return bases


def _workspace(project: Project, idea: Path, plan: render.Plan, rec: record.Record, bases: dict[str, str],
               res: IdeResult, running: list[str], *, dry_run: bool, force: bool) -> None:
    apply_workspace(idea, render.workspace(plan), rec, bases, res, running, _backups(project), dry_run=dry_run,
                    force=force)


def apply_workspace(idea: Path, text: str, rec: record.Record, bases: dict[str, str], res: IdeResult,
                    running: list[str], backups: Path, *, dry_run: bool, force: bool) -> None:
    """Merge the run-configuration templates into the user's workspace.xml, unless a PyCharm runs."""
    from devenv.ide import files

    if running and not force:
        # The IDE rewrites workspace.xml from memory: an edit now would be lost (or clobber its state).
        res.files[WORKSPACE] = "skip"
        res.hints.append("workspace.xml (run templates) not updated while PyCharm runs: close it and run "
                         "`devenv ide` again")
        if WORKSPACE in rec.bases:
            bases[WORKSPACE] = rec.bases[WORKSPACE]
        return
    out = files.apply(idea, WORKSPACE, text, rec.bases.get(WORKSPACE), force=force,
                      dry_run=dry_run, recreate_missing=True, backup_dir=backups)
    _note(res, out)
    if out.base is not None:
        bases[WORKSPACE] = out.base


# What PyCharm itself writes to .idea/.gitignore when it creates a project: the per-user files stay out
# of version control for projects that commit .idea/.
IDEA_GITIGNORE = "# Default ignored files\n/shelf/\n/workspace.xml\n"


def _git_hygiene(project: Project, idea: Path, res: IdeResult) -> None:
    from devenv import gitexclude

    gi = idea / ".gitignore"
    if idea.is_dir() and not gi.exists():
        fsutil.atomic_write(gi, IDEA_GITIGNORE)
        res.files[".gitignore"] = "create"
    _django_plugin(project, idea, res)
    added = gitexclude.ensure(project.root)
    if added:
        res.hints.append(f"{' and '.join(added)} added to .git/info/exclude: the project's .gitignore does not "
                         "ignore them, and `git status` stays clean")


def _django_plugin(project: Project, idea: Path, res: IdeResult) -> None:
    """The per-folder settings plugin the py.test template names (runconfigs.template_pytest_arguments)."""
    from devenv.ide import runconfigs

    if len(set(runconfigs.django_settings(project).values())) <= 1:
        return
    target = idea / "devenv" / f"{runconfigs.DJANGO_PLUGIN}.py"
    text = (paths.templates() / f"{runconfigs.DJANGO_PLUGIN}.py").read_text(encoding="utf-8")
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write(target, text)
        res.files[f"devenv/{runconfigs.DJANGO_PLUGIN}.py"] = "create"


def _hints(res: IdeResult, configs: list[jetbrains.PyCharmConfig], venv: venvinfo.VenvInfo,
           project: Project) -> None:
    from devenv.ide import runconfigs

    for name in runconfigs.dropped(project):
        res.hints.append(f"tox setenv sets {name}; left out of the run configurations (stestr would run "
                         f"that interpreter instead of the project's .venv)")
    res.hints += runconfigs.left_out(project)  # no rendering: this runs on the no-op path too
    if venv.version is None:
        res.hints.append("no .venv yet: create it with `devenv init`, which registers the interpreter too")
    if not configs:
        res.hints.append(f"no PyCharm configuration found; the project files are written. To attach the "
                         f"interpreter, start PyCharm with: PYCHARM_PYTHON_PATH={venv.python} pycharm .")
