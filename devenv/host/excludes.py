"""What is never synced or shared, in one place: `devenv sync`, `sync --watch` and the Vagrantfile
`share setup` writes all read it from here, so they cannot drift apart (they did: the Vagrantfile's
rsync block lacked /.devenv-backup/, so `vagrant rsync --delete` deleted the conflict copies devenv
keeps, and the watch read .devenvignore with a reader of its own that dropped `+` include rules).

Rules follow rsync's filter semantics, the subset devenv uses: a pattern with no `/` matches any path
component, a leading `/` anchors it at the project root, a trailing `/` matches folders only; in
.devenvignore a line `+ PATTERN` includes, `- PATTERN` or a bare pattern excludes, `#`/`;` comment;
the first rule that matches decides, in the order rsync is given them (devenv's, --exclude, the file).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

BACKUP_ROOT = ".devenv-backup"
IGNORE_FILE = ".devenvignore"
# Never worth syncing, and dangerous to overwrite on the guest (its own venv, test state, devstack's
# multi-GB volume files, the conflict copies devenv keeps). Excluded files are also protected from --delete.
# The IDE folders are per side: VS Code's Remote-SSH window on the guest gets its own .vscode/ (devenv init
# run there, with the guest's venv and paths), which a sync from the host would overwrite.
DEFAULT = (
    ".venv", ".tox", ".stestr", "__pycache__", "*.pyc", ".idea", "/.vscode/", "*.egg-info",
    "stack-volumes-*-backing-file", f"/{BACKUP_ROOT}/",
)


@dataclass(frozen=True)
class Rule:
    include: bool
    pattern: str

    def matches(self, rel: str, is_dir: bool) -> bool:
        pattern = self.pattern
        if pattern.endswith("/"):
            if not is_dir:
                return False
            pattern = pattern.rstrip("/")
        if pattern.startswith("/"):
            return fnmatch.fnmatchcase(rel, pattern.lstrip("/"))
        if "/" in pattern:  # rsync: a pattern with an inner slash matches the end of the path
            return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, "*/" + pattern)
        return fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)


def ignore_file(root: Path) -> Path | None:
    path = root / IGNORE_FILE
    return path if path.is_file() else None


def file_rules(root: Path) -> list[Rule]:
    path = ignore_file(root)
    if path is None:
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith(("+ ", "- ")):
            out.append(Rule(text[0] == "+", text[2:].strip()))
        else:
            out.append(Rule(False, text))
    return out


def rules(root: Path, extra: tuple[str, ...] = ()) -> list[Rule]:
    return [*(Rule(False, p) for p in (*DEFAULT, *extra)), *file_rules(root)]


class Matcher:
    """Is a project-relative path excluded, as rsync would decide with the same rules? A path is excluded
    when it, or any folder above it, is excluded (rsync does not descend into an excluded folder)."""

    def __init__(self, root: Path, extra: tuple[str, ...] = ()) -> None:
        self.rules = rules(root, extra)

    def _decide(self, rel: str, is_dir: bool) -> bool:
        for rule in self.rules:
            if rule.matches(rel, is_dir):
                return not rule.include
        return False

    def __call__(self, rel: str) -> bool:
        parts = rel.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            if self._decide("/".join(parts[:i]), is_dir=i < len(parts)):
                return True
        return False


def rsync_args(root: Path, extra: tuple[str, ...] = ()) -> list[str]:
    args = [f"--exclude={p}" for p in (*DEFAULT, *extra)]
    path = ignore_file(root)
    if path is not None:
        args.append(f"--exclude-from={path}")  # rsync reads `+ `/`- ` prefixes in this file itself
    return args
