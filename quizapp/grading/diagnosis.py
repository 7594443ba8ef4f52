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

from collections.abc import Callable
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
    2 when only a place. `runner` names what ran the code in messages: forward, or a function's name."""
    idle = learner.get("idle") or []
    if idle and not reference.get("idle"):
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
        ops = _op_difference(learner, reference, runner)
        if ops:
            return f"{ops}; the first layer whose output differs is `{module['path']}`{line}", 1
        head = layer_head(module["repr"])
        return f"the output of `{module['path']}` ({head}) is the first to differ from the reference's{line}", 2
    ops = _op_difference(learner, reference, runner)
    if ops:
        return ops, 1
    last, want_last = learner.get("last"), reference.get("last")
    if last and want_last and last != want_last:
        return f"the result comes from {last} where the reference's comes from {want_last}", 1
    return None


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


def _op_difference(learner: dict[str, Any], reference: dict[str, Any], runner: str = "forward") -> str | None:
    got, want = learner.get("ops"), reference.get("ops")
    if got is None or want is None:
        return None
    differing = [op for op in {*got, *want} if op not in _BOOKKEEPING and got.get(op, 0) != want.get(op, 0)]
    if not differing:
        return None
    differing.sort(key=lambda op: (_TELLING.index(op) if op in _TELLING else len(_TELLING), op))
    parts = [
        f"{runner} runs {op} {_times(got.get(op, 0))} where the reference runs it {_times(want.get(op, 0))}"
        for op in differing[:2]
    ]
    return "; ".join(parts)


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
