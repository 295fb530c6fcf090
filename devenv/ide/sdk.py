"""The SDK entry in every installed PyCharm's jdk.table.xml: load, name, update, write safely."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import fsutil, lock, paths
from devenv.errors import DevenvError
from devenv.ide import jdktable, jetbrains

if TYPE_CHECKING:
    from lxml import etree

    from devenv.ide.result import IdeResult
    from devenv.ide.venvinfo import VenvInfo
    from devenv.project import Project
    from devenv.tools import Tools


@dataclass
class Table:
    config: jetbrains.PyCharmConfig
    path: Path
    root: etree._Element | None  # None: unusable (reported)
    original: str  # text as read ('' when the file did not exist)


@contextmanager
def tables_locked(configs: list[jetbrains.PyCharmConfig], *, dry_run: bool) -> Iterator[None]:
    """Hold a lock for each table (in path order, so two runs never wait on each other crosswise).

    The lock files live in devenv's state folder, never in PyCharm's config folder; flock goes away
    with a killed holder. A dry run reads only and takes none.
    """
    if dry_run or not configs:
        yield
        return
    with ExitStack() as stack:
        for path in sorted({str(c.jdk_table) for c in configs}):
            digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
            stack.enter_context(lock.project_lock(paths.state_home() / "locks" / f"jdk-table-{digest}.lock",
                                                  timeout=lock.DEFAULT_TIMEOUT))
        yield


def load_tables(configs: list[jetbrains.PyCharmConfig], res: IdeResult, *, dry_run: bool,
                backup_dir: Path) -> list[Table]:
    out = []
    for cfg in configs:
        path = cfg.jdk_table
        try:
            original = path.read_text(encoding="utf-8") if path.exists() else ""
            root = jdktable.load(path)
        except (jdktable.TableError, OSError, UnicodeDecodeError) as exc:
            # Never replace a table we cannot read: keep a copy next to it and say so.
            bak = None if dry_run else fsutil.backup(path)
            res.errors.append(f"{path} is unusable: {exc}" + (f" (backed up to {bak})" if bak else ""))
            res.jdk_tables[str(path)] = "skip"
            if bak:
                res.backups.append(str(bak))
            out.append(Table(cfg, path, None, ""))
            continue
        out.append(Table(cfg, path, root, original))
    return out


def choose(tables: list[Table], project: Project, venv: VenvInfo, previous: str | None) -> tuple[str, bool]:
    roots = [t.root for t in tables if t.root is not None]
    return jdktable.choose_name(roots, project.name, venv.short, venv.python, previous)


def write_tables(tables: list[Table], project: Project, venv: VenvInfo, name: str, res: IdeResult, *,
                 dry_run: bool, force: bool, tools: Tools | None = None,
                 associated_root: Path | None = None) -> list[str]:
    """Upsert the entry everywhere it is safe (and the tools venv's, which the Tox configurations name by
    its path: PyCharm finds their interpreter by homePath in this table). Returns the selectors of running
    PyCharms. associated_root: the window's folder when it is not the project's (several repos, one venv)."""
    if venv.version is None:
        for t in tables:
            if t.root is not None:
                res.jdk_tables[str(t.path)] = "skip"
        return []
    selectors = jetbrains.running_selectors() if tables else []
    running = [t.config.selector for t in tables if jetbrains.is_running(t.config, selectors)]
    for t in tables:
        if t.root is None:
            continue
        changed = jdktable.upsert(t.root, name, venv.python, venv.version, associated_root or project.root)
        if tools is not None:  # shared by every project: no ASSOCIATED_PROJECT_PATH
            changed = jdktable.upsert(t.root, tools.sdk_name, tools.python, tools.version, None) or changed
        key = str(t.path)
        if not changed:
            res.jdk_tables[key] = "identical"
        elif t.config.selector in running and not force:
            res.jdk_tables[key] = "skip"
            res.conflicts.append(
                f"{t.config.selector} is running, so {t.path} was not changed (it rewrites the file on exit): "
                f"close PyCharm and run `devenv ide` again, or `devenv ide --force` and restart PyCharm")
        else:
            res.jdk_tables[key] = _write(t, res, dry_run)
    return running


def _write(t: Table, res: IdeResult, dry_run: bool) -> str:
    assert t.root is not None
    text = jdktable.text(t.root)
    verb = "update" if t.original else "create"
    res.diff += "".join(difflib.unified_diff(t.original.splitlines(True), text.splitlines(True),
                                             f"a/{t.path}", f"b/{t.path}"))
    if dry_run:
        return verb
    try:
        bak = fsutil.backup(t.path)  # a file outside the project: always keep the previous version
        if bak:
            res.backups.append(str(bak))
        fsutil.atomic_write(t.path, text)  # creates options/ when the config folder has none
    except DevenvError as exc:
        res.errors.append(exc.message)
        return "skip"
    return verb
