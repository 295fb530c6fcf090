"""proc.run_lines reads a child's stdout in chunks (not a wakeup per line): every line still arrives, in
order, decoded as before, promptly; the timeout, a watchdog's kill and Ctrl-C still stop the child."""

from __future__ import annotations

import locale
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devenv import proc


def child(code: str) -> list[str]:
    """A Python child running `code`; `out(b)` writes bytes to stdout in one write() (no buffering)."""
    prelude = "import os, sys, time\ndef out(b): os.write(1, b)\n"
    return [sys.executable, "-c", prelude + code]


def collect(code: str, **kwargs: object) -> tuple[list[str], proc.Result]:
    lines: list[str] = []
    res = proc.run_lines(child(code), lines.append, timeout=kwargs.pop("timeout", 60), **kwargs)  # type: ignore[arg-type]
    return lines, res


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (a grandchild, reparented)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("gather", [proc.GATHER, 0.0])
def test_100k_lines_one_write_each_arrive_complete_and_in_order(gather: float) -> None:
    lines, res = collect("for i in range(100000): out(b'<f+++++++++\\t187\\t2026/12/01-10:00:00\\tpkg/f%d.py\\n' % i)",
                         gather=gather)
    assert res.ok and res.stdout == ""
    assert lines == [f"<f+++++++++\t187\t2026/12/01-10:00:00\tpkg/f{i}.py" for i in range(100000)]


def test_lines_longer_than_a_read_and_empty_lines() -> None:
    long = "x" * (3 * proc.READ_CHUNK + 17)
    lines, _ = collect(f"out(b'a\\n\\n'); out(b'x' * {len(long)} + b'\\n'); out(b'\\nb\\n')")
    assert lines == ["a", "", long, "", "b"]


def test_a_last_line_without_newline_is_delivered() -> None:
    lines, res = collect("out(b'one\\ntwo\\nthree')")
    assert lines == ["one", "two", "three"]
    assert res.ok
    assert collect("out(b'only')")[0] == ["only"]
    assert collect("pass")[0] == []


def test_newlines_as_text_mode_read_them_even_split_across_reads() -> None:
    # universal newlines, as iterating the text=True pipe did: \r\n and a lone \r end a line too; a \r\n
    # (and a UTF-8 character) cut in two by separate writes is still one
    code = ("out(b'a\\r\\nb\\rc\\n'); out(b'd\\r'); time.sleep(0.2); out(b'\\ne '); out(b'\\xc3'); time.sleep(0.2); "
            "out(b'\\xa9\\n')")
    assert collect(code)[0] == ["a", "b", "c", "d", "e \u00e9"]


def test_invalid_utf8_is_replaced_as_before() -> None:
    data = b"ok \xff\xfe end\nhalf \xc3\nlast \xe2\x82"
    lines, _ = collect(f"out({data!r})")
    # what iterating Popen(text=True, errors="replace") gave: the locale's encoding, U+FFFD for bad bytes
    expected = data.decode(locale.getpreferredencoding(False), "replace").split("\n")
    assert lines == expected
    assert lines[0] == "ok \ufffd\ufffd end"
    with subprocess.Popen(child(f"out({data!r})"), stdout=subprocess.PIPE, text=True, errors="replace") as old:
        assert old.stdout is not None
        assert [line.rstrip("\n") for line in old.stdout] == lines


def test_stderr_is_kept_whole_beside_many_lines() -> None:
    code = "for i in range(20000):\n    out(b'%d\\n' % i)\n    os.write(2, b'err %d\\n' % i)\nsys.exit(3)"
    lines, res = collect(code)
    assert lines == [str(i) for i in range(20000)]
    assert res.returncode == 3
    assert res.stderr == "".join(f"err {i}\n" for i in range(20000))


def test_input_is_fed_while_lines_are_read() -> None:
    text = "".join(f"line {i}\n" for i in range(50000))
    lines, _ = collect("sys.stdout.write(sys.stdin.read())", input=text)
    assert lines == [f"line {i}" for i in range(50000)]


def test_each_line_arrives_before_the_next_is_written() -> None:
    # promptness without a timed threshold: the child stamps each line just before writing it; the first
    # must have reached on_line before the second was even written (the clock is the same: CLOCK_MONOTONIC)
    code = "for n in range(3):\n    out(b'%r\\n' % time.monotonic())\n    time.sleep(0.5)"
    arrived: list[tuple[float, float]] = []
    proc.run_lines(child(code), lambda line: arrived.append((float(line), time.monotonic())), timeout=60)
    assert len(arrived) == 3
    for (_, got), (written_next, _) in zip(arrived, arrived[1:], strict=False):
        assert got < written_next


def test_the_end_of_output_ends_the_gather_wait() -> None:
    # a wait that only a closed pipe can end early: the end of a run costs no extra wait
    r, w = os.pipe()
    try:
        wait = proc._gather(r)
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (wait(60.0), done.set()), daemon=True)
        waiter.start()
        os.write(w, b"data does not end it\n")
        assert not done.wait(0.3)
        os.close(w)
        w = -1
        assert done.wait(30)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_timeout_fires_on_a_silent_child_and_stops_its_group() -> None:
    code = ("import subprocess\nkid = subprocess.Popen(['sleep', '300'])\nout(b'%d %d\\n' % (os.getpid(), kid.pid))\n"
            "time.sleep(300)")
    lines: list[str] = []
    with pytest.raises(proc.Timeout, match="did not finish within 3 s"):
        proc.run_lines(child(code), lines.append, timeout=3.0)
    pids = [int(p) for p in lines[0].split()]
    assert all(wait_gone(p) for p in pids)


def test_a_child_killed_by_a_signal_ends_the_read() -> None:
    lines, res = collect("out(b'before\\npartial'); os.kill(os.getpid(), 9)")
    assert lines == ["before", "partial"]
    assert res.returncode == -signal.SIGKILL


def test_a_watchdog_killing_the_group_ends_the_read() -> None:
    # what hangwatch does: on_start gets the child and may kill its whole group while lines are read
    seen = threading.Event()
    lines: list[str] = []

    def watchdog(started: subprocess.Popen[str]) -> None:
        threading.Thread(target=lambda: seen.wait(60) and proc.kill_group(started), daemon=True).start()

    def on_line(line: str) -> None:
        lines.append(line)
        seen.set()

    res = proc.run_lines(child("out(b'started\\n')\ntime.sleep(300)"), on_line, timeout=60, on_start=watchdog)
    assert lines == ["started"]
    assert res.returncode == -signal.SIGKILL


def test_an_error_in_on_line_stops_the_child() -> None:
    pids: list[int] = []

    def on_line(line: str) -> None:
        pids.append(int(line))
        raise ValueError("caller gave up")

    with pytest.raises(ValueError, match="caller gave up"):
        proc.run_lines(child("out(b'%d\\n' % os.getpid())\ntime.sleep(300)"), on_line, timeout=60)
    assert wait_gone(pids[0])


@pytest.mark.parametrize("gather", [0.0, 30.0], ids=["in-read", "in-gather-wait"])
def test_ctrl_c_while_reading_stops_the_child(gather: float) -> None:
    # gather=30: after the first (small) read run_lines sits in its wait, not in read(); both must give way
    pids: list[int] = []
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def on_line(line: str) -> None:
        pids.append(int(line))
        threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT)).start()

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            proc.run_lines(child("out(b'%d\\n' % os.getpid())\ntime.sleep(300)"), on_line, timeout=60,
                           gather=gather)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert pids and wait_gone(pids[0])
