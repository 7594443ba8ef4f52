"""Where the suite's time goes: a pytest plugin that records, for every test, its wall time and the CPU time of its
test process with all that process's descendants (pools, jobs, subprocesses), and a summary of those records.

    make test PYTEST_ARGS=--suite-cpu      # records in .suite-cpu/, one file per test process (conftest.py)
    .venv/bin/python tests/suite_cpu.py     # per process, per file, per xdist group, the slowest tests

pytest's `--durations` gives wall times only, which on a shared machine mostly measure the load. The CPU of a
test's process tree is steadier, and it counts what a test makes others do (a job in the judge, a subprocess).
It is read from /proc before and after each test: this process, every live descendant, and what the reaped ones
used. What a process detached from the tree used (the tmux server and the app it runs) is not counted; what runs
while a test runs is counted to it, a session pool's start to the first test that asks for it. Linux only.

The controller also samples, every 0.1 s, how many threads of each test process's tree are runnable (the tmux
server and the app it runs are found by the PYTEST_XDIST_WORKER they inherit), and the summary counts the
core-seconds during which fewer threads than cores were runnable: a core idle (or lent to another program),
with the tests whose process had nothing runnable at those moments. A loaded machine hides some of it (a test
waiting on a process that waits for a core counts as busy). The sampling itself costs about a tenth of a core.
"""

from __future__ import annotations

import bisect
import collections
import json
import os
import sys
import threading
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


SAMPLES = "runnable.samples"  # the controller's samples of runnable threads, in RECORDS
SAMPLE_EVERY = 0.1  # seconds


def _stat_fields(path: str) -> list[str]:
    with open(path) as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _xdist_worker_of(pid: int) -> str | None:
    """The xdist worker a process detached from the tree belongs to (the tmux server and the app it runs), by the
    PYTEST_XDIST_WORKER its environment inherited."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            for item in environ.read().split(b"\0"):
                if item.startswith(b"PYTEST_XDIST_WORKER="):
                    return item.split(b"=", 1)[1].decode()
    except OSError:
        pass
    return None


def runnable_threads(controller: int, detached: dict[int, str | None]) -> dict[str, int]:
    """How many threads are runnable (state R: running or waiting for a core) in each test process's tree: by the
    pid of the controller's child it descends from, or by its xdist worker's id for a process detached from the
    tree (cached in `detached`)."""
    parent: dict[int, int] = {}
    running: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            parent[pid] = int(_stat_fields(f"/proc/{pid}/stat")[1])
            count = 0
            for task in os.listdir(f"/proc/{pid}/task"):
                try:
                    count += _stat_fields(f"/proc/{pid}/task/{task}/stat")[0] == "R"
                except OSError:
                    pass
            if count:
                running[pid] = count
        except OSError:
            continue
    counts: dict[str, int] = {}
    for pid, count in running.items():
        chain, owner = pid, None
        for _ in range(64):
            up = parent.get(chain, 0)
            if up == controller:
                owner = str(chain)
                break
            if up <= 1:
                if chain not in detached:
                    detached[chain] = _xdist_worker_of(chain)
                owner = detached[chain]
                break
            chain = up
        if owner is not None:
            counts[owner] = counts.get(owner, 0) + count
    return counts


def _sample(folder: Path, stop: threading.Event) -> None:
    detached: dict[int, str | None] = {}
    with (folder / SAMPLES).open("w") as out:
        while not stop.wait(SAMPLE_EVERY):
            out.write(json.dumps([time.monotonic(), runnable_threads(os.getpid(), detached)]) + "\n")


class Recorder:
    def __init__(self) -> None:
        self.process = os.environ.get("PYTEST_XDIST_WORKER", "main")
        RECORDS.mkdir(exist_ok=True)
        self.file = (RECORDS / f"{self.process}.jsonl").open("w")
        self.mark("start", pid=os.getpid())
        self.stop = threading.Event()
        if self.process == "main" and sys.platform.startswith("linux"):  # the controller samples the run
            threading.Thread(target=_sample, args=(RECORDS, self.stop), daemon=True).start()

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
        _recorder.stop.set()
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

    lines += idle_cores(folder, slowest)
    table("per file", lambda test: test["test"].split("::")[0])
    table("per xdist group", lambda test: test["test"].rpartition("@")[2] if "@" in test["test"] else "(none)")
    for measure in ("cpu", "wall"):
        lines.append(f"\nthe {slowest} slowest tests by {measure}: CPU s, wall s, process")
        for test in sorted(tests, key=lambda test: -test[measure])[:slowest]:
            lines.append(f"{test['cpu']:8.1f} {test['wall']:8.1f}  {test['process']:5}  {test['test']}")
    return "\n".join(lines)


def idle_cores(folder: Path, slowest: int, cores: int | None = None) -> list[str]:
    """From the controller's samples: the core-seconds during which the run had fewer runnable threads than the
    machine has cores (a core that idled, or went to another program), from the first process's start to the last
    one's end, and the tests that were running, with nothing runnable in their process's tree, at those moments."""
    path = folder / SAMPLES
    if not path.exists():
        return []
    cores = cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    records = {name: rows for name, rows in _read(folder).items() if name != "main"}
    owner = {str(rows[0].get("pid")): name for name, rows in records.items() if rows and rows[0]["event"] == "start"}
    timelines = {
        name: [(r["at"], r.get("test", r["event"])) for r in rows if r["event"] in ("start", "collected", "test")]
        for name, rows in records.items()
    }
    begin = min((rows[0]["at"] for rows in records.values() if rows), default=0.0)
    end = max((rows[-1]["at"] for rows in records.values() if rows), default=0.0)
    samples = [
        (at, {owner.get(key, key): n for key, n in counts.items()})
        for at, counts in map(json.loads, path.open())
        if begin <= at <= end
    ]
    if len(samples) < 2:
        return []
    step = (samples[-1][0] - samples[0][0]) / (len(samples) - 1)
    idle = 0.0
    blame: collections.Counter[str] = collections.Counter()
    for at, counts in samples:
        missing = max(0, cores - sum(counts.values()))
        idle += missing * step
        if not missing:
            continue
        for name, timeline in timelines.items():
            if counts.get(name):
                continue
            index = bisect.bisect_right(timeline, (at, "\uffff")) - 1
            if index >= 0:
                blame[timeline[index][1]] += step
    lines = [
        f"\nidle cores: {idle:.1f} core-seconds with fewer than {cores} runnable threads in the run "
        f"({end - begin:.1f} s from the first process's start to the last one's end; a sample every {step:.2f} s)",
        f"idle process-seconds at those moments, by file and by test ({sum(blame.values()):.1f} s in all):",
    ]
    by_file: collections.Counter[str] = collections.Counter()
    for test, seconds in blame.items():
        by_file[test.split("::")[0]] += seconds
    lines.append("  " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in by_file.most_common(12)))
    lines += [f"{seconds:8.1f}  {test}" for test, seconds in blame.most_common(slowest)]
    return lines


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]) if len(sys.argv) > 1 else RECORDS))
