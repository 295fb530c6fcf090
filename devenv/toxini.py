"""Read tox.ini the way tox 4 does, for the parts devenv needs.

tox.ini is an ini dialect: multi-line values, whole-line and inline `#` comments, generative section
names (`[testenv:{unit,py3}]`), factor-conditional lines (`py3: foo`), and substitutions
(`{toxinidir}`, `{env:NAME:default}`, `{[section]key}`, `{posargs}`). Anything we cannot resolve is
recorded in `unresolved`, never guessed. tests/test_toxini.py checks the results against `tox config`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devenv.errors import ConfigError

# Keys an env inherits from [testenv] when it does not set them (tox's base = testenv).
_INHERITED = ("deps", "extras", "usedevelop", "constraints", "setenv", "passenv", "commands",
              "skip_install", "description", "basepython")
_INLINE_COMMENT = re.compile(r"(?<!\\)\s#.*$")
# tox needs whitespace after the colon: `py3: foo` is a factor line, `{env:X:y}` and URLs are not.
_FACTOR_LINE = re.compile(r"^([\w{}.!,-]+):\s+(.+)$")
_SUBST = re.compile(r"\{([^{}]*)\}")


@dataclass
class ToxIni:
    path: Path
    sections: dict[str, dict[str, str]]
    env_names: list[str]  # every testenv:NAME, generative names expanded, in file order
    envlist: list[str]
    unresolved: list[str] = field(default_factory=list)


def load(path: Path) -> ToxIni:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    sections: dict[str, dict[str, str]] = {}
    env_names: list[str] = []
    for raw_name, values in _parse_ini(text, path):
        values = {k: _strip_comments(v) for k, v in values.items()}
        for name in _expand_section(raw_name):
            sections.setdefault(name, {}).update(values)
            if name.startswith("testenv:"):
                env = name.split(":", 1)[1]
                if env not in env_names:
                    env_names.append(env)
    envlist = []
    for item in _split_envlist(sections.get("tox", {}).get("envlist", "")):
        envlist.extend(_expand_braces(item))
    return ToxIni(path=path, sections=sections, env_names=env_names, envlist=envlist)


def _parse_ini(text: str, path: Path) -> list[tuple[str, dict[str, str]]]:
    """The ini dialect tox reads (the `iniconfig` rules), not configparser's.

    A comment line may sit at column 0 in the middle of a multi-line value without ending it (nova's
    passenv does this); continuation lines are indented; keys are case-sensitive.
    """
    out: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    key: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if line[0] in " \t":
            if current is None or key is None:
                raise ConfigError(f"{path}, line {lineno}: an indented line with no key above it: {stripped!r}",
                                  "indent only the continuation lines of a value")
            current[key] = (current[key] + "\n" + stripped) if current[key] else stripped
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") and "]" not in stripped:
                raise ConfigError(f"{path}, line {lineno}: unclosed section header {stripped!r}",
                                  "write it as [name]")
            name = stripped[1:stripped.index("]")].strip()
            current = {}
            out.append((name, current))
            key = None
            continue
        if current is None:
            raise ConfigError(f"{path}, line {lineno}: {stripped!r} comes before any [section]",
                              "start the file with a section such as [tox] or [testenv]")
        m = re.match(r"([^=:]+?)\s*[=:]\s*(.*)$", line)
        if not m:
            raise ConfigError(f"{path}, line {lineno}: expected 'key = value', found {stripped!r}",
                              "fix the line (tox would reject it too)")
        key = m.group(1).strip()
        current[key] = m.group(2).strip()
    return out


def _split_envlist(value: str) -> list[str]:
    """Split on commas and whitespace, but not inside braces: `py3-dj{42,52}` stays one item."""
    items, depth, cur = [], 0, ""
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                items.append(cur)
            cur = ""
        else:
            cur += ch
    return items + ([cur] if cur else [])


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _strip_comments(value: str) -> str:
    lines = []
    for line in value.splitlines():
        if line.lstrip().startswith("#"):
            continue
        lines.append(_INLINE_COMMENT.sub("", line).rstrip())
    return "\n".join(lines).strip()


def _expand_braces(text: str) -> list[str]:
    """`py3-dj{42,52}` -> [py3-dj42, py3-dj52]; no braces -> [text]."""
    m = re.search(r"\{([^{}]*)\}", text)
    if not m:
        return [text]
    out = []
    for part in m.group(1).split(","):
        out.extend(_expand_braces(text[: m.start()] + part.strip() + text[m.end():]))
    return out


def _expand_section(name: str) -> list[str]:
    if name.startswith("testenv:"):
        return ["testenv:" + n for n in _expand_braces(name.split(":", 1)[1])]
    return [name]


class Resolver:
    """Resolves one env's values: inheritance, factor filters and substitutions."""

    def __init__(self, ini: ToxIni, env: str | None, environ: Mapping[str, str] | None = None) -> None:
        self.ini = ini
        self.env = env
        self.factors = set(env.split("-")) if env else set()
        self.environ = os.environ if environ is None else environ
        self.unresolved: list[str] = []

    @property
    def section(self) -> str:
        return f"testenv:{self.env}" if self.env else "testenv"

    def raw(self, key: str) -> str | None:
        own = self.ini.sections.get(self.section, {})
        if key in own:
            return own[key]
        if self.env and key in _INHERITED:
            return self.ini.sections.get("testenv", {}).get(key)
        return None

    def get(self, key: str, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            return default
        return self.substitute(self._filter_factors(value), where=f"[{self.section}] {key}")

    def commands(self, key: str = "commands") -> list[list[str]]:
        """Command lines as argv lists. Split before substituting, as tox does, so a `{toxinidir}`
        with a space in it stays one argument; a line that is only a `{[sec]key}` reference expands
        to that key's lines."""
        value = self.raw(key)
        if value is None:
            return []
        out: list[list[str]] = []
        where = f"[{self.section}] {key}"
        for line in self._filter_factors(value).splitlines():
            line = line.strip()
            if not line:
                continue
            if re.fullmatch(r"\{\[[^\]]+\]\S+\}", line):
                out.extend(shlex.split(x) for x in self.substitute(line, where).splitlines() if x.strip())
                continue
            try:
                tokens = shlex.split(line)
            except ValueError:
                self.unresolved.append(f"{where}: cannot split {line!r} (unbalanced quotes?)")
                continue
            argv = [self.substitute(t, where) for t in tokens]
            argv = [a for a, t in zip(argv, tokens, strict=True) if a or not t.startswith("{posargs")]
            if argv:
                out.append(argv)
        return out

    def lines(self, key: str) -> list[str]:
        return [ln.strip() for ln in self.get(key).splitlines() if ln.strip()]

    def _filter_factors(self, value: str) -> str:
        kept = []
        for line in value.splitlines():
            m = _FACTOR_LINE.match(line.strip())
            if m:
                if self._factors_match(m.group(1)):
                    kept.append(m.group(2))
                continue
            kept.append(line)
        return "\n".join(kept)

    def _factors_match(self, expr: str) -> bool:
        # `a,b:` means a OR b; `a-b:` means a AND b; `!a:` negates.
        for alternative in _expand_braces(expr):
            for option in alternative.split(","):
                needed = [f for f in option.split("-") if f]
                if needed and all((f[1:] not in self.factors) if f.startswith("!") else (f in self.factors)
                                  for f in needed):
                    return True
        return False

    def substitute(self, value: str, where: str, depth: int = 0, _stack: tuple[str, ...] = ()) -> str:
        """Resolve tox substitutions, innermost braces first (so `{env:A:{env:B:c}}` works).

        Every pass either replaces a `{...}` with its value or with a brace-free placeholder, so the
        loop ends; `{[section]key}` references carry the chain of keys being resolved, and a key that
        is already in it is a cycle (ConfigError, exit 3), never an endless loop.
        """

        def repl(m: re.Match[str]) -> str:
            return self._one(m.group(1), where, depth, _stack)

        out = value
        while _SUBST.search(out):
            out = _SUBST.sub(repl, out)
        if depth:
            return out
        return out.replace(_OPEN, "{").replace(_CLOSE, "}")

    def _one(self, expr: str, where: str, depth: int, stack: tuple[str, ...] = ()) -> str:
        root = str(self.ini.path.parent)
        simple = _simple(expr, root, self.env)
        if simple is not None:
            return simple
        if expr == "posargs" or expr.startswith("posargs:"):
            return expr.split(":", 1)[1] if ":" in expr else ""
        if expr.startswith("tty:"):
            # {tty:ON:OFF}: devenv's runs (an IDE, a git hook) have no terminal, so tox would take OFF
            parts = expr.split(":", 2)
            return parts[2] if len(parts) == 3 else ""
        if expr.startswith("env:"):
            parts = expr.split(":", 2)
            name = parts[1]
            if name in self.environ:
                return self.environ[name]
            if len(parts) == 3:
                return parts[2]
            self.unresolved.append(f"{where}: environment variable {name} is not set and has no default")
            return ""
        m = re.fullmatch(r"\[([^\]]*)\](\S+)", expr)
        if m:
            section = m.group(1) or self.section  # `{[]key}`: tox reads the current section
            key = m.group(2)
            ref_id = f"[{section}]{key}"
            if ref_id in stack or ref_id == _own_key(where):
                chain = " -> ".join((*stack, ref_id))
                raise ConfigError(f"tox.ini: {where}: the substitution {{{ref_id}}} refers back to itself "
                                  f"({chain}); break the cycle in tox.ini")
            if section not in self.ini.sections or key not in self.ini.sections[section]:
                self.unresolved.append(f"{where}: reference {{[{section}]{key}}} points to nothing")
                return ""
            ref = self.ini.sections[section][key]
            return self.substitute(self._filter_factors(ref), where, depth + 1, (*stack, ref_id))
        # Something only tox itself can know (or a literal brace): keep it and say so.
        if expr in _TOX_ONLY:
            self.unresolved.append(f"{where}: {{{expr}}} is known only inside tox ({_TOX_ONLY[expr]}); kept as is")
        else:
            self.unresolved.append(f"{where}: cannot resolve {{{expr}}}")
        return _OPEN + expr + _CLOSE


# Placeholders for a brace devenv keeps literally: never matched again by _SUBST.
_OPEN, _CLOSE = "\x01", "\x02"
# tox 4 substitutions whose value depends on the environment tox would build.
_TOX_ONLY = {
    "envsitepackagesdir": "the env's site-packages, which depends on its Python",
    "env_site_packages_dir": "the env's site-packages, which depends on its Python",
    "basepython": "the interpreter tox would pick",
}


def _own_key(where: str) -> str:
    """`[testenv] deps` (the key being resolved) as a reference id, `[testenv]deps`."""
    section, _, key = where.partition(" ")
    return section + key


def _simple(expr: str, root: str, env: str | None) -> str | None:
    """The substitutions whose value follows from the project folder alone (tox 4 names and the old ones)."""
    venv = os.path.join(root, ".venv")
    work = os.path.join(root, ".tox")
    table = {
        "toxinidir": root, "tox_root": root, "setupdir": root, "package_root": root,
        "envdir": venv, "env_dir": venv,
        "envpython": os.path.join(venv, "bin", "python"), "env_python": os.path.join(venv, "bin", "python"),
        "envbindir": os.path.join(venv, "bin"), "env_bin_dir": os.path.join(venv, "bin"),
        "envname": env or "py3", "env_name": env or "py3",
        "envtmpdir": os.path.join(venv, "tmp"), "env_tmp_dir": os.path.join(venv, "tmp"),
        "envlogdir": os.path.join(venv, "log"), "env_log_dir": os.path.join(venv, "log"),
        "toxworkdir": work, "work_dir": work, "temp_dir": os.path.join(work, ".tmp"),
        "distdir": os.path.join(work, "dist"), "homedir": os.path.expanduser("~"),
        "/": os.sep, ":": os.pathsep,
    }
    return table.get(expr)


def parse_setenv(lines: list[str], where: str, unresolved: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in lines:
        if line.startswith("file|"):
            unresolved.append(f"{where}: setenv from a file ({line}) is not read")
            continue
        if "=" not in line:
            unresolved.append(f"{where}: cannot read setenv line {line!r}")
            continue
        key, value = line.split("=", 1)
        env[key.strip()] = value.strip()
    return env


def parse_list(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(x for x in re.split(r"[\s,]+", line) if x)
    return out


def truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "on")
