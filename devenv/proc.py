"""The one place that starts processes.

Always an argument list (never a shell string), always a timeout, and a missing program becomes a
ToolMissing that names it. On timeout the whole process group is killed, so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from devenv.errors import DevenvError, ToolMissing

# Hints for the tools devenv relies on, shown when one is missing.
INSTALL_HINTS = {
    "git": "install git (Debian/Ubuntu: apt-get install git)",
    "rsync": "install rsync (Debian/Ubuntu: apt-get install rsync)",
    "ssh": "install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)",
    "bindfs": "install bindfs (Debian/Ubuntu: apt-get install bindfs)",
    "uv": "pip install uv, or pass --installer pip",
    "vagrant": "install Vagrant, or add the guest with --ssh USER@HOST",
}


class Timeout(DevenvError):
    pass


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    input: str | None = None,
    check: bool = False,
    what: str | None = None,
    errors: str = "replace",
) -> Result:
    """Run a program and wait for it at most `timeout` seconds.

    capture=False lets the child write to our terminal (installer progress); stdout/stderr are then "".
    check=True raises DevenvError with the tail of stderr when the exit code is not zero.
    errors: how undecodable bytes in its input and output are handled; "surrogateescape" where they are
    file names that must survive the round trip (os.fsencode gives the bytes back).
    """
    argv = [os.fspath(a) for a in args]
    try:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            text=True,
            errors=errors,
            start_new_session=True,  # our own process group, so a timeout kills children too
            preexec_fn=_die_with_us(),
        )
    except FileNotFoundError as exc:
        prog = os.path.basename(argv[0])
        raise ToolMissing(f"{prog} is not installed (or not on PATH)", INSTALL_HINTS.get(prog)) from exc
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_group(proc)
        raise Timeout(
            f"{what or os.path.basename(argv[0])} did not finish within {timeout:g} s and was stopped"
        ) from exc
    except BaseException:
        # Ctrl-C or anything else: never leave the child behind.
        kill_group(proc)
        raise
    result = Result(tuple(argv), proc.returncode, out or "", err or "")
    if check and not result.ok:
        raise DevenvError(
            f"{what or os.path.basename(argv[0])} failed (exit {result.returncode}): {tail(result.stderr)}"
        )
    return result


_PR_SET_PDEATHSIG = 1


def _die_with_us() -> Callable[[], None] | None:
    """A preexec hook that makes the child die when devenv does (Linux PR_SET_PDEATHSIG).

    The children run in sessions of their own (so a timeout can kill their whole group), which also
    means a `kill -9` of devenv used to leave uv, pip or rsync running. Only for children devenv waits
    for in the same thread: the signal follows the thread that started the child. libc is loaded here,
    in the parent; the child only makes the one call (and exits if devenv died before it could).
    """
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # devenv was already gone: the signal came before the hook
            os._exit(1)

    return hook


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def tail(text: str, lines: int = 5) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return "\n    ".join(kept) if kept else "(no output)"


def stream(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    log_path: str | os.PathLike[str],
    echo: bool,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> Result:
    """Run a long command (an installer), copying its output line by line to a log and, when `echo`,
    to our stdout, so the user sees progress while we keep everything for the error message."""
    import sys
    import threading

    argv = [os.fspath(a) for a in args]
    try:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            argv, cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True, preexec_fn=_die_with_us(),
        )
    except FileNotFoundError as exc:
        prog = os.path.basename(argv[0])
        raise ToolMissing(f"{prog} is not installed (or not on PATH)", INSTALL_HINTS.get(prog)) from exc
    chunks: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        with open(log_path, "a", encoding="utf-8") as log:
            for line in proc.stdout:
                chunks.append(line)
                log.write(line)
                if echo:
                    sys.stdout.write("    " + line)
                    sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_group(proc)
        raise Timeout(f"{what or os.path.basename(argv[0])} did not finish within {timeout:g} s and was stopped") \
            from exc
    except BaseException:
        kill_group(proc)
        raise
    reader.join(timeout=10)
    out = "".join(chunks)
    return Result(tuple(argv), proc.returncode, out, out)


def spawn(args: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a long-running helper (e.g. an ssh master connection for `sync --watch`) without waiting.

    Its own process group, no stdin, output discarded; the caller must end it with stop().
    """
    argv = [os.fspath(a) for a in args]
    try:
        return subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            argv, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
    except FileNotFoundError as exc:
        prog = os.path.basename(argv[0])
        raise ToolMissing(f"{prog} is not installed (or not on PATH)", INSTALL_HINTS.get(prog)) from exc


def stop(child: subprocess.Popen[str], grace: float = 2.0) -> None:
    """End a spawned helper: SIGTERM, then SIGKILL for its whole group after `grace` seconds."""
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=grace)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
    kill_group(child)


# run_lines reads the child's stdout up to this many bytes at a time (a Linux pipe holds 64 KiB).
READ_CHUNK = 65536
# After a read shorter than this, wait a little before reading again, so that the lines written meanwhile
# come in one read. rsync writes its itemized list with one write() per line: read as it came, that was one
# wakeup, one read and one decode per line (0.6-0.8 s of CPU at 100,000 files); in chunks, 0.12-0.17 s.
# Not "shorter than READ_CHUNK": a full pipe of short writes reads back a little under 64 KiB (a write that
# does not fit the rest of a page starts a new one). A read this big means the child is ahead: read on.
SMALL_READ = READ_CHUNK // 4
# The longest such wait. A line written during it reaches on_line at most this much later; the lines already
# read are handed over before it, and the end of the output ends it at once (see _gather).
GATHER = 0.005


def run_lines(
    args: Sequence[str | os.PathLike[str]],
    on_line: Callable[[str], None],
    *,
    timeout: float,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    gather: float = GATHER,
    errors: str = "replace",
) -> Result:
    """run_line_batches, one line at a time: on_line(line)."""
    def each(lines: list[str]) -> None:
        for line in lines:
            on_line(line)

    return run_line_batches(args, each, timeout=timeout, input=input, env=env, what=what, on_start=on_start,
                            gather=gather, errors=errors)


def run_line_batches(
    args: Sequence[str | os.PathLike[str]],
    on_lines: Callable[[list[str]], None],
    *,
    timeout: float,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    gather: float = GATHER,
    errors: str = "replace",
) -> Result:
    """Like run(), but hands stdout's lines to on_lines as they come, a list per read (so the caller's work
    overlaps the child's, e.g. parsing rsync's itemized list during the transfer, and its per-line lookups
    are made once per read). Result.stdout is left empty.
    on_start gets the child once it runs (a watchdog that may kill its group); it must not read its stdout.
    gather: seconds to let output pile up after a small read (GATHER); 0 for a caller that needs every
    line the moment it is written. Lines are decoded as text=True would (locale encoding, `errors` as run's,
    universal newlines) and passed without their newline; a last line without one is passed too."""
    import threading
    argv = [os.fspath(a) for a in args]
    try:
        child = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            argv, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors=errors, start_new_session=True,
            preexec_fn=_die_with_us(),
        )
    except FileNotFoundError as exc:
        prog = os.path.basename(argv[0])
        raise ToolMissing(f"{prog} is not installed (or not on PATH)", INSTALL_HINTS.get(prog)) from exc
    err: list[str] = []
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        kill_group(child)

    timer = threading.Timer(timeout, expire)
    helpers = [threading.Thread(target=lambda: err.append(child.stderr.read() if child.stderr else ""), daemon=True)]
    if input is not None:
        helpers.append(threading.Thread(target=_feed, args=(child, input), daemon=True))
    timer.start()
    for helper in helpers:
        helper.start()
    try:
        if on_start is not None:
            on_start(child)
        _read_lines(child, on_lines, gather)
        child.wait()
    except BaseException:
        kill_group(child)
        raise
    finally:
        timer.cancel()
    for helper in helpers:
        helper.join(timeout=10)
    if expired:
        raise Timeout(f"{what or os.path.basename(argv[0])} did not finish within {timeout:g} s and was stopped")
    return Result(tuple(argv), child.returncode, "", "".join(err))


def _read_lines(child: subprocess.Popen[str], on_lines: Callable[[list[str]], None], gather: float) -> None:
    """child's stdout, READ_CHUNK bytes at a time from its fd, cut into lines here, until its end (the child
    exits, or a timeout or watchdog kills its group). The text wrapper Popen made is only asked for its
    encoding and errors, so the lines decode exactly as iterating it did, a character or a CR LF split
    across two reads included (the same incremental decoders that wrapper uses)."""
    import codecs
    import io

    stdout = child.stdout
    assert isinstance(stdout, io.TextIOWrapper)
    fd = stdout.fileno()
    text = codecs.getincrementaldecoder(stdout.encoding)(stdout.errors or "strict")
    decoder = io.IncrementalNewlineDecoder(text, translate=True)  # universal newlines, as text=True reads
    wait = _gather(fd)
    # A fixed wait would throttle a fast child: it fills the pipe early in the wait and then blocks on it
    # (measured: 100,000 one-write lines took 0.54 s to read instead of 0.2 s). So the wait halves while the
    # read after it is big (plenty piled up), and grows back to `gather` while it is small.
    pause, waited = gather, False
    partial = ""  # the text after the last newline so far
    while chunk := os.read(fd, READ_CHUNK):
        lines = (partial + decoder.decode(chunk)).split("\n")
        partial = lines.pop()
        if lines:
            on_lines(lines)
        small = len(chunk) < SMALL_READ
        if waited:
            pause = min(gather, pause * 2) if small else max(gather / 32, pause / 2)
        waited = small and gather > 0
        if waited:
            wait(pause)
    partial += decoder.decode(b"", final=True)
    if partial:
        on_lines([partial])


def _gather(fd: int) -> Callable[[float], None]:
    """A wait of up to `seconds` that ends early when the pipe's last writer closes it (the child ended or
    was killed), so the end of the output costs no wait: on Linux a poll() for no event but the always-
    reported POLLHUP; new data does not wake it (that is the point). Elsewhere a plain sleep."""
    import sys
    import time

    if not sys.platform.startswith("linux"):
        return time.sleep
    import select

    poller = select.poll()
    poller.register(fd, 0)

    def wait(seconds: float) -> None:
        poller.poll(seconds * 1000)

    return wait


def _feed(child: subprocess.Popen[str], data: str) -> None:
    try:
        assert child.stdin is not None
        child.stdin.write(data)
        child.stdin.close()
    except (BrokenPipeError, OSError):
        pass
