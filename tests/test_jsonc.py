"""devenv.jsonc: reads what VS Code reads, rejects what it rejects (at the same spot), and edits one value
while every other byte of the file, comments included, stays as it was."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest

from devenv import jsonc
from devenv.errors import ConfigError
from devenv.jsonc import JsoncError

VALID_JSON = [
    "{}",
    "[]",
    "0",
    '""',
    "null",
    '{"a": [], "b": {}, "c": [{}], "d": [[]]}',
    '[-0, 1, -1, 0.5, -12.25e3, 1E10, 2e-5, 3E+2, 123456789012345678901234567890]',
    r'["\u00e9\u20ac", "\ud83d\ude00", "\"\\\/\b\f\n\r\t", "\u0000", "plain é € 😀"]',
    '{"nested": {"deeper": {"deepest": [1, [2, [3, {"x": null}]]]}}}',
    '[true, false, null]',
    ' \t\r\n{ "spaced" :\n\t[ 1 ,\r\n 2 ] } \n',
    '{"python.testing.unittestArgs": ["-v"], "": "empty key"}',
    '"a string at the top"',
    "-3.5e-7",
]

# JSONC and the same text with its comments and trailing commas taken out by hand
JSONC_CASES = [
    ('// settings\n{\n    "a": 1, // one\n    /* block */ "b": [1, 2,],\n}\n', '{"a": 1, "b": [1, 2]}'),
    ('{"url": "http://x//y", "glob": "/* not a comment */"}', '{"url": "http://x//y", "glob": "/* not a comment */"}'),
    ("/* a\n multi-line\n comment */ [1 /* in */, 2 // end\n]", "[1, 2]"),
    ('\ufeff{"bom": true}', '{"bom": true}'),
    ('{"a": {"b": [],},}', '{"a": {"b": []}}'),
    ('[1,/**/2]//', "[1, 2]"),
    ("{\r\n\t\"crlf\": 1 // c\r\n}\r\n", '{"crlf": 1}'),
]


@pytest.mark.parametrize("text", VALID_JSON)
def test_loads_agrees_with_json(text: str) -> None:
    assert jsonc.loads(text) == json.loads(text)


@pytest.mark.parametrize(("text", "plain"), JSONC_CASES)
def test_loads_jsonc_agrees_with_the_text_without_comments(text: str, plain: str) -> None:
    assert jsonc.loads(text) == json.loads(plain)


@pytest.mark.parametrize("text", ["", "   \n\t", "// only a comment", "/* a */ // b\n", "\ufeff"])
def test_a_text_with_no_value_is_none(text: str) -> None:
    assert jsonc.loads(text) is None


def test_numbers_keep_their_type() -> None:
    assert jsonc.loads("[1, 1.0, 1e2, -0]") == [1, 1.0, 100.0, 0]
    assert [type(v) for v in jsonc.loads("[1, 1.0, 1e2]")] == [int, float, float]


# (text, line, column, reason start): positions are the offending token's, counted by hand
REJECTED = [
    ('{\n    "a": 1\n    "b": 2\n}', 3, 5, "expected ',' or '}', found a string"),
    ('[\n    1,\n    2\n    3\n]', 4, 5, "expected ',' or ']'"),
    ('{\n    "a" 1\n}', 2, 9, "expected ':' after the property name"),
    ("{'a': 1}", 1, 2, "strings and property names need double quotes"),
    ('{\n  "ok": 1,\n  bad: 2\n}', 3, 3, "expected a property name in double quotes, found 'bad'"),
    ('{"a": NaN}', 1, 7, "expected a value, found 'NaN'"),
    ('{"a": -Infinity}', 1, 7, "invalid number '-Infinity'"),
    ('{"a": Infinity}', 1, 7, "expected a value, found 'Infinity'"),
    ("[0x1F]", 1, 3, "invalid number '0x1F'"),
    ("[+1]", 1, 2, "invalid number '+1'"),
    ("[01]", 1, 3, "invalid number '01'"),
    ("[1.]", 1, 2, "invalid number '1.'"),
    ("[.5]", 1, 2, "unexpected character '.'"),
    ("[1.5.3]", 1, 5, "invalid number '1.5.3'"),
    ("[1e]", 1, 2, "invalid number '1e'"),
    ("[-]", 1, 2, "invalid number '-'"),
    ('{\n    "a": "abc\n}', 2, 10, "unterminated string"),
    ('"abc', 1, 1, "unterminated string"),
    ('{\n  "a": 1 /* x\n}', 2, 10, "unterminated comment"),
    ('{"a": "x\ty"}', 1, 7, "control character U+0009 in a string"),
    ('["ok",\n "a\\xb"]', 2, 2, "invalid escape \\x in a string"),
    ('["\\u12G4"]', 1, 2, "invalid escape \\u12G4"),
    ("{}\n{}", 2, 1, "expected the end of the file after the top-level value"),
    ('{"a": 1} // c\n,', 2, 1, "expected the end of the file"),
    ('{"a": 1', 1, 8, "expected ',' or '}', found the end of the file"),
    ('{\n  "a": 1\n', 3, 1, "expected ',' or '}', found the end of the file"),
    ('{"a":}', 1, 6, "expected a value, found '}'"),
    ("[1,,2]", 1, 4, "expected a value, found ','"),
    ("[,]", 1, 2, "expected a value"),
    ("{,}", 1, 2, "expected a property name"),
    ('{"a": 1,,}', 1, 9, "expected a property name"),
    ("[1] x", 1, 5, "expected the end of the file"),
    ("/ 1", 1, 1, "unexpected character '/'"),
    ("\ufeff{,}", 1, 2, "expected a property name"),  # the BOM is not a column
    ('{\n\t"a" 1\n}', 2, 6, "expected ':'"),  # a tab is one column
    ('{\r\n    "a": 1\r\n    "b": 2\r\n}', 3, 5, "expected ','"),
    ('{\r "a" 1}', 2, 6, "expected ':'"),  # a lone \r ends a line, as in VS Code
    ('["\\x", 1 1]', 1, 2, "invalid escape"),  # the first error wins, the scanner's included
    ('[1 1, "\\x"]', 1, 4, "expected ','"),
]


@pytest.mark.parametrize(("text", "line", "column", "reason"), REJECTED)
def test_rejected_at_the_offending_token(text: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(JsoncError) as err:
        jsonc.loads(text)
    assert (err.value.line, err.value.column) == (line, column)
    assert err.value.reason.startswith(reason)


def test_the_error_names_the_file_and_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        jsonc.loads('{\n    "a": 1\n    "b": 2\n}', path=".vscode/settings.json")
    assert isinstance(err.value, JsoncError)
    assert err.value.message == ".vscode/settings.json: line 3, column 5: expected ',' or '}', found a string"
    assert err.value.exit_code == 3 and err.value.hint
    with pytest.raises(JsoncError) as bare:
        jsonc.loads("[1 2]")
    assert bare.value.message == "line 1, column 4: expected ',' or ']', found '2'"


def test_parse_tree_records_offsets() -> None:
    text = '{\n    "a": [1, "x"], // c\n    "b": null\n}'
    root = jsonc.parse_tree(text)
    assert root is not None and (root.kind, root.offset, root.length) == ("object", 0, len(text))
    prop = root.children[0]
    assert (prop.kind, prop.key, prop.key_offset) == ("property", "a", text.index('"a"'))
    array = prop.children[0]
    assert text[array.offset:array.end] == '[1, "x"]'
    assert [(c.kind, c.value) for c in array.children] == [("number", 1), ("string", "x")]
    assert jsonc.node_at(text, ["a", 1]) == array.children[1]
    assert jsonc.node_at(text, ["b"]).kind == "null"  # type: ignore[union-attr]
    assert jsonc.node_at(text, ["missing"]) is None and jsonc.node_at(text, ["a", 5]) is None
    assert jsonc.node_at(text, ["a", "x"]) is None and jsonc.node_at("", ["a"]) is None


def test_a_file_nested_too_deeply_is_an_error_not_a_crash() -> None:
    with pytest.raises(JsoncError) as err:
        jsonc.loads("[" * 100_000 + "]" * 100_000)
    assert err.value.reason == "nested too deeply"


def test_parse_tree_of_no_value() -> None:
    assert jsonc.parse_tree("// c\n") is None
    assert jsonc.node_at("[1]", []) == jsonc.parse_tree("[1]")


# ---------------------------------------------------------------- set_value


def _set(text: str, keys: list, value: Any) -> str:
    """set_value, checked: the result parses and is the old value with that one change."""
    result = jsonc.set_value(text, keys, value)
    expected = copy.deepcopy(jsonc.loads(text)) if jsonc.loads(text) is not None else {}
    _python_set(expected, keys, value)
    assert jsonc.loads(result) == expected
    return result


def _python_set(target: Any, keys: list, value: Any) -> None:
    """The same change on the Python value: missing objects (or a new array, for an int key) made on the way."""
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        new = value if last else {} if isinstance(keys[i + 1], str) else []
        if isinstance(target, list) and key == len(target):
            target.append(new)
        elif last or (isinstance(target, dict) and key not in target):
            target[key] = new
        target = target[key]


def _remove(text: str, keys: list) -> str:
    result = jsonc.remove(text, keys)
    expected = copy.deepcopy(jsonc.loads(text))
    target = expected
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]
    assert jsonc.loads(result) == expected
    return result


def test_replacing_a_value_keeps_the_comments_around_it() -> None:
    text = '// top\n{\n    /* before a */ "a": 1, // after a\n    "b": 2 /* after b */\n}\n'
    assert _set(text, ["a"], "new") == text.replace('"a": 1', '"a": "new"')
    assert _set(text, ["b"], [1]) == text.replace('"b": 2', '"b": [\n        1\n    ]')


def test_replacing_changes_only_the_value_span() -> None:
    text = '{\n  "keep": {"x": 1},   // c1\n  "edit": /* c2 */ {"old": true} /* c3 */,\n  "z": 0\n}'
    node = jsonc.node_at(text, ["edit"])
    assert node is not None
    result = _set(text, ["edit"], {"new": [1, 2]})
    assert result.startswith(text[:node.offset]) and result.endswith(text[node.end:])
    assert result[node.offset:].startswith('{\n    "new": [\n      1,\n      2\n    ]\n  }')


def test_setting_an_equal_value_changes_nothing() -> None:
    text = '{"a": {"y": 2,   "x": [1,2]}}'
    assert jsonc.set_value(text, ["a"], {"x": [1, 2], "y": 2}) == text
    assert jsonc.set_value('{"a": 1}', ["a"], 1.0) == '{"a": 1.0}'  # 1.0 is not the same JSON as 1
    assert jsonc.set_value('{"a": 1}', ["a"], True) == '{"a": true}'


def test_insert_into_empty_objects() -> None:
    assert _set("{}", ["k"], 1) == '{\n    "k": 1\n}'
    assert _set("{ }", ["k"], 1) == '{\n    "k": 1\n}'
    assert _set("{\n}\n", ["k"], 1) == '{\n    "k": 1\n}\n'
    assert _set("{ // c\n}", ["k"], 1) == '{ // c\n    "k": 1\n}'
    assert _set("{ /* c */ }", ["k"], 1) == '{ /* c */\n    "k": 1\n}'
    assert _set('{\n    // "editor.fontSize": 12\n}', ["k"], 1) == '{\n    "k": 1\n    // "editor.fontSize": 12\n}'
    assert _set('{\n    "a": {}\n}', ["a", "k"], 1) == '{\n    "a": {\n        "k": 1\n    }\n}'
    assert _set('{"a": {}}', ["a", "k"], 1) == '{"a": {"k": 1}}'  # a one-line parent stays one line


def test_insert_after_the_last_property() -> None:
    text = '{\n    "a": 1 // about a\n}'
    assert _set(text, ["k"], "v") == '{\n    "a": 1, // about a\n    "k": "v"\n}'
    # a comment on a line of its own before the closing brace stays right before it
    text = '{\n    "a": 1,\n    // "b": 2,\n}'
    assert _set(text, ["k"], True) == '{\n    "a": 1,\n    "k": true,\n    // "b": 2,\n}'
    text = '{\n    "a": 1 /* x */ , /* y */\n}'
    assert _set(text, ["k"], None) == '{\n    "a": 1 /* x */ , /* y */\n    "k": null,\n}'
    assert _set('{\n    "a": 1}', ["k"], 2) == '{\n    "a": 1,\n    "k": 2\n}'
    assert _set('{"a": 1}', ["k"], [1, {"b": 2}]) == '{"a": 1, "k": [1, {"b": 2}]}'
    assert _set('{"a": 1,}', ["k"], 2) == '{"a": 1, "k": 2,}'


def test_insert_keeps_a_trailing_comma() -> None:
    text = '{\n    "a": 1,\n}'
    assert _set(text, ["k"], 2) == '{\n    "a": 1,\n    "k": 2,\n}'


def test_insert_uses_the_files_indent_and_line_ending() -> None:
    tabs = '{\n\t"a": {\n\t\t"b": 1\n\t}\n}'
    assert _set(tabs, ["a", "c"], {"d": [1]}) == (
        '{\n\t"a": {\n\t\t"b": 1,\n\t\t"c": {\n\t\t\t"d": [\n\t\t\t\t1\n\t\t\t]\n\t\t}\n\t}\n}'
    )
    crlf = '{\r\n  "a": 1\r\n}\r\n'
    assert _set(crlf, ["k"], {"x": 1}) == '{\r\n  "a": 1,\r\n  "k": {\r\n    "x": 1\r\n  }\r\n}\r\n'
    two = '{\n  "a": 1\n}'
    assert _set(two, ["b", "c"], [True]) == '{\n  "a": 1,\n  "b": {\n    "c": [\n      true\n    ]\n  }\n}'
    # the indent unit comes from a value's line, not a comment's
    assert _set('/*\n * doc\n */\n{\n  "a": 1\n}', ["k"], {"x": 1}).endswith('  "k": {\n    "x": 1\n  }\n}')


def test_missing_objects_are_created() -> None:
    text = '{\n    "a": 1\n}'
    result = _set(text, ["x", "y", "z"], 1)
    assert result == '{\n    "a": 1,\n    "x": {\n        "y": {\n            "z": 1\n        }\n    }\n}'
    assert _set(text, ["list", 0, "name"], "n") == (
        '{\n    "a": 1,\n    "list": [\n        {\n            "name": "n"\n        }\n    ]\n}'
    )


def test_a_dotted_key_is_one_key() -> None:
    text = '{\n    "python.testing": {"x": 1}\n}'
    result = _set(text, ["python.testing.unittestArgs"], ["-v", "-s"])
    assert jsonc.loads(result)["python.testing.unittestArgs"] == ["-v", "-s"]
    assert jsonc.loads(result)["python.testing"] == {"x": 1}


def test_empty_or_comment_only_files_become_an_object() -> None:
    assert _set("", ["k"], 1) == '{\n    "k": 1\n}\n'
    assert _set("   \n", ["k"], 1) == '   \n{\n    "k": 1\n}\n'
    assert _set("// my settings", ["k"], 1) == '// my settings\n{\n    "k": 1\n}\n'
    assert _set("// a\r\n/* b */\r\n", ["k"], 1) == '// a\r\n/* b */\r\n{\r\n    "k": 1\r\n}\r\n'
    assert jsonc.set_value("", [], [1]) == "[\n    1\n]\n"
    assert jsonc.set_value("", [0], 1) == "[\n    1\n]\n"


def test_a_bom_stays() -> None:
    assert _set('\ufeff{"a": 1}', ["a"], 2) == '\ufeff{"a": 2}'
    assert _set("\ufeff", ["a"], 2) == '\ufeff{\n    "a": 2\n}\n'


def test_the_top_level_can_be_replaced() -> None:
    assert jsonc.set_value("// c\n[1] // d\n", [], {"a": 1}) == '// c\n{\n    "a": 1\n} // d\n'


def test_arrays_append_and_replace() -> None:
    text = '{\n    "args": [\n        "-v", // verbose\n        "-x"\n    ]\n}'
    assert _set(text, ["args", 2], "-s") == (
        '{\n    "args": [\n        "-v", // verbose\n        "-x",\n        "-s"\n    ]\n}'
    )
    assert _set(text, ["args", 0], "-q") == text.replace('"-v"', '"-q"')
    assert _set('{"args": [1, 2]}', ["args", 2], 3) == '{"args": [1, 2, 3]}'
    assert _set('{"args": [1, 2]}', ["args", 1], {"a": [1]}) == '{"args": [1, {"a": [1]}]}'
    assert _set('{\n    "args": []\n}', ["args", 0], {"name": "x"}) == (
        '{\n    "args": [\n        {\n            "name": "x"\n        }\n    ]\n}'
    )
    assert _set("[1, 2,]", [2], 3) == "[1, 2, 3,]"
    assert _set("[1, 2 /* two */]", [2], 3) == "[1, 2, /* two */ 3]"
    with pytest.raises(ValueError):
        jsonc.set_value("[1, 2]", [3], 3)
    with pytest.raises(ValueError):
        jsonc.set_value("{}", ["new", 1], 3)


def test_a_top_level_that_is_not_an_object() -> None:
    with pytest.raises(JsoncError) as err:
        jsonc.set_value("// c\n[1, 2]", ["a"], 1, path="settings.json")
    assert err.value.reason == "the file's top level is not an object"
    assert (err.value.line, err.value.column) == (2, 1)
    assert err.value.message.startswith("settings.json: line 2, column 1: ")
    with pytest.raises(JsoncError) as err:
        jsonc.set_value('"text"', [0], 1)
    assert err.value.reason == "the file's top level is not an array"


def test_a_value_of_the_wrong_type_on_the_way() -> None:
    text = '{\n    "version": "0.2.0",\n    "configurations": 5\n}'
    with pytest.raises(JsoncError) as err:
        jsonc.set_value(text, ["configurations", 0], {"name": "x"}, path="launch.json")
    assert err.value.reason == "configurations is a number, not an array"
    assert (err.value.line, err.value.column) == (3, 23)
    with pytest.raises(JsoncError) as err:
        jsonc.set_value('{"a": {"b.c": [null]}}', ["a", "b.c", 0, "d"], 1)
    assert err.value.reason == 'a["b.c"][0] is null, not an object'


def test_bad_keys_are_programming_errors() -> None:
    with pytest.raises(TypeError):
        jsonc.set_value("{}", "a", 1)
    for bad in ([-1], [True], [1.5]):
        with pytest.raises(ValueError):
            jsonc.set_value("[]", bad, 1)
    with pytest.raises(ValueError):
        jsonc.set_value("{}", ["a"], float("nan"))
    with pytest.raises(ValueError):
        jsonc.remove("{}", [])


def test_edits_of_an_invalid_file_raise() -> None:
    with pytest.raises(JsoncError):
        jsonc.set_value('{"a": 1 "b": 2}', ["a"], 2)
    with pytest.raises(JsoncError):
        jsonc.remove('{"a": 1 "b": 2}', ["a"])


def test_duplicate_keys_last_wins_and_is_edited() -> None:
    text = '{\n    "a": 1,\n    "b": 0,\n    "a": 2 // the one VS Code reads\n}'
    assert jsonc.loads(text) == {"a": 2, "b": 0}
    assert jsonc.node_at(text, ["a"]).value == 2  # type: ignore[union-attr]
    assert _set(text, ["a"], 3) == text.replace('"a": 2', '"a": 3')
    assert jsonc.remove(text, ["a"]) == '{\n    "b": 0 // the one VS Code reads\n}'


LAUNCH = """\
{
    // Use IntelliSense to learn about possible attributes.
    "version": "0.2.0",
    "configurations": [
        {
            "name": "mine", // the user's own
            "type": "debugpy",
            "request": "launch"
        }
    ]
}
"""


def test_a_launch_configuration_is_appended_and_changed_in_place() -> None:
    ours = {"name": "devenv: tests", "type": "debugpy", "request": "launch", "module": "pytest"}
    added = _set(LAUNCH, ["configurations", 1], ours)
    assert added == LAUNCH.replace(
        '        }\n    ]',
        '        },\n        {\n            "name": "devenv: tests",\n            "type": "debugpy",\n'
        '            "request": "launch",\n            "module": "pytest"\n        }\n    ]',
    )
    changed = _set(added, ["configurations", 1, "module"], "unittest")
    assert changed == added.replace('"module": "pytest"', '"module": "unittest"')
    assert _remove(changed, ["configurations", 1]) == LAUNCH


# ---------------------------------------------------------------- remove

OBJECT = '{\n    "a": 1,\n    "b": 2,\n    "c": 3\n}'


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (OBJECT, "a", '{\n    "b": 2,\n    "c": 3\n}'),
        (OBJECT, "b", '{\n    "a": 1,\n    "c": 3\n}'),
        (OBJECT, "c", '{\n    "a": 1,\n    "b": 2\n}'),
        ('{\n    "a": 1,\n    "b": 2,\n}', "b", '{\n    "a": 1,\n}'),
        ('{\n    "a": 1,\n    "b": 2,\n}', "a", '{\n    "b": 2,\n}'),
        ('{\n    "a": 1\n}', "a", "{\n}"),
        ('{"a": 1}', "a", "{}"),
        ('{"a": 1, "b": 2, "c": 3}', "a", '{"b": 2, "c": 3}'),
        ('{"a": 1, "b": 2, "c": 3}', "b", '{"a": 1, "c": 3}'),
        ('{"a": 1, "b": 2, "c": 3}', "c", '{"a": 1, "b": 2}'),
        ('{\n    "a": 1, // about a\n    "b": 2\n}', "a", '{\n    // about a\n    "b": 2\n}'),
        ('{\n    "a": 1, // about a\n    "b": 2 // about b\n}', "b", '{\n    "a": 1 // about a\n    // about b\n}'),
        ('{\n    // above b\n    "b": {\n        "x": 1\n    },\n    "c": 3\n}', "b",
         '{\n    // above b\n    "c": 3\n}'),
        ('{\n    "a": 1 /* x */,\n    "b": 2\n}', "b", '{\n    "a": 1 /* x */\n}'),
        ('{\r\n    "a": 1,\r\n    "b": 2\r\n}\r\n', "a", '{\r\n    "b": 2\r\n}\r\n'),
        ('{\n\t"a": 1,\n\t"b": 2\n}', "b", '{\n\t"a": 1\n}'),
    ],
)
def test_remove_a_property(text: str, key: str, expected: str) -> None:
    assert _remove(text, [key]) == expected


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("[1, 2, 3]", 0, "[2, 3]"),
        ("[1, 2, 3]", 1, "[1, 3]"),
        ("[1, 2, 3]", 2, "[1, 2]"),
        ("[1, 2, 3,]", 2, "[1, 2,]"),
        ("[1]", 0, "[]"),
        ("[\n    1,\n    2\n]", 1, "[\n    1\n]"),
        ("[\n    1, // one\n    2, // two\n    3\n]", 1, "[\n    1, // one\n    // two\n    3\n]"),
        ("[\n    /* first */ 1,\n    2\n]", 0, "[\n    /* first */\n    2\n]"),
        ("[\n    1 ]", 0, "[\n]"),
        ("[ 1, 2 ]", 1, "[ 1 ]"),
    ],
)
def test_remove_an_array_element(text: str, index: int, expected: str) -> None:
    assert _remove(text, [index]) == expected


def test_removing_what_is_not_there_changes_nothing() -> None:
    text = '{"a": {"b": [1]}, "n": 5} // c'
    for keys in (["x"], ["a", "x"], ["a", "b", 3], ["n", "x"], ["a", "b", "x"], ["a", 0]):
        assert jsonc.remove(text, keys) == text
    assert jsonc.remove("", ["a"]) == "" and jsonc.remove("[1]", ["a"]) == "[1]"


def test_remove_nested() -> None:
    text = '{\n    "a": {\n        "x": 1, // x\n        "y": 2\n    }\n}'
    assert _remove(text, ["a", "y"]) == '{\n    "a": {\n        "x": 1 // x\n    }\n}'


# ---------------------------------------------------------------- randomised: values, comments, edits

WORDS = ["a", "b", "key", "python.testing.args", "é", "😀", 'q"uote', "back\\slash", "new\nline", "//x", "/*y*/", ""]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.35:
        keys = [rng.choice(WORDS) + str(rng.randrange(3)) for _ in range(rng.randrange(5))]
        return {key: _random_value(rng, depth + 1) for key in keys}
    if depth < 4 and roll < 0.55:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return rng.choice([
        rng.randrange(-10**6, 10**6),
        rng.uniform(-1e6, 1e6) * 10 ** rng.randrange(-30, 30),
        rng.choice(WORDS) + "\t\u2028\x7f" * rng.randrange(2),
        True, False, None, 0, -0.0,
    ])


class _Writer:
    """JSON text of a value with random blanks and uniquely numbered comments between its tokens."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.comments, self.eol = rng, [], rng.choice(["\n", "\r\n"])

    def gap(self) -> str:
        out = ""
        for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
            kind = self.rng.randrange(4)
            if kind == 0:
                out += self.rng.choice([" ", "\t", self.eol, self.eol + "    "])
            else:
                comment = f"/* <c{len(self.comments)}> */" if kind < 3 else f"// <c{len(self.comments)}>"
                self.comments.append(comment)
                out += comment + (self.eol if comment.startswith("//") else "")
        return out

    def write(self, value: Any) -> str:
        g = self.gap
        if isinstance(value, (dict, list)):
            items = [
                f"{g()}{json.dumps(k, ensure_ascii=self.rng.random() < 0.5)}{g()}:{g()}{self.write(v)}{g()}"
                for k, v in value.items()
            ] if isinstance(value, dict) else [f"{g()}{self.write(v)}{g()}" for v in value]
            trailing = "," + g() if items and self.rng.random() < 0.3 else ""
            brackets = "{}" if isinstance(value, dict) else "[]"
            return brackets[0] + ",".join(items) + trailing + g() + brackets[1]
        return json.dumps(value, ensure_ascii=self.rng.random() < 0.5)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a member, and every path to a container."""
    out = [prefix]
    members = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in members:
        out += _paths(child, (*prefix, key))
    return out


def _member_span(text: str, keys: list) -> tuple[int, int]:
    """Where the member at keys is: a property from its key to the end of its value."""
    node = jsonc.parse_tree(text)
    for key in keys:
        assert node is not None
        members = [c for c in node.children if c.key == key] if isinstance(key, str) else [node.children[key]]
        node = members[-1]
        span = (node.offset, node.end)
        if node.kind == "property":
            node = node.children[0]
    return span


@pytest.mark.parametrize("seed", range(300))
def test_random_documents_and_edits(seed: int) -> None:
    rng = random.Random(seed)
    value = _random_value(rng) if seed % 5 else {"root": _random_value(rng)}
    writer = _Writer(rng)
    text = writer.gap() + writer.write(value) + writer.gap()
    assert jsonc.loads(text) == value
    for _ in range(3):
        text = _random_edit(rng, text, writer.comments)


def _random_edit(rng: random.Random, text: str, comments: list[str]) -> str:
    """One random remove, insert (maybe with new objects on the way) or replace, checked against the same
    change on the Python value; every comment outside the span that went away must still be there."""
    value = jsonc.loads(text)
    path = list(rng.choice(_paths(value)))
    target = value
    for key in path:
        target = target[key]
    expected = copy.deepcopy(value)
    new = _random_value(rng, 2)
    gone = (0, 0)
    if path and rng.random() < 0.4:
        gone = _member_span(text, path)
        result = jsonc.remove(text, path)
        parent = expected
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    elif isinstance(target, (dict, list)) and rng.random() < 0.7:
        added: str | int = len(target) if isinstance(target, list) else f"new{rng.randrange(10**9)}"
        keys = [*path, added] + ([] if rng.random() < 0.5 else ["x", "y"])
        result = jsonc.set_value(text, keys, new)
        _python_set(expected, keys, new)
    else:
        node = jsonc.node_at(text, path)
        assert node is not None
        gone = (node.offset, node.end)
        result = jsonc.set_value(text, path, new)
        assert result.startswith(text[:node.offset]) and result.endswith(text[node.end:])
        if path:
            _python_set(expected, path, new)
        else:
            expected = new
    assert jsonc.loads(result) == expected
    for comment in comments:
        if comment in text and not gone[0] <= text.index(comment) < gone[1]:
            assert comment in result, (comment, text, result)
    return result


def test_comment_markers_are_unique() -> None:
    writer = _Writer(random.Random(1))
    text = writer.write(_random_value(random.Random(2))) + "".join(writer.gap() for _ in range(50))
    assert len(set(re.findall(r"<c\d+>", text))) == len(writer.comments)
