"""A fingerprint of everything that decides a venv's contents, kept inside the venv.

Comparing the stored fingerprint with a fresh one decides the action, the way tox 4 does: nothing
changed -> no installer call; only additions -> install them in place; anything removed (a requirement,
a constraint pin, an extra) or another Python -> rebuild beside the old venv.

The other checkouts installed editable beside the project (`--with`, crossrepo.py) are part of it: their
names, paths and project files (`others`), and their requirement lines, which join the project's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from devenv import __version__, fsutil
from devenv.constraints import Constraints
from devenv.errors import ConfigError
from devenv.project import Project

FILE = "devenv-fingerprint.json"


@dataclass(frozen=True)
class Other:
    """A checkout installed editable beside the project (`devenv init --with PATH`)."""

    name: str
    path: str
    meta: str  # hash of its project files (pyproject.toml, setup.cfg, setup.py)
    requirements: str  # hash of its requirement lines (which are in Fingerprint.requirements too)


@dataclass(frozen=True)
class Fingerprint:
    python: str  # '3.11.7'
    requirements: tuple[str, ...]  # every requirement line, -r files expanded
    constraints: tuple[str, ...]
    extras: tuple[str, ...]
    install_project: str  # 'editable' | 'regular' | 'skip'
    project_meta: str  # hash of the files that shape the project's own install (entry points etc.)
    devenv: str = __version__
    # Where the constraints came from when the user passed --constraints: later runs (refresh, the git
    # hooks, doctor) reuse it. Not part of the comparison: the pins themselves are.
    constraints_option: str | None = field(default=None, compare=False)
    # The test runner, added when nothing in the deps installs it (the IDE's "Unit tests" needs it).
    runner: str | None = None
    others: tuple[Other, ...] = ()  # the --with checkouts, in the order given

    def to_json(self) -> str:
        data = asdict(self)
        if not self.others:  # without --with, the file is what it was before --with existed (older devenvs read it)
            del data["others"]
        return json.dumps(data, indent=1, sort_keys=True)


@dataclass(frozen=True)
class Decision:
    action: str  # 'create' | 'noop' | 'add' | 'rebuild'
    reason: str
    added: tuple[str, ...] = ()
    # Only requirement, constraint or extra lines differ (same Python, install mode, project files):
    # the installed packages may still satisfy them all (installed.judge), or one exact sync can apply it.
    requirements_only: bool = False
    # Same Python, install mode and test runner: the venv can be changed (on a copy) rather than rebuilt.
    same_venv: bool = False
    # The project's own files and test runner are unchanged (only requirements or the --with set differ):
    # the installer may name the installed project instead of building it again.
    project_same: bool = False


def compute(project: Project, python: str, constraints: Constraints, others: Sequence[Project] = ()) -> Fingerprint:
    """Everything that decides the venv's contents (see the module docstring)."""
    env = project.unit_env
    lines: list[str] = []
    extras = list(env.extras)
    for dep in env.deps:
        if dep.kind == "file":
            lines.extend(_expand(Path(dep.value), set()))
        elif dep.kind == "project":
            extras.extend(dep.extras)
        else:
            lines.append(dep.value)
    if project.dependencies_from == "requirements.txt":
        lines.extend(_expand(project.root / "requirements.txt", set()))
    elif project.dependencies_from == "pyproject":
        # Declared in pyproject.toml: a removed dependency must rebuild, as a removed requirement line does.
        lines.extend(project.dependencies)
        for extra in sorted(set(extras)):
            lines.extend(project.optional_dependencies.get(extra, ()))
    own = list(lines)
    described = []
    for other in others:
        deps = requirement_lines(other)
        lines.extend(deps)
        described.append(Other(other.name, str(other.root), _meta(other.root),
                               hashlib.sha256("\n".join(deps).encode()).hexdigest()[:16]))
    if env.skip_install:
        mode = "skip"
    else:
        mode = "editable" if env.usedevelop else "regular"
    option = constraints.source if constraints.origin == "option" else None
    return Fingerprint(python, tuple(dict.fromkeys(lines)), tuple(constraints.lines()),
                       tuple(sorted(set(extras))), mode, _meta(project.root), constraints_option=option,
                       runner=_missing_runner(project, own), others=tuple(described))


def _meta(root: Path) -> str:
    meta = hashlib.sha256()
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        p = root / name
        if p.is_file():
            meta.update(name.encode() + b"\0" + p.read_bytes())
    return meta.hexdigest()[:16]


def requirement_lines(project: Project) -> list[str]:
    """What installing the project itself brings: requirements.txt (pbr, setuptools' dynamic deps) or
    pyproject's [project] dependencies (what `pip install -e` of a --with checkout installs)."""
    if project.dependencies_from == "requirements.txt":
        return _expand(project.root / "requirements.txt", set())
    if project.dependencies_from == "pyproject":
        return list(project.dependencies)
    return []


_RUNNER_PACKAGES = {"pytest": "pytest", "stestr": "stestr"}


def _missing_runner(project: Project, lines: list[str]) -> str | None:
    package = _RUNNER_PACKAGES.get(project.runner.kind or "")
    if package is None:
        return None
    for line in lines:
        if re.match(rf"{package}\b(?![-_.\w])", line.strip(), re.IGNORECASE):
            return None
    return package


def _expand(path: Path, seen: set[Path]) -> list[str]:
    """Requirement lines of a file, following nested -r/-c the way pip does."""
    if path in seen:
        return []
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"requirements file {path} does not exist",
                          "fix the -r line in tox.ini (or the file that includes it)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read requirements file {path}: {exc.strerror}") from exc
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for flag in ("-r", "--requirement", "-c", "--constraint"):
            if line.startswith(flag):
                out.extend(_expand(path.parent / line[len(flag):].lstrip(" =").strip(), seen))
                break
        else:
            out.append(line)
    return out


def read(venv: Path) -> Fingerprint | None:
    try:
        data = json.loads((venv / FILE).read_text(encoding="utf-8"))
        data["requirements"] = tuple(data["requirements"])
        data["constraints"] = tuple(data["constraints"])
        data["extras"] = tuple(data["extras"])
        data["others"] = tuple(Other(**o) for o in data.get("others") or ())
        return Fingerprint(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write(venv: Path, fp: Fingerprint) -> None:
    fsutil.atomic_write(venv / FILE, fp.to_json())


def decide(old: Fingerprint | None, new: Fingerprint, venv_exists: bool) -> Decision:
    if not venv_exists:
        return Decision("create", "no venv yet")
    if old is None:
        return Decision("rebuild", "the venv has no devenv fingerprint (made by hand, or an interrupted run)")
    if old == new:
        return Decision("noop", "nothing changed")
    if old.python != new.python:
        return Decision("rebuild", f"Python changed ({old.python} -> {new.python})")
    if old.runner and old.runner != new.runner:
        return Decision("rebuild", f"the test runner devenv added ({old.runner}) is no longer needed")
    if old.install_project != new.install_project:
        return Decision("rebuild", f"install mode changed ({old.install_project} -> {new.install_project})")
    # A --with checkout added, dropped, moved or with other project files: it is (re)installed or removed,
    # so the installed packages cannot be judged line by line (installed.judge) without the installer.
    others_same = _installs(old) == _installs(new)
    project_same = old.project_meta == new.project_meta and old.runner == new.runner
    kept = {(o.name, o.path) for o in new.others}
    removed = [*(set(old.requirements) - set(new.requirements)), *(set(old.constraints) - set(new.constraints)),
               *(f"extra {e}" for e in set(old.extras) - set(new.extras)),
               *(f"--with {o.name}" for o in old.others if (o.name, o.path) not in kept)]
    if removed:
        return Decision("rebuild", changes(old, new), requirements_only=project_same and others_same,
                        same_venv=True, project_same=project_same)
    added = tuple(sorted({*(set(new.requirements) - set(old.requirements)),
                          *(set(new.constraints) - set(old.constraints)),
                          *(f"extra {e}" for e in set(new.extras) - set(old.extras))}))
    if old.project_meta != new.project_meta:
        return Decision("add", "project metadata changed (reinstalling the project)", added, same_venv=True)
    if new.runner and new.runner != old.runner:
        added = (*added, new.runner)
    if not others_same:
        return Decision("add", changes(old, new), added, same_venv=True, project_same=True)
    if added:
        return Decision("add", changes(old, new), added, requirements_only=True, same_venv=True, project_same=True)
    return Decision("add", f"devenv changed ({old.devenv} -> {new.devenv})", same_venv=True)


def _installs(fp: Fingerprint) -> set[tuple[str, str, str]]:
    return {(o.name, o.path, o.meta) for o in fp.others}


def _by_name(lines: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        key = re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else line
        out.setdefault(key, []).append(line.split(" #", 1)[0].strip())
    return out


def changes(old: Fingerprint, new: Fingerprint, most: int = 3) -> str:
    """What changed, by package: 'os-traits>=3.6.0 -> os-traits>=3.7.0; six added; 2 pins changed'."""
    parts: list[str] = []
    a, b = _by_name(old.requirements), _by_name(new.requirements)
    for name in sorted(a.keys() | b.keys()):
        if name not in a:
            parts.append(f"{name} added")
        elif name not in b:
            parts.append(f"{name} removed")
        elif sorted(a[name]) != sorted(b[name]):
            parts.append(f"{', '.join(a[name])} -> {', '.join(b[name])}")
    shown = parts[:most] + ([f"{len(parts) - most} more"] if len(parts) > most else [])
    pins = len(set(old.constraints) ^ set(new.constraints))
    if pins:
        shown.append(f"{pins} constraint line(s) changed")
    extras = set(old.extras) ^ set(new.extras)
    if extras:
        shown.append(f"extras changed ({', '.join(sorted(extras))})")
    if new.runner and new.runner != old.runner:
        shown.append(f"test runner {new.runner} added")
    shown += _others_changes(old, new)
    return "; ".join(shown) or "requirement lines reordered"


def _others_changes(old: Fingerprint, new: Fingerprint) -> list[str]:
    """'--with oslo.messaging added (/src/oslo.messaging)', '... removed', '... project files changed'."""
    a, b = {o.name: o for o in old.others}, {o.name: o for o in new.others}
    out = []
    for name in [*a, *(n for n in b if n not in a)]:
        if name not in b:
            out.append(f"--with {name} removed")
        elif name not in a:
            out.append(f"--with {name} added ({b[name].path})")
        elif a[name].path != b[name].path:
            out.append(f"--with {name} moved ({a[name].path} -> {b[name].path})")
        elif a[name].meta != b[name].meta:
            out.append(f"--with {name}: project files changed")
    return out
