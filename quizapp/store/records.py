"""The records the progress store returns (drafts, attempts, mock sessions and reports, review cards and their log),
and how a row becomes one. Apart from progress.py: the app's first frame reads only statuses and progress
counts, and does not wait for these classes to be made (a frozen dataclass costs about a millisecond to define).
`quizapp.store` exports them as before.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Draft:
    """The learner's current text for a question and when it was last changed (UTC)."""

    text: str
    updated_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One Run or Submit, as recorded. `result_json` is the Result's `to_json()`, exactly as it was then."""

    id: int
    pack_id: str
    question_id: str
    kind: str
    mode: str  # 'run' | 'submit'
    verdict: str
    status: str  # 'pass' | 'fail' | 'error'
    score: float | None
    duration_ms: float  # how long grading took (the Result's duration_ms)
    hints_used: int  # hints revealed on the question when the attempt was made
    answer: str
    created_at: datetime
    started_at: datetime | None  # when the learner opened the question, if the front end said
    gave_up: bool  # made after the solution was shown
    result_json: dict[str, Any] = field(repr=False)

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    @property
    def solves(self) -> bool:
        """Whether this attempt marks the question solved: an accepted Submit made before the solution was shown
        (an accepted Run does not, nor an answer typed in after giving up)."""
        return self.mode == "submit" and self.verdict == "accepted" and not self.gave_up

    @property
    def elapsed(self) -> timedelta | None:
        """Time from opening the question to this attempt, when the opening time was recorded."""
        if self.started_at is None:
            return None
        return self.created_at - self.started_at


@dataclass(frozen=True)
class MockSessionRecord:
    """A mock session's row: its state is practice/'s JSON, the rest is for queries."""

    id: str
    started_at: datetime
    deadline: datetime
    finished_at: datetime | None
    reviewed_at: datetime | None
    updated_at: datetime
    state: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class MockReportRecord:
    id: str
    session_id: str
    finished_at: datetime
    score: float  # percent
    created_at: datetime
    report: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ReviewCardRecord:
    pack_id: str
    question_id: str
    card: dict[str, Any]  # the scheduler's own serialisation of the card
    due: datetime
    reviews: int


@dataclass(frozen=True)
class ReviewChange:
    """What `update_review_card`'s callback returns: the new card, when it is due, and the review's log entry."""

    card: dict[str, Any]
    due: datetime
    rating: int
    reviewed_at: datetime
    log: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewLogEntry:
    rating: int
    reviewed_at: datetime
    source: str | None
    log: dict[str, Any]


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def attempt_from_row(row: sqlite3.Row) -> Attempt:
    return Attempt(
        id=row["id"],
        pack_id=row["pack_id"],
        question_id=row["question_id"],
        kind=row["kind"],
        mode=row["mode"],
        verdict=row["verdict"],
        status=row["status"],
        score=row["score"],
        duration_ms=row["duration_ms"],
        hints_used=row["hints_used"],
        answer=row["answer"],
        created_at=datetime.fromisoformat(row["created_at"]),
        started_at=_parse_time(row["started_at"]),
        gave_up=bool(row["gave_up"]),
        result_json=json.loads(row["result_json"]),
    )


def mock_session_from_row(row: sqlite3.Row) -> MockSessionRecord:
    return MockSessionRecord(
        id=row["id"],
        started_at=datetime.fromisoformat(row["started_at"]),
        deadline=datetime.fromisoformat(row["deadline"]),
        finished_at=_parse_time(row["finished_at"]),
        reviewed_at=_parse_time(row["reviewed_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        state=json.loads(row["state_json"]),
    )


def mock_report_from_row(row: sqlite3.Row) -> MockReportRecord:
    return MockReportRecord(
        id=row["id"],
        session_id=row["session_id"],
        finished_at=datetime.fromisoformat(row["finished_at"]),
        score=float(row["score"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        report=json.loads(row["report_json"]),
    )


def review_card_from_row(row: sqlite3.Row) -> ReviewCardRecord:
    return ReviewCardRecord(
        pack_id=row["pack_id"],
        question_id=row["question_id"],
        card=json.loads(row["card_json"]),
        due=datetime.fromisoformat(row["due"]),
        reviews=int(row["reviews"]),
    )
