#!/usr/bin/env python3
"""devstack facts from a guest: ONE stdlib-only script, shipped as `ssh guest python3 - COMMAND ARGS`.

Like devenv/host/probes.py it never imports devenv (the guest has only python3) and runs on Python 3.7+.
It reads files and, for git's ownership check only, runs `git rev-parse` with a timeout; it never runs
devstack's shell. The whole run is bounded: an alarm ends it (SIGALRM's default action kills the process,
which also ends a read blocked on a hung FUSE or NFS share) and the host's ssh timeout is the last resort.

Commands (one JSON object on stdout):
  find [--local-conf PATH] [--deadline S]
        -> {"local_conf", "text", "devstack_dir", "owner", "tried", "error", "gitrepo", "uid",
            "localrc", "localrc_text" (an old-style localrc file, when there is one)}
           where the devstack checkout is: PATH, else /opt/stack/devstack, ~stack/devstack, ~/devstack
  state --venv DIR --dest DIR [--repo NAME=PATH ...] [--deadline S]
        -> {"venv": bool, "editables": [{"dist", "location"}], "repos": {NAME: {...}}, "found": [NAME],
            "uid", "git"}
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
from typing import Any, Dict, List  # noqa: UP035 - a guest may run Python 3.7

Result = Dict[str, Any]  # noqa: UP006
GIT_TIMEOUT = 5.0
_GITREPO = re.compile(r'^GITREPO\["([^"]+)"\]=\$\{([A-Za-z0-9_]+)_REPO:-', re.M)


def owner_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def candidates(explicit: str | None) -> List[str]:  # noqa: UP006
    if explicit:
        return [explicit]
    dirs = ["/opt/stack/devstack"]
    try:
        dirs.append(os.path.join(pwd.getpwnam("stack").pw_dir, "devstack"))
    except KeyError:
        pass
    dirs.append(os.path.join(os.path.expanduser("~"), "devstack"))
    seen: List[str] = []  # noqa: UP006
    for d in dirs:
        path = os.path.join(d, "local.conf")
        if path not in seen:
            seen.append(path)
    return seen


def find(explicit: str | None) -> Result:
    out: Result = {"local_conf": None, "text": None, "devstack_dir": None, "owner": None, "error": None,
                   "tried": candidates(explicit), "gitrepo": {}, "uid": os.geteuid()}
    for path in out["tried"]:
        folder = os.path.dirname(path)
        has_conf, has_stack = os.path.isfile(path), os.path.isfile(os.path.join(folder, "stack.sh"))
        if not (has_conf or has_stack or explicit):
            continue
        out["devstack_dir"] = folder if (has_stack or has_conf) else None
        if out["devstack_dir"]:
            out["owner"] = owner_name(os.stat(folder).st_uid)
            out["gitrepo"] = gitrepo_names(folder)
        if has_conf:
            out["local_conf"] = path
            _read_into(out, "text", path)
        # stackrc sources an old-style `localrc` beside it instead of local.conf's [[local|localrc]]
        legacy = os.path.join(folder, "localrc")
        if out["devstack_dir"] and os.path.isfile(legacy):
            out["localrc"] = legacy
            _read_into(out, "localrc_text", legacy)
        break
    return out


def _read_into(out: Result, key: str, path: str) -> None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            out[key] = fh.read()
    except OSError as exc:
        out["error"] = f"{path}: {exc.strerror}"


def gitrepo_names(devstack_dir: str) -> Dict[str, str]:  # noqa: UP006
    """stackrc's GITREPO["oslo.messaging"]=${OSLOMSG_REPO:-...}: the local.conf prefix of each library."""
    try:
        with open(os.path.join(devstack_dir, "stackrc"), encoding="utf-8", errors="replace") as fh:
            return {prefix: name for name, prefix in _GITREPO.findall(fh.read())}
    except OSError:
        return {}


def editables(venv: str) -> List[Result]:  # noqa: UP006
    """Editable installs of the venv: PEP 610 direct_url.json ({"dir_info": {"editable": true}}), and the
    older setup.py develop .egg-link files."""
    found: List[Result] = []  # noqa: UP006
    for site in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages")):
        for meta in sorted(glob.glob(os.path.join(site, "*.dist-info", "direct_url.json"))):
            try:
                with open(meta, encoding="utf-8") as fh:
                    data = json.load(fh)
            except (OSError, ValueError):
                continue
            url = data.get("url", "")
            if (data.get("dir_info") or {}).get("editable") and url.startswith("file://"):
                dist = os.path.basename(os.path.dirname(meta))[: -len(".dist-info")].rsplit("-", 1)[0]
                found.append({"dist": dist, "location": _unquote(url[len("file://"):])})
        for link in sorted(glob.glob(os.path.join(site, "*.egg-link"))):
            try:
                with open(link, encoding="utf-8") as fh:
                    location = fh.readline().strip()
            except OSError:
                continue
            found.append({"dist": os.path.basename(link)[: -len(".egg-link")], "location": location})
    return found


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def git_state(path: str) -> Result | None:
    """Branch and HEAD read from .git directly (no git needed), owner, and git's own ownership verdict."""
    gitdir = os.path.join(path, ".git")
    if os.path.isfile(gitdir):  # a worktree or submodule: "gitdir: ..."
        with open(gitdir, encoding="utf-8") as fh:
            line = fh.read().strip()
        if line.startswith("gitdir:"):
            gitdir = os.path.join(path, line[len("gitdir:"):].strip())
    if not os.path.isfile(os.path.join(gitdir, "HEAD")):
        return None
    with open(os.path.join(gitdir, "HEAD"), encoding="utf-8") as fh:
        head = fh.read().strip()
    branch = None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
        commit = resolve_ref(gitdir, ref)
    else:
        commit = head
    st = os.stat(path)
    out: Result = {"branch": branch, "head": commit, "owner_uid": st.st_uid, "owner": owner_name(st.st_uid),
                   "safe_directory_ok": None, "git_error": None}
    git = shutil.which("git")
    if git:
        try:
            res = subprocess.run([git, "-C", path, "rev-parse", "--git-dir"],  # noqa: S603 - a list
                                 stdin=subprocess.DEVNULL, capture_output=True, timeout=GIT_TIMEOUT, text=True)
            out["safe_directory_ok"] = res.returncode == 0
            if res.returncode != 0:
                lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
                out["git_error"] = lines[0] if lines else f"git rev-parse exit {res.returncode}"
        except subprocess.TimeoutExpired:
            out["git_error"] = f"git rev-parse did not finish within {GIT_TIMEOUT:g} s"
    return out


def resolve_ref(gitdir: str, ref: str) -> str | None:
    common = gitdir
    commondir = os.path.join(gitdir, "commondir")
    if os.path.isfile(commondir):
        with open(commondir, encoding="utf-8") as fh:
            common = os.path.join(gitdir, fh.read().strip())
    for base in (gitdir, common):
        try:
            with open(os.path.join(base, ref), encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            pass
    try:
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        pass
    return None  # a branch without a commit yet


def state(venv: str, dest: str, repos: List[str]) -> Result:  # noqa: UP006
    wanted = dict(r.split("=", 1) for r in repos)
    found = []
    try:
        for name in sorted(os.listdir(dest)):
            if name not in wanted and os.path.exists(os.path.join(dest, name, ".git")):
                wanted[name] = os.path.join(dest, name)
                found.append(name)
    except OSError:
        pass
    out: Result = {"venv": os.path.isdir(venv), "editables": editables(venv), "repos": {}, "found": found,
                   "uid": os.geteuid(), "git": shutil.which("git")}
    for name, path in wanted.items():
        out["repos"][name] = git_state(path) if os.path.isdir(path) else None
    return out


def main(argv: List[str] | None = None) -> int:  # noqa: UP006
    ap = argparse.ArgumentParser(prog="devenv-devstack-probe")
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("find")
    f.add_argument("--local-conf")
    s = sub.add_parser("state")
    s.add_argument("--venv", required=True)
    s.add_argument("--dest", required=True)
    s.add_argument("--repo", action="append", default=[])
    for p in (f, s):
        p.add_argument("--deadline", type=float, default=20.0)
    args = ap.parse_args(argv)
    signal.alarm(max(1, int(args.deadline)))  # the default action ends the process, hung read or not
    out = find(args.local_conf) if args.command == "find" else state(args.venv, args.dest, args.repo)
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
