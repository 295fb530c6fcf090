"""IDE health for `devenv doctor`: the project names an interpreter, every installed PyCharm knows it
(with a binary that exists), and the shared run configurations are there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from devenv.findings import Finding
from devenv.ide import jetbrains

if TYPE_CHECKING:
    from devenv.project import Project

FIX = "devenv ide"


def check(project: Project) -> list[Finding]:
    idea = project.root / ".idea"
    name = sdk_name(idea / "misc.xml")
    findings = [_misc(idea, name)]
    if name:
        findings += _tables(name)
    findings.append(_runconfigs(idea))
    from devenv.ide import launchcheck, venvinfo

    findings += launchcheck.check(project.root, venvinfo.read(project.venv).python)
    return findings


def sdk_name(misc: Path) -> str | None:
    from devenv.ide import xmlio

    try:
        root = xmlio.parse(misc.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, xmlio.XmlError):
        return None
    comp = root.find("component[@name='ProjectRootManager']")
    return comp.get("project-jdk-name") if comp is not None else None


def _misc(idea: Path, name: str | None) -> Finding:
    if not (idea / "misc.xml").is_file():
        return Finding("ide.project", "fail", "no .idea/misc.xml: PyCharm has no interpreter for this project",
                       "PyCharm shows 'No Python interpreter configured'", FIX)
    if not name:
        return Finding("ide.project", "fail", ".idea/misc.xml names no interpreter (or is not readable XML)",
                       "PyCharm shows 'No Python interpreter configured'", FIX)
    return Finding("ide.project", "ok", f"project interpreter: {name}")


def _tables(name: str) -> list[Finding]:
    from devenv.ide import jdktable

    configs = jetbrains.discover()
    if not configs:
        return [Finding("ide.sdk", "warn", "no PyCharm configuration folder found",
                        "the interpreter is registered when PyCharm's config exists", FIX)]
    out = []
    for cfg in configs:
        try:
            root = jdktable.load(cfg.jdk_table)
        except jdktable.TableError as exc:
            out.append(Finding("ide.sdk", "fail", f"{cfg.jdk_table}: {exc}",
                               f"{cfg.selector} cannot list its interpreters",
                               f"fix or delete {cfg.jdk_table} (a backup is kept by devenv), then {FIX}"))
            continue
        known = [e for e in jdktable.entries(root) if e.name == name]
        valid = jdktable.has_valid(root, name)
        if valid:
            out.append(Finding("ide.sdk", "ok", f"{cfg.selector}: {name} -> {valid.home}"))
        elif known:
            out.append(Finding("ide.sdk", "fail", f"{cfg.selector}: {name} points to {known[0].home}, which is gone",
                               "PyCharm shows 'Invalid Python interpreter selected'", "devenv refresh"))
        else:
            out.append(Finding("ide.sdk", "fail", f"{cfg.selector}: no interpreter named {name!r}",
                               "PyCharm shows 'No Python interpreter configured'", FIX))
    return out


def _runconfigs(idea: Path) -> Finding:
    folder = idea / "runConfigurations"
    found = sorted(p.name for p in folder.glob("*.xml")) if folder.is_dir() else []
    if not found:
        return Finding("ide.runconfigs", "warn", "no shared run configurations in .idea/runConfigurations",
                       "'Unit tests' and the service configurations are missing", FIX)
    return Finding("ide.runconfigs", "ok", f"{len(found)} run configurations")
