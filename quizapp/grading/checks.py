"""Each check kind, judged from facts: the learner's, the reference's, and the pack's expectations.

Everything here runs outside the jail. Messages are a reviewer's: what was expected, what came, where.
A hidden check's details are never shown; its result carries only pass or fail and the author's message.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..packs import model
from ..pyparse import parse
from . import facts as schema
from . import tensors
from .diagnosis import RELATION_LIMIT, layer_head, locate, parameter_difference, relation, split_repr
from .result import TestResult
from .tensors import Tensor


class ReferenceFailed(Exception):
    """The reference solution could not produce a fact the check needs: the pack's fault or ours."""


class PackFault(Exception):
    """A pack's own code (a custom verdict) failed: the pack's fault, named with the pack and the check."""


TAMPERED = "the answer's run did not report what was asked"


@dataclass
class Facts:
    """One run's facts, and its tensors (decoded when a judge asks for one).

    `checks` is what the run sent, untrusted; a judge reads a check's facts through `of`, which holds them only
    once `validate_for` has checked them against the pack."""

    checks: dict[str, Any]
    tensors: schema.TensorStore
    validated: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, check_id: str) -> dict[str, Any]:
        return self.validated.get(check_id) or {}

    def validate_for(self, check: Any) -> None:
        """Raises facts.FactsRefused when the check's facts are not exactly what the pack asked for."""
        if check.id not in self.validated:
            self.validated[check.id] = schema.validate(check, self.checks.get(check.id), self.tensors)


@dataclass
class Context:
    question: model.CodeBase
    learner: Facts
    reference: Facts
    source: str
    pack_id: str = ""
    as_reference: bool = False  # the reference solution itself, as `quizapp validate` grades it
    _runner: str | None = field(default=None, repr=False)
    verdicts: VerdictRunner | None = field(default=None, repr=False)  # runs a pack's custom verdict in the jail
    called: set[str] = field(default_factory=set)  # forbidden names the job saw called from the answer's code

    def same_module_output(self, mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
        """Whether two observed module outputs agree: the same shape and the same sampled values."""
        if mine.get("shape") != theirs.get("shape"):
            return False
        got, want = self.learner.tensors[mine["tensor"]], self.reference.tensors[theirs["tensor"]]
        return agree(got, want, 1e-4, 1e-5, "-", "-")

    def difference(
        self,
        got_key: str,
        want_key: str,
        rtol: float,
        atol: float,
        got_dtype: str | None = None,
        want_dtype: str | None = None,
    ) -> Callable[[], str] | None:
        """None when a learner's tensor agrees with a reference's (dtypes as torch names them); otherwise a
        function that says how they differ (compare_arrays), called only for the finding a message shows."""
        got, want = self.learner.tensors[got_key], self.reference.tensors[want_key]
        got_dtype, want_dtype = got_dtype or got.dtype, want_dtype or want.dtype
        if agree(got, want, rtol, atol, got_dtype, want_dtype):
            return None
        return lambda: compare_arrays(got, want, rtol, atol, got_dtype, want_dtype) or ""

    def relation(self, got_key: str, want_key: str, rtol: float, atol: float, what: str = "the output") -> str | None:
        """How a learner's real floating tensor that differs from the reference's relates to it, when a simple
        relation holds everywhere (diagnosis.relation): a normalisation over another dim, a constant factor."""
        got, want = self.learner.tensors[got_key], self.reference.tensors[want_key]
        if got.shape != want.shape or got.is_complex or want.is_complex or got.code not in tensors.REAL_FLOATING:
            return None
        if want.code not in tensors.REAL_FLOATING or got.size > RELATION_LIMIT:
            return None
        return relation(got.shape, got.floats(), want.floats(), rtol, atol, what)

    @property
    def runner(self) -> str:
        """What runs the learner's code, as a message names it: `forward` for a module, the function's own name
        (`softmax`) when the entry point is a function (format 2's `entry_point_kind: function`, or a format-1
        question whose reference defines the entry point with `def`)."""
        if self._runner is None:
            self._runner = "forward"
            name = self.question.entry_point
            if self.question.entry_point_kind == "function" or _defines_function(self._definition_source, name):
                self._runner = f"`{name}`"
        return self._runner

    def argument_name(self, position: int) -> str | None:
        """The name the answer gives to the call's argument at `position` (forward's, without self, or the
        function's), else the reference's, for messages; None when it cannot be read."""
        for source in self._sources:
            names = _parameter_names(source, self.question.entry_point, self.runner != "forward")
            if position < len(names):  # `def f(*args)` names nothing: the reference's names then
                return names[position]
        return None

    @property
    def _sources(self) -> tuple[str | None, ...]:
        """Where names are read from, in order: the answer's own code (so a student build, which has no reference
        solution, says the same as its source), the reference's, the starter's."""
        return (self.source, self.question.solution, getattr(self.question, "starter", None))

    @property
    def _definition_source(self) -> str | None:
        """The first of _sources that defines the entry point with `def` or `class`."""
        name = self.question.entry_point
        for source in self._sources:
            if _top_level(source, name) is not None:
                return source
        return None

    def case_label(self, check: Any, index: int) -> str:
        case: model.Case = check.cases[index]
        if case.name:
            return case.name
        if case.build:
            return case.build
        name = self.question.entry_point
        if self.question.entry_point_kind == "function":
            calls = case.all_calls()
            return describe_call(name, calls[0]) if len(calls) == 1 else f"the calls of {name} in case {index}"
        arguments = [repr(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs.items()]
        return f"{name}({', '.join(arguments)})"


@functools.lru_cache(maxsize=4)  # a verdict asks for the same answer's definitions once per case
def _top_level(source: str | None, name: str) -> ast.stmt | None:
    try:
        tree = parse(source or "")
    except (SyntaxError, ValueError):
        return None
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name]
    return found[-1] if found else None


def _defines_function(source: str | None, name: str) -> bool:
    return isinstance(_top_level(source, name), ast.FunctionDef)


def _parameter_names(source: str | None, name: str, function: bool) -> list[str]:
    node = _top_level(source, name)
    if isinstance(node, ast.ClassDef):
        node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "forward"), None)
        skip = 1  # self
    else:
        skip = 0
    if not isinstance(node, ast.FunctionDef) or function != (skip == 0):
        return []
    return [a.arg for a in [*node.args.posonlyargs, *node.args.args][skip:]]


@dataclass
class Finding:
    """Why a check did not pass: 'fail' for a wrong result, 'error' when the learner's code raised."""

    status: Literal["pass", "fail", "error"]
    message: str
    line: int | None = None
    traceback: str = ""
    # How specific, for choosing the headline: 0 tampering; 1 a structural or trace finding, an explained error;
    # 1.5 a behaviour named (forward returns its input, parameters get no gradient); 2 a numeric difference with
    # its cause, an expectation's message; 3 a place or a bare error; 4 a bare difference.
    rank: float = 3
    own_words: bool = False  # the finding says what is wrong; the check's general message would mislead
    case: str = ""  # the case's label inside the message, left out where the check is hidden
    # What DIFFERENCE in the message stands for, computed only for the finding shown: the statistics of two
    # tensors that differ take a pass over every value, and a wrong answer differs in most runs of a check.
    detail: Callable[[], str] | None = None

    def resolved(self) -> Finding:
        if self.detail is None:
            return self
        return replace(self, message=self.message.replace(DIFFERENCE, self.detail()), detail=None)


DIFFERENCE = "\x00difference\x00"  # a placeholder in a Finding's message, for its detail


def format_traceback(error: dict[str, Any]) -> str:
    """The learner's traceback, only the frames of their own answer.py, as Python would print them."""
    frames = error.get("frames") or []
    if not frames:
        return ""
    lines = ["Traceback (most recent call last, your code only):"]
    for frame in frames:
        lines.append(f'  File "answer.py", line {frame["line"]}, in {frame["function"]}')
        if frame.get("text"):
            lines.append(f"    {frame['text']}")
    lines.append(f"{error.get('type', 'Exception')}: {error.get('message', '')}".rstrip(": "))
    return "\n".join(lines)


def judge_check(check: Any, context: Context) -> TestResult:
    return judge_check_ranked(check, context)[0]


def judge_check_ranked(check: Any, context: Context) -> tuple[TestResult, float]:
    """The check's result, and how specific its finding is (lower is more specific; 9 for a pass)."""
    title = check.title or check.id
    try:
        finding = _facts_problem(check, context) or _JUDGES[check.kind](check, context)
        finding = finding.resolved() if finding is not None else None
    except ReferenceFailed as problem:
        raise ReferenceFailed(f"check '{check.id}': {problem}") from None
    if finding is None:
        return TestResult(name=title, status="pass", visible=check.visible, check=check.id), 9
    if not check.visible:
        # What failed, in words, but not the check's cases: those stay hidden.
        message = check.message or "this hidden check did not pass"
        if finding.message.startswith(TAMPERED):
            message = finding.message
        elif finding.status == "error":  # what the check is about would mislead: the answer raised
            message = f"this hidden check stopped on an error in the answer: {finding.message.split(' while ')[0]}"
        else:
            detail = (
                finding.message.replace(f" for {finding.case}", "") if finding.case else _without_case(finding.message)
            )
            message = f"{message} ({detail})"
        return TestResult(name=title, status="fail", message=message, visible=False, check=check.id), finding.rank
    message = finding.message
    if check.message and check.message not in message and not finding.own_words and finding.status == "fail":
        message = f"{check.message}: {message}"  # not after an error: the answer raised, whatever the check's about
    return TestResult(
        output=finding.traceback,
        name=title,
        status=finding.status,
        message=message,
        visible=True,
        check=check.id,
        line=finding.line,
    ), finding.rank


def _without_case(message: str) -> str:
    """A finding without the case it happened on, for a hidden check."""
    for marker in (" for ", " while "):
        if marker in message:
            head, _, tail = message.partition(marker)
            rest = tail.split(": ", 1)
            return head + (": " + rest[1] if len(rest) > 1 else "")
    return message


def _facts_problem(check: Any, context: Context) -> Finding | None:
    """Validate both runs' facts for the check; the learner's not being what was asked fails the check."""
    if not schema.probed(check):
        return None
    try:
        context.reference.validate_for(check)
    except schema.FactsRefused as problem:
        raise ReferenceFailed(f"its facts are malformed: {problem}") from None
    if "probe_failed" in context.reference.of(check.id):
        raise ReferenceFailed(f"the probe failed: {context.reference.of(check.id)['probe_failed'].get('message')}")
    try:
        context.learner.validate_for(check)
    except schema.FactsRefused as problem:
        return Finding("fail", f"{TAMPERED} ({problem}); nothing was judged, so the check cannot pass", rank=0)
    failed = context.learner.of(check.id).get("probe_failed")
    if failed is not None:
        return Finding(
            "error",
            f"the probe could not examine the answer: {failed.get('type')}: {failed.get('message')} "
            "(did the answer change torch or the judge's own code?)",
        )
    return None


# --- exceptions from the learner's code, in words ----------------------------------------------------------


def describe_exception(error: dict[str, Any], doing: str, source: str = "") -> Finding:
    """'BatchNorm2d(32) receives 64 channels' rather than a bare 'running_mean should contain...'."""
    finding = _describe_exception(error, doing, source)
    finding.traceback = format_traceback(error)
    return finding


def _describe_exception(error: dict[str, Any], doing: str, source: str = "") -> Finding:
    kind = error.get("type", "Exception")
    message = error.get("message", "")
    frames = error.get("frames") or []
    line = frames[-1]["line"] if frames else None
    module = error.get("module") or {}
    shape = module.get("input_shape")
    repr_ = module.get("repr", "")
    path = module.get("path", "")
    where = f" in `{path}`" if path and path != "?" else ""
    if kind == "SystemExit":
        return Finding("error", f"{error.get('note', 'the answer called exit()')} while {doing}", line)
    if error.get("memory"):
        return Finding("error", f"ran out of memory while {doing}", line)
    text = f"{kind}: {message}".strip()
    code = frames[-1].get("text") if frames else ""
    located = f" (answer.py line {line}: `{code}`)" if line and code else f" (answer.py line {line})" if line else ""
    classic = classic_error(kind, message, source)
    if classic:
        return Finding("error", f"{classic}{located} while {doing}: {text}", line, rank=1)
    explained = _mismatch(repr_, shape, where)
    if explained:
        return Finding("error", f"{explained} while {doing}{located}: {text}", line, rank=1)
    if path and path != "?":
        return Finding("error", f"`{path}` ({layer_head(repr_)}) raised {text} while {doing}{located}", line)
    return Finding("error", f"{text} while {doing}{located}", line)


def _mismatch(repr_: str, shape: list[int] | None, where: str) -> str | None:
    """'BatchNorm2d(16) in `bn1` receives 32 channels', only when the channels (or features) are the problem."""
    if not repr_ or not shape:
        return None
    name, positional, keywords = split_repr(repr_)
    expected = positional[0] if positional else keywords.get("in_features") or keywords.get("num_features")
    if name.startswith(("BatchNorm", "InstanceNorm", "Conv")) and len(shape) > 1:
        groups = keywords.get("groups")
        if expected is not None and groups is None and expected.isdigit() and int(expected) != shape[1]:
            return f"{layer_head(repr_)}{where} receives {shape[1]} channels"
    elif name == "Linear" and expected is not None and expected.isdigit() and int(expected) != shape[-1]:
        return f"{layer_head(repr_)}{where} receives inputs of shape {tuple(shape)}"
    return None


def classic_error(kind: str, message: str, source: str = "") -> str | None:
    """The reviewer's sentence for the errors everyone meets once."""
    if kind == "AttributeError" and (
        "before Module.__init__() call" in message
        or re.search(
            r"object has no attribute '_(modules|parameters|buffers|forward_hooks|forward_pre_hooks)'", message
        )
    ):
        return "super().__init__() was not called first in __init__: nn.Module sets up its registries there"
    if kind == "RecursionError":
        if re.search(r"self\.modules\(\)", source):
            return (
                "infinite recursion: self.modules() yields the module itself first, so forward calls itself; "
                "use self.children()"
            )
        return "infinite recursion: forward (or something it calls) calls itself"
    if kind == "AttributeError" and (missing := re.search(r"object has no attribute '(\w+)'", message)):
        name = missing.group(1)
        known = set(re.findall(r"self\.(\w+)\s*=", source)) | set(re.findall(r"add_module\(\s*['\"](\w+)", source))
        close = difflib.get_close_matches(name, sorted(known), n=1)
        if close:
            return f"`self.{name}` does not exist: did you mean `self.{close[0]}`?"
    if kind == "NotImplementedError" and 'missing the required "forward" function' in message:
        return "a module without forward was called (nn.ModuleList and nn.ModuleDict only hold modules)"
    if "leaf Variable that requires grad is being used in an in-place operation" in message:
        return "forward changes its input in place (an in-place op such as relu_ or += on x)"
    if "Expected more than 1 value per channel when training" in message:
        return "BatchNorm in train mode needs more than one value per channel"
    if kind == "TypeError" and re.search(r"forward\(\) takes \d+ positional argument", message):
        return "forward must take the input: def forward(self, x)"
    return None


# --- outputs and gradients ------------------------------------------------------------------------------------


def _index(entries: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(entry.get(k) for k in keys): entry for entry in entries}


def compare_arrays(
    got: Tensor, want: Tensor, rtol: float, atol: float, got_dtype: str | None = None, want_dtype: str | None = None
) -> str | None:
    """None when close; otherwise what differs: shape, dtype, or the largest error and where it is.

    got_dtype and want_dtype name the tensors' dtypes as torch does; without them the dtypes of the decoded
    values are compared (bfloat16 and float8 decode to float32 values)."""
    if got.shape != want.shape:
        return f"shape {_shape(got.shape)}, expected {_shape(want.shape)}"
    got_dtype, want_dtype = got_dtype or got.value_dtype, want_dtype or want.value_dtype
    if got_dtype != want_dtype:
        return f"dtype {got_dtype}, expected {want_dtype}"
    if got.size == 0:
        return None
    differs = tensors.mismatch(got, want, rtol, atol)
    if differs is None:
        return None
    # A value that is not finite where the reference's is (overflow, 0/0) is named as such, not as an error of inf.
    if differs.first_not_finite is not None:
        return (
            f"{differs.not_finite} value(s) not finite where the reference's are: {_plain_number(differs.got)} at "
            f"{_where(differs.first_not_finite)}, expected {_plain_number(differs.want)} "
            f"({differs.wrong} of {differs.size} values differ)"
        )
    return (
        f"max abs error {differs.largest:.3g} at {_where(differs.worst)} "
        f"({differs.wrong} of {differs.size} values differ)"
    )


def agree(
    got: Tensor, want: Tensor, rtol: float, atol: float, got_dtype: str | None = None, want_dtype: str | None = None
) -> bool:
    """Whether compare_arrays would find nothing, without its statistics: stops at the first value not close."""
    if got.shape != want.shape or (got_dtype or got.value_dtype) != (want_dtype or want.value_dtype):
        return False
    return got.size == 0 or tensors.close(got, want, rtol, atol)


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _plain_number(value: Any) -> str:
    number = complex(value)
    if number.imag == 0:
        return f"{number.real:.4g}"
    return f"{number.real:.4g}{number.imag:+.4g}j"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def judge_outputs(check: model.OutputsCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    reference = context.reference.of(check.id).get("results", [])
    ref_by_key = _index(reference, "case", "mode", "input")
    observed = {e["case"]: e for e in learner if e.get("input") == 0 and e.get("modules") is not None}
    ref_observed = {e["case"]: e for e in reference if e.get("input") == 0 and e.get("modules") is not None}
    problems: list[Finding] = []

    def where(entry: dict[str, Any]) -> tuple[str, float] | None:
        """Where the run left the reference, from the observed run of the same case and mode."""
        mine, theirs = observed.get(entry["case"]), ref_observed.get(entry["case"])
        if mine is None or theirs is None or mine["mode"] != theirs["mode"]:
            return None
        return locate(mine, theirs, context.same_module_output, context.runner)

    def settled() -> bool:
        """Whether a run that fails from here on can no longer be the headline: _first takes the lowest
        (rank, not an error), the earliest among equals, and a failing run's finding ranks 1 at best. Such a
        run is still counted, but its cause (a relation over every value, the place it left the reference:
        most of a wrong answer's time on the host, once per failing run) is not looked for."""
        return any(p.rank <= 1 for p in problems)

    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            problems.append(describe_exception(entry["construct_error"], f"constructing {label}", context.source))
            continue
        doing = f"running {label} in {entry['mode']} mode"
        if "error" in entry:
            finding = describe_exception(entry["error"], doing, context.source)
            if finding.rank > 1 and (found := where(entry)) and found[1] <= 1:
                finding.message, finding.rank = f"{found[0]}; then {finding.message}", 2
            problems.append(finding)
            continue
        ref = ref_by_key.get((entry["case"], entry["mode"], entry["input"]))
        if ref is None or "output" not in ref or ("shape" not in ref["output"] and ref.get("elements") is None):
            raise ReferenceFailed(f"the reference gave no output for {label}")
        out = entry.get("output", {})
        label = _call_label(check, entry, label, context)
        if ref.get("elements") is not None:  # a tuple, list or dict: compared element by element
            rtol, atol = model.tolerance_for(check, check.cases[entry["case"]])
            diagnose = not settled()
            element_finding = _compare_elements(check, context, entry, ref, label, rtol, atol, diagnose)
            if element_finding is not None:
                if diagnose and element_finding.rank >= 3 and (found := where(entry)):
                    element_finding.message = f"{found[0]}; {element_finding.message}"
                    element_finding.rank = found[1] + 1
                problems.append(element_finding)
            continue
        if "shape" not in out:
            problems.append(
                Finding(
                    "fail", f"{context.runner} returned a {out.get('type', '?')}, not a tensor, for {label}", rank=1
                )
            )
            continue
        if entry.get("random") and not ref.get("random"):
            problems.append(
                Finding(
                    "fail",
                    f"{context.runner} is random in train mode ({label}): two runs under different random states give "
                    "different outputs, where the reference's is deterministic (dropout, or a randomly chosen path?)",
                    rank=1,
                )
            )
            continue
        key = f"{check.id}/{entry['case']}/{entry['mode']}/{entry['input']}"
        rtol, atol = model.tolerance_for(check, check.cases[entry["case"]])
        difference = context.difference(key, key, rtol, atol, out.get("dtype"), ref["output"].get("dtype"))
        if difference:
            message = f"output differs{_in_mode(context, entry)} for {label}: {DIFFERENCE}"
            rank: float = 4
            if settled():  # counted, never shown: its cause is not looked for
                pass
            elif entry.get("returns_input") and not ref.get("returns_input"):
                message, rank = f"{context.runner} returns its input unchanged; {message}", 1.5
            elif unmatched := _unmatched_parameters(check, context, entry["case"]):
                message, rank = f"its parameters cannot be matched to the reference's: {unmatched}; {message}", 2
            elif related := context.relation(key, key, rtol, atol):
                message, rank = f"{related}; {message}", 1
            elif found := where(entry):
                message, rank = f"{found[0]}; {message}", found[1] + 1
            held = context.learner.of(check.id).get("unregistered", {}).get(str(entry["case"]))
            if held:
                message, rank = f"{unregistered_message(held[0])}; {message}", 1
            problems.append(Finding("fail", message, rank=rank, detail=difference))
    if not problems:  # outputs that agree: then the running statistics they leave (BatchNorm's momentum)
        statistics = _running_statistics(check, context, learner, ref_by_key)
        if statistics is not None:
            problems.append(statistics)
    return _first(problems, len(learner))


def _running_statistics(
    check: model.OutputsCheck, context: Context, learner: list[dict[str, Any]], ref_by_key: dict[Any, Any]
) -> Finding | None:
    """Each running statistic the reference's first training-mode run left (`running_*` buffers, the probes'
    `state`) must be held by one of the answer's, of the same shape, with the same values: outputs that agree
    in both modes say nothing of how the statistics are updated, since every run starts from the same ones.
    Paired by values, its own path first, so an answer that names or orders its norms differently is not
    held to the reference's names."""
    for entry in learner:
        if entry.get("mode") != "train" or entry.get("input") != 0 or "error" in entry or "construct_error" in entry:
            continue
        theirs = (ref_by_key.get((entry["case"], "train", 0)) or {}).get("state") or []
        if not theirs:
            continue
        mine = list(entry.get("state") or [])
        rtol, atol = model.tolerance_for(check, check.cases[entry["case"]])
        label = _call_label(check, entry, context.case_label(check, entry["case"]), context)
        for want in theirs:
            shaped = sorted(
                (got for got in mine if got["shape"] == want["shape"]), key=lambda g: g["path"] != want["path"]
            )
            match = next(
                (
                    got
                    for got in shaped
                    if context.difference(got["tensor"], want["tensor"], rtol, atol, got["dtype"], want["dtype"])
                    is None
                ),
                None,
            )
            if match is not None:
                mine.remove(match)
                continue
            if not shaped:
                if len(entry.get("state") or []) >= schema.MAX_STATE_BUFFERS:
                    continue  # the answer's list was cut at its length: its counterpart may be past the cut
                return Finding(
                    "fail",
                    f"the outputs agree, but after a training-mode forward of {label} the answer keeps no running "
                    f"statistics of shape {tuple(want['shape'])} like the reference's `{want['path']}`: does it "
                    "track them as the reference does?",
                    rank=2,
                    own_words=True,
                )
            got = shaped[0]
            return Finding(
                "fail",
                f"the outputs agree, but after a training-mode forward of {label} `{got['path']}` holds other "
                f"running statistics than the reference's `{want['path']}`: {DIFFERENCE}; are they updated as the "
                "reference updates them (the momentum, the variance's bias correction)?",
                rank=2,
                own_words=True,
                detail=context.difference(got["tensor"], want["tensor"], rtol, atol, got["dtype"], want["dtype"]),
            )
    return None


def _call_label(check: Any, entry: dict[str, Any], label: str, context: Context) -> str:
    """The case's label, with the call's own name when the author gave one; a function's call, written out."""
    case = check.cases[entry["case"]]
    calls = case.all_calls()
    index = entry.get("input")
    if index is None or index >= len(calls):
        return label
    call = calls[index]
    function = context.question.entry_point_kind == "function"
    if call.name:
        return f"{context.question.entry_point if function and not case.name else label}, {call.name}"
    if function and not case.name and len(calls) > 1:
        return describe_call(context.question.entry_point, call)
    return label


def describe_call(name: str, call: model.Call) -> str:
    """`softmax(float32[3, 5], dim=1)`: a call as its arguments' kinds and values."""

    def show(value: Any) -> str:
        if isinstance(value, model.TensorSpec):
            return f"{value.dtype}{list(value.tensor_shape())}"
        if isinstance(value, model.SameAs):
            return f"<same as {value.same_as}>"
        return _show(value)

    parts = [show(value) for value in call.args] + [f"{key}={show(value)}" for key, value in call.kwargs.items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= 100 else text[:97] + "..."


def element_label(check: Any, path: str) -> str:
    """`output[1] (the attention weights)`: the element's path, with the author's name for it if any."""
    names = getattr(check, "output_names", None) or []
    head = path.split("]")[0] + "]" if path.startswith("[") else path
    try:
        position = int(head[1:-1])
    except ValueError:
        position = -1
    named = f" ({names[position]})" if 0 <= position < len(names) else ""
    return f"output{path}{named}"


def _in_mode(context: Context, entry: dict[str, Any]) -> str:
    """' in train mode' for a module's run; nothing for a function, which has no mode."""
    if context.runner != "forward" or not entry.get("mode"):
        return ""
    return f" in {entry['mode']} mode"


def _kind_of(entry: dict[str, Any]) -> str:
    out = entry.get("output") or {}
    if "shape" in out:
        return "a tensor"
    elements = entry.get("elements")
    if elements is None:
        return f"a {out.get('type', '?')}"
    container = "dict" if elements and elements[0]["path"].startswith("['") else out.get("type", "tuple")
    return f"a {container} of {len({e['path'].split(']')[0] for e in elements})}"


def _compare_elements(
    check: Any,
    context: Context,
    entry: dict[str, Any],
    ref: dict[str, Any],
    label: str,
    rtol: float,
    atol: float,
    diagnose: bool = True,
) -> Finding | None:
    """A tuple, list or dict output, element by element: the first element missing, of another kind, or with
    other values, named by its path and the author's name for it. Without `diagnose` (the finding cannot be
    the check's headline) no element's relation to the reference's is looked for."""
    mine = entry.get("elements")
    theirs = ref["elements"]
    if mine is None:
        return Finding(
            "fail",
            f"{context.runner} returned {_kind_of(entry)} where the reference returns {_kind_of(ref)} for {label}"
            + (f" ({', '.join(check.output_names)})" if getattr(check, "output_names", None) else ""),
            rank=1,
        )
    by_path = {element["path"]: element for element in mine}
    first: Finding | None = None
    for want in theirs:
        name = element_label(check, want["path"])
        got = by_path.get(want["path"])
        if got is None:
            return Finding(
                "fail",
                f"{name} is missing: {context.runner} returned {_kind_of(entry)} where the reference returns "
                f"{_kind_of(ref)} for {label}",
                rank=1,
            )
        if "tensor" in want:
            if "tensor" not in got:
                return Finding("fail", f"{name} is a {got.get('type', '?')}, not a tensor, for {label}", rank=1)
            difference = context.difference(
                got["tensor"], want["tensor"], rtol, atol, got.get("dtype"), want.get("dtype")
            )
            if difference:
                # The first element that differs is the finding; an element whose difference is a relation
                # (attention weights normalised over the queries) tells why, whichever element it is.
                if first is None:
                    first = Finding(
                        "fail",
                        f"{name} differs{_in_mode(context, entry)} for {label}: {DIFFERENCE}",
                        rank=4,
                        detail=difference,
                    )
                related = diagnose and context.relation(got["tensor"], want["tensor"], rtol, atol, name)
                if related:  # the first element's difference, with this element's cause before it
                    return replace(first, message=f"{related}; {first.message}", rank=1)
        elif got.get("type") != want.get("type") or not same_value(got.get("value"), want.get("value"), rtol, atol):
            shown = _show(got.get("value")) if "value" in got else f"a {got.get('type')}"
            expected = _show(want.get("value")) if "value" in want else f"a {want.get('type')}"
            return first or Finding("fail", f"{name} is {shown}, expected {expected}, for {label}", rank=2)
    if first is not None:
        return first
    extra = [element["path"] for element in mine if element["path"] not in {w["path"] for w in theirs}]
    if extra:
        return Finding(
            "fail",
            f"{context.runner} returned {_kind_of(entry)} where the reference returns {_kind_of(ref)} for {label} "
            f"(output{extra[0]} is not expected)",
            rank=1,
        )
    return None


def _unmatched_parameters(check: model.OutputsCheck, context: Context, case: int) -> str | None:
    """Parameters of other shapes than the reference's (a fused Linear(E, 3E) for three Linear(E, E)), by name."""
    mine = context.learner.of(check.id).get("parameters", {}).get(str(case))
    theirs = context.reference.of(check.id).get("parameters", {}).get(str(case))
    if mine is None or theirs is None:
        return None
    return parameter_difference(mine, theirs, [], [])


def unregistered_message(held: dict[str, Any]) -> str:
    names = ", ".join(held["modules"][:4]) + (", ..." if len(held["modules"]) > 4 else "")
    return (
        f"`{held['attribute']}` keeps modules ({names}) in a plain {held['container']}, so they are not "
        "registered: parameters(), to() and state_dict() cannot see them; use nn.ModuleList, nn.ModuleDict or "
        "nn.Sequential"
    )


def _first(problems: list[Finding], total: int) -> Finding | None:
    """The first problem stands for the check; the count says whether it is alone."""
    if not problems:
        return None
    lead = min(problems, key=lambda p: (p.rank, p.status != "error"))
    more = len(problems) - 1
    suffix = f" (and {more} more of {total} runs)" if more else ""
    return replace(lead, message=lead.message + suffix)


def judge_gradients(check: model.GradientsCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    ref_by_key = _index(context.reference.of(check.id).get("results", []), "case", "mode", "input")
    problems: list[Finding] = []
    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            problems.append(describe_exception(entry["construct_error"], f"constructing {label}", context.source))
            continue
        if "error" in entry:
            problems.append(describe_exception(entry["error"], f"back-propagating through {label}", context.source))
            continue
        ref = ref_by_key.get((entry["case"], entry["mode"], entry["input"]))
        if ref is None or "error" in ref:
            raise ReferenceFailed(f"the reference gave no gradients for {label}")
        mine, theirs = entry.get("output") or {}, ref.get("output") or {}
        if _returned(mine) != _returned(theirs):  # a tuple for a tensor: the projections would not compare
            got, want = _returned(mine), _returned(theirs)
            problems.append(
                Finding(
                    "fail", f"{context.runner} returned {got} where the reference returns {want} for {label}", rank=1
                )
            )
            continue
        # A relation ranks a gradient's difference 2 at best: once a finding ranks 2 or less, a later one's is
        # not looked for (it could not be the headline, see judge_outputs).
        diagnose = not any(p.rank <= 2 for p in problems)
        finding = _compare_gradients(check, context, entry, ref, _call_label(check, entry, label, context), diagnose)
        if finding:
            problems.append(finding)
    return _first(problems, len(learner))


def _returned(output: dict[str, Any]) -> str:
    """What forward returned, as a message says it; a list and a tuple are the same sequence."""
    if "shape" in output:
        return "a tensor"
    kind = output.get("type", "?")
    return "a tuple" if kind in ("tuple", "list") else f"a {kind}"


def _compare_gradients(
    check: model.GradientsCheck,
    context: Context,
    entry: dict[str, Any],
    ref: dict[str, Any],
    label: str,
    diagnose: bool = True,
) -> Finding | None:
    """The first way this run's gradients differ from the reference's; without `diagnose` (the finding cannot
    be the check's headline) a difference's relation to the reference's is not looked for."""
    detached = bool(entry.get("detached")) and not ref.get("detached")
    cut = f" ({context.runner} calls detach(), which cuts the graph there)" if detached else ""
    rtol, atol = model.tolerance_for(check, check.cases[entry["case"]])
    if "parameters" in check.wrt:
        params, ref_params = entry.get("parameters") or [], ref.get("parameters") or []
        none = [p for p in params if p["grad"] is None]
        if len(none) > sum(1 for p in ref_params if p["grad"] is None):
            why = cut or " (are they used in forward, and not under torch.no_grad()?)"
            return Finding(
                "fail",
                f"{_names(none)} {_verb(none, 'gets', 'get')} no gradient for {label}{why}",
                rank=1.5,
                case=label,
            )
        zero = [p for p in params if p["grad"] is not None and _all_zero(context.learner.tensors[p["grad"]])]
        if len(zero) > sum(
            1 for p in ref_params if p["grad"] is not None and _all_zero(context.reference.tensors[p["grad"]])
        ):
            return Finding(
                "fail",
                f"{_names(zero)} {_verb(zero, 'gets', 'get')} a zero gradient for {label}{cut}",
                rank=1.5,
                case=label,
            )
    built = bool(check.cases[entry["case"]].build)  # a `build` lambda's input is not the entry point's argument

    def named(position: int) -> str | None:
        name = None if built else context.argument_name(position)
        return f"`{name}`" if name else None

    if "input" in check.wrt and ref.get("input_grad"):
        first = named(0) or "the input"
        if not entry.get("input_grad"):
            why = cut or ": is it used only under torch.no_grad(), or replaced by a new tensor?"
            return Finding("fail", f"no gradient reaches {first} for {label}{why}", rank=1.5, case=label)
        difference = context.difference(entry["input_grad"], ref["input_grad"], rtol, atol)
        if difference:
            related = (
                None
                if cut or not diagnose
                else context.relation(entry["input_grad"], ref["input_grad"], rtol, atol, "it")
            )
            return Finding(
                "fail",
                f"the gradient with respect to {first} differs for {label}{cut}: "
                + (f"{related}; {DIFFERENCE}" if related else DIFFERENCE),
                rank=2 if cut or related else 4,
                case=label,
                detail=difference,
            )
    if "input" in check.wrt:
        mine = entry.get("input_grads") or {}
        for name, want in (ref.get("input_grads") or {}).items():
            which = (named(int(name)) or f"argument {name}") if name.isdigit() else f"`{name}`"
            if want is None:
                continue
            if mine.get(name) is None:
                why = cut or ": is it used only under torch.no_grad(), or replaced by a new tensor?"
                return Finding("fail", f"no gradient reaches {which} for {label}{why}", rank=1.5, case=label)
            difference = context.difference(mine[name], want, rtol, atol)
            if difference:
                related = None if cut or not diagnose else context.relation(mine[name], want, rtol, atol, "it")
                return Finding(
                    "fail",
                    f"the gradient with respect to {which} differs for {label}{cut}: "
                    + (f"{related}; {DIFFERENCE}" if related else DIFFERENCE),
                    rank=2 if cut or related else 4,
                    case=label,
                    detail=difference,
                )
    if "parameters" not in check.wrt:
        return None
    # Pair parameters by role (module type, local name) and shape; within a role, greedily by closeness.
    groups: dict[tuple[str, tuple[int, ...]], list[dict[str, Any]]] = {}
    for param in entry.get("parameters") or []:
        groups.setdefault((param["role"], tuple(param["shape"])), []).append(param)
    for want in ref.get("parameters") or []:
        role = (want["role"], tuple(want["shape"]))
        candidates = groups.get(role, [])
        if not candidates:
            return Finding("fail", f"no parameter like the reference's {want['role']} {_shape(role[1])} for {label}")
        if want["grad"] is None:
            candidates.pop(0)
            continue
        best: dict[str, Any] | None = None
        best_difference: Callable[[], str] | None = None
        matched = False
        for candidate in candidates:
            if candidate["grad"] is None:
                continue
            difference = context.difference(candidate["grad"], want["grad"], rtol, atol)
            if difference is None:
                best, matched = candidate, True
                break
            if best is None:
                best, best_difference = candidate, difference
        if not matched:
            chosen = best or candidates[0]
            what = "gets no gradient" if best is None else f"has a different gradient{cut}: {DIFFERENCE}"
            return Finding(
                "fail",
                f"`{chosen['path']}` ({want['role']} {_shape(role[1])}) {what} for {label}",
                rank=1 if cut else 3,
                detail=best_difference,
            )
        assert best is not None  # a candidate matched: the loop broke on it
        candidates.remove(best)
    return None


def _names(params: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{p['path']}`" for p in params[:5]) + (", ..." if len(params) > 5 else "")


def _verb(items: list[Any], one: str, many: str) -> str:
    return one if len(items) == 1 else many


def _all_zero(tensor: Tensor) -> bool:
    return bool(tensor.size) and not tensor.any()


# --- structure and trace ----------------------------------------------------------------------------------------


def judge_structure(check: model.StructureCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    reference = {e["case"]: e for e in context.reference.of(check.id).get("results", [])}
    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            return describe_exception(entry["construct_error"], f"constructing {label}", context.source)
        if "not_a_module" in entry:
            return Finding("fail", f"{label} built a {entry['not_a_module']}, not an nn.Module", rank=1)
        if entry.get("unregistered") and not check.unregistered_modules:
            return Finding("fail", unregistered_message(entry["unregistered"][0]), rank=1)
        ref = reference.get(entry["case"]) or {}
        shared = entry.get("shared") or []
        if len(shared) > len(ref.get("shared") or []):
            first = shared[0]["same_as"]
            copies = [s["path"] for s in shared if s["same_as"] == first]
            return Finding(
                "fail",
                f"{', '.join(f'`{c}`' for c in copies[:4])} {_verb(copies, 'is', 'are')} the same module as "
                f"`{first}` ({label}): one layer registered {len(copies) + 1} times shares one set of weights; "
                "create a new layer for each",
                rank=1,
                own_words=True,
            )
        if check.state_dict_keys is not None:
            finding = _state_dict_keys(check, entry, ref, label)
            if finding:
                return finding
        for type_name, expected in check.modules.items():
            got = entry["modules"].get(type_name, 0)
            if (expected.min is not None and got < expected.min) or (expected.max is not None and got > expected.max):
                message = f"{label} has {got} {type_name} module(s), expected {_range(expected)}"
                if entry["modules"].get(f"{type_name} (the answer's own class)"):
                    message += f" (its own class named {type_name} is not torch.nn.{type_name})"
                return Finding("fail", message, rank=1)
        if check.param_count is not None:
            if check.param_count == "reference":
                ref = reference.get(entry["case"])
                if ref is None or "param_count" not in ref:
                    raise ReferenceFailed(f"the reference gave no parameter count for {label}")
                expected_count = ref["param_count"]
            else:
                expected_count = check.param_count
            if entry["param_count"] != expected_count:
                count = f"{label} has {entry['param_count']:,} trainable parameters, expected {expected_count:,}"
                named = None
                if check.param_count == "reference" and entry.get("parameters") is not None and ref.get("parameters"):
                    named = parameter_difference(
                        entry["parameters"], ref["parameters"], entry.get("tree") or [], ref.get("tree") or []
                    )
                if named:
                    return Finding("fail", f"{named} ({count})", rank=1, own_words=True)
                return Finding("fail", count, rank=2)
    return None


def _state_dict_keys(
    check: model.StructureCheck, entry: dict[str, Any], ref: dict[str, Any], label: str
) -> Finding | None:
    """The module's state_dict keys (parameter and buffer names) are exactly the interface's."""
    if check.state_dict_keys == "reference":
        if ref.get("state_dict") is None:
            raise ReferenceFailed(f"the reference gave no state_dict keys for {label}")
        wanted = list(ref["state_dict"])
    else:
        wanted = list(check.state_dict_keys or [])
    got = entry.get("state_dict") or []
    missing = [key for key in wanted if key not in got]
    extra = [key for key in got if key not in wanted]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"no {_keys(missing)}")
    if extra:
        parts.append(f"unexpected {_keys(extra)}")
    hint = ""
    if missing and extra and len(missing) == len(extra):
        hint = f" (is `{extra[0]}` meant to be `{missing[0]}`?)"
    return Finding(
        "fail",
        f"the state_dict of {label} does not have the expected keys: {'; '.join(parts)}{hint}; a checkpoint "
        "saved from the reference would not load into it",
        rank=1,
    )


def _keys(keys: list[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _range(count: model.CountRange) -> str:
    if count.min == count.max:
        return str(count.min)
    if count.max is None:
        return f"at least {count.min}"
    if count.min is None:
        return f"at most {count.max}"
    return f"{count.min} to {count.max}"


def judge_trace(check: model.TraceCheck, context: Context) -> Finding | None:
    for entry in context.learner.of(check.id).get("results", []):
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            return describe_exception(entry["construct_error"], f"constructing {label}", context.source)
        if "error" in entry:
            return describe_exception(entry["error"], f"running {label}", context.source)
        ops = entry.get("ops", [])
        for rule in check.rules:
            finding = _trace_rule(rule, ops, entry, label, context.runner)
            if finding:
                return finding
    return None


def _trace_rule(
    rule: model.TraceRule, ops: list[dict[str, Any]], entry: dict[str, Any], label: str, runner: str = "forward"
) -> Finding | None:
    if rule.merges_input:
        if not any(op["op"] == rule.merges_input and op["from_input"] >= 2 for op in ops):
            return Finding(
                "fail", rule.message or f"no {rule.merges_input} joins two paths from the input ({label})", rank=1
            )
    elif rule.op and rule.count:
        got = sum(1 for op in ops if op["op"] == rule.op)
        if (rule.count.min is not None and got < rule.count.min) or (
            rule.count.max is not None and got > rule.count.max
        ):
            times = "once" if got == 1 else "twice" if got == 2 else f"{got} times"
            detail = f"{rule.op} ran {times} in {runner}, expected {_range(rule.count)} ({label})"
            return Finding("fail", f"{rule.message}: {detail}" if rule.message else detail, rank=1)
    elif rule.last:
        last = entry.get("last")
        if last != rule.last:
            detail = f"the result comes from {last or 'no traced op'}, expected {rule.last} ({label})"
            return Finding("fail", f"{rule.message}: {detail}" if rule.message else detail, rank=1)
    return None


# --- expressions, source, custom --------------------------------------------------------------------------------


def same_value(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Equal values, numbers within rtol/atol (NaN equals NaN: a value the probe computed, not a bug)."""
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, int | float) and isinstance(want, int | float) and not isinstance(got, bool):
            if math.isnan(got) and math.isnan(want):
                return True
            return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)
        return False
    if isinstance(got, list) and isinstance(want, list | tuple):
        return len(got) == len(want) and all(same_value(a, b, rtol, atol) for a, b in zip(got, want, strict=True))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k], rtol, atol) for k in got)
    return bool(got == want)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def judge_expression(check: model.ExpressionCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id)
    if "setup_error" in learner:
        return describe_exception(learner["setup_error"], "running the check's setup", context.source)
    reference_values = context.reference.of(check.id).get("values", [])
    for index, expression in enumerate(check.expressions):
        got = learner.get("values", [])[index] if index < len(learner.get("values", [])) else {}
        if "error" in got:
            return describe_exception(got["error"], f"evaluating `{expression.expr}`", context.source)
        if "equals" in expression.model_fields_set:
            want = expression.equals
        else:
            if index >= len(reference_values) or "value" not in reference_values[index]:
                raise ReferenceFailed(f"the reference could not evaluate `{expression.expr}`")
            want = reference_values[index]["value"]
        if not same_value(got.get("value"), want, *check.tolerance(expression)):
            detail = f"`{expression.expr}` is {_show(got.get('value'))}, expected {_show(want)}"
            if expression.message:
                return Finding("fail", f"{expression.message}: {detail}", rank=2)
            return Finding("fail", detail)
    return None


def dotted_names(tree: ast.AST, aliases: dict[str, str] | None = None) -> set[str]:
    """Every dotted name the source mentions, seen through import aliases and in its usual spellings.

    `import torch.nn.functional as G; G.layer_norm` mentions `torch.nn.functional.layer_norm`, and so
    `F.layer_norm` and `nn.functional.layer_norm`; `from torch.nn import Sequential as S` mentions
    `torch.nn.Sequential`, `nn.Sequential` and `Sequential`. Lookups spelled with constants read as the
    names they spell: `getattr(torch.nn, "Linear")` as `torch.nn.Linear`, `importlib.import_module("torch.func")`,
    `__import__(...)` and `sys.modules[...]` as the module named; and a name assigned a dotted name
    (`layers = torch.nn`) as that name. A name reached at run time by a computed lookup is not in the text:
    the job watches the forbidden names being called (probes.Watch, judge_source)."""
    aliases = _aliases(tree) if aliases is None else aliases
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name | ast.Call | ast.Subscript):
            raw, full = _spelled(node, {}), _spelled(node, aliases)
            if raw is not None:
                names.add(raw)
            if full is not None:
                names.update(_spellings(full))
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names.update(_spellings(f"{node.module}.{alias.name}"))
                names.add(alias.name)
    return names


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Each name bound to a dotted name: by an import (`import torch.nn as tnn`, `from torch import nn`), or by
    an assignment of one (`layers = torch.nn`, followed through a few such names)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    imported = set(aliases)
    assigned = [
        (node.targets[0].id, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    ]
    for _ in range(4):  # a name assigned a dotted name stands for it (a chain of a few such names too)
        for target, value in assigned:
            dotted = _spelled(value, aliases)
            if dotted and target not in imported and dotted.split(".")[0] != target:
                aliases[target] = dotted
    return aliases


_IMPORTERS = {"importlib.import_module", "import_module", "__import__", "builtins.__import__"}


def _spelled(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The dotted name an expression spells, with constant lookups read: `a.b`, `getattr(a, "b")`,
    `import_module("a.b")`, `sys.modules["a.b"]`; None for anything else."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _spelled(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call):
        func = _spelled(node.func, aliases)  # `il.import_module`, `load = importlib.import_module; load(...)`
        text = _constant_text(node.args[1]) if func == "getattr" and len(node.args) >= 2 else None
        if func == "getattr" and text is not None:
            base = _spelled(node.args[0], aliases)
            return f"{base}.{text}" if base else None
        if func in _IMPORTERS and node.args:
            return _constant_text(node.args[0])
        return None
    if isinstance(node, ast.Subscript) and _spelled(node.value, aliases) == "sys.modules":
        return _constant_text(node.slice)
    return None


def _constant_text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _spellings(full: str) -> set[str]:
    """The usual ways to write a torch name: torch.nn.functional.relu is also nn.functional.relu and F.relu."""
    found = {full}
    for prefix, shorts in (("torch.nn.functional.", ("F.", "nn.functional.")), ("torch.nn.", ("nn.",))):
        if full.startswith(prefix):
            found.update(short + full[len(prefix) :] for short in shorts)
            break
    return found


def imported_modules(tree: ast.AST, aliases: dict[str, str] | None = None) -> set[str]:
    modules: set[str] = set()
    aliases = _aliases(tree) if aliases is None else aliases
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and _spelled(node.func, aliases) in _IMPORTERS and node.args:
            name = _constant_text(node.args[0])
            if name:
                modules.add(name)
    return modules


def judge_source(check: model.SourceCheck, context: Context) -> Finding | None:
    try:
        tree = parse(context.source)
    except SyntaxError:
        return Finding("error", "the answer does not parse")
    aliases = _aliases(tree)  # one walk for both readings
    names = dotted_names(tree, aliases)
    imports = imported_modules(tree, aliases)
    reference = context.as_reference
    for rule in check.rules:
        if rule.applies_to == "learner" and reference:
            continue  # the reference may use what learners may not
        detail = None
        forbidden = [n for n in rule.forbid_names if n in names]
        banned = [m for m in rule.forbid_imports if any(i == m or i.startswith(m + ".") for i in imports)]
        missing = [n for n in rule.require_names if n not in names]
        # What the answer's code called while it ran, however it reached it (probes.Watch): the text alone
        # misses a name reached by a computed getattr, an alias passed around, importlib, operator.attrgetter.
        ran = [n for n in [*rule.forbid_names, *rule.forbid_imports] if n in context.called]
        if forbidden:
            detail = f"uses {', '.join(forbidden)}"
        elif ran:
            detail = f"calls {', '.join(ran)} (seen while it ran)"
        elif banned:
            detail = f"imports {', '.join(banned)}"
        elif missing:
            detail = f"does not use {', '.join(missing)}"
        elif rule.subclass:
            detail = _subclass_problem(tree, rule.subclass)
        elif rule.max_lines is not None:
            lines = [line for line in context.source.splitlines() if line.strip() and not line.strip().startswith("#")]
            if len(lines) > rule.max_lines:
                detail = f"{len(lines)} lines of code, at most {rule.max_lines}"
        if detail:
            return Finding("fail", f"{rule.message} ({detail})" if rule.message else f"the answer {detail}", rank=1)
    return None


def _subclass_problem(tree: ast.AST, wanted: dict[str, str]) -> str | None:
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    for name, base in wanted.items():
        node = classes.get(name)
        if node is None:
            return f"does not define class {name}"
        bases = {ast.unparse(b) for b in node.bases}
        short = base.split(".")[-1]
        if base not in bases and short not in bases and f"torch.{base}" not in bases:
            return f"defines {name}({', '.join(sorted(bases)) or ''}), expected a subclass of {base}"
    return None


def judge_custom(check: model.CustomCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id)
    reference = context.reference.of(check.id)
    if "error" in learner:
        return describe_exception(learner["error"], "running the check's probe", context.source)
    if "value" not in reference:
        raise ReferenceFailed("the reference's probe failed")
    if check.verdict:
        return _run_verdict(check, context, learner.get("value"), reference["value"])
    if not same_value(learner.get("value"), reference["value"], check.rtol, check.atol):
        return Finding("fail", f"the probe found {_show(learner.get('value'))}, expected {_show(reference['value'])}")
    return None


# Runs a pack's verdict in the judge's jail: (check id, code, [[learner, reference], ...]) -> per pair, a
# message (None for a pass) or an error text; raises PackFault when the job itself fails (a hang, a crash).
VerdictRunner = Callable[[str, str, list[list[Any]]], list[dict[str, Any]]]


def _run_verdict(check: model.CustomCheck, context: Context, value: Any, reference: Any) -> Finding | None:
    """The pack's verdict on the learner's value, run in the jail (never in this process: a pack is untrusted).
    It is also run on the reference's value against itself: a verdict that raises on the learner's value but
    not on the reference's was given a report it cannot judge, which fails the check as the learner's; one
    that raises on both is the pack's fault. A pass is kept only when the report has the reference's shape (a
    list as long, every key of a mapping), so a verdict lenient with a hollow report (zip() stops at the
    shorter list) cannot pass an answer whose probe reported nothing. (A mapping's keys may differ: a probe may
    report by the answer's own names; a key the verdict needs and the report lacks makes the verdict raise.)"""
    where = f"pack '{context.pack_id}', check '{check.id}'"
    if context.verdicts is None:
        raise PackFault(f"{where}: its verdict can only run in the judge")
    assert check.verdict is not None
    learner_run, reference_run = context.verdicts(check.id, check.verdict, [[value, reference], [reference, reference]])
    if "error" in reference_run:
        raise PackFault(f"{where}: its verdict raised {reference_run['error']} on the reference's own report")
    if reference_run.get("message"):
        raise PackFault(f"{where}: its verdict fails the reference's own report: {reference_run['message']}")
    if "error" in learner_run:
        problem = learner_run["error"]
        return Finding("fail", f"the check's probe reported something its verdict cannot judge ({problem})")
    if learner_run.get("message"):
        return Finding("fail", str(learner_run["message"]))
    if (hollow := _shape_difference(value, reference)) is not None:
        return Finding("fail", f"{TAMPERED}: the probe's report {hollow}", rank=0)
    return None


def _shape_difference(value: Any, reference: Any, at: str = "") -> str | None:
    """Where a report's lists are not the reference's length (a hollowed list, an extra entry), looking into the
    keys both mappings have."""
    if isinstance(reference, dict):
        if not isinstance(value, dict):
            return f"is not a mapping{at and ' at ' + at}"
        for key, item in reference.items():
            if key in value and (found := _shape_difference(value[key], item, f"{at}[{key!r}]")) is not None:
                return found
    elif isinstance(reference, list | tuple):
        if not isinstance(value, list | tuple) or len(value) != len(reference):
            size = f"{len(value)} entries" if isinstance(value, list | tuple) else "no list"
            return f"has {size} where the reference's has {len(reference)}{at and ' at ' + at}"
        for index, (item, want) in enumerate(zip(value, reference, strict=True)):
            if (found := _shape_difference(item, want, f"{at}[{index}]")) is not None:
                return found
    return None


def restricts_only(check: Any) -> bool:
    """A check that says only how an answer must not be written, never what it does: static source rules, and
    trace checks whose every rule forbids an op. An empty starter passes these."""
    if check.kind == "source":
        return True
    if check.kind == "trace":
        return all(rule.op is not None and rule.count is not None and rule.count.max == 0 for rule in check.rules)
    return False


def score(checks: list[Any], passed: list[bool]) -> float | None:
    """The share of the question's check points earned. Checks that only restrict how an answer is written earn
    their points only beside a check of what it does: an untouched starter that uses no forbidden op scores 0,
    not the points of the rules it cannot break."""
    points = sum(check.points for check in checks)
    if not points:
        return None
    restricted = [restricts_only(check) for check in checks]
    # a question of rules alone asks for them; otherwise rules count once the answer does something right
    rules_count = all(restricted) or any(ok and not rule for ok, rule in zip(passed, restricted, strict=True))
    earned = sum(
        check.points
        for check, ok, rule in zip(checks, passed, restricted, strict=True)
        if ok and (rules_count or not rule)
    )
    return float(earned / points)


_JUDGES: dict[str, Callable[[Any, Context], Finding | None]] = {
    "outputs": judge_outputs,
    "gradients": judge_gradients,
    "structure": judge_structure,
    "trace": judge_trace,
    "expression": judge_expression,
    "source": judge_source,
    "custom": judge_custom,
}


# --- training check: judged in grading/training.py ----------------------------------------------------------
def judge_training(check: model.TrainingCheck, context: Context) -> Finding | None:
    from .training import judge

    return judge(check, context)


_JUDGES["training"] = judge_training
# --- end of training check ----------------------------------------------------------------------------------
