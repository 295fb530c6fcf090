"""Reading and writing IntelliJ XML exactly the way the IDE does.

PyCharm (JDOM) writes two-space indents, `<tag attr="v" />` with a space before `/>`, escapes `&`, `<`,
`>` and `"` in attribute values and newlines as `&#10;`, and never percent-encodes `file://` URLs
(VfsUtilCore.pathToUrl is plain concatenation). Writing the same bytes means a file PyCharm saves back
unchanged stays byte-identical, so `git diff` and devenv's "identical" check stay quiet.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lxml is imported lazily: the "nothing changed" path never needs it
    from lxml import etree

HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ATTR_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_TEXT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Gson's default (HTML-safe) escaping, which PyCharm's test configurations use for their `_new_*` values.
_GSON_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027",
              "\u2028": "\\u2028", "\u2029": "\\u2029"}


class XmlError(Exception):
    """The text is not well-formed XML (message says where)."""


def gson(value: str) -> str:
    """JSON-encode a string as com.google.gson.Gson().toJson does (how `_new_target` etc. are stored)."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(_GSON_HTML.get(c, c) for c in text)


def gson_decode(text: str) -> str:
    return str(json.loads(text))


def parse(text: str) -> etree._Element:
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(str(exc)) from exc
    if root is None:
        raise XmlError("empty document")
    return root


def _escape(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(c, c) for c in text) if any(c in table for c in text) else text


def serialize(root: etree._Element, header: bool) -> str:
    out: list[str] = [HEADER] if header else []
    _write(root, 0, out)
    return "".join(out)


def _write(el: etree._Element, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if not isinstance(el.tag, str):  # comments and processing instructions are kept as they were
        from lxml import etree

        out.append(pad + etree.tostring(el, encoding="unicode", with_tail=False) + "\n")
        return
    attrs = "".join(f' {k!s}="{_escape(str(v), _ATTR_ESCAPES)}"' for k, v in el.attrib.items())
    children = list(el)
    text = el.text if el.text and el.text.strip() else None
    if not children and text is None:
        out.append(f"{pad}<{el.tag}{attrs} />\n")
    elif not children:
        out.append(f"{pad}<{el.tag}{attrs}>{_escape(text or '', _TEXT_ESCAPES)}</{el.tag}>\n")
    else:
        out.append(f"{pad}<{el.tag}{attrs}>\n")
        for child in children:
            _write(child, depth + 1, out)
        out.append(f"{pad}</{el.tag}>\n")


def same(a: etree._Element, b: etree._Element) -> bool:
    """Structural equality, ignoring formatting whitespace."""
    if a.tag != b.tag or dict(a.attrib.items()) != dict(b.attrib.items()):
        return False
    if (a.text or "").strip() != (b.text or "").strip():
        return False
    ca, cb = list(a), list(b)
    return len(ca) == len(cb) and all(same(x, y) for x, y in zip(ca, cb, strict=True))
