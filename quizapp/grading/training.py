"""The training check, host side: the facts its probe must send, checked strictly, and the judgement.

The probe (quizapp/judge/training.py) trains once with the learner's definitions and once with the
reference's, and reports what the check watches after the setup and after every step. Here the two runs are
compared step by step: the first step and the first quantity that differ are named, and where the numbers show
the cause, it is said: gradients that accumulate across steps (no zero_grad), a gradient doubled (backward
twice), step() run twice, no parameter moving (step before backward, or no step), a parameter that never
changes (not in the optimizer, no gradient), the update's sign flipped (gradient ascent) or its scale (the
learning rate, or a factor that changes with the step count, as Adam's bias correction), a difference that
follows the weights (weight decay), a per-coordinate scale (eps inside the square root), buffers that do not
update (eval mode), a schedule one step early or late, a loss that is not returned, not a scalar or not a float.

The report is untrusted like every fact: exactly the steps asked for (or up to the step that raised), every
tensor each step needs with its declared shape, nothing else under the check's name. Plain Python: the
tensors' arithmetic is grading.tensors'.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

from pydantic import Field

from ..packs import model
from . import facts as schema
from .checks import Context, Finding, ReferenceFailed, compare_arrays, describe_exception
from .tensors import Floats, allclose, median

MAX_QUANTITIES = 256
MAX_BACKWARDS = 16
TENSOR_KINDS = ("parameter", "buffer", "tensor")


# --- the facts --------------------------------------------------------------------------------------------


class Quantity(schema._Strict):
    name: str = Field(max_length=300)
    kind: Literal["parameter", "buffer", "tensor", "number", "none", "other"]
    shape: list[int] | None = Field(None, max_length=16)
    dtype: str | None = Field(None, max_length=200)


class LossFacts(schema._Strict):
    kind: Literal["none", "number", "tensor", "other"]
    value: Any = None
    shape: list[int] | None = Field(None, max_length=16)
    dtype: str | None = Field(None, max_length=40)
    grad_fn: str | None = Field(None, max_length=200)
    type: str | None = Field(None, max_length=200)


class StepFacts(schema._Strict):
    step: int
    quantities: list[Quantity] = Field(max_length=MAX_QUANTITIES)
    numbers: list[Any] = Field(max_length=MAX_QUANTITIES)
    loss: LossFacts | None = None
    grads: list[list[int]] | None = Field(None, max_length=MAX_QUANTITIES)
    updates: int | None = Field(None, ge=0)


class Stopped(schema._Strict):
    step: int
    where: Literal["step", "watch"]
    error: schema.ErrorFacts


class TrainingFacts(schema._Strict):
    setup_error: schema.ErrorFacts | None = None
    steps: list[StepFacts] | None = Field(None, max_length=52)
    stopped: Stopped | None = None


def validate_facts(check: model.TrainingCheck, facts: dict[str, Any], tensors: schema.TensorStore) -> dict[str, Any]:
    """The run's report, exactly as the check asked for it; FactsRefused otherwise."""
    steps = facts.get("steps")
    if isinstance(steps, list) and len(steps) > check.steps + 1:
        raise schema.FactsRefused("more steps than the check asked for")  # refused before anything is read
    data = schema._model(TrainingFacts, facts)
    prefix = f"{check.id}/"
    if data.get("setup_error") is not None:
        if set(data) != {"setup_error"}:
            raise schema.FactsRefused("a setup error and results")
        _no_tensors(tensors, prefix, set())
        return data
    if data.get("steps") is None:
        raise schema.FactsRefused("no steps")
    stopped = data.get("stopped")
    if stopped is not None:
        if not 0 <= stopped["step"] <= check.steps or (stopped["step"] == 0 and stopped["where"] != "watch"):
            raise schema.FactsRefused(f"a stop at step {stopped['step']}, which the check does not have")
    reported = stopped["step"] if stopped is not None else check.steps + 1
    if [entry["step"] for entry in data["steps"]] != list(range(reported)):
        raise schema.FactsRefused(f"the steps reported are not 0 to {reported - 1}, in order, once each")
    expected: set[str] = set()
    for entry in data["steps"]:
        number, quantities = entry["step"], entry["quantities"]
        if len({q["name"] for q in quantities}) != len(quantities):
            raise schema.FactsRefused(f"step {number} reports a quantity twice")
        if len(entry["numbers"]) != len(quantities):
            raise schema.FactsRefused(f"step {number} reports {len(entry['numbers'])} values for {len(quantities)}")
        for index, (quantity, value) in enumerate(zip(quantities, entry["numbers"], strict=True)):
            if quantity["kind"] == "number":
                value = entry["numbers"][index] = schema.plain_value(value)
                if type(value) is not float:
                    raise schema.FactsRefused(f"step {number}: `{quantity['name']}` is not a number")
            elif value is not None:
                raise schema.FactsRefused(f"step {number}: `{quantity['name']}` has a value it cannot have")
            if quantity["kind"] in TENSOR_KINDS:
                key = f"{prefix}{number}/q{index}"
                _tensor(tensors, key, quantity)
                expected.add(key)
        if number == 0:
            if any(entry.get(key) is not None for key in ("loss", "grads", "updates")):
                raise schema.FactsRefused("step 0 (the setup) reports a loss, gradients or updates")
            continue
        if any(entry.get(key) is None for key in ("loss", "grads", "updates")):
            raise schema.FactsRefused(f"step {number} has no loss, gradients or count of updates")
        _loss(entry["loss"], number)
        if any(len(pair) != 2 or not 1 <= pair[1] <= MAX_BACKWARDS for pair in entry["grads"]):
            raise schema.FactsRefused(f"step {number} reports gradients without their count")
        grads = [index for index, _ in entry["grads"]]
        if grads != sorted(set(grads)) or any(
            not 0 <= i < len(quantities) or quantities[i]["kind"] != "parameter" for i in grads
        ):
            raise schema.FactsRefused(f"step {number} reports gradients of what is not a watched parameter")
        for index, count in entry["grads"]:
            for order in range(count):
                key = f"{prefix}{number}/g{index}/{order}"
                _tensor(tensors, key, {**quantities[index], "dtype": None})
                expected.add(key)
    _no_tensors(tensors, prefix, expected)
    return data


def _tensor(tensors: schema.TensorStore, key: str, quantity: dict[str, Any]) -> None:
    if quantity.get("shape") is None:
        raise schema.FactsRefused(f"`{quantity['name']}` is a tensor without a shape")
    schema._tensor_matches(tensors, key, quantity["shape"], quantity.get("dtype"))


def _loss(loss: dict[str, Any], number: int) -> None:
    kind = loss["kind"]
    if kind == "number" or (kind == "tensor" and "value" in loss):
        loss["value"] = schema.plain_value(loss.get("value"))
        if type(loss["value"]) is not float:
            raise schema.FactsRefused(f"the loss of step {number} has no numeric value")
    if kind == "tensor" and (loss.get("shape") is None or loss.get("dtype") is None):
        raise schema.FactsRefused(f"the loss of step {number} is a tensor without shape or dtype")
    if kind == "tensor" and math.prod(loss["shape"]) == 1 and "value" not in loss and "complex" not in loss["dtype"]:
        raise schema.FactsRefused(f"the loss of step {number} is a one-element tensor without its value")
    if kind in ("none", "other") and loss.get("value") is not None:
        raise schema.FactsRefused(f"the loss of step {number} has a value its kind cannot have")
    if kind == "other" and not loss.get("type"):
        raise schema.FactsRefused(f"the loss of step {number} has no type")


def _no_tensors(tensors: schema.TensorStore, prefix: str, expected: set[str]) -> None:
    extra = [key for key in tensors if key.startswith(prefix) and key not in expected]
    if extra:
        raise schema.FactsRefused(f"tensors that were not asked for: {extra[0][:80]!r}")


# --- reading a run -----------------------------------------------------------------------------------------


class _Run:
    """One run's validated report, read by step and quantity name. `rename` maps the learner's names to the
    reference's when its watched module names its parameters otherwise (paired by position at the setup)."""

    def __init__(
        self, check_id: str, facts: dict[str, Any], tensors: schema.TensorStore, rename: dict[str, str] | None = None
    ):
        self.prefix = f"{check_id}/"
        self.tensors = tensors
        self.steps: list[dict[str, Any]] = facts.get("steps") or []
        rename = rename or {}
        self.where = [
            {rename.get(q["name"], q["name"]): index for index, q in enumerate(entry["quantities"])}
            for entry in self.steps
        ]

    def names(self, step: int) -> list[str]:
        return list(self.where[step])

    def has(self, step: int, name: str) -> bool:
        return 0 <= step < len(self.steps) and name in self.where[step]

    def quantity(self, step: int, name: str) -> dict[str, Any]:
        quantity: dict[str, Any] = self.steps[step]["quantities"][self.where[step][name]]
        return quantity

    def value(self, step: int, name: str) -> Any:
        index = self.where[step][name]
        if self.steps[step]["quantities"][index]["kind"] in TENSOR_KINDS:
            return self.tensors[f"{self.prefix}{step}/q{index}"]
        return self.steps[step]["numbers"][index]

    def array(self, step: int, name: str) -> Floats:
        return Floats.of(self.value(step, name))

    def grads(self, step: int, name: str) -> list[Floats]:
        """`.grad` after each backward of the step, in order (empty when backward gave it none)."""
        index = self.where[step].get(name) if 0 <= step < len(self.steps) else None
        counts = dict((i, c) for i, c in self.steps[step].get("grads") or []) if index is not None else {}
        return [
            Floats.of(self.tensors[f"{self.prefix}{step}/g{index}/{order}"]) for order in range(counts.get(index, 0))
        ]

    def grad(self, step: int, name: str) -> Floats | None:
        """What the optimizer used: `.grad` after the step's last backward, or None."""
        grads = self.grads(step, name)
        return grads[-1] if grads else None

    def dtype(self, step: int, name: str) -> str | None:
        return self.quantity(step, name).get("dtype")

    def delta(self, step: int, name: str) -> Floats | None:
        """The change of a tensor over a step, or None when it was not watched before the step."""
        if step < 1 or not self.has(step - 1, name) or not self.has(step, name):
            return None
        before, after = self.array(step - 1, name), self.array(step, name)
        return after - before if before.shape == after.shape else None


# --- judging ----------------------------------------------------------------------------------------------


def judge(check: model.TrainingCheck, context: Context) -> Finding | None:
    theirs = context.reference.of(check.id)
    if "setup_error" in theirs:
        error = theirs["setup_error"]
        raise ReferenceFailed(f"its setup raised {error.get('type')}: {error.get('message')}")
    if theirs.get("stopped") is not None:
        stop = theirs["stopped"]
        why = stop["error"]
        raise ReferenceFailed(f"its run stopped at step {stop['step']}: {why.get('type')}: {why.get('message')}")
    mine = context.learner.of(check.id)
    if "setup_error" in mine:
        return describe_exception(
            mine["setup_error"], "running the check's setup (which builds the answer's objects)", context.source
        )
    reference = _Run(check.id, theirs, context.reference.tensors)
    for step in range(len(reference.steps)):
        other = next((n for n in reference.names(step) if reference.quantity(step, n)["kind"] == "other"), None)
        if other is not None:
            kind = reference.quantity(step, other).get("dtype")
            raise ReferenceFailed(f"`{other}` is a {kind}, which cannot be compared")
    stopped = mine.get("stopped")
    rename = _rename(mine["steps"][0]["quantities"], theirs["steps"][0]["quantities"]) if mine["steps"] else {}
    learner = _Run(check.id, mine, context.learner.tensors, rename)
    for step in range(check.steps + 1):
        if stopped is not None and stopped["step"] == step:
            return _stop_finding(check, stopped, context)
        if step >= 1:
            finding = _loss_finding(check, step, learner, reference)
            if finding is not None:
                return _with_buffer_cause(finding, step, learner, reference)
        finding = _watched_finding(check, step, learner, reference)
        if finding is not None:
            return finding
        for name in reference.names(step):
            finding = _quantity_finding(check, step, name, learner, reference)
            if finding is not None:
                return finding
    return None


def _with_buffer_cause(finding: Finding, step: int, learner: _Run, reference: _Run) -> Finding:
    """A loss that differs while the parameters before the step agree: a buffer that updates in one run and not
    in the other says the mode is wrong (eval() in a training step, BatchNorm and dropout behaving otherwise)."""
    if finding.rank < 2:
        return finding
    for name in reference.names(step):
        if reference.quantity(step, name)["kind"] == "buffer" and learner.has(step, name):
            cause = _buffer_cause(step, name, learner, reference)
            if cause:
                return Finding("fail", f"{finding.message}; `{name}` {cause.removeprefix('it ')}", rank=1)
    return finding


def _when(check: model.TrainingCheck, step: int) -> str:
    return f"after step {step} of {check.steps}" if step else "right after the setup, before any step"


def _stop_finding(check: model.TrainingCheck, stopped: dict[str, Any], context: Context) -> Finding:
    step = stopped["step"]
    if stopped["where"] == "watch":
        doing = f"reading the watched values {_when(check, step)}"
    else:
        doing = f"running step {step} of {check.steps}" + (
            f", after {step - 1} step(s) that agree with the reference" if step > 1 else ""
        )
    return describe_exception(stopped["error"], doing, context.source)


def _rename(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, str]:
    """The learner's names to the reference's, by position, when the names differ but kinds and shapes agree."""
    if {q["name"] for q in mine} == {q["name"] for q in theirs} or len(mine) != len(theirs):
        return {}
    if all(a["kind"] == b["kind"] and a.get("shape") == b.get("shape") for a, b in zip(mine, theirs, strict=True)):
        return {a["name"]: b["name"] for a, b in zip(mine, theirs, strict=True)}
    return {}


def _watched_finding(check: model.TrainingCheck, step: int, learner: _Run, reference: _Run) -> Finding | None:
    mine, theirs = learner.names(step), reference.names(step)
    mine_set, theirs_set = set(mine), set(theirs)
    missing = [name for name in theirs if name not in mine_set]
    extra = [name for name in mine if name not in theirs_set]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"no {_listed(missing)}")
    if extra:
        parts.append(f"{_listed(extra)}, which the reference does not have")
    hint = ""
    if step and all(learner.has(step - 1, name) for name in missing):
        hint = " (were they replaced by new tensors instead of updated in place?)"
    return Finding(
        "fail", f"{_when(check, step)}, what the check watches is not the reference's: {'; '.join(parts)}{hint}", rank=1
    )


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names[:4]) + (", ..." if len(names) > 4 else "")


def _loss_finding(check: model.TrainingCheck, step: int, learner: _Run, reference: _Run) -> Finding | None:
    if check.loss == "ignore":
        return None
    want = reference.steps[step]["loss"]
    got = learner.steps[step]["loss"]
    at = f"step {step} of {check.steps}"
    if check.loss == "float" and want["kind"] != "number":
        raise ReferenceFailed(f"its step gives a {want.get('type') or want['kind']} where `loss: float` wants a float")
    if want["kind"] == "none" or (want["kind"] == "tensor" and "value" not in want):
        return None  # the author's step gives no loss to compare
    if got["kind"] == "none":
        return Finding("fail", f"{at} gives no loss where the reference's gives one: is the loss returned?", rank=1)
    if got["kind"] == "other":
        return Finding("fail", f"{at} gives a {got.get('type')}, not the loss", rank=1)
    if got["kind"] == "tensor":
        shape = got.get("shape") or []
        if math.prod(shape) != 1:
            return Finding(
                "fail",
                f"{at} gives a tensor of shape {tuple(shape)}, not a scalar loss: reduce it (the mean over the batch)",
                rank=1,
            )
        if check.loss == "float":
            graph = (
                f" with its graph (grad_fn={got['grad_fn']}: keeping it keeps every step's graph alive)"
                if got.get("grad_fn")
                else ""
            )
            return Finding(
                "fail", f"{at} gives a tensor{graph} where a Python float is wanted: return loss.item()", rank=1
            )
    value, expected = got.get("value"), want.get("value")
    if not isinstance(value, float):
        return Finding("fail", f"{at} gives a {got.get('dtype')} tensor, not a real number", rank=1)
    if _close_number(value, expected, check.rtol, check.atol):
        return None
    message = f"the loss of {at} is {value:.6g}, expected {expected:.6g}"
    ratio = value / expected if expected else math.nan
    if math.isfinite(ratio) and abs(ratio - 1) > 0.05 and abs(ratio - round(ratio)) < 1e-3 and round(ratio) >= 2:
        message += f" ({round(ratio)} times the reference's: a sum where the mean is wanted, or a scaled loss?)"
    return Finding("fail", message, rank=2)


def _close_number(got: Any, want: Any, rtol: float, atol: float) -> bool:
    if not isinstance(got, float) or not isinstance(want, float):
        return bool(got == want)
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    return abs(got - want) <= atol + rtol * abs(want)


def _quantity_finding(
    check: model.TrainingCheck, step: int, name: str, learner: _Run, reference: _Run
) -> Finding | None:
    quantity = reference.quantity(step, name)
    got_kind = learner.quantity(step, name)["kind"]
    shown = f"`{name}`" if name else "the watched value"
    when = _when(check, step)
    if (got_kind in TENSOR_KINDS) != (quantity["kind"] in TENSOR_KINDS) or (
        got_kind not in TENSOR_KINDS and got_kind != quantity["kind"]
    ):
        kinds = f"a {_kind_word(got_kind)}, expected a {_kind_word(quantity['kind'])}"
        return Finding("fail", f"{when}, {shown} is {kinds}", rank=1)
    if quantity["kind"] == "none":
        return None
    if quantity["kind"] == "number":
        got, want = learner.value(step, name), reference.value(step, name)
        if _close_number(got, want, check.rtol, check.atol):
            return None
        shift = _number_cause(check, name, learner, reference)
        return Finding("fail", f"{when}, {shown} is {got:.6g}, expected {want:.6g}{shift}", rank=1 if shift else 2)
    difference = compare_arrays(
        learner.value(step, name),
        reference.value(step, name),
        check.rtol,
        check.atol,
        learner.dtype(step, name),
        reference.dtype(step, name),
    )
    if difference is None:
        return None
    if step == 0:
        return Finding(
            "fail",
            f"{when}, {shown} differs from the reference's ({difference}): does the answer's constructor change or "
            "initialise what the setup built?",
            rank=1,
        )
    cause: str | None = None
    if quantity["kind"] == "parameter":
        cause = _parameter_cause(check, step, name, learner, reference)
    elif quantity["kind"] == "buffer":
        cause = _buffer_cause(step, name, learner, reference)
    message = f"{when}, {shown} differs from the reference"
    if cause:
        return Finding("fail", f"{message}: {cause} ({difference})", rank=1)
    return Finding("fail", f"{message}: {difference}", rank=2)


def _kind_word(kind: str) -> str:
    return {"none": "None", "other": "value of another type"}.get(kind, kind if kind != "parameter" else "tensor")


def _number_cause(check: model.TrainingCheck, name: str, learner: _Run, reference: _Run) -> str:
    """A watched number (a learning rate) whose whole run is the reference's shifted by one step."""
    mine = {s: learner.value(s, name) for s in range(len(learner.steps)) if learner.has(s, name)}
    theirs = {s: reference.value(s, name) for s in range(len(reference.steps)) if reference.has(s, name)}

    def shifted(by: int) -> bool:
        pairs = [(value, theirs[s + by]) for s, value in mine.items() if s + by in theirs]
        return len(pairs) >= 2 and all(_close_number(a, b, check.rtol, check.atol) for a, b in pairs)

    if shifted(1):
        return (
            ": its values are the reference's one step later, so the schedule runs one step ahead (is it stepped "
            "before the optimizer, or counted from 1?)"
        )
    if shifted(-1):
        return (
            ": its values are the reference's one step earlier, so the schedule runs one step behind (is it "
            "counted from 1 where the reference counts from 0, or not stepped every step?)"
        )
    return ""


# --- why a parameter differs --------------------------------------------------------------------------------


def _parameter_cause(check: model.TrainingCheck, step: int, name: str, learner: _Run, reference: _Run) -> str | None:
    """The cause of the first difference of a parameter, at the first step where anything differs: before that
    step both runs held the same values, so their updates and gradients there can be compared directly."""
    mine_update, their_update = learner.delta(step, name), reference.delta(step, name)
    if mine_update is None or their_update is None or mine_update.shape != their_update.shape:
        return None
    before = reference.array(step - 1, name)

    def still(run: _Run, other: str) -> bool:
        change = run.delta(step, other)
        return change is not None and all(
            abs(moved) <= check.atol + check.rtol * abs(was)
            for moved, was in zip(change.values, run.array(step - 1, other).values, strict=True)
        )

    parameters = [n for n in reference.names(step) if reference.quantity(step, n)["kind"] == "parameter"]
    moving = [n for n in parameters if learner.has(step, n) and reference.delta(step, n) is not None]
    moving = [n for n in moving if not still(reference, n)]
    mine_grad, their_grad = learner.grad(step, name), reference.grad(step, name)
    mine_updates, their_updates = learner.steps[step]["updates"], reference.steps[step]["updates"]
    if mine_updates and their_updates and mine_updates != their_updates:
        return (
            f"optimizer.step() runs {_times(mine_updates)} in this step where the reference's runs "
            f"{_times(their_updates)}"
        )
    if still(learner, name):
        if moving and all(still(learner, n) for n in moving):
            if all(learner.grad(step, n) is None for n in moving):
                return "no parameter changes at this step and backward gives no gradient: is loss.backward() called?"
            return (
                "no parameter changes at this step although backward gives gradients: is optimizer.step() called, "
                "after loss.backward() (and zero_grad not between them)?"
            )
        if mine_grad is None:
            return (
                "it does not change, and backward gives it no gradient: is requires_grad off, or is it detached "
                "from the loss?"
            )
        return "it gets a gradient but does not change: is it among the optimizer's parameters?"
    if mine_grad is not None and their_grad is not None and not _same(mine_grad, their_grad):
        return _gradient_cause(step, name, learner, reference)
    scale = _scalar_multiple(mine_update, their_update)
    if scale is not None and abs(scale + 1) < 1e-3:
        return (
            "the update goes the wrong way, up the gradient (gradient ascent): the step must be subtracted "
            "from the parameters"
        )
    if scale is not None and abs(scale - 1) > 1e-3:
        return _scale_cause(step, scale, parameters, learner, reference)
    if _follows(mine_update - their_update, before):
        return (
            "its update differs from the reference's by an amount that follows the parameter's own values: "
            "weight decay is applied differently (added to the gradient, as Adam's weight_decay does, or "
            "taken from the weights directly, as AdamW does?)"
        )
    pairs = list(zip(mine_update.values, their_update.values, strict=True))
    if all(_sign(a) == _sign(b) for a, b in pairs):
        ratio = [abs(a / b) for a, b in pairs if b != 0]
        if ratio and _largest(ratio) > 1.001 * _smallest(ratio):
            return (
                f"its update points the same way as the reference's in every coordinate but with other sizes "
                f"({_smallest(ratio):.3g} to {_largest(ratio):.3g} times the reference's): the per-coordinate "
                "scaling differs, as when Adam's eps is added inside the square root instead of outside"
            )
    return None


def _sign(value: float) -> float:
    """numpy's sign: -1, 0 or 1, NaN for NaN (which equals no sign, its own included)."""
    return math.nan if value != value else (value > 0) - (value < 0)


def _largest(values: list[float]) -> float:
    """numpy's max: NaN when any value is NaN."""
    return math.nan if any(v != v for v in values) else max(values)


def _smallest(values: list[float]) -> float:
    return math.nan if any(v != v for v in values) else min(values)


def _same(a: Floats, b: Floats) -> bool:
    return a.shape == b.shape and allclose(a, b, rtol=1e-4, atol=1e-7 * max(1.0, b.abs_max()))


def _gradient_cause(step: int, name: str, learner: _Run, reference: _Run) -> str:
    """Why the gradient the optimizer used differs, from every backward's gradient of both runs: the first
    backward of the step whose gradient differs is compared with the reference's gradients so far."""
    mine, theirs = learner.grads(step, name), reference.grads(step, name)
    counted = ""
    if len(mine) != len(theirs):
        counted = f" (backward runs {_times(len(mine))} in this step, the reference's {_times(len(theirs))})"
    first = next(
        (j for j, (a, b) in enumerate(zip(mine, theirs, strict=False)) if not _same(a, b)), min(len(mine), len(theirs))
    )
    earlier = [g for s in range(1, step) for g in reference.grads(s, name)]
    if first < len(mine) and first < len(theirs) and (earlier or first > 0):
        so_far = [*earlier, *theirs[: first + 1]]
        if all(g.shape == mine[first].shape for g in so_far) and _same(
            mine[first], functools.reduce(Floats.__add__, so_far)
        ):
            one, many = ("step", "steps") if earlier else ("batch", "batches")
            return (
                f"its gradient is the sum of the reference's gradients of every {one} so far: gradients "
                f"accumulate across {many}: is zero_grad called?{counted}"
            )
    got, want = mine[-1], theirs[-1]
    scale = _scalar_multiple(got, want)
    if scale is not None and abs(scale - 2) < 1e-3:
        return "its gradient is twice the reference's: is loss.backward() called twice (or the loss added twice)?" + (
            counted
        )
    if counted:
        return f"backward runs {_times(len(mine))} in this step where the reference's runs {_times(len(theirs))}"
    if scale is not None and abs(scale + 1) < 1e-3:
        return "its gradient has the opposite sign of the reference's: is the loss negated?"
    if scale is not None:
        return (
            f"its gradient is {scale:.3g} times the reference's: is the loss scaled (a sum where the mean is wanted)?"
        )
    return "its gradient differs from the reference's: the loss, or what it is computed from, differs"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _scale_cause(step: int, scale: float, parameters: list[str], learner: _Run, reference: _Run) -> str:
    """An update that is a multiple of the reference's: the same factor at every step is the learning rate; a
    factor that changes with the step count is a step-dependent correction (Adam's bias correction)."""
    last = min(len(learner.steps), len(reference.steps)) - 1
    rates = _rate_ratios(step, last, parameters, learner, reference)
    if rates is not None and max(rates) <= 1.001 * min(rates):
        times = "at every step" if last > step else "at this step"
        return f"the update is {scale:.3g} times the reference's {times}: is the learning rate scaled?"
    ratios = []
    for at in range(step, last + 1):
        mine = [learner.delta(at, n) for n in parameters]
        theirs = [reference.delta(at, n) for n in parameters]
        if any(d is None for d in [*mine, *theirs]):
            break
        their_norm = sum(d.dot(d) for d in theirs if d is not None)
        if their_norm > 0:
            ratios.append(math.sqrt(sum(d.dot(d) for d in mine if d is not None) / their_norm))
    steady = len(ratios) < 2 or max(ratios) <= 1.05 * min(ratios)
    if steady:
        times = "at every step" if len(ratios) > 1 else "at this step"
        return f"the update is {scale:.3g} times the reference's {times}: is the learning rate scaled?"
    return (
        f"the update is {scale:.3g} times the reference's at step {step} and {ratios[1]:.3g} times at step "
        f"{step + 1}: a factor that changes with the step count, as when Adam's bias correction "
        "(1 - beta ** t) is missing or counts steps differently"
    )


def _rate_ratios(step: int, last: int, parameters: list[str], learner: _Run, reference: _Run) -> list[float] | None:
    """When each run's update is a multiple of its own gradient (plain SGD), the learner's multiple over the
    reference's at each step from `step` on: the same at every step is a scaled learning rate, even after the
    runs have parted ways. None when the updates are not such multiples (momentum, Adam)."""
    ratios = []
    for at in range(step, last + 1):
        for name in parameters:
            mine_grad, their_grad = learner.grad(at, name), reference.grad(at, name)
            mine_update, their_update = learner.delta(at, name), reference.delta(at, name)
            if mine_grad is None or their_grad is None or mine_update is None or their_update is None:
                return None
            mine = _scalar_multiple(mine_update, mine_grad.scaled(-1.0))
            theirs = _scalar_multiple(their_update, their_grad.scaled(-1.0))
            if mine is None or theirs is None or theirs == 0:
                return None
            ratios.append(mine / theirs)
    return ratios or None


def _scalar_multiple(mine: Floats, theirs: Floats) -> float | None:
    """c when mine is c times theirs everywhere (to a small relative error), else None."""
    if mine.shape != theirs.shape:
        return None
    norm = theirs.dot(theirs)
    if norm == 0 or not mine.all_finite():
        return None
    scale = mine.dot(theirs) / norm
    residual = (mine - theirs.scaled(scale)).abs_max()
    return scale if residual <= 1e-3 * max(abs(scale), 1.0) * theirs.abs_max() else None


def _follows(gap: Floats, values: Floats) -> bool:
    """Whether most of a difference is one factor times the values (weight decay: a share of each weight),
    the rest being coordinates where that share also flipped a sign-like step (Adam's normalised update)."""
    floor = 1e-6 * max(values.abs_max(), 1e-30)
    usable = [(g, v) for g, v in zip(gap.values, values.values, strict=True) if abs(v) > floor]
    if len(usable) < 2 or not gap.any():
        return False
    factor = median([g / v for g, v in usable])
    if factor == 0:
        return False
    bound = 1e-3 * gap.abs_max() + 1e-9
    fits = sum(1 for g, v in zip(gap.values, values.values, strict=True) if abs(g - factor * v) <= bound)
    return fits / gap.size >= 0.6


def _buffer_cause(step: int, name: str, learner: _Run, reference: _Run) -> str | None:
    mine, theirs = learner.delta(step, name), reference.delta(step, name)
    if mine is None or theirs is None:
        return None
    if not mine.any() and theirs.any():
        return "it does not update where the reference's does: is the model in train mode during the step?"
    if mine.any() and not theirs.any():
        return "it updates where the reference's does not: is the model in eval mode where the reference's is?"
    return None
