"""Canonical values do not depend on the order a class registers its parameters in: a right `MyLinear` that
creates `bias` before `weight` was rejected ("max abs error 1.73") where the same code with `weight` first was
accepted. Only parameters of one shape keep the order the class gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs.loader import load_pack

SCRATCH = load_pack(locations.builtin_packs_dir() / "torch-from-scratch.yaml")

BIAS_FIRST = """\
import math

import torch
from torch import nn


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        k = 1 / math.sqrt(in_features)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-k, k))
        else:
            self.register_parameter("bias", None)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-k, k))

    def forward(self, x):
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        return out
"""


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(Path(tmp_path_factory.mktemp("canonical-order-cache"))))


def test_a_right_answer_that_registers_its_bias_first_is_accepted(grader: Grader) -> None:
    question = SCRATCH.question("linear-with-init")
    result = grader.grade(SCRATCH, question, BIAS_FIRST)
    assert result.verdict == "accepted", result.to_json()
    # The control: the same answer with its bias added twice is still rejected, on its outputs.
    wrong = BIAS_FIRST.replace("out = out + self.bias", "out = out + 2 * self.bias")
    result = grader.grade(SCRATCH, question, wrong)
    assert result.verdict == "wrong_answer", result.to_json()
    assert any(t.status == "fail" and "output differs" in t.message for t in result.tests), result.to_json()
