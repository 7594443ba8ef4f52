"""A result that differs from the reference's by a simple relation is told by that relation: a softmax over the
wrong dim, a constant factor (a missing or doubled scale), an offset, a transpose. The words come from the values
alone, so they hold for answers written in any style; and nothing is claimed when no relation holds everywhere."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from quizapp import locations
from quizapp.grading.diagnosis import (
    RELATION_LIMIT,
    _lines,
    _op_difference,
    buffer_difference,
    constant_difference,
    relation,
)
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs.loader import load_pack

SHAPE = (4, 8)


def _values(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0, 1) for _ in range(n)]


def _softmax(values: list[float], shape: tuple[int, ...], dim: int, log: bool = False) -> list[float]:
    out = [0.0] * len(values)
    for line in _lines(shape, dim):
        top = max(values[i] for i in line)
        total = math.fsum(math.exp(values[i] - top) for i in line)
        for i in line:
            out[i] = values[i] - top - math.log(total) if log else math.exp(values[i] - top) / total
    return out


def test_a_softmax_over_the_wrong_dim_is_named_with_both_dims() -> None:
    x = _values(32)
    said = relation(SHAPE, _softmax(x, SHAPE, 0), _softmax(x, SHAPE, 1), 1e-5, 1e-6)
    assert said is not None
    assert "sums to 1 along dim 0" in said and "along dim 1 (the last)" in said and "wrong dim" in said
    logs = relation(SHAPE, _softmax(x, SHAPE, 0, log=True), _softmax(x, SHAPE, 1, log=True), 1e-5, 1e-6)
    assert logs is not None and "log-probabilities along dim 0" in logs and "dim 1" in logs


def test_a_missing_normalisation_is_named() -> None:
    x = _values(32, 1)
    said = relation(SHAPE, [math.exp(v) for v in x], _softmax(x, SHAPE, 1), 1e-5, 1e-6)
    assert (
        said
        == "the output is not normalised along dim 1 (the last), where the reference's sums to 1 along dim 1 (the last)"
    )


@pytest.mark.parametrize(
    ("factor", "words"),
    [
        (2.0, "2 times"),
        (0.125, "(1/8)"),
        (1 / math.sqrt(8), "(1/√8)"),
        (math.sqrt(8), "(√8)"),
        (math.sqrt(7 / 8), "(√(7/8))"),  # an unbiased variance where the reference's is biased
        (-1.0, "opposite sign"),
    ],
)
def test_a_constant_factor_is_named_as_a_reviewer_would_recognise_it(factor: float, words: str) -> None:
    want = _values(32, 2)
    said = relation(SHAPE, [factor * v for v in want], want, 1e-5, 1e-6)
    assert said is not None and words in said, said


def test_an_offset_and_a_transpose_are_named() -> None:
    want = _values(18, 3)
    assert relation((2, 9), [v - 0.25 for v in want], want, 1e-5, 1e-6) == (
        "every value of the output is the reference's minus 0.25"
    )
    shape = (2, 3, 3)
    swapped = [want[b * 9 + j * 3 + i] for b in range(2) for i in range(3) for j in range(3)]
    assert relation(shape, swapped, want, 1e-5, 1e-6) == (
        "the output is the reference's transposed (its last two dims swapped)"
    )


def test_a_single_value_is_told_its_factor_only_when_the_factor_is_recognisable() -> None:
    """Any two numbers have a ratio and a difference: a loss summed over 4 samples is '4 times', a loss that is
    merely another number is not told of a factor or an offset."""
    assert relation((), [4.0 * 1.7], [1.7], 1e-5, 1e-6) == "the output is 4 times the reference's"
    assert relation((), [0.9289 * 1.7], [1.7], 1e-5, 1e-6) is None
    assert relation((), [1.7 + 0.5], [1.7], 1e-5, 1e-6) is None


def test_nothing_is_claimed_when_no_relation_holds_everywhere() -> None:
    want = _values(32, 4)
    rng = random.Random(5)
    noisy = [v + rng.gauss(0, 0.1) for v in want]
    assert relation(SHAPE, noisy, want, 1e-5, 1e-6) is None
    # A factor that holds on all values but one is not a relation.
    doubled = [2 * v for v in want]
    doubled[7] += 1.0
    assert relation(SHAPE, doubled, want, 1e-5, 1e-6) is None
    # Both normalised along the same dim, differing otherwise: not "over the wrong dim".
    x, y = _values(32, 6), _values(32, 7)
    assert relation(SHAPE, _softmax(x, SHAPE, 1), _softmax(y, SHAPE, 1), 1e-5, 1e-6) is None
    # Not finite, or more values than the host looks at.
    assert relation(SHAPE, [math.inf] * 32, want, 1e-5, 1e-6) is None
    big = _values(RELATION_LIMIT + 1, 8)
    assert relation((RELATION_LIMIT + 1,), [2 * v for v in big], big, 1e-5, 1e-6) is None


def test_two_names_of_one_op_are_style_not_a_defect() -> None:
    learner = {"ops": {"max": 1, "exp": 1, "sum": 1, "div": 1}}
    reference = {"ops": {"amax": 1, "exp": 1, "sum": 1, "true_divide": 1}}
    assert _op_difference(learner, reference) is None
    learner["ops"]["mul"] = 1
    assert _op_difference(learner, reference) == "forward runs mul once where the reference runs it 0 times"


SCRATCH = load_pack(locations.builtin_packs_dir() / "torch-from-scratch.yaml")
CORPUS_PACK = load_pack(Path(__file__).parent / "grading_corpus_pack.yaml")


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(Path(tmp_path_factory.mktemp("relation-reference-cache"))))


def test_graded_softmax_answers_are_told_their_defect(grader: Grader) -> None:
    """Through the real jail: the softmax over dim 0 written with max() (the reference uses amax) is told its dim,
    not the style of its max; a doubled softmax is told its factor, in the outputs and in the gradient."""
    question = SCRATCH.question("stable-softmax")
    over_rows = (
        "import torch\n\n"
        "def softmax(x, dim=-1):\n"
        "    m = x.max(dim=0, keepdim=True).values\n"
        "    e = torch.exp(x - m)\n"
        "    return e / e.sum(dim=0, keepdim=True)\n"
    )
    result = grader.grade(SCRATCH, question, over_rows)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "sums to 1 along dim 0" in result.message and "wrong dim" in result.message, result.message
    assert "amax" not in result.message and "eval mode" not in result.message, result.message

    doubled = over_rows.replace("dim=0", "dim=dim").replace("return e /", "return 2 * e /")
    result = grader.grade(SCRATCH, question, doubled)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "every value of the output is 2 times the reference's" in result.message, result.message
    gradient = next(t for t in result.tests if "gradient" in t.message)
    assert "every value of it is 2 times" in gradient.message, gradient.message


def _buffer(path: str, tensor: str, shape: tuple[int, ...] = (8, 8), dtype: str = "bool") -> dict:
    return {"path": path, "shape": list(shape), "dtype": dtype, "tensor": tensor}


def test_a_constant_buffer_that_differs_is_named_and_a_kept_elsewhere_one_is_not() -> None:
    same = {("l-tril", "r-tril"), ("l-freq", "r-freq")}

    def close(mine: dict, theirs: dict) -> bool:
        return (mine["tensor"], theirs["tensor"]) in same

    reference = {"buffers": [_buffer("mask", "r-tril"), _buffer("inv_freq", "r-freq", (4,), "float32")]}
    wrong_mask = {"buffers": [_buffer("causal", "l-triu"), _buffer("freqs", "l-freq", (4,), "float32")]}
    assert buffer_difference(wrong_mask, reference, close) == (
        "the buffer `causal` holds other values than the reference's `mask` (bool (8, 8))"
    )
    # Every reference buffer has its match: nothing to say, whatever else the answer keeps.
    right = {"buffers": [_buffer("m", "l-tril"), _buffer("f", "l-freq", (4,), "float32"), _buffer("x", "l-x")]}
    assert buffer_difference(right, reference, close) is None
    # The answer builds its mask in forward (no buffer of that shape and dtype): not a defect to name.
    elsewhere = {"buffers": [_buffer("freqs", "l-freq", (4,), "float32"), _buffer("m", "l-m", (8, 8), "float32")]}
    assert buffer_difference(elsewhere, reference, close) is None
    # Two unmatched candidates of that shape and dtype and neither of the reference's name: no guess.
    two = {"buffers": [_buffer("a", "l-a"), _buffer("b", "l-b"), _buffer("f", "l-freq", (4,), "float32")]}
    assert buffer_difference(two, reference, close) is None


BUFFER_PACK = """\
format: 1
id: buffer-diagnosis
title: "Causal attention with its mask in a buffer"
version: "1.0.0"
description: One question whose reference keeps a constant in a buffer.
authors: ["quizapp team"]
licence: CC-BY-4.0
questions:
  - id: causal-mask-buffer
    kind: code
    title: "Causal self-attention, nanoGPT style"
    difficulty: medium
    minutes: 10
    prompt: Write `Causal(d_model, max_len)`, single-head causal self-attention with a fused `qkv` projection.
    explanation: The mask is a constant; a buffer moves and saves with the module.
    signature: "Causal(d_model, max_len)"
    entry_point: Causal
    solution: |
      import math

      import torch
      from torch import nn


      class Causal(nn.Module):
          def __init__(self, d_model, max_len):
              super().__init__()
              self.qkv = nn.Linear(d_model, 3 * d_model)
              self.proj = nn.Linear(d_model, d_model)
              self.register_buffer("bias", torch.tril(torch.ones(max_len, max_len)))

          def forward(self, x):
              t = x.shape[1]
              q, k, v = self.qkv(x).chunk(3, dim=-1)
              att = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
              att = att.masked_fill(self.bias[:t, :t] == 0, float("-inf")).softmax(dim=-1)
              return self.proj(att @ v)
    checks:
      - id: outputs
        kind: outputs
        title: Matches the reference attention
        cases:
          - args: [8, 6]
            inputs: [[2, 5, 8]]
        modes: [eval]
"""


def test_graded_wrong_constant_buffer_is_named(grader: Grader, tmp_path: Path) -> None:
    """Through the real jail, on a pack whose reference keeps its causal mask in a buffer: an answer whose mask
    buffer is built with triu is told its buffer, under its own name; the right answer, with its mask under
    another name, passes; an answer that builds a wrong mask in forward (no buffer) is not told of a buffer."""
    path = tmp_path / "buffer-pack.yaml"
    path.write_text(BUFFER_PACK, encoding="utf-8")
    pack = load_pack(path)
    question = pack.question("causal-mask-buffer")
    right = question.solution.replace('"bias"', '"causal"').replace("self.bias[", "self.causal[")
    assert grader.grade(pack, question, right).verdict == "accepted"
    wrong = right.replace("torch.tril(torch.ones(max_len, max_len))", "torch.triu(torch.ones(max_len, max_len))")
    result = grader.grade(pack, question, wrong)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "the buffer `causal` holds other values than the reference's `bias`" in result.message, result.message
    in_forward = question.solution.replace(
        '        self.register_buffer("bias", torch.tril(torch.ones(max_len, max_len)))\n', ""
    ).replace("self.bias[:t, :t]", "torch.ones(t, t).triu()")
    result = grader.grade(pack, question, in_forward)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "buffer" not in result.message, result.message


def test_the_same_softmax_over_another_dim_is_named() -> None:
    learner = {"ops": {"softmax": 2, "matmul": 2}, "dims": {"softmax": [-1, -2]}}
    reference = {"ops": {"softmax": 2, "matmul": 2}, "dims": {"softmax": [-1, -1]}}
    assert _op_difference(learner, reference, "`attend`") == (
        "`attend`'s softmax runs over dim -2 where the reference's runs over dim -1 (the last)"
    )
    assert _op_difference({**learner, "dims": {"softmax": [-1, -1]}}, reference) is None


def test_a_graded_softmax_over_the_queries_is_named(grader: Grader) -> None:
    """Through the real jail: the grading corpus's attention whose softmax runs over the queries; the defect is
    inside forward, between layers, where only the first layer after it (out_proj) used to be named."""
    from grading_corpus import CORPUS

    answer = next(a for a in CORPUS if a.name == "softmax-over-the-queries")
    result = grader.grade(CORPUS_PACK, CORPUS_PACK.question(answer.question), answer.code)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "forward's softmax runs over dim -2 where the reference's runs over dim -1" in result.message, result.message


CANON = load_pack(Path(__file__).parent / "packs" / "format2-canon.yaml")


def test_attention_weights_over_the_queries_are_named_in_their_element(grader: Grader) -> None:
    """Through the real jail: an attention returning (output, weights) with its softmax over the queries. The
    output differs first, but the weights' element says why, in the author's name for it."""
    question = next(q for q in CANON.questions if "weights = scores.softmax(dim=-1)" in (q.solution or ""))
    wrong = question.solution.replace("weights = scores.softmax(dim=-1)", "weights = scores.softmax(dim=-2)")
    result = grader.grade(CANON, question, wrong)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "output[1] (attention weights) sums to 1 along dim 2 where the reference's sums to 1 along dim 3" in (
        result.message
    ), result.message


def _constant(tensor: str, shape: tuple[int, ...] = (5, 2), dtype: str = "float32", line: int = 9) -> dict:
    return {"shape": list(shape), "dtype": dtype, "tensor": tensor, "line": line}


def test_a_constant_that_meets_the_input_with_other_values_is_named_wherever_it_was_made() -> None:
    same = {("l-sin", "r-sin"), ("l-mask", "r-mask")}

    def close(mine: dict, theirs: dict) -> bool:
        return (mine["tensor"], theirs["tensor"]) in same

    reference = {"constants": [_constant("r-cos"), _constant("r-sin"), _constant("r-mask", (5, 5), "bool")]}
    # cos differs, sin and the mask match: the cos table is named, with the line where it meets the input.
    wrong_cos = {"constants": [_constant("l-cos", line=25), _constant("l-sin"), _constant("l-mask", (5, 5), "bool")]}
    assert constant_difference(wrong_cos, reference, close) == (
        "the float32 (5, 2) constant that forward combines with its input (answer.py line 25) has other values "
        "than the reference's: a table or mask computed differently"
    )
    # Both tables differ (a wrong frequency): the first in order of use is named.
    both = {"constants": [_constant("l-cos", line=25), _constant("l-sin2", line=26)]}
    assert "(answer.py line 25)" in (constant_difference(both, reference, close) or "")
    # A mask of another dtype (an additive float mask for a bool one) is another representation, not a defect.
    additive = {"constants": [_constant("l-add", (5, 5), "float32")]}
    reference_mask = {"constants": [_constant("r-mask", (5, 5), "bool")]}
    assert constant_difference(additive, reference_mask, close) is None
    # Everything the reference combines is matched: nothing to say.
    assert constant_difference({"constants": [_constant("l-mask", (5, 5), "bool")]}, reference_mask, close) is None


def test_graded_tables_and_masks_computed_differently_are_named(grader: Grader) -> None:
    """Through the real jail, answers from the grading corpus whose only defect is a constant: a sinusoidal
    table with sines and cosines swapped (kept in a buffer, where the reference computes it in forward) and a
    causal mask built with triu. Before, their headlines said only where the output first differs."""
    from grading_corpus import CORPUS

    for question, name in (
        ("residual-stack", "pe-buffer-cosines-on-even-features"),
        ("rotary-attention", "mask-buffer-upper-triangle"),
    ):
        answer = next(a for a in CORPUS if a.question == question and a.name == name)
        result = grader.grade(CORPUS_PACK, CORPUS_PACK.question(question), answer.code)
        assert result.verdict == "wrong_answer", result.to_json()
        assert "constant that forward combines with its input (answer.py line" in result.message, result.message
