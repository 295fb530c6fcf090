"""Which constraints a venv is built under, and their text.

Order: --constraints, then TOX_CONSTRAINTS_FILE, then what tox.ini says (which usually names the
published upper-constraints URL). A URL is cached in the cache folder (paths.cache_home), so a re-run
with nothing changed makes no network call; an unreachable URL with no cached copy is an error that says
to pass a local file.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from devenv import fsutil, paths
from devenv.errors import NetworkError, UsageError
from devenv.project import Project

CACHE_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class Constraints:
    source: str | None  # path or URL, or None when the project has none
    text: str  # the effective lines (the project's own pin removed)
    origin: str  # 'option' | 'TOX_CONSTRAINTS_FILE' | 'tox.ini' | 'none'

    def lines(self) -> list[str]:
        return [ln for ln in self.text.splitlines() if ln.strip()]


def resolve(project: Project, option: str | None, environ: dict[str, str] | None = None,
            refresh: bool = False, remembered: str | None = None, drop: Iterable[str] = ()) -> Constraints:
    """`remembered` is the --constraints of the run that built the venv: a later run without the
    option (refresh from a git hook) keeps using it unless TOX_CONSTRAINTS_FILE says otherwise.
    `drop`: more names whose pins go, as the project's own does (the --with checkouts, crossrepo.py)."""
    env = os.environ if environ is None else environ
    if option:
        source, origin = option, "option"
    elif remembered and not env.get("TOX_CONSTRAINTS_FILE"):
        source, origin = remembered, "option"
    elif env.get("TOX_CONSTRAINTS_FILE"):
        source, origin = env["TOX_CONSTRAINTS_FILE"], "TOX_CONSTRAINTS_FILE"
    elif project.unit_env.constraints:
        source, origin = project.unit_env.constraints[0], "tox.ini"
    else:
        return Constraints(None, "", "none")
    raw = _read(source, project.root, refresh)
    return Constraints(source, without(raw, [project.name, *drop]), origin)


def _read(source: str, root: Path, refresh: bool) -> str:
    if source.startswith(("http://", "https://")):
        return _fetch(source, refresh)
    path = Path(source[len("file://"):] if source.startswith("file://") else source)
    if not path.is_absolute():
        path = (root / path) if (root / path).exists() else Path.cwd() / path
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"constraints file {path} cannot be read: {exc.strerror}",
                         "pass an existing file with --constraints FILE or fix TOX_CONSTRAINTS_FILE") from exc


def _fetch(url: str, refresh: bool) -> str:
    name = hashlib.sha256(url.encode()).hexdigest()[:16] + ".txt"
    cache = paths.cache_home() / "constraints" / name
    legacy = paths.state_home() / "cache" / "constraints" / name  # where an earlier devenv kept it
    if not cache.exists() and legacy.is_file() and legacy != cache:
        try:  # an offline user keeps working after the upgrade: the copy moves to the cache folder
            cache.parent.mkdir(parents=True, exist_ok=True)
            os.replace(legacy, cache)
        except OSError:
            cache = legacy
    fresh = cache.exists() and time.time() - cache.stat().st_mtime < CACHE_MAX_AGE
    if fresh and not refresh:
        return cache.read_text(encoding="utf-8")
    import urllib.error  # only when downloading: keeps the no-op path's start-up short
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - http(s) only, checked above
            text: str = resp.read().decode("utf-8")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        if cache.exists():
            return cache.read_text(encoding="utf-8")  # stale but known: better than failing offline
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"cannot download the constraints file {url}: {reason}",
                           "pass a local copy with --constraints FILE (or set TOX_CONSTRAINTS_FILE=FILE)") from exc
    fsutil.atomic_write(cache, text)
    return text


def without(text: str, names: Iterable[str]) -> str:
    """Drop the pins of these projects (every line naming one, whatever its marker), as devstack's
    `edit-constraints` does before an editable install: a pin would clash with the checkout's version.
    Names match PEP 503-normalised (oslo.messaging, oslo-messaging and Oslo_Messaging are one)."""
    own = {canonicalize_name(n) for n in names}
    kept = []
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)", stripped)
        if m and canonicalize_name(m.group(1)) in own:
            continue
        kept.append(stripped)
    return "\n".join(kept) + ("\n" if kept else "")
