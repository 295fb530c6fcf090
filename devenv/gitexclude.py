"""Keep devenv's folders out of `git status`: .venv/ and .idea/ go to the repository's own
.git/info/exclude when the project's .gitignore does not cover them (horizon, keystone, neutron and
oslo.messaging do not ignore .idea/). info/exclude is local to the clone, never committed, so the
project's files stay untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

from devenv import fsutil, proc

FOLDERS = (".venv/", ".idea/")
HEADER = "# added by devenv: its venv and IDE folders"


def ensure(root: Path, folders: tuple[str, ...] = FOLDERS) -> list[str]:
    """The folders added to info/exclude (none when git is missing or the folder is not a work tree)."""
    git = shutil.which("git")
    if git is None:
        return []
    where = proc.run([git, "-C", str(root), "rev-parse", "--git-path", "info/exclude"], timeout=10)
    if where.returncode != 0 or not where.stdout.strip():
        return []
    exclude = Path(where.stdout.strip())
    if not exclude.is_absolute():
        exclude = root / exclude
    missing = [f for f in folders
               if proc.run([git, "-C", str(root), "check-ignore", "-q", "--no-index", f], timeout=10).returncode != 0]
    if not missing:
        return []
    try:
        text = exclude.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = set(text.splitlines())
    add = [f"/{f}" for f in missing if f"/{f}" not in lines]
    if not add:
        return []
    block = ("" if not text or text.endswith("\n") else "\n") + "\n".join([HEADER, *add]) + "\n"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_write(exclude, text + block)
    return [a.strip("/") for a in add]
