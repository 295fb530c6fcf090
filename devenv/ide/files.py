"""Apply one owned .idea file: three-way merge of last generated, new render and the file on disk.

Verbs: create | update | identical | conflict | skip. A file that is not XML (or not the kind of file
devenv expects) is backed up and reported, never silently replaced; --force replaces it after the backup.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from devenv import fsutil
from devenv.errors import DevenvError
from devenv.ide import merge, xmlio


@dataclass
class FileOutcome:
    rel: str
    verb: str
    conflicts: list[str] = field(default_factory=list)
    error: str | None = None
    base: str | None = None  # the merge base to remember next time
    diff: str = ""
    text: str | None = None  # what to write (None: nothing)
    backup: Path | None = None
    overridden: list[str] = field(default_factory=list)  # clashes --force resolved for devenv's side


def _diff(rel: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/.idea/{rel}", f"b/.idea/{rel}")
    return "".join(lines)


def apply(idea: Path, rel: str, ours: str, base: str | None, *, force: bool, dry_run: bool,
          recreate_missing: bool, backup_dir: Path) -> FileOutcome:
    path = idea / rel
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except (OSError, UnicodeDecodeError) as exc:
        current, unreadable = "", str(exc)
    else:
        unreadable = ""
    if current is None:
        if base is not None and not recreate_missing and not force:
            # devenv wrote it before and the user deleted it (e.g. removed the run configuration).
            return FileOutcome(rel, "skip", base=base)
        out = FileOutcome(rel, "create", base=ours, diff=_diff(rel, "", ours), text=ours)
    else:
        out = _merge(rel, ours, base, current, force) if not unreadable else \
            FileOutcome(rel, "skip", error=f"cannot read .idea/{rel}: {unreadable}", base=base)
        overridden = bool(out.overridden) and out.text is not None  # --force beats a user edit
        if out.error or (base is None and out.text is not None) or overridden:
            # unusable, or a file devenv never wrote that it is about to change: keep the original
            out.backup = None if dry_run else _backup(path, backup_dir)
            if force:  # replace the unusable file with the render, the original is in the backup
                out.verb, out.text, out.base, out.error = "update", ours, ours, None
                out.diff = _diff(rel, current, ours)
    return _commit(path, out, dry_run, base)


def _backup(path: Path, backup_dir: Path) -> Path | None:
    try:
        return fsutil.backup(path, backup_dir)
    except DevenvError:
        return None


def _merge(rel: str, ours: str, base: str | None, current: str, force: bool) -> FileOutcome:
    try:
        theirs_el = xmlio.parse(current)
    except xmlio.XmlError as exc:
        return FileOutcome(rel, "skip", error=f".idea/{rel} is not well-formed XML ({exc})", base=base)
    ours_el = xmlio.parse(ours)
    if theirs_el.tag != ours_el.tag:
        return FileOutcome(rel, "skip", base=base,
                           error=f".idea/{rel} is not a file devenv knows (root <{theirs_el.tag}>, "
                                 f"expected <{ours_el.tag}>)")
    base_el = None
    if base is not None:
        try:
            base_el = xmlio.parse(base)
        except xmlio.XmlError:
            base_el = None
    overridden: list[str] = []
    if force:  # what --force is about to overwrite: the user's side of each clash (kept in a backup)
        overridden = merge.merge3(xmlio.parse(base) if base is not None and base_el is not None else None,
                                  xmlio.parse(ours),
                                  xmlio.parse(current), force=False).conflicts
    result = merge.merge3(base_el, ours_el, theirs_el, force=force)
    # A conflict keeps the old base, so it is reported again until the user resolves it.
    new_base = base if result.conflicts and not force else ours
    verb = "conflict" if result.conflicts else "update"
    if xmlio.same(result.root, theirs_el):
        return FileOutcome(rel, verb if result.conflicts else "identical", result.conflicts, base=new_base)
    text = xmlio.serialize(result.root, header=ours.startswith("<?xml"))
    return FileOutcome(rel, verb, result.conflicts, base=new_base, diff=_diff(rel, current, text), text=text,
                       overridden=overridden)


def _commit(path: Path, out: FileOutcome, dry_run: bool, old_base: str | None) -> FileOutcome:
    if out.text is None or dry_run:
        return out
    try:
        fsutil.atomic_write(path, out.text)
    except DevenvError as exc:
        out.verb, out.error, out.base = "skip", exc.message, old_base
    return out


def retire(idea: Path, rel: str, base: str, *, dry_run: bool) -> FileOutcome:
    """A file devenv made before and no longer generates (e.g. a console script was removed upstream):
    delete it if the user never touched it, otherwise keep it and report."""
    path = idea / rel
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return FileOutcome(rel, "skip")  # already gone (or unreadable): nothing of ours left to remove
    try:
        untouched = xmlio.same(xmlio.parse(current), xmlio.parse(base))
    except xmlio.XmlError:
        untouched = False
    if not untouched:
        return FileOutcome(rel, "conflict", [f"{rel}: you changed it, devenv no longer generates it (kept)"],
                           base=base)
    if not dry_run:
        try:
            path.unlink()
        except OSError as exc:
            return FileOutcome(rel, "skip", error=f"cannot remove .idea/{rel}: {exc.strerror}", base=base)
    return FileOutcome(rel, "delete", diff=_diff(rel, current, ""))
