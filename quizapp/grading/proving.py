"""A pack proves itself: every reference passes its checks, every decoy fails the check it names, and every
predict snippet prints exactly its stated answer. `quizapp validate` runs this on packs that load cleanly.

Everything runs through the same grader and jail as a learner's answer, so a pack that proves here grades
the same way in the app.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..packs import model
from ..packs.loader import LoadResult
from ..packs.problems import Problem
from . import answers
from .grader import Grader

SLOW_FRACTION = 0.5  # a reference using more than this share of its wall limit is reported
WARM_TIMEOUT_S = 180.0


class _JailClock:
    """The runner, keeping the jail's own wall time of the last job each thread ran: what a slower machine would
    have to fit in the limit, without the pool's start-up or the wait for a free worker."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self._last = threading.local()

    def run(self, task: str, payload: dict[str, Any], limits: Any) -> Any:
        outcome = self.runner.run(task, payload, limits)
        if task == "probe":  # the answer's own job; a custom check's verdict job comes after it
            self._last.wall_ms = getattr(outcome, "wall_ms", 0.0) or 0.0
            if getattr(self._last, "facts", None) is None:
                facts = getattr(outcome, "facts", None)
                self._last.facts = facts if isinstance(facts, dict) else {}
        return outcome

    def forget_facts(self) -> None:
        self._last.facts = None

    @property
    def first_facts(self) -> dict[str, Any]:
        """The facts of this thread's first answer job since `forget_facts`: the reference's own run, as sent."""
        return getattr(self._last, "facts", None) or {}

    def submit(self, task: str, payload: dict[str, Any], limits: Any) -> Any:
        return self.runner.submit(task, payload, limits)

    @property
    def last_wall_ms(self) -> float:
        return float(getattr(self._last, "wall_ms", 0.0))


@dataclass
class Proof:
    problems: list[Problem] = field(default_factory=list)
    references: int = 0
    decoys: int = 0
    snippets: int = 0
    reference_ms: dict[str, float] = field(default_factory=dict)


def prove(loaded: LoadResult, grader: Grader, runner: Any) -> Proof:
    """Run a loaded pack's references, decoys and snippets; problems are located in the pack's file."""
    pack = loaded.pack
    assert pack is not None
    proof = Proof()
    needs_judge = any(isinstance(q, model.CodeBase | model.PredictQuestion) for q in pack.questions)
    if needs_judge and hasattr(runner, "wait_warm"):
        runner.wait_warm(WARM_TIMEOUT_S)  # timings below are of warm jobs, not of the pool starting
    clock = _JailClock(grader.runner if grader.runner is not None else runner)
    timed = Grader(clock, grader.cache)

    def prove_question(index: int, question: model.AnyQuestion) -> Proof:
        part, at = Proof(), ("questions", index)
        if isinstance(question, model.CodeBase):
            if question.solution is None:
                _prove_shipped_facts(loaded, pack, question, at, timed, part)
            else:
                _prove_code(loaded, pack, question, at, timed, clock, part)
        elif isinstance(question, model.PredictQuestion):
            _prove_snippet(loaded, pack, question, at, runner, part)
        return part

    # Questions are proved side by side, one per judge worker; problems come out in the pack's order.
    workers = max(1, int(getattr(runner, "size", 1) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prove") as executor:
        parts = list(executor.map(prove_question, range(len(pack.questions)), pack.questions))
    for part in parts:
        proof.problems.extend(part.problems)
        proof.references += part.references
        proof.decoys += part.decoys
        proof.snippets += part.snippets
        proof.reference_ms.update(part.reference_ms)
    return proof


def _prove_shipped_facts(
    loaded: LoadResult, pack: model.Pack, question: model.CodeBase, at: tuple[Any, ...], grader: Grader, proof: Proof
) -> None:
    """A student build has no solution to run: its shipped reference facts must load and decode."""
    try:
        facts = grader.reference_facts(pack, question)
    except Exception as error:  # whatever is wrong with the file, a located problem, never a traceback
        proof.problems.append(
            loaded.problem_at(
                (*at, "reference_facts"), f"the reference facts shipped in this student build do not load: {error}"
            )
        )
        return
    _warn_self_assessments(loaded, question, at, facts.checks, proof)


def _prove_code(
    loaded: LoadResult,
    pack: model.Pack,
    question: model.CodeBase,
    at: tuple[Any, ...],
    grader: Grader,
    clock: _JailClock,
    proof: Proof,
) -> None:
    assert question.solution is not None
    clock.forget_facts()
    result = grader.grade_code(pack, question, question.solution, mode="submit", as_reference=True)
    jail_ms = clock.last_wall_ms
    reported = clock.first_facts.get("checks")
    proof.references += 1
    proof.reference_ms[question.id] = jail_ms
    if not result.passed:
        failing = "; ".join(f"{t.name}: {t.message}" for t in result.tests if t.status != "pass")
        proof.problems.append(
            loaded.problem_at(
                (*at, "solution"),
                f"the reference solution does not pass its own checks: {result.verdict}: {failing or result.message}",
            )
        )
        return  # decoys are judged against the reference; without it they prove nothing
    limits = pack.limits_for(question)
    if jail_ms > limits.wall_seconds * 1000 * SLOW_FRACTION:
        proof.problems.append(
            loaded.problem_at(
                (*at, "solution"),
                f"the reference takes {jail_ms / 1000:.1f} s of its {limits.wall_seconds:g} s wall limit: "
                "a slower machine may time out; raise limits.wall_seconds or make the checks lighter",
                severity="warning",
            )
        )
    _warn_self_assessments(loaded, question, at, reported, proof)
    caught: set[str] = set()
    for index, decoy in enumerate(question.decoys):
        outcome = grader.grade_code(pack, question, decoy.code, mode="submit")
        proof.decoys += 1
        where = (*at, "decoys", index, "fails")
        if outcome.verdict in ("syntax_error", "time_limit", "memory_limit", "output_limit", "internal_error"):
            proof.problems.append(
                loaded.problem_at(
                    where, f"decoy '{decoy.id}' could not be judged: {outcome.verdict}: {outcome.message}"
                )
            )
            continue
        caught.update(t.check for t in outcome.tests if t.status != "pass")
        named = next((t for t in outcome.tests if t.check == decoy.fails), None)
        if named is not None and named.status == "pass":
            proof.problems.append(
                loaded.problem_at(
                    where,
                    f"decoy '{decoy.id}' passes check '{decoy.fails}': the check does not catch "
                    f"'{decoy.description.strip()}'",
                )
            )

    for index, check in enumerate(question.checks):
        if check.id not in caught:
            proof.problems.append(
                loaded.problem_at(
                    (*at, "checks", index, "id"),
                    f"check '{check.id}' is unproven: no decoy fails it; add a decoy with a mistake it should catch",
                    severity="warning",
                )
            )


# A number this close to zero in a reference's report is a difference or an error measured in the probe.
ZERO = 1e-6


def self_assessment(report: Any) -> str | None:
    """Why a custom probe's report on the reference looks like a self-assessment, or None when it holds
    observations.

    A probe runs in the answer's own process, which can replace it and send any report. The host's comparison
    of that report with the reference's is only worth something when matching it means computing what the
    reference computed: values with magnitudes. A report made only of flags (True, False, None, nothing), of
    zeros (an error, a difference, a count of mismatches measured in the probe), or of one number repeated (a
    count of matches) is what a probe that judged the answer itself would send: an answer can send it too
    without computing anything. Strings (names, modes, types) count as observations."""
    numbers: list[float] = []
    flags = strings = 0
    stack = [report]
    while stack:
        value = stack.pop()
        if isinstance(value, bool) or value is None:
            flags += 1
        elif isinstance(value, int | float):
            numbers.append(float(value))
        elif isinstance(value, str):
            strings += 1
        elif isinstance(value, dict):
            if set(value) == {"__float__"}:  # NaN or an infinity, as probes send them: a measured value
                return None
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    if strings:
        return None
    if not numbers:
        return "it holds only flags (True, False, None) or nothing" if flags else "it holds nothing"
    if all(abs(n) <= ZERO for n in numbers):
        kind = "its only number is" if len(numbers) == 1 else f"all {len(numbers)} of its numbers are"
        return f"{kind} zero, as an error or a difference measured inside the probe would be"
    if len(numbers) > 1 and len(set(numbers)) == 1:
        return f"its {len(numbers)} numbers are all {numbers[0]:g}, as a count of matches would be"
    return None


def _warn_self_assessments(
    loaded: LoadResult, question: model.CodeBase, at: tuple[Any, ...], reported: Any, proof: Proof
) -> None:
    """A warning at each custom check whose report on the reference (`reported`: check id -> facts, as the
    reference's run sent them) looks like a self-assessment."""
    if not isinstance(reported, dict):
        return
    for index, check in enumerate(question.checks):
        report = reported.get(check.id) if check.kind == "custom" else None
        if isinstance(report, dict) and "value" in report and (why := self_assessment(report["value"])) is not None:
            warning = _self_assessment_warning(check.id, why)
            proof.problems.append(loaded.problem_at((*at, "checks", index, "probe"), warning, "warning"))


def _self_assessment_warning(check_id: str, why: str) -> str:
    return (
        f"custom check '{check_id}' looks like a self-assessment: on the reference, {why}. The probe runs in the "
        "answer's own process, so an answer can send the same report without computing anything. Report what "
        "the answer computed instead (outputs, gradients, parameters, as lists; with inputs and weights the probe "
        "sets from a seeded generator) and let the verdict compare them with the reference's "
        "(docs/authoring.md, 'Custom probes: report observations')"
    )


def _prove_snippet(
    loaded: LoadResult,
    pack: model.Pack,
    question: model.PredictQuestion,
    at: tuple[Any, ...],
    runner: Any,
    proof: Proof,
) -> None:
    outcome = runner.run("exec", {"code": question.snippet}, pack.defaults.limits)
    proof.snippets += 1
    facts = outcome.facts or {}
    if outcome.status != "ok" or "error" in facts:
        error = facts.get("error") or {}
        detail = f"{error.get('type', '')}: {error.get('message', '')}" if error else outcome.detail or outcome.status
        proof.problems.append(loaded.problem_at((*at, "snippet"), f"the snippet does not run: {detail}"))
        return
    if question.answer is None:  # a student build: the printout must hash to one of the shipped answers
        if not answers.grade_predict(question, outcome.stdout, pack.id).passed:
            proof.problems.append(
                loaded.problem_at((*at, "answer_hashes"), "the snippet prints an answer none of the hashes match")
            )
        return
    printed = _lines(outcome.stdout)
    if printed != _lines(question.answer):
        shown = "\n".join(printed) if len("\n".join(printed)) < 400 else "\n".join(printed)[:400] + "..."
        proof.problems.append(loaded.problem_at((*at, "answer"), f"the snippet prints something else:\n{shown}"))


def _lines(text: str) -> list[str]:
    """A printout compared line by line, ignoring trailing spaces and blank lines at either end."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines
