"""A copy of a venv that costs little: hard links, as uv's own cache links files into venvs.

Installers change a venv by adding and removing files: uv and pip uninstall by unlinking (pip by
moving aside), and what they install are new files (uv links them from its cache), so a hard-linked
copy can be changed without touching the original. devenv's own rewrites (a swap's shebang fix, the
fingerprint, the constraints copy) write a new file and rename it over the old one. What could still
be written in place gets its own inode here: pyvenv.cfg and the .pth files at the top of site-packages
(tiny; copying every script and *.dist-info file as well cost 0.6 s on nova and bought nothing).
Python writes bytecode by rename, never in place.

nova's 11,000-file venv: ~0.5 s this way, against several seconds for a full copy.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from devenv import proc
from devenv.errors import InstallError, ToolMissing


def link_copy(src: Path, dst: Path) -> None:
    """dst (which must not exist) becomes a hard-linked copy of the venv src."""
    if dst.exists() or dst.is_symlink():
        shutil.rmtree(dst)
    try:
        try:
            res = proc.run(["cp", "-a", "--link", "--", str(src), str(dst)], timeout=600, what="cp")
        except ToolMissing:
            res = None
        if res is None or re.search(r"unrecognized option|illegal option|invalid option", res.stderr):
            # no GNU cp (macOS, BusyBox): the same in Python, slower
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
        elif not res.ok:  # a real failure (disk full, no permission): said, not tried a second way
            raise OSError(proc.tail(res.stderr, 2))
        _own_copies(dst)
    except OSError as exc:
        shutil.rmtree(dst, ignore_errors=True)
        raise InstallError(f"cannot copy the venv to {dst}: {exc.strerror or exc}",
                           "free some disk space (df -h); the venv in use was not changed") from exc


def _own_copies(venv: Path) -> None:
    files = [venv / "pyvenv.cfg"]
    for site in (venv / "lib").glob("python*/site-packages"):
        files += site.glob("*.pth")
    for path in files:
        if not path.is_symlink() and path.is_file() and os.stat(path).st_nlink > 1:
            _unlink_copy(path)


def _unlink_copy(path: Path) -> None:
    tmp = path.with_name(path.name + ".devenv-copy")
    shutil.copy2(path, tmp)
    os.replace(tmp, path)


_PLAIN = re.compile(r"[A-Za-z0-9_./+-]+")


def relocatable(old_root: Path, new_root: Path) -> bool:
    """Paths installers write as they are: no quoting (shebangs), no percent-encoding (direct_url.json)."""
    return all(_PLAIN.fullmatch(str(p)) for p in (old_root, new_root))


def relocate(venv: Path, old_root: Path, new_root: Path) -> int:
    """Point a venv copied from another checkout (old_root) at this one: the scripts' shebangs, the
    editable install's .pth and finder files, its direct_url.json. Returns how many files changed."""
    pattern = re.compile(re.escape(os.fsencode(str(old_root))) + rb"(?=[/'\"\s)\]},]|$)", re.M)
    files = list((venv / "bin").iterdir()) if (venv / "bin").is_dir() else []
    for site in (venv / "lib").glob("python*/site-packages"):
        files += [e for e in site.iterdir() if e.is_file()]
        files += list(site.glob("*.dist-info/direct_url.json"))
    return rewrite(files, pattern, os.fsencode(str(new_root)))


def rewrite(files: list[Path], pattern: re.Pattern[bytes], repl: bytes) -> int:
    """Replace pattern in each small regular file, by writing a new file and renaming it over the old
    one (never in place: the file may be a hard link shared with another venv). How many changed."""
    changed = 0
    for path in files:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        data = path.read_bytes()
        new = pattern.sub(repl, data)
        if new != data:
            mode = path.stat().st_mode
            tmp = path.with_name(path.name + ".devenv-tmp")
            tmp.write_bytes(new)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
            changed += 1
    return changed
