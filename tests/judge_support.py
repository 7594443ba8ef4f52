"""Looking at a judge worker's processes from outside, for the judge's tests: its descendants, its prepared
chain (see quizapp/judge/server.py), and what a job left behind."""

from __future__ import annotations

import os
import time


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                children = []
            found += children
            stack += children
    return found


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def prepared_chain(pid: int) -> list[int]:
    """The worker's prepared chain for its next job, if that is exactly what hangs below it: a line of
    processes (C, I, J in the full jail; I, J as root, where the server forks I itself; J alone in the reduced
    one) whose last one is named quizapp-ready."""
    line, node = [], pid
    while True:
        below = children(node)
        if not below:
            break
        if len(below) != 1:
            return []
        node = below[0]
        line.append(node)
    if len(line) in (1, 2, 3) and comm(line[-1]) == "quizapp-ready":
        return line
    return []


def leftovers(pid: int, timeout: float = 15.0) -> list[int]:
    """A worker's descendants that are not its prepared chain (see server.py: while idle, a worker keeps the
    next job's chain ready), once the chain has settled: what a job left behind."""
    deadline = time.monotonic() + timeout
    while True:
        found = descendants(pid)
        extra = [p for p in found if p not in prepared_chain(pid)]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)
