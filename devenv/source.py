"""Getting the source: `devenv init NAME` for a known OpenStack project clones it from upstream.

The clone goes to a temporary folder beside the target and is renamed into place only when complete,
so an interrupted clone never leaves a half-made project folder behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from devenv import proc
from devenv.errors import NetworkError, UsageError

UPSTREAM = "https://opendev.org/openstack/{name}"

# Services and libraries contributors set up most; the patterns below cover oslo.* and the clients.
KNOWN = frozenset("""
aodh barbican blazar ceilometer cinder cloudkitty cyborg designate devstack glance heat horizon ironic
keystone keystoneauth keystonemiddleware kuryr magnum manila masakari mistral neutron neutron-lib nova
octavia osc-lib placement requirements sahara senlin skyline-apiserver swift tacker trove watcher zaqar zun
openstacksdk python-openstackclient tempest stevedore taskflow tooz cliff debtcollector futurist pbr
""".split())
_PATTERNS = (re.compile(r"^oslo\.[a-z0-9_.-]+$"), re.compile(r"^python-[a-z0-9-]+client$"),
             re.compile(r"^[a-z0-9-]+-tempest-plugin$"), re.compile(r"^[a-z0-9-]+-dashboard$"))


def is_known(name: str) -> bool:
    return name in KNOWN or any(p.match(name) for p in _PATTERNS)


def upstream_url(name: str) -> str:
    return UPSTREAM.format(name=name)


def locate(target: str, source: str | None, cwd: Path) -> tuple[Path, str | None]:
    """Decide where the project is. Returns (folder, url-or-path to clone from, or None if it exists)."""
    path = Path(target) if os.path.isabs(target) else cwd / target
    if path.is_dir():
        if source:
            raise UsageError(f"{path} already exists; --source is only used when devenv clones a project",
                             "drop --source, or pick a new folder name")
        return path, None
    if path.exists():
        raise UsageError(f"{path} exists and is not a folder")
    if source:
        return path, source
    name = Path(target).name
    if os.sep in target.rstrip(os.sep) or not is_known(name):
        raise UsageError(f"{target!r} is not a folder here and not a known OpenStack project",
                         "give the path of a checkout, or clone from somewhere with --source URL|PATH")
    return path, upstream_url(name)


def clone(url: str, dest: Path, timeout: float = 900) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.devenv-clone-", dir=dest.parent))
    try:
        # `--` so a URL or path with a leading dash is never read as an option.
        result = proc.run(["git", "clone", "--quiet", "--", url, str(tmp / "checkout")], timeout=timeout,
                          what=f"git clone {url}")
        if not result.ok:
            raise NetworkError(f"could not clone {url}: {proc.tail(result.stderr, 3)}",
                               "check the URL and your network, or clone it yourself and run devenv init PATH "
                               "(or pass --source with a local repository)")
        os.replace(tmp / "checkout", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
