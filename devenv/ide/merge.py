"""Element-level three-way merge of IDE XML: base = what devenv wrote last, ours = the new render,
theirs = the file on disk (the user's PyCharm edits).

Elements are matched by a stable identity (configuration name+type, option/env name, folder url, ...),
never by position, so the IDE reordering a file does not look like an edit. Rules, per attribute and
per child: unchanged upstream -> the user's version stays (including a deletion); unchanged by the user
-> the upstream change is applied; changed by both differently -> a conflict, reported with its path,
the user's value kept (or ours with force). Without a base (first run over an existing file) devenv's
values win for what it owns and everything else is kept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devenv.ide.xmlio import same

if TYPE_CHECKING:
    from lxml import etree

Key = tuple[str | None, ...]

# Attributes that name an element, in order of preference.
_ID_ATTRS = ("name", "url", "fileurl", "ID", "id", "itemvalue", "type")


@dataclass
class MergeOutcome:
    root: etree._Element
    conflicts: list[str] = field(default_factory=list)


def identity(el: etree._Element) -> Key:
    if not isinstance(el.tag, str):
        return ("#comment", (el.text or "").strip())
    if el.tag == "configuration":
        return (el.tag, el.get("name"), el.get("type"), el.get("factoryName"), el.get("default"))
    if el.tag == "orderEntry":
        return (el.tag, el.get("type"), el.get("module-name"), el.get("forTests"))
    if el.tag == "jdk":
        name = el.find("name")
        return (el.tag, name.get("value") if name is not None else None)
    for attr in _ID_ATTRS:
        if attr in el.attrib:
            return (el.tag, attr, el.get(attr))
    return (el.tag,)


def _keyed(el: etree._Element | None) -> dict[Key, etree._Element]:
    out: dict[Key, etree._Element] = {}
    if el is None:
        return out
    for child in el:
        key = identity(child)
        n = 0
        while key + (str(n),) in out:
            n += 1
        out[key + (str(n),)] = child
    return out


def _label(el: etree._Element) -> str:
    if not isinstance(el.tag, str):
        return "comment"
    key = identity(el)
    if el.tag == "configuration":
        return f"configuration[{el.get('name') or el.get('factoryName') or ''}]"
    return f"{el.tag}[{key[2]}]" if len(key) > 2 else str(el.tag)


class _Merger:
    def __init__(self, has_base: bool, force: bool) -> None:
        self.has_base = has_base
        self.force = force
        self.conflicts: list[str] = []

    def pick(self, b: str | None, o: str | None, t: str | None, where: str) -> str | None:
        if not self.has_base:
            return o if o is not None else t
        if o == t or o == b:
            return t
        if t == b or self.force:  # force: devenv's side wins a clash (the caller backed the file up)
            return o
        self.conflicts.append(f"{where}: yours {t!r}, devenv's new {o!r} (was {b!r})")
        return t

    def merge(self, b: etree._Element | None, o: etree._Element, t: etree._Element, path: str) -> etree._Element:
        from lxml import etree

        if not isinstance(t.tag, str):
            return copy.deepcopy(t)
        out = etree.Element(t.tag)
        names = [str(k) for k in t.attrib.keys()] + [str(k) for k in o.attrib.keys() if k not in t.attrib]
        for name in names:
            bv = b.get(name) if b is not None else None
            value = self.pick(bv, o.get(name), t.get(name), f"{path}@{name}")
            if value is not None:
                out.set(name, value)
        text = self.pick(
            (b.text or "").strip() if b is not None else None, (o.text or "").strip(), (t.text or "").strip(),
            f"{path} text",
        )
        if text:
            out.text = text
        for child in self.children(b, o, t, path):
            out.append(child)
        return out

    def children(self, b: etree._Element | None, o: etree._Element, t: etree._Element,
                 path: str) -> list[etree._Element]:
        bk, ok, tk = _keyed(b), _keyed(o), _keyed(t)
        result: list[tuple[Key, etree._Element]] = []
        for key, tel in tk.items():
            where = f"{path}/{_label(tel)}"
            if key in ok:
                result.append((key, self.merge(bk.get(key), ok[key], tel, where)))
            elif key in bk and self.has_base:
                if same(bk[key], tel) or self.force:
                    continue  # removed upstream, untouched by the user
                self.conflicts.append(f"{where}: you changed it, devenv no longer generates it")
                result.append((key, copy.deepcopy(tel)))
            else:
                result.append((key, copy.deepcopy(tel)))  # the user's own addition
        order = list(ok)
        for i, key in enumerate(order):
            if key in tk or (key in bk and self.has_base):
                continue  # present, or deleted by the user: a deletion is kept
            pos = 0
            for prev in reversed(order[:i]):
                idx = next((n for n, (k, _) in enumerate(result) if k == prev), None)
                if idx is not None:
                    pos = idx + 1
                    break
            result.insert(pos, (key, copy.deepcopy(ok[key])))
        return [el for _, el in result]


def merge3(base: etree._Element | None, ours: etree._Element, theirs: etree._Element,
           *, force: bool = False) -> MergeOutcome:
    merger = _Merger(base is not None, force)
    root = merger.merge(base, ours, theirs, _label(theirs))
    return MergeOutcome(root, merger.conflicts)
