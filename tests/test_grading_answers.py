"""Choice, predict and explain answers: graded in process, against the built-in pack's real questions."""

from __future__ import annotations

import pytest

from quizapp import locations
from quizapp.grading.answers import printed_values, same_printout
from quizapp.grading.grader import Grader
from quizapp.packs import load_pack, model

PACK = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
GRADER = Grader(runner=None)


def grade(question_id: str, answer: str, **kwargs):
    return GRADER.grade(PACK, PACK.question(question_id), answer, **kwargs)


EXTRACTION = "tensor([[4., 4.],\n        [4., 4.]])"


@pytest.mark.parametrize(
    "answer",
    [
        EXTRACTION,
        "tensor([[4., 4.], [4., 4.]])",
        "tensor([[4.,4.],[4.,4.]])",
        "[[4, 4], [4, 4]]",
        "[[4.0, 4.0],\n [4.0, 4.0]]",
        "tensor([[4., 4.],\n        [4., 4.]], dtype=torch.float32)",
        "  tensor([[4., 4.],\n        [4., 4.]])\n\n",
    ],
)
def test_predict_accepts_the_usual_spellings_of_the_printout(answer: str) -> None:
    result = grade("sequential-extraction", answer)
    assert result.verdict == "accepted", answer
    assert result.status == "pass"


@pytest.mark.parametrize(
    "answer",
    [
        "tensor([[18., 18.],\n        [18., 18.]])",  # the full model's output, the classic mistake
        "[4, 4, 4, 4]",  # same values, wrong shape
        "[[4, 4]]",
        "tensor([[4., 4.],\n        [4., 5.]])",
        "4",
        "tensor([[4., 4.], [4., 4.]]) extra",
    ],
)
def test_predict_rejects_other_printouts(answer: str) -> None:
    result = grade("sequential-extraction", answer)
    assert result.verdict == "wrong_answer", answer
    assert result.tests[0].status == "fail"


def test_predict_empty_answer_says_so() -> None:
    result = grade("plain-list-param-count", "  \n")
    assert result.verdict == "wrong_answer"
    assert "empty" in result.message


def test_predict_words_and_sizes() -> None:
    assert grade("lazy-linear-shapes", "torch.Size([8, 20]) torch.Size([3, 8])").passed
    assert grade("lazy-linear-shapes", "[8, 20]\n[3, 8]").passed
    assert not grade("lazy-linear-shapes", "torch.Size([20, 8]) torch.Size([8, 3])").passed
    assert grade("convnext-extraction", "TinyConvNeXt True\nTinyCNN raises RuntimeError").passed
    assert not grade("convnext-extraction", "TinyConvNeXt False\nTinyCNN raises RuntimeError").passed
    assert grade("plain-list-param-count", "262").passed
    assert not grade("plain-list-param-count", "1522").passed


def test_printed_values_parse_tensor_reprs() -> None:
    assert printed_values("tensor(-0.0418, grad_fn=<SumBackward0>)") == [-0.0418]
    assert printed_values("torch.Size([3, 8])") == [[3.0, 8.0]]
    assert printed_values("tensor([True, False])") == [[True, False]]
    assert same_printout("tensor([1.0000e-05, 2.0000e+00])", "[0.00001, 2]")
    assert not same_printout("tensor([nan, 1.])", "tensor([0., 1.])")


def test_choice_single_select() -> None:
    result = grade("feed-forward-container", "sequential")
    assert result.verdict == "accepted"
    assert result.score == 1.0
    wrong = grade("feed-forward-container", "modulelist")
    assert wrong.verdict == "wrong_answer"
    assert wrong.score == 0.0  # a wrong single pick earns nothing, not partial credit
    messages = " ".join(t.message for t in wrong.tests)
    assert "still have to write the loop" in messages  # the chosen option's feedback
    assert [t.name for t in wrong.tests] == ["option modulelist"]  # the right option is not given away
    assert "sequential" not in messages
    several = grade("feed-forward-container", "sequential modulelist")
    assert several.verdict == "wrong_answer"
    assert "exactly one" in several.message


def test_choice_several_correct_options_need_all_of_them() -> None:
    question = PACK.question("net-defects")
    assert isinstance(question, model.ChoiceQuestion)
    assert question.selects_many
    assert grade("net-defects", "bn2, fc1, view").passed
    assert grade("net-defects", "view fc1 bn2").passed
    partial = grade("net-defects", "bn2 fc1")
    assert partial.verdict == "wrong_answer"
    assert 0 < (partial.score or 0) < 1
    assert [t.status for t in partial.tests] == ["pass", "pass"]  # only the learner's picks are judged
    assert partial.message == "1 correct option not selected"
    assert "view" not in " ".join(t.message for t in partial.tests)
    everything = grade("net-defects", " ".join(o.id for o in question.options))
    assert everything.verdict == "wrong_answer"
    assert everything.score == 0.0  # ticking every option earns nothing


def test_choice_score_rewards_knowledge_not_guessing() -> None:
    from quizapp.grading.answers import choice_score

    assert choice_score({"a"}, {"b"}, 4, selects_many=False) == 0.0
    assert choice_score({"a"}, {"a"}, 4, selects_many=False) == 1.0
    assert choice_score({"a", "b"}, {"a", "b", "c", "d"}, 4, selects_many=True) == 0.0
    assert choice_score({"a", "b"}, {"a"}, 4, selects_many=True) == 0.5
    assert choice_score({"a", "b"}, {"a", "c"}, 4, selects_many=True) == 0.0
    assert choice_score({"a", "b"}, {"a", "b", "c"}, 4, selects_many=True) == 0.5


def test_choice_unknown_option_is_named() -> None:
    result = grade("net-defects", "bn3")
    assert result.verdict == "wrong_answer"
    assert "no option 'bn3'" in result.message
    assert "bn2" in result.message


def test_explain_scores_the_ticked_rubric_points() -> None:
    question = PACK.question("resnet-module-or-sequential")
    assert isinstance(question, model.ExplainQuestion)
    ids = [p.id for p in question.rubric]
    half = (len(ids) + 1) // 2
    result = grade("resnet-module-or-sequential", "Sequential only chains...", ticked=ids[:half])
    assert result.verdict == "accepted"
    assert result.score == pytest.approx(half / len(ids))
    assert [t.status for t in result.tests] == ["pass"] * half + ["fail"] * (len(ids) - half)
    idk = grade("resnet-module-or-sequential", "idk", ticked=[])
    assert idk.verdict == "wrong_answer"  # "idk" with nothing ticked is not accepted, and so never solved
    assert idk.score == 0.0
    assert f"made 0 of {len(ids)} rubric points" in idk.message
    assert grade("resnet-module-or-sequential", "").verdict == "wrong_answer"


def test_result_from_json_is_lossless() -> None:
    from quizapp.grading.result import Result, TestResult

    original = Result(
        "syntax_error",
        tests=[
            TestResult(
                "outputs",
                "fail",
                "differs",
                visible=False,
                check="same",
                output="printed",
                line=3,
                details={"max_abs": 1.5},
            )
        ],
        message="invalid syntax",
        duration_ms=12.5,
        jail_mode="full",
        mode="run",
        score=0.25,
        line=4,
        column=7,
        stdout="out",
        stderr="err",
        traceback="Traceback",
        revealed={"explanation": "sealed text"},
    )
    assert Result.from_json(original.to_json(file="a.py")) == original


def test_result_json_carries_the_contract_fields() -> None:
    data = grade("feed-forward-container", "list").to_json(file="answer.txt")
    assert {"file", "status", "verdict", "tests", "duration_ms"} <= data.keys()
    assert data["status"] == "fail"
    assert all({"name", "status", "message"} <= t.keys() for t in data["tests"])


def test_choice_with_nothing_selected_scores_nothing() -> None:
    result = grade("net-defects", "")
    assert result.verdict == "wrong_answer"
    assert result.score == 0.0
    assert "no option selected" in result.message
