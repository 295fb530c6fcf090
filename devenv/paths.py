"""Every root folder devenv writes to, each redirectable by an environment variable (tests always do)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def templates() -> Path:
    """The jinja2 templates that belong to the devenv code that is running, whatever the install.

    Found by the package's own location, never by importing `devenv.templates`: with two checkouts on
    one machine (one installed editable), that import is answered by the editable install's path finder
    and hands back the *other* tree's templates. A wheel installs them as devenv/templates; a source
    tree (editable install, or `python -m devenv` from a checkout) has them at <repo>/templates.
    """
    package = Path(__file__).resolve().parent
    installed = package / "templates"
    if (installed / "misc.xml.j2").is_file():
        return installed
    checkout = package.parent / "templates"
    if (checkout / "misc.xml.j2").is_file():
        return checkout
    raise FileNotFoundError(f"devenv's templates are missing: neither {installed} nor {checkout} exists; "
                            "reinstall devenv")


def home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _platform_dirs():  # noqa: ANN202 - a platformdirs class instance
    """platformdirs' folders for this OS, chosen by sys.platform here (not at platformdirs' import), so the
    tests can ask for a Mac's on Linux. HOME is honoured on every Unix (platformdirs expands ~)."""
    if sys.platform == "darwin":
        from platformdirs.macos import MacOS as Dirs
    elif sys.platform == "win32":
        from platformdirs.windows import Windows as Dirs
    else:
        from platformdirs.unix import Unix as Dirs
    return Dirs("devenv", appauthor=False)


def state_home() -> Path:
    """devenv's own state (guests, sync records, logs, kept venvs, its tools venv). DEVENV_HOME overrides.

    Where the platform keeps application state: Linux $XDG_STATE_HOME/devenv (~/.local/state/devenv, where
    it has always been), macOS ~/Library/Application Support/devenv, Windows %LOCALAPPDATA%\\devenv."""
    env = os.environ.get("DEVENV_HOME")
    if env:
        return Path(env)
    return Path(_platform_dirs().user_state_dir)


def cache_home() -> Path:
    """What devenv can download again (cached constraints files): Linux $XDG_CACHE_HOME/devenv (~/.cache),
    macOS ~/Library/Caches/devenv. DEVENV_HOME, when set, holds it too (one folder to redirect)."""
    env = os.environ.get("DEVENV_HOME")
    if env:
        return Path(env) / "cache"
    return Path(_platform_dirs().user_cache_dir)


def project_state(project_root: Path) -> Path:
    """A per-project folder in the state home, keyed by the project's absolute path."""
    root = Path(project_root).resolve()
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in root.name) or "project"
    return state_home() / "projects" / f"{safe}-{digest}"


def jetbrains_roots() -> list[Path]:
    """Folders that may hold JetBrains config folders. DEVENV_JETBRAINS_HOME overrides them all."""
    env = os.environ.get("DEVENV_JETBRAINS_HOME")
    if env:
        return [Path(env)]
    h = home()
    if sys.platform == "darwin":
        return [h / "Library" / "Application Support" / "JetBrains", h / "Library" / "Preferences"]
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return [Path(appdata) / "JetBrains" if appdata else h / "AppData" / "Roaming" / "JetBrains", h]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return [(Path(xdg) if xdg else h / ".config") / "JetBrains", h]
