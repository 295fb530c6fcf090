"""Which IDEs devenv sets up for a project: `--ide pycharm,vscode` (remembered), else the IDEs whose folders
the project already has (.idea/, .vscode/), else PyCharm."""

from __future__ import annotations

import json
from pathlib import Path

from devenv import fsutil, paths
from devenv.errors import UsageError

IDES = ("pycharm", "vscode")
FOLDERS = {"pycharm": ".idea", "vscode": ".vscode"}
STATE = "ide-choice.json"


def parse(value: str) -> tuple[str, ...]:
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in IDES]
    if unknown or not names:
        raise UsageError(f"--ide {value!r}: unknown IDE {', '.join(unknown) or '(none)'}",
                         f"use one or both of {', '.join(IDES)}, e.g. --ide pycharm,vscode")
    return tuple(n for n in IDES if n in names)  # a fixed order: PyCharm's files first, as before


def remembered(root: Path) -> tuple[str, ...] | None:
    try:
        data = json.loads((paths.project_state(root) / STATE).read_text(encoding="utf-8"))
        chosen = tuple(n for n in data.get("ides", ()) if n in IDES)
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return chosen or None


def remember(root: Path, ides: tuple[str, ...]) -> None:
    fsutil.atomic_write(paths.project_state(root) / STATE, json.dumps({"ides": list(ides)}))


def detected(root: Path) -> tuple[str, ...]:
    found = tuple(n for n in IDES if (root / FOLDERS[n]).is_dir())
    return found or ("pycharm",)


def resolve(root: Path, flag: str | None) -> tuple[str, ...]:
    """The IDEs for this run; a --ide value is remembered for refresh and the git hooks."""
    if flag is not None:
        ides = parse(flag)
        remember(root, ides)
        return ides
    return remembered(root) or detected(root)
