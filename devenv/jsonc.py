"""JSON with comments (JSONC), read and edited in place the way VS Code reads it.

devenv writes keys into .vscode/settings.json, .vscode/launch.json and *.code-workspace: files the user
edits too. It must change only the keys it owns and keep every other key, every comment and the user's
formatting byte for byte, so it cannot load such a file and dump it again. No well-kept Python library
edits JSONC in place (json-with-comments strips the comments, json-five reads JSON5, which accepts files
VS Code rejects, and commentjson has had no release since 2020), so this module is hand-written, after
the design of Microsoft's node `jsonc-parser`, the one VS Code uses: a scanner, a parser that records
where each value sits, and edits that splice new text into one value's span and touch nothing else.

Accepted: JSON (RFC 8259) plus `//` and `/* */` comments, trailing commas in objects and arrays, and a
UTF-8 BOM at the start. A file of only whitespace and comments has no value (VS Code reads an empty
settings.json as {}). Rejected, as VS Code marks them: single quotes, unquoted keys, NaN and Infinity,
hex numbers, a leading +, unterminated strings and comments, control characters in strings, invalid
escapes, missing commas or colons, anything after the top-level value. A duplicated key: the last one
is the value (as JSON.parse), and the last one is what an edit changes.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from devenv.errors import ConfigError

Kind = Literal["object", "array", "property", "string", "number", "boolean", "null"]
Key = str | int

_BOM = "\ufeff"
# One alternative per token. The string and number forms are exactly RFC 8259's; whatever matches none of
# them is diagnosed by _scan_error. (Single-character steps in the string: no backtracking blow-up.)
_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
    |(?P<comment>//[^\r\n]*|/\*.*?\*/)
    |(?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
    |(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![\w.]))
    |(?P<word>[A-Za-z_$][\w$]*)
    |(?P<punct>[{}\[\]:,])""",
    re.VERBOSE | re.DOTALL,
)
_STRING_PREFIX = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_BLANKS = re.compile(r"[ \t]*")
_NUMBER_HEAD = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBERISH = re.compile(r"[-+.\w]{1,40}")  # what the user meant as a number, for the message
_IDENT = re.compile(r"[A-Za-z_$][\w$-]*")
_LEAVES: dict[str, Kind] = {"string": "string", "number": "number", "true": "boolean", "false": "boolean",
                            "null": "null"}
_ARTICLES = {"object": "an object", "array": "an array", "string": "a string", "number": "a number",
             "boolean": "a boolean", "null": "null"}


class JsoncError(ConfigError):
    """A JSONC file VS Code would not read, or one whose shape does not fit the edit asked for."""

    def __init__(self, reason: str, line: int, column: int, path: str | None = None, hint: str | None = None) -> None:
        where = f"line {line}, column {column}: {reason}"
        super().__init__(f"{path}: {where}" if path else where,
                         hint or "fix the file there (VS Code marks the same spot) and run devenv again")
        self.reason, self.line, self.column, self.path = reason, line, column, path


@dataclass(frozen=True)
class Node:
    """A value's place in the text. A property spans its key to the end of its value (children: the value)."""

    kind: Kind
    offset: int
    length: int
    value: Any = None  # leaves only
    children: tuple[Node, ...] = ()
    key: str | None = None  # properties only
    key_offset: int | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class _Token:
    kind: str  # a punctuation character, string, number, word, true, false, null, comment, eof or error
    start: int
    end: int
    reason: str = ""  # error tokens only


# ---------------------------------------------------------------- reading


def loads(text: str, *, path: str | None = None) -> Any:
    """The Python value of a JSONC text; None for a text with no value (empty, or only comments)."""
    root = parse_tree(text, path=path)
    return None if root is None else _python(root)


def parse_tree(text: str, *, path: str | None = None) -> Node | None:
    return _parse(text, path).root


def node_at(text: str, keys: Sequence[Key], *, path: str | None = None) -> Node | None:
    """The value node at `keys` (the last one of duplicated keys), or None if there is none."""
    keys = _check_keys(keys)
    root = _parse(text, path).root
    if root is None:
        return None
    depth, _, node = _walk(root, keys)
    return node if depth == len(keys) else None


def _python(node: Node) -> Any:
    if node.kind == "object":
        return {prop.key: _python(prop.children[0]) for prop in node.children}  # the last duplicate wins
    if node.kind == "array":
        return [_python(child) for child in node.children]
    return node.value


@dataclass(frozen=True)
class _Doc:
    """A parsed text with all its tokens, comments included: edits look at what sits between values."""

    text: str
    root: Node | None
    tokens: tuple[_Token, ...]

    def next_token(self, offset: int) -> _Token:
        """The first token that is not a comment, at or after offset."""
        i = bisect.bisect_left(self.tokens, offset, key=lambda t: t.start)
        while self.tokens[i].kind == "comment":
            i += 1
        return self.tokens[i]

    def past_line_comments(self, offset: int) -> int:
        """Past the comments that start on the same line as offset: they belong to what comes before."""
        i = bisect.bisect_left(self.tokens, offset, key=lambda t: t.start)
        while self.tokens[i].kind == "comment" and not _has_eol(self.text, offset, self.tokens[i].start):
            offset = self.tokens[i].end
            i += 1
        return offset


def _parse(text: str, path: str | None) -> _Doc:
    tokens = _scan(text)
    parser = _Parser(text, tokens, path)
    try:
        return _Doc(text, parser.document(), tuple(tokens))
    except RecursionError:  # a file nested thousands deep: the user's to fix, not a crash
        raise parser.error(parser.tokens[parser.i], "nested too deeply") from None


def _scan(text: str) -> list[_Token]:
    """All tokens up to the first one that is not JSONC, which becomes an error token: the parser raises
    it only when it gets there, so an earlier grammar error is the one reported."""
    tokens = []
    pos = 1 if text.startswith(_BOM) else 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            at, reason = _scan_error(text, pos)
            tokens.append(_Token("error", at, at, reason))
            return tokens
        kind = m.lastgroup or ""
        if kind == "punct" or (kind == "word" and m.group() in ("true", "false", "null")):
            kind = m.group()
        if kind != "ws":
            tokens.append(_Token(kind, pos, m.end()))
        pos = m.end()
    tokens.append(_Token("eof", pos, pos))
    return tokens


def _scan_error(text: str, pos: int) -> tuple[int, str]:
    char = text[pos]
    if char == '"':
        end = _STRING_PREFIX.match(text, pos).end()  # type: ignore[union-attr]  # '"' always matches
        if end == len(text) or text[end] in "\r\n":
            return pos, "unterminated string"
        # VS Code marks the whole string, so its start is the position; the reason names what is wrong
        if text[end] == "\\":
            escape = text[end:end + 6] if text[end + 1:end + 2] == "u" else text[end:end + 2]
            return pos, f"invalid escape {escape} in a string"
        return pos, f"control character U+{ord(text[end]):04X} in a string (write it as an escape)"
    if text.startswith("/*", pos):
        return pos, "unterminated comment (no closing */)"
    if char == "'":
        return pos, "strings and property names need double quotes, not single"
    if char in "+-0123456789":
        return _number_error(text, pos), f"invalid number {_NUMBERISH.match(text, pos).group()!r}"  # type: ignore[union-attr]
    return pos, f"unexpected character {char!r}"


def _number_error(text: str, pos: int) -> int:
    """Where VS Code marks a malformed number: its start if a fraction or an exponent has no digits, else
    the first character after the longest number it starts with (the x of 0x1F, the second 0 of 00)."""
    m = _NUMBER_HEAD.match(text, pos)
    if m is None:
        return pos
    number, after = m.group().lower(), text[m.end():m.end() + 1].lower()
    if (after == "." and "." not in number and "e" not in number) or (after == "e" and "e" not in number):
        return pos
    return m.end()


class _Parser:
    """Recursive descent over the tokens, comments left out; the first error raises."""

    def __init__(self, text: str, tokens: list[_Token], path: str | None) -> None:
        self.text, self.path = text, path
        self.tokens = [t for t in tokens if t.kind != "comment"]
        self.i = 0

    def document(self) -> Node | None:
        if self.peek().kind == "eof":
            return None
        root = self.value()
        if (tok := self.peek()).kind != "eof":
            raise self.error(tok, f"expected the end of the file after the top-level value, found {self.found(tok)}")
        return root

    def value(self) -> Node:
        tok = self.peek()
        if tok.kind == "{":
            return self.container("object", "}", self.property)
        if tok.kind == "[":
            return self.container("array", "]", self.value)
        if tok.kind not in _LEAVES:
            raise self.error(tok, f"expected a value, found {self.found(tok)}")
        self.i += 1
        raw = self.text[tok.start:tok.end]
        if tok.kind == "string":
            leaf: Any = json.loads(raw)  # a validated literal: the stdlib decodes escapes exactly as JSON says
        elif tok.kind == "number":
            leaf = float(raw) if any(c in raw for c in ".eE") else int(raw)
        else:
            leaf = {"true": True, "false": False, "null": None}[tok.kind]
        return Node(_LEAVES[tok.kind], tok.start, tok.end - tok.start, leaf)

    def container(self, kind: Kind, close: str, member: Callable[[], Node]) -> Node:
        start = self.peek().start
        self.i += 1
        members = []
        while self.peek().kind != close:  # after a comma too: a trailing comma is allowed
            members.append(member())
            tok = self.peek()
            if tok.kind == ",":
                self.i += 1
            elif tok.kind != close:
                raise self.error(tok, f"expected ',' or '{close}', found {self.found(tok)}")
        end = self.peek().end
        self.i += 1
        return Node(kind, start, end - start, children=tuple(members))

    def property(self) -> Node:
        name = self.peek()
        if name.kind != "string":
            raise self.error(name, f"expected a property name in double quotes, found {self.found(name)}")
        self.i += 1
        if (colon := self.peek()).kind != ":":
            raise self.error(colon, f"expected ':' after the property name, found {self.found(colon)}")
        self.i += 1
        value = self.value()
        key = json.loads(self.text[name.start:name.end])
        return Node("property", name.start, value.end - name.start, children=(value,), key=key, key_offset=name.start)

    def peek(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind == "error":
            raise self.error(tok, tok.reason)
        return tok

    def found(self, tok: _Token) -> str:
        if tok.kind in ("eof", "string"):
            return "the end of the file" if tok.kind == "eof" else "a string"
        return repr(self.text[tok.start:tok.end][:30])

    def error(self, tok: _Token, reason: str) -> JsoncError:
        return _error(self.text, tok.start, reason, self.path)


def _error(text: str, offset: int, reason: str, path: str | None, hint: str | None = None) -> JsoncError:
    """Lines end at \\n, \\r\\n or \\r (as in VS Code); a column counts characters, a tab as one, no BOM."""
    head = text[:offset]
    line = head.count("\n") + head.count("\r") - head.count("\r\n") + 1
    start = _line_start(text, offset)
    column = offset - start + 1 - (start == 0 and text.startswith(_BOM))
    return JsoncError(reason, line, max(column, 1), path, hint)


# ---------------------------------------------------------------- editing


def set_value(text: str, keys: Sequence[Key], value: Any, *, path: str | None = None) -> str:
    """The text with the value at `keys` set; everything outside the one changed span is kept as it was.

    str keys index objects (a key may contain dots: it is one key), int keys index arrays (the length
    appends). Missing objects on the way are created. A value already equal to `value` is left as the
    user wrote it, so a second run changes nothing.
    """
    keys = _check_keys(keys)
    doc = _parse(text, path)
    if doc.root is None:
        return _new_document(doc, keys, value)
    depth, parent, node = _walk(doc.root, keys)
    if depth < len(keys):
        key = keys[depth]
        if not _fits(node, key):
            raise _mismatch(doc, node, keys[:depth], key, path)
        if isinstance(key, int) and key > len(node.children):
            raise ValueError(f"index {key} is past the end of {_where(keys[:depth])} ({len(node.children)} items)")
        return _insert(doc, node, parent, key, _wrap(keys[depth + 1:], value))
    if _same(_python(node), value):
        return text
    multiline = parent is None or not _one_line(text, parent)
    return text[:node.offset] + _dump(doc, value, _line_indent(text, node.offset), multiline) + text[node.end:]


def remove(text: str, keys: Sequence[Key], *, path: str | None = None) -> str:
    """The text without the property (every duplicate of it) or array element at `keys`; unchanged if
    there is none. Commas stay valid, a line left empty goes, comments stay."""
    keys = _check_keys(keys)
    if not keys:
        raise ValueError("remove() needs at least one key: the top level cannot be removed")
    while True:
        doc = _parse(text, path)
        if doc.root is None:
            return text
        depth, container, _ = _walk(doc.root, keys)
        index = _member_index(container, keys[-1]) if container and depth == len(keys) else None
        if container is None or index is None:
            return text
        text = _remove_member(doc, container, index)
        if isinstance(keys[-1], int):
            return text


def _check_keys(keys: Sequence[Key]) -> tuple[Key, ...]:
    if isinstance(keys, str):
        raise TypeError(f"keys is a sequence of keys, not one string: use [{keys!r}]")
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, (str, int)) or (isinstance(key, int) and key < 0):
            raise ValueError(f"a key is a str or an int >= 0, not {key!r}")
    return tuple(keys)


def _walk(root: Node, keys: Sequence[Key]) -> tuple[int, Node | None, Node]:
    """How far `keys` lead: how many of them were found, the last container passed, and the node reached."""
    parent, node = None, root
    for depth, key in enumerate(keys):
        index = _member_index(node, key) if _fits(node, key) else None
        if index is None:
            return depth, parent, node
        parent, node = node, _value_of(node.children[index])
    return len(keys), parent, node


def _member_index(container: Node, key: Key) -> int | None:
    if isinstance(key, int):
        return key if key < len(container.children) else None
    for i in range(len(container.children) - 1, -1, -1):  # the last duplicate is the one VS Code reads
        if container.children[i].key == key:
            return i
    return None


def _value_of(member: Node) -> Node:
    return member.children[0] if member.kind == "property" else member


def _fits(node: Node, key: Key) -> bool:
    return node.kind == ("array" if isinstance(key, int) else "object")


def _mismatch(doc: _Doc, node: Node, keys: Sequence[Key], key: Key, path: str | None) -> JsoncError:
    want = "an array" if isinstance(key, int) else "an object"
    what = f"{_where(keys)} is {_ARTICLES[node.kind]}," if keys else "the file's top level is"
    hint = f"devenv keeps its settings in {want} there: change or remove that value and run devenv again"
    return _error(doc.text, node.offset, f"{what} not {want}", path, hint)


def _where(keys: Sequence[Key]) -> str:
    """A key path as a reader would write it: configurations[0].name, ["python.testing.args"]."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _IDENT.fullmatch(key):
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key, ensure_ascii=False)}]"
    return out or "the top level"


def _wrap(keys: Sequence[Key], value: Any) -> Any:
    """The value to insert where `keys` do not exist yet: objects (or a new one-item array) around it."""
    for key in reversed(keys):
        if isinstance(key, int) and key != 0:
            raise ValueError(f"index {key} cannot be set in an array that does not exist yet")
        value = [value] if isinstance(key, int) else {key: value}
    return value


def _same(old: Any, new: Any) -> bool:
    """Equal as JSON: 1 is not 1.0 nor true; the order of keys does not count (the user's stays)."""
    try:
        return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)
    except (TypeError, ValueError):
        return False


def _new_document(doc: _Doc, keys: Sequence[Key], value: Any) -> str:
    """After the comments of a text with no value (a line comment needs a line end before the value)."""
    head = doc.text
    if head.lstrip(_BOM) and not head.endswith(("\n", "\r")):
        head += _eol(head)
    return head + _dump(doc, _wrap(keys, value), "", multiline=True) + _eol(head)


def _insert(doc: _Doc, container: Node, parent: Node | None, key: Key, value: Any) -> str:
    """A new last member: after the last one, its comma and the comments on its line (a comment on a line
    of its own before the closing bracket stays right before it). A one-line container stays one line (an
    empty one opens up, unless it sits in a one-line parent); a trailing comma is kept as the file's style."""
    text, members = doc.text, container.children
    inline = _one_line(text, container) and (bool(members) or (parent is not None and _one_line(text, parent)))
    indent = "" if inline else _member_indent(doc, container)
    item = _dump(doc, value, indent, multiline=not inline)
    if isinstance(key, str):
        item = f"{json.dumps(key, ensure_ascii=False)}: {item}"
    edits, at, trailing = [], container.offset + 1, False
    if members:
        after = doc.next_token(members[-1].end)
        trailing = after.kind == ","
        at = after.end if trailing else members[-1].end
        if not trailing:
            edits.append((at, at, ","))
    at = doc.past_line_comments(at)
    comma = "," if trailing else ""
    if inline:
        edits.append((at, at, f"{' ' if members else ''}{item}{comma}"))
    else:
        # the closing bracket on the same line as the anchor ({} or `"a": 1}`) moves to a line of its own
        close = container.end - 1
        same_line = not _has_eol(text, at, close)
        tail = _eol(text) + _line_indent(text, container.offset) if same_line else ""
        edits.append((at, close if same_line else at, f"{_eol(text)}{indent}{item}{comma}{tail}"))
    return _apply(text, edits)


def _remove_member(doc: _Doc, container: Node, index: int) -> str:
    """Delete the member and one comma: its own, or else the one before it (a last member has none)."""
    text, members = doc.text, container.children
    member = members[index]
    after = doc.next_token(member.end)
    if after.kind == ",":
        spans = [(member.offset, member.end), (after.start, after.end)]
    elif index > 0:
        comma = doc.next_token(members[index - 1].end)
        spans = [(comma.start, comma.end), (member.offset, member.end)]
    else:
        spans = [(member.offset, member.end)]
    if len(spans) == 2 and not text[spans[0][1]:spans[1][0]].strip(" \t\r\n"):  # no comment between: one span
        spans = [(spans[0][0], spans[1][1])]
    return _apply(text, [(*_tidy(text, start, end), "") for start, end in spans])


def _tidy(text: str, start: int, end: int) -> tuple[int, int]:
    """A deletion widened to its whole line if nothing else is on it; to the blanks before it if it ends a
    line or a container (no trailing blanks left); else to the blanks after it, unless those separate what
    was before it from a comment."""
    stop = _BLANKS.match(text, end).end()  # type: ignore[union-attr]
    line_start = _line_start(text, start)
    blank_before = not text[line_start:start].strip(" \t")
    at_eol = stop == len(text) or text[stop] in "\r\n"
    if blank_before and at_eol:
        return line_start, stop + (2 if text.startswith("\r\n", stop) else int(stop < len(text)))
    if at_eol or text[stop] in "}]":
        end = stop if at_eol or blank_before else end
        while start > 0 and text[start - 1] in " \t":
            start -= 1
        return start, end
    return start, stop if blank_before or text[stop] != "/" else end


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Splice (start, end, new) edits that do not overlap; inserts at one offset keep their order."""
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: e[0]):
        out += [text[pos:start], new]
        pos = end
    return "".join(out) + text[pos:]


def _dump(doc: _Doc, value: Any, indent: str, multiline: bool) -> str:
    """json.dumps in the file's indent unit and line ending, its continuation lines nested under indent."""
    if not multiline:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    out = json.dumps(value, indent=_indent_unit(doc), ensure_ascii=False, allow_nan=False)
    return out.replace("\n", _eol(doc.text) + indent)


def _member_indent(doc: _Doc, container: Node) -> str:
    members = container.children
    if members and not doc.text[_line_start(doc.text, members[-1].offset):members[-1].offset].strip(" \t"):
        return _line_indent(doc.text, members[-1].offset)
    return _line_indent(doc.text, container.offset) + _indent_unit(doc)


def _indent_unit(doc: _Doc) -> str:
    """The indentation of the first indented line that starts with a value or bracket (comment lines are
    often indented their own way); four spaces, what VS Code writes, if there is none."""
    for tok in doc.tokens:
        if tok.kind not in ("comment", "eof"):
            start = _line_start(doc.text, tok.start)
            blanks = doc.text[start:tok.start]
            if blanks and not blanks.strip(" \t"):
                return "\t" if blanks[0] == "\t" else " " * len(blanks)
    return "    "


def _eol(text: str) -> str:
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def _line_start(text: str, offset: int) -> int:
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def _line_indent(text: str, offset: int) -> str:
    return _BLANKS.match(text, _line_start(text, offset)).group()  # type: ignore[union-attr]


def _one_line(text: str, node: Node) -> bool:
    return not _has_eol(text, node.offset, node.end)


def _has_eol(text: str, start: int, end: int) -> bool:
    return "\n" in text[start:end] or "\r" in text[start:end]
