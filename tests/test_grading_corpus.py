"""The grading corpus (tests/grading_corpus.py) graded through the real Grader and jailed pool.

Every right answer must be accepted (no false reject), every wrong one must get its verdict (no false accept)
and a headline that names its defect. The figures are printed: run with `-s` to see them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from grading_corpus import CORPUS, Answer

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.result import Result
from quizapp.packs import load_pack

# The built-in packs, and the corpus's own questions whose references have separate same-shaped layers.
PACKS = [load_pack(path) for path in sorted(locations.builtin_packs_dir().glob("*.yaml"))] + [
    load_pack(Path(__file__).parent / "grading_corpus_pack.yaml")
]
PACK_OF = {question.id: pack for pack in PACKS for question in pack.questions}
SEEDS = {"resnet-residual-block", "my-sequential", "mlp-stack", "fix-netsequential", "fix-layer-registry"}
ROLES = {
    "separate-projections",
    "rotary-attention",
    "residual-stack",
    "gpt-block",
    "multi-head-self-attention",
    "causal-self-attention",
}


class Patient:
    """The pool with generous time limits: the corpus tests what grading says, not how fast a shared machine is."""

    def __init__(self, pool):
        self.pool = pool

    def _limits(self, limits):
        return limits.model_copy(update={"wall_seconds": 120, "cpu_seconds": 60})

    def run(self, task, payload, limits):
        return self.pool.run(task, payload, self._limits(limits))

    def submit(self, task, payload, limits):
        return self.pool.submit(task, payload, self._limits(limits))


@pytest.fixture(scope="module")
def graded(judge_pool, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """Every answer of the corpus, graded once, two at a time (one is judged on the host while the other runs)."""
    grader = Grader(Patient(judge_pool), ReferenceCache(tmp_path_factory.mktemp("reference-cache")))
    for question in sorted({answer.question for answer in CORPUS}):  # references first, so no two jobs compute one
        grader.reference_facts(PACK_OF[question], PACK_OF[question].question(question))

    def grade(answer: Answer) -> Result:
        pack = PACK_OF[answer.question]
        return grader.grade(pack, pack.question(answer.question), answer.code)

    with ThreadPoolExecutor(2) as executor:
        results = list(executor.map(grade, CORPUS))
    return {(answer.question, answer.name): result for answer, result in zip(CORPUS, results, strict=True)}


def names_defect(answer: Answer, result: Result) -> bool:
    return all(word.lower() in result.message.lower() for word in answer.words)


@pytest.mark.parametrize("answer", CORPUS, ids=[f"{a.question}/{a.name}" for a in CORPUS])
def test_each_answer_gets_its_verdict_and_a_headline_naming_its_defect(graded, answer: Answer) -> None:
    result = graded[(answer.question, answer.name)]
    summary = {"verdict": result.verdict, "message": result.message}
    assert result.verdict == answer.verdict, summary
    if answer.verdict == "accepted":
        assert result.message == "" and all(t.status == "pass" for t in result.tests)
    else:
        assert names_defect(answer, result), summary
        assert "Traceback" not in result.message


def test_corpus_figures(graded) -> None:
    right = [a for a in CORPUS if a.verdict == "accepted"]
    wrong = [a for a in CORPUS if a.verdict != "accepted"]
    assert len(right) >= 60 and len(wrong) >= 60
    # Every code and fix question of the seeds' topic, and the questions with same-shaped layers or constant
    # buffers; questions added to the packs later are proven by their decoys.
    assert {a.question for a in CORPUS} >= SEEDS | ROLES
    assert all(PACK_OF[q].question(q).kind in ("code", "fix") for q in SEEDS | ROLES)
    false_rejects = [a.name for a in right if not graded[(a.question, a.name)].passed]
    false_accepts = [a.name for a in wrong if graded[(a.question, a.name)].passed]
    named = [a for a in wrong if a.named and names_defect(a, graded[(a.question, a.name)])]
    print(
        f"\ncorpus: {len(right)} right, {len(wrong)} wrong; false rejects {len(false_rejects)} {false_rejects}; "
        f"false accepts {len(false_accepts)} {false_accepts}; headline names the defect for {len(named)} of "
        f"{len(wrong)} rejected answers ({100 * len(named) / len(wrong):.0f}%)"
    )
    roles = [a for a in CORPUS if a.question in ROLES - SEEDS]
    as_expected = sum(graded[(a.question, a.name)].passed == (a.verdict == "accepted") for a in roles)
    print(
        f"roles: {sum(a.verdict == 'accepted' for a in roles)} right, {sum(a.verdict != 'accepted' for a in roles)} "
        f"wrong; {as_expected} graded as expected"
    )
    assert not false_rejects and not false_accepts
    assert len(named) >= 0.9 * len(wrong)
