"""Where an answer goes wrong, and the likely cause, from the facts of the learner's run and the reference's.

A numeric difference is located module by module: each leaf module's output, in execution order, is looked
for among the reference's outputs of the same shape; the first that matches none is where the answer leaves
the reference, and its configuration against the reference's module of the same type and rank (stride,
padding, kernel size, eps, bias) is the likely cause. When every module agrees the difference is in the
answer's own code between them: the ops forward ran (a ReLU too many, a sigmoid instead) or the op that made
the result. A parameter-count difference names the parameters. Plain Python: the tensors are compared by
the caller (Context.same_module_output).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from typing import Any

# Ops that say what a forward does; bookkeeping ops (copies, views) are left out of comparisons.
_BOOKKEEPING = {
    "clone",
    "contiguous",
    "to",
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "type",
    "float",
    "double",
    "expand",
    "expand_as",
    "size",
}
_TELLING = (
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "leaky_relu",
    "elu",
    "silu",
    "softmax",
    "log_softmax",
    "dropout",
    "relu6",
    "hardtanh",
    "mul",
    "add",
    "sub",
    "div",
    "flatten",
    "mean",
    "sum",
)


_NO_EFFECT = {"inplace"}  # configuration that never changes a module's output


def split_repr(text: str) -> tuple[str, list[str], dict[str, str]]:
    """'Conv2d(16, 32, kernel_size=(3, 3), stride=(2, 2))' -> ('Conv2d', ['16', '32'], {kernel_size: '(3, 3)', ...})."""
    name, _, rest = text.partition("(")
    rest = rest[:-1] if rest.endswith(")") else rest
    parts: list[str] = []
    depth, current = 0, ""
    for char in rest:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    positional = [part for part in parts if "=" not in part.split("(")[0]]
    keywords = dict(part.split("=", 1) for part in parts if "=" in part.split("(")[0])
    return name.strip(), positional, {key.strip(): value.strip() for key, value in keywords.items()}


def layer_head(text: str) -> str:
    """'Conv2d(16, 32, kernel_size=(3, 3), ...)' -> 'Conv2d(16, 32)'; 'Linear(in_features=8, ...)' -> 'Linear(8, 3)'."""
    name, positional, keywords = split_repr(text)
    if not positional:
        positional = [value for key, value in keywords.items() if key.endswith(("features", "channels"))]
    return f"{name}({', '.join(positional)})"


def config_difference(got: str, want: str) -> str | None:
    """How a module's configuration differs from the reference module's: 'stride=(1, 1) where the reference
    has stride=(2, 2)'. None when they are configured alike."""
    name, got_positional, got_keywords = split_repr(got)
    _, want_positional, want_keywords = split_repr(want)
    differences = []
    if got_positional != want_positional:
        differences.append(
            f"{name}({', '.join(got_positional)}) where the reference has {name}({', '.join(want_positional)})"
        )
    for key in [*want_keywords, *(k for k in got_keywords if k not in want_keywords)]:
        mine, theirs = got_keywords.get(key), want_keywords.get(key)
        if mine == theirs or key in _NO_EFFECT:
            continue
        mine_text = f"{key}={mine}" if mine is not None else f"the default {key}"
        theirs_text = f"{key}={theirs}" if theirs is not None else f"the default {key}"
        differences.append(f"{mine_text} where the reference has {theirs_text}")
    return "; ".join(differences[:3]) or None


Close = Callable[[dict[str, Any], dict[str, Any]], bool]  # two observed modules' outputs agree


def locate(
    learner: dict[str, Any], reference: dict[str, Any], close: Close, runner: str = "forward"
) -> tuple[str, float] | None:
    """(what went wrong, rank) for one observed run: 0.5 for layers that never run, 1 when a cause is named,
    2 when only a place. `runner` names what ran the code in messages: forward, or a function's name.

    A run that raised was cut short: what it did before (a layer's output, its configuration, a constant)
    still counts, but not what it never reached: layers that "never run", ops run fewer times than the
    reference's, the op its result came from."""
    cut_short = learner.get("error") is not None
    idle = learner.get("idle") or []
    if idle and not reference.get("idle") and not cut_short:
        names = ", ".join(f"`{name}`" for name in idle[:4])
        verb, their = ("never runs", "its") if len(idle) == 1 else ("never run", "their")
        return f"{names} {verb} in forward: {their} weights are registered but not used", 0.5
    found = _first_divergence(learner.get("modules") or [], reference.get("modules") or [], close)
    if found is not None:
        module, counterpart = found
        line = f" (answer.py line {module['line']})" if module.get("line") else ""
        cause = config_difference(module["repr"], counterpart["repr"]) if counterpart else None
        if cause:
            return f"`{module['path']}` has {cause}{line}", 1
        # A constant that differs is firmer evidence than a count of ops, which differs between styles too.
        constant = buffer_difference(learner, reference, close) or constant_difference(learner, reference, close)
        if constant:
            return f"{constant}; the first layer whose output differs is `{module['path']}`{line}", 1
        ops = None if cut_short else _op_difference(learner, reference, runner)
        if ops:
            return f"{ops}; the first layer whose output differs is `{module['path']}`{line}", 1
        head = layer_head(module["repr"])
        return f"the output of `{module['path']}` ({head}) is the first to differ from the reference's{line}", 2
    constant = buffer_difference(learner, reference, close) or constant_difference(learner, reference, close)
    if constant:
        return constant, 1
    if cut_short:
        return None
    ops = _op_difference(learner, reference, runner)
    if ops:
        return ops, 1
    last, want_last = learner.get("last"), reference.get("last")
    if last and want_last and last != want_last:
        return f"the result comes from {last} where the reference's comes from {want_last}", 1
    return None


def buffer_difference(learner: dict[str, Any], reference: dict[str, Any], close: Close) -> str | None:
    """A constant buffer of the answer's (a mask, a frequency table) whose values are none of the reference's
    buffers', where the reference has a buffer of the same shape and dtype that the answer matches with none:
    '`mask` holds other values than the reference's `mask` (bool (8, 8))'. None when every reference buffer
    has its match, or a buffer cannot be paired: a constant the answer keeps elsewhere is not a defect."""
    mine, theirs = learner.get("buffers") or [], reference.get("buffers") or []
    unmatched = [b for b in mine if not any(_same_buffer(b, r, close) for r in theirs)]
    for want in theirs:
        if any(_same_buffer(b, want, close) for b in mine):
            continue
        alike = [b for b in unmatched if b["shape"] == want["shape"] and b["dtype"] == want["dtype"]]
        named = [b for b in alike if _leaf(b) == _leaf(want)]
        suspect = named[0] if named else alike[0] if len(alike) == 1 else None
        if suspect is not None:
            kind = f"{want['dtype']} {_shape(want['shape'])}"
            return f"the buffer `{suspect['path']}` holds other values than the reference's `{want['path']}` ({kind})"
    return None


def constant_difference(learner: dict[str, Any], reference: dict[str, Any], close: Close) -> str | None:
    """A constant the answer's forward combines with its input (a table, a mask: see probes' watch_constants)
    whose values are none of the reference's, where the reference combines one of the same shape and dtype
    with its input that the answer matches with none: the answer's one such constant left unmatched, else its
    constant of the same rank in order of use (cos, then sin). Where a constant is made (in __init__, in
    forward) is style; its values where it meets the input are not."""
    mine, theirs = learner.get("constants") or [], reference.get("constants") or []
    unmatched = [c for c in mine if not any(_same_buffer(c, r, close) for r in theirs)]
    for want in theirs:
        if any(_same_buffer(c, want, close) for c in mine):
            continue
        kind = (want["shape"], want["dtype"])
        alike = [c for c in mine if (c["shape"], c["dtype"]) == kind]
        left = [c for c in alike if c in unmatched]
        rank = [r for r in theirs if (r["shape"], r["dtype"]) == kind].index(want)
        suspect = left[0] if len(left) == 1 else alike[rank] if rank < len(alike) and alike[rank] in left else None
        if suspect is not None:
            where = f" (answer.py line {suspect['line']})" if suspect.get("line") else ""
            return (
                f"the {want['dtype']} {_shape(want['shape'])} constant that forward combines with its input{where} "
                "has other values than the reference's: a table or mask computed differently"
            )
    return None


def _same_buffer(mine: dict[str, Any], theirs: dict[str, Any], close: Close) -> bool:
    return mine["shape"] == theirs["shape"] and mine["dtype"] == theirs["dtype"] and close(mine, theirs)


def _first_divergence(
    learner: list[dict[str, Any]], reference: list[dict[str, Any]], close: Close
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The learner's first module whose output matches none of the reference's, and the reference's module
    of the same type and rank among its type (its counterpart), or None when every output is found."""
    if not reference:
        return None
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in reference:
        by_type.setdefault(r["type"], []).append(r)
    comparable = [r for r in reference if r.get("tensor") is not None]
    rank: dict[str, int] = {}
    for module in learner:
        position = rank.get(module["type"], 0)
        rank[module["type"]] = position + 1
        if module.get("tensor") is None:
            continue
        same_type = by_type.get(module["type"], [])
        counterpart = same_type[position] if position < len(same_type) else None
        # The counterpart first: it is the usual match, and each comparison decodes and compares two tensors
        # (trying every module in order made a long forward quadratic). Any match counts, as before.
        if counterpart is not None and counterpart.get("tensor") is not None and close(module, counterpart):
            continue
        if any(r is not counterpart and close(module, r) for r in comparable):
            continue
        return module, counterpart
    return None


# Ops that compute the same thing under two names: a difference between them is style, not a defect.
_SAME_OP = {
    "amax": "max",
    "amin": "min",
    "multiply": "mul",
    "divide": "div",
    "true_divide": "div",
    "subtract": "sub",
    "absolute": "abs",
    "clip": "clamp",
    "concat": "cat",
    "concatenate": "cat",
    "negative": "neg",
    "swapaxes": "transpose",
    "swapdims": "transpose",
    "moveaxis": "movedim",
    "greater": "gt",
    "less": "lt",
    "greater_equal": "ge",
    "less_equal": "le",
    "not_equal": "ne",
    "arccos": "acos",
    "arcsin": "asin",
    "arctan": "atan",
}


def _canonical_ops(ops: dict[str, int]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for op, n in ops.items():
        name = _SAME_OP.get(op, op)
        counted[name] = counted.get(name, 0) + n
    return counted


def _op_difference(learner: dict[str, Any], reference: dict[str, Any], runner: str = "forward") -> str | None:
    got, want = learner.get("ops"), reference.get("ops")
    if got is None or want is None:
        return None
    # Compared under one name; said under the name the reference's (else the answer's) code used.
    said = {_SAME_OP.get(op, op): op for op in (*got, *want)}
    said.update({_SAME_OP.get(op, op): op for op in want})
    got, want = _canonical_ops(got), _canonical_ops(want)
    differing = [op for op in {*got, *want} if op not in _BOOKKEEPING and got.get(op, 0) != want.get(op, 0)]
    if not differing:
        return _dim_difference(learner.get("dims") or {}, reference.get("dims") or {}, runner)
    differing.sort(key=lambda op: (_TELLING.index(op) if op in _TELLING else len(_TELLING), op))
    parts = [
        f"{runner} runs {said.get(op, op)} {_times(got.get(op, 0))} where the reference runs it "
        f"{_times(want.get(op, 0))}"
        for op in differing[:2]
    ]
    return "; ".join(parts)


def _dim_difference(got: dict[str, list[int]], want: dict[str, list[int]], runner: str) -> str | None:
    """'`attention`'s softmax runs over dim -2 where the reference's runs over dim -1 (the last)': the same ops,
    over other dims (counted from the end, so layouts of other ranks compare)."""
    for op, theirs in want.items():
        mine = got.get(op) or []
        if len(mine) != len(theirs) or sorted(mine) == sorted(theirs):
            continue
        extra = [d for d in mine if d not in theirs] or mine
        missing = [d for d in theirs if d not in mine] or theirs
        owner = "forward's" if runner == "forward" else f"{runner}'s"
        return f"{owner} {op} runs over {_from_end(extra[0])} where the reference's runs over {_from_end(missing[0])}"
    return None


def _from_end(dim: int) -> str:
    return "dim -1 (the last)" if dim == -1 else f"dim {dim}"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


# --- parameters -------------------------------------------------------------------------------------------


def parameter_difference(
    learner: list[dict[str, Any]],
    reference: list[dict[str, Any]],
    tree: list[dict[str, Any]],
    reference_tree: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> str | None:
    """Which parameters are extra, missing or of another shape, by name: '32 extra parameters: `conv1.bias`,
    `conv2.bias` (a conv before BatchNorm takes bias=False)'. Paired by shape, local name and the type of the
    module that holds them, whatever the attribute names."""
    owner = _owners(tree)
    reference_owner = _owners(reference_tree)
    unmatched_want = list(reference)
    extra = list(learner)
    matchers: tuple[Callable[[dict[str, Any], dict[str, Any]], bool], ...] = (
        lambda p, w: _leaf(w) == _leaf(p) and reference_owner.get(_parent(w)) == owner.get(_parent(p)),
        lambda p, w: _leaf(w) == _leaf(p),
        lambda p, w: True,
    )
    for same in matchers:
        for param in list(extra):
            twin = next((w for w in unmatched_want if w["shape"] == param["shape"] and same(param, w)), None)
            if twin is not None:
                extra.remove(param)
                unmatched_want.remove(twin)
    missing = unmatched_want
    if not extra and not missing:
        return None
    reshaped = []
    for param in list(extra):
        twin = next((w for w in missing if len(w["shape"]) == len(param["shape"]) and _leaf(w) == _leaf(param)), None)
        if twin is not None:
            reshaped.append((param, twin))
            extra.remove(param)
            missing.remove(twin)
    parts = [
        f"`{mine['path']}` has shape {_shape(mine['shape'])} where the reference's `{theirs['path']}` has "
        f"{_shape(theirs['shape'])}"
        for mine, theirs in reshaped[:3]
    ]
    if extra:
        count = sum(p["count"] for p in extra)
        names = ", ".join(f"`{p['path']}`" for p in extra[:5]) + (", ..." if len(extra) > 5 else "")
        hint = _bias_hint(extra, owner)
        parts.append(f"{count:,} extra parameters: {names}{hint}")
    if missing:
        count = sum(p["count"] for p in missing)
        names = ", ".join(f"`{p['path']}`" for p in missing[:5]) + (", ..." if len(missing) > 5 else "")
        parts.append(f"{count:,} parameters fewer than the reference, which has {names}")
    return "; ".join(parts)


def _owners(tree: Any) -> dict[str, str]:
    return {("" if node["path"] == "(root)" else node["path"]): node["type"].split("(")[0] for node in tree}


def _parent(param: dict[str, Any]) -> str:
    return param["path"].rsplit(".", 1)[0] if "." in param["path"] else ""


def _leaf(param: dict[str, Any]) -> str:
    return str(param["path"]).rsplit(".", 1)[-1]


def _shape(shape: list[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _bias_hint(extra: list[dict[str, Any]], owner: dict[str, str]) -> str:
    owners = {owner.get(_parent(p), "") for p in extra}
    if all(_leaf(p) == "bias" for p in extra) and owners and all(o.startswith("Conv") for o in owners):
        return " (a conv before BatchNorm takes bias=False)"
    return ""


# --- how a result relates to the reference's ----------------------------------------------------------------

# Work on the host is bounded by the pack: a relation is looked for in results of at most this many values.
RELATION_LIMIT = 1 << 15


def relation(
    shape: tuple[int, ...], got: list[float], want: list[float], rtol: float, atol: float, what: str = "the output"
) -> str | None:
    """How a result that differs from the reference's relates to it, when a simple relation holds everywhere:
    'the output sums to 1 along dim 0 where the reference's sums to 1 along dim 1 (the last)' (a softmax over
    the wrong dim), 'every value of the output is 2 times the reference's', '... plus 0.5', '... transposed'.
    None when no relation holds, or the result is too large to look at. Values are C-ordered floats of one
    shape; `what` names the result."""
    if not got or len(got) != len(want) or len(got) > RELATION_LIMIT:
        return None
    if not all(map(math.isfinite, got)) or not all(map(math.isfinite, want)):
        return None
    for finder in (_transposed, _scaled, _shifted, _normalised):
        found = finder(shape, got, want, rtol, atol)
        if found:
            return found.replace("the result", what)
    return None


def _close_all(got: list[float], want: list[float], rtol: float, atol: float) -> bool:
    """|x - y| <= atol + rtol * |y| for every pair (equal lengths), the loop in C but for the bounds."""
    bounds = [atol + rtol * abs(y) for y in want]
    return all(map(operator.le, map(abs, map(operator.sub, got, want)), bounds))


def _lines(shape: tuple[int, ...], dim: int) -> Iterator[list[int]]:
    """The flat indices of each line along `dim`, one line at a time (a check stops at the first that fails)."""
    stride = math.prod(shape[dim + 1 :])
    size = shape[dim]
    for o in range(math.prod(shape[:dim])):
        for s in range(stride):
            yield [o * size * stride + i * stride + s for i in range(size)]


def _normalised_dims(shape: tuple[int, ...], values: list[float]) -> dict[int, str]:
    """The dims along which every line sums to 1 ('sums to 1': probabilities) or whose exponentials do
    ('is a log-softmax': log-probabilities)."""
    found: dict[int, str] = {}
    probabilities = all(v >= -1e-6 for v in values)
    logs = not probabilities and all(v <= 1e-6 for v in values)
    if not probabilities and not logs:
        return found
    for dim, size in enumerate(shape):
        if size < 2:
            continue
        lines = _lines(shape, dim)
        if probabilities and all(abs(math.fsum(values[i] for i in line) - 1) <= 1e-3 for line in lines):
            found[dim] = "sums to 1"
        elif logs and all(abs(math.fsum(math.exp(values[i]) for i in line) - 1) <= 1e-3 for line in lines):
            found[dim] = "is normalised as log-probabilities"
    return found


def _dim(shape: tuple[int, ...], dim: int) -> str:
    return f"dim {dim}" + (" (the last)" if dim == len(shape) - 1 and len(shape) > 1 else "")


def _normalised(shape: tuple[int, ...], got: list[float], want: list[float], rtol: float, atol: float) -> str | None:
    want_dims = _normalised_dims(shape, want)
    if not want_dims:
        return None
    got_dims = _normalised_dims(shape, got)
    if set(want_dims) & set(got_dims):
        return None
    dim, how = next(iter(want_dims.items()))
    theirs = f"the reference's {how} along {_dim(shape, dim)}"
    if got_dims:
        mine, mine_how = next(iter(got_dims.items()))
        return f"the result {mine_how} along {_dim(shape, mine)} where {theirs}: normalised over the wrong dim"
    return f"the result is not normalised along {_dim(shape, dim)}, where {theirs}"


def _transposed(shape: tuple[int, ...], got: list[float], want: list[float], rtol: float, atol: float) -> str | None:
    if len(shape) < 2 or shape[-1] != shape[-2] or shape[-1] < 2:
        return None
    n = shape[-1]
    if not _close_all([got[j] for j in range(n)], [want[j * n] for j in range(n)], rtol, atol):
        return None  # the first row is not the first column: no need to swap the rest
    swapped = [0.0] * len(want)
    for block in range(0, len(want), n * n):
        for i in range(n):
            for j in range(n):
                swapped[block + i * n + j] = want[block + j * n + i]
    if _close_all(got, swapped, rtol, atol):
        return "the result is the reference's transposed (its last two dims swapped)"
    return None


def _recognised(value: float) -> str | None:
    """A factor's form when a reviewer would recognise it: '4', '1/8', '√8', '1/√8', '√(7/8)' (an unbiased
    variance for a biased one); None for any other number."""

    def whole(x: float) -> int | None:
        n = round(x)
        return n if 2 <= n <= 4096 and abs(x - n) <= 1e-4 * x else None

    size, sign = abs(value), "-" if value < 0 else ""
    if whole(size):
        return f"{sign}{whole(size)}"
    forms = [("1/{}", whole(1 / size)), ("√{}", whole(size * size)), ("1/√{}", whole(1 / (size * size)))]
    for form, n in forms:
        if n:
            return sign + form.format(n)
    square = size * size
    if 0.5 <= square < 1 and (n := whole(1 / (1 - square))):  # (n - 1) / n
        return f"{sign}√({n - 1}/{n})"
    if 1 < square <= 2 and (n := whole(square / (square - 1))):  # n / (n - 1)
        return f"{sign}√({n}/{n - 1})"
    return None


def _number(value: float) -> str:
    """2, 0.125 (1/8), 0.3536 (1/√8), 2.828 (√8), 0.9354 (√(7/8)): a factor, with its form when recognised."""
    form = _recognised(value)
    if form is None or form.lstrip("-").isdigit():
        return f"{value:.4g}"
    return f"{value:.4g} ({form})"


def _scaled(shape: tuple[int, ...], got: list[float], want: list[float], rtol: float, atol: float) -> str | None:
    norm = math.fsum(map(operator.mul, want, want))
    if norm == 0:
        return None
    factor = math.fsum(map(operator.mul, got, want)) / norm
    if abs(factor - 1) <= 1e-3 or abs(factor) <= 1e-6:
        return None
    if not _close_all(got, [factor * w for w in want], rtol, atol):
        return None
    if len(got) == 1:  # any two numbers have a ratio: only a recognisable one says something (4: a sum of 4)
        return f"the result is {_number(factor)} times the reference's" if _recognised(factor) else None
    if abs(factor + 1) <= 1e-3:
        return "every value of the result has the opposite sign of the reference's"
    return f"every value of the result is {_number(factor)} times the reference's"


def _shifted(shape: tuple[int, ...], got: list[float], want: list[float], rtol: float, atol: float) -> str | None:
    if len(got) == 1:  # any two numbers differ by an offset
        return None
    offset = math.fsum(map(operator.sub, got, want)) / len(got)
    if abs(offset) <= atol + rtol * max(abs(w) for w in want):
        return None
    if not _close_all(got, [w + offset for w in want], rtol, atol):
        return None
    return f"every value of the result is the reference's {'plus' if offset > 0 else 'minus'} {abs(offset):.4g}"
