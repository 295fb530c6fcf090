"""Other checkouts installed editable into a project's venv: devstack's LIBS_FROM_GIT, on the host.

`devenv init nova --with ../oslo.messaging --with ../python-novaclient` installs those checkouts
editable into nova's venv, in the same installer call as nova (one resolution), with their own
requirements, under the constraints with their pins dropped as devstack's `edit-constraints` drops a
project's pin before `pip install -e` (the checkout's version wins). They are part of the venv's
fingerprint (fingerprint.Other), so a requirements change in one of them takes the incremental path.

The set is remembered per project (`with.json` in its state folder) once a venv was built with it:
`devenv refresh` and the git hooks' refresh use it without being told. `--with` adds to it,
`--without PATH|NAME` drops one, `--with-none` drops them all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from devenv import fsutil, paths, project, venv
from devenv.errors import DevenvError, InstallError, UsageError
from devenv.project import Project
from devenv.report import Reporter

STATE = "with.json"


@dataclass(frozen=True)
class Change:
    """What the command line asks of the remembered set: start empty (none), drop, then add."""

    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    none: bool = False


def remembered(root: Path) -> list[Path]:
    """The --with checkouts the project's venv was last built with (empty when none)."""
    try:
        data = json.loads((paths.project_state(root) / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(p) for p in data.get("with", []) if isinstance(p, str)] if isinstance(data, dict) else []


def remember(root: Path, others: Sequence[Project]) -> None:
    wanted = [str(o.root) for o in others]
    if [str(p) for p in remembered(root)] == wanted:
        return  # a no-op refresh writes nothing
    path = paths.project_state(root) / STATE
    if not wanted:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_write(path, json.dumps({"with": wanted}, indent=1) + "\n")


def chosen(root: Path, change: Change, cwd: Path | None = None) -> list[Path]:
    """The folders the venv is to have: the remembered ones (none with --with-none), minus --without
    (a folder or a project name), plus --with (relative to the current folder)."""
    here = cwd or Path.cwd()
    folders = [] if change.none else remembered(root)
    for item in change.drop:
        gone = [p for p in folders if p == (here / item).expanduser().resolve() or _name_of(p) == _canon(item)]
        if not gone:
            listed = ", ".join(str(p) for p in folders) or "none"
            raise UsageError(f"--without {item}: not one of the project's --with checkouts ({listed})",
                             "devenv show lists them")
        folders = [p for p in folders if p not in gone]
    for item in change.add:
        folder = (here / item).expanduser().resolve()
        if folder not in folders:
            folders.append(folder)
    return folders


def load(main: Project, folders: Sequence[Path], remembered_ones: Sequence[Path] = ()) -> tuple[Project, ...]:
    """Each folder read as a project and checked: it exists, is an installable Python project, is not the
    main project, and no two share a name. The first problem is one UsageError (exit 2)."""
    out: list[Project] = []
    for folder in folders:
        said = "remembered --with" if folder in remembered_ones else "--with"
        fix = (f"drop it: devenv init {main.root} --without {folder}" if said != "--with"
               else "give the folder of another project's checkout")
        if not folder.is_dir():
            raise UsageError(f"{said} {folder}: no such folder", fix)
        if folder == main.root:
            raise UsageError(f"{said} {folder}: that is the project itself", "give another project's checkout")
        if not any((folder / f).is_file() for f in ("pyproject.toml", "setup.py")):
            raise UsageError(f"{said} {folder}: not a Python project that can be installed "
                             "(no pyproject.toml or setup.py)", fix)
        try:
            other = project.load(folder)
        except DevenvError as exc:
            raise type(exc)(f"{said} {folder}: {exc.message}", exc.hint or fix) from exc
        if _canon(other.name) == _canon(main.name):
            raise UsageError(f"{said} {folder}: it is named {other.name}, as the project itself is",
                             "give another project's checkout")
        twin = next((o for o in out if _canon(o.name) == _canon(other.name)), None)
        if twin is not None:
            raise UsageError(f"--with {twin.root} and --with {folder} are both {other.name}",
                             f"keep one of them (devenv init --without {folder})")
        out.append(other)
    return tuple(out)


def select(main: Project, change: Change, cwd: Path | None = None) -> tuple[Project, ...]:
    """The checked --with projects for this run (the remembered set as the command line changes it)."""
    return load(main, chosen(main.root, change, cwd), remembered(main.root))


def install(main: Project, others: Sequence[Project], opts: venv.Options, rep: Reporter) -> venv.Outcome:
    """venv.ensure with the --with checkouts; the set is remembered once the venv has it."""
    if others:
        with rep.phase("with") as info:
            info["result"] = ", ".join(f"{o.name} ({o.root})" for o in others)
    try:
        outcome = venv.ensure(main, opts, rep, others)
    except InstallError as exc:
        raise explain(exc, others) from exc
    remember(main.root, others)
    return outcome


def ensure(root: Path, others: Sequence[Path], opts: venv.Options, rep: Reporter) -> venv.Outcome:
    """The venv of the project at `root` with exactly these other checkouts installed editable (the
    devstack workspace's host venv). Validates them first: a bad one changes nothing."""
    main = project.load(Path(root))
    return install(main, load(main, [Path(p).resolve() for p in others]), opts, rep)


def explain(exc: InstallError, others: Sequence[Project]) -> InstallError:
    """The installer's error, said in terms of the --with checkout it names (if it names one)."""
    text = exc.message.lower()
    named = [o for o in others if o.name.lower() in text or _canon(o.name) in text
             or o.name.lower().replace("-", "_") in text]
    if not named:
        return exc
    who = ", ".join(f"{o.name} ({o.root})" for o in named)
    hint = (f"the --with checkout {who} installs its own requirements under the same constraints; fix its "
            f"requirements, or leave it out (devenv init --without {named[0].root})")
    out = InstallError(f"{exc.message} [--with {who}]", f"{hint}; {exc.hint}" if exc.hint else hint)
    return out


def describe(root: Path) -> list[tuple[Path, str | None]]:
    """The remembered checkouts with their project names (None: it cannot be read now), for `devenv show`."""
    out: list[tuple[Path, str | None]] = []
    for folder in remembered(root):
        try:
            out.append((folder, project.load(folder).name))
        except DevenvError:
            out.append((folder, None))
    return out


def _canon(name: str) -> str:
    return canonicalize_name(name)


def _name_of(folder: Path) -> str | None:
    try:
        return _canon(project.load(folder).name)
    except DevenvError:
        return None
