"""`devenv share check`: run the probes on a share (here or in a guest) and turn the answers into Findings.

With --host-path (the same folder seen from the host side) it also runs the two-sided probes: the guest
caches a name and a file, the host removes/rewrites them, the guest looks again (stale caches); and the
guest watches with inotify while the host writes (events that never come).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from devenv.errors import DevenvError, UsageError
from devenv.findings import Finding
from devenv.host import clock, probe_runner, uidfix
from devenv.host.guests import Guest

N_PROBE_STEPS = 14  # liveness, scratch, the probes, cleanup: bounds the whole script run


@dataclass(frozen=True)
class CheckResult:
    path: str
    where: str  # "here" or the guest's description
    user: str
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.needs_action for f in self.findings)


def check(path: str, *, host_path: Path | None = None, guest: Guest | None = None,
          timeout: float = 3.0) -> CheckResult:
    if timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 (got {timeout:g})")
    args = ["check", path, "--timeout", f"{timeout:g}"]
    scratch = f".devenv-probe-{os.getpid()}-{secrets.token_hex(3)}"
    if host_path is not None:
        args += ["--scratch", scratch, "--keep"]
    asked = time.time()
    out = probe_runner.run(guest, args, timeout=timeout * N_PROBE_STEPS + 15)
    answered = time.time()
    _refuse_missing(path, out)
    facts = out["facts"]
    raw: list[dict[str, Any]] = list(out["findings"])
    if host_path is not None and out.get("scratch"):
        try:
            raw += _two_sided(guest, path, host_path, out["scratch"], timeout)
        finally:
            probe_runner.run(guest, ["cleanup", path, out["scratch"], "--timeout", f"{timeout:g}"],
                             timeout=timeout + 15)
    findings = [_finding(r) for r in raw]
    if guest is not None:
        findings.append(_clock(facts["now"], asked, answered))
    findings = _with_mapping_fixes(findings, raw, facts, path, host_path, guest)
    where = guest.describe() if guest else "here"
    return CheckResult(path, where, f"{facts['user']} ({facts['euid']}:{facts['egid']})", tuple(findings))


def _refuse_missing(path: str, out: dict[str, Any]) -> None:
    if out.get("state") == "error" and out.get("errno") in ("ENOENT", "ENOTDIR"):
        raise UsageError(f"{path} does not exist (or is not a folder)",
                         "give the share's mount point as seen where the code runs")


def _finding(raw: dict[str, Any]) -> Finding:
    return Finding(raw["check"], raw["status"], raw["message"], raw.get("meaning", ""), raw.get("fix", ""),
                   raw.get("errno"))


def _two_sided(guest: Guest | None, path: str, host_path: Path, scratch: str, timeout: float) -> list[Any]:
    host_scratch = str(host_path / scratch)
    seen = probe_runner.run_local(["host", "stat", host_scratch, "--timeout", f"{timeout:g}"],
                                  timeout=timeout + 15)
    if "value" not in seen:
        return [{"check": "host-path", "status": "warn", "errno": seen.get("oserror"),
                 "message": f"{host_path} does not show the probe folder written through {path}",
                 "meaning": "--host-path must be the same folder seen from the host side; two-sided probes "
                            "(stale caches, inotify) were skipped", "fix": "pass the host side of this share"}]
    return _stale(guest, path, host_scratch, scratch, timeout) + [_inotify(guest, path, host_scratch, scratch,
                                                                           timeout)]


def _stale(guest: Guest | None, path: str, host_scratch: str, scratch: str, timeout: float) -> list[Any]:
    t = ["--timeout", f"{timeout:g}"]
    first = probe_runner.run(guest, ["step", "stale-a", path, scratch, *t], timeout=timeout + 15)
    changed = probe_runner.run_local(["host", "stale", host_scratch, *t], timeout=timeout + 15)
    if "value" not in first or "value" not in changed:
        return [{"check": "cache", "status": "warn", "message": f"could not prepare the cache probe: "
                 f"{first.get('text') or changed.get('text') or 'no answer'}", "errno": None}]
    second = probe_runner.run(guest, ["step", "stale-b", path, scratch, *t], timeout=timeout + 15)
    if "value" not in second:
        return [{"check": "cache", "status": "hung" if second.get("hung") else "warn",
                 "message": f"the second cache probe failed: {second.get('text') or 'no answer'}"}]
    return list(second["value"])


def _inotify(guest: Guest | None, path: str, host_scratch: str, scratch: str, timeout: float) -> Any:
    """The guest watches (in a worker thread that only waits for its subprocess) while the host writes."""
    from devenv.host import probes

    box: dict[str, Any] = {}

    def watch() -> None:
        try:
            box["out"] = probe_runner.run(guest, ["step", "inotify", path, scratch, "--timeout",
                                                  f"{max(timeout, 2.5):g}"], timeout=timeout + 20)
        except DevenvError as exc:
            box["error"] = exc

    worker = threading.Thread(target=watch, daemon=True)
    worker.start()
    probe_runner.run_local(["host", "write-when-ready", host_scratch, "--timeout", f"{timeout + 5:g}"],
                           timeout=timeout + 20)
    worker.join(timeout + 25)
    if "error" in box:
        raise box["error"]
    out = box.get("out", {})
    if out.get("hung") or "value" not in out:
        return {"check": "inotify", "status": "warn", "message": "the inotify probe gave no answer"}
    return probes.inotify_finding(out["value"])


def _clock(now: float, asked: float, answered: float) -> Finding:
    """The guest's `now` must fall between our ask and its answer; how far outside is the skew."""
    skew = now - asked if now < asked else now - answered if now > answered else 0.0
    if abs(skew) > clock.WARN_ABOVE:
        return Finding("clock", "warn", f"the guest's clock is {skew:+.0f} s off the host's",
                       "make says 'clock skew'; rsync --update silently skips real edits",
                       "run NTP/chrony in the guest (timedatectl set-ntp true)")
    return Finding("clock", "ok", f"guest clock within {abs(skew):.1f} s of the host's")


def _with_mapping_fixes(findings: list[Finding], raw: list[dict[str, Any]], facts: dict[str, Any],
                        path: str, host_path: Path | None, guest: Guest | None) -> list[Finding]:
    """Replace the generic fix of every uid-mismatch finding by the mapping fixes with the real ids."""
    host_uid, host_gid = _host_ids(facts, host_path)
    if host_uid is None or host_gid is None or (host_uid, host_gid) == (facts["euid"], facts["egid"]):
        return findings
    lines = uidfix.fixes(host_uid, host_gid, facts["euid"], facts["egid"], host_path=_host_side(
        facts, host_path), guest_path=path, guest_user=facts["user"])
    fix = "\n".join(lines)
    # findings[i] was made from raw[i]; findings added after the raw ones never carry the flag
    return [replace(f, fix=fix) if i < len(raw) and raw[i].get("uid_mismatch") else f
            for i, f in enumerate(findings)]


def _host_ids(facts: dict[str, Any], host_path: Path | None) -> tuple[int | None, int | None]:
    if host_path is not None:
        out = probe_runner.run_local(["host", "stat", str(host_path)], timeout=20)
        if "value" in out:
            return int(out["value"][0]), int(out["value"][1])
    return facts.get("path_uid"), facts.get("path_gid")


def _host_side(facts: dict[str, Any], host_path: Path | None) -> str:
    if host_path is not None:
        return str(host_path)
    source = str(facts.get("mount", {}).get("source") or "HOST_PROJECT_DIR")
    return source.split(":", 1)[-1] if ":" in source else source


def report_lines(result: CheckResult) -> list[str]:
    """One line per finding, then each distinct fix once, naming the findings it answers."""
    lines = [f"share check {result.path} as {result.user}, {result.where}"]
    for f in result.findings:
        err = f" [{f.errno}]" if f.errno else ""
        why = f" — {f.meaning}" if f.meaning and f.status != "ok" else ""
        lines.append(f"  {f.status:<4}  {f.check:<18} {f.message}{err}{why}")
    fixes: dict[str, list[str]] = {}
    for f in result.findings:
        if f.status != "ok" and f.fix:
            fixes.setdefault(f.fix, []).append(f.check)
    if fixes:
        lines.append("fixes:")
    for fix, checks in fixes.items():
        body = fix.splitlines()
        lines.append(f"  for {', '.join(checks)}: {body[0]}")
        lines += [f"      {ln}" for ln in body[1:]]
    return lines
