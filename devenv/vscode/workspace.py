"""One VS Code window over several repos sharing one venv (`devenv init nova --with ../oslo.messaging`,
a devstack workspace): a multi-root `.code-workspace` file with every repo as a folder, and each repo's own
.vscode/ set up (vscode/setup.py) with the shared venv as its interpreter.

Why both: in a multi-root window the Python extension reads the resource-scoped settings (the interpreter,
`python.testing.*`, `python.envFile`) per folder from that folder's .vscode/settings.json, and runs each
folder's tests in that folder (`${workspaceFolder}` is the folder); the workspace file's "settings" are the
window-wide defaults. So each repo keeps its own runner, test path and tox env, and all share the venv in
which every repo is installed editable (as devstack's one venv has them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import fsutil, jsonc, paths, venvlayout
from devenv.vscode import merge, model, setup

if TYPE_CHECKING:
    from devenv.project import Project
    from devenv.report import Reporter

RECORD = "vscode-workspace.json"


def file_for(root: Path) -> Path:
    return root / f"{root.name}.code-workspace"


def _folder(path: Path, root: Path) -> str:
    rel = os.path.relpath(path, root)
    return "." if rel == "." else Path(rel).as_posix()


def apply(root: Path, projects: list[Project], venv: Path, rep: Reporter, *, dry_run: bool = False,
          force: bool = False, main: Project | None = None) -> setup.VscodeResult:
    res = setup.VscodeResult()
    python = str(venvlayout.python(venv))
    for proj in projects:
        # the main project's own venv is `${workspaceFolder}/.venv`; the others name the shared one
        sub = setup.write(proj, dry_run=dry_run, force=force, venv=venv,
                          interpreter=None if proj is main else python)
        res.merge_from(_prefixed(sub, proj, root))
    _workspace_file(root, projects, python, res, dry_run=dry_run, force=force)
    setup.report(res, rep, dry_run)
    setup.raise_if_needed(res)
    return res


def _prefixed(sub: setup.VscodeResult, proj: Project, root: Path) -> setup.VscodeResult:
    folder = _folder(proj.root, root)
    if folder == ".":
        return sub
    sub.files = {f"{folder}/{rel}": verb for rel, verb in sub.files.items()}
    sub.conflicts = [f"{folder}/{c}" for c in sub.conflicts]
    return sub


def _workspace_file(root: Path, projects: list[Project], python: str, res: setup.VscodeResult, *,
                    dry_run: bool, force: bool) -> None:
    path = file_for(root)
    rel = path.name
    state = paths.project_state(root) / RECORD
    rec = setup.load_record_file(state)
    folders = tuple({"path": _folder(p.root, root)} for p in projects)
    owned_settings: dict[tuple[str, ...], object] = {("settings", "python.defaultInterpreterPath"): python}
    for name in model.EXCLUDED:
        owned_settings[("settings", "files.watcherExclude", f"**/{name}/**")] = True
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        res.files[rel] = "skip"
        res.errors.append(f"cannot read {path}: {exc}; left untouched")
        return
    try:
        text = old if old and old.strip() else '{\n    "folders": [],\n    "settings": {}\n}\n'
        folders_merged = merge.entries(text, "folders", "path", folders, rec.get("folders", {}), force=force,
                                       path=str(path), what="folder")
        settings_merged = merge.settings(folders_merged.text, owned_settings, rec.get("settings", {}),
                                         force=force, path=str(path))
    except jsonc.JsoncError as exc:
        res.files[rel] = "skip"
        res.errors.append(f"{exc.message}; left untouched (VS Code would not read it either): fix it there")
        return
    conflicts = folders_merged.conflicts + settings_merged.conflicts
    res.conflicts += [f"{rel}: {c}" for c in conflicts]
    new = settings_merged.text
    if old == new:
        res.files[rel] = "conflict" if conflicts else "identical"
    else:
        res.files[rel] = "conflict" if conflicts else ("create" if old is None else "update")
        if dry_run:
            res.diff += setup.diff(path, old or "", new)
        else:
            if old is not None and (not rec or folders_merged.overridden or settings_merged.overridden):
                saved = fsutil.backup(path, paths.project_state(root) / "backups")
                if saved:
                    res.backups.append(str(saved))
            if not setup.write_file(path, new, res):
                return
    if not dry_run:
        setup.save_record_file(state, {"folders": folders_merged.base, "settings": settings_merged.base})
        from devenv import gitexclude

        gitexclude.ensure(root, (path.name,))  # in a repo (--with): kept out of `git status`
    res.hints.append(f"open every repo in one VS Code window: code {_quote(str(path))}")


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
