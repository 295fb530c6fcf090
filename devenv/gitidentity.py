"""Is git's identity set where this project's commits will read it? Said, never set.

A first-time contributor's first `git commit` fails (or, worse, records `root@localhost`), and Gerrit
refuses a change whose author email is not the one of the account. devenv only reports the missing
`user.name`/`user.email` with the commands that set them: who the contributor is is theirs to say.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from devenv import proc
from devenv.findings import Finding

KEYS = ("user.name", "user.email")


def missing(root: Path) -> list[str]:
    """The identity keys git cannot find for commits in `root` (all config levels); [] outside git."""
    git = shutil.which("git")
    if git is None or proc.run([git, "-C", str(root), "rev-parse", "--git-dir"], timeout=10).returncode != 0:
        return []
    return [key for key in KEYS
            if not proc.run([git, "-C", str(root), "config", "--get", key], timeout=10).stdout.strip()]


def fix(keys: list[str]) -> str:
    examples = {"user.name": '"Your Name"', "user.email": "you@example.com"}
    return "; ".join(f"git config --global {k} {examples[k]}" for k in keys)


def finding(root: Path) -> Finding:
    keys = missing(root)
    if not keys:
        return Finding("git.identity", "ok", "git user.name and user.email are set")
    return Finding("git.identity", "warn", f"git has no {' and no '.join(keys)} for commits here",
                   "git commit fails or records a wrong author, and Gerrit refuses a change whose email is "
                   "not the account's", fix(keys))
