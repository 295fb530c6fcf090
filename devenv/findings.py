"""A Finding is one health fact: shared by `share check`, `doctor` and the IDE/venv health checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STATUSES = ("ok", "warn", "fail", "hung")


@dataclass(frozen=True)
class Finding:
    check: str  # short id, e.g. 'hardlink', 'venv.fingerprint', 'ide.sdk'
    status: str  # one of STATUSES
    message: str  # what was seen, e.g. "os.link failed: EPERM"
    meaning: str = ""  # why it matters
    fix: str = ""  # a command or config line
    errno: str | None = None  # symbolic errno, e.g. 'EPERM'

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def needs_action(self) -> bool:
        return self.status in ("fail", "hung")


def worst(findings: list[Finding]) -> str:
    order = {s: i for i, s in enumerate(STATUSES)}
    return max((f.status for f in findings), key=lambda s: order[s], default="ok")
