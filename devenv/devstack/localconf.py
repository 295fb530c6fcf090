"""Parse devstack's local.conf without running it: a pure function of the text.

local.conf is a file of meta-sections `[[group|file]]` (devstack's inc/meta-config reads them with awk).
stack.sh extracts `[[local|localrc]]` and *sources* it as bash; devenv reads the parts it needs instead:
`NAME=value` (plain, "double" or 'single' quoted, `export` or not, `NAME+=more`, `NAME[key]=value`),
`$NAME`/`${NAME}`/`${NAME:-default}`/`${NAME-default}` references, and the devstack functions
`enable_service`, `disable_service`, `disable_all_services`, `enable_plugin`. Everything else — command
substitution, `if`/`for` blocks, functions, other commands — is listed as unreadable with the reason, and
any name such a line might set is marked unknown rather than guessed.

What references see is what devstack's stackrc has set *before* it sources localrc (read from
openstack/devstack's stackrc): TARGET_BRANCH=master, DEST=/opt/stack, DATA_DIR=${DEST}/data — evaluated
then, so setting only DEST in local.conf leaves DATA_DIR at /opt/stack/data —, STACK_USER, and TOP_DIR (the
devstack folder). Defaults applied *after* localrc (DEVSTACK_VENV=${DEVSTACK_VENV:-$DATA_DIR/venv},
GLOBAL_VENV, RECLONE, REQUIREMENTS_DIR) are in `settings()`.

A malformed file (a broken meta-section header, an unterminated quote, assignments outside any
meta-section, which devstack would silently ignore) is one ConfigError naming the line.
"""

from __future__ import annotations

import posixpath
import re

from devenv.devstack.model import LocalConf, Plugin, Unreadable, trueorfalse
from devenv.errors import ConfigError

DEST = "/opt/stack"
# stackrc, before it sources localrc
BEFORE_LOCALRC = {"TARGET_BRANCH": "master", "TRAILING_TARGET_BRANCH": "master",
                  "BRANCHLESS_TARGET_BRANCH": "master", "DEST": DEST, "DATA_DIR": f"{DEST}/data",
                  "SERVICE_DIR": f"{DEST}/status", "REGION_NAME": "RegionOne"}
_HEADER = re.compile(r"^\[\[([^|\]]+)\|([^\]]*)\]\]\s*$")
_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)(\[[^\]=]*\])?(\+?)=(.*)$", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SETS = re.compile(r"(?:^|[\s;&|(])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
_OPEN = {"if": "fi", "for": "done", "while": "done", "until": "done", "case": "esac"}
_CLOSE = {"fi", "done", "esac", "}"}


class _Unread(Exception):
    """A construct devenv does not evaluate (the line goes to `unreadable`)."""


class _Open(Exception):
    """A quote or ${ that the line does not close (it may continue on the next line)."""


def parse(text: str, path: str = "local.conf", *, env: dict[str, str] | None = None,
          bare: bool = False) -> LocalConf:
    """local.conf's text -> LocalConf. env: what references may see besides BEFORE_LOCALRC.
    bare: the text is an old-style `localrc` file, all of it the [[local|localrc]] settings (stackrc sources
    `$RC_DIR/localrc` if it exists, and local.conf's section only when it does not)."""
    state = _State(path, {**BEFORE_LOCALRC, "TOP_DIR": posixpath.dirname(path) or ".", **(env or {})})
    group: tuple[str, str] | None = ("local", "localrc") if bare else None
    if bare:
        state.sections.append(("local", "localrc"))
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number, raw = i + 1, lines[i]
        i += 1
        if raw.startswith("[["):
            m = _HEADER.match(raw)
            if not m:
                raise ConfigError(f"{path} line {number}: bad meta-section header {raw.strip()!r}",
                                  "write it as [[group|file]], e.g. [[local|localrc]]")
            group = (m.group(1), m.group(2))
            state.sections.append(group)
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if group is None:
            raise ConfigError(f"{path} line {number}: {stripped!r} is outside any meta-section, and devstack "
                              "ignores it", "put a [[local|localrc]] line above the settings")
        if group != ("local", "localrc"):
            continue  # INI for a service's config file: not ours to read
        while stripped.endswith("\\") and i < len(lines):  # a continued line
            stripped = stripped[:-1] + lines[i].strip()
            i += 1
        while True:
            try:
                state.line(number, stripped)
                break
            except _Open as exc:
                if i >= len(lines) or lines[i].startswith("[["):
                    raise ConfigError(f"{path} line {number}: {exc}", "close the quote on that line") from None
                stripped += "\n" + lines[i]  # a quoted value may span lines, as in bash
                i += 1
    return state.result()


def settings(conf: LocalConf, *, stack_user: str = "stack") -> dict[str, object]:
    """devstack's settings as stack.sh will see them: localrc's values, then stackrc's later defaults."""
    v = conf.values
    dest = v.get("DEST", DEST)
    data_dir = v.get("DATA_DIR", BEFORE_LOCALRC["DATA_DIR"])
    libs = v.get("LIBS_FROM_GIT", "")
    return {
        "dest": dest, "data_dir": data_dir,
        "venv": v.get("DEVSTACK_VENV") or posixpath.join(data_dir, "venv"),
        "global_venv": trueorfalse(v.get("GLOBAL_VENV"), True),
        "stack_user": v.get("STACK_USER", stack_user),
        "reclone": trueorfalse(v.get("RECLONE"), False),
        "reclone_unknown": "RECLONE" in conf.unknown,
        "libs_from_git": tuple(n for n in re.split(r"[,\s]+", libs) if n),
        "requirements_dir": v.get("REQUIREMENTS_DIR") or posixpath.join(dest, "requirements"),
    }


class _State:
    def __init__(self, path: str, env: dict[str, str]) -> None:
        self.path = path
        self.env = env
        self.values: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.unknown: set[str] = set()
        self.enabled: list[str] = []
        self.disabled: list[str] = []
        self.replaced = False
        self.plugins: list[Plugin] = []
        self.sections: list[tuple[str, str]] = []
        self.unreadable: list[Unreadable] = []
        self.depth = 0  # inside if/for/while/case or a function body

    def result(self) -> LocalConf:
        return LocalConf(self.path, dict(self.values), dict(self.lines), frozenset(self.unknown),
                         tuple(self.enabled), tuple(self.disabled), self.replaced, tuple(self.plugins),
                         tuple(self.sections), tuple(self.unreadable))

    def line(self, number: int, text: str) -> None:
        first = text.split(None, 1)[0].rstrip(";")
        if self.depth or first in _OPEN or first in _CLOSE or text.endswith("{") or "()" in first:
            self._block(number, text, first)
            return
        try:
            self._statement(number, text)
        except _Unread as exc:
            self._unreadable(number, text, str(exc))

    def _block(self, number: int, text: str, first: str) -> None:
        words = re.findall(r"[^\s;]+", text)
        self.depth += sum(w in _OPEN for w in words) + text.count("{")
        self.depth -= sum(w in _CLOSE - {"}"} for w in words) + text.count("}")
        self.depth = max(self.depth, 0)
        why = "inside a shell block (if/for/while/case/function): devenv does not evaluate it"
        self._unreadable(number, text, why)

    def _unreadable(self, number: int, text: str, why: str) -> None:
        self.unreadable.append(Unreadable(number, text, why))
        for name in _SETS.findall(" " + text):
            self.unknown.add(name)
            self.lines[name] = number

    def _statement(self, number: int, text: str) -> None:
        m = _ASSIGN.match(text)
        if m:
            name, key, append, rest = m.groups()
            if rest.startswith("("):
                raise _Unread("a bash array: devenv does not read arrays")
            words = _Words(rest, self).all()
            if len(words) > 1:
                raise _Unread("an assignment followed by a command: devenv does not run commands")
            value = words[0] if words else ""
            if key is not None:
                name = f"{name}[{key[1:-1].strip(chr(34) + chr(39))}]"
            if append:
                value = self.values.get(name, self.env.get(name, "")) + value
            self.values[name] = self.env[name] = value
            self.lines[name] = number
            self.unknown.discard(name)
            if name == "ENABLED_SERVICES":
                self.replaced = True
            return
        words = _Words(text, self).all()
        command, args = words[0], words[1:]
        if command == "enable_service":
            self.enabled += [s for a in args for s in a.split(",") if s]
        elif command == "disable_service":
            self.disabled += [s for a in args for s in a.split(",") if s]
        elif command == "disable_all_services":
            self.replaced = True
            self.enabled.clear()
        elif command == "enable_plugin":
            if len(args) < 2:
                raise ConfigError(f"{self.path} line {number}: enable_plugin needs a name and a URL",
                                  "write it as: enable_plugin NAME URL [BRANCH]")
            self.plugins.append(Plugin(args[0], args[1], args[2] if len(args) > 2 else None))
        else:
            raise _Unread(f"the command {command!r}: devenv does not run commands")


class _Words:
    """Bash words of one line: quotes and $-references, never a command substitution."""

    def __init__(self, text: str, state: _State) -> None:
        self.s, self.i, self.state = text, 0, state

    def all(self) -> list[str]:
        words: list[str] = []
        while True:
            while self.i < len(self.s) and self.s[self.i] in " \t":
                self.i += 1
            if self.i >= len(self.s) or self.s[self.i] == "#":
                return words
            if self.s[self.i] in ";&|<>":
                raise _Unread("a command list or redirection: devenv does not run commands")
            words.append(self.word())

    def word(self) -> str:
        out: list[str] = []
        while self.i < len(self.s) and self.s[self.i] not in " \t;&|<>":
            c = self.s[self.i]
            self.i += 1
            if c == "'":
                end = self.s.find("'", self.i)
                if end < 0:
                    raise _Open("unterminated ' quote")
                out.append(self.s[self.i:end])
                self.i = end + 1
            elif c == '"':
                out.append(self.double())
            elif c == "\\":
                out.append(self.s[self.i:self.i + 1])
                self.i += 1
            elif c == "$":
                out.append(self.dollar())
            elif c == "`":
                raise _Unread("command substitution (`...`): devenv never runs it")
            else:
                out.append(c)
        return "".join(out)

    def double(self) -> str:
        out: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise _Open('unterminated " quote')
            c = self.s[self.i]
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\\" and self.i < len(self.s) and self.s[self.i] in '"\\$`\n':
                out.append(self.s[self.i])
                self.i += 1
            elif c == "$":
                out.append(self.dollar())
            elif c == "`":
                raise _Unread("command substitution (`...`): devenv never runs it")
            else:
                out.append(c)

    def dollar(self) -> str:
        rest = self.s[self.i:]
        if rest.startswith("("):
            raise _Unread("command substitution $(...): devenv never runs it")
        if rest.startswith("{"):
            end = _closing(self.s, self.i)
            if end < 0:
                raise _Open("unterminated ${")
            inner = self.s[self.i + 1:end]
            self.i = end + 1
            return self.braced(inner)
        m = _NAME.match(rest)
        if not m:
            return "$"
        self.i += m.end()
        return self.lookup(m.group(0))

    def braced(self, inner: str) -> str:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])(.*))?", inner, re.S)
        if not m:
            raise _Unread(f"the expansion ${{{inner}}}: devenv reads only $NAME, ${{NAME}} and ${{NAME:-default}}")
        name, op, default = m.groups()
        if op is None:
            return self.lookup(name)
        if name in self.state.unknown:
            raise _Unread(f"${{{name}}} is set by a line devenv cannot read")
        value = self.state.env.get(name)
        if value is None or (op.startswith(":") and value == ""):
            return "".join(_Words(default, self.state).word_parts())
        return value

    def word_parts(self) -> list[str]:
        parts = []
        while self.i < len(self.s):
            before = self.i
            parts.append(self.word())
            if self.i < len(self.s):  # a blank inside a default: keep it, bash does
                parts.append(self.s[self.i])
                self.i += 1
            if self.i == before:
                break
        return parts

    def lookup(self, name: str) -> str:
        if name in self.state.unknown:
            raise _Unread(f"${name} is set by a line devenv cannot read")
        if name not in self.state.env:
            raise _Unread(f"${name} is not set in local.conf nor by devstack before it: its value comes "
                          "from the environment stack.sh runs in")
        return self.state.env[name]


def _closing(s: str, start: int) -> int:
    """Index of the } that closes the ${ whose { is at start (nested ${...} in defaults allowed)."""
    depth = 0
    for j in range(start, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1
