"""Stand-ins for the rsyncs a Mac has, which cannot run here: openrsync (macOS 15.4+'s /usr/bin/rsync) and
rsync 2.6.9 (older macOS). Each is a small Python script that
  - prints exactly that tool's `--version` answer,
  - rejects, the way the real one does (its message, exit 1), every option its option table does not list,
  - otherwise runs the real (GNU) rsync of this machine with the same arguments,
  - and logs every call (argv, one JSON line) to <its folder>/calls.log, so a test can prove what ran.

Sources of the tables below (read from the projects' own code, not from memory):
  openrsync  KlaraSystems/openrsync main.c (the code Apple ships as /usr/bin/rsync since macOS 15.4):
             `rsync_lopts[]`, `rsync_shopts`, `usage()`, and the `case 'V':` that prints
             "openrsync: protocol version 29" / "rsync version 2.6.9 compatible" (RSYNC_PROTOCOL is 29 in
             extern.h). getopt_long rejects an unknown option; macOS's libc says "unrecognized option `--x'"
             (long) or "illegal option -- x" (short), then usage(ERR_SYNTAX), ERR_SYNTAX = 1. Its option table
             has --out-format, --itemize-changes, --backup-dir, --files-from, --from0, --timeout, -8, and none
             of --info, --ignore-missing-args, --delete-missing-args, --protect-args/--secluded-args (-s).
  rsync 2.6.9  RsyncProject/rsync at tag v2.6.9, options.c: `long_options[]` (popt), and
             print_rsync_version() for the --version text (as macOS builds it: 64-bit, socketpairs, IPv6).
             popt rejects an unknown option: parse_arguments() fills "%s: %s" (the option, "unknown option"),
             option_error() prints it after "rsync: ", and main() ends with RERR_SYNTAX (1):
             "rsync error: syntax or usage error (code 1) at main.c(1318) [client=2.6.9]" (log.c).
             --out-format is new in 2.6.9 (NEWS); --protect-args came in 3.0.0, --info and the
             --*-missing-args options in 3.1.0.
A GNU stand-in (`gnu`) is the real rsync behind a logging script: it stands for Homebrew's rsync.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

REAL_RSYNC = shutil.which("rsync")  # found before any test puts a stand-in first on PATH

OPENRSYNC_VERSION = "openrsync: protocol version 29\nrsync version 2.6.9 compatible\n"
RSYNC_269_VERSION = """\
rsync  version 2.6.9  protocol version 29
Copyright (C) 1996-2006 by Andrew Tridgell, Wayne Davison, and others.
<http://rsync.samba.org/>
Capabilities: 64-bit files, socketpairs, hard links, symlinks, batchfiles,
              inplace, IPv6, 64-bit system inums, 64-bit internal inums

rsync comes with ABSOLUTELY NO WARRANTY.  This is free software, and you
are welcome to redistribute it under certain conditions.  See the GNU
General Public Licence for details.
"""

# name -> takes an argument. KlaraSystems/openrsync main.c rsync_lopts[] (the __APPLE__ entry included,
# the `#if 0` sync-file left out).
OPENRSYNC_LONG = {
    "address": True, "append": False, "archive": False, "backup": False, "backup-dir": True, "block-size": True,
    "blocking-io": False, "bwlimit": True, "cache": False, "no-cache": False, "checksum": False,
    "checksum-seed": True, "chmod": True, "compare-dest": True, "copy-dest": True, "link-dest": True,
    "compress": False, "compress-level": True, "contimeout": True, "copy-dirlinks": False, "copy-links": False,
    "copy-unsafe-links": False, "cvs-exclude": False, "no-D": False, "daemon": False, "del": False,
    "delete": False, "delete-before": False, "delete-during": False, "delete-delay": False,
    "delete-after": False, "delete-excluded": False, "devices": False, "no-devices": False, "dry-run": False,
    "exclude": True, "exclude-from": True, "executability": False, "existing": False,
    "extended-attributes": False, "filter": True, "force": False, "fuzzy": False, "group": False,
    "no-group": False, "no-g": False, "hard-links": False, "help": False, "human-readable": False,
    "ignore-errors": False, "ignore-existing": False, "ignore-non-existing": False, "ignore-times": False,
    "include": True, "include-from": True, "inplace": False, "ipv4": False, "ipv6": False,
    "keep-dirlinks": False, "links": False, "list-only": False, "max-delete": True, "max-size": True,
    "min-size": True, "motd": False, "no-motd": False, "no-links": False, "no-l": False, "numeric-ids": False,
    "omit-dir-times": False, "owner": False, "no-owner": False, "no-o": False, "one-file-system": False,
    "password-file": True, "partial": False, "no-partial": False, "partial-dir": True, "perms": False,
    "no-perms": False, "no-p": False, "port": True, "prune-empty-dirs": False, "protocol": True,
    "quiet": False, "read-batch": True, "recursive": False, "no-recursive": False, "no-r": False, "rsh": True,
    "rsync-path": True, "safe-links": False, "sender": False, "server": False, "size-only": False,
    "sockopts": True, "specials": False, "no-specials": False, "sparse": False, "stats": False,
    "suffix": True, "super": False, "no-super": False, "temp-dir": True, "timeout": True, "times": False,
    "no-times": False, "no-t": False, "update": False, "verbose": False, "no-verbose": False, "no-v": False,
    "whole-file": False, "no-whole-file": False, "no-W": False, "only-write-batch": True, "write-batch": True,
    "progress": False, "no-progress": False, "relative": False, "no-R": False, "no-relative": False,
    "remove-sent-files": False, "remove-source-files": False, "version": False, "dirs": False,
    "no-dirs": False, "no-implied-dirs": False, "files-from": True, "from0": False, "out-format": True,
    "log-format": True, "itemize-changes": False, "delay-updates": False, "modify-window": True,
    "8-bit-output": False,
}
OPENRSYNC_SHORT = "0468B:CDEFHIKLOPRSVWabcde:f:ghiklmnopqrtuvxyz"  # rsync_shopts (':' = takes an argument)
OPENRSYNC_USAGE = """\
usage: rsync [-0468BCDEFHIKLOPRSTWVabcdghiklnopqrtuvxyz] [-e program]
\t[-f filter] [--8-bit-output] [--address=sourceaddr] [--append]
\t[--backup-dir=dir] [--bwlimit=limit] [--cache | --no-cache]
\t[--checksum-seed=NUM] [--chmod=mode] [--compare-dest=dir] [--compress]
\t[--compress-level=NUM] [--contimeout] [--copy-dest=dir]
\t[--copy-unsafe-links] [--del]
\t[--delete-after | --delete-before | --delete-delay | --delete-during]
\t[--delete-excluded] [--delay-updates] [--dirs] [--no-dirs]
\t[--existing] [--exclude=pattern] [--exclude-from=file] [--executability]
\t[--extended-attributes]
\t[--existing] [--files-from=filespec] [--force] [--ignore-errors]
\t[--ignore-existing] [--ignore-non-existing] [--include=pattern]
\t[--include-from=file] [--inplace] [--itemize-changes]
\t[--keep-dirlinks] [--link-dest=dir] [--list-only]
\t[--max-delete=NUM] [--max-size=SIZE] [--min-size=SIZE]
\t[--modify-window=sec] [--no-implied-dirs] [--no-motd] [--numeric-ids]
\t[--out-format=FMT] [--partial] [--partial-dir] [--password-file=pwfile]
\t[--port=portnumber] [--progress] [--protocol=NUM] [--prune-empty-dirs]
\t[--read-batch=file] [--remove-source-files] [--rsync-path=program]
\t[--safe-links] [--size-only] [--sockopts=sockopts] [--specials]
\t[--stats] [--suffix] [--super] [--timeout=seconds]
\t[--only-write-batch=file | --write-batch=file]
\tsource ... directory
"""

# rsync v2.6.9 options.c long_options[] (POPT_ARG_STRING/INT = takes an argument); no --protect-args,
# --info, --ignore-missing-args, --delete-missing-args; -V is not an option there.
RSYNC_269_LONG = {
    "help": False, "version": False, "verbose": False, "no-verbose": False, "no-v": False, "quiet": False,
    "motd": False, "no-motd": False, "stats": False, "human-readable": False, "dry-run": False,
    "archive": False, "recursive": False, "no-recursive": False, "no-r": False, "dirs": False,
    "no-dirs": False, "no-d": False, "perms": False, "no-perms": False, "no-p": False, "executability": False,
    "times": False, "no-times": False, "no-t": False, "omit-dir-times": False, "modify-window": True,
    "super": False, "no-super": False, "owner": False, "no-owner": False, "no-o": False, "group": False,
    "no-group": False, "no-g": False, "devices": False, "no-devices": False, "specials": False,
    "no-specials": False, "links": False, "no-links": False, "no-l": False, "copy-links": False,
    "copy-unsafe-links": False, "safe-links": False, "copy-dirlinks": False, "keep-dirlinks": False,
    "hard-links": False, "no-hard-links": False, "relative": False, "no-relative": False,
    "implied-dirs": False, "no-implied-dirs": False, "chmod": True, "ignore-times": False, "size-only": False,
    "one-file-system": False, "update": False, "existing": False, "ignore-non-existing": False,
    "ignore-existing": False, "max-size": True, "min-size": True, "sparse": False, "inplace": False,
    "append": False, "del": False, "delete": False, "delete-before": False, "delete-during": False,
    "delete-after": False, "delete-excluded": False, "remove-sent-files": False, "remove-source-files": False,
    "force": False, "ignore-errors": False, "max-delete": True, "filter": True, "exclude": True,
    "include": True, "exclude-from": True, "include-from": True, "cvs-exclude": False, "whole-file": False,
    "no-whole-file": False, "checksum": False, "block-size": True, "compare-dest": True, "copy-dest": True,
    "link-dest": True, "fuzzy": False, "compress": False, "compress-level": True, "progress": False,
    "no-progress": False, "partial": False, "no-partial": False, "partial-dir": True, "delay-updates": False,
    "prune-empty-dirs": False, "log-file": True, "log-file-format": True, "out-format": True,
    "log-format": True, "itemize-changes": False, "bwlimit": True, "backup": False, "backup-dir": True,
    "suffix": True, "list-only": False, "read-batch": True, "write-batch": True, "only-write-batch": True,
    "files-from": True, "from0": False, "numeric-ids": False, "timeout": True, "rsh": True,
    "rsync-path": True, "temp-dir": True, "ipv4": False, "ipv6": False, "8-bit-output": False,
    "address": True, "port": True, "sockopts": True, "password-file": True, "blocking-io": False,
    "no-blocking-io": False, "protocol": True, "checksum-seed": True, "server": False, "sender": False,
    "config": True, "daemon": False, "detach": False, "no-detach": False,
}
RSYNC_269_SHORT = "vqhnardpEtOoglLkKHRIxuSf:CWcB:yzmib0e:T:468DFP"  # the shortName of each entry above

_SCRIPT = r'''#!{python}
# Stand-in for {what} (see tests/rsyncfakes.py). Generated; do not edit.
import json, os, sys
REAL, STYLE, VERSION = {real!r}, {style!r}, {version!r}
LONG, SHORT, USAGE = {long!r}, {short!r}, {usage!r}
try:  # run as the guest user, the folder may not be writable: then unlogged
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.log"), "a") as log:
        log.write(json.dumps([os.path.abspath(__file__), *sys.argv[1:]]) + "\n")
except OSError:
    pass

def version():
    sys.stdout.write(VERSION)
    sys.exit(0)

def reject(opt, short):
    if STYLE == "openrsync":  # BSD getopt_long's warning, then usage(ERR_SYNTAX)
        sys.stderr.write(("rsync: illegal option -- %s\n" % opt[1:]) if short
                         else "rsync: unrecognized option `%s'\n" % opt)
        sys.stderr.write(USAGE)
    else:  # popt, as rsync 2.6.9's option_error() and exit_cleanup(RERR_SYNTAX) print it
        sys.stderr.write("rsync: %s: unknown option\n" % opt)
        sys.stderr.write("rsync error: syntax or usage error (code 1) at main.c(1318) [client=2.6.9]\n")
    sys.exit(1)

args, i = sys.argv[1:], 0
while i < len(args):
    a = args[i]
    if a == "--":
        break
    if a.startswith("--"):
        name, eq, _ = a[2:].partition("=")
        if name not in LONG:
            reject(a.partition("=")[0] if STYLE != "openrsync" else a, False)
        if name == "version":
            version()
        if LONG[name] and not eq:
            i += 1
    elif a.startswith("-") and len(a) > 1:
        for j, c in enumerate(a[1:], 1):
            k = SHORT.find(c)
            if k < 0 or c == ":":
                reject("-" + c, True)
            if c == "V" and STYLE == "openrsync":
                version()
            if SHORT[k + 1:k + 2] == ":":
                i += j == len(a) - 1  # the argument is the next word
                break
    i += 1
os.execv(REAL, [REAL, *sys.argv[1:]])
'''

_GNU_SCRIPT = r'''#!{python}
# Stand-in for a GNU rsync installed beside the system's (Homebrew's): the real one, its calls logged.
import json, os, sys
try:  # run as the guest user, the folder may not be writable: then unlogged
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.log"), "a") as log:
        log.write(json.dumps([os.path.abspath(__file__), *sys.argv[1:]]) + "\n")
except OSError:
    pass
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
'''

KINDS = {
    "openrsync": ("openrsync (macOS 15.4+ /usr/bin/rsync)", OPENRSYNC_VERSION, OPENRSYNC_LONG, OPENRSYNC_SHORT,
                  OPENRSYNC_USAGE),
    "rsync-2.6.9": ("rsync 2.6.9 (macOS before 15.4)", RSYNC_269_VERSION, RSYNC_269_LONG, RSYNC_269_SHORT, ""),
}


def make(folder: Path, kind: str, python: str = "/usr/bin/python3", real: str | None = None) -> Path:
    """Write the stand-in `kind` as <folder>/rsync (openrsync, rsync-2.6.9 or gnu); returns its path.
    python: /usr/bin/python3 by default, which the guest user can run too (the test runner's may be under
    /root)."""
    folder.mkdir(parents=True, exist_ok=True)
    real = real or REAL_RSYNC
    assert real, "the real rsync is not installed"
    if kind == "gnu":
        text = _GNU_SCRIPT.format(python=python, real=real)
    else:
        what, version, long_opts, short, usage = KINDS[kind]
        text = _SCRIPT.format(python=python, what=what, real=real, style="openrsync" if kind == "openrsync"
                              else "popt", version=version, long=long_opts, short=short, usage=usage)
    path = folder / "rsync"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    return path


def script(folder: Path, body: str) -> Path:
    """<folder>/rsync as a shell script with `body` (for the bad inputs: silent, crashing)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rsync"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def calls(folder: Path) -> list[list[str]]:
    """Every call a stand-in in `folder` received: [its path, *argv]."""
    log = folder / "calls.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def transfers(folder: Path) -> list[list[str]]:
    """The calls that were not `--version` (i.e. would have moved files)."""
    return [c for c in calls(folder) if c[1:] not in (["--version"], ["-V"])]


def on_path(folder: Path) -> str:
    return f"{folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
