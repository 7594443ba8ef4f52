"""Where the suite's time goes: a pytest plugin that records, for every test, its wall time and the CPU time of its
test process with all that process's descendants (pools, jobs, subprocesses), and a summary of those records.

    make test PYTEST_ARGS=--suite-cpu      # records in .suite-cpu/, one file per test process (conftest.py)
    .venv/bin/python tests/suite_cpu.py     # per process, per file, per xdist group, the slowest tests

pytest's `--durations` gives wall times only, which on a shared machine mostly measure the load. The CPU of a
test's process tree is steadier, and it counts what a test makes others do (a job in the judge, a subprocess).
It is read from /proc before and after each test: this process, every live descendant, and what the reaped ones
used. What a process detached from the tree used (the tmux server and the app it runs) is not counted; what runs
while a test runs is counted to it, a session pool's start to the first test that asks for it. Linux only.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RECORDS = Path(os.environ.get("SUITE_CPU_DIR", Path(__file__).resolve().parent.parent / ".suite-cpu"))
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(pid: int | None = None) -> float:
    """Seconds of CPU (user and system) used by `pid` (this process), its live descendants and their reaped
    children."""
    total = 0
    stack = [pid or os.getpid()]
    while stack:
        process = stack.pop()
        try:
            with open(f"/proc/{process}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile: its parent's reaped-children times have it, or will
        total += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
        try:
            tasks = os.listdir(f"/proc/{process}/task")
        except OSError:
            continue  # it ended between reading its times and listing its threads
        for task in tasks:
            try:
                with open(f"/proc/{process}/task/{task}/children") as children:
                    stack += [int(child) for child in children.read().split()]
            except OSError:
                pass
    return total / TICKS


class Recorder:
    def __init__(self) -> None:
        self.process = os.environ.get("PYTEST_XDIST_WORKER", "main")
        RECORDS.mkdir(exist_ok=True)
        self.file = (RECORDS / f"{self.process}.jsonl").open("w")
        self.mark("start")

    def mark(self, event: str, **extra: Any) -> None:
        record = {"event": event, "at": time.monotonic(), "cpu": tree_cpu(), **extra}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()


_recorder: Recorder | None = None


def pytest_configure(config: Any) -> None:
    global _recorder
    _recorder = Recorder()


def pytest_collection_finish(session: Any) -> None:
    if _recorder:
        _recorder.mark("collected", tests=len(session.items))


def pytest_runtest_protocol(item: Any, nextitem: Any) -> None:
    if _recorder:
        _recorder.mark("test", test=item.nodeid)


def pytest_sessionfinish(session: Any) -> None:
    if _recorder:
        _recorder.mark("finish")


def pytest_unconfigure(config: Any) -> None:
    if _recorder:
        _recorder.mark("end")
        _recorder.file.close()


# --- the summary ------------------------------------------------------------------------------------------------


def _read(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {path.stem: [json.loads(line) for line in path.open()] for path in sorted(folder.glob("*.jsonl"))}


def summary(folder: Path = RECORDS, slowest: int = 20) -> str:
    """Per process (collection, tests, the rest), per file and per xdist group (CPU, wall, tests), and the slowest
    tests by CPU and by wall. A test's figures run from its start to the next test's (its teardown included)."""
    lines = []
    tests: list[dict[str, Any]] = []
    for process, records in _read(folder).items():
        marks = {r["event"]: r for r in records if r["event"] != "test"}
        ran = [r for r in records if r["event"] in ("test", "finish")]
        for record, after in zip(ran, ran[1:], strict=False):
            if record["event"] == "test":
                tests.append(
                    {
                        "test": record["test"],
                        "process": process,
                        "wall": after["at"] - record["at"],
                        "cpu": after["cpu"] - record["cpu"],
                    }
                )
        if "start" in marks and "end" in marks and "collected" not in marks:  # pytest-xdist's controller
            start, end = marks["start"], marks["end"]
            lines.append(
                f"{process} (pytest-xdist's controller, with every process under it): "
                f"{end['at'] - start['at']:.1f} s wall, {end['cpu'] - start['cpu']:.1f} s CPU"
            )
        elif "start" in marks and "end" in marks:
            start, end = marks["start"], marks["end"]
            collected = marks.get("collected", start)
            finish = marks.get("finish", end)
            lines.append(
                f"{process}: {marks.get('collected', {}).get('tests', 0)} collected, "
                f"{sum(1 for t in tests if t['process'] == process)} run; "
                f"collection {collected['at'] - start['at']:.1f} s wall, {collected['cpu'] - start['cpu']:.1f} s CPU; "
                f"tests {finish['at'] - collected['at']:.1f} s wall, {finish['cpu'] - collected['cpu']:.1f} s CPU; "
                f"whole {end['at'] - start['at']:.1f} s wall, {end['cpu'] - start['cpu']:.1f} s CPU"
            )

    def table(title: str, key: Any) -> None:
        sums: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
        for test in tests:
            row = sums[key(test)]
            row[0] += test["cpu"]
            row[1] += test["wall"]
            row[2] += 1
        lines.append(f"\n{title}: CPU s, wall s, tests")
        for name, (cpu, wall, count) in sorted(sums.items(), key=lambda item: -item[1][0]):
            lines.append(f"{cpu:8.1f} {wall:8.1f} {count:6d}  {name}")

    table("per file", lambda test: test["test"].split("::")[0])
    table("per xdist group", lambda test: test["test"].rpartition("@")[2] if "@" in test["test"] else "(none)")
    for measure in ("cpu", "wall"):
        lines.append(f"\nthe {slowest} slowest tests by {measure}: CPU s, wall s, process")
        for test in sorted(tests, key=lambda test: -test[measure])[:slowest]:
            lines.append(f"{test['cpu']:8.1f} {test['wall']:8.1f}  {test['process']:5}  {test['test']}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]) if len(sys.argv) > 1 else RECORDS))
