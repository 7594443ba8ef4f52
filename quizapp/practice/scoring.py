"""Points for a mock interview's answers, from the Results as they were stored (their `to_json()` form).

Each question is worth its `points` (default 1): the share of it an answer earns (0..1) is split as its kind
allows:

- code and fix: partial credit by the question's checks' `points`: the grader's `score` of a submitted answer
  (the points of the checks that passed over the points of all its checks, hidden checks included, where checks
  that only restrict how an answer is written earn nothing unless a check of what it does passes); without one,
  the points of the checks that passed over all of them (a check that did not run, after a syntax error say,
  earned nothing). Tests are matched to checks by `TestResult.check`, each check counted once.
- choice: the Result's `score` (the grader's partial credit) when it has one, else 1 for accepted and 0 otherwise.
- predict: 1 or 0.
- explain: the rubric score the learner ticked (an empty answer earns 0).

An unsubmitted question earns 0. The session's total is the points earned over the points available, as a
percentage: a question worth 3 counts three times as much as one worth 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    """Points earned per question (each 0..its worth, in the session's order), what each question is worth, and
    the total as a percentage (0..100) of the points available."""

    points: tuple[float, ...]
    percent: float
    worth: tuple[float, ...] = ()


def answer_points(kind: str, result: Mapping[str, Any] | None, check_points: Mapping[str, float]) -> float:
    """The share (0..1) of its question's points that one stored Result earns for a question of `kind`.

    `result` is a Result's `to_json()` (None when nothing was submitted); `check_points` maps a code or fix
    question's check ids to their `points`.
    """
    if result is None:
        return 0.0
    accepted = result.get("verdict") == "accepted"
    score = result.get("score")
    if kind in ("code", "fix"):
        if score is not None and result.get("mode", "submit") == "submit" and result.get("tests"):
            return _clamp(float(score))  # the grader's own partial credit, over every check (see checks.score)
        total = sum(check_points.values())
        if total <= 0:
            return 1.0 if accepted else 0.0
        passed: set[str] = set()
        for test in result.get("tests", []):
            check = test.get("check") or test.get("name", "")
            if test.get("status") == "pass" and check in check_points:
                passed.add(check)
        return _clamp(sum(check_points[check] for check in passed) / total)
    if kind == "choice":
        return _clamp(float(score)) if score is not None else (1.0 if accepted else 0.0)
    if kind == "explain":
        # No score: an empty answer (not accepted), or a rubric whose points are all 0 (accepted).
        return _clamp(float(score)) if score is not None else (1.0 if accepted else 0.0)
    return 1.0 if accepted else 0.0  # predict


def total_percent(points: Sequence[float], worth: Sequence[float] | None = None) -> float:
    """The points earned over the points available (each question's `worth`, 1 each when not given), as a
    percentage; 0 when nothing is available."""
    available = sum(worth) if worth is not None else len(points)
    return 100.0 * sum(points) / available if available > 0 else 0.0


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)
