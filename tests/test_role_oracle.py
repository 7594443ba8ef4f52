"""The role search is no oracle: an answer that computes another hypothesis under each pairing of its
same-shaped layers must be graded on what it computes when it runs once.

The attack (tests/redteam/answers/roles_oracle_hypotheses.py) holds three ResNet blocks that all pass the trace
and structure checks; it tells the search's pairings apart from inside its process and computes hypothesis
<index> under pairing <index>, then computes whichever the grader chose. Through the real jailed pool.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_corpus import CORPUS

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

ANSWERS = Path(__file__).parent / "redteam" / "answers"
ORACLE = (ANSWERS / "roles_oracle_hypotheses.py").read_text(encoding="utf-8")
MODULES = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
RESNET = MODULES.question("resnet-residual-block")


def fixed(hypothesis: int) -> str:
    """The attack with its hypothesis fixed: what the file computes when nothing tells it which to compute."""
    text = ORACLE.replace("def _hypothesis(module):\n", f"def _hypothesis(module):\n    return {hypothesis}\n", 1)
    assert text != ORACLE
    return text


class Recording:
    """The session's pool, keeping every job's payload."""

    def __init__(self, pool) -> None:
        self.pool, self.payloads = pool, []

    def run(self, task: str, payload: dict, limits):
        return self.submit(task, payload, limits).result()

    def submit(self, task: str, payload: dict, limits):
        self.payloads.append(payload)
        return self.pool.submit(task, payload, limits)

    def runs_of(self, code: str) -> list[dict]:
        return [payload for payload in self.payloads if payload.get("code") == code]


@pytest.fixture(scope="module")
def recording(judged) -> Recording:
    return Recording(judged)


@pytest.fixture(scope="module")
def grader(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(recording, ReferenceCache(tmp_path_factory.mktemp("role-oracle-reference-cache")))


def test_an_answer_with_a_hypothesis_per_pairing_is_graded_on_what_it_computes(
    grader: Grader, recording: Recording
) -> None:
    result = grader.grade(MODULES, RESNET, ORACLE)
    runs = recording.runs_of(ORACLE)
    assert len(runs) == 1, runs  # the answer runs once; the search ran the reference
    assert not any({"ranks", "assignment", "search"} & set(spec) for spec in runs[0]["checks"]), runs[0]
    assert any(spec.get("kind") == "roles" for p in recording.runs_of(RESNET.solution) for spec in p["checks"])
    assert result.verdict == "wrong_answer", result.to_json()
    by_check = {t.check: t for t in result.tests}
    assert by_check["outputs"].status == "fail", by_check["outputs"]
    assert by_check["gradients"].status == "fail", by_check["gradients"]
    assert "stride" in result.message, result.message  # hypothesis 0's defect, named


def test_the_attacks_hypotheses_alone_are_two_wrong_blocks_and_the_block(grader: Grader) -> None:
    """The control: the file guesses between wrong blocks and the right one, and the right one is accepted."""
    stride = grader.grade(MODULES, RESNET, fixed(0))
    assert stride.verdict == "wrong_answer" and "stride" in stride.message, stride.to_json()
    relu_first = grader.grade(MODULES, RESNET, fixed(1))
    assert relu_first.verdict == "wrong_answer", relu_first.to_json()
    block = grader.grade(MODULES, RESNET, fixed(2))
    assert block.verdict == "accepted", block.to_json()


def test_a_right_answer_written_with_other_joins_runs_once_and_its_pairing_is_cached(
    grader: Grader, recording: Recording
) -> None:
    """An answer the search must pair (its scores as (k @ q^T)^T) is accepted, is never run again, and a second
    answer paired the same way costs one job: the reference's runs under that pairing are cached."""
    pack = load_pack(Path(__file__).parent / "grading_corpus_pack.yaml")
    question = pack.question("separate-projections")
    answer = next(a for a in CORPUS if a.name == "scores-as-transposed-key-query-product")
    first = grader.grade(pack, question, answer.code)
    assert first.verdict == "accepted", first.to_json()
    assert len(recording.runs_of(answer.code)) == 1
    renamed = answer.code.replace("self.q_proj", "self.queries").replace("self.k_proj", "self.keys")
    assert renamed != answer.code
    before = len(recording.payloads)
    second = grader.grade(pack, question, renamed)
    assert second.verdict == "accepted", second.to_json()
    assert recording.payloads[before:] == recording.runs_of(renamed)
    assert len(recording.runs_of(renamed)) == 1
    wrong = renamed.replace("return self.out_proj(", "return 1.5 * self.out_proj(")  # scaled: no pairing mends it
    assert wrong != renamed
    before = len(recording.payloads)
    assert grader.grade(pack, question, wrong).verdict == "wrong_answer"
    assert len(recording.payloads) - before == 1  # a wrong answer: its own job, the search read from the cache


ATTENTION_PACK = """\
format: 1
id: oracle-roles
title: Roles
version: "1.0.0"
description: Attention with four same-shaped projections.
authors: [Test]
licence: CC-BY-4.0
questions:
  - id: attention
    kind: code
    title: Single-head attention
    difficulty: medium
    minutes: 5
    prompt: Write single-head self-attention with q, k, v and output projections of width E.
    explanation: out(softmax(q k^T / sqrt(E)) v).
    entry_point: Attention
    signature: Attention(E)
    solution: |
      import math

      import torch
      from torch import nn


      class Attention(nn.Module):
          def __init__(self, E):
              super().__init__()
              self.q_proj = nn.Linear(E, E)
              self.k_proj = nn.Linear(E, E)
              self.v_proj = nn.Linear(E, E)
              self.o_proj = nn.Linear(E, E)

          def forward(self, x):
              q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
              scores = q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])
              return self.o_proj(torch.softmax(scores, dim=-1) @ v)
    checks:
      - id: outputs
        kind: outputs
        cases:
          - args: [8]
            inputs: [[2, 5, 8]]
          - args: [4]
            inputs: [[1, 3, 4], [2, 6, 4]]
      - id: gradients
        kind: gradients
        visible: false
        cases:
          - args: [6]
            inputs: [[2, 4, 6]]
"""
OTHER_JOINS = """
import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.out = nn.Linear(E, E)
        self.value = nn.Linear(E, E)
        self.key = nn.Linear(E, E)
        self.query = nn.Linear(E, E)

    def forward(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = (k @ q.transpose(-2, -1)).transpose(-2, -1) / math.sqrt(x.shape[-1])
        return self.out(torch.softmax(scores, dim=-1) @ v)
"""


@pytest.fixture(scope="module")
def attention_pack():
    from quizapp.packs.loader import check_pack_text

    loaded = check_pack_text(ATTENTION_PACK, "oracle-roles.yaml")
    assert loaded.pack is not None, loaded.problems
    return loaded.pack


def test_the_pairing_found_on_the_outputs_cases_carries_to_a_hidden_gradients_case(
    grader: Grader, recording: Recording, attention_pack
) -> None:
    """Other joins, the layers registered in reverse: the search pairs them on the outputs check's cases, and the
    hidden gradients check, built with other arguments, is judged against the reference under the same pairing
    of layers (carried by path): accepted, in one run of the answer."""
    question = attention_pack.question("attention")
    result = grader.grade(attention_pack, question, OTHER_JOINS, mode="submit")
    assert result.verdict == "accepted", result.to_json()
    assert {t.check: t.status for t in result.tests} == {"outputs": "pass", "gradients": "pass"}
    assert len(recording.runs_of(OTHER_JOINS)) == 1
    scaled = OTHER_JOINS.replace("return self.out(", "return 2 * self.out(")
    assert grader.grade(attention_pack, question, scaled).verdict == "wrong_answer"


def test_a_student_build_cannot_run_its_reference_so_it_does_not_search(
    grader: Grader, recording: Recording, attention_pack
) -> None:
    """The safe side: a student build ships the reference's own facts, not its code, so no reference run under
    another pairing exists there, and the answer that needs one is rejected on its one run (never run again)."""
    from quizapp.grading.student import student_yaml
    from quizapp.packs.loader import check_pack_text

    loaded = check_pack_text(student_yaml(attention_pack, grader), "student.yaml")
    assert loaded.pack is not None, loaded.problems
    built = loaded.pack.question("attention")
    assert built.solution is None
    answer = OTHER_JOINS.replace("self.query", "self.q")  # its own job: not one the other test ran
    before = len(recording.payloads)
    result = Grader(recording, cache=None).grade(loaded.pack, built, answer)
    assert result.verdict == "wrong_answer", result.to_json()
    assert next(t for t in result.tests if t.check == "outputs").status == "fail"
    assert recording.payloads[before:] == recording.runs_of(answer)  # the answer's one job, nothing else
