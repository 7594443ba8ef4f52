"""Student builds: nothing that gives an answer away, and every answer graded exactly as by the source pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from answers import RESNET_RIGHT, RESNET_WRONG

from quizapp import locations
from quizapp.cli import main
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.student import SEALED_EXPLANATION, student_yaml
from quizapp.packs import check_pack_text, load_pack, model

SOURCE = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")


@pytest.fixture(scope="module")
def graders(judge_pool, tmp_path_factory: pytest.TempPathFactory) -> tuple[Grader, Grader, model.Pack, str]:
    source_grader = Grader(judge_pool, ReferenceCache(tmp_path_factory.mktemp("source-cache")))
    text = student_yaml(SOURCE, source_grader)
    loaded = check_pack_text(text, "student.yaml")
    assert loaded.problems == [], loaded.problems
    assert loaded.pack is not None
    # The student side has no cache and no way to run the reference: it must use the shipped facts.
    student_grader = Grader(judge_pool, cache=None)
    return source_grader, student_grader, loaded.pack, text


def test_nothing_gives_an_answer_away(graders) -> None:
    *_, student, text = graders
    assert student.build == "student"
    for question in SOURCE.questions:
        if isinstance(question, model.CodeBase):
            assert question.solution.strip() not in text
        if isinstance(question, model.ChoiceQuestion | model.PredictQuestion):
            assert question.explanation.strip()[:60] not in text
        if isinstance(question, model.ChoiceQuestion):
            for option in question.options:
                if option.feedback:
                    assert option.feedback.strip()[:40] not in text
    assert "out += self.shortcut(x)" not in text  # the ResNet solution's skip connection
    assert "correct: true" not in text and "decoys:" not in text and "solution:" not in text
    assert "answer: '262'" not in text and 'answer: "262"' not in text
    for question in student.questions:
        if isinstance(question, model.ChoiceQuestion):
            assert question.correct_ids == [] and question.answer_hash
            assert question.explanation == SEALED_EXPLANATION
        if isinstance(question, model.PredictQuestion):
            assert question.answer is None and question.answer_hashes


def _same(a, b) -> None:
    assert a.verdict == b.verdict
    assert [(t.check, t.status, t.message) for t in a.tests] == [(t.check, t.status, t.message) for t in b.tests]
    assert a.message == b.message


def test_code_answers_are_graded_exactly_as_by_the_source(graders) -> None:
    source_grader, student_grader, student, _ = graders
    for question in SOURCE.questions:
        if not isinstance(question, model.CodeBase):
            continue
        answers = [question.solution, *(d.code for d in question.decoys)]
        if question.id == "resnet-residual-block":
            answers += [RESNET_RIGHT[s] for s in sorted(RESNET_RIGHT)] + [w[0] for w in RESNET_WRONG.values()]
        built = student.question(question.id)
        for answer in answers:
            for mode in ("run", "submit"):
                _same(
                    student_grader.grade(student, built, answer, mode=mode),
                    source_grader.grade(SOURCE, question, answer, mode=mode),
                )


@pytest.mark.parametrize(
    ("question_id", "answer", "verdict"),
    [
        ("sequential-extraction", "tensor([[4., 4.],\n        [4., 4.]])", "accepted"),
        ("sequential-extraction", "[[4, 4], [4, 4]]", "accepted"),
        ("sequential-extraction", "tensor([[18., 18.], [18., 18.]])", "wrong_answer"),
        ("lazy-linear-shapes", "torch.Size([8, 20]) torch.Size([3, 8])", "accepted"),
        ("plain-list-param-count", "262", "accepted"),
        ("plain-list-param-count", "1522", "wrong_answer"),
        ("net-defects", "view, fc1, bn2", "accepted"),
        ("net-defects", "bn2 fc1", "wrong_answer"),
        ("feed-forward-container", "sequential", "accepted"),
        ("feed-forward-container", "list", "wrong_answer"),
    ],
)
def test_choice_and_predict_answers_are_judged_alike(graders, question_id: str, answer: str, verdict: str) -> None:
    source_grader, student_grader, student, _ = graders
    source_result = source_grader.grade(SOURCE, SOURCE.question(question_id), answer)
    student_result = student_grader.grade(student, student.question(question_id), answer)
    assert source_result.verdict == student_result.verdict == verdict
    if verdict == "accepted":  # the right answer opens the sealed explanation
        assert student_result.revealed["explanation"] == SOURCE.question(question_id).explanation
    else:
        assert student_result.revealed == {}


def test_build_from_the_command_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "student.yaml"
    assert main(["build", "torch-modules", "--student", "-o", str(out)]) == 0
    assert "no solutions" in capsys.readouterr().out
    assert check_pack_text(out.read_text(), str(out)).pack is not None
    assert main(["build", str(out), "--student", "-o", str(tmp_path / "again.yaml")]) == 2
    assert "already a student build" in capsys.readouterr().err
