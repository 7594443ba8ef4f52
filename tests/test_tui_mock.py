"""Mock interviews and review in the TUI, driven headless with Textual's pilot at 80x24 over the real store and,
where a code answer is graded, the real judge.

Time is never waited on. The app starts the session itself (`QuizApp(mock=MockConfig(...))` or a restart), and
the test then gives the session a clock it moves by hand: `MockSession.clock` is the session's documented
injection point. A restarted app gets the same clock through `quizapp.practice.mock.active_session`, which the
app looks up when it starts. (Monkeypatching
`quizapp.practice.mock.utc_now` would not work: it is bound as a default argument when the module is imported.)
The only real waits are polls for the overview's 1 s tick and for grading workers, with generous deadlines.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Digits, Markdown, Static, TextArea

import quizapp.practice.mock as mock_module
from quizapp import cli
from quizapp.packs import discover
from quizapp.practice import MockConfig, MockSession, active_session, due, load_report, resume
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.screens.confirm import ConfirmScreen
from quizapp.tui.screens.home import HomeScreen
from quizapp.tui.screens.mock import MockOverviewScreen, MockReportScreen
from quizapp.tui.screens.question import QuestionScreen
from quizapp.tui.screens.review import ReviewScreen
from quizapp.tui.widgets.choices import ChoiceList
from quizapp.tui.widgets.question_list import QuestionList

PACK = "tui-fixture"
SIZE = (80, 24)
FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"  # frozen: the built-in packs keep growing
CATALOGUE = discover([FIXTURE], include_defaults=False)

# Seed 6 over choice, predict and code draws these three, in this order.
SEED_ONE_OF_EACH = 6
DRAW_ONE_OF_EACH = ["mlp-stack", "convnext-extraction", "feed-forward-container"]
# Seed 7 over the same kinds (the tmux test's draw): three questions without code, so no judge is needed.
SEED_NO_CODE = 7
DRAW_NO_CODE = ["plain-list-param-count", "fixed-hidden-mlp-facts", "fixed-hidden-mlp-params"]


def question(question_id: str) -> Any:
    return CATALOGUE.packs[PACK].question(question_id)


def config(seed: int = SEED_ONE_OF_EACH, minutes: float = 10, hints: bool = False, **changes: Any) -> MockConfig:
    settings: dict[str, Any] = {
        "packs": (PACK,),
        "count": 3,
        "kinds": ("choice", "predict", "code"),
        "total_seconds": minutes * 60,
        "hints_allowed": hints,
        "seed": seed,
    }
    settings.update(changes)
    return MockConfig(**settings)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (the project has no pytest-asyncio); fixtures pass through."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# --- building the app ------------------------------------------------------------------------------------------


def make_app(pool: Any = None, mock: MockConfig | None = None) -> QuizApp:
    """The real store and catalogue; the shared warm judge pool when given (the app must not close it), else no
    judge at all (enough for every kind but code)."""
    factory = (lambda: pool) if pool is not None else None
    services = Services(
        discover([FIXTURE], include_defaults=False), Store.open_default(), pool_factory=factory, owns_pool=False
    )
    app = QuizApp(services=services, mock=mock)
    # Every notification, as it is made: the app's own list is filled later (by a message) and expires.
    said: list[str] = []
    notify = app.notify

    def spy(message: str, *args: Any, **kwargs: Any) -> None:
        said.append(str(message))
        notify(message, *args, **kwargs)

    app.notify = spy  # type: ignore[method-assign]
    app.said = said  # type: ignore[attr-defined]
    return app


async def started_mock(pilot: Pilot) -> tuple[MockOverviewScreen, MockSession, Clock]:
    """The overview of the mock the app started, its session now on a hand-moved clock at the session's start."""
    await pilot.pause()
    overview = pilot.app.screen
    assert isinstance(overview, MockOverviewScreen), pilot.app.screen
    session = overview.session
    clock = Clock(session.started_at)
    session.clock = clock
    overview.tick()
    return overview, session, clock


# --- reading the screen ------------------------------------------------------------------------------------------


def notifications(app: QuizApp) -> list[str]:
    """Every notification the app was asked to show, oldest first."""
    return app.said  # type: ignore[attr-defined]


def static_text(widget: Static) -> str:
    return str(widget.render())


def status_text(screen: Any) -> str:
    return static_text(screen.query_one("#status-line", Static))


def clock_shown(screen: MockOverviewScreen) -> str:
    return screen.query_one("#mock-clock", Digits).value


def overview_rows(screen: MockOverviewScreen) -> list[list[str]]:
    table = screen.query_one("#mock-questions", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def shows_title(shown: str, title: str) -> bool:
    """The overview shows a title whole, or its start clipped with an ellipsis (the table fits 80 columns)."""
    return shown == title or (shown.endswith("…") and title.startswith(shown[:-1]) and len(shown) > 20)


def report_markdown(app: QuizApp) -> str:
    """The report as exported (its table has every column); the screen shows the same report, narrower, with each
    question's answer, checks and reference below."""
    from quizapp.practice import load_report, render

    screen = app.screen
    assert isinstance(screen, MockReportScreen), screen
    shown = screen.query_one(Markdown).source
    report = load_report(app.services.store, screen.report_id)
    assert report is not None
    for line in report.questions:
        assert f"## {line.number}. {line.title}" in shown and "Your answer:" in shown
    return render(report, "md")


def report_row(markdown: str, question_id: str) -> list[str]:
    """The cells of the report table's row for a question."""
    line = next(line for line in markdown.splitlines() if f"{PACK}/{question_id}`" in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


# --- acting -------------------------------------------------------------------------------------------------------


async def wait_until(pilot: Pilot, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll while the app runs (its timers and workers keep going); the condition, not the pause, decides."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; screen: {pilot.app.screen!r}")
        await pilot.pause(0.05)


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def markdown_source(screen: Any, selector: str) -> str:
    """The Markdown shown by the prompt pane's `selector` (#hints, #reveal); '' while it has not been made (the
    screen makes them when first asked for)."""
    found = list(screen.query(selector).results(Markdown))
    return found[0].source if found else ""


async def open_row(pilot: Pilot, overview: MockOverviewScreen, index: int) -> QuestionScreen:
    """Open the overview's question `index` (0-based) with the keyboard, as a learner would."""
    assert pilot.app.screen is overview
    table = overview.query_one("#mock-questions", DataTable)
    table.focus()
    await pilot.pause()
    steps = index - table.cursor_row
    await pilot.press(*(["down"] * steps if steps >= 0 else ["up"] * -steps), "enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, QuestionScreen) and screen.mock is overview.session and screen.index == index
    return screen


async def back(pilot: Pilot) -> None:
    """Leave the screen with escape (a code editor takes the first escape to let go of the focus)."""
    screen = pilot.app.screen
    for _ in range(2):
        await pilot.press("escape")
        await pilot.pause()
        if pilot.app.screen is not screen:
            return
    raise AssertionError(f"escape did not leave {screen!r}")


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*["enter" if char == "\n" else char for char in text])


async def pick_radio(pilot: Pilot, screen: QuestionScreen, option_id: str) -> None:
    """Choose one option with the keyboard: from the top, down to it, enter."""
    choices = screen.query_one("#options", ChoiceList)
    choices.focus()
    await pilot.pause()
    steps = [oid for oid, _ in choices.choices].index(option_id)
    await pilot.press("home", *(["down"] * steps), "enter")


async def report_opened(pilot: Pilot, timeout: float = 30) -> MockReportScreen:
    """Wait for the report screen, then for it to finish mounting (leaving the app earlier races Textual's Header,
    whose title watchers would run on a screen already torn down)."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, MockReportScreen), "the report", timeout=timeout)
    await pilot.pause()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MockReportScreen)
    return screen


async def hand_in_with_ctrl_e(pilot: Pilot, overview: MockOverviewScreen) -> str:
    """ctrl+e, then confirm; returns the confirmation's question."""
    assert pilot.app.screen is overview
    await pilot.press("ctrl+e")
    await pilot.pause()
    confirm = pilot.app.screen
    assert isinstance(confirm, ConfirmScreen)
    await pilot.click("#yes")
    await report_opened(pilot)
    return confirm.question


# --- a whole mock, to the report -----------------------------------------------------------------------------------


@sync
async def test_a_whole_mock_runs_out_of_time_and_hands_in_everything_as_it_stands(judge_pool: Any) -> None:
    app = make_app(judge_pool, mock=config(minutes=10))
    code, predict, choice = (question(q) for q in DRAW_ONE_OF_EACH)
    async with app.run_test(size=SIZE) as pilot:
        overview, session, clock = await started_mock(pilot)
        assert [item.question_id for item in session.questions] == DRAW_ONE_OF_EACH
        rows = overview_rows(overview)
        assert [row[2] for row in rows] == ["code", "predict", "choice"]
        assert [row[3] for row in rows] == ["not started"] * 3
        assert all(shows_title(row[1], q.title) for row, q in zip(rows, (code, predict, choice), strict=True))
        assert clock_shown(overview) == "10:00"

        # Right: the choice question, handed in with its Submit.
        screen = await open_row(pilot, overview, 2)
        await pick_radio(pilot, screen, "sequential")
        clock.advance(40)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Handed in." in notifications(app)
        assert session.questions[2].submitted and session.questions[2].verdict == "accepted"
        assert screen.query_one("#options", ChoiceList).locked, "a handed-in choice is locked"
        await back(pilot)
        screen = await open_row(pilot, overview, 2)  # reopened, it shows the choice handed in (it did not once)
        assert screen.selected_options() == ["sequential"] and json.loads(session.questions[2].draft) == ["sequential"]
        assert screen.query_one("#options", ChoiceList).locked
        await back(pilot)

        # Wrong: the predict question.
        screen = await open_row(pilot, overview, 1)
        await type_text(pilot, "TinyConvNeXt False")
        clock.advance(60)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert session.questions[1].verdict == "wrong_answer" and not session.questions[1].auto_submitted
        assert screen.query_one("#answer", TextArea).read_only, "a handed-in answer is locked"
        await back(pilot)

        # A draft only: the code question gets the reference solution, but is never submitted.
        screen = await open_row(pilot, overview, 0)
        editor = screen.query_one("#answer", TextArea)
        assert editor.text == code.starter
        editor.load_text(code.solution)
        editor.focus()
        clock.advance(120)
        await back(pilot)  # leaving saves the draft
        assert session.questions[0].draft == code.solution and not session.questions[0].submitted
        overview.tick()
        assert clock_shown(overview) == "06:20"
        rows = overview_rows(overview)
        assert [row[3] for row in rows] == ["opened", "✗ wrong", "✓ accepted"]
        assert [row[4] for row in rows] == ["02:00", "01:00", "00:40"]
        # Every column fits 80 columns (once 82 and more: the time column was cut or scrolled off).
        assert overview.query_one("#mock-questions", DataTable).max_scroll_x == 0

        # Back in the code question, the clock passes the deadline: Submit says time is up, nothing changes.
        screen = await open_row(pilot, overview, 0)
        clock.advance(10 * 60)
        screen.action_submit()  # before the next tick: no await in between
        assert notifications(app)[-1] == "Time is up."
        assert not session.editable(0) and not session.questions[0].submitted

        # The next tick hands in everything as it stands and opens the report.
        await report_opened(pilot, timeout=60)
        assert session.finished
        assert any(message.startswith("Time is up: every answer is handed in") for message in notifications(app))
        drafted = session.questions[0]
        assert (drafted.answer, drafted.verdict, drafted.auto_submitted) == (code.solution, "accepted", True)
        assert [item.auto_submitted for item in session.questions] == [True, False, False]
        assert session.score().percent == pytest.approx(200 / 3)

        markdown = report_markdown(app)
        assert "## Score: 66.7%" in markdown
        assert "time ran out" in markdown
        assert report_row(markdown, code.id)[4] == "accepted (auto-submitted)"
        assert report_row(markdown, predict.id)[4] == "wrong answer"
        assert report_row(markdown, choice.id)[4] == "accepted"
        stored = load_report(app.services.store, session.id)
        assert stored is not None and stored.percent == pytest.approx(200 / 3, abs=0.01) and stored.ran_out_of_time
        # Every answer counts in spaced review: the wrong one is due again today.
        assert (PACK, predict.id) in {(card.pack_id, card.question_id) for card in due(app.services.store)}

        # After the deadline the editor is read-only: keys change nothing, Submit says it is handed in.
        app.open_mock_question(session, 0)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuestionScreen) and screen.index == 0
        editor = screen.query_one("#answer", TextArea)
        assert editor.read_only and editor.text == code.solution
        said = len(notifications(app))
        await type_text(pilot, "xyz")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert editor.text == code.solution
        from textual.widgets._footer import FooterKey

        offered = [key.description for key in screen.query(FooterKey)]
        assert "Submit" not in offered and "Run" not in offered, "nothing offered that would be refused"
        assert len(notifications(app)) == said
        assert "(handed in)" in status_text(screen)
        assert session.questions[0].draft == code.solution


# --- hints, solution and history ----------------------------------------------------------------------------------


@sync
async def test_no_hints_no_solution_no_history_in_a_mock_without_hints() -> None:
    app = make_app(mock=config(seed=SEED_NO_CODE))
    target = question(DRAW_NO_CODE[0])
    async with app.run_test(size=SIZE) as pilot:
        overview, session, _ = await started_mock(pilot)
        screen = await open_row(pilot, overview, 0)
        assert screen.question.id == target.id and target.hints
        from textual.widgets._footer import FooterKey

        offered = [key.description for key in screen.query(FooterKey)]
        assert not {"Hint", "Solution", "History"} & set(offered), "the footer offers nothing that is refused"
        assert {"Back", "Submit", "Quit", "Help"} <= set(offered)
        said = len(notifications(app))
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert markdown_source(screen, "#hints") == ""
        assert session.questions[0].hints_used == 0
        await pilot.press("f3")
        await pilot.pause()
        assert app.screen is screen, "no confirmation, no solution"
        assert markdown_source(screen, "#reveal") == ""
        assert not app.services.store.gave_up(PACK, target.id)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.screen is screen, "no history screen"
        assert len(notifications(app)) == said
        await back(pilot)
        assert resume(app.services.store, session.id).questions[0].hints_used == 0


@sync
async def test_hints_allowed_are_shown_one_at_a_time_and_counted_in_the_session_and_report() -> None:
    app = make_app(mock=config(seed=SEED_NO_CODE, hints=True))
    target = question(DRAW_NO_CODE[0])
    assert len(target.hints) == 2
    async with app.run_test(size=SIZE) as pilot:
        overview, session, _ = await started_mock(pilot)
        assert "hints allowed" in static_text(overview.query_one("#mock-summary", Static))
        screen = await open_row(pilot, overview, 0)
        await pilot.press("ctrl+t")
        await pilot.pause()
        hints = markdown_source(screen, "#hints")
        assert "**Hint 1.**" in hints and target.hints[0].strip() in hints and "Hint 2" not in hints
        assert session.questions[0].hints_used == 1
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert target.hints[1].strip() in markdown_source(screen, "#hints")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert notifications(app)[-1] == "No more hints."
        assert session.questions[0].hints_used == 2
        assert resume(app.services.store, session.id).questions[0].hints_used == 2, "saved at once"
        assert app.services.store.hints_revealed(PACK, target.id) == 0, "practice mode's hints are untouched"
        # Still no solution, even with hints allowed.
        await pilot.press("f3")
        await pilot.pause()
        assert app.screen is screen and markdown_source(screen, "#reveal") == ""
        await back(pilot)
        # Reopened, the hints are still shown; the report counts them.
        screen = await open_row(pilot, overview, 0)
        assert target.hints[1].strip() in markdown_source(screen, "#hints")
        await back(pilot)
        await hand_in_with_ctrl_e(pilot, overview)
        markdown = report_markdown(app)
        assert report_row(markdown, target.id)[-1] == "2"
        assert [report_row(markdown, q)[-1] for q in DRAW_NO_CODE[1:]] == ["0", "0"]


# --- restarts -----------------------------------------------------------------------------------------------------


async def toggle(pilot: Pilot, screen: QuestionScreen, option_id: str) -> None:
    """Tick one option with the keyboard."""
    options = screen.query_one("#options", ChoiceList)
    options.focus()
    await pilot.pause()
    await pilot.press("home")
    values = [value for value, _ in options.choices]
    await pilot.press(*["down"] * values.index(option_id), "space")
    await pilot.pause()


@sync
async def test_a_restart_resumes_the_same_mock_with_the_clock_run_on_and_the_drafts_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = make_app(mock=config(seed=SEED_NO_CODE, minutes=5))
    async with first.run_test(size=SIZE) as pilot:
        overview, session, clock = await started_mock(pilot)
        assert clock_shown(overview) == "05:00"
        screen = await open_row(pilot, overview, 1)  # choice, several answers: the draft is a list of ids
        await toggle(pilot, screen, "shared")
        assert screen.selected_options() == ["shared"]
        await back(pilot)
        screen = await open_row(pilot, overview, 0)  # predict
        await type_text(pilot, "26")
        clock.advance(30)
        overview.tick()
        assert clock_shown(overview) == "04:30"
        await pilot.press("ctrl+q")  # quits with the question open: its draft is saved first
    session_id = session.id

    clock.advance(90)  # the app is closed for 90 s; the interview's clock runs on
    monkeypatch.setattr(mock_module, "active_session", functools.partial(active_session, clock=clock))
    second = make_app()  # a plain start: no mock asked for
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        overview = second.screen
        assert isinstance(overview, MockOverviewScreen)
        assert overview.session.id == session_id and overview.session is not session
        assert clock_shown(overview) == "03:00", "90 s less than when the app was closed"
        assert "Your mock interview is resumed; its clock kept running." in notifications(second)
        rows = overview_rows(overview)
        assert [row[3:] for row in rows] == [["opened", "00:30"], ["not started", "00:00"], ["not started", "00:00"]]
        screen = await open_row(pilot, overview, 0)
        assert screen.query_one("#answer", TextArea).text == "26"
        assert not screen.query_one("#answer", TextArea).read_only
        assert "mock interview: 03:00 left · question 1 of 3" in status_text(screen)
        await back(pilot)
        screen = await open_row(pilot, overview, 1)
        assert screen.selected_options() == ["shared"]
        await back(pilot)
        # Escape on the overview does not leave the interview.
        await pilot.press("escape")
        await pilot.pause()
        assert second.screen is overview


# Starting the app on an interview that ran out while it was closed crashed on most starts, not all (a race with the
# overview's mounting; fixed in cdd7802): a second start makes a comeback likelier to show.
RESTARTS_AFTER_THE_DEADLINE = 2


@sync
async def test_a_restart_after_the_deadline_hands_everything_in_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_app(mock=config(seed=SEED_NO_CODE, minutes=5))
    async with first.run_test(size=SIZE) as pilot:
        overview, session, clock = await started_mock(pilot)
        await open_row(pilot, overview, 0)
        await type_text(pilot, "262")  # right, but never submitted
        clock.advance(60)
        await back(pilot)
        await pilot.press("ctrl+q")

    clock.advance(10 * 60)  # back long after the deadline
    monkeypatch.setattr(mock_module, "active_session", functools.partial(active_session, clock=clock))
    for attempt in range(RESTARTS_AFTER_THE_DEADLINE):
        if attempt:  # another interview that ran out while the app was closed
            with Store.open_default() as store:
                started = clock.now - timedelta(minutes=10)
                session = MockSession.start(store, config(seed=SEED_NO_CODE, minutes=5), CATALOGUE.packs, now=started)
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await report_opened(pilot)
            store = app.services.store
            finished = resume(store, session.id)
            assert finished.finished and finished.finished_at == finished.deadline
            assert [(q.answer, q.verdict, q.auto_submitted) for q in finished.questions] == [
                ("262" if attempt == 0 else "", "accepted" if attempt == 0 else "wrong_answer", True),
                ("", "wrong_answer", True),
                ("", "wrong_answer", True),
            ]
            markdown = report_markdown(app)
            assert f"## Score: {33.3 if attempt == 0 else 0:.1f}%" in markdown
            assert "5:00 of 5:00 used, time ran out" in markdown
            assert active_session(store) is None
            await pilot.press("escape")  # the report goes home
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)


# --- handing in early, and the report from the command line ---------------------------------------------------------


@sync
async def test_hand_in_early_grades_untouched_answers_as_they_stand_and_the_cli_report_agrees(
    judge_pool: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(judge_pool, mock=config(minutes=10))
    code = question(DRAW_ONE_OF_EACH[0])
    async with app.run_test(size=SIZE) as pilot:
        overview, session, clock = await started_mock(pilot)
        screen = await open_row(pilot, overview, 2)
        await pick_radio(pilot, screen, "sequential")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await back(pilot)
        clock.advance(100)
        # Cancelled first: nothing happens.
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is overview and not session.finished
        asked = await hand_in_with_ctrl_e(pilot, overview)
        assert asked == "Hand in now? 2 answers not yet submitted will be graded as they stand."
        assert session.finished and session.finished_at == session.started_at + timedelta(seconds=100)
        untouched_code, untouched_predict, answered = session.questions
        assert (untouched_code.answer, untouched_code.auto_submitted) == (code.starter, True), "graded on its starter"
        assert untouched_code.verdict == "wrong_answer" and untouched_code.result is not None
        assert "forward returned a NoneType" in untouched_code.result["message"]
        assert (untouched_predict.answer, untouched_predict.verdict) == ("", "wrong_answer")
        assert (answered.verdict, answered.auto_submitted) == ("accepted", False)
        percent = session.score().percent
        markdown = report_markdown(app)
        score_line = f"## Score: {percent:.1f}%"
        assert score_line in markdown
        assert "1:40 of 10:00 used" in markdown and "time ran out" not in markdown
    capsys.readouterr()
    assert cli.main(["report", session.id, "--format", "md"]) == 0
    printed = capsys.readouterr().out
    assert score_line in printed.splitlines()
    assert markdown.startswith(printed), "the app shows the report the command line exports"
    assert cli.main(["report"]) == 0
    assert f"{session.id}  {percent:5.1f}%" in capsys.readouterr().out


# --- review -------------------------------------------------------------------------------------------------------


@sync
async def test_review_lists_a_failed_practice_answer_but_not_one_answered_right_fast() -> None:
    app = make_app()
    wrong, right = question("chimera-parameters"), question("feed-forward-container")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_question(PACK, wrong.id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuestionScreen) and screen.mock is None
        await type_text(pilot, "11 10")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.services.store.attempts(PACK, wrong.id)[0].verdict == "wrong_answer"
        await back(pilot)
        app.open_question(PACK, right.id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuestionScreen)
        await pick_radio(pilot, screen, "sequential")
        await pilot.press("ctrl+s")  # right, at the first try, well under half the 1 minute estimate
        await settle(pilot)
        assert app.services.store.attempts(PACK, right.id)[0].verdict == "accepted"
        await back(pilot)
        assert isinstance(app.screen, HomeScreen)

        await pilot.press("r")
        await pilot.pause()
        review = app.screen
        assert isinstance(review, ReviewScreen)
        table = review.query_one("#review-due", QuestionList)
        rows = [list(table.row(i)) for i in range(table.row_count)]
        assert [row[1:] for row in rows] == [[wrong.title, "predict", PACK]]
        assert "1 due for review" in status_text(review)
        assert [(card.pack_id, card.question_id) for card in due(app.services.store)] == [(PACK, wrong.id)]
        card = app.services.store.review_card(PACK, right.id)
        assert card is not None and card.due > datetime.now(card.due.tzinfo) + timedelta(days=1)
        # Enter opens the due question in practice mode.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen) and app.screen.question.id == wrong.id
        assert app.screen.mock is None


# --- answers in a mock are saved as they change (regressions of bugs these tests found) ----------------------------


@sync
async def test_an_answer_typed_just_before_the_deadline_is_the_one_graded() -> None:
    """No wait for the 2 s autosave: what was typed before the clock ran out is graded."""
    app = make_app(mock=config(seed=SEED_NO_CODE, minutes=5))
    async with app.run_test(size=SIZE) as pilot:
        overview, session, clock = await started_mock(pilot)
        await open_row(pilot, overview, 0)
        clock.advance(299)
        await type_text(pilot, "262")  # the right answer, in the last second
        await pilot.pause()
        clock.advance(2)
        await type_text(pilot, "0")  # after the deadline (before the tick): not part of the answer
        await report_opened(pilot)
        item = session.questions[0]
        assert (item.answer, item.verdict, item.auto_submitted) == ("262", "accepted", True)


@sync
async def test_reset_in_a_mock_question_resets_the_sessions_draft_and_keeps_the_practice_draft() -> None:
    target = DRAW_NO_CODE[0]
    with Store.open_default() as store:
        store.save_draft(PACK, target, "my practice answer", starter="")
    app = make_app(mock=config(seed=SEED_NO_CODE))
    async with app.run_test(size=SIZE) as pilot:
        overview, session, _ = await started_mock(pilot)
        screen = await open_row(pilot, overview, 0)
        assert screen.query_one("#answer", TextArea).text == "", "a mock starts from the starter, not practice"
        await type_text(pilot, "26")
        await back(pilot)
        assert session.questions[0].draft == "26"
        screen = await open_row(pilot, overview, 0)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#yes")
        await pilot.pause()
        assert screen.query_one("#answer", TextArea).text == ""
        assert session.questions[0].draft == ""
        await back(pilot)
        assert resume(app.services.store, session.id).questions[0].draft == ""
        draft = app.services.store.draft(PACK, target)
        assert draft is not None and draft.text == "my practice answer"
