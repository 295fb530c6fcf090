"""Running the package installer (uv when available, pip otherwise) and explaining its failures."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from devenv import paths, proc
from devenv.errors import DevenvError, InstallError, NetworkError, ToolMissing, UsageError
from devenv.project import Project

INSTALL_TIMEOUT = 3600
PBR_VERSION_NO_GIT = "0.0.1.dev0"


@dataclass(frozen=True)
class Plan:
    args: tuple[str, ...]  # installer arguments after `install`
    env: dict[str, str]


def find_uv() -> str | None:
    try:
        from uv import find_uv_bin  # the `uv` PyPI package ships the binary

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def choose(installer: str) -> tuple[str, str | None]:
    """('uv', path) or ('pip', None)."""
    if installer not in ("auto", "uv", "pip"):
        raise UsageError(f"--installer {installer}: use auto, uv or pip")
    if installer == "pip":
        return "pip", None
    uv = find_uv()
    if uv:
        return "uv", uv
    if installer == "uv":
        raise ToolMissing("uv is not installed", "pip install uv, or pass --installer pip")
    return "pip", None


def plan(project: Project, constraints_file: Path | None, extras: tuple[str, ...], runner: str | None = None,
         *, exact: bool = False, by_name: bool = False, others: Sequence[Project] = (),
         others_by_name: Collection[str] = ()) -> Plan:
    """The installer's arguments. exact: one exact sync (uv's --exact), keeping pip, which it would
    remove. by_name: into a venv that has the project installed already and whose project files did not
    change: the project is named, not built again (uv rebuilds a local folder's metadata on every call:
    6-11 s on nova). others: the --with checkouts, always editable, in the same call (one resolution);
    those in others_by_name are installed from that folder already with the same project files and
    requirements, and are named too (named, uv keeps them and follows their installed metadata)."""
    env = project.unit_env
    args: list[str] = ["--exact", "pip"] if exact else []
    if constraints_file is not None:
        args += ["-c", str(constraints_file)]
    for dep in env.deps:
        if dep.kind == "file":
            args += ["-r", dep.value]
        elif dep.kind == "requirement":
            args.append(dep.value)
    if runner:
        args.append(runner)  # the project's test runner, which nothing in its deps installs
    if by_name:
        if not env.skip_install:
            args.append(project.name + (f"[{','.join(extras)}]" if extras else ""))
    elif not env.skip_install:
        target = str(project.root) + (f"[{','.join(extras)}]" if extras else "")
        args += (["-e", target] if env.usedevelop else [target])
    for other in others:
        args += [other.name] if other.name in others_by_name else ["-e", str(other.root)]
    extra_env = {}
    if any(p.uses_pbr and not p.has_git for p in (project, *others)):
        # pbr reads the version from git; with no .git it needs to be told (a synced copy, an sdist).
        extra_env["PBR_VERSION"] = os.environ.get("PBR_VERSION", PBR_VERSION_NO_GIT)
    return Plan(tuple(args), extra_env)


def install(kind: str, uv: str | None, python: Path, p: Plan, *, echo: bool, project: Project,
            kept: bool = True, on_warning: Callable[[str], None] | None = None) -> Path:
    """Run the installer; returns the log path. Raises a DevenvError that says what went wrong."""
    log_dir = paths.project_state(project.root) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"install-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    if kind == "uv":
        argv = [uv or "uv", "pip", "install", "--python", str(python), *p.args]
    else:
        argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *p.args]
    env = {**os.environ, **p.env}
    env.pop("PYTHON", None)  # stestr and friends read it; it must never leak in
    log.write_text(f"$ {' '.join(argv)}\n", encoding="utf-8")
    result = proc.stream(argv, timeout=INSTALL_TIMEOUT, log_path=log, echo=echo, env=env, cwd=project.root,
                         what=f"{kind} install")
    if not result.ok:
        raise explain(result.stdout, log, "the previous venv was kept" if kept else "nothing usable was installed")
    if on_warning is not None and not echo:  # with echo the user saw them go by already
        for text in warnings(result.stdout):
            on_warning(f"{kind}: {text}")
    return log


_NETWORK = re.compile(r"(Failed to fetch|error sending request|dns error|Connection refused|"
                      r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
                      r"Network is unreachable|Could not fetch URL|tcp connect error|Failed to download)",
                      re.IGNORECASE)
_BUILD = (re.compile(r"Failed to build `([^`@= ]+)"), re.compile(r"Failed to build ([A-Za-z0-9._-]+)"),
          re.compile(r"Failed building wheel for ([A-Za-z0-9._-]+)"),
          re.compile(r"Failed to (?:prepare|build) (?:metadata for |editable for )?`([^`@= ]+)"),
          re.compile(r"Getting requirements to build .* for ([A-Za-z0-9._-]+) did not run successfully"),
          re.compile(r"metadata-generation-failed[\s\S]*?╰─> ([A-Za-z0-9._-]+)"))
_NOT_FOUND = (re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry"),
              re.compile(r"No matching distribution found for ([^\s]+)"))


# What installers print as warnings (uv: "warning: ...", pip: "WARNING: ..." / "DEPRECATION: ..."): a yanked
# pin, a package that will stop building, a script dir not on PATH. Said, not buried in the log.
_WARNING = re.compile(r"^\s*(?:warning|WARNING|DEPRECATION):\s*(.+)$")
_NOISE = ("Running pip as the 'root' user", "is ignored: it is neither a file nor a directory",
          "You are using pip version", "A new release of pip")


def warnings(output: str, most: int = 8) -> list[str]:
    found: list[str] = []
    for line in output.splitlines():
        m = _WARNING.match(line)
        if m and not any(n in line for n in _NOISE) and m.group(1).strip() not in found:
            found.append(m.group(1).strip())
    return found[:most]


def explain(output: str, log: Path, kept: str = "the previous venv was kept") -> DevenvError:
    where = f"full log: {log}"
    if "No space left on device" in output:
        return DevenvError(f"the disk is full (No space left on device); {kept}",
                           f"free some space and run again ({where})")
    # Network first: a build that failed because its build requirements could not be fetched is a network fault.
    if _NETWORK.search(output):
        return NetworkError(f"the package index cannot be reached; {kept}",
                            f"check your network or proxy, or point UV_INDEX_URL/PIP_INDEX_URL at a mirror; {where}")
    for rx in _BUILD:
        m = rx.search(output)
        if m:
            return InstallError(f"package {m.group(1)} failed to build; {kept}",
                                f"install its build dependencies (see bindep.txt) and run again; {where}")
    for rx in _NOT_FOUND:
        m = rx.search(output)
        if m:
            return InstallError(f"{m.group(1)} is not available from the package index; {kept}",
                                f"check the requirement and the constraints; {where}")
    if re.search(r"No solution found|ResolutionImpossible|conflicting dependencies", output):
        return InstallError(f"the requirements cannot be installed together ({kept}): {proc.tail(output, 4)}",
                            f"check the constraints file against the requirements; {where}")
    return InstallError(f"the installer failed ({kept}): {proc.tail(output, 4)}", where)
