"""The suite's own speed: collecting imports no torch, and the scheduler (tests/scheduling.py), driven with
simulated pytest-xdist processes, runs the containment tests with no judge's job beside them, shares the judge's
tests between both processes, and runs every test exactly once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import COLLECTION_IMPORTED
from scheduling import JudgeAwareScheduling, filler_id, unit_kind


def test_collecting_the_suite_imports_no_torch() -> None:
    """Every test process collects every file: a module-level `import torch` would cost each of them seconds of
    CPU (import it where it is used, as test_grading_roles.py's Deferred does)."""
    assert COLLECTION_IMPORTED == set()


class Process:
    """A simulated xdist worker: it runs a test only while it holds two or more (the last one waits for the next
    batch, to know what comes after it) or once it is told to shut down, as xdist's workers do."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.queue: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.queue.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True

    def runnable(self) -> bool:
        return len(self.queue) >= 2 or (self.shutting_down and bool(self.queue))


def collection() -> list[str]:
    tests = [f"tests/test_a.py::test_free_{i}" for i in range(6)]
    tests += [f"tests/test_containment.py::test_{i}@judge-alone:test_containment.py" for i in range(4)]
    tests += [f"tests/test_cli.py::test_subprocess_{i}@judge:test_cli.py" for i in range(2)]
    tests += [f"tests/test_batch.py::test_{i}@judge:builtin-packs" for i in range(6)]  # more tests than the alone group
    tests += [f"tests/test_tui_app.py::test_free_{i}" for i in range(6)]
    tests += [f"tests/test_tui_tmux.py::test_{i}@judge:test_tui_tmux.py" for i in range(2)]
    tests += [f"tests/test_z.py::test_free_{i}" for i in range(4)]
    return tests


def run_everything(
    durations: dict[str, int], processes_count: int = 2, cores: int = 2
) -> list[tuple[int, int, str, str]]:
    """Simulate the run in ticks, each test taking its duration (default 1); return (start, end, process, test)."""
    config = SimpleNamespace(getvalue=lambda name: [f"{processes_count}*popen"] if name == "tx" else None)
    config.option = SimpleNamespace(loadscopereorder=True)
    scheduler = JudgeAwareScheduling(config, machine_cores=cores)
    processes = [Process(f"gw{i}") for i in range(processes_count)]
    tests = collection()
    for process in processes:
        scheduler.add_node(process)
    for process in processes:
        scheduler.add_node_collection(process, tests)
    scheduler.schedule()
    ran: list[tuple[int, int, str, str]] = []
    running: dict[Process, tuple[int, int]] = {}  # process -> (index, ends at)
    clock = 0
    while clock < 1000:
        for process in processes:
            if process not in running and process.runnable():
                index = process.queue.pop(0)
                running[process] = (index, clock + durations.get(tests[index], 1))
        if not running:
            break
        clock = min(end for _, end in running.values())
        for process, (index, end) in list(running.items()):
            if end == clock:
                del running[process]
                ran.append((end - durations.get(tests[index], 1), end, process.gateway.id, tests[index]))
                scheduler.mark_test_complete(process, index)
    return ran


def kind(test: str) -> str:
    return unit_kind(test.rpartition("@")[2] if "@" in test else test)


@pytest.mark.parametrize(
    "slow", ["", "tests/test_containment.py::test_0@judge-alone:test_containment.py"], ids=["even", "slow-alone-unit"]
)
def test_containment_runs_with_no_judge_beside_it_and_every_test_runs_once(slow: str) -> None:
    ran = run_everything({slow: 10} if slow else {})
    assert sorted(test for *_, test in ran) == sorted(collection())
    alone = [(start, end, process) for start, end, process, test in ran if kind(test) == "alone"]
    assert len({process for *_, process in alone}) == 1  # one process, one module pool
    first, last = min(start for start, *_ in alone), max(end for _, end, _ in alone)
    beside = [test for start, end, _, test in ran if kind(test) == "judge" and start < last and end > first]
    assert beside == []
    assert first == 0  # the containment tests start at once, before any judge's tests
    if slow:  # meanwhile the other process is not idle: it runs tests that start no judge, TUI tests last
        other = [test for start, _, process, test in sorted(ran) if process != alone[0][2] and start < last]
        assert other and all(kind(test) == "free" for test in other)
        tui = [i for i, test in enumerate(other) if "test_tui_" in test]
        assert not tui or all("test_tui_" in test for test in other[tui[0] :]), other


def test_the_judges_tests_are_shared_between_both_processes_and_a_group_stays_together() -> None:
    durations = {t: 5 for t in collection() if kind(t) == "judge"}
    ran = run_everything(durations)
    by_group: dict[str, set[str]] = {}
    for *_, process, test in ran:
        if kind(test) == "judge":
            by_group.setdefault(test.rpartition("@")[2], set()).add(process)
    assert all(len(processes) == 1 for processes in by_group.values()), by_group
    assert {p for processes in by_group.values() for p in processes} == {"gw0", "gw1"}


def test_with_a_process_more_than_cores_the_filler_runs_no_tui_test_and_every_test_runs_once() -> None:
    """Three processes on two cores: gw2 is the filler (niced by conftest.py): never a TUI test, never the
    containment tests (while they run, no other judge's tests may); the others take the TUI tests before the
    other judge units once the containment tests are over, so that the filler's work runs beside them."""
    assert filler_id(3, 2) == "gw2" and filler_id(2, 2) is None and filler_id(3, 4) is None
    ran = run_everything({t: 3 for t in collection() if kind(t) == "judge"}, processes_count=3, cores=2)
    assert sorted(test for *_, test in ran) == sorted(collection())
    filler = [test for *_, process, test in ran if process == "gw2"]
    assert filler and not any("test_tui_" in test or kind(test) == "alone" for test in filler), filler
    alone_end = max(end for _, end, _, test in ran if kind(test) == "alone")
    tui = [start for start, _, process, test in ran if "test_tui_" in test]
    assert min(tui) >= alone_end  # never beside the containment tests
    assert any(kind(test) == "judge" for test in filler)  # the judge's units run beside the TUI tests
    assert any(kind(test) == "free" for test in filler)  # the filler runs the other free tests meanwhile


def test_the_order_is_the_containment_tests_then_the_tui_tests_then_the_judges_then_the_rest() -> None:
    """While the containment tests run, the other process takes free tests that are not TUI tests."""
    ran = run_everything({"tests/test_containment.py::test_0@judge-alone:test_containment.py": 3})
    assert {process for *_, process, _ in ran} == {"gw0", "gw1"}
    starts = {test: start for start, _, _, test in ran}

    def first(part: str) -> int:
        return min(start for test, start in starts.items() if part in test)

    alone_end = max(end for _, end, _, test in ran if kind(test) == "alone")
    assert first("test_tui_") >= alone_end  # never beside the containment tests, then before the judge's others
    assert first("test_tui_") <= first("judge:builtin-packs") and first("test_tui_") <= first("judge:test_cli")
