"""Red team: a hostile learner against the grader, through the real jailed pool.

Each test states the right behaviour; the ones the product does not meet yet are strict xfails whose reason
says the root cause suspected. The answers are in tests/redteam/answers/.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from answers import RESNET_RIGHT

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

ANSWERS = Path(__file__).parent / "redteam" / "answers"
MODULES = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
AUTOGRAD = load_pack(locations.builtin_packs_dir() / "torch-autograd.yaml")
RESNET = MODULES.question("resnet-residual-block")


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("redteam-reference-cache")))


def test_the_role_search_cannot_choose_between_an_answers_hypotheses(grader: Grader) -> None:
    """This attack won on main before the search was folded into the answer's first job (it was a strict xfail).
    The search now runs the reference under the pairings, never the answer, so no frame of it ever runs in the
    answer's process (a stronger attack of the class, and the class's tests: tests/test_role_oracle.py)."""
    oracle = (ANSWERS / "resnet_search_oracle.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, oracle)
    # Run on its own, the file computes a block with no ReLU after the addition: that is what must be graded.
    assert result.verdict == "wrong_answer", result.to_json()
    outputs = next(t for t in result.tests if t.check == "outputs")
    assert outputs.status == "fail", outputs


def test_the_same_file_without_the_oracle_is_wrong_and_a_right_block_still_passes(grader: Grader) -> None:
    """The control for the test above: hypothesis 0 alone is rejected by the outputs check, and the search still
    finds the pairing of a right block written with other joins (so a fix must keep it working)."""
    oracle = (ANSWERS / "resnet_search_oracle.py").read_text(encoding="utf-8")
    disabled = oracle.replace("def _hypothesis(module):\n", "def _hypothesis(module):\n    return 0\n", 1)
    assert disabled != oracle
    wrong = grader.grade(MODULES, RESNET, disabled)
    assert wrong.verdict == "wrong_answer", wrong.to_json()
    assert "ReLU" in wrong.to_json().__repr__() or "relu" in wrong.to_json().__repr__()
    right = grader.grade(MODULES, RESNET, RESNET_RIGHT["identity-and-functional-relu"])
    assert right.verdict == "accepted", right.to_json()


def test_hollow_custom_facts_do_not_pass_a_packs_verdict(grader: Grader) -> None:
    question = AUTOGRAD.question("gradient-penalty")
    hollow = (ANSWERS / "penalty_hollow_facts.py").read_text(encoding="utf-8")
    result = grader.grade(AUTOGRAD, question, hollow)
    assert result.verdict != "accepted", result.to_json()
    assert all(t.status != "pass" for t in result.tests), result.to_json()


def test_the_penalty_answer_without_its_forgery_is_wrong(grader: Grader) -> None:
    """The control: the same constant penalty, reported honestly, fails both checks."""
    hollow = (ANSWERS / "penalty_hollow_facts.py").read_text(encoding="utf-8")
    honest = hollow.replace('probes._PROBES["custom"] = _hollow_probe\n', "")
    assert honest != hollow
    result = grader.grade(AUTOGRAD, AUTOGRAD.question("gradient-penalty"), honest)
    assert result.verdict == "wrong_answer", result.to_json()
    assert all(t.status == "fail" for t in result.tests), result.to_json()


def test_a_custom_probes_self_assessment_cannot_be_reported_as_exact(grader: Grader) -> None:
    """The tied-embeddings probes used to report only an error measured in the answer's own process, which the
    answer replaced by 0 (a strict xfail until this round). They now report the logits and the gradient for
    weights the probe sets itself, and the host compares them with the reference's: a report of 0 says nothing."""
    question = MODULES.question("tied-embeddings")
    forged = (ANSWERS / "tied_lm_zero_error.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, question, forged)
    assert result.verdict == "wrong_answer", result.to_json()
    failed = {t.check: t.message for t in result.tests if t.status == "fail"}
    assert set(failed) == {"logits", "gradient"}, result.to_json()
    assert "holds no logits" in failed["logits"], failed
    honest = forged.replace('probes._PROBES["custom"] = ', "_unused = ")
    assert honest != forged
    control = grader.grade(MODULES, question, honest)
    assert control.verdict == "wrong_answer", control.to_json()
    logits = next(t for t in control.tests if t.check == "logits")
    assert logits.status == "fail" and "differ from tanh(hidden(E[idx])) @ E.T" in logits.message, logits


def test_a_predict_answer_nested_too_deep_is_a_wrong_answer_not_our_fault(grader: Grader) -> None:
    question = AUTOGRAD.question("broadcasting-shapes")
    result = grader.grade(AUTOGRAD, question, "[" * 5000 + "]" * 5000)
    assert result.verdict == "wrong_answer", result.to_json()


def test_an_exception_message_with_a_lone_surrogate_is_a_runtime_error(grader: Grader) -> None:
    answer = 'raise ValueError("cannot open " + b"caf\\xe9.txt".decode("utf-8", "surrogateescape"))\n'
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "runtime_error", result.to_json()
    assert "cannot open" in result.message, result.message


def test_a_custom_value_of_another_structure_fails_the_check_and_does_not_blame_the_pack(grader: Grader) -> None:
    forged = (ANSWERS / "tied_lm_zero_error.py").read_text(encoding="utf-8")
    odd = forged.replace('{"value": {"error": 0.0}}', '{"value": {"error": None}}')
    assert odd != forged
    result = grader.grade(MODULES, MODULES.question("tied-embeddings"), odd)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "its verdict raised" not in repr(result.to_json())


def test_a_huge_answer_does_not_take_the_grading_processs_memory(grader: Grader) -> None:
    answer = "x = 1\n" * 190_000  # 1.1 MB of valid Python
    tracemalloc.start()
    try:
        result = grader.grade(MODULES, RESNET, answer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.verdict != "accepted"
    assert result.verdict != "internal_error", result.message
    assert peak < 64 << 20, f"the grading process allocated {peak >> 20} MiB for a {len(answer) >> 10} KiB answer"
