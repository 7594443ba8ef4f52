"""The role search is no oracle: an answer that computes another hypothesis under each pairing of its
same-shaped layers must be graded on what it computes when it runs once.

The attack (tests/redteam/answers/roles_oracle_hypotheses.py) holds three ResNet blocks that all pass the trace
and structure checks; it tells the search's pairings apart from inside its process and computes hypothesis
<index> under pairing <index>, then computes whichever the grader chose. Through the real jailed pool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("role-oracle-reference-cache")))


@pytest.mark.xfail(
    strict=True,
    reason="the role search runs the answer under each pairing and grades it again under the one that matched: "
    "the answer computes a hypothesis per pairing and the grader picks the right one",
)
def test_an_answer_with_a_hypothesis_per_pairing_is_graded_on_what_it_computes(grader: Grader) -> None:
    result = grader.grade(MODULES, RESNET, ORACLE)
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
