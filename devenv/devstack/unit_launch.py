#!/usr/bin/env python3
"""Runs on the guest for `devenv devstack run`: ONE stdlib-only script, shipped as `python3 -c SOURCE COMMAND`
(stdin stays the user's terminal, for pdb). Like guest_probe.py it never imports devenv; Python 3.7+.

  outer --pgid-file PATH -- ARGV...
        as the ssh user: record this process group (the ssh session's) in PATH, then exec ARGV (sudo/sg and
        `inner`); devenv signals that group through a second ssh connection (Ctrl-C, a lost connection)
  inner [--cwd DIR] [--env K=V]... --path PROGRAM -- ARGV...
        as the unit's user and group: the environment systemd gives a service (PATH, HOME, USER, LOGNAME,
        SHELL, LANG) plus the terminal's TERM, then the unit's Environment=; chdir to WorkingDirectory=
        (systemd's default: /); exec PROGRAM with ARGV (ExecStart's path= and argv[])
  signal --pgid-file PATH [--signal INT] [--wait S]
        send the signal to the recorded group; after S seconds SIGTERM, then SIGKILL, whatever is left;
        prints {"found": bool, "gone": bool, "error": str|null} and removes the record once the group is gone
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import signal
import sys
import tempfile
import time
from typing import List  # noqa: UP035 - a guest may run Python 3.7

SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # systemd's default PATH for services
KEPT = ("TERM", "COLORTERM", "LANG", "LC_ALL", "LC_CTYPE")


def outer(pgid_file: str, argv: List[str]) -> int:  # noqa: UP006
    path = os.path.expanduser(pgid_file)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".run-")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpgrp()} {os.getpid()}\n")
    os.replace(tmp, path)
    os.execvp(argv[0], argv)
    return 127  # not reached


def inner(cwd: str, env_pairs: List[str], program: str, argv: List[str]) -> int:  # noqa: UP006
    pw = pwd.getpwuid(os.getuid())
    env = {"PATH": SYSTEMD_PATH, "HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
           "SHELL": pw.pw_shell}
    env.update({k: os.environ[k] for k in KEPT if k in os.environ})
    env.update(dict(p.split("=", 1) for p in env_pairs))
    try:
        os.chdir(cwd or "/")
    except OSError as exc:
        sys.stderr.write(f"devenv: cannot enter the unit's WorkingDirectory {cwd}: {exc.strerror}\n")
        return 200  # systemd's EXIT_CHDIR
    try:
        os.execve(program, argv, env)
    except OSError as exc:
        sys.stderr.write(f"devenv: cannot run {program}: {exc.strerror}\n")
        return 203  # systemd's EXIT_EXEC
    return 203


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid_file: str, signame: str, wait: float) -> dict:
    path = os.path.expanduser(pgid_file)
    try:
        with open(path) as fh:
            pgid = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return {"found": False, "gone": True, "error": None}
    out: dict = {"found": True, "gone": False, "error": None}
    for sig, grace in ((getattr(signal, "SIG" + signame), wait), (signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        except PermissionError as exc:
            out["error"] = f"kill {pgid}: {exc.strerror}"
            return out
        end = time.monotonic() + grace
        while time.monotonic() < end and _alive(pgid):
            time.sleep(0.1)
        if not _alive(pgid):
            break
    out["gone"] = not _alive(pgid)
    if out["gone"]:
        try:
            os.unlink(path)
        except OSError:
            pass
    return out


def main(argv: List[str] | None = None) -> int:  # noqa: UP006
    ap = argparse.ArgumentParser(prog="devenv-unit-launch")
    sub = ap.add_subparsers(dest="command", required=True)
    o = sub.add_parser("outer")
    o.add_argument("--pgid-file", required=True)
    o.add_argument("argv", nargs="+")
    i = sub.add_parser("inner")
    i.add_argument("--cwd", default="")
    i.add_argument("--env", action="append", default=[])
    i.add_argument("--path", required=True)
    i.add_argument("argv", nargs="+")
    s = sub.add_parser("signal")
    s.add_argument("--pgid-file", required=True)
    s.add_argument("--signal", default="INT")
    s.add_argument("--wait", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.command == "outer":
        return outer(args.pgid_file, args.argv)
    if args.command == "inner":
        return inner(args.cwd, args.env, args.path, args.argv)
    sys.stdout.write(json.dumps(signal_group(args.pgid_file, args.signal, args.wait)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
