"""`devenv ide --ide vscode`: write a project's .vscode/ files, keeping every key and comment of the user's.

settings.json and launch.json are merged per owned key and per configuration (merge.py); the env files
are devenv's own. What is safe is written even when another file needs the user (not JSONC, a conflict,
.vscode a file); then one ConfigError or Conflict names all of it, as the PyCharm side does.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import fsutil, jsonc, paths
from devenv.errors import ConfigError, Conflict
from devenv.vscode import merge, model

if TYPE_CHECKING:
    from collections.abc import Callable

    from devenv.project import Project
    from devenv.report import Reporter

FORMAT = 1
SETTINGS, LAUNCH = "settings.json", "launch.json"


@dataclass
class VscodeResult:
    files: dict[str, str] = field(default_factory=dict)  # '.vscode/...' (or workspace file) -> verb
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    diff: str = ""

    def summary(self) -> str:
        from devenv.ide.result import count_verbs

        return count_verbs(self.files)

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "conflicts": self.conflicts, "errors": self.errors,
                "backups": self.backups, "hints": self.hints}

    def merge_from(self, other: VscodeResult) -> None:
        self.files.update(other.files)
        self.conflicts += other.conflicts
        self.errors += other.errors
        self.backups += other.backups
        self.hints += [h for h in other.hints if h not in self.hints]
        self.diff += other.diff


def record_path(root: Path) -> Path:
    return paths.project_state(root) / "vscode.json"


def load_record(root: Path) -> dict[str, Any]:
    return load_record_file(record_path(root))


def load_record_file(path: Path) -> dict[str, Any]:
    """What devenv wrote last (the merge bases); unknown or damaged: as on a first run (nothing is lost)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def save_record(root: Path, data: dict[str, Any]) -> None:
    save_record_file(record_path(root), data)


def save_record_file(path: Path, data: dict[str, Any]) -> None:
    fsutil.atomic_write(path, json.dumps({**data, "format": FORMAT}, indent=1, sort_keys=True))


def apply(project: Project, rep: Reporter, *, dry_run: bool = False, force: bool = False,
          venv: Path | None = None, interpreter: str | None = None) -> VscodeResult:
    """Write (or with dry_run only diff) the project's .vscode/ files; raises after writing what is safe."""
    res = write(project, dry_run=dry_run, force=force, venv=venv, interpreter=interpreter)
    report(res, rep, dry_run)
    raise_if_needed(res)
    return res


def write(project: Project, *, dry_run: bool = False, force: bool = False, venv: Path | None = None,
          interpreter: str | None = None) -> VscodeResult:
    res = VscodeResult()
    folder = project.root / model.FOLDER
    if folder.exists() and not folder.is_dir():
        res.errors.append(f"{folder} is a file, not a folder: VS Code reads its settings from a folder of that "
                          "name; move the file away and run `devenv ide --ide vscode` again")
        return res
    rec = load_record(project.root)
    if venv is None and rec.get("venv"):
        venv = Path(rec["venv"])  # `devenv ide --venv PATH` is remembered: refresh and the hooks keep it
    plan = model.plan(project, venv or project.venv, interpreter=interpreter)
    backups = paths.project_state(project.root) / "backups"
    new: dict[str, Any] = {"settings": rec.get("settings", {}), "launch": rec.get("launch", {}),
                           "files": dict(rec.get("files", {}))}
    if venv is not None and venv != project.venv:
        new["venv"] = str(venv)
    merged = _json_file(folder / SETTINGS, res, dry_run, backups, bool(rec.get("settings")),
                        lambda text, p: merge.settings(text, plan.settings, rec.get("settings", {}), force=force,
                                                       path=p))
    if merged is not None:
        new["settings"] = merged.base
    merged = _json_file(folder / LAUNCH, res, dry_run, backups, bool(rec.get("launch")),
                        lambda text, p: merge.launch(text, plan.launch, rec.get("launch", {}), force=force, path=p,
                                                     note=model.GEVENT_NOTE))
    if merged is not None:
        new["launch"] = merged.base
    for name, text in plan.env_files.items():
        digest = _own_file(folder / name, text, rec.get("files", {}).get(name), res, dry_run=dry_run, force=force,
                           backups=backups)
        if digest is not None:
            new["files"][name] = digest
    if not dry_run:
        save_record(project.root, new)
        if "create" in res.files.values():  # once, when .vscode/ is made (two git calls: not on every refresh)
            _git_exclude(project.root, res)
    res.hints += _hints(plan, venv or project.venv)
    return res


def _rel(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name == model.FOLDER else path.name


def diff(path: Path, old: str, new: str) -> str:
    rel = _rel(path)
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}"))


def _json_file(path: Path, res: VscodeResult, dry_run: bool, backups: Path, known: bool,
               fn: Callable[[str, str], merge.Merged]) -> merge.Merged | None:
    """known: devenv wrote this file before; a file it never wrote is backed up before its first change."""
    rel = _rel(path)
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        res.files[rel] = "skip"
        res.errors.append(f"cannot read {path}: {exc}; left untouched")
        return None
    try:
        out: merge.Merged = fn(old or "", str(path))
    except jsonc.JsoncError as exc:
        res.files[rel] = "skip"
        res.errors.append(f"{exc.message}; left untouched (VS Code would not read it either): fix it there")
        return None
    res.conflicts += [f"{rel}: {c}" for c in out.conflicts]
    if out.kept_removed:
        res.hints.append(f"{rel}: you removed {', '.join(out.kept_removed)}; left out (`devenv ide --ide vscode "
                         "--force` puts them back)")
    if old == out.text or (old is None and not out.changed):
        res.files[rel] = "conflict" if out.conflicts else "identical"
        return out
    res.files[rel] = "conflict" if out.conflicts else ("create" if old is None else "update")
    if dry_run:
        res.diff += diff(path, old or "", out.text)
        return out
    if old is not None and (out.overridden or not known):
        saved = fsutil.backup(path, backups)  # the user's file, before devenv first changes it
        if saved:
            res.backups.append(str(saved))
    if not write_file(path, out.text, res):
        return None
    return out


def _sha(text: str | bytes) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def _own_file(path: Path, text: str, digest: str | None, res: VscodeResult, *, dry_run: bool, force: bool,
              backups: Path) -> str | None:
    """A file devenv owns whole: rewritten unless the user edited it since devenv wrote it."""
    rel = _rel(path)
    try:
        old: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old = None
    except OSError as exc:  # a folder of that name, no permission: left as it is
        res.files[rel] = "skip"
        res.errors.append(f"cannot read {path}: {exc.strerror or exc}; left untouched (move it away, then run "
                          "`devenv ide --ide vscode` again)")
        return digest
    if old is not None and old == text.encode("utf-8"):
        res.files[rel] = "identical"
        return _sha(text)
    if old is not None and _sha(old) != digest and not force:
        res.files[rel] = "conflict"
        res.conflicts.append(f"{rel}: you edited it; devenv's would change it (`--force` takes devenv's, after a "
                             "backup)")
        return digest
    res.files[rel] = "create" if old is None else "update"
    if dry_run:
        res.diff += diff(path, old.decode("utf-8", "replace") if old else "", text)
        return digest
    if old is not None and _sha(old) != digest:
        saved = fsutil.backup(path, backups)
        if saved:
            res.backups.append(str(saved))
    if not write_file(path, text, res):
        return digest
    return _sha(text)


def write_file(path: Path, text: str, res: VscodeResult) -> bool:
    """Atomic; a folder or file that cannot be written is one error naming it (the other files go on)."""
    from devenv.errors import DevenvError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write(path, text)
    except (OSError, DevenvError) as exc:  # fsutil says the OSError as a DevenvError
        why = exc.message if isinstance(exc, DevenvError) else f"cannot write {path}: {exc.strerror or exc}"
        res.files[_rel(path)] = "skip"
        res.errors.append(f"{why}; it was left as it was (make {path.parent} writable)")
        return False
    return True


def _git_exclude(root: Path, res: VscodeResult) -> None:
    from devenv import gitexclude

    added = gitexclude.ensure(root, (model.FOLDER + "/",))
    if added:
        res.hints.append(f"{' and '.join(added)} added to .git/info/exclude: the project's .gitignore does not "
                         "ignore it, and `git status` stays clean")


def _hints(plan: model.Plan, venv: Path) -> list[str]:
    from devenv import venvlayout

    if not venvlayout.python(venv).exists():
        return ["no .venv yet: `devenv init` builds it; VS Code's interpreter setting already names it"]
    return list(plan.notes)


def report(res: VscodeResult, rep: Reporter, dry_run: bool) -> None:
    from devenv.ide.result import tell_files, tell_rest

    rep.data["vscode"] = res.to_json()
    tell_files(rep, res.files, "")
    tell_rest(rep, res.conflicts, res.errors, res.hints, res.diff if dry_run else "")


def raise_if_needed(res: VscodeResult) -> None:
    if res.errors:
        from devenv.ide.result import problems

        exc: ConfigError | Conflict = ConfigError(problems(res.errors), "the other VS Code files were written; fix "
                                                  "the one named and run `devenv ide --ide vscode` again")
    elif res.conflicts:
        exc = Conflict(f"{len(res.conflicts)} conflict(s) between your VS Code settings and devenv's update",
                       "your values were kept; edit them as you like, or `devenv ide --ide vscode --force` takes "
                       "devenv's (your file is backed up first)")
    else:
        return
    exc.result = res  # type: ignore[union-attr]  # lets init/refresh show what was done
    raise exc
