"""Change only what devenv owns in a user's JSONC file, keeping every other key and every comment.

Three-way, per owned key (settings) or per configuration name (launch.json), like the PyCharm files:
the value devenv wrote last (the base, from the project's state folder), devenv's new value, and the
file's. The file's value equal to the base is devenv's to update; a value the user changed is theirs (kept
silently while devenv's stays as it was, reported as a conflict when devenv's changed too or there is no
base yet; `--force` takes devenv's); a key the user deleted stays deleted; a key devenv
owned and no longer writes is removed only when the user left it as devenv wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devenv import jsonc

MISSING = object()


def key_id(key: tuple[str, ...]) -> str:
    return json.dumps(list(key))


@dataclass
class Merged:
    text: str
    base: dict[str, Any]  # what to remember as written, by key_id / configuration name
    conflicts: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # what devenv set or removed
    kept_removed: list[str] = field(default_factory=list)  # owned keys the user deleted
    overridden: list[str] = field(default_factory=list)  # user values --force replaced


def _get(value: Any, key: tuple[str, ...]) -> Any:
    for part in key:
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _show(key: tuple[str, ...]) -> str:
    return " > ".join(f'"{k}"' for k in key)


def settings(text: str, owned: dict[tuple[str, ...], Any], base: dict[str, Any], *, force: bool,
             path: str) -> Merged:
    """Merge owned settings into the text of a settings.json (or a .code-workspace's "settings")."""
    current = jsonc.loads(text, path=path) if text.strip() else None
    if current is not None and not isinstance(current, dict):
        raise jsonc.JsoncError("the file's top level is not an object", line=1, column=1, path=path)
    current = current or {}
    out = Merged(text, {})
    for key, value in owned.items():
        kid, had = key_id(key), base.get(key_id(key), MISSING)
        cur = _get(current, key)
        if cur == value:
            out.base[kid] = value
        elif cur is not MISSING and had is not MISSING and value == had and cur != had and not force:
            out.base[kid] = had  # the user changed it and devenv's value did not change: theirs, silently
        elif cur is MISSING and had is not MISSING and not force:
            out.base[kid] = had  # deleted by the user: their choice, remembered
            out.kept_removed.append(_show(key))
        elif cur is MISSING or cur == had or force:
            if cur is not MISSING and cur != had:
                out.overridden.append(_show(key))
            out.text = jsonc.set_value(out.text, key, value, path=path)
            out.base[kid] = value
            out.changed.append(_show(key))
        else:
            out.conflicts.append(f"{_show(key)}: yours is {json.dumps(cur)}, devenv's {json.dumps(value)}")
            if had is not MISSING:
                out.base[kid] = had
    for kid, had in base.items():
        if kid in out.base:
            continue
        key = tuple(json.loads(kid))
        if out.changed:  # an edit above: read the text again
            current = jsonc.loads(out.text, path=path) or {}
        if _get(current, key) == had:
            out.text = jsonc.remove(out.text, key, path=path)
            out.changed.append(_show(key) + " (removed)")
    return out


def _entries_of(text: str, array: str, path: str) -> list[Any]:
    data = jsonc.loads(text, path=path) if text.strip() else None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise jsonc.JsoncError("the file's top level is not an object", line=1, column=1, path=path)
    entries = data.get(array, [])
    if not isinstance(entries, list):
        raise jsonc.JsoncError(f'"{array}" is not a list', line=1, column=1, path=path)
    return entries


def _index(entries: list[Any], ident: str, name: str) -> int | None:
    found = [i for i, c in enumerate(entries) if isinstance(c, dict) and c.get(ident) == name]
    return found[-1] if found else None


def launch(text: str, owned: tuple[dict[str, Any], ...], base: dict[str, Any], *, force: bool, path: str,
           note: str | None = None) -> Merged:
    """Merge owned launch configurations (by name) into the text of a launch.json.

    note: a comment put above the first configuration devenv adds with `"gevent": true` (why)."""
    if not text.strip():
        text = '{\n    "version": "0.2.0",\n    "configurations": []\n}\n'
    else:
        data = jsonc.loads(text, path=path)
        if isinstance(data, dict) and "version" not in data:
            text = jsonc.set_value(text, ("version",), "0.2.0", path=path)
    return entries(text, "configurations", "name", owned, base, force=force, path=path, note=note,
                   what="configuration")


def entries(text: str, array: str, ident: str, owned: tuple[dict[str, Any], ...], base: dict[str, Any], *,
            force: bool, path: str, note: str | None = None, what: str = "entry") -> Merged:
    """Merge owned objects of a top-level list, each identified by its `ident` key (launch.json's
    configurations by "name", a .code-workspace's folders by "path"); the user's own entries stay."""
    out = Merged(text, {})
    found: list[Any] | None = None  # the list as parsed; read again only after an edit (this runs on every refresh)
    for entry in owned:
        name = entry[ident]
        if found is None:
            found = _entries_of(out.text, array, path)
        i, had = _index(found, ident, name), base.get(name, MISSING)
        cur = found[i] if i is not None else MISSING
        if cur == entry:
            out.base[name] = entry
        elif cur is not MISSING and had is not MISSING and entry == had and cur != had and not force:
            out.base[name] = had  # the user changed it and devenv's did not change: theirs, silently
        elif cur is MISSING and had is not MISSING and not force:
            out.base[name] = had
            out.kept_removed.append(f"{what} {name!r}")
        elif cur is MISSING or cur == had or force:
            if cur is not MISSING and cur != had:
                out.overridden.append(f"{what} {name!r}")
            at = i if i is not None else len(found)
            out.text = jsonc.set_value(out.text, (array, at), entry, path=path)
            found = None
            if i is None and note and entry.get("gevent") and note not in out.text:  # said once per file
                out.text = _comment_above(out.text, (array, at), note)
            out.base[name] = entry
            out.changed.append(f"{what} {name!r}")
        else:
            out.conflicts.append(f"{what} {name!r}: you changed it; devenv's would be "
                                 f"{json.dumps(entry, sort_keys=True)}")
            if had is not MISSING:
                out.base[name] = had
    for name, had in base.items():
        if name in out.base:
            continue
        if found is None:
            found = _entries_of(out.text, array, path)
        i = _index(found, ident, name)
        if i is not None and found[i] == had:
            out.text = jsonc.remove(out.text, (array, i), path=path)
            found = None
            out.changed.append(f"{what} {name!r} (removed)")
    return out


def _comment_above(text: str, key: tuple[str | int, ...], note: str) -> str:
    """A `// note` line before the element at key, at its indentation (JSONC keeps comments)."""
    node = jsonc.node_at(text, key)
    if node is None:
        return text
    start = text.rfind("\n", 0, node.offset) + 1
    indent = text[start:node.offset]
    if indent.strip():  # not alone on its line: leave the file as it is
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    return text[:start] + f"{indent}// {note}{newline}" + text[start:]
