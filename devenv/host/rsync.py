"""One rsync run host -> guest: the argument list, its itemized output, and what its failures mean.

Every run keeps what it replaces: `--backup --backup-dir=<remote>/.devenv-backup/<run>` moves each guest
file that is overwritten or deleted into that run's folder, so even a guest-side edit made during the
run is not lost. Conflict detection (sync.py) reads the itemized output and that folder afterwards, so a
no-change sync is exactly one rsync run.
"""

from __future__ import annotations

import calendar
import os
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from devenv import proc
from devenv.errors import HUNG
from devenv.host import excludes as excludes_mod
from devenv.host import hangwatch, rsyncflavour, ssh
from devenv.host.guests import Guest

BACKUP_ROOT = excludes_mod.BACKUP_ROOT  # the one home is excludes.py
# sender-side TZ=UTC makes %M a UTC timestamp we can parse without guessing the zone.
OUT_FORMAT = "%i\t%l\t%M\t%n"
TRANSIENT_EXIT = {10, 12, 30, 35, 255}  # socket I/O, protocol stream, timeouts, ssh gone
RUN_TIMEOUT = 6 * 3600.0  # hangs are caught by --timeout, ssh keep-alives and hangwatch, not by this
IO_TIMEOUT = 60.0  # rsync --timeout: seconds without any I/O before a run is given up (sync --timeout)


class Item(NamedTuple):
    """One line of rsync's itemized output (a NamedTuple: an initial sync makes 100,000 of them)."""

    code: str  # %i, e.g. '<f.st......', '<f+++++++++', '*deleting'
    size: int
    mtime: int  # seconds since the epoch (sender's mtime)
    path: str  # relative to the project root; directories end with '/'
    is_file: bool  # a regular file (not a folder, link or deletion)
    sent: bool  # its content was sent to the guest
    new: bool  # it did not exist on the guest
    deleted: bool  # deleted on the guest (--delete)


def make_item(code: str, size: int, mtime: int, path: str) -> Item:
    deleted = code.startswith("*deleting")
    is_file = len(code) > 1 and code[1] == "f" and not deleted
    return Item(code, size, mtime, path, is_file, is_file and code[0] == "<", "+++++++" in code, deleted)


class NewFiles:
    """The regular files a run sent whole to a guest that had none of them (NEW_FILE lines), as parallel
    lists rather than an Item each: a first sync lists 100,000, and an object per file (its Item, its
    manifest entry) cost more than all the rest of devenv's work on those lines (measured: 57 of 93 ms)."""

    __slots__ = ("paths", "sizes", "seconds", "nanos")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sizes: list[int] = []
        self.seconds: list[int] = []  # rsync's mtime (whole seconds, the sender's)
        self.nanos: dict[int, int] = {}  # index -> the host file's ns mtime, where HostTimes read it

    def __len__(self) -> int:
        return len(self.paths)

    def add(self, other: NewFiles) -> None:
        base = len(self.paths)
        self.paths += other.paths
        self.sizes += other.sizes
        self.seconds += other.seconds
        self.nanos.update((base + i, ns) for i, ns in other.nanos.items())

    def mtime_ns(self, i: int) -> int:
        """The ns mtime the guest copy got: read from the host file, else rsync's whole second."""
        ns = self.nanos.get(i)
        return self.seconds[i] * 1_000_000_000 if ns is None else ns

    def as_items(self) -> list[Item]:
        return [Item(NEW_FILE, size, sec, path, True, True, True, False)
                for path, size, sec in zip(self.paths, self.sizes, self.seconds, strict=True)]


@dataclass(frozen=True)
class Run:
    items: list[Item] = field(default_factory=list)  # everything but the new files: folders, updates, ...
    stderr: str = ""
    existing: list[str] = field(default_factory=list)  # skipped by --ignore-existing
    clock: Clock | None = None  # the guest's clock, read in this run's own session (argv clock=True)
    new: NewFiles = field(default_factory=NewFiles)  # the files sent whole that the guest did not have


class Clock(NamedTuple):
    """The guest's clock as its shell read it just before starting rsync, and the host's clock around it:
    at the run's start and when its first line came (or it ended), whichever was sooner."""

    guest: float
    before: float
    after: float


def argv(
    guest: Guest,
    src: str,
    *,
    backup_dir: str,
    excludes: Sequence[str] = (),
    exclude_from: str | None = None,
    extra: Sequence[str] = (),
    control_path: str | None = None,
    backup: bool = True,
    io_timeout: float = IO_TIMEOUT,
    marker: str | None = None,
    program: rsyncflavour.Rsync | None = None,
    master: str | None = None,
    clock: bool = False,
) -> list[str]:
    """backup=False only with --ignore-existing (nothing on the guest is replaced, so nothing to keep).
    marker: put DEVENV_SYNC=<marker> in the guest rsync's environment, so a stuck one can be found.
    program: the host rsync (rsyncflavour.select); None selects it here.
    master: a socket path (in a private folder) where rsync's own ssh serves other ssh calls of the same
    sync while it runs (the hang probe), so they skip a handshake; not with control_path.
    clock: the guest's shell prints its clock on stderr before it starts rsync (see clock_program), so the
    clock needs no ssh session of its own; run_once(clock=True) reads it."""
    program = program or rsyncflavour.select(remembered=guest.host_rsync)
    rsh = ssh.rsh(guest, control_path)
    if master and not control_path:
        rsh += " " + shlex.join(["-o", "ControlMaster=auto", "-o", f"ControlPath={master}",
                                 "-o", "ControlPersist=no"])
    args = [
        program.path, "-a", "-8", program.protect_flag, "-e", rsh,
        f"--out-format={OUT_FORMAT}", f"--timeout={max(1, round(io_timeout))}",
        *(["--backup", f"--backup-dir={BACKUP_ROOT}/{backup_dir}"] if backup else []),
    ]
    args += [f"--exclude={p}" for p in (*excludes_mod.DEFAULT, *excludes)]
    if exclude_from:
        args.append(f"--exclude-from={exclude_from}")
    remote = remote_program(guest.rsync_path, marker)
    if clock and can_read_clock(guest.rsync_path):
        remote = clock_program(remote or "rsync")
    if remote:
        args.append(f"--rsync-path={remote}")
    return [*args, *extra, src.rstrip("/") + "/", f"{guest.destination}:{guest.path.rstrip('/')}/"]


_PLAIN_PROGRAM = re.compile(r"[\w./+-]+")


def remote_program(rsync_path: str | None, marker: str | None) -> str | None:
    """The --rsync-path value: rsync runs it through the guest's login shell (its documented use), so a
    plain program gets the marker through `env` (POSIX, any login shell); a shell command the user gave
    (`sudo rsync`, `cd x && rsync`) is passed as it is, without a marker (its processes cannot be reaped)."""
    if marker is None or (rsync_path and not _PLAIN_PROGRAM.fullmatch(rsync_path)):
        return rsync_path
    return f"/usr/bin/env DEVENV_SYNC={marker} {rsync_path or 'rsync'}"  # a path: the guest's PATH may be odd


CLOCK_TAG = "DEVENV_GUEST_CLOCK="
# The login shell may be any (sh, bash, csh, fish): it only sees a single-quoted word for /bin/sh, which runs
# date, then execs the program and rsync's own arguments ("$0" "$@"), so nothing else is quoted for it.
_CLOCK_SH = f"date +{CLOCK_TAG}%s.%N >&2; exec \"$0\" \"$@\""


def can_read_clock(rsync_path: str | None) -> bool:
    """A plain program can be wrapped; a shell command the user gave (`sudo rsync`) is left as it is."""
    return not rsync_path or bool(_PLAIN_PROGRAM.fullmatch(rsync_path))


def clock_program(remote: str) -> str:
    """remote (a program and NAME=VALUE words, never shell syntax) started by /bin/sh after `date`."""
    return f"/bin/sh -c {shlex.quote(_CLOCK_SH)} {remote}"


def read_clock(stderr: str) -> tuple[float | None, str]:
    """The guest's clock line from a run's stderr, and the stderr without it."""
    head, tag, rest = stderr.partition(CLOCK_TAG)
    if not tag:
        return None, stderr
    value, _, tail = rest.partition("\n")
    try:
        return float(value), head + tail
    except ValueError:
        return None, head + tail


def run_once(
    guest: Guest, args: list[str], *, input: str | None = None, marker: str | None = None,
    io_timeout: float = IO_TIMEOUT, times: HostTimes | None = None,
    probe_path: str | None = None, clock: bool = False,
) -> Run:
    """One rsync run; its itemized lines are parsed while it runs.
    times: read the nanosecond mtime of every file sent, as it is listed (see HostTimes).
    probe_path: an ssh master socket the hang probe goes through (rsync's own, see argv's master).
    clock: argv was given clock=True; Run.clock is the guest's clock line, if its shell printed one.
    Raises RsyncFailure (a GuestError with .transient) when it failed, ShareHung when the guest folder's
    share stopped answering (marker: the one given to argv, to kill the guest's side)."""
    parser = Parser(times)
    watch = hangwatch.Watch(guest, marker, io_timeout, probe_path) if marker else None
    before = time.time()
    try:
        # rsync -8 prints a name's bytes as they are: surrogateescape keeps a name that is not UTF-8 (and the
        # --files-from names sent to it) exact, so os.fsencode gives the file's own bytes back
        res = proc.run_line_batches(args, parser.feed_lines, timeout=RUN_TIMEOUT, input=input, env=_env(),
                                    what="rsync", on_start=watch.start if watch else None, errors="surrogateescape")
    finally:
        hung = watch.stop() if watch else None
        if times is not None:
            times.close()
    guest_now, stderr = read_clock(res.stderr) if clock else (None, res.stderr)
    if clock:
        res = proc.Result(res.args, res.returncode, res.stdout, stderr)
    if hung is not None:
        raise share_hung(guest, hung, parser.items, parser.new)
    if res.ok:
        # the first line came after the guest's shell read its clock (its rsync had started by then)
        after = parser.first_line if parser.first_line is not None else time.time()
        seen = Clock(guest_now, before, after) if guest_now is not None else None
        return Run(parser.items, res.stderr, parser.existing, seen, parser.new)
    raise failure(guest, res, parser.items, parser.new)


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "TZ": "UTC", "LC_ALL": "C"}


_ESC = re.compile(r"\\#([0-7]{3})")


def unescape(name: str) -> str:
    """rsync writes unprintable bytes as \\#ooo (octal)."""
    raw = _ESC.sub(lambda m: chr(int(m.group(1), 8)), name)
    return raw.encode("latin-1", "surrogateescape").decode("utf-8", "surrogateescape") if _ESC.search(name) else raw


NEW_FILE = "<f+++++++++"  # %i of a regular file the guest did not have, sent whole


class HostTimes:
    """The ns mtimes rsync gave the guest copies (it preserves the host's), read from the host as it lists them.

    rsync prints only seconds; the host file has the rest, unless it changed since rsync listed it: then
    seconds only (compared coarsely). lstat goes through the open folder (fstatat) of the last file's
    folder: rsync lists a folder's files together, and a relative lookup costs less than the whole path.
    recent: files whose mtime second is older keep rsync's whole second, unread (see sync.coarse_limit):
    the lstat is a third of devenv's own work in a big first sync, and there it tells nothing."""

    def __init__(self, root: str, *, unchanged: bool = False, recent: int | None = None) -> None:
        self.base = root.rstrip(os.sep) + os.sep
        self.unchanged = unchanged  # also the files listed unchanged (-ii), not only those sent
        self.recent = recent if recent is not None else -(2**62)  # a second; older files are not read
        self.entries: dict[str, list[int]] = {}  # path -> [size, mtime ns] of the listed files but new ones
        self.folder: str | None = None  # the folder open as fd (relative, "" for the root)
        self.fd = -1

    def enter(self, folder: str) -> None:
        self.close()
        self.fd = os.open(self.base + folder if folder else self.base, os.O_RDONLY | os.O_DIRECTORY)
        self.folder = folder

    def read(self, path: str, size: int, mtime: int) -> None:
        self.entries[path] = [size, mtime * 1_000_000_000 if mtime < self.recent
                              else self.stat_ns(path, size, mtime)]

    def stat_ns(self, path: str, size: int, mtime: int) -> int:
        """The host file's ns mtime if it is still what rsync listed (size, second), else the whole second."""
        folder, _, name = path.rpartition("/")
        try:
            if folder != self.folder:
                self.enter(folder)
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            self.close()
            return mtime * 1_000_000_000
        ns = st.st_mtime_ns
        return ns if st.st_size == size and ns // 1_000_000_000 == mtime else mtime * 1_000_000_000

    def refine(self, since: int | None, news: Sequence[NewFiles]) -> int:
        """Read the ns mtime of the files kept in whole seconds whose second is `since` or later (None: all of
        them), in `entries` and in each of `news` (every run's): after the run, when the guest's clock says
        they could be confused with a guest edit. Returns how many were read."""
        if since is not None and since >= self.recent:
            return 0  # the usual case: the guest's clock is not behind the host's
        low, high = -(2**62) if since is None else since, self.recent
        read = 0
        for path, entry in self.entries.items():
            ns = entry[1]
            if not ns % 1_000_000_000 and low <= ns // 1_000_000_000 < high:
                entry[1] = self.stat_ns(path, entry[0], ns // 1_000_000_000)
                read += 1
        for new in news:  # all at once: the window narrows below (self.recent) once they are read
            for i, sec in enumerate(new.seconds):
                if low <= sec < high and i not in new.nanos:
                    new.nanos[i] = self.stat_ns(new.paths[i], new.sizes[i], sec)
                    read += 1
        self.close()
        self.recent = -(2**62) if since is None else min(self.recent, since)
        return read

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.folder = -1, None


class Parser:
    """Turns itemized lines (OUT_FORMAT) into Items and NewFiles, a read's worth of lines at a time.

    times: read the nanosecond mtime of each file sent (times.unchanged: or listed) as its line comes. A
    first sync lists every file of the tree as a new file: those lines take a short path, the rest the
    general one."""

    def __init__(self, times: HostTimes | None = None) -> None:
        self.items: list[Item] = []
        self.new = NewFiles()
        self.existing: list[str] = []  # "NAME exists" (--ignore-existing --info=skip1)
        self.times = times
        self.stamps: dict[str, int] = {}  # many files share a second: strptime once per distinct stamp
        self.first_line: float | None = None  # time.time() of the first line (the first takes the general path)

    def feed(self, line: str) -> None:
        self.feed_lines([line])

    def feed_lines(self, lines: list[str]) -> None:
        # The short path: a new file sent whole, in a second seen before (100,000 of them in a first sync):
        # one split, no strptime, three appends, every lookup made once per read.
        times = self.times
        recent = times.recent if times is not None else 2**62
        new = self.new
        general, stamps, nanos = self._feed, self.stamps, new.nanos
        add_path, add_size, add_second = new.paths.append, new.sizes.append, new.seconds.append
        for line in lines:
            parts = line.split("\t", 3)
            if len(parts) != 4 or parts[0] != NEW_FILE or not parts[1].isdigit():
                general(line)
                continue
            mtime = stamps.get(parts[2])
            if mtime is None:
                general(line)  # a new second: the general path parses it once
                continue
            name = parts[3]
            path = unescape(name) if "\\#" in name else name
            size = int(parts[1])
            if mtime >= recent:  # a file changed lately: its ns mtime (an old one keeps rsync's second)
                assert times is not None
                nanos[len(new.paths)] = times.stat_ns(path, size, mtime)
            add_path(path)
            add_size(size)
            add_second(mtime)

    def _feed(self, line: str) -> None:
        if self.first_line is None:
            self.first_line = time.time()
        parts = line.split("\t", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            if line.endswith(" exists"):
                self.existing.append(line[: -len(" exists")])
            return  # rsync's own messages
        code, size, stamp, name = parts
        mtime = self.stamps.get(stamp)
        if mtime is None:
            try:
                mtime = self.stamps[stamp] = calendar.timegm(time.strptime(stamp, "%Y/%m/%d-%H:%M:%S"))
            except ValueError:
                return
        code = code.strip()
        path = unescape(name) if "\\#" in name else name
        times = self.times
        if code == NEW_FILE:
            new = self.new
            if times is not None and mtime >= times.recent:
                new.nanos[len(new.paths)] = times.stat_ns(path, int(size), mtime)
            new.paths.append(path)
            new.sizes.append(int(size))
            new.seconds.append(mtime)
            return
        item = make_item(code, int(size), mtime, path)
        self.items.append(item)
        if times is not None and item.is_file and (item.sent or times.unchanged):
            times.read(item.path, item.size, item.mtime)


class RsyncFailure(ssh.SshFailure):
    """A failed run; `items` and `new` hold what it did before failing (for the manifest and conflicts)."""

    items: list[Item] = []
    new: NewFiles = NewFiles()


class ShareHung(RsyncFailure):
    """The guest folder is on a share that stopped answering: not the network, and no retry helps."""

    exit_code = HUNG


def share_hung(guest: Guest, hung: hangwatch.Hung, items: list[Item], new: NewFiles | None = None) -> ShareHung:
    where = f" (the {hung.fstype} mount {hung.mount_point})" if hung.mount_point else ""
    if hung.left:
        guest_side = (f"{hung.killed} of its processes on the guest were killed, {hung.left} are stuck in the "
                      "kernel and end when the share answers or is unmounted")
    elif hung.killed:
        guest_side = f"its {hung.killed} process(es) on the guest were killed"
    else:
        guest_side = "no process of it was left on the guest"
    mount = hung.mount_point or "<mount point>"
    exc = ShareHung(
        f"the guest folder {hung.path} on {guest.name} is on a share that hangs{where}: it did not answer "
        f"statvfs within {hung.deadline:g} s, so rsync was stopped and {guest_side}",
        f"the guest can be reached; its share cannot. On the guest, unmount it lazily (sudo umount -l {mount}; "
        f"FUSE: fusermount -u -z {mount}) and mount it again, or restart what serves it; `devenv share check "
        f"{hung.path}` run in the guest says more. Then: devenv sync {guest.name}",
    )
    exc.items = items
    exc.new = new if new is not None else NewFiles()
    return exc


def failure(guest: Guest, res: proc.Result, items: list[Item], new: NewFiles | None = None) -> RsyncFailure:
    err = res.stderr
    code = res.returncode
    detail = proc.tail(err, 4)
    exc: ssh.SshFailure
    # sh: "rsync: not found"; bash: "rsync: command not found"; env (the marker, see remote_program):
    # "/usr/bin/env: '/x/rsync': No such file or directory" (GNU env quotes with ' or ‘’ in a UTF-8 locale)
    if code == 127 or re.search(r"rsync: (command )?not found|rsync: No such file|env: .*rsync.*: No such file",
                                err, re.MULTILINE):
        exc = ssh.SshFailure(
            f"rsync is not available on the guest {guest.name}: {detail}",
            "install it in the guest (Debian/Ubuntu: sudo apt-get install rsync; Fedora: sudo dnf install "
            "rsync), or point devenv at it: devenv guest add ... --rsync-path PATH",
        )
    elif m := re.search(r"on remote machine: (-[-\w]+)[^:]*: unknown option", err):
        exc = ssh.SshFailure(
            f"the rsync on the guest {guest.name} is too old for devenv sync: it does not know {m.group(1)}",
            "upgrade it to GNU rsync 3.1 or newer in the guest (Debian/Ubuntu: sudo apt-get install rsync), "
            "or point devenv at a newer one there: devenv guest add ... --rsync-path PATH",
        )
    elif code == 1 and re.search(r"unknown option|unrecognized option|illegal option", err):
        exc = ssh.SshFailure(
            f"the host's rsync ({res.args[0] if res.args else 'rsync'}) refused devenv's options: {detail}",
            rsyncflavour.INSTALL,
        )
    elif code == 255 or "connection unexpectedly closed (0 bytes" in err:
        exc = ssh.classify(guest, err)
    elif re.search(r"Permission denied|Read-only file system", err):
        exc = ssh.SshFailure(
            f"cannot write to {guest.path} on the guest {guest.name}: {detail}",
            f"make it writable for the guest user: ssh {guest.destination} sudo chown -R \\$(id -u) "
            f"{guest.path}, or choose another --path",
        )
    elif code == 11 and "mkdir" in err:
        exc = ssh.SshFailure(
            f"cannot create {guest.path} on the guest {guest.name}: {detail}",
            "create its parent folder on the guest, or choose another --path",
        )
    else:
        exc = ssh.SshFailure(f"rsync to {guest.name} failed (exit {code}): {detail}",
                             "run again with -v; if it persists, try the same rsync by hand",
                             transient=code in TRANSIENT_EXIT)
    out = RsyncFailure(exc.message, exc.hint, transient=exc.transient)
    out.items = items
    out.new = new if new is not None else NewFiles()
    return out

