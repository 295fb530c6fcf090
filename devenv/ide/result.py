"""What `devenv ide` did: per-file verbs, conflicts, the SDK, jdk tables; how it is told and when it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devenv.errors import ConfigError, Conflict

if TYPE_CHECKING:
    from devenv.report import Reporter


@dataclass
class IdeResult:
    files: dict[str, str] = field(default_factory=dict)  # '.idea'-relative path -> verb
    conflicts: list[str] = field(default_factory=list)  # 'file: element: what'
    errors: list[str] = field(default_factory=list)
    sdk_name: str | None = None
    sdk_renamed: bool = False
    jdk_tables: dict[str, str] = field(default_factory=dict)  # jdk.table.xml path -> verb
    backups: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    diff: str = ""

    def summary(self) -> str:
        sdk = f"; interpreter {self.sdk_name!r}" if self.sdk_name else ""
        return count_verbs(self.files) + sdk

    @property
    def changed(self) -> bool:
        verbs = list(self.files.values()) + list(self.jdk_tables.values())
        return any(v in ("create", "update", "delete") for v in verbs)

    def to_json(self) -> dict[str, object]:
        return {"files": self.files, "conflicts": self.conflicts, "errors": self.errors,
                "sdk_name": self.sdk_name, "sdk_renamed": self.sdk_renamed, "jdk_tables": self.jdk_tables,
                "backups": self.backups, "hints": self.hints}


def count_verbs(files: dict[str, str]) -> str:
    """'2 create, 1 identical' (the phase line of `devenv ide`)."""
    counts: dict[str, int] = {}
    for verb in files.values():
        counts[verb] = counts.get(verb, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "nothing to do"


def report(res: IdeResult, rep: Reporter, dry_run: bool) -> None:
    rep.data["ide"] = res.to_json()
    tell_files(rep, res.files, ".idea/")
    for path, verb in sorted(res.jdk_tables.items()):
        rep.line(f"    {verb:<9} {path}") if verb != "identical" else rep.detail(f"    {verb:<9} {path}")
    if res.sdk_renamed:
        rep.warn(f"an interpreter named like this project's already points elsewhere; using {res.sdk_name!r}")
    tell_rest(rep, res.conflicts, res.errors, res.hints, res.diff if dry_run else "")


def tell_files(rep: Reporter, files: dict[str, str], prefix: str) -> None:
    """Each file's verb: what changed (or needs the user) always, the identical ones with -v."""
    for rel, verb in sorted(files.items()):
        (rep.line if verb in ("create", "update", "delete", "conflict", "skip") else rep.detail)(
            f"    {verb:<9} {prefix}{rel}")


def tell_rest(rep: Reporter, conflicts: list[str], errors: list[str], hints: list[str], diff: str) -> None:
    for c in conflicts:
        rep.warn(f"conflict: {c}")
    for e in errors:
        rep.warn(e)
    for h in hints:
        rep.line(f"  hint: {h}")
    if diff and rep.human:
        rep.line(diff.rstrip("\n"))


def problems(errors: list[str]) -> str:
    """One problem per line: several joined with ';' on one line were hard to read and to act on."""
    return errors[0] if len(errors) == 1 else f"{len(errors)} problems:\n" + "\n".join(f"  - {e}" for e in errors)


def raise_if_needed(res: IdeResult) -> None:
    if res.errors:
        tables = [e for e in res.errors if "jdk.table.xml" in e]
        message = problems(res.errors)
        if tables:
            # --force cannot help here: devenv never replaces an interpreter table it cannot read
            hint = ("fix or delete the jdk.table.xml named (a backup was kept; PyCharm makes a new one, "
                    "without your other interpreters), then run `devenv ide` again")
        else:
            hint = "fix or remove the .idea file named (a backup was kept), or run `devenv ide --force`"
        exc: ConfigError | Conflict = ConfigError(message, hint)
    elif res.conflicts:
        exc = Conflict(f"{len(res.conflicts)} conflict(s) between your PyCharm edits and devenv's update",
                       "your values were kept; edit them as you like, or `devenv ide --force` takes devenv's")
    else:
        return
    exc.result = res  # type: ignore[union-attr]  # lets init/refresh show what was done
    raise exc
