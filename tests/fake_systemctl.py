#!/usr/bin/python3
"""A `systemctl` stand-in for the fake devstack guest (tests/devstackfix.py): systemd cannot run here (no
PID 1 systemd in a container, and a test must not touch the machine's units), so this reads devstack's unit
files from a folder and keeps each unit's state in a JSON file. It starts nothing.

  systemctl show UNIT... [-p PROP]... [--property=PROP[,PROP]] [--value]
        PROP: Id, ExecStart, User, Group, Environment, WorkingDirectory, KillMode, ActiveState, SubState,
        LoadState, FragmentPath (without -p: all of them). ExecStart is printed as systemd does,
        `{ path=... ; argv[]=... ; ignore_errors=no ; ... }`; Environment space-separated, and, as systemd
        does (bus-print-properties.c: "neither spaces nor newlines can be allowed in a value"), an assignment
        whose value holds a space or newline printed as `[unprintable]`; unset ones empty.
        An unknown unit is not an error for `show` (exit 0, LoadState=not-found), as in systemd.
  systemctl cat UNIT...        "# PATH" then the file; unknown: "No files found for UNIT." exit 1
  systemctl is-active UNIT...  "active"/"inactive" per unit; exit 0 if all are active, else 3
  systemctl status UNIT...     a short summary; exit 0 active, 3 inactive, 4 "Unit UNIT could not be found."
  systemctl start|stop|restart UNIT...   records the state; UNIT may be a glob ("devstack@n-*") for stop and
        restart; unknown: "Failed to start UNIT: Unit UNIT not found." exit 5 (stop: "... not loaded.")
  systemctl list-units [PATTERN] [--all] [--plain] [--no-legend]   "UNIT loaded active running DESCRIPTION"
  systemctl daemon-reload      re-reads nothing (the files are read on every call); exit 0
Exit codes are systemctl's (LSB, systemctl(1) "EXIT STATUS"): 0 ok/active, 1 failure, 3 not active, 4 no
such unit (status), 5 not found/loaded (start/stop/restart). `UNIT` without a suffix gets `.service`.
--user, --no-pager, -q/--quiet and --system are accepted and ignored.

Where it reads (environment, else beside this script, a small root filesystem):
  DEVENV_FAKE_SYSTEMD_DIR   unit files      default <script dir>/../etc/systemd/system
  DEVENV_FAKE_SYSTEMD_STATE the state JSON  default <script dir>/../run/fake-systemd.json
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UNITS = os.environ.get("DEVENV_FAKE_SYSTEMD_DIR") or os.path.join(ROOT, "etc", "systemd", "system")
STATE = os.environ.get("DEVENV_FAKE_SYSTEMD_STATE") or os.path.join(ROOT, "run", "fake-systemd.json")
PROPS = ("Id", "ExecStart", "User", "Group", "Environment", "WorkingDirectory", "KillMode", "ActiveState",
         "SubState", "LoadState", "FragmentPath")


def unit_name(name: str) -> str:
    return name if "." in name.rsplit("@", 1)[-1] else name + ".service"


def all_units() -> list[str]:
    try:
        return sorted(n for n in os.listdir(UNITS) if n.endswith(".service"))
    except OSError:
        return []


def parse(name: str) -> dict[str, list[str]] | None:
    path = os.path.join(UNITS, name)
    if not os.path.isfile(path):
        return None
    keys: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                key, value = line.split("=", 1)
                keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def load_state() -> dict[str, dict[str, object]]:
    try:
        with open(STATE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save_state(state: dict[str, dict[str, object]]) -> None:
    folder = os.path.dirname(STATE)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fake-systemd-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
    os.replace(tmp, STATE)


def active(name: str) -> bool:
    return load_state().get(name, {}).get("state") == "active"


def properties(name: str) -> dict[str, str]:
    keys = parse(name)
    if keys is None:
        return {"Id": name, "LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead"}
    on = active(name)
    props = {"Id": name, "LoadState": "loaded", "ActiveState": "active" if on else "inactive",
             "SubState": "running" if on else "dead", "FragmentPath": os.path.join(UNITS, name),
             "User": (keys.get("User") or [""])[-1], "Group": (keys.get("Group") or [""])[-1],
             "Environment": " ".join(w if not any(c in w for c in " \n") else "[unprintable]"
                                     for e in keys.get("Environment", []) for w in shlex.split(e)),
             "WorkingDirectory": (keys.get("WorkingDirectory") or [""])[-1],
             "KillMode": (keys.get("KillMode") or ["control-group"])[-1]}
    if keys.get("ExecStart"):
        argv = keys["ExecStart"][-1]
        props["ExecStart"] = (f"{{ path={argv.split()[0]} ; argv[]={argv} ; ignore_errors=no ; "
                              "start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")
    return props


def show(units: list[str], wanted: list[str], value_only: bool) -> int:
    for i, name in enumerate(units):
        if i:
            print()
        props = properties(name)
        for prop in wanted or list(PROPS):
            text = props.get(prop, "")
            print(text if value_only else f"{prop}={text}")
    return 0


def cat(units: list[str]) -> int:
    code = 0
    for name in units:
        path = os.path.join(UNITS, name)
        if not os.path.isfile(path):
            print(f"No files found for {name}.", file=sys.stderr)
            code = 1
            continue
        print(f"# {path}")
        with open(path, encoding="utf-8") as fh:
            sys.stdout.write(fh.read())
    return code


def change(verb: str, patterns: list[str]) -> int:
    state = load_state()
    code = 0
    for pattern in patterns:
        names = fnmatch.filter(all_units(), pattern) if any(c in pattern for c in "*?[") else [pattern]
        for name in names:
            if parse(name) is None:
                how = "not loaded" if verb == "stop" else "not found"
                print(f"Failed to {verb} {name}: Unit {name} {how}.", file=sys.stderr)
                code = 5
                continue
            entry = state.setdefault(name, {"starts": 0})
            entry["state"] = "inactive" if verb == "stop" else "active"
            if verb != "stop":
                entry["starts"] = int(entry.get("starts", 0)) + 1  # type: ignore[call-overload]
            entry["since"] = time.time()
    save_state(state)
    return code


def status(units: list[str]) -> int:
    code = 0
    for name in units:
        props = properties(name)
        if props["LoadState"] == "not-found":
            print(f"Unit {name} could not be found.", file=sys.stderr)
            code = max(code, 4)
            continue
        print(f"* {name}\n     Loaded: loaded ({props['FragmentPath']})\n     Active: {props['ActiveState']} "
              f"({props['SubState']})")
        code = max(code, 0 if props["ActiveState"] == "active" else 3)
    return code


def list_units(patterns: list[str], show_all: bool) -> int:
    for name in all_units():
        if patterns and not any(fnmatch.fnmatch(name, unit_name(p)) for p in patterns):
            continue
        on = active(name)
        if on or show_all:
            print(f"{name} loaded {'active running' if on else 'inactive dead'} {name}")
    return 0


def main(argv: list[str]) -> int:
    wanted: list[str] = []
    value_only = show_all = False
    words: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("-p", "--property"):
            wanted += next(args, "").split(",")
        elif arg.startswith("--property="):
            wanted += arg.split("=", 1)[1].split(",")
        elif arg.startswith("-p") and len(arg) > 2:
            wanted += arg[2:].split(",")
        elif arg == "--value":
            value_only = True
        elif arg in ("-a", "--all"):
            show_all = True
        elif arg in ("--user", "--system", "--no-pager", "-q", "--quiet", "--plain", "--no-legend"):
            continue
        elif arg.startswith("-"):
            print(f"systemctl: unrecognized option '{arg}'", file=sys.stderr)
            return 1
        else:
            words.append(arg)
    if not words:
        return list_units([], show_all)
    verb, rest = words[0], words[1:]
    units = [unit_name(u) for u in rest]
    if verb == "daemon-reload":
        return 0
    if verb == "list-units":
        return list_units(rest, show_all)
    if not units:
        print(f"Too few arguments for '{verb}'.", file=sys.stderr)
        return 1
    if verb == "show":
        return show(units, wanted, value_only)
    if verb == "cat":
        return cat(units)
    if verb == "is-active":
        states = ["active" if active(u) and parse(u) is not None else "inactive" for u in units]
        print("\n".join(states))
        return 0 if all(s == "active" for s in states) else 3
    if verb == "status":
        return status(units)
    if verb in ("start", "stop", "restart"):
        return change(verb, units)
    print(f"Unknown command verb '{verb}'.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
