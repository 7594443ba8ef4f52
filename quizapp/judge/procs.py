"""File descriptor and process helpers of the worker (server side and children alike). Plain Python."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size


def widen_pipe(fd: int) -> None:
    """Let a pipe hold PIPE_BYTES (64 KB by default), so a job's result or an outcome (130 KB for a ResNet job)
    crosses it in one write instead of several round trips between writer and reader; pages are allocated
    only as they are written. Where the system refuses (a user over its pipe quota), the pipe stays as it
    was."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError, ImportError):
        pass


def log(message: str) -> None:
    try:
        os.write(2, f"[judge server {os.getpid()}] {message}\n".encode(errors="replace"))
    except OSError:
        pass


def read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while len(view):
        written = os.write(fd, view)
        view = view[written:]


def close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def status(fd: int, **event: Any) -> None:
    """One event line on a chain's status pipe (written by C, I and J before the learner's code runs)."""
    try:
        write_all(fd, json.dumps(event).encode() + b"\n")
    except OSError:
        pass


def parse_events(data: bytes | bytearray) -> list[dict[str, Any]]:
    events = []
    for line in bytes(data).split(b"\n"):
        if line.strip():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def try_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return found


def kill_descendants(reap: bool = True) -> None:
    """Kill every descendant of this process (in the server, all of them are job processes), and reap them
    if asked."""
    if not sys.platform.startswith("linux"):
        return
    me = os.getpid()
    for _ in range(100):
        stack, everyone = [me], []
        while stack:
            for child in children(stack.pop()):
                everyone.append(child)
                stack.append(child)
        if not everyone:
            break
        for pid in everyone:
            try_kill(pid)
        if not reap:
            return
        for pid in children(me):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    if not reap:
        return
    reap_exited()


def reap_exited() -> None:
    """Reap every child that has already ended, without waiting for the others."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


def default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)


MADV_COLLAPSE = 25  # Linux 6.1: back a range with transparent huge pages now, whatever the system's THP setting
HUGE_PAGE = 2 << 20


def collapse_huge_pages() -> int:
    """Back the worker's private anonymous memory (the heap, torch's and Python's allocations) with huge pages,
    once it is warm, and return how many ranges were collapsed (0 where the kernel cannot: older than 6.1, no
    THP). Each job's chain is two or three forks of the worker (I and J as root; C, I and J), and each fork
    copies, then each exit tears down, the page tables of its 220 MB of anonymous memory: 4 KB pages took a
    fork about 7 ms of CPU and an exit about 9, on every chain; 2 MB pages, about 1.3 and 3.4 (measured in a
    forked child of a warm worker).
    A page a child writes to is still copied 4 KB at a time (the kernel splits the huge mapping in the writer
    only), so what a job reads and costs is unchanged. Only the mapping changes, never the contents; the
    mappings' flags are left alone, so what a job allocates later is backed as before."""
    import ctypes
    import re

    from .jail import libc

    try:
        madvise = libc().madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as maps:
            lines = maps.readlines()
    except (OSError, AttributeError):
        return 0
    collapsed = 0
    for line in lines:
        found = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(\S*)", line)
        if found is None:
            continue
        start, end, perms, inode, name = int(found[1], 16), int(found[2], 16), found[3], found[4], found[5]
        if perms[:2] != "rw" or perms[3] != "p" or inode != "0" or name not in ("", "[heap]"):
            continue  # private anonymous memory only: not files, not the stack
        first, last = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE
        if last > first and madvise(first, last - first, MADV_COLLAPSE) == 0:
            collapsed += 1
    return collapsed
