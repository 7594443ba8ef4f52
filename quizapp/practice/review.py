"""Spaced review with FSRS (the `fsrs` package): every answered question is a card.

Plain Python: no textual, no torch. The store keeps each card as the scheduler's own JSON (`Card.to_dict()`,
read back with `Card.from_dict()`; never pickle) together with a log of every review.

The rating comes from the outcome of an answer (a passed choice or explain card in a review sitting may take the
learner's own rating instead, see practice/sheet.py; giving up rates Again):

- failed (not accepted; an explain answer scoring under half its rubric) -> Again
- passed, but with hints or slowly (more than 1.5x the question's `minutes` estimate) -> Hard
- passed fast (under half the estimate), at the first try and with no hints -> Easy
- any other pass -> Good

An answer that the judge could not grade (`internal_error`) is no evidence either way and is not recorded.

Both practice submits (the TUI calls `record_outcome`) and finished mock interviews (`record_mock`, called when
a session finishes) count. A mock's outcomes count once each, however often the session is settled again after
a crash: each is logged with a source key that the store refuses to log twice.

"Due today" means due before the end of the learner's local day: a question failed this morning (due again in
a minute, in FSRS's learning steps) is due today; one answered easily (due in days) is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from fsrs import Card, Rating, Scheduler

from ..grading.result import Result
from ..store import ReviewCardRecord, ReviewChange, Store

if TYPE_CHECKING:
    from .mock import MockSession

PASS_SCORE = 0.5  # an accepted answer with a score (explain: the rubric) passes at half marks or more
SLOW_FACTOR = 1.5  # more than 1.5x the estimate is slow
FAST_FACTOR = 0.5  # under half the estimate is fast

# FSRS's published default parameters, desired retention 0.9, learning steps of 1 and 10 minutes, and a little
# fuzz on long intervals so that questions learnt together do not all fall due on the same day.
SCHEDULER = Scheduler()


class DueCard(NamedTuple):
    pack_id: str
    question_id: str
    due: datetime  # UTC


def passed(result: Result | Mapping[str, Any]) -> bool:
    """Whether an answer counts as a pass for review: accepted, and (when it has a score) at least half marks."""
    verdict: str | None
    if isinstance(result, Result):
        verdict, score = result.verdict, result.score
    else:
        verdict, score = result.get("verdict"), result.get("score")
    return verdict == "accepted" and (score is None or score >= PASS_SCORE)


def rating_for(
    result: Result | Mapping[str, Any],
    *,
    hints_used: int,
    seconds: float | None,
    first_try: bool,
    minutes: float | None,
) -> Rating:
    """The FSRS rating an outcome earns (see the module's docstring). Without `seconds` or `minutes`, speed is
    unknown: a pass without hints is Good."""
    if not passed(result):
        return Rating.Again
    estimate = None if seconds is None or not minutes else minutes * 60.0
    slow = estimate is not None and seconds is not None and seconds > SLOW_FACTOR * estimate
    fast = estimate is not None and seconds is not None and seconds < FAST_FACTOR * estimate
    if hints_used > 0 or slow:
        return Rating.Hard
    if fast and first_try:
        return Rating.Easy
    return Rating.Good


def record_outcome(
    store: Store,
    pack_id: str,
    question_id: str,
    result: Result | Mapping[str, Any],
    hints_used: int,
    seconds: float | None,
    first_try: bool,
    now: datetime | None = None,
    *,
    minutes: float | None,
    source: str | None = None,
    rating: Rating | None = None,
) -> ReviewCardRecord | None:
    """Review a question's card with the rating its outcome earns, and save it (one transaction).

    `result` is the Result (or its `to_json()`); `hints_used` the hints revealed before answering; `seconds` the
    time spent on the question (None if unknown); `first_try` whether this was the learner's first Submit on it
    in this sitting; `minutes` the question's estimate. `source`, if given, makes the outcome count once (a
    second call with the same source changes nothing). `rating`, if given, replaces the rating the outcome earns
    (the learner's own rating of a passed card; Again after giving up). Returns the saved card, or None when
    nothing was recorded
    (an internal error, or a source already counted).
    """
    verdict = result.verdict if isinstance(result, Result) else result.get("verdict")
    if verdict == "internal_error":
        return None
    if rating is None:
        rating = rating_for(result, hints_used=hints_used, seconds=seconds, first_try=first_try, minutes=minutes)
    moment = (now or datetime.now(UTC)).astimezone(UTC)

    def change(stored: dict[str, Any] | None) -> ReviewChange:
        card = _new_card(moment) if stored is None else Card.from_dict(stored)  # type: ignore[arg-type]
        # A review must not precede the card's last one (a mock settled late, clocks that stepped back).
        when = max(moment, card.last_review) if card.last_review else moment
        duration = None if seconds is None else int(seconds * 1000)
        card, log = SCHEDULER.review_card(card, rating, review_datetime=when, review_duration=duration)
        return ReviewChange(
            card=dict(card.to_dict()),
            due=card.due,
            rating=int(rating),
            reviewed_at=when,
            log={**log.to_dict(), "hints_used": hints_used, "first_try": first_try, "verdict": verdict},
        )

    return store.update_review_card(pack_id, question_id, change, source=source)


def record_mock(store: Store, session: MockSession) -> int:
    """Feed a finished mock's submitted answers to review, each once; returns how many were newly recorded."""
    moment = session.finished_at or session.now()
    recorded = 0
    for item in session.questions:
        if not item.submitted or item.result is None:
            continue
        saved = record_outcome(
            store,
            item.pack_id,
            item.question_id,
            item.result,
            item.hints_used,
            item.seconds,
            True,  # a mock allows one submit per question
            moment,
            minutes=item.minutes,
            source=f"mock:{session.id}:{item.pack_id}/{item.question_id}",
        )
        recorded += saved is not None
    return recorded


def end_of_day(now: datetime) -> datetime:
    """The end of the learner's local calendar day containing `now`, in UTC."""
    local = now.astimezone()
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return midnight.astimezone(UTC)


def due(store: Store, now: datetime | None = None, *, until: datetime | None = None) -> list[DueCard]:
    """Questions due for review by `until` (default: the end of `now`'s local day), most overdue first."""
    moment = now or datetime.now(UTC)
    cutoff = until if until is not None else end_of_day(moment)
    return [DueCard(card.pack_id, card.question_id, card.due) for card in store.review_cards(due_by=cutoff)]


def card(store: Store, pack_id: str, question_id: str) -> Card | None:
    """A question's FSRS card, or None if it was never reviewed."""
    record = store.review_card(pack_id, question_id)
    return None if record is None else Card.from_dict(record.card)  # type: ignore[arg-type]


def _new_card(moment: datetime) -> Card:
    # An explicit id: Card() would otherwise derive one from the clock and sleep a millisecond to keep it unique.
    return Card(card_id=int(moment.timestamp() * 1000), due=moment)
