"""Mock interviews: the draw, the wall-clock deadline, time accounting, expiry, restarts and scoring.

Real SQLite files throughout; time is injected (`now=` or a clock), never slept on; no judge: Results are made
by hand, and `expire` gets a grade function that records what it was given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import VALID_PACK

from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as CheckResult  # not named Test*, so pytest does not collect it
from quizapp.packs import check_pack_text, model
from quizapp.practice import MockConfig, MockError, MockSession, active_session, draw, resume, score
from quizapp.practice.report import load_report
from quizapp.practice.scoring import answer_points
from quizapp.store import Store

REPO = Path(__file__).resolve().parent.parent
PACK = "test-pack"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# The code question's hidden gradients check is worth 4 points; its six other checks 1 each (10 in all).
POINTS_PACK = VALID_PACK.replace(
    "        kind: gradients\n        visible: false\n",
    "        kind: gradients\n        points: 4\n        visible: false\n",
)
assert POINTS_PACK != VALID_PACK


def load(text: str = POINTS_PACK) -> dict[str, model.Pack]:
    result = check_pack_text(text, "test-pack.yaml")
    assert result.pack is not None, result.problems
    return {PACK: result.pack}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Grades:
    """A grade function for `expire` that records what it was given."""

    def __init__(self, result: Result | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.result = result or Result("wrong_answer", message="graded as it stood")

    def __call__(self, pack_id: str, question_id: str, answer: str) -> Result:
        self.calls.append((pack_id, question_id, answer))
        return self.result


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "progress.sqlite3") as opened:
        yield opened


def config(**changes: object) -> MockConfig:
    settings: dict[str, object] = {"packs": (PACK,), "count": 3, "seed": 7}
    settings.update(changes)
    return MockConfig(**settings)  # type: ignore[arg-type]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def code_result(passed: set[str], checks: list[str]) -> Result:
    tests = [CheckResult(name=c, status="pass" if c in passed else "fail", check=c) for c in checks]
    return Result("accepted" if passed == set(checks) else "wrong_answer", tests=tests)


# --- the draw -------------------------------------------------------------------------------------------------


def test_the_draw_is_repeatable_for_a_seed_and_has_no_duplicates() -> None:
    packs = load()
    first = draw(config(count=5, seed=11), packs)
    assert first == draw(config(count=5, seed=11), packs)
    assert len(set(first)) == 5
    assert sorted(q for _, q in first) == sorted(q.id for q in packs[PACK].questions)
    orders = {tuple(draw(config(count=5, seed=seed), packs)) for seed in range(20)}
    assert len(orders) > 1  # the seed matters


def test_the_draw_respects_kinds_and_difficulties() -> None:
    packs = load()
    code_like = draw(config(kinds=("code", "fix"), count=2), packs)
    assert sorted(q for _, q in code_like) == ["fix-relu", "scale-module"]
    easy = draw(config(difficulties=("easy",), count=2), packs)
    assert sorted(q for _, q in easy) == ["pick-activation", "why-no-grad"]
    medium_code = draw(config(kinds=["code", "fix", "predict"], difficulties=["medium"], count=2), packs)
    assert sorted(q for _, q in medium_code) == ["fix-relu", "predict-shape"]


def test_too_few_matching_questions_says_how_many_match() -> None:
    with pytest.raises(MockError, match=r"only 2 question\(s\) match.*but 3 were asked for"):
        draw(config(kinds=("code", "fix"), count=3), load())


def test_bad_configs_and_unknown_packs_are_refused() -> None:
    with pytest.raises(MockError, match="no pack 'nope'"):
        draw(config(packs=("nope",)), load())
    with pytest.raises(MockError, match="kinds must be some of"):
        config(kinds=("essay",))
    with pytest.raises(MockError, match="at least 1"):
        config(count=0)
    with pytest.raises(MockError, match="more than 0 seconds"):
        config(total_seconds=0)


def test_the_time_limit_is_the_sum_of_the_estimates_unless_given(store: Store) -> None:
    packs = load()
    session = MockSession.start(store, config(kinds=("code", "fix"), count=2), packs, now=T0)
    assert session.total_seconds == (10 + 5) * 60
    assert session.deadline == T0 + timedelta(minutes=15)
    session.finish(Grades(), now=at(1))
    fixed = MockSession.start(store, config(total_seconds=90), packs, now=at(2))
    assert fixed.deadline == at(92)
    assert fixed.remaining(at(2)) == 90


# --- the clock, expiry and editing -----------------------------------------------------------------------------


def test_expiry_submits_every_answer_as_it_stands_and_stops_editing(store: Store) -> None:
    clock = Clock()
    cfg = config(kinds=("choice", "predict", "explain"), total_seconds=600, hints_allowed=True)
    session = MockSession.start(store, cfg, load(), clock=clock)
    choice = session.question((PACK, "pick-activation"))
    predict = session.question((PACK, "predict-shape"))
    session.save_draft((PACK, "predict-shape"), "(2, 4)")
    session.submit((PACK, "pick-activation"), Result("accepted", score=1.0), answer="a c")
    # The explain question is left with an empty draft.

    clock.advance(599)
    assert session.remaining() == pytest.approx(1.0)
    assert not session.expired()
    grades = Grades()
    assert session.expire(grades) is False  # not yet: nothing graded
    assert grades.calls == []
    assert session.editable((PACK, "predict-shape"))
    assert not session.editable((PACK, "pick-activation"))  # submitted

    clock.advance(2)
    assert session.remaining() == 0.0
    assert session.expired()
    assert not session.editable((PACK, "predict-shape"))
    with pytest.raises(MockError, match="time is up"):
        session.save_draft((PACK, "predict-shape"), "(4, 2)")
    with pytest.raises(MockError, match="time is up"):
        session.use_hint((PACK, "why-no-grad"))
    with pytest.raises(MockError, match="time is up"):
        session.submit((PACK, "predict-shape"), Result("accepted"), answer="something else")

    assert session.expire(grades) is True
    assert sorted(grades.calls) == [(PACK, "predict-shape", "(2, 4)"), (PACK, "why-no-grad", "")]
    assert session.finished and session.finished_at == session.deadline
    assert all(item.submitted for item in session.questions)
    assert predict.auto_submitted and predict.answer == "(2, 4)" and predict.verdict == "wrong_answer"
    assert not choice.auto_submitted and choice.answer == "a c"
    assert session.expire(grades) is False and len(grades.calls) == 2  # once only
    with pytest.raises(MockError, match="finished"):
        session.submit((PACK, "why-no-grad"), Result("accepted"))
    assert not any(session.editable(i) for i in range(3))

    # What was saved is what a new process sees.
    again = resume(store, session.id)
    assert again.finished and [q.answer for q in again.questions] == [q.answer for q in session.questions]
    assert load_report(store, session.id) is not None


def test_a_restart_resumes_with_the_right_time_left(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    clock = Clock()
    store = Store(path)
    session = MockSession.start(store, config(total_seconds=1800), load(), clock=clock)
    session.enter(0)
    clock.advance(120)
    session.save_draft(0, "first thoughts")
    session_id, deadline = session.id, session.deadline
    store.close()  # the app goes away...

    clock.advance(600)  # ...for ten minutes: the interview clock keeps running
    with Store(path) as reopened:
        assert active_session(reopened, clock=clock).id == session_id
        back = resume(reopened, session_id, clock=clock)
        assert back.deadline == deadline
        assert back.remaining() == pytest.approx(1800 - 720)
        assert back.question(0).draft == "first thoughts"
        # The question left open counts up to the last saved activity, not the time the app was away.
        assert back.current is None and back.question(0).seconds == pytest.approx(120)
        assert back.editable(0)
        clock.advance(1080)
        assert back.remaining() == 0 and back.expired() and not back.editable(0)


def test_time_spent_comes_from_enter_and_leave(store: Store) -> None:
    session = MockSession.start(store, config(total_seconds=300), load(), now=T0)
    session.enter(0, now=at(0))
    assert session.time_spent(0, now=at(30)) == pytest.approx(30)  # the open visit counts live
    session.enter(1, now=at(40))  # entering another leaves the first
    session.leave(1, now=at(100))
    session.leave(1, now=at(200))  # not open: nothing more
    session.enter(0, now=at(250))
    session.submit(0, Result("wrong_answer"), now=at(260))  # submitting stops its clock
    session.enter(2, now=at(280))
    session.leave(2, now=at(400))  # time after the deadline is not counted
    assert [q.seconds for q in session.questions] == pytest.approx([50, 60, 20])
    assert [q.seconds for q in resume(store, session.id).questions] == pytest.approx([50, 60, 20])


def test_hints_are_counted_and_refused_when_not_allowed(store: Store) -> None:
    packs = load()
    strict = MockSession.start(store, config(kinds=("choice",), count=1), packs, now=T0)
    with pytest.raises(MockError, match="not allowed"):
        strict.use_hint(0, now=at(1))
    strict.finish(Grades(), now=at(2))

    lenient = MockSession.start(store, config(kinds=("choice",), count=1, hints_allowed=True), packs, now=at(3))
    assert lenient.use_hint(0, now=at(4)) == 1
    with pytest.raises(MockError, match="no more hints"):  # the question has one hint
        lenient.use_hint(0, now=at(5))
    assert resume(store, lenient.id).question(0).hints_used == 1


def test_submitting_every_question_finishes_the_session(store: Store) -> None:
    session = MockSession.start(store, config(kinds=("choice", "predict"), count=2), load(), now=T0)
    assert active_session(store).id == session.id
    with pytest.raises(MockError, match="still running"):
        MockSession.start(store, config(), load(), now=at(1))
    session.submit((PACK, "pick-activation"), Result("accepted", score=1.0), answer="a c", now=at(10))
    with pytest.raises(MockError, match="already submitted"):
        session.submit((PACK, "pick-activation"), Result("accepted"), now=at(11))
    with pytest.raises(MockError, match="already submitted"):
        session.save_draft((PACK, "pick-activation"), "b", now=at(11))
    assert not session.finished
    session.submit((PACK, "predict-shape"), Result("accepted"), answer="(2, 4)", now=at(20))
    assert session.finished and session.finished_at == at(20)
    assert active_session(store) is None
    assert load_report(store, session.id).percent == 100.0


def test_handing_in_early_stops_editing_and_survives_a_grader_failure(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    store = Store(path)
    session = MockSession.start(
        store, config(kinds=("choice", "predict", "explain"), total_seconds=900), load(), now=T0
    )
    session.save_draft((PACK, "pick-activation"), "a", now=at(10))
    session.save_draft((PACK, "why-no-grad"), "no graph", now=at(20))
    calls: list[str] = []

    def flaky(pack_id: str, question_id: str, answer: str) -> Result:
        calls.append(question_id)
        if len(calls) == 2:
            raise RuntimeError("the judge went away")
        return Result("wrong_answer")

    with pytest.raises(RuntimeError):
        session.finish(flaky, now=at(60))
    # Ended (nothing can change any more, time left is 0) but not finished: one answer is still ungraded.
    assert session.ended_at == at(60) and not session.finished
    assert session.remaining(at(61)) == 0 and not session.editable(2, now=at(61))
    with pytest.raises(MockError, match="time is up"):
        session.save_draft(2, "changed", now=at(61))
    store.close()

    with Store(path) as reopened:
        back = active_session(reopened)
        assert back is not None and back.ended_at == at(60) and back.expired(at(61))
        assert len([q for q in back.questions if q.submitted]) == 1
        grades = Grades()
        assert back.expire(grades, now=at(61)) is True
        assert len(grades.calls) == 2  # only what was not graded before the failure
        assert back.finished and back.finished_at == at(60)
        assert load_report(reopened, back.id).time_used_seconds == 60
        assert active_session(reopened) is None


def test_code_questions_start_with_their_starter(store: Store) -> None:
    session = MockSession.start(store, config(kinds=("fix",), count=1), load(), now=T0)
    assert session.question(0).draft.startswith("import torch")
    grades = Grades()
    session.expire(grades, now=session.deadline)
    assert grades.calls == [(PACK, "fix-relu", session.question(0).draft)]


# --- scoring ----------------------------------------------------------------------------------------------------


def test_code_questions_get_partial_credit_by_check_points(store: Store) -> None:
    packs = load()
    question = packs[PACK].question("scale-module")
    assert isinstance(question, model.CodeQuestion)
    checks = [c.id for c in question.checks]
    session = MockSession.start(store, config(kinds=("code", "fix"), count=2), packs, now=T0)
    everything_but_gradients = set(checks) - {"same-gradients"}
    session.submit((PACK, "scale-module"), code_result(everything_but_gradients, checks), now=at(10))
    session.submit((PACK, "fix-relu"), Result("syntax_error", message="line 1"), now=at(20))
    result = score(session)
    by_id = dict(zip([q.question_id for q in session.questions], result.points, strict=True))
    assert by_id["scale-module"] == pytest.approx(6 / 10)  # the hidden check's 4 points were missed
    assert by_id["fix-relu"] == 0.0
    assert result.percent == pytest.approx(30.0)
    assert session.score() == result


def test_points_for_each_kind() -> None:
    points = {"a": 1.0, "b": 3.0}
    only_b = {"verdict": "wrong_answer", "tests": [{"check": "a", "status": "fail"}, {"check": "b", "status": "pass"}]}
    assert answer_points("code", only_b, points) == pytest.approx(0.75)
    assert answer_points("fix", {"verdict": "accepted", "tests": []}, {}) == 1.0  # no checks known
    assert answer_points("code", None, points) == 0.0
    assert answer_points("choice", Result("wrong_answer", score=2 / 3).to_json(), {}) == pytest.approx(2 / 3, abs=1e-4)
    assert answer_points("choice", Result("accepted").to_json(), {}) == 1.0
    assert answer_points("choice", Result("wrong_answer").to_json(), {}) == 0.0
    assert answer_points("predict", Result("accepted").to_json(), {}) == 1.0
    assert answer_points("predict", Result("wrong_answer").to_json(), {}) == 0.0
    assert answer_points("explain", Result("accepted", score=2 / 3).to_json(), {}) == pytest.approx(2 / 3, abs=1e-4)
    assert answer_points("explain", Result("wrong_answer", message="the answer is empty").to_json(), {}) == 0.0


def test_an_unfinished_session_scores_its_unsubmitted_questions_as_zero(store: Store) -> None:
    session = MockSession.start(store, config(kinds=("choice", "predict"), count=2), load(), now=T0)
    session.submit((PACK, "pick-activation"), Result("wrong_answer", score=0.5), now=at(5))
    assert score(session).percent == pytest.approx(25.0)


# --- a crash in the middle of a mock -------------------------------------------------------------------------

KILLED_MOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from quizapp.packs import load_pack
    from quizapp.practice import MockConfig, MockSession
    from quizapp.store import Store

    pack = load_pack(Path(sys.argv[2]))
    store = Store(Path(sys.argv[1]))
    session = MockSession.start(store, MockConfig(packs=(pack.id,), count=3, seed=5, total_seconds=1200),
                                {pack.id: pack})
    session.enter(1)
    session.save_draft(1, "typed before the kill\\n")
    print(session.id, session.deadline.isoformat(), session.question(1).question_id, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_mock_killed_with_sigkill_resumes_with_its_draft_and_deadline(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    pack_file = tmp_path / "test-pack.yaml"
    pack_file.write_text(VALID_PACK, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_MOCK, str(path), str(pack_file)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        line = child.stdout.readline().split()
        assert len(line) == 3, line
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    session_id, deadline, question_id = line[0], datetime.fromisoformat(line[1]), line[2]
    with Store(path) as store:
        session = active_session(store)
        assert session is not None and session.id == session_id
        assert session.deadline == deadline
        assert session.question(1).question_id == question_id
        assert session.question(1).draft == "typed before the kill\n"
        assert 1190 < session.remaining() <= 1200
        assert session.editable(1) and not session.finished


def test_a_version_1_file_gains_the_practice_tables_and_keeps_its_drafts(tmp_path: Path) -> None:
    import sqlite3

    from quizapp.store.schema import MIGRATIONS, migrate

    path = tmp_path / "progress.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, path, MIGRATIONS[:1])
    db.execute("INSERT INTO drafts VALUES ('test-pack', 'q', 'old draft', '2025-01-01T00:00:00.000000+00:00')")
    db.close()
    with Store(path) as store:
        assert store.schema_version == 2
        assert store.draft(PACK, "q").text == "old draft"
        session = MockSession.start(store, config(), load(), now=T0)
        assert resume(store, session.id).deadline == session.deadline
