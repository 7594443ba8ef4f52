"""A trace rule ("no built-in softmax") is enforced inside the job, so an answer may try to hide an op from the
tracer: switch torch's function hooks off, or pop the tracer's mode. The ops still reach torch's dispatcher,
where the job counts them too. Plain code, with factories, autograd Functions and modules, is never counted
twice (a false "you used softmax" would be worse than the hole)."""

from __future__ import annotations

import pytest

from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs.loader import check_pack_text

pytestmark = pytest.mark.jail

PACK = """\
format: 2
id: evasion
title: Trace evasion
version: "1.0.0"
description: A softmax written by hand, and a module with a forbidden op.
authors: [Test]
licence: CC-BY-4.0
questions:
  - id: own-softmax
    kind: code
    title: Softmax by hand
    difficulty: easy
    minutes: 1
    prompt: Write softmax(x, dim) without torch's softmax.
    explanation: exp over sum.
    entry_point: softmax
    entry_point_kind: function
    signature: softmax(x, dim)
    solution: |
      import torch


      def softmax(x, dim):
          e = (x - x.amax(dim, keepdim=True)).exp()
          return e / e.sum(dim, keepdim=True)
    checks:
      - id: outputs
        kind: outputs
        cases:
          - calls: [{args: [{shape: [3, 6]}, -1]}]
      - id: by-hand
        kind: trace
        cases:
          - calls: [{args: [{shape: [3, 6]}, -1]}]
        rules:
          - op: softmax
            count: 0
            message: "no built-in softmax"
          - op: log_softmax
            count: 0
            message: "no built-in log_softmax"
"""

RIGHT_BY_HAND = [
    # plain
    "import torch\n\ndef softmax(x, dim):\n    e = (x - x.amax(dim, keepdim=True)).exp()\n"
    "    return e / e.sum(dim, keepdim=True)\n",
    # a factory, a torch.tensor literal, an autograd Function of its own and a module inside: nothing hidden
    """\
import torch
from torch import nn


class _Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


def softmax(x, dim):
    zero = torch.zeros(()) + torch.tensor(0.0)
    shifted = nn.Identity()(x - x.amax(dim, keepdim=True)) + zero
    e = _Exp.apply(shifted)
    return e / e.sum(dim, keepdim=True)
""",
]

HIDDEN = {
    "function hooks switched off": """\
import torch


def softmax(x, dim):
    with torch._C.DisableTorchFunction():
        return torch.softmax(x, dim)
""",
    "function hooks switched off, torch._dynamo loaded": """\
import torch
import torch._dynamo  # loaded: the probe's dispatch mode then records outside what torch.compile may trace


def softmax(x, dim):
    with torch._C.DisableTorchFunction():
        return torch.softmax(x, dim)
""",
    "inside an autograd Function, hooks off": """\
import torch


class _S(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        with torch._C.DisableTorchFunction():
            y = torch.softmax(x, dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


def softmax(x, dim):
    return _S.apply(x, dim)
""",
    "the tracer's mode popped": """\
import torch
from torch.overrides import _pop_mode_temporarily


def softmax(x, dim):
    with _pop_mode_temporarily():
        return torch.log_softmax(x, dim).exp()
""",
}


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("evasion-cache")))


@pytest.fixture(scope="module")
def pack():
    loaded = check_pack_text(PACK)
    assert loaded.pack is not None, loaded.problems
    return loaded.pack


@pytest.mark.parametrize("index", range(len(RIGHT_BY_HAND)))
def test_softmax_by_hand_passes_the_trace_rule(grader: Grader, pack, index: int) -> None:
    result = grader.grade(pack, pack.question("own-softmax"), RIGHT_BY_HAND[index])
    assert result.verdict == "accepted", result.message


@pytest.mark.parametrize("how", sorted(HIDDEN))
def test_an_op_hidden_from_the_tracer_is_still_counted(grader: Grader, pack, how: str) -> None:
    result = grader.grade(pack, pack.question("own-softmax"), HIDDEN[how])
    by_check = {t.check: t for t in result.tests}
    assert by_check["outputs"].status == "pass"  # the values are right: only the rule can tell
    assert by_check["by-hand"].status == "fail", by_check["by-hand"].message
    assert result.verdict == "wrong_answer"
    assert "in `softmax`, expected 0" in by_check["by-hand"].message
    assert by_check["by-hand"].message.startswith("no built-in ")
