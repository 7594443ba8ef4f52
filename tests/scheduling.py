"""How `make test` shares the tests between its two pytest-xdist processes (`--dist loadgroup`, refined here).

conftest.py gives every test that runs jobs in a judge (marked `jail` or `e2e`) an xdist group: `judge:NAME` for
most, one group per file (so a file's module-scoped pool or grader is built in one process) or per set of files
that share the session's record of job outcomes; `judge-alone:NAME` for the tests that look for job processes
machine-wide (the containment tests). Every other test is a unit of its own.

The scheduler below hands units out in this order: the judge-alone units first, then the judge units (largest
first), then everything else. Two rules keep the containment tests alone: a judge-alone unit starts only when no
other process is running judge units, and while one runs, the other process takes only units that run no judge.
Either process may run judge units, so the judge's work is shared between both (each process that runs
session-pool tests starts its own session pool) instead of lying on one process's critical path while the other
idles at the end.
"""

from __future__ import annotations

from typing import Any

try:
    from xdist.scheduler import LoadGroupScheduling
except ImportError:  # without pytest-xdist the groups are plain markers and nothing asks for a scheduler
    LoadGroupScheduling = object  # type: ignore[assignment,misc]

JUDGE = "judge:"
JUDGE_ALONE = "judge-alone:"


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

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self._ordered = False

    def _order(self) -> None:
        rank = {"alone": 0, "judge": 1, "free": 2}
        units = list(self.workqueue.items())
        # Stable: free units keep their collection order; judge units go largest first, as loadscope's reorder does.
        units.sort(key=lambda item: (rank[unit_kind(item[0])], -len(item[1]) if unit_kind(item[0]) != "free" else 0))
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
        for scope in self.workqueue:
            kind = unit_kind(scope)
            if kind == "alone" and busy & {"alone", "judge"}:
                continue
            if kind == "judge" and "alone" in busy:
                continue
            break
        else:
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
