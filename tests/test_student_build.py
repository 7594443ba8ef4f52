"""Student builds: nothing that gives an answer away, and every answer graded exactly as by the source pack."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from answers import RESNET_RIGHT, RESNET_WRONG
from conftest import VALID_QUESTION_IDS

from quizapp import locations
from quizapp.cli import main
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.proving import prove
from quizapp.grading.student import SEALED_EXPLANATION, student_yaml
from quizapp.packs import check_pack_text, load_pack, model

SOURCE = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")


class SubmitOnce:
    """The session's judge, asked each way of grading one answer once: a learner's job is the same whichever
    pack grades it (the reference's facts never enter the jail), and a run-mode job asks for the visible subset
    of the checks a submit-mode job of the same code already answered, so its outcome is that one's with the
    other checks' facts left out. What differs between a pack and its build, the reference facts (from the
    cache, or shipped in the build), is what these tests compare; each job still runs once in the jail."""

    def __init__(self, judged) -> None:
        self.judged = judged
        self.size = judged.size
        self.submitted: dict[tuple[str, str], list[tuple[set[str], object]]] = {}
        self.derived = 0

    def wait_warm(self, timeout=None) -> bool:
        return self.judged.wait_warm(timeout)

    def run(self, task, payload, limits):
        if task == "probe":
            asked = {json.dumps(spec, sort_keys=True) for spec in payload["checks"]}
            code = (payload["code"], payload["entry_point"])
            for answered, outcome in self.submitted.get(code, []):
                if asked < answered and outcome.status == "ok" and "checks" in outcome.facts:
                    self.derived += 1
                    ids = {spec["id"] for spec in payload["checks"]}
                    checks = {k: v for k, v in outcome.facts["checks"].items() if k in ids}
                    return dataclasses.replace(outcome, facts={**outcome.facts, "checks": checks})
        outcome = self.judged.run(task, payload, limits)
        if task == "probe":
            self.submitted.setdefault(code, []).append((asked, outcome))
        return outcome

    def submit(self, task, payload, limits):
        return self.judged.submit(task, payload, limits)


@pytest.fixture(scope="module")
def graders(judged, tmp_path_factory: pytest.TempPathFactory) -> tuple[Grader, Grader, model.Pack, str]:
    runner = SubmitOnce(judged)
    source_grader = Grader(runner, ReferenceCache(tmp_path_factory.mktemp("source-cache")))
    text = student_yaml(SOURCE, source_grader)
    loaded = check_pack_text(text, "student.yaml")
    assert loaded.problems == [], loaded.problems
    assert loaded.pack is not None
    # The student side has no cache and no way to run the reference: it must use the shipped facts.
    student_grader = Grader(runner, cache=None)
    return source_grader, student_grader, loaded.pack, text


@pytest.mark.jail
def test_the_shipped_reference_facts_are_the_sources(graders) -> None:
    source_grader, student_grader, student, _ = graders
    for question in SOURCE.questions:
        if not isinstance(question, model.CodeBase):
            continue
        source = source_grader.reference_facts(SOURCE, question)
        shipped = student_grader.reference_facts(student, student.question(question.id))
        assert shipped.checks == source.checks, question.id
        assert shipped.tensors.keys() == source.tensors.keys(), question.id
        for name, tensor in source.tensors.items():
            assert shipped.tensors[name] == tensor, name  # the same dtype, shape and bytes


@pytest.mark.jail
def test_sealed_texts_and_option_order_do_not_tell_options_apart(graders) -> None:
    *_, student, text = graders
    again = student_yaml(SOURCE, graders[0])
    assert again == text  # a build is reproducible: the same pack gives the same file
    moved = 0
    for question in SOURCE.questions:
        if not isinstance(question, model.ChoiceQuestion):
            continue
        built = student.question(question.id)
        assert isinstance(built, model.ChoiceQuestion)
        ids = [o.id for o in question.options]
        assert set(built.sealed) == {"explanation", *(f"feedback:{i}" for i in ids)}
        assert len({len(built.sealed[f"feedback:{i}"]) for i in ids}) == 1  # one size, with or without feedback
        assert sorted(o.id for o in built.options) == sorted(ids)
        moved += [o.id for o in built.options] != ids
    assert moved >= 2  # stored in a shuffled order, not the author's


@pytest.mark.jail
def test_a_right_choice_opens_every_feedback_the_author_wrote(graders) -> None:
    _, student_grader, student, _ = graders
    for question in SOURCE.questions:
        if not isinstance(question, model.ChoiceQuestion):
            continue
        result = student_grader.grade(student, student.question(question.id), " ".join(question.correct_ids))
        assert result.verdict == "accepted", question.id
        expected = {f"feedback:{o.id}": o.feedback for o in question.options if o.feedback}
        assert result.revealed == {"explanation": question.explanation, **expected}


@pytest.mark.jail
def test_validate_proves_a_student_build(graders, judged) -> None:
    """`quizapp validate` on a build: no solution to run (it used to crash), its shipped facts load, and every
    snippet prints an answer one of the hashes matches; a tampered hash is reported where it is."""
    source_grader, _, student, text = graders
    loaded = check_pack_text(text, "student.yaml")
    proof = prove(loaded, Grader(judged, cache=None), judged)
    snippets = sum(1 for q in SOURCE.questions if isinstance(q, model.PredictQuestion))
    assert (proof.problems, proof.references, proof.decoys, proof.snippets) == ([], 0, 0, snippets)

    built = student.question("plain-list-param-count")
    assert isinstance(built, model.PredictQuestion)
    tampered = text
    for index, digest in enumerate(built.answer_hashes):
        tampered = tampered.replace(digest, f"f{index:063x}")  # a hash of nothing
    first_code = next(q for q in student.questions if isinstance(q, model.CodeBase))
    facts = first_code.reference_facts  # the first in the file, so the first occurrence of its opening is its own
    assert facts is not None
    tampered = tampered.replace(facts[:40], "{not json" + facts[9:40], 1)
    broken = check_pack_text(tampered, "broken.yaml")
    assert broken.pack is not None, broken.problems
    problems = prove(broken, Grader(judged, cache=None), judged).problems
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {
        f"questions[{_index(q)}].{k}"
        for q, k in ((first_code.id, "reference_facts"), ("plain-list-param-count", "answer_hashes"))
    }, problems
    assert [p.severity for p in problems] == ["error", "error"]
    facts_problem = by_path[f"questions[{_index(first_code.id)}].reference_facts"]
    hash_problem = by_path[f"questions[{_index('plain-list-param-count')}].answer_hashes"]
    assert facts_problem.message.startswith("the reference facts shipped in this student build do not load: ")
    assert hash_problem.message == "the snippet prints an answer none of the hashes match"
    assert hash_problem.line == _line_of(tampered, "answer_hashes:", after="id: plain-list-param-count") + 1


def _index(question_id: str) -> int:
    return [q.id for q in SOURCE.questions].index(question_id)


def _line_of(text: str, needle: str, after: str) -> int:
    return text[: text.index(needle, text.index(after))].count("\n") + 1


@pytest.mark.jail
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


@pytest.mark.jail
def test_code_answers_are_graded_exactly_as_by_the_source(graders) -> None:
    source_grader, student_grader, student, _ = graders
    for question in SOURCE.questions:
        if not isinstance(question, model.CodeBase):
            continue
        proofs = [question.solution, *(d.code for d in question.decoys)]  # in both modes
        corpus = []  # in submit mode: run mode differs only by which checks are judged, shown by the proofs
        if question.id == "resnet-residual-block":
            corpus = [RESNET_RIGHT[s] for s in sorted(RESNET_RIGHT)] + [w[0] for w in RESNET_WRONG.values()]
        built = student.question(question.id)
        for answer, modes in [*((a, ("submit", "run")) for a in proofs), *((a, ("submit",)) for a in corpus)]:
            for mode in modes:
                _same(
                    student_grader.grade(student, built, answer, mode=mode),
                    source_grader.grade(SOURCE, question, answer, mode=mode),
                )
    assert source_grader.runner.derived > 0  # questions with hidden checks: run mode judged on the submit job's facts


@pytest.mark.jail
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
@pytest.mark.jail
def test_choice_and_predict_answers_are_judged_alike(graders, question_id: str, answer: str, verdict: str) -> None:
    source_grader, student_grader, student, _ = graders
    source_result = source_grader.grade(SOURCE, SOURCE.question(question_id), answer)
    student_result = student_grader.grade(student, student.question(question_id), answer)
    assert source_result.verdict == student_result.verdict == verdict
    if verdict == "accepted":  # the right answer opens the sealed explanation
        assert student_result.revealed["explanation"] == SOURCE.question(question_id).explanation
    else:
        assert student_result.revealed == {}


@pytest.mark.jail
def test_build_from_the_command_line(tmp_path: Path, capsys, valid_pack_file: Path, commands_on_session_pool) -> None:
    out = tmp_path / "student.yaml"
    assert main(["build", "test-pack", "--pack", str(valid_pack_file), "--student", "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (")
    built = check_pack_text(out.read_text(), str(out)).pack
    assert built is not None and built.build == "student"
    assert [q.id for q in built.questions] == VALID_QUESTION_IDS
    assert "return x * self.weight" not in out.read_text()  # the code question's solution
    assert main(["build", str(out), "--student", "-o", str(tmp_path / "again.yaml")]) == 2
    assert "already a student build" in capsys.readouterr().err


PREDICT_PACK = """\
format: 1
id: printouts
title: Printouts
version: "1.0"
description: One predict question.
authors: [Test]
licence: MIT
questions:
  - id: leaf
    kind: predict
    title: A leaf
    difficulty: easy
    minutes: 1
    prompt: What does it print?
    explanation: A leaf that requires grad, and float noise that prints near zero.
    snippet: |
      import torch
      print(torch.tensor([1.0, -2.9802e-08], requires_grad=True))
    answer: "tensor([ 1.0000e+00, -2.9802e-08], requires_grad=True)"
"""


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("tensor([ 1.0000e+00, -2.9802e-08], requires_grad=True)", "accepted"),
        ("tensor([1., 0.], requires_grad=True)", "accepted"),  # near zero: within the documented tolerance
        ("tensor([1.0000, -0.0000], requires_grad=True, dtype=torch.float32)", "accepted"),  # the default dtype
        ("tensor([1., 0.])", "wrong_answer"),  # requires_grad differs: another printout
        ("[1, 0]", "wrong_answer"),
        ("tensor([1., 0.], dtype=torch.float64, requires_grad=True)", "wrong_answer"),
        ("tensor([1., 0.], grad_fn=<AddBackward0>)", "wrong_answer"),
        ("tensor([1., 0.001], requires_grad=True)", "wrong_answer"),
        ("tensor([1.001, 0.], requires_grad=True)", "wrong_answer"),
    ],
)
def test_predict_answers_compare_the_same_in_a_pack_and_its_build(answer: str, verdict: str) -> None:
    source = check_pack_text(PREDICT_PACK, "printouts.yaml").pack
    assert source is not None
    built = check_pack_text(student_yaml(source, grader=None), "student.yaml").pack  # no code: no judge needed
    assert built is not None
    grader = Grader(None)
    assert grader.grade(source, source.question("leaf"), answer).verdict == verdict
    assert grader.grade(built, built.question("leaf"), answer).verdict == verdict


def test_an_accepted_spelling_lets_a_different_tag_through() -> None:
    text = PREDICT_PACK + '    accept: ["tensor([1., 0.])"]\n'
    source = check_pack_text(text, "printouts.yaml").pack
    assert source is not None
    built = check_pack_text(student_yaml(source, grader=None), "student.yaml").pack
    assert built is not None
    for pack in (source, built):
        assert Grader(None).grade(pack, pack.question("leaf"), "[1, 0]").passed
