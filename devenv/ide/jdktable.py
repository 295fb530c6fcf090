"""The application half of an interpreter: one `<jdk>` entry in a PyCharm's options/jdk.table.xml.

Entries are identified by their unique `<name>`. devenv reuses an entry whose homePath (after
expanding PyCharm's path macros) is the project's venv interpreter, whatever its name; otherwise it
adds `Python X.Y (<project>)`, or `... (2)` etc. when that name already points elsewhere.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import paths
from devenv.ide import venvinfo, xmlio

if TYPE_CHECKING:
    from lxml import etree

SDK_TYPE = "Python SDK"
EMPTY = '<application>\n  <component name="ProjectJdkTable" />\n</application>\n'


class TableError(Exception):
    """The file is not a jdk table devenv can safely edit."""


@dataclass(frozen=True)
class Entry:
    name: str
    home: str  # expanded homePath
    version: str | None


def expand(value: str) -> str:
    """PyCharm collapses paths to macros when it saves; expand the ones a homePath can carry."""
    return value.replace("$USER_HOME$", str(paths.home())).replace("$APPLICATION_HOME_DIR$", "")


def load(path: Path) -> etree._Element:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = EMPTY
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"cannot read it: {exc}") from exc
    try:
        root = xmlio.parse(text)
    except xmlio.XmlError as exc:
        raise TableError(f"not well-formed XML ({exc})") from exc
    if root.tag != "application":
        raise TableError(f"its root element is <{root.tag}>, not <application>")
    return root


def _component(root: etree._Element) -> etree._Element:
    from lxml import etree

    comp = root.find("component[@name='ProjectJdkTable']")
    if comp is None:
        comp = etree.SubElement(root, "component", name="ProjectJdkTable")
    return comp


def _value(jdk: etree._Element, tag: str) -> str | None:
    el = jdk.find(tag)
    return el.get("value") if el is not None else None


def entries(root: etree._Element) -> list[Entry]:
    out = []
    for jdk in _component(root).findall("jdk"):
        name = _value(jdk, "name")
        if name:
            out.append(Entry(name, expand(_value(jdk, "homePath") or ""), _value(jdk, "version")))
    return out


def choose_name(tables: list[etree._Element], project: str, short: str | None, python: Path,
                previous: str | None = None) -> tuple[str, bool]:
    """One name valid in every table. Returns (name, renamed) — renamed when the plain name was taken."""
    all_entries = [e for t in tables for e in entries(t)]
    for e in all_entries:
        if venvinfo.same_interpreter(e.home, python) and _usable(e.name, all_entries, python):
            return e.name, False
    base = f"Python {short or '3'} ({project})"
    if previous and previous != base and _usable(previous, all_entries, python) and previous.startswith(base):
        return previous, True
    n = 1
    while True:
        name = base if n == 1 else f"{base} ({n})"
        if _usable(name, all_entries, python):
            return name, n > 1
        n += 1


def _usable(name: str, all_entries: list[Entry], python: Path) -> bool:
    return all(venvinfo.same_interpreter(e.home, python) for e in all_entries if e.name == name)


def upsert(root: etree._Element, name: str, python: Path, version: str | None, project_root: Path | None) -> bool:
    """Make `name` describe the venv interpreter. Returns True when the table changed."""
    comp = _component(root)
    for jdk in comp.findall("jdk"):
        if _value(jdk, "name") == name:
            return _refresh(jdk, python, version)
    comp.append(_new_entry(name, python, version, project_root))
    return True


def _refresh(jdk: etree._Element, python: Path, version: str | None) -> bool:
    from lxml import etree

    changed = False
    wanted = {"type": SDK_TYPE, "homePath": str(python)}
    if version:
        wanted["version"] = f"Python {version}"
    for tag, value in wanted.items():
        el = jdk.find(tag)
        current = expand(el.get("value") or "") if el is not None else None
        if tag == "homePath" and current is not None and venvinfo.same_interpreter(current, python):
            continue
        if current != value:
            if el is None:
                el = etree.SubElement(jdk, tag)
            el.set("value", value)
            changed = True
    return changed


def _new_entry(name: str, python: Path, version: str | None, project_root: Path | None) -> etree._Element:
    from lxml import etree

    jdk = etree.Element("jdk", version="2")
    etree.SubElement(jdk, "name", value=name)
    etree.SubElement(jdk, "type", value=SDK_TYPE)
    if version:
        etree.SubElement(jdk, "version", value=f"Python {version}")
    etree.SubElement(jdk, "homePath", value=str(python))
    roots = etree.SubElement(jdk, "roots")
    for kind in ("classPath", "sourcePath"):
        etree.SubElement(etree.SubElement(roots, kind), "root", type="composite")
    extra = etree.SubElement(jdk, "additional")
    if project_root is not None:  # the tools venv's entry is shared by every project: no association
        extra.set("ASSOCIATED_PROJECT_PATH", str(project_root))
    extra.set("SDK_UUID", str(uuid.uuid4()))
    etree.SubElement(extra, "setting", name="FLAVOR_ID", value="VirtualEnvSdkFlavor")
    etree.SubElement(extra, "setting", name="FLAVOR_DATA", value="{}")
    return jdk


def text(root: etree._Element) -> str:
    return xmlio.serialize(root, header=False)


def has_valid(root: etree._Element, name: str) -> Entry | None:
    """The entry called `name` if its interpreter exists."""
    for e in entries(root):
        if e.name == name and e.home and os.path.exists(e.home):
            return e
    return None
