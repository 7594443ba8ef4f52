"""The training check's probe, worker side (torch): train beside the reference and report, after the setup and
after every step, the values of what the check watches.

The same probe runs once against the learner's definitions and once against the reference's, in separate
jobs; both see the same models and data because every generator is seeded from the check's seed before the
setup and before each step. The facts say what happened, never whether it is right: the grader compares the
two runs outside the jail (quizapp/grading/training.py), and refuses a report that is not complete.

Facts:
- `{"setup_error": error}` when the setup raised (it runs the answer's constructors);
- otherwise `quantities`, what the watch expressions flatten to after the setup (a module's parameters and
  buffers by name, tensors, numbers, None), and `steps`: step 0 (after the setup), then one entry per step
  run, each with `numbers` (the value of each number quantity, None for the others), `grads` (the indices of
  the parameters that backward gave a gradient during the step) and, from step 1, `loss` (what the step's
  last expression gave); `stopped` names the step whose code or watch raised, after which nothing runs.
Tensors: `{check}/{step}/q{i}` for quantity i after that step, `{check}/{step}/g{i}` for the gradient that
backward last accumulated into parameter i during that step (what the optimizer would use).
"""

from __future__ import annotations

import ast
import numbers
import random
import sys
from typing import Any

import torch
from torch import nn

from . import probes

MAX_QUANTITIES = 256
MAX_DEPTH = 6
MAX_VALUES = 4_000_000  # numbers sent over all steps (16 MB of float32): training checks are for tiny models


class _TooMany(Exception):
    pass


def probe(spec: dict[str, Any], namespace: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str) -> dict:
    seed = int(spec.get("seed", 0))
    scope = probes._scope(namespace)
    seed_everything(probes._stable_seed(seed, "training", "setup"))
    _, error = probes._run_guarded(lambda: exec(compile(spec["setup"], "<setup>", "exec"), scope), None)
    if error is not None:
        return {"setup_error": error}
    body, last = _split_step(spec["step"])
    watch = list(spec["watch"])

    flat, error = probes._run_guarded(lambda: _watched(watch, scope), None)
    if error is not None:
        return {"quantities": [], "steps": [], "stopped": {"step": 0, "where": "watch", "error": error}}
    quantities = [_describe(name, kind, value) for name, kind, value in flat]
    recorded: dict[int, torch.Tensor] = {}
    handles = _record_gradients(flat, recorded)
    steps = [_snapshot(0, flat, tensors, prefix)]
    facts: dict[str, Any] = {"quantities": quantities, "steps": steps}
    try:
        for number in range(1, int(spec["steps"]) + 1):
            scope["step"] = number - 1
            recorded.clear()
            seed_everything(probes._stable_seed(seed, "training", "step", number))
            value, error = probes._run_guarded(lambda: _run_step(body, last, scope), None)
            if error is not None:
                facts["stopped"] = {"step": number, "where": "step", "error": error}
                break
            now, error = probes._run_guarded(lambda: _watched(watch, scope), None)
            if error is not None:
                facts["stopped"] = {"step": number, "where": "watch", "error": error}
                break
            changed = _changed(flat, now)
            if changed is not None:
                facts["stopped"] = {"step": number, "where": "watch", "changed": changed}
                break
            sent = sum(t.numel() for _, _, t in now if isinstance(t, torch.Tensor)) * (number + 1) * 2
            if sent > MAX_VALUES:
                message = f"the watched values come to more than {MAX_VALUES:,} numbers: watch a smaller model"
                facts["stopped"] = {"step": number, "where": "watch", "error": {"type": "TooLarge", "message": message}}
                break
            entry = _snapshot(number, now, tensors, prefix)
            entry["loss"] = _loss(value)
            entry["grads"] = sorted(recorded)
            for index, grad in recorded.items():
                tensors[f"{prefix}{number}/g{index}"] = probes.sendable(grad).clone()
            steps.append(entry)
    finally:
        for handle in handles:
            handle.remove()
    return facts


def seed_everything(seed: int) -> None:
    """torch's, Python's and (if the answer uses it) numpy's global generators, from one seed."""
    torch.manual_seed(seed)
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def _split_step(source: str) -> tuple[Any, Any]:
    """The step's statements, and its last line compiled apart when it is an expression (its value is the loss)."""
    tree = ast.parse(source, "<step>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), "<step>", "eval")
    return compile(tree, "<step>", "exec"), last


def _run_step(body: Any, last: Any, scope: dict[str, Any]) -> Any:
    exec(body, scope)
    return eval(last, scope) if last is not None else None


def _watched(watch: list[str], scope: dict[str, Any]) -> list[tuple[str, str, Any]]:
    flat: list[tuple[str, str, Any]] = []
    alone = len(watch) == 1
    for expression in watch:
        value = eval(compile(expression, "<watch>", "eval"), scope)
        label = "" if alone and isinstance(value, nn.Module) else expression
        try:
            _flatten(label, value, flat, 0)
        except _TooMany:
            break
    return flat


def _flatten(label: str, value: Any, out: list[tuple[str, str, Any]], depth: int) -> None:
    if len(out) >= MAX_QUANTITIES:
        raise _TooMany
    if isinstance(value, nn.Module):
        head = f"{label}." if label else ""
        for name, parameter in value.named_parameters():
            out.append((head + name, "parameter", parameter))
        for name, buffer in value.named_buffers():
            out.append((head + name, "buffer", buffer))
        del out[MAX_QUANTITIES:]
    elif isinstance(value, torch.Tensor):
        out.append((label, "parameter" if value.requires_grad and value.is_leaf else "tensor", value))
    elif value is None:
        out.append((label, "none", None))
    elif isinstance(value, numbers.Real):  # numpy's scalars too
        out.append((label, "number", float(value)))
    elif isinstance(value, dict) and depth < MAX_DEPTH:
        for key, item in list(value.items())[:MAX_QUANTITIES]:
            _flatten(f"{label}[{key!r}]", item, out, depth + 1)
    elif isinstance(value, list | tuple) and depth < MAX_DEPTH:
        for index, item in enumerate(value[:MAX_QUANTITIES]):
            _flatten(f"{label}[{index}]", item, out, depth + 1)
    else:
        out.append((label, "other", type(value).__name__))


def _describe(name: str, kind: str, value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name[:300], "kind": kind}
    if isinstance(value, torch.Tensor):
        entry["shape"] = list(value.shape)
        entry["dtype"] = str(value.dtype).removeprefix("torch.")
    elif kind == "other":
        entry["dtype"] = str(value)[:200]
    return entry


def _changed(before: list[tuple[str, str, Any]], now: list[tuple[str, str, Any]]) -> str | None:
    """The first watched quantity whose name, kind or shape a step changed (a module rebuilt, a list grown)."""
    for (name, kind, value), (name_now, kind_now, value_now) in zip(before, now, strict=False):
        if name != name_now or _describe(name, kind, value) != _describe(name_now, kind_now, value_now):
            return name[:300]
    if len(before) != len(now):
        longer = before if len(before) > len(now) else now
        return longer[min(len(before), len(now))][0][:300]
    return None


def _snapshot(number: int, flat: list[tuple[str, str, Any]], tensors: dict[str, torch.Tensor], prefix: str) -> dict:
    numbers: list[Any] = []
    for index, (_, kind, value) in enumerate(flat):
        if isinstance(value, torch.Tensor):
            tensors[f"{prefix}{number}/q{index}"] = probes.sendable(value).clone()
            numbers.append(None)
        else:
            numbers.append(probes.to_plain(value) if kind == "number" else None)
    return {"step": number, "numbers": numbers}


def _record_gradients(flat: list[tuple[str, str, Any]], recorded: dict[int, torch.Tensor]) -> list[Any]:
    """Keep, for each watched parameter, the gradient as backward last left it in `.grad` during a step."""
    handles = []
    seen: set[int] = set()
    for index, (_, kind, value) in enumerate(flat):
        if kind != "parameter" or id(value) in seen or not value.requires_grad:
            continue
        seen.add(id(value))

        def keep(parameter: torch.Tensor, index: int = index) -> None:
            if parameter.grad is not None:
                recorded[index] = parameter.grad.detach().clone()

        handles.append(value.register_post_accumulate_grad_hook(keep))
    return handles


def _loss(value: Any) -> dict[str, Any]:
    """What the step's last expression gave, as facts: a number, a tensor (with whether it keeps a graph)."""
    if value is None:
        return {"kind": "none"}
    if isinstance(value, bool):
        return {"kind": "other", "type": "bool"}
    if isinstance(value, numbers.Real):  # numpy's scalars too
        return {"kind": "number", "value": probes.to_plain(float(value))}
    if isinstance(value, torch.Tensor):
        facts: dict[str, Any] = {
            "kind": "tensor",
            "shape": list(value.shape)[:16],
            "dtype": str(value.dtype).removeprefix("torch."),
            "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None,
        }
        if value.numel() == 1 and not value.is_complex():
            facts["value"] = probes.to_plain(float(value.detach().reshape(-1)[0]))
        return facts
    return {"kind": "other", "type": type(value).__name__[:200]}
