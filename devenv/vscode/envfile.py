"""The env files VS Code's Python extension (tests, `python.envFile`) and its debugger (`envFile`) load.

Written for their parser, microsoft/vscode-python src/client/common/variables/environment.ts
(parseEnvFile, parseEnvLine, substituteEnvVars), which is not a shell and not python-dotenv:
- a line is `NAME=VALUE` with NAME matching `[a-zA-Z]\\w*`; anything else (our `#` header) is skipped;
- the value is trimmed; a value wrapped in '...' or "..." loses the quotes and has `\\n` turned into a
  newline; `${NAME}` is replaced by an earlier line's or the process's variable unless a backslash precedes
  it; then every `\\$` becomes `$`.
So `$` is written `\\$`, a value with outer whitespace or a newline is quoted, and a value the format
cannot carry (a literal backslash before `$` or before `n` inside quotes) is left out and said.
"""

from __future__ import annotations

import re

NAME = re.compile(r"[a-zA-Z]\w*", re.ASCII)

HEADER = "# written by devenv for VS Code ({what}); devenv rewrites it: put your own variables in another file\n"


def encode(value: str) -> str | None:
    """The text after `NAME=` that parseEnvFile reads back as `value`, or None when it cannot."""
    if "\\$" in value:
        return None
    text = value.replace("$", "\\$")
    needs_quotes = text != text.strip() or "\n" in text or "\r" in text or (
        len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"")
    if not needs_quotes:
        return text
    if "\\n" in text or "\r" in text:
        return None  # inside quotes a literal \n would come back as a newline
    quote = "'" if text.startswith('"') else '"'
    return quote + text.replace("\n", "\\n") + quote


def render(env: tuple[tuple[str, str], ...] | list[tuple[str, str]], what: str) -> str:
    lines = [HEADER.format(what=what)]
    for name, value in env:
        encoded = encode(value) if NAME.fullmatch(name) else None
        if encoded is None:
            lines.append(f"# left out: {name} (this file's format cannot carry its name or value)\n")
            continue
        lines.append(f"{name}={encoded}\n")
    return "".join(lines)
