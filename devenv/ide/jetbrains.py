"""Find installed PyCharm config folders and tell whether that PyCharm version is running.

Layouts (one config folder per installed version, product PyCharm or PyCharmCE):
  >= 2020.1  <root>/<P><ver>/options           root: ~/.config/JetBrains, ~/Library/Application Support/
                                                JetBrains, %APPDATA%\\JetBrains
  <= 2019.3  <home>/.<P><ver>/config/options    Linux and Windows (%USERPROFILE%)
             ~/Library/Preferences/<P><ver>/options   macOS (same shape as the new layout)
paths.jetbrains_roots() lists the roots for this OS; DEVENV_JETBRAINS_HOME replaces them all.

A running IDE keeps its single-instance lock in its config folder and rewrites options/*.xml from
memory on exit, so writing then is pointless. SocketLock (read in intellij-community) locks
`port.lock` (created once, never deleted) and writes `port` while running (deleted on exit); newer
launchers use `.lock`/`.port`. Any of these only says "maybe": they survive a crash, and `port.lock`
survives every exit. So a live process is required too: one whose command
line is PyCharm's (launcher or JVM) and names this version (`idea.paths.selector=PyCharm2024.1`, the
config path, or an install whose product-info.json has that dataDirectoryName). A PyCharm process that
names no version is counted as running every version whose lock file exists (the safe side).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devenv import paths
from devenv.errors import DevenvError

_NEW = re.compile(r"^(PyCharm|PyCharmCE)(\d{4}\.\d+)$")
_OLD = re.compile(r"^\.(PyCharm|PyCharmCE)(\d{4}\.\d+)$")
LOCK_FILES = (".lock", "port.lock", ".port", "port")


@dataclass(frozen=True)
class PyCharmConfig:
    product: str  # 'PyCharm' | 'PyCharmCE'
    version: str  # '2024.1'
    config_dir: Path

    @property
    def selector(self) -> str:
        return f"{self.product}{self.version}"

    @property
    def options_dir(self) -> Path:
        return self.config_dir / "options"

    @property
    def jdk_table(self) -> Path:
        return self.options_dir / "jdk.table.xml"


def config_dirs(roots: Iterable[Path]) -> list[PyCharmConfig]:
    """Every PyCharm config folder directly under the given roots (new and old layouts)."""
    found: dict[Path, PyCharmConfig] = {}
    for root in roots:
        try:
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir():
                continue
            new, old = _NEW.match(entry.name), _OLD.match(entry.name)
            if new:
                found.setdefault(entry, PyCharmConfig(new.group(1), new.group(2), entry))
            elif old and (entry / "config").is_dir():
                found.setdefault(entry / "config", PyCharmConfig(old.group(1), old.group(2), entry / "config"))
    return sorted(found.values(), key=lambda c: (c.product, c.version))


def discover() -> list[PyCharmConfig]:
    return config_dirs(paths.jetbrains_roots())


def has_lock(cfg: PyCharmConfig) -> bool:
    return any((cfg.config_dir / name).exists() for name in LOCK_FILES)


PROC = Path("/proc")  # Linux's process table; where it is missing (macOS), psutil, else `ps`


def _cmdlines() -> list[list[str]]:
    """Command lines (argument vectors) of every process we can see."""
    if PROC.is_dir():
        return _proc_cmdlines()
    try:
        import psutil  # noqa: F401 - a dependency on macOS (pyproject), optional elsewhere
    except ImportError:
        return _ps_cmdlines()
    return _psutil_cmdlines()


def _proc_cmdlines() -> list[list[str]]:
    out: list[list[str]] = []
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            out.append([a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")])
    return out


def _psutil_cmdlines() -> list[list[str]]:
    """psutil reads each process's real argument vector (macOS: sysctl KERN_PROCARGS2), so a launcher path
    with spaces ("/Applications/PyCharm CE.app/...") stays one argument; `ps` can only print them joined."""
    import psutil

    out: list[list[str]] = []
    me = os.getpid()
    for p in psutil.process_iter(["pid", "cmdline"]):
        argv = p.info.get("cmdline")  # None when access is denied (another user's process) or a zombie
        if argv and p.info.get("pid") != me:
            out.append([str(a) for a in argv])
    return out


def _ps_cmdlines() -> list[list[str]]:
    from devenv import proc as runner

    try:
        res = runner.run(["ps", "-axww", "-o", "pid=,command="], timeout=10)
    except DevenvError:
        return []
    me = str(os.getpid())
    out = []
    for line in res.stdout.splitlines():
        pid, _, command = line.strip().partition(" ")
        if command.strip() and pid != me:
            out.append(split_command(command.strip()))
    return out


def split_command(command: str) -> list[str]:
    """`ps` joins the arguments with spaces: take as the program the longest leading run of words that names
    an existing file (an .app path with a space), and split the rest on spaces."""
    words = command.split(" ")
    for n in range(len(words), 0, -1):
        head = " ".join(words[:n])
        if head.startswith("/") and os.path.isfile(head):
            return [head, *[w for w in words[n:] if w]]
    return [w for w in words if w]


def _is_pycharm(argv: list[str]) -> bool:
    exe = os.path.basename(argv[0]).lower() if argv else ""
    line = " ".join(argv).lower()
    if exe.startswith("pycharm"):
        return True
    if "idea.platform.prefix=python" in line or "idea.paths.selector=pycharm" in line:
        return True
    return exe in ("java", "java.exe", "javaw.exe") and "pycharm" in line


def _data_dir_name(argv: list[str]) -> str | None:
    """dataDirectoryName from the product-info.json of the install the process was started from."""
    for arg in argv[:2]:
        folder = Path(arg).parent if arg else None
        for _ in range(4):
            if folder is None:
                break
            # Linux/Windows: at the install's root (bin/..); macOS: PyCharm.app/Contents/Resources/
            info = folder / "product-info.json"
            if not info.is_file():
                info = folder / "Resources" / "product-info.json"
            if info.is_file():
                try:
                    return str(json.loads(info.read_text(encoding="utf-8")).get("dataDirectoryName") or "") or None
                except (OSError, ValueError):
                    return None
            folder = folder.parent if folder.parent != folder else None
    return None


def running_selectors() -> list[str | None]:
    """For each running PyCharm: the config selector it names, or None when it names none."""
    out: list[str | None] = []
    for argv in _cmdlines():
        if not _is_pycharm(argv):
            continue
        line = " ".join(argv)
        match = re.search(r"idea\.paths\.selector=(\S+)", line)
        out.append(match.group(1) if match else (_data_dir_name(argv) or _named(line)))
    return out


def _named(line: str) -> str | None:
    match = re.search(r"(PyCharm(?:CE)?\d{4}\.\d+)", line)
    return match.group(1) if match else None


def is_running(cfg: PyCharmConfig, selectors: list[str | None] | None = None) -> bool:
    if not has_lock(cfg):
        return False
    live = running_selectors() if selectors is None else selectors
    return any(sel is None or sel == cfg.selector or str(cfg.config_dir) in (sel or "") for sel in live)
