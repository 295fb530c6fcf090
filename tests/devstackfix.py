"""A fake devstack guest for tests, on top of guestfix's real guest (real sshd on 127.0.0.1, real users).

What is real: sshd, rsync, git, a `stack` user with another UID than both guestfix users, git repos nova
(a pbr project, as nova is), oslo.messaging (pyproject-only setuptools) and requirements, a venv made as
devstack makes it (`python3 -m venv --system-site-packages`) with nova and oslo.messaging installed by real
pip (`pip install --no-deps --no-build-isolation -e`, so the venv holds PEP 610 direct_url.json files), and
a local.conf with LIBS_FROM_GIT and RECLONE=True.
What is not: systemd cannot run here (no systemd as PID 1, and tests must not touch the machine's units), so
`systemctl` is tests/fake_systemctl.py (read its docstring for the interface), reading unit files
`devstack@n-api.service`, `devstack@n-cpu.service`, `devstack@keystone.service` from a folder that stands for
/etc/systemd/system. stack.sh is a stub that refuses to run. `sudo` is tests/fake_sudo.py beside it (no sudo
here, and a test must not edit /etc/sudoers). One more unit, `devstack@demo.service`, runs a real program
(`demo-service`, below) as the stack user with an extra group (the part of libvirt for n-cpu), an Environment
and a WorkingDirectory, for `devenv devstack run`.

Everything lives in a small root per session (so per xdist worker: each has its own guestfix session):
  <guestfix tmp>/devstack-root/opt/stack             DEST, the stack user's home (devstack's docs: useradd -d)
                              /opt/stack/devstack     the checkout: local.conf, stackrc excerpt, stack.sh stub
                              /opt/stack/data/venv    the global venv
                              /etc/systemd/system     unit files;  /bin/systemctl  the stand-in
                              /run/fake-systemd.json  unit states
A real /opt/stack would be shared by every worker running in parallel (and may exist on a developer's box),
so DEST is set in local.conf to the per-worker folder; everything else devenv derives the way devstack does
($DEST/data, $DATA_DIR/venv). `devstack_home_link` covers the default local.conf lookup (~/devstack).

Fixtures:
  fake_devstack        session-scoped DevstackBox (below)
  devstack_conf        function-scoped: write a local.conf for one test; the fixture's own is restored after
  devstack_home_link   function-scoped: ~<ssh user>/devstack -> the checkout (the default-path lookup)
and, autouse, a fresh RECLONE-guard cache per test (devenv caches what it read per process).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import localindex
import pytest
from guestfix import Cleanup, GuestBox, _free_id, add_user, authorize

from devenv import proc
from devenv.host.guests import Guest

REPOS = ("nova", "oslo.messaging", "requirements")
UNITS = {
    "devstack@n-api.service": ("{venv}/bin/uwsgi --procname-prefix nova-api --ini /etc/nova/nova-api-uwsgi.ini",
                               None, ["OS_NOVA_DISABLE_EVENTLET_PATCHING=1"]),
    "devstack@n-cpu.service": ("{venv}/bin/nova-compute --config-file /etc/nova/nova-cpu.conf", "libvirt", []),
    "devstack@keystone.service": ("{venv}/bin/uwsgi --procname-prefix keystone --ini /etc/keystone/keystone-uwsgi-"
                                  "public.ini", None, []),
}


def local_conf_text(dest: Path, *, reclone: str = "True", libs: str = "oslo.messaging", extra: str = "") -> str:
    return (
        "# written by tests/devstackfix.py\n"
        "[[local|localrc]]\n"
        "ADMIN_PASSWORD=secret\n"
        "DATABASE_PASSWORD=$ADMIN_PASSWORD\n"
        f"DEST={dest}\n"
        "DATA_DIR=$DEST/data\n"
        f"LIBS_FROM_GIT={libs}\n"
        f"RECLONE={reclone}\n"
        "NOVA_BRANCH=master\n"
        "OSLOMSG_REPO=https://opendev.org/openstack/oslo.messaging\n"
        "enable_service n-api n-cpu\n"
        "disable_service tempest\n"
        f"{extra}"
        "\n[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n"
    )


@dataclass(frozen=True)
class DevstackBox:
    box: GuestBox
    stack_user: str
    stack_uid: int
    stack_gid: int
    root: Path  # the small root filesystem
    dest: Path
    devstack_dir: Path
    local_conf: Path
    venv: Path
    units: Path  # stands for /etc/systemd/system
    systemctl: Path  # the stand-in (on the stack user's PATH through ~/.bashrc)
    systemd_state: Path
    service_group: str = ""  # a group the stack user is a member of (devstack's libvirt for n-cpu); demo's Group=
    demo_script: Path | None = None  # devstack@demo's ExecStart: prints DEMO {json of uid, gid, env, cwd}
    sudo_deny: Path | None = None  # while this file exists, the sudo stand-in answers "a password is required"

    def guest(self, path: Path | str | None = None, name: str = "box", **kw: object) -> Guest:
        """A devenv Guest reached as guestfix's ssh user (not the stack user: git's ownership check trips)."""
        return Guest(name=name, host=self.box.alias, path=str(path or self.dest / "nova"),
                     ssh_config=str(self.box.ssh_config), **kw)  # type: ignore[arg-type]

    def stack_guest(self, path: Path | str | None = None, name: str = "stack") -> Guest:
        """A Guest that logs in as the stack user (its login shell puts the systemctl stand-in on PATH)."""
        return self.guest(path, name, user=self.stack_user)

    def as_stack(self, argv: list[str], *, timeout: float = 60, env: dict[str, str] | None = None) -> proc.Result:
        path = f"{self.systemctl.parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        base = {"PATH": path, "HOME": str(self.dest), "USER": self.stack_user, "LANG": "C.UTF-8", **(env or {})}
        return proc.run(["/usr/sbin/runuser", "-u", self.stack_user, "--", *argv], timeout=timeout, env=base,
                        cwd="/")

    def write_local_conf(self, text: str, path: Path | None = None) -> Path:
        path = path or self.local_conf
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chown(path, self.stack_uid, self.stack_gid)
        return path


def _check(res: proc.Result, what: str) -> None:
    if not res.ok:
        raise RuntimeError(f"devstackfix: {what} failed (exit {res.returncode}): {res.stderr[-800:]}")


def _git_repo(ds: DevstackBox, path: Path, files: dict[str, str]) -> None:
    path.mkdir(parents=True)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    for p in [path, *path.rglob("*")]:
        os.chown(p, ds.stack_uid, ds.stack_gid)
    ident = ["-c", "user.name=Stack", "-c", "user.email=stack@example.invalid"]
    for argv in (["git", "init", "-q", "-b", "master", str(path)], ["git", "-C", str(path), "add", "-A"],
                 ["git", *ident, "-C", str(path), "commit", "-q", "-m", "initial"]):
        _check(ds.as_stack(argv), " ".join(argv[:3]))


def _projects() -> dict[str, dict[str, str]]:
    return {
        "nova": {
            "pyproject.toml": '[build-system]\nrequires = ["pbr>=6.1.1"]\nbuild-backend = "pbr.build"\n',
            "setup.cfg": "[metadata]\nname = nova\nsummary = fake nova\n\n[files]\npackages =\n    nova\n",
            "setup.py": "import setuptools\n\nsetuptools.setup(pbr=True)\n",
            "nova/__init__.py": "",
        },
        "oslo.messaging": {
            "pyproject.toml": ('[build-system]\nrequires = ["setuptools>=64"]\n'
                               'build-backend = "setuptools.build_meta"\n\n'
                               '[project]\nname = "oslo.messaging"\nversion = "17.0.0"\n\n'
                               '[tool.setuptools]\npackages = ["oslo_messaging"]\n'),
            "oslo_messaging/__init__.py": "",
        },
        "requirements": {"upper-constraints.txt": "pbr===7.0.3\n"},
    }


def _devstack_checkout(ds: DevstackBox) -> None:
    d = ds.devstack_dir
    d.mkdir(parents=True)
    (d / "stack.sh").write_text("#!/bin/sh\necho 'fake devstack (tests/devstackfix.py): stack.sh does not run here'"
                                " >&2\nexit 1\n")
    (d / "stack.sh").chmod(0o755)
    # the two stackrc lines devenv reads (library name <- local.conf prefix), in stackrc's own format
    (d / "stackrc").write_text('GITREPO["oslo.messaging"]=${OSLOMSG_REPO:-${GIT_BASE}/openstack/oslo.messaging.git}\n'
                               'GITREPO["oslo.config"]=${OSLOCFG_REPO:-${GIT_BASE}/openstack/oslo.config.git}\n')
    for p in [d, *d.iterdir()]:
        os.chown(p, ds.stack_uid, ds.stack_gid)
    ds.write_local_conf(local_conf_text(ds.dest))


def _venv(ds: DevstackBox) -> None:
    venv = str(ds.venv)
    # --without-pip: ensurepip costs ~12 s; with --system-site-packages the system's pip installs into it
    _check(ds.as_stack(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip", venv]), "venv")
    wheelhouse = localindex.ready()
    env = {"PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    if wheelhouse is not None:
        env.update(localindex.env(wheelhouse))
        env.pop("PIP_CACHE_DIR", None)
    pip = [f"{venv}/bin/python", "-m", "pip", "install", "-q"]
    _check(ds.as_stack([*pip, "pbr"], env=env, timeout=300), "pip install pbr")
    for name in ("nova", "oslo.messaging"):
        argv = [*pip, "--no-deps", "--no-build-isolation", "-e", str(ds.dest / name)]
        _check(ds.as_stack(argv, env=env, timeout=300), f"pip install -e {name}")


DEMO_SCRIPT = """\
import json, os, signal, sys, time

def bye(signum, frame):
    print("demo: got signal %d" % signum, flush=True)
    sys.exit(128 + signum)

signal.signal(signal.SIGINT, bye)
signal.signal(signal.SIGTERM, bye)
names = ("DEMO_GREETING", "OS_DEMO", "PATH", "HOME", "USER")
print("DEMO " + json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
                            "cwd": os.getcwd(), "argv": sys.argv, "pid": os.getpid(),
                            "env": {k: os.environ.get(k) for k in names}}), flush=True)
for line in sys.stdin:  # "exit N" ends it with status N; at EOF it waits for a signal
    if line.startswith("exit"):
        print("demo: exiting with %s" % line.split()[1], flush=True)
        sys.exit(int(line.split()[1]))
while True:
    time.sleep(1)
"""


def _demo_unit(ds: DevstackBox) -> None:
    assert ds.demo_script is not None
    ds.demo_script.write_text(DEMO_SCRIPT)
    ds.demo_script.chmod(0o755)
    lines = ["[Unit]", "Description = Devstack devstack@demo.service", "", "[Service]",
             f"ExecStart = /usr/bin/python3 {ds.demo_script} --name demo", f"User = {ds.stack_user}",
             f"Group = {ds.service_group}", 'Environment = "DEMO_GREETING=hello world" "OS_DEMO=1"',
             f"WorkingDirectory = {ds.dest / 'data'}", "KillMode = process", "", "[Install]",
             "WantedBy = multi-user.target", ""]
    (ds.units / "devstack@demo.service").write_text("\n".join(lines))
    shutil.copy(Path(__file__).with_name("fake_sudo.py"), ds.systemctl.parent / "sudo")
    (ds.systemctl.parent / "sudo").chmod(0o755)


def _service_group(cleanup: Cleanup, user: str) -> str:
    """A group with the stack user as a member, as devstack adds STACK_USER to libvirt."""
    for _ in range(20):
        name = f"devenv-sg-{secrets.token_hex(3)}"
        if proc.run(["groupadd", "-g", str(_free_id("group", 2700)), name], timeout=30).ok:
            cleanup.add(f"groupdel {name}", lambda n=name: proc.run(["groupdel", n], timeout=30) and None)
            _check(proc.run(["/usr/sbin/usermod", "-aG", name, user], timeout=30), "usermod -aG")
            return name
    raise RuntimeError("devstackfix: could not create the service group")


def _systemd(ds: DevstackBox) -> None:
    ds.units.mkdir(parents=True)
    for name, (exec_start, group, environment) in UNITS.items():
        lines = ["[Unit]", f"Description = Devstack {name}", "", "[Service]",
                 f"ExecStart = {exec_start.format(venv=ds.venv)}", f"User = {ds.stack_user}"]
        lines += [f"Group = {group}"] if group else []
        lines += [f'Environment = "{e}"' for e in environment]
        lines += ["KillMode = process", "TimeoutStopSec = 300", "ExecReload = /bin/kill -HUP $MAINPID",
                  "", "[Install]", "WantedBy = multi-user.target", ""]
        (ds.units / name).write_text("\n".join(lines))
    ds.systemctl.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("fake_systemctl.py"), ds.systemctl)
    ds.systemctl.chmod(0o755)
    ds.systemd_state.parent.mkdir(parents=True)
    os.chown(ds.systemd_state.parent, ds.stack_uid, ds.stack_gid)  # `sudo systemctl` in devstack; here: stack
    _demo_unit(ds)


def build(cleanup: Cleanup, box: GuestBox) -> DevstackBox:
    root = box.tmp / "devstack-root"
    dest = root / "opt" / "stack"
    dest.parent.mkdir(parents=True, mode=0o755)
    user, uid, gid = add_user(cleanup, "devenv-s", 2600, 2650, dest)
    dest.mkdir(mode=0o755)
    os.chown(dest, uid, gid)
    ds = DevstackBox(box, user, uid, gid, root, dest, dest / "devstack", dest / "devstack" / "local.conf",
                     dest / "data" / "venv", root / "etc" / "systemd" / "system", root / "bin" / "systemctl",
                     root / "run" / "fake-systemd.json", service_group=_service_group(cleanup, user),
                     demo_script=root / "bin" / "demo-service", sudo_deny=root / "run" / "fake-sudo-deny")
    _check(proc.run(["/usr/sbin/usermod", "-s", "/bin/bash", user], timeout=30), "usermod")  # devstack's docs: bash
    (dest / ".bashrc").write_text(f'export PATH="{ds.systemctl.parent}:$PATH"\n')
    authorize(box.tmp, user, box.identity_file)
    _devstack_checkout(ds)
    for name, files in _projects().items():
        _git_repo(ds, dest / name, files)
    (dest / "data").mkdir()
    os.chown(dest / "data", uid, gid)
    _venv(ds)
    _systemd(ds)
    return ds


@pytest.fixture(scope="session")
def fake_devstack(real_guest: GuestBox) -> Iterator[DevstackBox]:
    cleanup = Cleanup()
    try:
        yield build(cleanup, real_guest)
    finally:
        cleanup.run()  # the user; its files go with guestfix's tmp folder


@pytest.fixture
def devstack_conf(fake_devstack: DevstackBox) -> Iterator[Callable[..., Path]]:
    """write(text=None, **local_conf_text kwargs) -> the local.conf path; restored after the test."""
    original = fake_devstack.local_conf.read_text()

    def write(text: str | None = None, **kw: str) -> Path:
        return fake_devstack.write_local_conf(text if text is not None else local_conf_text(fake_devstack.dest, **kw))

    try:
        yield write
    finally:
        fake_devstack.write_local_conf(original)


@pytest.fixture
def devstack_home_link(fake_devstack: DevstackBox) -> Iterator[Path]:
    link = fake_devstack.box.home / "devstack"
    link.symlink_to(fake_devstack.devstack_dir)
    try:
        yield link
    finally:
        link.unlink()


@pytest.fixture(autouse=True)
def _fresh_devstack_guard() -> Iterator[None]:
    from devenv.devstack import guard

    guard.forget()
    yield
    guard.forget()
