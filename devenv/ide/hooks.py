"""git hooks that run `devenv refresh --hook` after checkout, merge and rebase (see hookrun.py).

A foreign hook already in place is moved aside to `<hook>.devenv-chained` and called first (with the
same arguments and stdin); its exit status is what the hook returns when it fails. Our hook is
recognised by its marker line, so installing twice only refreshes it, and `uninstall` puts the foreign
hook back exactly as it was. The hooks folder comes from `git rev-parse --git-path hooks`, which
honours core.hooksPath and worktrees.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from devenv import fsutil, proc
from devenv.errors import UsageError

HOOKS = ("post-checkout", "post-merge", "post-rewrite")
MARKER = "# devenv-managed-hook: refresh after git changes the tree (remove with: devenv hooks uninstall)"
CHAINED = ".devenv-chained"


@dataclass(frozen=True)
class HookChange:
    hook: str
    verb: str  # install | update | identical | chain | restore | remove | absent
    path: Path


def hooks_dir(repo: Path) -> Path:
    res = proc.run(["git", "rev-parse", "--git-path", "hooks"], cwd=repo, timeout=30, what="git rev-parse")
    if not res.ok:
        raise UsageError(f"{repo} is not inside a git repository", "run `git init` or give a checkout's path")
    path = Path(res.stdout.strip())
    return path if path.is_absolute() else (repo / path)


def devenv_command() -> list[str]:
    """The devenv that is running now: its script when started as `devenv`, else `python -m devenv`."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("devenv", "devenv.exe") and argv0.exists():
        return [str(argv0.resolve())]
    return [sys.executable, "-m", "devenv"]


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def git_common_dir(repo: Path) -> Path:
    res = proc.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=repo, timeout=30,
                   what="git rev-parse")
    if not res.ok:
        raise UsageError(f"{repo} is not inside a git repository", "run `git init` or give a checkout's path")
    return Path(res.stdout.strip()).resolve()


def script(hook: str, command: list[str], common_dir: Path | None = None, wait: float = 30.0) -> str:
    """wait: seconds git waits for the refresh before it goes on in the background (hookrun)."""
    cmd = " ".join(_quote(a) for a in command)
    lines = ["#!/bin/sh", MARKER,
             f"# devenv rewrites this file: put commands of your own in {hook}{CHAINED}, which it runs first",
             'chained="$0' + CHAINED + '"', "status=0"]
    if hook == "post-rewrite":  # git feeds the rewritten commits on stdin: give the chained hook a copy
        lines += ['input=$(cat)',
                  'if [ -x "$chained" ]; then printf "%s\\n" "$input" | "$chained" "$@" || status=$?; fi']
    else:
        lines += ['if [ -x "$chained" ]; then "$chained" "$@" || status=$?; fi']
    if hook == "post-checkout":  # $3 = 0: a file checkout, the tree's setup did not change
        lines += ['if [ "$3" = "0" ]; then exit $status; fi']
    if common_dir is not None:
        # a hooks folder shared by several repositories (core.hooksPath): refresh only the one this hook
        # was installed for (and its worktrees, which share its git dir), never build a venv elsewhere
        lines += ['here=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)',
                  f'if [ "$here" != {_quote(str(common_dir))} ]; then exit $status; fi']
    # `refresh --hook` prints one line when it did real work or failed, and exits 0 itself; the echo is
    # for a devenv that cannot start at all (uninstalled, moved)
    lines += [f"{cmd} refresh --hook --wait {wait:g} || echo 'devenv could not run: run devenv refresh by hand' >&2",
              "exit $status", ""]
    return "\n".join(lines)


def _ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _inside(path: Path, *roots: Path) -> bool:
    p = path.resolve()
    return any(p == r or r in p.parents for r in roots)


def _toplevel(repo: Path) -> Path:
    res = proc.run(["git", "rev-parse", "--show-toplevel"], cwd=repo, timeout=30, what="git rev-parse")
    return Path(res.stdout.strip()).resolve() if res.ok and res.stdout.strip() else repo.resolve()


def install(repo: Path, command: list[str] | None = None, shared: bool = False,
            backup_dir: Path | None = None, wait: float = 30.0) -> list[HookChange]:
    folder = hooks_dir(repo)
    common = git_common_dir(repo)
    if not _inside(folder, common, _toplevel(repo)) and not shared:
        raise UsageError(f"git's hooks folder for {repo} is {folder} (core.hooksPath), outside this repository: "
                         "hooks there run in every repository that shares it",
                         "pass --shared-hooks-path to install there anyway (the hooks then act only in this "
                         "repository), or unset core.hooksPath for this repository")
    folder.mkdir(parents=True, exist_ok=True)
    cmd = command or devenv_command()
    out = []
    for hook in HOOKS:
        path, aside = folder / hook, folder / (hook + CHAINED)
        text = script(hook, cmd, common, wait)
        if path.exists() and _ours(path):
            same = path.read_text(encoding="utf-8") == text
            verb = "identical" if same else "update"
            if not same:  # lines a user added to our hook are kept in a backup, never just dropped
                fsutil.backup(path, backup_dir)
        elif path.exists() or path.is_symlink():
            if aside.exists():
                raise UsageError(f"{aside} already exists and {path} is not devenv's",
                                 "move one of them away, then run `devenv hooks install` again")
            os.replace(path, aside)  # keeps its mode, content and symlink-ness exactly
            verb = "chain"
        else:
            verb = "install"
        if verb != "identical":
            fsutil.atomic_write(path, text, mode=0o755)
        out.append(HookChange(hook, verb, path))
    return out


def uninstall(repo: Path) -> list[HookChange]:
    folder = hooks_dir(repo)
    out = []
    for hook in HOOKS:
        path, aside = folder / hook, folder / (hook + CHAINED)
        if not _ours(path):
            out.append(HookChange(hook, "absent", path))
            continue
        if aside.exists() or aside.is_symlink():
            os.replace(aside, path)
            out.append(HookChange(hook, "restore", path))
        else:
            path.unlink()
            out.append(HookChange(hook, "remove", path))
    return out


def installed(repo: Path) -> dict[str, bool]:
    folder = hooks_dir(repo)
    return {hook: _ours(folder / hook) for hook in HOOKS}
