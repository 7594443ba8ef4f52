"""File descriptor and process helpers of the worker (server side and children alike). Plain Python."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


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
