"""What devenv tells the user: one line per phase with its time, warnings, and a --json summary.

Domain code takes a Reporter and never prints itself, so -q, -v and --json behave the same everywhere.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Reporter:
    quiet: bool = False
    verbose: bool = False
    json_mode: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    phases: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def human(self) -> bool:
        return not self.json_mode

    @property
    def interactive(self) -> bool:
        """True when installer progress may go straight to the terminal."""
        return self.human and not self.quiet and self.stream.isatty()

    def line(self, text: str) -> None:
        if self.human and not self.quiet:
            print(text, file=self.stream, flush=True)

    def detail(self, text: str) -> None:
        if self.human and self.verbose:
            print(f"    {text}", file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        if self.human:
            print(f"warning: {text}", file=self.err, flush=True)

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a phase; the body may put a short outcome in info['result']."""
        info: dict[str, Any] = {"phase": name}
        start = time.perf_counter()
        status = "failed"
        try:
            yield info
            status = "ok"
        finally:
            info["seconds"] = round(time.perf_counter() - start, 3)
            info["status"] = status
            self.phases.append(info)
            if status == "ok":
                outcome = f" — {info['result']}" if info.get("result") else ""
                self.line(f"  {name:<14} {info['seconds']:6.2f}s{outcome}")

    def emit_json(self, **extra: Any) -> None:
        payload = {**self.data, **extra, "phases": self.phases, "warnings": self.warnings}
        print(json.dumps(payload, indent=2, sort_keys=True, default=str), file=self.stream)
