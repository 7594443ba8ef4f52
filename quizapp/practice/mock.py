"""Timed mock interviews: draw a set of questions, put a wall-clock deadline on them, end with a report.

Plain Python: no textual, no torch. The TUI drives a session; the store keeps it.

The clock. A session has a wall-clock `deadline` (UTC), fixed when it starts; the time left is always
`deadline - now`, never a counter that is decremented, so a session resumed after a crash, a closed terminal
or a reboot has exactly the time left it should (the interview clock kept running while the app was down).
Every method that looks at the clock takes an optional `now`; without it the session's `clock` is asked
(`datetime.now(UTC)` unless a test injects another).

Durability. Every operation that changes a session writes its whole state to the store before returning, in
one committed transaction; so after a `kill -9` `resume(store, session_id)` gives back every saved draft, hint
and submitted Result, and the same deadline.

Threads. A session's methods may be called from the TUI's UI thread and from worker threads (a grading worker
calling `submit`): each runs under the session's lock. `expire` and `finish` grade outside the lock, so a
slow code answer never blocks the UI.

Time per question is accounted from `enter`/`leave` events (and `submit`, which stops the question's clock).
Time after the deadline is not counted. If the app died while a question was open, `resume` counts that
question's time up to the session's last saved activity (the TUI saves drafts every few seconds), not up to
the restart.

Ending. A session finishes when every question has been submitted, when the learner hands in early
(`finish`), or once the deadline has passed (`expire`): unsubmitted answers are then graded exactly as they
stand (their saved draft, even an empty one). `ended_at` is saved before any grading starts, so answers stop
changing at once; should grading fail or the app die half-way, `expire` on the resumed session grades the rest.
Finishing saves the report (see report.py) and feeds every answer to spaced review (see review.py); both are
idempotent, so a crash between the steps is repaired by the next `active_session` or `resume`.

For the TUI:

    session = MockSession.start(store, config, catalogue.packs)     # or resume(store, id) / active_session(store)
    session.enter(i); session.save_draft(i, text); session.use_hint(i); session.leave(i)
    session.remaining(); session.editable(i)
    session.submit(i, grader.grade(pack, question, session.questions[i].draft, "submit", ticked))
    session.expire(grade)     # on every clock tick: does nothing until the deadline has passed
    report.load_report(store, session.id)   # once session.finished
"""

from __future__ import annotations

import functools
import random
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..grading.result import Result
from ..packs import model
from ..store import Store
from . import report, review
from .reference import reference_answer
from .scoring import Score, answer_points, total_percent

STATE_VERSION = 1
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
KINDS: tuple[str, ...] = model.QUESTION_KINDS

_T = TypeVar("_T")
Clock = Callable[[], datetime]
Grade = Callable[[str, str, str], Result]  # (pack_id, question_id, answer text) -> Result
QuestionRef = int | tuple[str, str]  # a position in the session, or (pack_id, question_id)


class MockError(Exception):
    """A mock interview cannot do what was asked; the message is fit to show the learner."""


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a session method under the session's lock: the TUI calls from its UI thread and from workers."""

    @functools.wraps(method)
    def locked(self: MockSession, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as local time, as `datetime.now()` gives it."""
    return moment.astimezone(UTC)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else _utc(moment).isoformat(timespec="microseconds")


# --- configuration and the draw ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MockConfig:
    """What a mock interview is made of.

    `total_seconds` fixes the interview's length; None gives it the sum of the drawn questions' `minutes`
    estimates. The same `seed` over the same packs draws the same questions (a fresh random seed is chosen
    when none is given, and kept in the session).
    """

    packs: tuple[str, ...]
    count: int
    kinds: tuple[str, ...] = KINDS
    difficulties: tuple[str, ...] = DIFFICULTIES
    total_seconds: float | None = None
    hints_allowed: bool = False
    seed: int = field(default_factory=lambda: secrets.randbits(31))
    hide_verdicts: bool = False  # as in a real interview: verdicts only in the report
    prefer_unsolved: bool = True  # questions not yet solved, or failed recently, are drawn more often

    def __post_init__(self) -> None:
        # Accept any iterable (a list from a form) but keep tuples, so the config stays hashable and frozen.
        for name in ("packs", "kinds", "difficulties"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(dict.fromkeys(value)))
        if not self.packs:
            raise MockError("choose at least one pack")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise MockError(f"the number of questions must be a whole number of at least 1, not {self.count!r}")
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise MockError(f"kinds must be some of {', '.join(KINDS)}; got {', '.join(self.kinds) or 'none'}")
        unknown = [level for level in self.difficulties if level not in DIFFICULTIES]
        if unknown or not self.difficulties:
            raise MockError(
                f"difficulties must be some of {', '.join(DIFFICULTIES)}; got {', '.join(self.difficulties) or 'none'}"
            )
        if self.total_seconds is not None and not self.total_seconds > 0:
            raise MockError(f"the time limit must be more than 0 seconds, not {self.total_seconds!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "packs": list(self.packs),
            "count": self.count,
            "kinds": list(self.kinds),
            "difficulties": list(self.difficulties),
            "total_seconds": self.total_seconds,
            "hints_allowed": self.hints_allowed,
            "seed": self.seed,
            "hide_verdicts": self.hide_verdicts,
            "prefer_unsolved": self.prefer_unsolved,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MockConfig:
        return cls(
            packs=tuple(data["packs"]),
            count=int(data["count"]),
            kinds=tuple(data["kinds"]),
            difficulties=tuple(data["difficulties"]),
            total_seconds=data.get("total_seconds"),
            hints_allowed=bool(data.get("hints_allowed", False)),
            seed=int(data["seed"]),
            hide_verdicts=bool(data.get("hide_verdicts", False)),
            prefer_unsolved=bool(data.get("prefer_unsolved", False)),  # sessions saved before it drew uniformly
        )


def candidates(config: MockConfig, catalogue_packs: Mapping[str, model.Pack]) -> list[tuple[str, str]]:
    """Every (pack_id, question_id) that the config's packs, kinds and difficulties allow, in pack order."""
    missing = [pack_id for pack_id in config.packs if pack_id not in catalogue_packs]
    if missing:
        known = ", ".join(catalogue_packs) or "none"
        raise MockError(f"no pack {', '.join(repr(p) for p in missing)} (known packs: {known})")
    return [
        (pack_id, question.id)
        for pack_id in config.packs
        for question in catalogue_packs[pack_id].questions
        if question.kind in config.kinds and question.difficulty in config.difficulties
    ]


UNSOLVED_WEIGHT = 4.0  # a question not yet solved, or failed in the last FAILED_RECENTLY, is this much likelier
FAILED_RECENTLY = timedelta(days=7)


def draw_weights(
    store: Store, pool: list[tuple[str, str]], now: datetime | None = None
) -> dict[tuple[str, str], float]:
    """How likely each question is to be drawn: UNSOLVED_WEIGHT for one not yet solved or whose last Submit,
    within FAILED_RECENTLY, failed; 1 for the rest."""
    moment = _utc(now or utc_now())
    weights: dict[tuple[str, str], float] = {}
    statuses: dict[str, dict[str, str]] = {}
    for pack_id, question_id in pool:
        if pack_id not in statuses:
            statuses[pack_id] = dict(store.statuses(pack_id))
        weight = 1.0
        if statuses[pack_id].get(question_id) != "solved":
            weight = UNSOLVED_WEIGHT
        else:
            submits = [a for a in store.attempts(pack_id, question_id, limit=20) if a.mode == "submit"]
            if submits and not submits[0].solves and moment - _utc(submits[0].created_at) < FAILED_RECENTLY:
                weight = UNSOLVED_WEIGHT
        weights[(pack_id, question_id)] = weight
    return weights


def draw(
    config: MockConfig,
    catalogue_packs: Mapping[str, model.Pack],
    weights: Mapping[tuple[str, str], float] | None = None,
) -> list[tuple[str, str]]:
    """`config.count` distinct questions drawn at random with `random.Random(config.seed)`, each with the
    probability its weight gives (all equal without `weights`).

    The same seed over the same packs and weights always draws the same questions in the same order. Raises
    MockError saying how many questions match when fewer than `count` do.
    """
    pool = candidates(config, catalogue_packs)
    if len(pool) < config.count:
        raise MockError(
            f"only {len(pool)} question(s) match (packs {', '.join(config.packs)}; kinds {', '.join(config.kinds)}; "
            f"difficulties {', '.join(config.difficulties)}), but {config.count} were asked for"
        )
    chooser = random.Random(config.seed)
    if not weights or len({weights.get(key, 1.0) for key in pool}) <= 1:
        return chooser.sample(pool, config.count)
    # Weighted sampling without replacement (Efraimidis and Spirakis): the largest u ** (1 / weight) win.
    keyed = sorted(pool, key=lambda key: chooser.random() ** (1.0 / max(weights.get(key, 1.0), 1e-9)), reverse=True)
    return keyed[: config.count]


# --- per-question state -----------------------------------------------------------------------------------


@dataclass
class MockQuestion:
    """One question of a session: what was known of it at the start, and the learner's work on it.

    The question's facts (kind, title, minutes, the checks' points...) are copied in when the session starts,
    so scoring and the report do not depend on the pack staying as it was.
    """

    pack_id: str
    question_id: str
    kind: str
    title: str
    difficulty: str
    minutes: float
    hints_available: int
    check_points: dict[str, float] = field(default_factory=dict)  # code and fix: check id -> points
    worth: float = 1.0  # the question's `points` in the pack: its weight in the score
    draft: str = ""  # the answer as it stands; code and fix questions start with their starter
    submitted: bool = False
    answer: str | None = None  # the text that was graded
    result: dict[str, Any] | None = None  # the Result's to_json() when submitted
    submitted_at: datetime | None = None
    auto_submitted: bool = False  # handed in by the session's end, not by the learner
    seconds: float = 0.0  # time spent on it, closed intervals only (see MockSession.time_spent)
    hints_used: int = 0
    reference: str = ""  # the reference answer as text, for the report

    @property
    def key(self) -> tuple[str, str]:
        return (self.pack_id, self.question_id)

    @property
    def share(self) -> float:
        """The share of the question's points the submitted answer earns (0..1); 0 before it is submitted."""
        return answer_points(self.kind, self.result, self.check_points) if self.submitted else 0.0

    @property
    def points(self) -> float:
        """The points the submitted answer earns (0..worth)."""
        return self.share * self.worth

    @property
    def verdict(self) -> str | None:
        return None if self.result is None else self.result.get("verdict")

    def to_json(self) -> dict[str, Any]:
        return {
            "pack_id": self.pack_id,
            "question_id": self.question_id,
            "kind": self.kind,
            "title": self.title,
            "difficulty": self.difficulty,
            "minutes": self.minutes,
            "hints_available": self.hints_available,
            "check_points": self.check_points,
            "worth": self.worth,
            "draft": self.draft,
            "submitted": self.submitted,
            "answer": self.answer,
            "result": self.result,
            "submitted_at": _text(self.submitted_at),
            "auto_submitted": self.auto_submitted,
            "seconds": self.seconds,
            "hints_used": self.hints_used,
            "reference": self.reference,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MockQuestion:
        return cls(
            pack_id=data["pack_id"],
            question_id=data["question_id"],
            kind=data["kind"],
            title=data["title"],
            difficulty=data["difficulty"],
            minutes=float(data["minutes"]),
            hints_available=int(data["hints_available"]),
            check_points={k: float(v) for k, v in data.get("check_points", {}).items()},
            worth=float(data.get("worth", 1.0)),  # sessions saved before questions had points: 1 each
            draft=data.get("draft", ""),
            submitted=bool(data.get("submitted", False)),
            answer=data.get("answer"),
            result=data.get("result"),
            submitted_at=_time(data.get("submitted_at")),
            auto_submitted=bool(data.get("auto_submitted", False)),
            seconds=float(data.get("seconds", 0.0)),
            hints_used=int(data.get("hints_used", 0)),
            reference=str(data.get("reference", "")),
        )

    @classmethod
    def from_question(cls, pack_id: str, question: model.AnyQuestion) -> MockQuestion:
        check_points: dict[str, float] = {}
        starter = ""
        if isinstance(question, model.CodeBase):
            check_points = {check.id: float(check.points) for check in question.checks}
            starter = question.starter
        return cls(
            pack_id=pack_id,
            question_id=question.id,
            kind=question.kind,
            title=question.title,
            difficulty=question.difficulty,
            minutes=float(question.minutes),
            hints_available=len(question.hints),
            check_points=check_points,
            worth=float(question.points),
            draft=starter,
            reference=reference_answer(question),
        )


# --- the session --------------------------------------------------------------------------------------------


@dataclass
class MockSession:
    """A mock interview in progress or finished. Get one with `start`, `resume` or `active_session`."""

    store: Store = field(repr=False)
    id: str
    config: MockConfig
    questions: list[MockQuestion]
    started_at: datetime
    deadline: datetime
    ended_at: datetime | None = None  # when answers stopped changing: the deadline, or an early hand-in
    finished_at: datetime | None = None  # when every answer had been graded (set to ended_at's moment)
    current: int | None = None  # the question whose clock is running
    entered_at: datetime | None = None
    last_activity: datetime | None = None
    clock: Clock = field(default=utc_now, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # --- lifecycle ------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        store: Store,
        config: MockConfig,
        catalogue_packs: Mapping[str, model.Pack],
        *,
        clock: Clock = utc_now,
        now: datetime | None = None,
    ) -> MockSession:
        """Draw the questions, fix the deadline, and save the new session before returning it.

        Refused with MockError while another session is unfinished (resume it, or finish it first).
        """
        running = store.mock_sessions(finished=False, limit=1)
        if running:
            raise MockError(f"mock interview {running[0].id} is still running: resume or finish it first")
        weights = draw_weights(store, candidates(config, catalogue_packs)) if config.prefer_unsolved else None
        picked = draw(config, catalogue_packs, weights)
        questions = [MockQuestion.from_question(p, catalogue_packs[p].question(q)) for p, q in picked]
        started = _utc(now if now is not None else clock())
        total = config.total_seconds
        if total is None:
            total = 60.0 * sum(question.minutes for question in questions)
        session = cls(
            store=store,
            id=f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}",
            config=config,
            questions=questions,
            started_at=started,
            deadline=started + timedelta(seconds=total),
            last_activity=started,
            clock=clock,
        )
        session._save()
        return session

    @property
    def total_seconds(self) -> float:
        """The interview's length."""
        return (self.deadline - self.started_at).total_seconds()

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def now(self) -> datetime:
        return _utc(self.clock())

    def remaining(self, now: datetime | None = None) -> float:
        """Seconds left before the deadline (never below 0; 0 once the session has ended)."""
        if self.ended_at is not None or self.finished:
            return 0.0
        return max(0.0, (self.deadline - self._at(now)).total_seconds())

    def expired(self, now: datetime | None = None) -> bool:
        """Whether answers can no longer change: the deadline has passed, or the learner handed in early."""
        return self.ended_at is not None or self.finished or self._at(now) >= self.deadline

    def editable(self, question: QuestionRef, now: datetime | None = None) -> bool:
        """Whether the learner may still change the question's answer: not after it was submitted, nor once the
        deadline has passed or the session has finished."""
        item = self.question(question)
        return not (self.finished or item.submitted or self.expired(now))

    def question(self, question: QuestionRef) -> MockQuestion:
        """The session's question by position or by (pack_id, question_id)."""
        return self.questions[self._index(question)]

    @property
    def unsubmitted(self) -> list[int]:
        return [index for index, item in enumerate(self.questions) if not item.submitted]

    # --- time per question ----------------------------------------------------------------------------

    @_locked
    def enter(self, question: QuestionRef, now: datetime | None = None) -> None:
        """The learner opened a question: its clock runs until `leave`, `submit` or entering another."""
        index = self._index(question)
        moment = self._at(now)
        if self.finished or self.ended_at is not None or self.current == index:
            return
        self._close_interval(moment)
        if not self.questions[index].submitted:
            self.current, self.entered_at = index, moment
        self._touch(moment)

    @_locked
    def leave(self, question: QuestionRef | None = None, now: datetime | None = None) -> None:
        """The learner left a question (None: whichever is open): its time so far is added to it."""
        if question is not None and self.current != self._index(question):
            return
        if self.current is None:
            return
        moment = self._at(now)
        self._close_interval(moment)
        self._touch(moment)

    def time_spent(self, question: QuestionRef, now: datetime | None = None) -> float:
        """Seconds spent on a question, counting the open visit up to now (and never past the deadline)."""
        index = self._index(question)
        seconds = self.questions[index].seconds
        if self.current == index and self.entered_at is not None:
            seconds += self._interval(self.entered_at, self._at(now))
        return seconds

    # --- answering ------------------------------------------------------------------------------------

    @_locked
    def save_draft(self, question: QuestionRef, text: str, now: datetime | None = None) -> None:
        """Save the answer as it stands. Refused (MockError) once it is not editable; unchanged text writes
        nothing."""
        item = self.question(question)
        moment = self._at(now)
        self._require_editable(item, moment)
        if item.draft == text:
            return
        item.draft = text
        self._touch(moment)

    @_locked
    def use_hint(self, question: QuestionRef, now: datetime | None = None) -> int:
        """Reveal one more hint and return how many are revealed (show the question's first that many).

        Refused with MockError when the mock allows no hints, when the question has no more, or once it is not
        editable.
        """
        item = self.question(question)
        moment = self._at(now)
        if not self.config.hints_allowed:
            raise MockError("hints are not allowed in this mock interview")
        self._require_editable(item, moment)
        if item.hints_used >= item.hints_available:
            raise MockError(f"'{item.title}' has no more hints ({item.hints_available} in all)")
        item.hints_used += 1
        self._touch(moment)
        return item.hints_used

    @_locked
    def submit(
        self, question: QuestionRef, result: Result, answer: str | None = None, now: datetime | None = None
    ) -> None:
        """Record the graded answer; the question is then closed. Finishes the session when it was the last.

        `answer` is the text that was graded (default: the saved draft). Submitting twice, or after the
        session finished, is refused. Between the deadline and `expire` a submit is accepted only for the
        draft as it stood at the deadline (the grader may still have been running when time ran out).
        """
        index = self._index(question)
        item = self.questions[index]
        moment = self._at(now)
        if self.finished:
            raise MockError("this mock interview has finished")
        if item.submitted:
            raise MockError(f"'{item.title}' was already submitted")
        if answer is not None and answer != item.draft:
            if self.expired(moment):
                raise MockError("time is up: the answer can no longer change")
            item.draft = answer
        self._record(index, result, moment, auto=False)
        if not self.unsubmitted:
            self._finish(moment)
        else:
            self._touch(moment)

    def expire(self, grade: Grade, now: datetime | None = None) -> bool:
        """Once the deadline has passed: grade and submit every unsubmitted answer as it stands (its draft, even
        an empty one), finish the session and return True. Before the deadline (or when already finished) it
        does nothing and returns False, so the TUI can call it on every tick.

        `grade(pack_id, question_id, answer_text)` returns the Result. Each answer is saved as soon as it is
        graded; if grading raises, the exception propagates and the session stays unfinished (call again).
        """
        moment = self._at(now)
        if self.finished or not self.expired(moment):
            return False
        self._hand_in(grade, moment)
        return True

    def finish(self, grade: Grade, now: datetime | None = None) -> None:
        """The learner ends the interview early: answers stop changing at once, then every unsubmitted one is
        graded as it stands, as by `expire`."""
        if self.finished:
            return
        self._hand_in(grade, self._at(now))

    # --- scoring --------------------------------------------------------------------------------------

    def score(self) -> Score:
        return score(self)

    # --- persistence ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "id": self.id,
            "config": self.config.to_json(),
            "started_at": _text(self.started_at),
            "deadline": _text(self.deadline),
            "ended_at": _text(self.ended_at),
            "finished_at": _text(self.finished_at),
            "current": self.current,
            "entered_at": _text(self.entered_at),
            "last_activity": _text(self.last_activity),
            "questions": [item.to_json() for item in self.questions],
        }

    @classmethod
    def from_json(cls, store: Store, data: Mapping[str, Any], clock: Clock = utc_now) -> MockSession:
        if data.get("version") != STATE_VERSION:
            raise MockError(f"mock interview {data.get('id')} was saved by another version of quizapp")
        started = _time(data["started_at"])
        deadline = _time(data["deadline"])
        assert started is not None and deadline is not None
        return cls(
            store=store,
            id=data["id"],
            config=MockConfig.from_json(data["config"]),
            questions=[MockQuestion.from_json(item) for item in data["questions"]],
            started_at=started,
            deadline=deadline,
            ended_at=_time(data.get("ended_at")),
            finished_at=_time(data.get("finished_at")),
            current=data.get("current"),
            entered_at=_time(data.get("entered_at")),
            last_activity=_time(data.get("last_activity")),
            clock=clock,
        )

    def _save(self) -> None:
        self.store.save_mock_session(
            self.id,
            started_at=self.started_at,
            deadline=self.deadline,
            finished_at=self.finished_at,
            state=self.to_json(),
        )

    # --- internals ------------------------------------------------------------------------------------

    def _at(self, now: datetime | None) -> datetime:
        return _utc(now) if now is not None else self.now()

    def _index(self, question: QuestionRef) -> int:
        if isinstance(question, tuple | list):
            for index, item in enumerate(self.questions):
                if item.key == tuple(question):
                    return index
            raise MockError(f"{question[0]}/{question[1]} is not in this mock interview")
        if isinstance(question, bool) or not 0 <= question < len(self.questions):
            raise MockError(f"this mock interview has questions 0 to {len(self.questions) - 1}, not {question}")
        return question

    def _require_editable(self, item: MockQuestion, moment: datetime) -> None:
        if self.finished or self.expired(moment):
            raise MockError("time is up: answers can no longer change")
        if item.submitted:
            raise MockError(f"'{item.title}' was already submitted")

    def _interval(self, start: datetime, end: datetime) -> float:
        stop = self.deadline if self.ended_at is None else min(self.ended_at, self.deadline)
        return max(0.0, (min(end, stop) - start).total_seconds())

    def _close_interval(self, moment: datetime) -> None:
        if self.current is not None and self.entered_at is not None:
            self.questions[self.current].seconds += self._interval(self.entered_at, moment)
        self.current, self.entered_at = None, None

    def _touch(self, moment: datetime) -> None:
        """Note activity and save the whole state (one committed transaction)."""
        if self.last_activity is None or moment > self.last_activity:
            self.last_activity = moment
        self._save()

    def _record(self, index: int, result: Result, moment: datetime, *, auto: bool) -> None:
        item = self.questions[index]
        if self.current == index:
            self._close_interval(moment)
        item.submitted = True
        item.answer = item.draft
        item.result = result.to_json()
        item.submitted_at = moment
        item.auto_submitted = auto

    def _hand_in(self, grade: Grade, moment: datetime) -> None:
        """End the session (saved first, so no answer changes from here on, even across a crash), then grade
        each unsubmitted draft outside the lock (grading code takes seconds; the UI must not wait on it) and
        save each Result as it comes."""
        with self._lock:
            if self.finished:
                return
            if self.ended_at is None:
                # Past the deadline, the interview ended at the deadline, however late this runs.
                self.ended_at = min(moment, self.deadline)
                self._close_interval(self.ended_at)
                self._touch(moment)
            ended = self.ended_at
            pending = [(index, self.questions[index].draft) for index in self.unsubmitted]
        for index, text in pending:
            item = self.questions[index]
            result = grade(item.pack_id, item.question_id, text)
            with self._lock:
                if not item.submitted:
                    self._record(index, result, ended, auto=True)
                    self._touch(moment)  # each graded answer is kept at once: a crash loses no grading
        with self._lock:
            if not self.finished and not self.unsubmitted:
                self._finish(ended)

    def _finish(self, moment: datetime) -> None:
        moment = min(moment, self.deadline)
        if self.ended_at is None:
            self.ended_at = moment
        self._close_interval(moment)
        self.finished_at = self.ended_at
        self._touch(moment)
        settle(self)


def score(session: MockSession) -> Score:
    """Points earned per question (in the session's order), each question's worth, and the total percentage of
    the points available; see scoring.py."""
    points = tuple(item.points for item in session.questions)
    worth = tuple(item.worth for item in session.questions)
    return Score(points=points, percent=total_percent(points, worth), worth=worth)


# --- restarts -----------------------------------------------------------------------------------------------


def resume(store: Store, session_id: str, *, clock: Clock = utc_now) -> MockSession:
    """A saved session, as it was at its last saved change. Raises MockError for an unknown id.

    A question left open by a crash gets its time up to the session's last saved activity. A session past its
    deadline is not finished here (that needs grading): call `expire(grade)` next.
    """
    record = store.mock_session(session_id)
    if record is None:
        raise MockError(f"no mock interview {session_id!r}")
    session = MockSession.from_json(store, record.state, clock)
    if session.finished:
        settle(session)
    elif session.current is not None:
        session._close_interval(session.last_activity or session.started_at)
        session._save()
    return session


def active_session(store: Store, *, clock: Clock = utc_now) -> MockSession | None:
    """The unfinished session to resume after a restart, if there is one (the newest, should there be several).

    Also completes any finished session whose report or review outcomes a crash left unsaved.
    """
    for record in store.mock_sessions(finished=True, reviewed=False):
        settle(MockSession.from_json(store, record.state, clock))
    running = store.mock_sessions(finished=False, limit=1)
    return resume(store, running[0].id, clock=clock) if running else None


def settle(session: MockSession) -> None:
    """A finished session's follow-ups, each idempotent: its report is saved (once), and every answer counts
    once in spaced review. Then the session is marked reviewed."""
    if not session.finished:
        raise MockError("the mock interview has not finished")
    if session.store.mock_report(session.id) is None:
        report.save_report(session.store, report.build_report(session.store, session))
    review.record_mock(session.store, session)
    session.store.mark_mock_reviewed(session.id)
