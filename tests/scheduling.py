"""How `make test` shares the tests between its pytest-xdist processes (`--dist loadgroup`, refined here).

conftest.py gives every test that runs jobs in a judge (marked `jail` or `e2e`) an xdist group: `judge:NAME` for
most, one group per file (so a file's module-scoped pool or grader is built in one process) or per set of files
that share the session's record of job outcomes; `judge-alone:NAME` for the tests that look for job processes
machine-wide (the containment tests). Every other test is a unit of its own.

The scheduler below hands units out in this order: the judge-alone units first, then the TUI tests, then the
other judge units (largest first), then everything else. Two rules keep the containment tests alone: a
judge-alone unit starts only when no other process is running judge units, and while one runs, the other
processes take only units that run no judge. Any process may run judge units, so the judge's work is shared
(each process that runs session-pool tests starts its own session pool) instead of lying on one process's
critical path while another idles at the end.

More test processes than cores (`make test` starts one more than the machine has): the extra process is a *filler*
(`filler_id`). Much of a TUI test's wall time is idle (Textual's pilot waits for the app to go quiet, 20 ms at a
time, after every key and pause; app timers), and so is much of a test that waits on a subprocess or a terminal:
with one process per core, a core idled whenever its process did (about 80 core-seconds in a run). The filler
runs at a lower priority (`FILLER_NICENESS`) and never takes a TUI test, so it soaks up those idle moments with
the judge's and the loader's work without starving the TUI tests, whose pilot takes a process that gets no CPU
for a while for one that has gone quiet. The other processes take the TUI tests first, so the TUI tests' idle
moments come while the filler runs the judge's units, instead of all at the end, where the filler would have
nothing left it may take; but beside the containment tests' CPU-bound attacks only once no other free test is
left.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from xdist.scheduler import LoadGroupScheduling
except ImportError:  # without pytest-xdist the groups are plain markers and nothing asks for a scheduler
    LoadGroupScheduling = object  # type: ignore[assignment,misc]

JUDGE = "judge:"
JUDGE_ALONE = "judge-alone:"
# The judge's groups that take longest (CPU seconds in a quiet run: the judge's pool tests 48, with five pools of
# their own; the built-in packs' proofs and their class 49; the corpus 29) start before the others, whatever
# their number of tests: started last, one of them alone made the run's end.
LONGEST_GROUPS = ("judge:test_judge_pool.py", "judge:builtin-packs", "judge:test_grading_corpus.py")
FILLER_VARIABLE = "QUIZAPP_TEST_FILLER"  # set by conftest.py in the controller: the filler's id, for the workers
FILLER_NICENESS = 5  # the filler gets about a quarter of a core beside a busy test process, all of an idle one


def cores() -> int:
    """The cores this run may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def filler_id(processes: int, machine_cores: int) -> str | None:
    """The id of the filler process ('gw2' for three processes on two cores), or None when there is no more
    than one process per core."""
    if processes <= machine_cores:
        return None
    return f"gw{processes - 1}"


def is_tui(scope: str) -> bool:
    """Whether a work unit (its xdist group, or the test's id) drives the app: the TUI test files."""
    return "test_tui_" in scope


def unit_kind(scope: str) -> str:
    """'alone', 'judge' or 'free', from a work unit's scope (its xdist group, or the test's id when it has none)."""
    if scope.startswith(JUDGE_ALONE):
        return "alone"
    if scope.startswith(JUDGE):
        return "judge"
    return "free"


class JudgeAwareScheduling(LoadGroupScheduling):
    """LoadGroupScheduling with the order and the two rules in this module's docstring.

    Relies on LoadScopeScheduling's attributes (pytest-xdist 3.8, pinned): `workqueue` (scope -> {nodeid:
    done}, filled by `schedule`), `assigned_work` (node -> scope -> {nodeid: done}) and `_assign_work_unit`,
    called whenever a process has two or fewer tests left to run."""

    def __init__(self, config: Any, log: Any = None, machine_cores: int | None = None) -> None:
        super().__init__(config, log)
        self._ordered = False
        self.filler = filler_id(self.numnodes, machine_cores or cores())

    def _order(self) -> None:
        def rank(scope: str, tests: dict[str, bool]) -> tuple[int, int, int, int]:
            kind = unit_kind(scope)
            # The TUI tests before the judge's other units: the filler skips them, so it runs the judge's units
            # beside them; judge units largest first (as loadscope's reorder does); free units keep their
            # collection order (a stable sort) and come last, small units that even out the end.
            group = 0 if kind == "alone" else 1 if is_tui(scope) else 2 if kind == "judge" else 3
            longest = LONGEST_GROUPS.index(scope) if scope in LONGEST_GROUPS else len(LONGEST_GROUPS)
            return (group, 1 if kind == "free" else 0, longest, 0 if kind == "free" else -len(tests))

        units = sorted(self.workqueue.items(), key=lambda item: rank(*item))
        self.workqueue.clear()
        self.workqueue.update(units)
        self._ordered = True

    def _running_elsewhere(self, node: Any) -> set[str]:
        """The kinds of the units other processes have not finished."""
        kinds = set()
        for other, units in self.assigned_work.items():
            if other is node:
                continue
            for scope, tests in units.items():
                if not all(tests.values()):
                    kinds.add(unit_kind(scope))
        return kinds

    def _assign_work_unit(self, node: Any) -> None:
        if not self._ordered:
            self._order()
        busy = self._running_elsewhere(node)
        filler = node.gateway.id == self.filler

        def allowed(scope: str, tui_beside_alone: bool) -> bool:
            kind = unit_kind(scope)
            if kind == "alone" and busy & {"alone", "judge"}:
                return False
            if kind == "judge" and "alone" in busy:
                return False
            if filler and (is_tui(scope) or kind == "alone"):  # the alone unit holds the judge's others back
                return False
            # Not beside the containment tests' CPU-bound attacks while other free tests are left to run.
            return tui_beside_alone or not (is_tui(scope) and "alone" in busy)

        scope = next((s for s in self.workqueue if allowed(s, False)), None)
        if scope is None:
            scope = next((s for s in self.workqueue if allowed(s, True)), None)
        if scope is None:
            return  # nothing this process may start now: it gets work when another finishes (mark_test_complete)
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        super().mark_test_complete(node, item_index, duration)
        for other in self.nodes:  # a process that was held back may start a unit now
            if other is not node and not other.shutting_down:
                self._reschedule(other)
