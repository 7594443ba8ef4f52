"""Mock interviews weight questions by their `points:` (default 1): the score, the report and its exports.

Real SQLite files; time injected; no judge: Results are made by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import VALID_PACK

from quizapp.grading.result import Result
from quizapp.packs import check_pack_text, model
from quizapp.practice import MockConfig, MockSession, resume, score
from quizapp.practice.mock import MockQuestion
from quizapp.practice.report import Report, build_report, render, screen_markdown
from quizapp.practice.scoring import total_percent
from quizapp.store import Store

PACK = "test-pack"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# The choice question is worth 3 points, the predict question keeps the default 1.
WEIGHTED = VALID_PACK.replace("    title: Pick an activation\n", "    title: Pick an activation\n    points: 3\n", 1)
assert WEIGHTED != VALID_PACK


def packs(text: str = WEIGHTED) -> dict[str, model.Pack]:
    result = check_pack_text(text, "test-pack.yaml")
    assert result.pack is not None, result.problems
    return {PACK: result.pack}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "progress.sqlite3") as opened:
        yield opened


def start(store: Store, text: str = WEIGHTED) -> MockSession:
    config = MockConfig(packs=(PACK,), count=2, kinds=("choice", "predict"), seed=7)
    return MockSession.start(store, config, packs(text), now=T0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_question_worth_three_points_counts_three_times_as_much(store: Store) -> None:
    session = start(store)
    assert {q.question_id: q.worth for q in session.questions} == {"pick-activation": 3.0, "predict-shape": 1.0}
    session.submit((PACK, "pick-activation"), Result("accepted"), now=at(10))
    session.submit((PACK, "predict-shape"), Result("wrong_answer"), now=at(20))
    result = score(session)
    by_id = dict(zip([q.question_id for q in session.questions], result.points, strict=True))
    assert by_id == {"pick-activation": 3.0, "predict-shape": 0.0}
    assert result.percent == pytest.approx(75.0)  # 3 of 4 points; unweighted it would be 50%
    assert dict(zip([q.question_id for q in session.questions], result.worth, strict=True)) == by_id | {
        "predict-shape": 1.0
    }


def test_partial_credit_is_a_share_of_the_questions_points(store: Store) -> None:
    session = start(store)
    session.submit((PACK, "pick-activation"), Result("wrong_answer", score=0.5), now=at(10))
    session.submit((PACK, "predict-shape"), Result("accepted"), now=at(20))
    item = session.question(next(i for i, q in enumerate(session.questions) if q.question_id == "pick-activation"))
    assert item.share == pytest.approx(0.5) and item.points == pytest.approx(1.5)
    assert score(session).percent == pytest.approx(100 * 2.5 / 4)


def test_without_points_every_question_is_worth_one(store: Store) -> None:
    session = start(store, VALID_PACK)
    session.submit((PACK, "pick-activation"), Result("accepted"), now=at(10))
    session.submit((PACK, "predict-shape"), Result("wrong_answer"), now=at(20))
    assert score(session).percent == pytest.approx(50.0)


def test_a_session_saved_before_points_existed_counts_one_each() -> None:
    data = MockQuestion(PACK, "q", "predict", "Q", "easy", 1.0, 0, worth=5.0).to_json()
    del data["worth"]
    assert MockQuestion.from_json(data).worth == 1.0


def test_the_weight_survives_a_restart(store: Store) -> None:
    session = start(store)
    again = resume(store, session.id)
    assert {q.question_id: q.worth for q in again.questions} == {"pick-activation": 3.0, "predict-shape": 1.0}


def test_the_report_weights_the_score_and_shows_what_each_question_was_worth(store: Store) -> None:
    session = start(store)
    session.submit((PACK, "pick-activation"), Result("wrong_answer", score=0.5), now=at(10))
    session.submit((PACK, "predict-shape"), Result("accepted"), now=at(20))
    report = build_report(store, session)
    lines = {line.question_id: line for line in report.questions}
    assert (lines["pick-activation"].points, lines["pick-activation"].worth) == (1.5, 3.0)
    assert report.percent == pytest.approx(62.5)
    markdown = render(report, "md")
    assert "## Score: 62.5%" in markdown
    assert "| 1.50/3 |" in markdown and "| 1.00/1 |" in markdown
    assert "1.50 of 3 points." in markdown and "1.00 of 1 point." in markdown
    assert "1.50/3" in screen_markdown(report)
    assert '<td class="num">1.50/3</td>' in render(report, "html")
    assert Report.from_json(report.to_json()) == report


def test_a_report_stored_before_points_existed_still_loads(store: Store) -> None:
    session = start(store)
    session.submit((PACK, "pick-activation"), Result("accepted"), now=at(10))
    session.submit((PACK, "predict-shape"), Result("accepted"), now=at(20))
    data = build_report(store, session).to_json()
    for line in data["questions"]:
        del line["worth"]
    assert all(line.worth == 1.0 for line in Report.from_json(data).questions)


def test_total_percent() -> None:
    assert total_percent([1.0, 0.0]) == 50.0
    assert total_percent([3.0, 0.0], [3.0, 1.0]) == 75.0
    assert total_percent([0.0], [0.0]) == 0.0  # nothing available: no division by zero
    assert total_percent([]) == 0.0
