"""One PyCharm window over several repos sharing one venv (`devenv init nova --with ../oslo.messaging`,
a devstack workspace): one .idea at the window's folder, one module per repo, one shared interpreter.

Decision: several modules in the window's own `.idea/modules.xml` (every .iml in that .idea/, each with
its repo as content root), not PyCharm's "attached projects" (Open -> Attach). From intellij-community:

- Attaching (platform/lang-impl/src/com/intellij/platform/ModuleAttachProcessor.kt: attachToProjectAsync,
  attachModule, addPrimaryModuleDependency) loads the *other repo's own* `.idea/*.iml` into modules.xml
  (`$PROJECT_DIR$/../oslo.messaging/.idea/oslo.messaging.iml`) and adds a module dependency from the
  primary module (PrimaryModuleManager.findPrimaryModule: the module whose content root is the base dir)
  to it. So (1) the attached repo's .iml stays shared between its own window and this one, and both
  devenv runs would fight over its SDK name; (2) a devstack workspace folder, which is not a repo, has no
  primary module; (3) the dependency changes what runs: run/TargetedPythonPaths.kt collectPythonPath adds
  the content and source roots of the module *and of every module it depends on*
  (ModuleUtilCore.getDependencies) to PYTHONPATH, ahead of site-packages, so nova's tests would import
  every attached checkout's top-level folders, and the result would depend on which repo is primary.
- Run configurations are read only from the window's own `.idea/runConfigurations/`
  (ProjectRunConfigurationManager: @Storage `$PROJECT_CONFIG_DIR$/runConfigurations/`; RCInArbitraryFileManager
  adds `*.run.xml` files, not another .idea), so an attached repo's configurations never show anyway.
- A configuration names its module (`<module name=...>`, RunConfigurationModule: ModuleManager.findModuleByName);
  IS_MODULE_SDK=true takes that module's SDK (AbstractPythonRunConfiguration.getSdk ->
  PythonSdkUtil.findPythonSdk(module): the .iml's jdk orderEntry, else the project SDK of misc.xml); the test
  runner is per module (python/src/com/jetbrains/python/testing/TestRunnerService.java: @State storage
  `$MODULE_FILE$`). An .iml inside `.idea/` has the folder above it as `$MODULE_DIR$`
  (PathMacroUtil.getModuleDir), so a repo's content root is `$MODULE_DIR$/nova` or `$MODULE_DIR$/../oslo.messaging`,
  the form PyCharm itself writes on save (ModulePathMacroManager: MODULE_DIR and its parents up to the home).

So independent modules without dependencies: each configuration's PYTHONPATH is its own repo only (the
others come from the shared venv's editable installs, as tox and stestr see them), each repo has its own
TestRunnerService, and every .idea file is devenv's to merge at the window's folder. Configurations are
render.plan's (every fix of the one-project path applies), named `<module>: <name>` and rooted in the repo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from devenv import __version__, fsutil, paths
from devenv.ide import jetbrains, record, render, runconfigs, setup, venvinfo
from devenv.ide.result import IdeResult, raise_if_needed, report

if TYPE_CHECKING:
    from devenv.project import Project
    from devenv.report import Reporter

__all__ = ["Repo", "apply", "plan"]


@dataclasses.dataclass(frozen=True)
class Repo:
    """One repo of the window: its module and its plan (configurations already named and re-rooted)."""

    project: Project
    rel: str  # the repo folder from the window's folder: '' | 'nova' | '../oslo.messaging'
    plan: render.Plan

    @property
    def project_dir(self) -> str:  # the repo in a run configuration's macros
        return "$PROJECT_DIR$" + (f"/{self.rel}" if self.rel else "")

    @property
    def content_dir(self) -> str:  # the repo in the .iml's macros ($MODULE_DIR$ is the window's folder)
        return "$MODULE_DIR$" + (f"/{self.rel}" if self.rel else "")


def _rel(path: Path, root: Path) -> str:
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return "" if rel == "." else rel


def _module_names(root: Path, projects: list[Project]) -> list[str]:
    """The repo's folder name; the window's own repo keeps the module PyCharm made (render.module_name)."""
    out: list[str] = []
    for p in projects:
        name = render.module_name(p) if p.root == root else p.root.name
        base, n = name, 2
        while name in out:
            name, n = f"{base}-{n}", n + 1
        out.append(name)
    return out


_C = TypeVar("_C", runconfigs.TestConfig, runconfigs.ScriptConfig, runconfigs.ToxConfig)


def _named(c: _C, label: str, project_dir: str) -> _C:
    name = f"{label}: {c.name}"
    return dataclasses.replace(c, name=name, file=runconfigs.file_name(name), workdir=project_dir)


def _reroot(target: str, project_dir: str) -> str:
    return project_dir + target.removeprefix("$PROJECT_DIR$") if target.startswith("$PROJECT_DIR$") else target


def plan(root: Path, projects: list[Project], venv: Path, sdk_name: str, tools_python: str | None) -> list[Repo]:
    root = root.resolve()
    bin_rel = _rel(venvinfo.scripts_dir(venv).absolute(), root)
    repos = []
    for project, module in zip(projects, _module_names(root, projects), strict=True):
        rel = _rel(project.root, root)
        tox_python = tools_python if runconfigs.tox_envs(project) else None
        repo = Repo(project, rel, render.plan(project, sdk_name, tox_python))
        pdir = repo.project_dir
        tests = tuple(dataclasses.replace(_named(c, module, pdir), target=_reroot(c.target, pdir))
                      for c in repo.plan.tests)
        scripts = tuple(_named(s, module, pdir) for s in runconfigs.scripts(project, bin_rel))  # the shared venv's
        tox = tuple(_named(t, module, pdir) for t in repo.plan.tox)
        repos.append(dataclasses.replace(repo, plan=dataclasses.replace(
            repo.plan, module=module, tests=tests, scripts=scripts, tox=tox)))
    return repos


def project_files(repos: list[Repo], sdk_name: str) -> dict[str, str]:
    """Relative path under .idea/ -> canonical text: one misc.xml, one modules.xml, an .iml per repo, and every
    repo's run configurations."""
    out = {"misc.xml": render.text("misc.xml.j2", True, sdk_name=sdk_name),
           "modules.xml": render.text("workspace_modules.xml.j2", True, modules=[r.plan.module for r in repos])}
    for rel in ("codeStyles/Project.xml", "codeStyles/codeStyleConfig.xml"):
        out[rel] = render.text(rel + ".j2", False)
    for r in repos:
        p = r.plan
        out[f"{p.module}.iml"] = render.text(
            "module.iml.j2", True, sdk_name=sdk_name, test_runner=p.test_runner, source_folders=p.source_folders,
            test_folders=p.test_folders, excluded=p.excluded, content_dir=r.content_dir)
        for template, configs in (("test_config.xml.j2", p.tests), ("script_config.xml.j2", p.scripts),
                                  ("tox_config.xml.j2", p.tox)):
            for c in configs:
                out[f"runConfigurations/{c.file}"] = render.text(template, False, c=c, module=p.module,
                                                                 sdk_name=sdk_name)
    return out


def workspace_text(repos: list[Repo]) -> str:
    """The templates (gutter runs) are the project's, not a module's: the first repo's env and folder, with a
    template for every repo's runner (each module's TestRunnerService picks its own)."""
    main = repos[0]
    factories = tuple(dict.fromkeys(f for r in repos for f in r.plan.factories))
    return render.text("workspace.xml.j2", True, module=main.plan.module, env=main.plan.template_env,
                       factories=factories, script_env=main.plan.script_env, pytest_args=main.plan.pytest_args,
                       workdir=main.project_dir)


def fingerprint(root: Path, projects: list[Project], venv: venvinfo.VenvInfo,
                configs: list[jetbrains.PyCharmConfig], tools_python: str | None) -> str:
    parts = [__version__, str(record.FORMAT), "workspace", str(root), *(repr(p) for p in projects), str(venv.python),
             venv.version or "", tools_python or "", render.template_stamp(), render.code_stamp(),
             *(str(c.config_dir) for c in configs)]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def apply(root: Path, projects: list[Project], venv: Path, rep: Reporter, *, dry_run: bool = False,
          force: bool = False) -> IdeResult:
    """Write (or with dry_run only diff) one window at `root` over `projects` (the first is the main one,
    whose templates the window's gutter runs use), all on the interpreter of `venv`."""
    if not projects:
        raise ValueError("a window needs at least one project")
    result = _apply(Path(root).resolve(), projects, Path(venv), rep, dry_run=dry_run, force=force)
    report(result, rep, dry_run)
    raise_if_needed(result)
    return result


def _apply(root: Path, projects: list[Project], venv: Path, rep: Reporter, *, dry_run: bool,
           force: bool) -> IdeResult:
    from devenv import tools as tools_mod

    idea = root / ".idea"
    rec = record.load(root)
    info = venvinfo.read(venv)
    configs = jetbrains.discover()
    toolset = tools_mod.find(info.version)
    tools_python = str(toolset.python) if toolset else None
    fp = fingerprint(root, projects, info, configs, tools_python)
    if not force and not dry_run and rec.fingerprint == fp and record.unchanged_on_disk(idea, rec):
        res = IdeResult(files={rel: "identical" if sha else "skip" for rel, sha in rec.disk.items()},
                        sdk_name=rec.sdk_name, jdk_tables={p: "identical" for p in rec.tables})
        _hints(res, configs, info, projects)
        return res
    from devenv.ide import jdktable, sdk

    res = IdeResult()
    backups = paths.project_state(root) / "backups"
    with sdk.tables_locked(configs, dry_run=dry_run):
        tables = sdk.load_tables(configs, res, dry_run=dry_run, backup_dir=backups)
        label = projects[0].name if projects[0].root == root else root.name
        name, res.sdk_renamed = jdktable.choose_name([t.root for t in tables if t.root is not None], label,
                                                     info.short, info.python, rec.sdk_name)
        res.sdk_name = name
        repos = plan(root, projects, venv, name, tools_python)
        new = setup.apply_rendered(idea, project_files(repos, name), rec, res, backups, dry_run=dry_run,
                                   force=force)
        has_tox = any(r.plan.tox for r in repos)
        running = sdk.write_tables(tables, projects[0], info, name, res, dry_run=dry_run, force=force,
                                   tools=toolset if has_tox else None, associated_root=root)
    setup.apply_workspace(idea, workspace_text(repos), rec, new, res, running, backups, dry_run=dry_run, force=force)
    _hints(res, configs, info, projects)
    if not dry_run:
        _git_hygiene(root, projects, idea, res)
        clean = not (res.conflicts or res.errors)
        record.save(root, record.Record(
            fingerprint=fp if clean else "", sdk_name=name, bases=new,
            disk={rel: record.file_sha(idea / rel) for rel in new},
            tables={str(t.path): record.file_sha(t.path) for t in tables if t.root is not None}))
    return res


def _git_hygiene(root: Path, projects: list[Project], idea: Path, res: IdeResult) -> None:
    from devenv import gitexclude

    gi = idea / ".gitignore"
    if idea.is_dir() and not gi.exists():
        fsutil.atomic_write(gi, setup.IDEA_GITIGNORE)
        res.files[".gitignore"] = "create"
    if any(p.root == root for p in projects):  # the window is a checkout: keep its `git status` clean
        added = gitexclude.ensure(root)
        if added:
            res.hints.append(f"{' and '.join(added)} added to .git/info/exclude")


def _hints(res: IdeResult, configs: list[jetbrains.PyCharmConfig], venv: venvinfo.VenvInfo,
           projects: list[Project]) -> None:
    for p in projects:
        res.hints += [f"{p.root.name}: tox setenv sets {k}; left out of the run configurations"
                      for k in runconfigs.dropped(p)]
        res.hints += [f"{p.root.name}: {h}" for h in runconfigs.left_out(p)]
        if len(set(runconfigs.django_settings(p).values())) > 1:
            res.hints.append(f"{p.root.name}: per-folder Django settings are not set for gutter runs in a "
                             "several-repo window; its own configurations carry them")
    if venv.version is None:
        res.hints.append(f"no venv at {venv.python.parent.parent} yet: create it first")
    if not configs:
        res.hints.append(f"no PyCharm configuration found; the project files are written. To attach the "
                         f"interpreter, start PyCharm with: PYCHARM_PYTHON_PATH={venv.python} pycharm .")
