"""Spaced review with FSRS: ratings from outcomes, cards kept in the store, what is due today."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import VALID_PACK
from fsrs import Card, Rating, State

from quizapp import cli
from quizapp.grading.result import Result
from quizapp.packs import check_pack_text
from quizapp.practice import MockConfig, MockSession, due, record_outcome
from quizapp.practice.review import card, end_of_day, rating_for
from quizapp.store import Store

PACK = "test-pack"
# Local noon, so that "today" is the same day in any time zone the tests run in.
NOON = datetime(2026, 3, 10, 12, 0).astimezone().astimezone(UTC)
PASS = Result("accepted")
FAIL = Result("wrong_answer")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "progress.sqlite3") as opened:
        yield opened


@pytest.mark.parametrize(
    ("result", "hints", "seconds", "first_try", "expected"),
    [
        (FAIL, 0, 10, True, Rating.Again),
        (Result("runtime_error"), 0, 10, True, Rating.Again),
        (Result("accepted", score=0.25), 0, 10, True, Rating.Again),  # an explain answer under half its rubric
        (PASS, 1, 200, True, Rating.Hard),  # hints
        (PASS, 0, 451, True, Rating.Hard),  # slow: over 1.5 x 5 minutes (450 s)
        (PASS, 0, 200, True, Rating.Good),
        (PASS, 0, 100, False, Rating.Good),  # fast, but not the first try
        (PASS, 1, 100, True, Rating.Hard),  # fast, but with a hint
        (PASS, 0, 100, True, Rating.Easy),  # under half of 5 minutes, first try, no hints
        (PASS, 0, None, True, Rating.Good),  # speed unknown
    ],
)
def test_the_rating_follows_from_the_outcome(
    result: Result, hints: int, seconds: float | None, first_try: bool, expected: Rating
) -> None:
    assert rating_for(result, hints_used=hints, seconds=seconds, first_try=first_try, minutes=5) == expected


def test_each_rating_is_applied_to_the_stored_card(store: Store) -> None:
    outcomes = {
        "again": (FAIL, 0, 200, True),
        "hard": (PASS, 2, 200, True),
        "good": (PASS, 0, 200, True),
        "easy": (PASS, 0, 60, True),
    }
    for question_id, (result, hints, seconds, first_try) in outcomes.items():
        record_outcome(store, PACK, question_id, result, hints, seconds, first_try, NOON, minutes=5)
    ratings = {q: store.review_log(PACK, q)[-1].rating for q in outcomes}
    assert ratings == {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}
    cards = {q: card(store, PACK, q) for q in outcomes}
    assert all(isinstance(c, Card) and c.last_review == NOON for c in cards.values())
    # FSRS's learning steps (1 and 10 minutes): Again soonest, then Hard, then Good; Easy graduates at once.
    assert cards["again"].due == NOON + timedelta(minutes=1)
    assert NOON + timedelta(minutes=1) < cards["hard"].due < cards["good"].due == NOON + timedelta(minutes=10)
    assert cards["easy"].state == State.Review and cards["easy"].due > NOON + timedelta(days=2)


def test_a_failed_question_is_due_today_and_an_easy_one_is_not(store: Store) -> None:
    record_outcome(store, PACK, "failed", FAIL, 0, 300, True, NOON, minutes=5)
    record_outcome(store, PACK, "easy", PASS, 0, 30, True, NOON, minutes=5)
    today = due(store, NOON)
    assert [(d.pack_id, d.question_id) for d in today] == [(PACK, "failed")]
    assert today[0].due <= end_of_day(NOON)
    assert due(store, NOON, until=NOON) == []  # not yet at this very moment: in a minute
    in_two_weeks = due(store, NOON + timedelta(days=14))
    assert {d.question_id for d in in_two_weeks} == {"failed", "easy"}


def test_due_lists_the_most_overdue_first(store: Store) -> None:
    record_outcome(store, PACK, "later", FAIL, 0, 60, True, NOON + timedelta(hours=1), minutes=5)
    record_outcome(store, PACK, "earlier", FAIL, 0, 60, True, NOON - timedelta(hours=1), minutes=5)
    record_outcome(store, PACK, "middle", PASS, 0, 200, True, NOON, minutes=5)  # Good: due in 10 minutes
    assert [d.question_id for d in due(store, NOON + timedelta(hours=2))] == ["earlier", "middle", "later"]


def test_cards_persist_as_fsrs_json_and_reviews_build_on_each_other(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    with Store(path) as store:
        record_outcome(store, PACK, "q", PASS, 0, 200, True, NOON, minutes=5)
    with Store(path) as store:
        stored = store.review_card(PACK, "q")
        assert stored is not None and stored.reviews == 1
        assert Card.from_dict(stored.card).to_dict() == stored.card  # the scheduler's own serialisation
        record_outcome(store, PACK, "q", PASS, 0, 200, True, NOON + timedelta(minutes=10), minutes=5)
        record_outcome(store, PACK, "q", PASS, 0, 200, True, NOON + timedelta(days=1), minutes=5)
        after = card(store, PACK, "q")
        assert after.state == State.Review and after.last_review == NOON + timedelta(days=1)
        assert after.due >= NOON + timedelta(days=3)  # graduated after the second Good, then pushed further
        assert [entry.rating for entry in store.review_log(PACK, "q")] == [Rating.Good] * 3
        assert store.review_card(PACK, "q").reviews == 3


def test_internal_errors_are_not_counted_and_a_source_counts_once(store: Store) -> None:
    assert record_outcome(store, PACK, "q", Result("internal_error"), 0, 10, True, NOON, minutes=5) is None
    assert store.review_card(PACK, "q") is None
    first = record_outcome(store, PACK, "q", FAIL, 0, 10, True, NOON, minutes=5, source="mock:x:q")
    again = record_outcome(store, PACK, "q", PASS, 0, 10, True, NOON, minutes=5, source="mock:x:q")
    assert first is not None and again is None
    assert [entry.source for entry in store.review_log(PACK, "q")] == ["mock:x:q"]


def test_a_finished_mock_feeds_review_once(store: Store) -> None:
    pack = check_pack_text(VALID_PACK, "test-pack.yaml").pack
    session = MockSession.start(
        store, MockConfig(packs=(PACK,), count=2, kinds=("choice", "predict"), seed=1), {PACK: pack}, now=NOON
    )
    session.enter((PACK, "pick-activation"), now=NOON)
    session.submit((PACK, "pick-activation"), Result("accepted", score=1.0), now=NOON + timedelta(seconds=20))
    session.submit((PACK, "predict-shape"), FAIL, now=NOON + timedelta(seconds=60))
    assert session.finished
    log = store.review_log(PACK, "pick-activation")
    assert [entry.rating for entry in log] == [Rating.Easy]  # 20 s of a 1-minute estimate, no hints
    assert [entry.rating for entry in store.review_log(PACK, "predict-shape")] == [Rating.Again]
    assert store.mock_session(session.id).reviewed_at is not None
    from quizapp.practice.mock import settle

    settle(session)  # settling again (as after a crash) counts nothing twice
    assert len(store.review_log(PACK, "pick-activation")) == 1
    assert [d.question_id for d in due(store, NOON + timedelta(minutes=5))] == ["predict-shape"]


def test_review_list_prints_what_is_due_today(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["review", "--list"]) == 0
    assert capsys.readouterr().out.strip() == "Nothing due today."
    now = datetime.now(UTC)
    with Store.open_default() as store:
        record_outcome(store, PACK, "failed-one", FAIL, 0, 60, True, now, minutes=5)
        record_outcome(store, PACK, "easy-one", PASS, 0, 10, True, now, minutes=5)
    assert cli.main(["review", "--list"]) == 0
    out = capsys.readouterr().out
    assert f"{PACK}/failed-one  due " in out
    assert "easy-one" not in out
