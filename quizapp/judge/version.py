"""`code_version()`: one digest of every file of the judge that runs in its workers and so shapes the facts a
job sends back (and of split.py, which puts a split job's facts together). The grader keys its cache of
reference facts on it, so any change to the worker's code (the probes, the tasks, the child's set-up, the
seeding of generators) recomputes the references."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

WORKER_MODULES = (
    "child.py",
    "jail.py",
    "limits.py",
    "probes.py",
    "procs.py",
    "protocol.py",
    "seccomp.py",
    "server.py",
    "split.py",  # host side, but it puts a split job's facts together
    "tasks.py",
    "training.py",
    "verdict.py",
    "verdicts.py",
    "watch.py",
)


@functools.cache
def code_version() -> str:
    folder = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in WORKER_MODULES:
        digest.update(name.encode() + b"\0")
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()
