"""Each check kind, judged from facts: the learner's, the reference's, and the pack's expectations.

Everything here runs outside the jail. Messages are a reviewer's: what was expected, what came, where.
A hidden check's details are never shown; its result carries only pass or fail and the author's message.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..packs import model
from . import facts as schema
from .result import TestResult


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

    def difference(
        self,
        got_key: str,
        want_key: str,
        rtol: float,
        atol: float,
        got_dtype: str | None = None,
        want_dtype: str | None = None,
    ) -> str | None:
        """compare_arrays on a learner's tensor and a reference's, with their dtypes as torch names them."""
        got, want = self.learner.tensors, self.reference.tensors
        return compare_arrays(
            got[got_key],
            want[want_key],
            rtol,
            atol,
            got_dtype or got.dtype(got_key),
            want_dtype or want.dtype(want_key),
        )

    def case_label(self, check: Any, index: int) -> str:
        case: model.Case = check.cases[index]
        if case.name:
            return case.name
        if case.build:
            return case.build
        name = self.question.entry_point
        arguments = [repr(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs.items()]
        return f"{name}({', '.join(arguments)})"


@dataclass
class Finding:
    """Why a check did not pass: 'fail' for a wrong result, 'error' when the learner's code raised."""

    status: str
    message: str
    line: int | None = None
    traceback: str = ""


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
    title = check.title or check.id
    try:
        finding = _facts_problem(check, context) or _JUDGES[check.kind](check, context)
    except ReferenceFailed as problem:
        raise ReferenceFailed(f"check '{check.id}': {problem}") from None
    if finding is None:
        return TestResult(name=title, status="pass", visible=check.visible, check=check.id)
    if not check.visible:
        message = check.message or "this hidden check did not pass"
        if finding.message.startswith(TAMPERED):  # says nothing about the check, only about the run
            message = finding.message
        return TestResult(name=title, status="fail", message=message, visible=False, check=check.id)
    message = finding.message
    if check.message and check.message not in message:
        message = f"{check.message}: {message}" if finding.status == "fail" else f"{message} ({check.message})"
    return TestResult(
        output=finding.traceback,
        name=title,
        status=finding.status,
        message=message,
        visible=True,
        check=check.id,
        line=finding.line,  # type: ignore[arg-type]
    )


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
        return Finding("fail", f"{TAMPERED} ({problem}); nothing was judged, so the check cannot pass")
    failed = context.learner.of(check.id).get("probe_failed")
    if failed is not None:
        return Finding(
            "error",
            f"the probe could not examine the answer: {failed.get('type')}: {failed.get('message')} "
            "(did the answer change torch or the judge's own code?)",
        )
    return None


# --- exceptions from the learner's code, in words ----------------------------------------------------------


def describe_exception(error: dict[str, Any], doing: str) -> Finding:
    """'BatchNorm2d(32) receives 64 channels' rather than a bare 'running_mean should contain...'."""
    finding = _describe_exception(error, doing)
    finding.traceback = format_traceback(error)
    return finding


def _describe_exception(error: dict[str, Any], doing: str) -> Finding:
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
    explained = None
    if repr_ and shape:
        layer = repr_.split("(")[0]
        if layer.startswith("BatchNorm") or layer.startswith("InstanceNorm") or layer.startswith("Conv"):
            explained = f"{_layer_head(repr_)}{where} receives {shape[1] if len(shape) > 1 else '?'} channels"
        elif layer == "Linear":
            explained = f"{_layer_head(repr_)}{where} receives inputs of shape {tuple(shape)}"
    text = f"{kind}: {message}".strip()
    code = frames[-1].get("text") if frames else ""
    located = f" (answer.py line {line}: `{code}`)" if line and code else f" (answer.py line {line})" if line else ""
    if explained:
        return Finding("error", f"{explained} while {doing}{located}: {text}", line)
    if path and path != "?":
        return Finding("error", f"`{path}` ({repr_}) raised {text} while {doing}{located}", line)
    return Finding("error", f"{text} while {doing}{located}", line)


def _layer_head(repr_: str) -> str:
    """'BatchNorm2d(32, eps=1e-05, ...)' -> 'BatchNorm2d(32)'; 'Conv2d(16, 32, kernel_size=...)' -> 'Conv2d(16, 32)'."""
    name, _, rest = repr_.partition("(")
    parts = [part.strip() for part in rest.rstrip(")").split(",") if part.strip()]
    positional = [part for part in parts if "=" not in part]
    if not positional:  # Linear(in_features=8, out_features=3, bias=True): keep the sizes
        positional = [part for part in parts if part.split("=")[0].endswith(("features", "channels"))]
    return f"{name}({', '.join(positional)})"


# --- outputs and gradients ------------------------------------------------------------------------------------


def _index(entries: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(entry.get(k) for k in keys): entry for entry in entries}


def compare_arrays(
    got: Any, want: Any, rtol: float, atol: float, got_dtype: str | None = None, want_dtype: str | None = None
) -> str | None:
    """None when close; otherwise what differs: shape, dtype, or the largest error and where it is.

    got_dtype and want_dtype name the tensors' dtypes as torch does (bfloat16 and float8 arrive as float32
    arrays); without them the arrays' own dtypes are compared."""
    import numpy as np

    if got.shape != want.shape:
        return f"shape {_shape(got.shape)}, expected {_shape(want.shape)}"
    got_dtype, want_dtype = got_dtype or str(got.dtype), want_dtype or str(want.dtype)
    if got_dtype != want_dtype:
        return f"dtype {got_dtype}, expected {want_dtype}"
    if got.size == 0:
        return None
    wide = np.complex128 if np.iscomplexobj(got) or np.iscomplexobj(want) else np.float64
    a = got.astype(wide)
    b = want.astype(wide)
    close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    difference = np.abs(a - b)
    difference = np.where(np.isnan(difference), np.inf, difference)
    worst = np.unravel_index(int(np.argmax(difference)), a.shape)
    wrong = int((~close).sum())
    where = "[" + ", ".join(str(int(i)) for i in worst) + "]"
    return f"max abs error {float(difference[worst]):.3g} at {where} ({wrong} of {a.size} values differ)"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def judge_outputs(check: model.OutputsCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    reference = context.reference.of(check.id).get("results", [])
    ref_by_key = _index(reference, "case", "mode", "input")
    problems: list[Finding] = []
    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            problems.append(describe_exception(entry["construct_error"], f"constructing {label}"))
            continue
        doing = f"running {label} in {entry['mode']} mode"
        if "error" in entry:
            problems.append(describe_exception(entry["error"], doing))
            continue
        ref = ref_by_key.get((entry["case"], entry["mode"], entry["input"]))
        if ref is None or "output" not in ref or "shape" not in ref["output"]:
            raise ReferenceFailed(f"the reference gave no output for {label}")
        out = entry.get("output", {})
        if "shape" not in out:
            problems.append(Finding("fail", f"forward returned a {out.get('type', '?')}, not a tensor, for {label}"))
            continue
        key = f"{check.id}/{entry['case']}/{entry['mode']}/{entry['input']}"
        difference = context.difference(key, key, check.rtol, check.atol, out.get("dtype"), ref["output"].get("dtype"))
        if difference:
            message = f"output differs in {entry['mode']} mode for {label}: {difference}"
            held = context.learner.of(check.id).get("unregistered", {}).get(str(entry["case"]))
            if held:
                message = f"{unregistered_message(held[0])}; {message}"
            problems.append(Finding("fail", message))
    return _first(problems, len(learner))


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
    first = problems[0]
    errors = [p for p in problems if p.status == "error"]
    lead = errors[0] if errors else first
    more = len(problems) - 1
    suffix = f" (and {more} more of {total} runs)" if more else ""
    return Finding(lead.status, lead.message + suffix, lead.line, lead.traceback)


def judge_gradients(check: model.GradientsCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    ref_by_key = _index(context.reference.of(check.id).get("results", []), "case", "mode", "input")
    problems: list[Finding] = []
    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            problems.append(describe_exception(entry["construct_error"], f"constructing {label}"))
            continue
        if "error" in entry:
            problems.append(describe_exception(entry["error"], f"back-propagating through {label}"))
            continue
        ref = ref_by_key.get((entry["case"], entry["mode"], entry["input"]))
        if ref is None or "error" in ref:
            raise ReferenceFailed(f"the reference gave no gradients for {label}")
        finding = _compare_gradients(check, context, entry, ref, label)
        if finding:
            problems.append(finding)
    return _first(problems, len(learner))


def _compare_gradients(
    check: model.GradientsCheck, context: Context, entry: dict[str, Any], ref: dict[str, Any], label: str
) -> Finding | None:
    if "input" in check.wrt and ref.get("input_grad"):
        if not entry.get("input_grad"):
            return Finding("fail", f"no gradient reaches the input for {label}: is the input detached?")
        difference = context.difference(entry["input_grad"], ref["input_grad"], check.rtol, check.atol)
        if difference:
            return Finding("fail", f"the gradient with respect to the input differs for {label}: {difference}")
    if "parameters" not in check.wrt:
        return None
    # Pair parameters by role (module type, local name) and shape; within a role, greedily by closeness.
    groups: dict[tuple[str, tuple[int, ...]], list[dict[str, Any]]] = {}
    for param in entry.get("parameters", []):
        groups.setdefault((param["role"], tuple(param["shape"])), []).append(param)
    for want in ref.get("parameters", []):
        role = (want["role"], tuple(want["shape"]))
        candidates = groups.get(role, [])
        if not candidates:
            return Finding("fail", f"no parameter like the reference's {want['role']} {_shape(role[1])} for {label}")
        if want["grad"] is None:
            candidates.pop(0)
            continue
        best, best_difference = None, "no gradient"
        for candidate in candidates:
            if candidate["grad"] is None:
                continue
            difference = context.difference(candidate["grad"], want["grad"], check.rtol, check.atol)
            if difference is None:
                best, best_difference = candidate, None
                break
            if best is None:
                best, best_difference = candidate, difference
        if best_difference is not None:
            chosen = best or candidates[0]
            what = "gets no gradient" if best is None else f"has a different gradient: {best_difference}"
            return Finding("fail", f"`{chosen['path']}` ({want['role']} {_shape(role[1])}) {what} for {label}")
        candidates.remove(best)
    return None


# --- structure and trace ----------------------------------------------------------------------------------------


def judge_structure(check: model.StructureCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id).get("results", [])
    reference = {e["case"]: e for e in context.reference.of(check.id).get("results", [])}
    for entry in learner:
        label = context.case_label(check, entry["case"])
        if "construct_error" in entry:
            return describe_exception(entry["construct_error"], f"constructing {label}")
        if "not_a_module" in entry:
            return Finding("fail", f"{label} built a {entry['not_a_module']}, not an nn.Module")
        if entry["unregistered"] and not check.unregistered_modules:
            return Finding("fail", unregistered_message(entry["unregistered"][0]))
        for type_name, expected in check.modules.items():
            got = entry["modules"].get(type_name, 0)
            if (expected.min is not None and got < expected.min) or (expected.max is not None and got > expected.max):
                return Finding("fail", f"{label} has {got} {type_name} module(s), expected {_range(expected)}")
        if check.param_count is not None:
            if check.param_count == "reference":
                ref = reference.get(entry["case"])
                if ref is None or "param_count" not in ref:
                    raise ReferenceFailed(f"the reference gave no parameter count for {label}")
                expected_count = ref["param_count"]
            else:
                expected_count = check.param_count
            if entry["param_count"] != expected_count:
                return Finding(
                    "fail", f"{label} has {entry['param_count']:,} trainable parameters, expected {expected_count:,}"
                )
    return None


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
            return describe_exception(entry["construct_error"], f"constructing {label}")
        if "error" in entry:
            return describe_exception(entry["error"], f"running {label}")
        ops = entry.get("ops", [])
        for rule in check.rules:
            finding = _trace_rule(rule, ops, entry, label)
            if finding:
                return finding
    return None


def _trace_rule(rule: model.TraceRule, ops: list[dict[str, Any]], entry: dict[str, Any], label: str) -> Finding | None:
    if rule.merges_input:
        if not any(op["op"] == rule.merges_input and op["from_input"] >= 2 for op in ops):
            return Finding("fail", rule.message or f"no {rule.merges_input} joins two paths from the input ({label})")
    elif rule.op and rule.count:
        got = sum(1 for op in ops if op["op"] == rule.op)
        if (rule.count.min is not None and got < rule.count.min) or (
            rule.count.max is not None and got > rule.count.max
        ):
            detail = f"forward ran {rule.op} {got} time(s), expected {_range(rule.count)} ({label})"
            return Finding("fail", f"{rule.message}: {detail}" if rule.message else detail)
    elif rule.last:
        last = entry.get("last")
        if last != rule.last:
            detail = f"the result comes from {last or 'no traced op'}, expected {rule.last} ({label})"
            return Finding("fail", f"{rule.message}: {detail}" if rule.message else detail)
    return None


# --- expressions, source, custom --------------------------------------------------------------------------------


def same_value(got: Any, want: Any) -> bool:
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, int | float) and isinstance(want, int | float) and not isinstance(got, bool):
            return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
        return False
    if isinstance(got, list) and isinstance(want, list | tuple):
        return len(got) == len(want) and all(same_value(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k]) for k in got)
    return got == want


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def judge_expression(check: model.ExpressionCheck, context: Context) -> Finding | None:
    learner = context.learner.of(check.id)
    if "setup_error" in learner:
        return describe_exception(learner["setup_error"], "running the check's setup")
    reference_values = context.reference.of(check.id).get("values", [])
    for index, expression in enumerate(check.expressions):
        got = learner.get("values", [])[index] if index < len(learner.get("values", [])) else {}
        if "error" in got:
            return describe_exception(got["error"], f"evaluating `{expression.expr}`")
        if "equals" in expression.model_fields_set:
            want = expression.equals
        else:
            if index >= len(reference_values) or "value" not in reference_values[index]:
                raise ReferenceFailed(f"the reference could not evaluate `{expression.expr}`")
            want = reference_values[index]["value"]
        if not same_value(got.get("value"), want):
            detail = f"`{expression.expr}` is {_show(got.get('value'))}, expected {_show(want)}"
            return Finding("fail", f"{expression.message}: {detail}" if expression.message else detail)
    return None


def dotted_names(tree: ast.AST) -> set[str]:
    """Every dotted name the source mentions: `nn.Sequential`, `torch.nn.Sequential`, `Sequential`, and the
    names brought in by imports (`from torch.nn import Sequential` mentions `torch.nn.Sequential`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name):
            parts: list[str] = []
            current: ast.AST = node
            while isinstance(current, ast.Attribute):
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                parts.append(current.id)
                names.add(".".join(reversed(parts)))
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names.add(f"{node.module}.{alias.name}")
                names.add(alias.name)
    return names


def imported_modules(tree: ast.AST) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def judge_source(check: model.SourceCheck, context: Context) -> Finding | None:
    try:
        tree = ast.parse(context.source)
    except SyntaxError:
        return Finding("error", "the answer does not parse")
    names = dotted_names(tree)
    imports = imported_modules(tree)
    for rule in check.rules:
        detail = None
        forbidden = [n for n in rule.forbid_names if n in names]
        banned = [m for m in rule.forbid_imports if any(i == m or i.startswith(m + ".") for i in imports)]
        missing = [n for n in rule.require_names if n not in names]
        if forbidden:
            detail = f"uses {', '.join(forbidden)}"
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
            return Finding("fail", f"{rule.message} ({detail})" if rule.message else f"the answer {detail}")
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
        return describe_exception(learner["error"], "running the check's probe")
    if "value" not in reference:
        raise ReferenceFailed("the reference's probe failed")
    if check.verdict:
        try:
            scope: dict[str, Any] = {"__name__": "verdict"}
            exec(compile(check.verdict, f"<verdict of {check.id}>", "exec"), scope)
            message = scope["verdict"](learner.get("value"), reference["value"])
            return Finding("fail", str(message)) if message else None
        except Exception as problem:  # the pack's code: its fault, never the learner's
            raise PackFault(
                f"pack '{context.pack_id}', check '{check.id}': its verdict raised {type(problem).__name__}: {problem}"
            ) from None
    if not same_value(learner.get("value"), reference["value"]):
        return Finding("fail", f"the probe found {_show(learner.get('value'))}, expected {_show(reference['value'])}")
    return None


_JUDGES: dict[str, Callable[[Any, Context], Finding | None]] = {
    "outputs": judge_outputs,
    "gradients": judge_gradients,
    "structure": judge_structure,
    "trace": judge_trace,
    "expression": judge_expression,
    "source": judge_source,
    "custom": judge_custom,
}
