"""What a venv has installed, and whether a requirement set asks for anything else.

This is what lets a branch switch cost nothing: when requirements.txt changes `os-traits>=3.6.0` into
`os-traits>=3.7.0` and the venv has os-traits 3.9.0 (the constraints' pin), the installer would do
nothing, so devenv need not run it (uv's own dry run has to rebuild the editable project's metadata
first: 6-11 s on nova; reading ~300 METADATA headers takes milliseconds).

The judgement is deliberately conservative: anything it cannot read or judge (a URL or option line, a
missing METADATA) answers "not satisfied", and the installer decides.
"""

from __future__ import annotations

import email.parser
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# what virtualenv seeds and installers keep; never "extraneous"
SEED = frozenset({"pip", "setuptools", "wheel"})


@dataclass(frozen=True)
class Dist:
    name: str  # canonical
    version: Version
    requires: tuple[str, ...]  # Requires-Dist lines
    info: Path | None = field(default=None, compare=False)  # its .dist-info folder

    def editable_from(self) -> Path | None:
        """The folder an editable install points at (PEP 610 direct_url.json), or None."""
        if self.info is None:
            return None
        try:
            data = json.loads((self.info / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        url = data.get("url") if isinstance(data, dict) else None
        if not (isinstance(url, str) and url.startswith("file://") and (data.get("dir_info") or {}).get("editable")):
            return None
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(url).path))


@dataclass(frozen=True)
class Verdict:
    satisfied: bool
    unmet: tuple[str, ...] = ()  # requirement lines the venv does not satisfy (or that cannot be judged)
    extraneous: tuple[str, ...] = ()  # installed, but nothing asks for them any more
    notes: tuple[str, ...] = field(default_factory=tuple)


def site_packages(venv: Path) -> Path | None:
    found = sorted((venv / "lib").glob("python*/site-packages"))
    return found[0] if found else None


def read(venv: Path) -> dict[str, Dist] | None:
    """Every distribution in the venv, by canonical name; None if the venv cannot be read."""
    site = site_packages(venv)
    if site is None:
        return None
    parser = email.parser.HeaderParser()
    out: dict[str, Dist] = {}
    for info in site.glob("*.dist-info"):
        try:
            with (info / "METADATA").open(encoding="utf-8", errors="replace") as fh:
                head = _headers(fh)
            meta = parser.parsestr(head)
            name, version = meta["Name"], meta["Version"]
            if not name or not version:
                return None
            out[canonicalize_name(name)] = Dist(canonicalize_name(name), Version(version),
                                                tuple(meta.get_all("Requires-Dist") or ()), info)
        except (OSError, InvalidVersion):
            return None  # a broken dist-info: let the installer look at it
    return out


def _headers(fh: Iterable[str]) -> str:
    """The header block only: the long description after it can be megabytes."""
    lines = []
    for line in fh:
        if not line.strip():
            break
        lines.append(line)
    return "".join(lines)


def environment(python_version: str) -> dict[str, str]:
    """Marker values for the venv's Python (same machine, maybe another version than ours)."""
    env = {k: str(v) for k, v in default_environment().items()}
    parts = python_version.split(".")
    env["python_version"] = ".".join(parts[:2])
    env["python_full_version"] = python_version
    env["implementation_version"] = python_version
    return env


_NOT_A_REQUIREMENT = re.compile(r"^(-|--|\w+://|\.|/)")  # options, -e, URLs, local paths
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([^\s;#]+)\s*(;.*)?$")


def judge(
    dists: dict[str, Dist], requirements: Iterable[str], constraints: Iterable[str], python_version: str,
    *, project: str | None = None, project_extras: Iterable[str] = (), keep: Iterable[str] = (),
    project_deps: bool = True, others: Mapping[str, Path] = {},  # noqa: B006 - read only
) -> Verdict:
    """Would installing `requirements` under `constraints` into this venv change nothing?

    Satisfied when every requirement (whose marker applies) and every constraint naming an installed
    package is met by the installed version, and nothing is installed that no longer follows from the
    requirements, the project (its own installed Requires-Dist, with `project_extras`), `keep` (e.g. the
    test runner devenv adds) and the seed packages. project_deps=False: the project's installed metadata
    is stale for its base dependencies (pbr copied an older requirements.txt into it), so only the
    requirements of its extras are taken from it; the caller's requirement lines stand for the rest.
    `others`: the --with checkouts (name -> folder): each must be installed editable from that very
    folder (one from elsewhere, or from the index, does not count); their requirement lines are among
    `requirements`, so their installed metadata (stale after a requirements.txt edit) is not followed.
    """
    env = environment(python_version)
    unmet: list[str] = []
    roots: list[Requirement] = []
    for line in requirements:
        req = _parse(line)
        if req is None:
            unmet.append(line)
            continue
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        roots.append(req)
        dist = dists.get(canonicalize_name(req.name))
        if dist is None or not req.specifier.contains(dist.version, prereleases=True):
            unmet.append(line)
    for line in constraints:
        pin = _PIN.match(line)
        if pin is not None:  # the common `name===version` line: no full parse for the ~600 pins not installed
            installed_dist = dists.get(canonicalize_name(pin.group(1)))
            if installed_dist is None:
                continue
            if not pin.group(3) and str(installed_dist.version) == pin.group(2):
                continue
        req = _parse(line)
        if req is None:
            continue  # not a pin (pip ignores such lines in a constraints file too)
        dist = dists.get(canonicalize_name(req.name))
        if dist is not None and (req.marker is None or req.marker.evaluate({**env, "extra": ""})) \
                and not req.specifier.contains(dist.version, prereleases=True):
            unmet.append(f"{line} (constraint; installed {dist.version})")
    for name in keep:
        req = _parse(name)
        if req is not None:
            roots.append(req)
    extras = tuple(project_extras)
    if project and project_deps:
        roots.append(Requirement(f"{project}[{','.join(extras)}]" if extras else project))
    elif project and canonicalize_name(project) in dists:
        own = dists[canonicalize_name(project)]
        for line in own.requires:  # only what an extra asks for
            req = _parse(line)
            if req is not None and req.marker is not None and any(
                    req.marker.evaluate({**env, "extra": e}) for e in extras) \
                    and not req.marker.evaluate({**env, "extra": ""}):
                roots.append(Requirement(str(req).split(";", 1)[0]))
        roots.append(Requirement(own.name))  # itself (its requirements are the lines above)
    for name, folder in others.items():
        dist = dists.get(canonicalize_name(name))
        where = dist.editable_from() if dist is not None else None
        if where is None or where.resolve() != Path(folder).resolve():
            unmet.append(f"{name} (not installed editable from {folder})")
        roots.append(Requirement(canonicalize_name(name)))
    shallow = {canonicalize_name(n) for n in others}
    if project and not project_deps:
        shallow.add(canonicalize_name(project))
    missing: list[str] = []
    needed = closure(dists, roots, env, shallow=shallow, missing=missing)
    unmet += [m for m in missing if m not in unmet]
    extraneous = sorted(n for n in dists if n not in needed and n not in SEED)
    return Verdict(not unmet and not extraneous, tuple(unmet), tuple(extraneous))


def closure(dists: dict[str, Dist], roots: list[Requirement], env: dict[str, str],
            shallow: Iterable[str] = (), missing: list[str] | None = None) -> set[str]:
    """Names of the installed distributions that `roots` need, following Requires-Dist (with extras);
    the requirements of the `shallow` ones are not followed. A dependency that is not installed, or not
    in a version its dependent accepts, goes to `missing` ("gone-lib>=1 (needed by nova)")."""
    shallow = set(shallow)
    needed: set[str] = set()
    todo: list[tuple[str, frozenset[str], Requirement | None, str]] = [
        (canonicalize_name(r.name), frozenset(r.extras), None, "") for r in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras, req_, parent = todo.pop()
        dist = dists.get(name)
        if req_ is not None and missing is not None and (
                dist is None or not req_.specifier.contains(dist.version, prereleases=True)):
            missing.append(f"{req_} (needed by {parent})")
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if dist is None:
            continue
        needed.add(name)
        if name in shallow:
            continue
        for line in dist.requires:
            req = _parse(line)
            if req is None:
                continue
            if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": e}) for e in (*extras, "")):
                continue
            todo.append((canonicalize_name(req.name), frozenset(req.extras), req, name))
    return needed


@functools.lru_cache(maxsize=4096)
def _parse(line: str) -> Requirement | None:
    text = line.split(" #", 1)[0].strip()
    if not text or _NOT_A_REQUIREMENT.match(text):
        return None
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None

