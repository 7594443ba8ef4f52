"""Answering one question: a practice sheet and a mock sheet, the same interface for the question screen.

A sheet owns the bookkeeping of one sitting on one question: which draft to start from, hints, giving up, what
an outcome records (the attempt, the first try, the review card) and what may still change. The screen only
shows what a sheet says. Plain Python: no textual, no torch.

Practice rules:

- A draft equal to the starter is no draft (opening and leaving a question leaves it new).
- The first Submit of a question ever is its first try; a review sitting is a first try of its own (recall).
- Giving up (the solution shown before a pass) is never solved: attempts made afterwards are recorded as made
  after giving up, and the review card is rated Again whatever they score.
- A review sitting starts fresh: no draft, no earlier verdict, no solution until the question is answered; what
  is typed in it does not replace the practice draft.
  Its rating follows the outcome; a passed choice or explain card may instead take the learner's own rating
  (Again, Hard, Good, Easy), as Anki lets one do. If the learner leaves without rating, the outcome's rating is
  kept.
- Run grades only the visible checks: an accepted Run says so and never counts as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsrs import Rating

from ..grading.result import Result
from ..packs import model
from ..store import Store
from .mock import MockError, MockSession
from .review import passed, rating_for, record_outcome

SELF_RATED_KINDS = ("choice", "explain")


def starter_text(question: model.AnyQuestion) -> str:
    """The text an answer starts from: the starter for code, an empty selection ("[]") for choice, else ''."""
    if isinstance(question, model.CodeBase):
        return question.starter
    if isinstance(question, model.ChoiceQuestion):
        return "[]"
    return ""


def hidden_checks(question: model.AnyQuestion) -> int:
    """How many of a code question's checks only Submit runs."""
    if isinstance(question, model.CodeBase):
        return sum(1 for check in question.checks if not check.visible)
    return 0


def visible_only_pass(question: model.AnyQuestion, result: Result) -> bool:
    """An accepted Run while hidden checks remain unrun: the visible checks pass, nothing more is known."""
    return result.mode == "run" and result.passed and hidden_checks(question) > 0


@dataclass(frozen=True)
class Outcome:
    """What grading one answer changed, for the screen to show."""

    result: Result
    mode: str
    solved: bool = False  # this answer solved the question (a Submit passed, not after giving up)
    rating: Rating | None = None  # the review rating recorded, if any
    awaiting_rating: bool = False  # a passed review card of a self-rated kind: the learner may rate it
    note: str = ""  # one sentence on what the verdict means here


class SheetError(Exception):
    """A change the sheet refuses (a locked mock answer, a store that cannot save): the message says why."""


class PracticeSheet:
    """One practice (or review) sitting on one question."""

    locked = False
    allows_solution = True
    allows_history = True
    shows_verdicts = True

    def __init__(
        self,
        store: Store,
        pack: model.Pack,
        question: model.AnyQuestion,
        *,
        review: bool = False,
        now: datetime | None = None,
    ) -> None:
        self.store = store
        self.pack = pack
        self.question = question
        self.review = review
        self.started_at = (now or datetime.now(UTC)).astimezone(UTC)
        self.answered = False  # something was submitted in this sitting
        self.gave_up_here = False
        self._pending: tuple[Result, int, float] | None = None  # a review outcome the learner may still rate
        self._last_passed = False
        self._saved = self._initial_draft()

    # --- what the sheet starts from -------------------------------------------------------------------

    @property
    def key(self) -> tuple[str, str]:
        return self.pack.id, self.question.id

    @property
    def starter(self) -> str:
        return starter_text(self.question)

    def _initial_draft(self) -> str:
        if self.review:
            return self.starter
        draft = self.store.draft(*self.key)
        return draft.text if draft is not None else self.starter

    @property
    def draft(self) -> str:
        """The text the answer widget starts with."""
        return self._saved

    @property
    def restored_draft(self) -> bool:
        return self._saved != self.starter

    def opening_state(self) -> tuple[object, ...]:
        """What, read from the store now, shapes the screen this sheet opens with: the draft, the hints shown, the
        last graded answer, solved and given up. A screen built ahead of time (while the learner was on the list) is
        shown only if this has not changed since it was built."""
        last = [] if self.review else self.store.attempts(*self.key, limit=1)
        return (
            self._initial_draft(),
            self.hints_shown(),
            last[0].result_json if last else None,
            self.solved,
            self.gave_up,
        )

    def begin(self, now: datetime | None = None) -> None:
        """The learner starts now (a sheet made ahead of time: its time to answer counts from when it is shown)."""
        self.started_at = (now or datetime.now(UTC)).astimezone(UTC)

    def last_result(self) -> Result | None:
        """The last graded answer to show on opening: none in a review sitting (recall starts blank)."""
        if self.review:
            return None
        last = self.store.attempts(*self.key, limit=1)
        return Result.from_json(last[0].result_json) if last else None

    @property
    def solved(self) -> bool:
        return self.store.status(*self.key) == "solved"

    @property
    def gave_up(self) -> bool:
        """Whether the solution was shown before a pass (in a review sitting: in this sitting)."""
        return self.gave_up_here if self.review else self.store.gave_up(*self.key)

    def solution_visible(self) -> bool:
        """Whether the solution is shown on opening: after a pass or after giving up, never in a fresh review."""
        if self.review:
            return self.gave_up_here or (self.answered and self._last_passed)
        return self.solved or self.gave_up

    # --- changes ----------------------------------------------------------------------------------------

    def save_draft(self, text: str) -> bool:
        """Save the text if it changed; True if something was written. Raises SheetError when it cannot be."""
        if text == self._saved:
            return False
        if self.review:  # recall is answered from scratch: the practice draft is left as it was
            self._saved = text
            return True
        try:
            self.store.save_draft(*self.key, text, starter=self.starter)
        except Exception as error:  # StoreError: the disk is full, the file went read-only...
            raise SheetError(f"Your draft could not be saved: {error}") from error
        self._saved = text
        return True

    def reset(self) -> str:
        """Back to the starter: the draft is cleared. Returns the starter."""
        self.store.clear_draft(*self.key)
        self._saved = self.starter
        return self.starter

    def hints_shown(self) -> int:
        return self.store.hints_revealed(*self.key)

    def reveal_hint(self) -> int:
        """Reveal the next hint; returns how many are shown. Raises SheetError when there is none left."""
        total = len(self.question.hints)
        if self.hints_shown() >= total:
            raise SheetError("No more hints." if total else "This question has no hints.")
        return self.store.reveal_hint(*self.key)

    def solution_needs_confirmation(self) -> bool:
        """Showing the solution before a pass gives the question up: the learner is asked first."""
        if self.review:
            return not (self.answered and self._last_passed) and not self.gave_up_here
        return not self.solved and not self.gave_up

    def give_up(self) -> None:
        """The solution is shown before a pass: recorded, and the review card is rated Again."""
        if self.solution_needs_confirmation():
            self.store.give_up(*self.key)
            self.gave_up_here = True
            self._pending = None
            seconds = (datetime.now(UTC) - self.started_at).total_seconds()
            self._feed_review(Result("wrong_answer", message="gave up"), self.hints_shown(), seconds, Rating.Again)

    def record(self, mode: str, answer: str, result: Result, now: datetime | None = None) -> Outcome:
        """Record a graded Run or Submit and feed review; returns what it changed."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        hints = self.hints_shown()
        gave_up = self.gave_up
        first_try = self.review or not any(a.mode == "submit" for a in self.store.attempts(*self.key, limit=None))
        self.store.record_attempt(
            *self.key,
            kind=self.question.kind,
            mode=mode,
            answer=answer,
            result=result,
            hints_used=hints,
            started_at=self.started_at,
            gave_up=gave_up,
        )
        if mode != "submit":
            note = ""
            if visible_only_pass(self.question, result):
                hidden = hidden_checks(self.question)
                note = (
                    f"The visible checks pass; Submit (ctrl+s) runs the {hidden} hidden "
                    f"check{'' if hidden == 1 else 's'} too."
                )
            return Outcome(result, mode, note=note)
        self.answered = True
        self._last_passed = passed(result)
        seconds = (moment - self.started_at).total_seconds()
        solved = result.passed and not gave_up
        if gave_up:
            rating = Rating.Again
            note = "Recorded, but not as solved: the solution was shown first."
        else:
            rating = rating_for(
                result, hints_used=hints, seconds=seconds, first_try=first_try, minutes=self.question.minutes
            )
            note = ""
        if self.review and self.question.kind in SELF_RATED_KINDS and self._last_passed and not gave_up:
            self._pending = (result, hints, seconds)
            return Outcome(result, mode, solved=solved, rating=rating, awaiting_rating=True, note=note)
        if not self.gave_up_here:  # giving up in this sitting already rated the card Again
            self._feed_review(result, hints, seconds, rating, first_try=first_try)
        return Outcome(result, mode, solved=solved, rating=rating, note=note)

    def rate(self, rating: Rating) -> None:
        """The learner's own rating of a passed review card (choice, explain)."""
        if self._pending is None:
            raise SheetError("Nothing to rate: answer the question first.")
        result, hints, seconds = self._pending
        self._pending = None
        self._feed_review(result, hints, seconds, rating)

    def close(self) -> None:
        """Leaving the sheet: a pending review outcome is recorded with the rating it earned."""
        if self._pending is not None:
            result, hints, seconds = self._pending
            self._pending = None
            self._feed_review(result, hints, seconds, None)

    @property
    def awaiting_rating(self) -> bool:
        return self._pending is not None

    def _feed_review(
        self, result: Result, hints: int, seconds: float, rating: Rating | None, *, first_try: bool = True
    ) -> None:
        record_outcome(
            self.store,
            *self.key,
            result,
            hints_used=hints,
            seconds=seconds,
            first_try=first_try,
            minutes=self.question.minutes,
            rating=rating,
        )


class MockSheet:
    """One question of a mock interview: drafts and hints go to the session; one Submit hands it in."""

    allows_solution = False
    allows_history = False
    review = False
    awaiting_rating = False

    def __init__(self, session: MockSession, index: int, question: model.AnyQuestion) -> None:
        self.session = session
        self.index = index
        self.question = question
        self._saved = session.question(index).draft

    @property
    def item(self) -> Any:
        return self.session.question(self.index)

    @property
    def shows_verdicts(self) -> bool:
        return not self.session.config.hide_verdicts

    @property
    def starter(self) -> str:
        return starter_text(self.question)

    @property
    def draft(self) -> str:
        return self._saved

    @property
    def restored_draft(self) -> bool:
        return self._saved != self.starter

    @property
    def locked(self) -> bool:
        """No change after the hand-in or the deadline."""
        return not self.session.editable(self.index)

    def lock_reason(self) -> str:
        return "This answer is handed in." if self.item.submitted else "Time is up."

    def last_result(self) -> Result | None:
        if self.item.result is None:
            return None
        result = Result.from_json(self.item.result)
        return result if self.shows_verdicts else None

    def solution_visible(self) -> bool:
        return False

    def save_draft(self, text: str) -> bool:
        if text == self._saved:
            return False
        if self.locked:
            raise SheetError(self.lock_reason())
        try:
            self.session.save_draft(self.index, text)
        except MockError as error:  # the deadline passed between the check and the save
            raise SheetError(str(error)) from error
        except Exception as error:
            raise SheetError(f"Your draft could not be saved: {error}") from error
        self._saved = text
        return True

    def reset(self) -> str:
        self.save_draft(self.starter)
        return self.starter

    def hints_shown(self) -> int:
        return int(self.item.hints_used)

    def reveal_hint(self) -> int:
        total = len(self.question.hints)
        if not self.session.config.hints_allowed:
            raise SheetError("No hints in this mock interview.")
        if self.hints_shown() >= total:
            raise SheetError("No more hints." if total else "This question has no hints.")
        return self.session.use_hint(self.index)

    def record(self, mode: str, answer: str, result: Result, now: datetime | None = None) -> Outcome:
        """A Submit hands the answer in (`answer` as the widget holds it); a Run changes nothing."""
        if mode != "submit":
            note = ""
            if visible_only_pass(self.question, result):
                note = "The visible checks pass; Submit (ctrl+s) hands the answer in and runs the hidden ones."
            return Outcome(result, mode, note=note)
        if self.locked:
            raise SheetError(self.lock_reason())
        try:
            self.session.submit(self.index, result, answer=answer)
        except MockError as error:
            raise SheetError(str(error)) from error
        note = "Handed in." if self.shows_verdicts else "Handed in: the verdict comes with the report."
        return Outcome(result, mode, note=note)

    def close(self) -> None:
        self.session.leave(self.index)
