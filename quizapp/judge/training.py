"""The training check's probe, worker side (torch): train beside the reference and report, after the setup and
after every step, the values of what the check watches.

The same probe runs once against the learner's definitions and once against the reference's, in separate
jobs; both see the same models and data because every generator is seeded from the check's seed before the
setup and before each step. The facts say what happened, never whether it is right: the grader compares the
two runs outside the jail (quizapp/grading/training.py), and refuses a report that is not complete.

Facts:
- `{"setup_error": error}` when the setup raised (it runs the answer's constructors);
- otherwise `steps`: step 0 (after the setup), then one entry per step run, each with `quantities`, what the
  watch expressions flatten to (a module's parameters and buffers by name, tensors, numbers, None: the list
  may grow, as an optimizer's state appears at its first step), `numbers` (the value of each number
  quantity, None for the others) and, from step 1, `grads` (`[index, count]` for each parameter that backward
  gave a gradient during the step: how many backward passes left one), `updates` (how many times a torch
  optimizer's step() ran) and `loss` (what the step's last expression gave); `stopped` names the step whose
  code or watch raised, after which nothing runs.
Tensors: `{check}/{step}/q{i}` for quantity i after that step, `{check}/{step}/g{i}/{n}` for parameter i's
`.grad` after the n-th backward of that step (the last is what the optimizer used; at most 16 are kept).
"""

from __future__ import annotations

import ast
import numbers
import random
import sys
from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from . import probes

MAX_QUANTITIES = 256
MAX_DEPTH = 6
MAX_BACKWARDS = 16  # gradients kept per parameter and step: one per backward (a loop over batches has several)
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
    recorded: dict[int, list[torch.Tensor]] = {}  # id of a parameter: `.grad` after each backward of the step
    hooked: dict[int, tuple[torch.Tensor, Any]] = {}
    steps: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"steps": steps}
    sent = 0
    updates = [0]  # torch optimizers' step() calls in this step (an answer's own optimizer is not counted)
    counting = register_optimizer_step_post_hook(lambda *_: updates.__setitem__(0, updates[0] + 1))
    try:
        for number in range(int(spec["steps"]) + 1):
            value = None
            if number:
                scope["step"] = number - 1
                recorded.clear()
                updates[0] = 0
                seed_everything(probes._stable_seed(seed, "training", "step", number))
                value, error = probes._run_guarded(lambda: _run_step(body, last, scope), None)
                if error is not None:
                    facts["stopped"] = {"step": number, "where": "step", "error": error}
                    break
            flat, error = probes._run_guarded(lambda: _watched(watch, scope), None)
            if error is not None:
                facts["stopped"] = {"step": number, "where": "watch", "error": error}
                break
            sent += 2 * sum(v.numel() for _, _, v in flat if isinstance(v, torch.Tensor))
            if sent > MAX_VALUES:
                message = f"the watched values come to more than {MAX_VALUES:,} numbers: watch a smaller model"
                facts["stopped"] = {"step": number, "where": "watch", "error": {"type": "TooLarge", "message": message}}
                break
            _hook(flat, recorded, hooked)
            entry = _snapshot(number, flat, tensors, prefix)
            if number:
                entry["loss"] = _loss(value)
                entry["updates"] = updates[0]
                entry["grads"] = []
                for index, (_, kind, tensor) in enumerate(flat):
                    if kind == "parameter" and id(tensor) in recorded:
                        grads = recorded[id(tensor)]
                        entry["grads"].append([index, len(grads)])
                        for order, grad in enumerate(grads):
                            tensors[f"{prefix}{number}/g{index}/{order}"] = probes.sendable(grad)
            steps.append(entry)
    finally:
        counting.remove()
        for _, handle in hooked.values():
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


def _snapshot(number: int, flat: list[tuple[str, str, Any]], tensors: dict[str, torch.Tensor], prefix: str) -> dict:
    numbers: list[Any] = []
    for index, (_, kind, value) in enumerate(flat):
        if isinstance(value, torch.Tensor):
            tensors[f"{prefix}{number}/q{index}"] = probes.sendable(value).clone()
            numbers.append(None)
        else:
            numbers.append(probes.to_plain(value) if kind == "number" else None)
    return {
        "step": number,
        "quantities": [_describe(name, kind, value) for name, kind, value in flat],
        "numbers": numbers,
    }


def _hook(
    flat: list[tuple[str, str, Any]],
    recorded: dict[int, list[torch.Tensor]],
    hooked: dict[int, tuple[torch.Tensor, Any]],
) -> None:
    """Keep, for each watched parameter, `.grad` as each backward of a step leaves it (the last is what the
    optimizer uses, whether the answer clears gradients at the start or at the end of the step; the others say
    how a loop over batches accumulates them)."""
    for _, kind, value in flat:
        if kind != "parameter" or id(value) in hooked or not value.requires_grad:
            continue

        def keep(parameter: torch.Tensor) -> None:
            if parameter.grad is not None:
                kept = recorded.setdefault(id(parameter), [])
                if len(kept) == MAX_BACKWARDS:
                    kept.pop()  # the first ones and the last: what a diagnosis compares
                kept.append(parameter.grad.detach().clone())

        hooked[id(value)] = (value, value.register_post_accumulate_grad_hook(keep))


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
