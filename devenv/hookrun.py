"""What the git hooks run (`devenv refresh --hook`): a refresh that never surprises and never blocks git.

The refresh itself runs in a process of its own session (so a closed terminal or the end of the git
command does not stop it), writing its JSON summary to a log. The hook waits for it at most `wait`
seconds (`devenv hooks install --background` waits 0):
- done, and it did real work (a venv sync, rebuild or swap, IDE files written): one line on stderr
  saying what changed, what it did and how long it took; a no-op, or a change the venv already
  satisfies, prints nothing;
- done, and it failed: one line with the error and the command that finishes by hand;
- still running: one line saying it goes on in the background, and where its log is.
A refresh that fails where nobody sees it (in the background) leaves a record that the next devenv
command in the project reports once. The hook always exits 0: git has already done its work, and a
failing post-checkout hook would only make git say so without undoing anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devenv import fsutil, paths

WAIT = 30.0  # seconds a hook waits before the refresh goes on in the background
RECORD = "hook-failed.json"


def run(root: Path, command: list[str], wait: float) -> int:
    logs = paths.project_state(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"hook-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        # not proc.run: this child must outlive the hook (own session, no parent-death signal)
        child = subprocess.Popen(  # noqa: S603 - an argument list
            [*command, "refresh", "--json", "--hook-child", str(root)], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=str(root))
    try:
        code = child.wait(timeout=wait) if wait > 0 else None
    except subprocess.TimeoutExpired:
        code = None
    if code is None:
        say(f"devenv: refresh goes on in the background (log: {log})" if wait <= 0 else
            f"devenv: refresh still running after {wait:g} s; it goes on in the background (log: {log})")
        return 0
    line = describe(_summary(log), code, time.monotonic() - start, root, log)
    if line:
        say(line)
    return 0


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _summary(log: Path) -> dict[str, Any]:
    """The refresh's --json summary: the last JSON object that starts a line of the log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    starts = [0] if text.startswith("{") else []
    starts += [i + 1 for i in range(len(text) - 1) if text[i] == "\n" and text[i + 1] == "{"]
    for start in reversed(starts):
        try:
            data, _ = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return {}


def describe(summary: dict[str, Any], code: int, seconds: float, root: Path, log: Path) -> str | None:
    if code != 0:
        error = summary.get("error") or f"exit {code}"
        return (f"devenv: refresh failed after {seconds:.1f}s: {error}; finish by hand: devenv refresh {root} "
                f"(log: {log})")
    venv = summary.get("venv") or {}
    action = venv.get("action")
    done = []
    if action not in (None, "noop", "satisfied"):
        verb = {"sync": "synced the venv", "restore": "swapped back the venv built for this state",
                "rebuild": "rebuilt the venv", "create": "built the venv", "add": "installed into the venv"}
        done.append(f"{verb.get(action, action)} ({venv.get('reason', '')})")
    files = (summary.get("ide") or {}).get("files") or {}
    written = sorted(p for p, verb in files.items() if verb not in ("identical", "kept"))
    if written:
        done.append(f"updated {len(written)} IDE file(s)")
    if not done:
        return None
    return f"devenv: {'; '.join(done)} in {seconds:.1f}s"


# ------------------------------------------------------------------ the record of a failure nobody saw


def record_failure(root: Path, message: str) -> None:
    path = paths.project_state(root) / RECORD
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write(path, json.dumps({"time": time.time(), "error": message}))
    except OSError:
        pass  # nowhere to keep it: the log still has it


def clear_failure(root: Path) -> None:
    (paths.project_state(root) / RECORD).unlink(missing_ok=True)


def last_failure(root: Path) -> str | None:
    """The failure of a hook's refresh nobody has been told about yet, said once."""
    path = paths.project_state(root) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path.unlink(missing_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(data.get("time") or 0)))
    return f"the refresh a git hook started at {when} failed: {data.get('error')}"
