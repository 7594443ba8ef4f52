"""The grader: one entry point for every kind of answer, and one Result for every front end.

Code answers: the learner's source is parsed here (a syntax error never reaches the judge), sent to the
pool as a probe job, and judged against the reference's facts, which are computed once per machine and
cached on disk (key: the question's content, the torch version and the probes' code). A Grader also keeps
the last references it used in memory, decoded and validated, so a run of answers to one question reads,
parses and validates the reference's facts once, not once per answer.
"""

from __future__ import annotations

import base64
import collections
import functools
import hashlib
import json
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from .. import locations
from ..judge import version as judge_version
from ..packs import model
from ..pyparse import parse
from . import answers, roles
from .checks import Context, Facts, PackFault, ReferenceFailed, describe_exception, judge_check_ranked, score
from .facts import FactsRefused, TensorStore, probed, validate_definition
from .result import Result, TestResult

PROBES_SOURCE = Path(__file__).resolve().parent.parent / "judge" / "probes.py"
REFERENCES_IN_MEMORY = 32  # questions whose reference facts a Grader keeps decoded and validated
_VERDICT_OF_STATUS = {
    "time_limit": "time_limit",
    "memory_limit": "memory_limit",
    "output_limit": "output_limit",
    "runtime_error": "runtime_error",
    "internal_error": "internal_error",
}


class Outcome(Protocol):
    """What the judge's pool returns for a job (quizapp.judge.protocol.JobOutcome)."""

    status: str
    facts: dict[str, Any] | None
    tensors: bytes
    stdout: str
    stderr: str
    wall_ms: float
    jail_mode: str
    detail: str


class Runner(Protocol):
    def run(self, task: str, payload: dict[str, Any], limits: model.Limits) -> Outcome: ...

    def submit(self, task: str, payload: dict[str, Any], limits: model.Limits) -> Future[Outcome]: ...


_DERIVED: dict[tuple[int, str], tuple[weakref.ref[Any], Any]] = {}


def _derived(model_object: Any, name: str, compute: Callable[[], Any]) -> Any:
    """What a verdict derives from one pack object again and again (its reference key, a check's probe spec),
    computed once per object. Pack models are frozen, so a value derived from one cannot go stale; an entry
    goes when its object does (a pack loaded again is new objects)."""
    key = (id(model_object), name)
    held = _DERIVED.get(key)
    if held is not None and held[0]() is model_object:
        return held[1]
    value = compute()

    def forget(_: weakref.ref[Any]) -> None:
        _DERIVED.pop(key, None)

    _DERIVED[key] = (weakref.ref(model_object, forget), value)
    return value


def _probe_spec(check: Any, observe: bool) -> dict[str, Any] | None:
    """A check's probe spec, as probe_payload sends it (None for a source check, which is judged here)."""
    if check.kind == "source":
        return None
    spec: dict[str, Any] = {"id": check.id, "kind": check.kind}
    if hasattr(check, "cases"):
        spec["cases"] = [case.model_dump(mode="json", exclude={"name"}) for case in check.cases]
    for key in ("modes", "seed", "wrt", "setup", "probe"):
        if hasattr(check, key):
            spec[key] = getattr(check, key)
    if check.kind == "expression":
        spec["expressions"] = [expression.expr for expression in check.expressions]
    if check.kind == "trace" and any(rule.op is not None for rule in check.rules):
        spec["counts"] = True  # op counts: the probe also counts the ops an answer hides from the tracer
    if check.kind == "outputs" and observe:
        spec["observe"] = True
    if check.kind == "training":  # training check: its own keys (quizapp/grading/training.py)
        spec.update(check.model_dump(include={"step", "steps", "watch"}))
    return spec


def watched_names(question: model.CodeBase) -> list[str]:
    """The names and modules the question's source rules forbid, which its jobs watch being called."""
    names = {
        name
        for check in question.checks
        if check.kind == "source"
        for rule in check.rules
        for name in [*rule.forbid_names, *rule.forbid_imports]
    }
    return sorted(names)


def probe_payload(question: model.CodeBase, code: str, checks: Iterable[Any], observe: bool = True) -> dict[str, Any]:
    """What the jailed child needs to collect facts: probes only, never expected values or messages.

    `observe` asks outputs probes for the facts that locate a difference (each module's output), for the
    reference's run and for every answer's, in the same job: observing costs a ResNet job about 7 ms of CPU,
    where running a wrong answer again to locate its difference cost a second job (about 55 ms, more than
    the first). The reference's payload and an answer's have the same shape, so both jobs seed their
    generators alike. Nothing about the role search is in it: the search runs the reference (roles.py)."""
    specs = []
    for check in checks:
        spec = _derived(check, f"probe spec, observe={observe}", functools.partial(_probe_spec, check, observe))
        if spec is not None:
            specs.append(dict(spec))  # the caller's own: the role search sets a spec's ranks (its only change)
    payload = {"code": code, "entry_point": question.entry_point, "checks": specs}
    watched = watched_names(question)
    if watched:  # a source rule's forbidden names: the job records any call of them (probes.Watch)
        payload["watch"] = watched
    if question.entry_point_kind != "class":  # format 2: a function entry point is called, not constructed
        payload["entry_point_kind"] = question.entry_point_kind
    return payload


def decode_tensors(blob: bytes) -> TensorStore:
    """The run's tensors, decoded lazily; every dtype a forward may return (bfloat16, float8, complex too)."""
    return TensorStore(blob)


@dataclass
class ReferenceCache:
    """Reference facts on disk, one pair of files per key: facts as JSON, tensors as safetensors."""

    folder: Path

    @classmethod
    def default(cls) -> ReferenceCache:
        return cls(locations.cache_dir() / "reference")

    def load(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        facts_file = self.folder / f"{key}.json"
        tensors_file = self.folder / f"{key}.safetensors"
        try:
            return json.loads(facts_file.read_text()), tensors_file.read_bytes()
        except (OSError, ValueError):
            return None

    def store(self, key: str, facts: dict[str, Any], tensors: bytes) -> None:
        """Write both files atomically. Answers to one question graded at once may store the same key together:
        each writer has a partial file of its own (one shared name let a writer rename the other's away, and
        grading failed with FileNotFoundError). The cache only saves time: a failure to write it is not an
        answer's failure."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name, data in ((f"{key}.safetensors", tensors), (f"{key}.json", json.dumps(facts).encode())):
                handle, partial = tempfile.mkstemp(dir=self.folder, prefix=f"{name}.", suffix=".partial")
                try:
                    with os.fdopen(handle, "wb") as out:
                        out.write(data)
                    os.replace(partial, self.folder / name)
                except BaseException:
                    Path(partial).unlink(missing_ok=True)
                    raise
        except OSError:
            pass


@functools.cache
def _torch_version() -> str:
    """The installed torch's version, read once: importlib.metadata parses the package's METADATA each time."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def reference_key(question: model.CodeBase) -> str:
    key: str = _derived(question, "reference key", functools.partial(_reference_key, question))
    return key


def _reference_key(question: model.CodeBase) -> str:
    digest = hashlib.sha256()
    digest.update(question.model_dump_json().encode())
    digest.update(_torch_version().encode())
    digest.update(judge_version.code_version().encode())  # all of the judge's worker-side code
    return digest.hexdigest()[:32]


class Grader:
    def __init__(self, runner: Runner | None, cache: ReferenceCache | None = None):
        self.runner = runner
        self.cache = cache
        # reference key -> its Facts, decoded, each check's facts validated once (Facts.validate_for keeps
        # them): the reference is the same for every answer to a question. Grader is used from many threads.
        self._references: collections.OrderedDict[str, Facts] = collections.OrderedDict()
        self._references_lock = threading.Lock()

    def grade(
        self,
        pack: model.Pack,
        question: model.AnyQuestion,
        answer: str,
        mode: str = "submit",
        ticked: Iterable[str] = (),
    ) -> Result:
        """Grade an answer as text: source code, a printout, option ids (comma or space separated)."""
        started = time.perf_counter()
        answer = strip_bom(answer)
        if len(answer) > MAX_ANSWER_CHARS:  # before any parsing: an AST costs hundreds of times its text
            result = _too_long(answer)
        elif isinstance(question, model.ChoiceQuestion):
            result = answers.grade_choice(question, answer.replace(",", " ").split(), pack.id)
        elif isinstance(question, model.PredictQuestion):
            result = answers.grade_predict(question, answer, pack.id)
        elif isinstance(question, model.ExplainQuestion):
            result = answers.grade_explain(question, answer, ticked)
        else:
            result = self.grade_code(pack, question, answer, mode)
        result.mode = mode
        if not result.duration_ms:
            result.duration_ms = (time.perf_counter() - started) * 1000
        return result

    # --- code ------------------------------------------------------------------------------------------

    def grade_code(
        self, pack: model.Pack, question: model.CodeBase, source: str, mode: str = "submit", as_reference: bool = False
    ) -> Result:
        """`as_reference`: the source is the question's reference (`quizapp validate`), which learner-only
        source rules do not bind."""
        started = time.perf_counter()
        source = strip_bom(source)
        if len(source) > MAX_ANSWER_CHARS and not as_reference:
            return _too_long(source)
        try:
            parse(source, filename="answer.py")
        except SyntaxError as error:
            return Result(
                "syntax_error",
                message=f"line {error.lineno}, column {error.offset}: {error.msg}",
                line=error.lineno,
                column=error.offset,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        if self.runner is None:
            raise RuntimeError("grading code needs the judge's pool")
        checks = [c for c in question.checks if mode == "submit" or c.visible]
        limits = pack.limits_for(question)
        key = reference_key(question)
        reference: Facts | None = self._remembered(key)
        pending = self._reference_job(question, limits) if reference is None else None
        outcome = self.runner.run("probe", probe_payload(question, source, checks), limits)
        if reference is None:
            try:
                reference = self._reference_facts(question, pending)
            except (ReferenceFailed, FactsRefused) as problem:
                return self._internal(f"the reference solution failed: {problem}", started, outcome)
            self._remember(key, reference)
        try:
            result = self._judge(pack, question, source, checks, outcome, reference, limits, as_reference)
        except Exception as problem:  # our bug: this answer's internal_error, never a crash of the run
            result = self._internal(f"the grader failed on this answer: {type(problem).__name__}: {problem}", started)
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.jail_mode = outcome.jail_mode
        result.stdout, result.stderr = outcome.stdout, outcome.stderr
        return result

    def _remembered(self, key: str) -> Facts | None:
        with self._references_lock:
            facts = self._references.get(key)
            if facts is not None:
                self._references.move_to_end(key)
            return facts

    def _remember(self, key: str, facts: Facts) -> None:
        with self._references_lock:
            self._references[key] = facts
            self._references.move_to_end(key)
            while len(self._references) > REFERENCES_IN_MEMORY:
                self._references.popitem(last=False)

    def _reference_job(self, question: model.CodeBase, limits: model.Limits) -> Any:
        if question.reference_facts is not None:  # a student build ships its reference's facts
            return json.loads(question.reference_facts), base64.b64decode(question.reference_tensors or "")
        key = reference_key(question)
        cached = self.cache.load(key) if self.cache else None
        if cached is not None:
            return cached
        assert question.solution is not None  # a student build's question carries its reference facts instead
        payload = probe_payload(question, question.solution, question.checks)
        assert self.runner is not None
        return self.runner.submit("probe", payload, limits)

    def _reference_facts(self, question: model.CodeBase, pending: Any) -> Facts:
        if isinstance(pending, tuple):
            facts, blob = pending
        else:
            outcome = pending.result()
            if outcome.status != "ok" or not outcome.facts:
                raise ReferenceFailed(f"{outcome.status}: {outcome.detail or outcome.stderr[-500:]}")
            facts, blob = outcome.facts, outcome.tensors
            definition = facts.get("definition", {}) if isinstance(facts, dict) else {}
            if not isinstance(definition, dict) or not definition.get("ok"):
                raise ReferenceFailed(json.dumps(definition)[:500])
            if self.cache:
                self.cache.store(reference_key(question), facts, blob)
        checks = facts.get("checks") if isinstance(facts, dict) else None
        return Facts(checks if isinstance(checks, dict) else {}, decode_tensors(blob))

    def reference_facts(self, pack: model.Pack, question: model.CodeBase) -> Facts:
        """The reference's facts for every check, from the cache or from one run in the jail."""
        return self._reference_facts(question, self._reference_job(question, pack.limits_for(question)))

    def reference_raw(self, pack: model.Pack, question: model.CodeBase) -> tuple[dict[str, Any], bytes]:
        """The reference's facts as sent by the jail (JSON-compatible) and its tensors as safetensors bytes."""
        pending = self._reference_job(question, pack.limits_for(question))
        self._reference_facts(question, pending)  # runs it if needed, checks it, and fills the cache
        if isinstance(pending, tuple):
            return pending
        outcome = pending.result()
        return outcome.facts, outcome.tensors

    def _internal(self, message: str, started: float, outcome: Outcome | None = None) -> Result:
        return Result(
            "internal_error",
            message=message,
            duration_ms=(time.perf_counter() - started) * 1000,
            jail_mode=outcome.jail_mode if outcome else "",
        )

    def _judge(
        self,
        pack: model.Pack,
        question: model.CodeBase,
        source: str,
        checks: list[Any],
        outcome: Outcome,
        reference: Facts,
        limits: model.Limits | None = None,
        as_reference: bool = False,
    ) -> Result:
        """The answer's one run judged against `reference`; with `limits`, the role search may judge it again
        against the reference run under another pairing of same-shaped layers (_search_roles)."""
        if outcome.status != "ok" or outcome.facts is None:
            verdict = _VERDICT_OF_STATUS.get(outcome.status, "internal_error")
            return Result(verdict, message=outcome.detail or outcome.status)  # type: ignore[arg-type]
        try:
            definition = validate_definition(outcome.facts)
            asked = {check.id for check in checks if probed(check)}
            reported = outcome.facts.get("checks")
            if definition["ok"] and (not isinstance(reported, dict) or not set(reported) <= asked):
                extra = sorted(set(reported) - asked) if isinstance(reported, dict) else []
                raise FactsRefused(f"facts for checks that were not asked: {', '.join(map(str, extra))[:200]}")
            tensors = decode_tensors(outcome.tensors)
            called = _called(question, outcome.facts) if definition["ok"] else set()
        except FactsRefused as problem:
            return _tampered(checks, str(problem))
        if not definition["ok"]:
            return _definition_result(question, definition)
        assert isinstance(reported, dict)  # checked above: a run whose definition is ok reports a dict
        learner = Facts(reported, tensors)
        context = Context(question, learner, reference, source, pack.id, as_reference)
        context.called = called
        context.verdicts = self._verdict_runner(pack, limits or pack.limits_for(question))
        tests: list[TestResult] = []
        ranks: list[float] = []
        internal = False
        for check in checks:
            try:
                test, rank = judge_check_ranked(check, context)
                tests.append(test)
                ranks.append(rank)
            except ReferenceFailed as problem:
                return Result("internal_error", message=f"the reference solution failed: {problem}")
            except PackFault as problem:
                internal = True
                tests.append(_check_error(check, str(problem)))
                ranks.append(0)
            except Exception as problem:  # our bug, in one check: this answer's internal_error, nothing more
                internal = True
                tests.append(
                    _check_error(check, f"the grader failed on this check: {type(problem).__name__}: {problem}")
                )
                ranks.append(0)
        if limits is not None:
            searched = self._search_roles(
                pack, question, source, checks, outcome, tests, ranks, learner, reference, limits, as_reference
            )
            if searched is not None:
                return searched
        if internal:
            verdict = "internal_error"
        elif any(t.status == "error" for t in tests):
            verdict = "runtime_error"
        elif any(t.status == "fail" for t in tests):
            verdict = "wrong_answer"
        else:
            verdict = "accepted"
        # The headline is the most specific finding (a named defect before a bare difference), not the first.
        failing = [
            (rank, index) for index, (test, rank) in enumerate(zip(tests, ranks, strict=True)) if test.status != "pass"
        ]
        first = tests[min(failing)[1]] if failing else None
        return Result(
            verdict,  # type: ignore[arg-type]
            tests=tests,
            message=first.message if first else "",
            score=score(checks, [t.status == "pass" for t in tests]),
            line=first.line if first else None,
        )

    def _verdict_runner(self, pack: model.Pack, limits: model.Limits) -> Any:
        """Runs a custom check's verdict, the pack's own code, as a job in the jail (never here)."""

        def run(check_id: str, code: str, pairs: list[list[Any]]) -> list[dict[str, Any]]:
            where = f"pack '{pack.id}', check '{check_id}'"
            assert self.runner is not None  # _judge judges a job this runner ran
            outcome = self.runner.run("verdicts", {"check": check_id, "code": code, "pairs": pairs}, limits)
            facts = outcome.facts if outcome.status == "ok" else None
            if not isinstance(facts, dict):
                why = outcome.detail or outcome.status.replace("_", " ")
                raise PackFault(f"{where}: its verdict did not finish ({why})")
            if not facts.get("defined"):
                raise PackFault(
                    f"{where}: its verdict does not define verdict(learner, reference): {facts.get('error')}"
                )
            results = facts.get("results")
            if (
                not isinstance(results, list)
                or len(results) != len(pairs)
                or not all(isinstance(r, dict) for r in results)
            ):
                raise PackFault(f"{where}: its verdict's job returned no result")
            return results

        return run

    def _search_roles(
        self,
        pack: model.Pack,
        question: model.CodeBase,
        source: str,
        checks: list[Any],
        outcome: Outcome,
        tests: list[TestResult],
        ranks: list[float],
        learner: Facts,
        reference: Facts,
        limits: model.Limits,
        as_reference: bool = False,
    ) -> Result | None:
        """Outputs that differ where the answer has same-shaped layers: the answer's one run is compared with the
        reference's outputs under other pairings of those layers (grading/roles.py), and, where one matches every
        case, judged again against the reference run in full under that pairing. Returns that result, or None
        when no pairing matches (or the reference cannot be run here). The answer is never run again."""
        failed = [
            check
            for check, test, rank in zip(checks, tests, ranks, strict=True)
            if test.status == "fail" and rank >= 2 and roles.worth_searching(check, learner.of(check.id))
        ]
        if not failed or self.runner is None:
            return None
        table = self._reference_variant(question, limits, "roles", self._search_payload)
        if table is None:
            return None
        found: dict[str, dict[int, roles.Ranks]] = {}
        for check in failed:
            matched = roles.matching_pairings(
                check, learner.of(check.id), learner.tensors, table.checks.get(roles.search_id(check)), table.tensors
            )
            if matched is None:
                return None
            found[check.id] = matched
        failing = {test.check for test in tests if test.status != "pass"}
        given = roles.reference_ranks([c for c in checks if c.id in failing], found, learner.of, reference.of)
        if roles.is_reference_own(given, reference.of):
            return None  # the reference's own pairing: the judgement stands
        paired = self._reference_variant(
            question,
            limits,
            f"pairing-{roles.pairing_key(given)}",
            lambda question: roles.with_ranks(self._full_payload(question), given),
        )
        if paired is None:
            return None
        again = self._judge(pack, question, source, checks, outcome, paired, None, as_reference)
        searched = [t for t in again.tests if t.check in found]
        if (
            again.verdict != "internal_error"
            and len(searched) == len(found)
            and all(t.status == "pass" for t in searched)
        ):
            return again
        return None

    @staticmethod
    def _full_payload(question: model.CodeBase) -> dict[str, Any]:
        assert question.solution is not None  # _reference_variant runs only a question that has its solution
        return probe_payload(question, question.solution, question.checks)

    @staticmethod
    def _search_payload(question: model.CodeBase) -> dict[str, Any]:
        """The reference's role search: every outputs check of the question, so one cached run serves every mode."""
        assert question.solution is not None
        payload = probe_payload(question, question.solution, [])
        payload["checks"] = [roles.search_spec(check) for check in question.checks if check.kind == "outputs"]
        return payload

    def _reference_variant(
        self, question: model.CodeBase, limits: model.Limits, name: str, payload: Any
    ) -> Facts | None:
        """The reference run another way (`name`: its role search, or a full run under a pairing), from memory,
        the cache, or one job of the reference's code (`payload(question)`), cached like its own facts. None
        where the reference cannot be run: a student build ships no solution, only its own facts."""
        key = f"{reference_key(question)}-{name}"
        remembered = self._remembered(key)
        if remembered is not None:
            return remembered
        cached = self.cache.load(key) if self.cache else None
        if cached is not None:
            facts, blob = cached
        elif question.solution is None or self.runner is None:
            return None
        else:
            outcome = self.runner.run("probe", payload(question), limits)
            if outcome.status != "ok" or not isinstance(outcome.facts, dict):
                return None
            facts, blob = outcome.facts, outcome.tensors
            definition = facts.get("definition")
            if not isinstance(definition, dict) or not definition.get("ok"):
                return None
            if self.cache:
                self.cache.store(key, facts, blob)
        checks = facts.get("checks") if isinstance(facts, dict) else None
        try:
            variant = Facts(checks if isinstance(checks, dict) else {}, decode_tensors(blob))
        except FactsRefused:
            return None
        self._remember(key, variant)
        return variant


# The longest answer graded: the built-in references are under 5,000 characters; parsing costs the grading
# process about 600 bytes of memory per character of source, so a 16 MB file took it to 10 GB.
MAX_ANSWER_CHARS = 100_000


def _called(question: model.CodeBase, facts: dict[str, Any]) -> set[str]:
    """The forbidden names the job saw called from the answer's code: a list of the names it was asked to
    watch, each once. Missing when names were watched, or naming others, the facts are refused."""
    watched = watched_names(question)
    called = facts.get("called")
    if not watched:
        if called not in (None, []):
            raise FactsRefused("calls reported, where none were watched")
        return set()
    if not isinstance(called, list) or not all(isinstance(name, str) for name in called):
        raise FactsRefused("no record of the calls watched")
    if len(called) != len(set(called)) or not set(called) <= set(watched):
        raise FactsRefused("calls reported of names that were not watched")
    return set(called)


def _too_long(answer: str) -> Result:
    return Result(
        "wrong_answer",
        message=f"the answer is {len(answer):,} characters long; answers are limited to "
        f"{MAX_ANSWER_CHARS:,} (about 2,000 lines): is this the right file?",
    )


def strip_bom(text: str) -> str:
    """Windows editors start UTF-8 files with a byte order mark; it is not part of the answer."""
    return text.removeprefix("\ufeff")


def _check_error(check: Any, message: str) -> TestResult:
    return TestResult(name=check.title or check.id, status="error", message=message, visible=True, check=check.id)


def _tampered(checks: list[Any], problem: str) -> Result:
    """Facts that are not what was asked: every check fails, none is judged."""
    from .checks import TAMPERED

    message = f"{TAMPERED} ({problem}); nothing was judged, so no check can pass"
    tests = [
        TestResult(name=c.title or c.id, status="fail", message=message, visible=c.visible, check=c.id) for c in checks
    ]
    return Result("wrong_answer", tests=tests, message=message, score=0.0 if checks else None)


def _definition_result(question: model.CodeBase, definition: dict[str, Any]) -> Result:
    if definition.get("missing") is not None:
        defined = ", ".join(definition.get("defined", [])) or "nothing"
        return Result(
            "wrong_answer",
            message=f"the answer does not define {question.entry_point} (it defines: {defined})",
        )
    if definition.get("syntax") is not None:
        syntax = definition["syntax"]
        return Result(
            "syntax_error",
            message=f"line {syntax.get('line')}, column {syntax.get('column')}: {syntax.get('message')}",
            line=syntax.get("line") if isinstance(syntax.get("line"), int) else None,
            column=syntax.get("column") if isinstance(syntax.get("column"), int) else None,
        )
    finding = describe_exception(definition.get("exception") or {"type": "Exception"}, "defining the answer")
    return Result("runtime_error", message=finding.message, line=finding.line, traceback=finding.traceback)
