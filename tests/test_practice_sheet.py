"""Answering one question, without a screen: the practice sheet (first try, review feeding, giving up, drafts
equal to the starter, review as recall) and the mock sheet (the lock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsrs import Rating

from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as Check
from quizapp.packs import discover
from quizapp.practice import MockConfig, MockSession
from quizapp.practice.feedback import line_marks, near_miss, predict_feedback
from quizapp.practice.navigation import last_touched, next_question
from quizapp.practice.review import card
from quizapp.practice.sheet import MockSheet, PracticeSheet, SheetError, visible_only_pass
from quizapp.store import Store

FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"
PACKS = discover([FIXTURE], include_defaults=False).packs
PACK = PACKS["tui-fixture"]
CODE = PACK.question("resnet-residual-block")
CHOICE = PACK.question("feed-forward-container")
EXPLAIN = PACK.question("resnet-module-or-sequential")

ACCEPTED = Result("accepted", tests=[Check("outputs", "pass")])
WRONG = Result("wrong_answer", tests=[Check("outputs", "fail", "differs")])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "progress.sqlite") as opened:
        yield opened


def last_rating(store: Store, question_id: str) -> int:
    return store.review_log(PACK.id, question_id)[-1].rating


def test_a_draft_equal_to_the_starter_is_no_draft(store: Store) -> None:
    sheet = PracticeSheet(store, PACK, CODE)
    assert sheet.draft == CODE.starter and not sheet.restored_draft
    assert sheet.save_draft(CODE.starter) is False
    assert store.draft(PACK.id, CODE.id) is None
    assert sheet.save_draft(CODE.starter + "# mine\n")
    assert store.status(PACK.id, CODE.id) == "attempted"
    assert sheet.save_draft(CODE.starter)  # typed back to the starter: the draft goes
    assert store.draft(PACK.id, CODE.id) is None and store.status(PACK.id, CODE.id) == "new"
    sheet.save_draft("x = 1\n")
    again = PracticeSheet(store, PACK, CODE)
    assert again.draft == "x = 1\n" and again.restored_draft


def test_first_try_only_for_the_first_submit(store: Store) -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    sheet = PracticeSheet(store, PACK, CHOICE, now=now)
    sheet.record("submit", "modulelist", WRONG, now=now + timedelta(seconds=20))
    assert store.review_log(PACK.id, CHOICE.id)[-1].log["first_try"] is True
    assert last_rating(store, CHOICE.id) == Rating.Again
    outcome = sheet.record("submit", "sequential", ACCEPTED, now=now + timedelta(seconds=25))
    assert outcome.solved and outcome.rating == Rating.Good  # a pass, but not at the first try: never Easy
    assert store.review_log(PACK.id, CHOICE.id)[-1].log["first_try"] is False
    assert store.status(PACK.id, CHOICE.id) == "solved"


def test_a_run_is_recorded_but_feeds_no_review_and_never_solves(store: Store) -> None:
    sheet = PracticeSheet(store, PACK, CODE)
    run = Result("accepted", tests=[Check("outputs", "pass")], mode="run")
    outcome = sheet.record("run", "code", run)
    assert not outcome.solved and outcome.rating is None
    assert visible_only_pass(CODE, run)
    assert "Submit (ctrl+s) runs the 1 hidden check too" in outcome.note
    assert store.attempts(PACK.id, CODE.id)[0].mode == "run"
    assert store.status(PACK.id, CODE.id) == "attempted"
    assert store.review_card(PACK.id, CODE.id) is None


def test_giving_up_is_never_solved_and_rates_again_even_when_typed_in_afterwards(store: Store) -> None:
    sheet = PracticeSheet(store, PACK, CODE)
    assert sheet.solution_needs_confirmation()
    sheet.give_up()
    assert store.gave_up(PACK.id, CODE.id)
    assert last_rating(store, CODE.id) == Rating.Again
    outcome = sheet.record("submit", CODE.solution or "", ACCEPTED)
    assert not outcome.solved
    assert "not as solved" in outcome.note
    assert store.status(PACK.id, CODE.id) == "attempted"
    assert store.attempts(PACK.id, CODE.id)[0].gave_up
    # A later sitting: still not solved, and the card is rated Again again.
    later = PracticeSheet(store, PACK, CODE)
    assert later.gave_up and not later.solution_needs_confirmation()
    later_outcome = later.record("submit", CODE.solution or "", ACCEPTED)
    assert not later_outcome.solved and later_outcome.rating == Rating.Again
    assert last_rating(store, CODE.id) == Rating.Again
    assert store.status(PACK.id, CODE.id) == "attempted"


def test_after_a_pass_the_solution_is_no_giving_up(store: Store) -> None:
    sheet = PracticeSheet(store, PACK, CHOICE)
    sheet.record("submit", "sequential", ACCEPTED)
    assert not sheet.solution_needs_confirmation()
    sheet.give_up()
    assert not store.gave_up(PACK.id, CHOICE.id)
    assert store.status(PACK.id, CHOICE.id) == "solved"


def test_review_starts_fresh_and_its_rating_follows_the_outcome(store: Store) -> None:
    practice = PracticeSheet(store, PACK, CODE)
    practice.save_draft("old answer\n")
    practice.record("submit", "old answer\n", ACCEPTED)
    review = PracticeSheet(store, PACK, CODE, review=True)
    assert review.draft == CODE.starter, "no draft in a review"
    assert review.last_result() is None, "no old verdict in a review"
    assert not review.solution_visible(), "no solution until answered"
    assert review.solution_needs_confirmation()
    review.save_draft("typed in the review\n")
    outcome = review.record("submit", "wrong", WRONG)
    assert outcome.rating == Rating.Again and last_rating(store, CODE.id) == Rating.Again
    assert store.draft(PACK.id, CODE.id).text == "old answer\n", "the practice draft is left alone"


def test_a_passed_choice_review_takes_the_learners_own_rating(store: Store) -> None:
    review = PracticeSheet(store, PACK, CHOICE, review=True)
    outcome = review.record("submit", "sequential", ACCEPTED)
    assert outcome.awaiting_rating and review.awaiting_rating
    assert store.review_card(PACK.id, CHOICE.id) is None, "nothing recorded until rated or left"
    review.rate(Rating.Hard)
    assert last_rating(store, CHOICE.id) == Rating.Hard
    with pytest.raises(SheetError):
        review.rate(Rating.Easy)
    # Leaving without rating keeps the earned rating.
    again = PracticeSheet(store, PACK, EXPLAIN, review=True)
    earned = again.record("submit", "text", Result("accepted", score=1.0)).rating
    again.close()
    assert last_rating(store, EXPLAIN.id) == earned
    assert card(store, PACK.id, EXPLAIN.id) is not None


def test_a_failed_review_is_not_self_rated(store: Store) -> None:
    review = PracticeSheet(store, PACK, CHOICE, review=True)
    outcome = review.record("submit", "list", WRONG)
    assert not outcome.awaiting_rating
    assert last_rating(store, CHOICE.id) == Rating.Again


def test_a_failing_draft_save_is_reported(store: Store) -> None:
    sheet = PracticeSheet(store, PACK, CODE)
    store.close()
    with pytest.raises(SheetError, match="could not be saved"):
        sheet.save_draft("x = 1\n")


def test_the_mock_sheet_locks_after_hand_in(store: Store) -> None:
    config = MockConfig(packs=(PACK.id,), count=2, kinds=("choice",), seed=3)
    session = MockSession.start(store, config, PACKS)
    item = session.questions[0]
    sheet = MockSheet(session, 0, PACK.question(item.question_id))
    assert not sheet.locked and not sheet.allows_solution
    with pytest.raises(SheetError, match="No hints"):
        sheet.reveal_hint()
    sheet.save_draft('["a"]')
    assert session.question(0).draft == '["a"]'
    outcome = sheet.record("submit", '["a"]', WRONG)
    assert outcome.note == "Handed in."
    assert sheet.locked
    with pytest.raises(SheetError, match="handed in"):
        sheet.save_draft('["b"]')
    with pytest.raises(SheetError):
        sheet.record("submit", '["b"]', ACCEPTED)
    assert session.question(0).draft == '["a"]'


def test_a_mock_that_hides_verdicts_shows_none_until_the_report(store: Store) -> None:
    config = MockConfig(packs=(PACK.id,), count=1, kinds=("choice",), seed=3, hide_verdicts=True)
    session = MockSession.start(store, config, PACKS)
    sheet = MockSheet(session, 0, PACK.question(session.questions[0].question_id))
    sheet.record("submit", '["a"]', WRONG)
    assert sheet.last_result() is None
    assert not sheet.shows_verdicts


def test_mocks_favour_questions_not_yet_solved(store: Store) -> None:
    solved = [q.id for q in PACK.questions if q.kind == "choice"][:-1]
    for question_id in solved:
        store.record_attempt(
            PACK.id, question_id, kind="choice", mode="submit", answer="x", result=ACCEPTED, hints_used=0
        )
    unsolved = {q.id for q in PACK.questions if q.kind == "choice"} - set(solved)
    picked_unsolved = 0
    for seed in range(40):
        config = MockConfig(packs=(PACK.id,), count=1, kinds=("choice",), seed=seed)
        from quizapp.practice.mock import draw, draw_weights

        weights = draw_weights(store, [(PACK.id, q) for q in [*solved, *unsolved]])
        [(_, question_id)] = draw(config, PACKS, weights)
        picked_unsolved += question_id in unsolved
    # One unsolved question among several solved ones, weighted 4 to 1: drawn far more often than uniformly.
    uniform = 40 / (len(solved) + len(unsolved))
    assert picked_unsolved > 2 * uniform


def test_next_and_next_unsolved_and_continue(store: Store) -> None:
    order = [(PACK.id, q.id) for q in PACK.questions]
    assert next_question(store, PACKS, order[0], unsolved=False) == order[1]
    assert next_question(store, PACKS, order[-1], unsolved=False) == order[0]
    store.record_attempt(PACK.id, order[1][1], kind="choice", mode="submit", answer="x", result=ACCEPTED, hints_used=0)
    assert next_question(store, PACKS, order[0], unsolved=True) == order[2]
    assert last_touched(store, PACKS) == order[1]
    store.save_draft(PACK.id, order[5][1], "draft")
    assert last_touched(store, PACKS) == order[5]


def test_predict_feedback_marks_lines_and_names_near_misses() -> None:
    assert near_miss("(4, 2)", "(2, 4)") == "Near miss: the right sizes in reverse order: the shape is transposed."
    assert near_miss("torch.Size([3, 5])", "torch.Size([3, 8])") == "Near miss: 1 of 2 sizes are right."
    assert "transposed" in near_miss("tensor([[1., 3.], [2., 4.]])", "tensor([[1., 2.], [3., 4.]])")
    assert near_miss("tensor([1., 2., 9.])", "tensor([1., 2., 3.])") == (
        "Near miss: the shape is right and one value differs."
    )
    # nan printed where nan is printed is right: only the 0.8 differs (nan != nan as floats counted it wrong)
    typed = "tensor([nan, nan, nan])\ntensor([0.1, 0.2, 0.7])"
    printed = "tensor([nan, nan, nan])\ntensor([0.1, 0.2, 0.8])"
    assert near_miss(typed, printed) == "Near miss: the shape is right and one value differs."
    assert line_marks("10\n12", "10\n11") == [(True, "10"), (False, "12")]
    text = predict_feedback("10\n12", "10\n11")
    assert "1 of your 2 lines match" in text and "✓ 10" in text and "✗ 12" in text
    assert "11" not in text.replace("it has 2", ""), "the expected printout is not given away"
    assert predict_feedback("anything", None) == ""  # a student build: nothing known to compare
