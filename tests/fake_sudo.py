#!/usr/bin/python3
"""A `sudo` stand-in for the fake devstack guest (tests/devstackfix.py), beside the systemctl stand-in on the
stack user's PATH: the machine running the tests may have no sudo, and a test must not edit /etc/sudoers.

  sudo -n [-u USER] [-g GROUP] [--] COMMAND...
        runs COMMAND (exec) when it would run as the caller anyway (no -u, or -u the caller's own name; -g is
        only accepted as the caller's own groups), as sudo with `NOPASSWD: ALL` for the caller would.
        Another -u: "sudo: a password is required" exit 1, as sudo -n says when it would have to ask.
When the file `fake-sudo-deny` exists in the stand-in's run folder (DEVENV_FAKE_SUDO_DENY overrides the
path), every call fails like a sudo that wants a password: "sudo: a password is required", exit 1.
Without -n the stand-in refuses too (a test must never wait on a prompt): "sudo: a terminal is required...".
"""

from __future__ import annotations

import grp
import os
import pwd
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DENY = os.environ.get("DEVENV_FAKE_SUDO_DENY") or os.path.join(os.path.dirname(HERE), "run", "fake-sudo-deny")


def main(argv: list[str]) -> int:
    non_interactive, user, group = False, None, None
    args = list(argv)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "--":
            break
        if opt == "-n":
            non_interactive = True
        elif opt in ("-u", "-g") and args:
            value = args.pop(0)
            user, group = (value, group) if opt == "-u" else (user, value)
        else:
            print(f"sudo: unknown option -- {opt.lstrip('-')}", file=sys.stderr)
            return 1
    if not args:
        print("usage: sudo -n [-u user] [-g group] [--] command", file=sys.stderr)
        return 1
    if os.path.exists(DENY):
        print("sudo: a password is required", file=sys.stderr)
        return 1
    if not non_interactive:
        print("sudo: a terminal is required to read the password; either use the -S option to read from "
              "standard input or configure an askpass helper", file=sys.stderr)
        return 1
    me = pwd.getpwuid(os.getuid()).pw_name
    mine = {grp.getgrgid(g).gr_name for g in os.getgroups()} | {grp.getgrgid(os.getgid()).gr_name}
    if (user not in (None, me)) or (group is not None and group not in mine):
        print("sudo: a password is required", file=sys.stderr)
        return 1
    try:
        os.execvp(args[0], args)
    except OSError:
        print(f"sudo: {args[0]}: command not found", file=sys.stderr)
        return 1
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
