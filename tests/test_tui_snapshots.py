"""Snapshots (pytest-textual-snapshot) of every screen state at 80x24 and 120x40, over the frozen fixture pack.

Deterministic by construction: no judge (the status line says 'judge: starting…'), a fresh store, no clock in the
header, fixed Results injected where a verdict shows (timings zeroed), the store's and the mock's clocks fixed,
UTC as the local zone, and editor cursors that do not blink. Update with
`pytest tests/test_tui_snapshots.py --snapshot-update` and look at the SVGs in tests/__snapshots__/.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from answers import RESNET_WRONG
from textual.pilot import Pilot
from textual.widgets import TextArea

from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as CheckResult  # not collected as a test class
from quizapp.packs import discover
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.screens.home import MenuFace
from quizapp.tui.widgets.results import ResultsPanel

PACK = "tui-fixture"
FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
MOMENT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# What the judge says of RESNET_WRONG['missing-skip'], with its timing fixed.
MISSING_SKIP_RESULT = Result(
    "wrong_answer",
    tests=[
        CheckResult(
            "Outputs match the reference",
            "fail",
            "output differs in train mode for in=16, out=16, stride=1 (identity shortcut): max abs error 2.95 "
            "at [1, 1, 7, 0] (1296 of 2048 values differ) (and 9 more of 10 runs)",
            check="outputs",
        ),
        CheckResult(
            "The input is added back",
            "fail",
            "no skip connection: the input never reaches an addition",
            check="skip-connection",
        ),
        CheckResult("Layers of an identity block", "pass", check="identity-layers"),
        CheckResult("Layers of a projection block", "pass", check="projection-layers"),
        CheckResult(
            "Gradients match the reference",
            "fail",
            "gradients differ from the reference: is something on a path detached from the graph?",
            visible=False,
            check="gradients",
        ),
    ],
    message="output differs in train mode for in=16, out=16, stride=1 (identity shortcut)",
    duration_ms=412.0,
    jail_mode="full",
    mode="submit",
    score=0.4,
)


@pytest.fixture(params=list(SIZES), autouse=True)
def size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Every snapshot at both sizes, with the store's clock fixed and UTC as the local zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("quizapp.store.progress._now", lambda: MOMENT.isoformat())
    return SIZES[request.param]


def offline_app() -> QuizApp:
    return QuizApp(services=Services(discover([FIXTURE], include_defaults=False), Store.open_default(), None))


async def prepared(pilot: Pilot) -> None:
    """The app's preparation after the first frame (imports and highlighting in a thread, then a garbage collection)
    is over: a picture taken while it ran would depend on when the machine let it run."""
    app = pilot.app
    app.prepare()  # type: ignore[attr-defined]  # now, if the first frame has not started it yet
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    # What comes after it (the home screen's menus, whether its first frame asked before or after the call above).
    for _ in range(50):
        if app._prepare_done and not app.screen_stack[1].query(MenuFace):  # type: ignore[attr-defined]
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError("the preparation did not end, or the home screen's menus were never built")
    await pilot.pause()


async def still_cursors(pilot: Pilot) -> None:
    """A blinking cursor would make the picture depend on when it is taken: once focus has settled, an editor that
    has it gives it up (its cursor is then hidden for good), and no cursor blinks."""
    await pilot.pause()
    screen = pilot.app.screen
    for editor in screen.query(TextArea):
        editor.cursor_blink = False
        if editor.has_focus:
            screen.set_focus(None)
    await pilot.pause()


def opening(question_id: str, *then: Any) -> Any:
    async def run_before(pilot: Pilot) -> None:
        await prepared(pilot)
        pilot.app.open_question(PACK, question_id)  # type: ignore[attr-defined]
        await pilot.pause()
        for step in then:
            outcome = step(pilot)
            if outcome is not None:
                await outcome
            await pilot.pause()
        await still_cursors(pilot)

    return run_before


def graded(answer: str, ticked: tuple[str, ...] = ()) -> Any:
    """Grade `answer` in-process (choice, predict, explain) and show it as the screen shows a verdict."""

    def step(pilot: Pilot) -> None:
        screen = pilot.app.screen
        question = screen.question  # type: ignore[attr-defined]
        result = pilot.app.services.grade(screen.pack, question, answer, "submit", list(ticked))  # type: ignore[attr-defined]
        result.duration_ms = 0.0
        if question.kind == "choice":
            screen.query_one("#options").set_selected(answer.split())  # type: ignore[attr-defined]
        elif question.kind in ("predict", "explain"):
            screen.query_one("#answer", TextArea).load_text(answer)
        from quizapp.practice.sheet import Outcome

        screen._show_outcome(Outcome(result, "submit"), answer)  # type: ignore[attr-defined]

    return step


def code_graded(code: str, result: Result) -> Any:
    def step(pilot: Pilot) -> None:
        screen = pilot.app.screen
        editor = screen.query_one("#answer", TextArea)
        editor.load_text(code)
        editor.cursor_location = (0, 0)
        screen.query_one(ResultsPanel).show(result)

    return step


def press(*keys: str) -> Any:
    async def step(pilot: Pilot) -> None:
        await pilot.press(*keys)
        await pilot.pause()

    return step


# --- home, help -------------------------------------------------------------------------------------------------


def test_home(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=prepared)


def test_home_filtered(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=prepared, press=["slash", *"resnet", "enter"])


def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=prepared, press=["f1"])


# --- each kind, as opened and with a result ---------------------------------------------------------------------


QUESTIONS = {
    "choice": "feed-forward-container",
    "choice-many": "net-defects",
    "predict": "sequential-extraction",
    "code": "resnet-residual-block",
    "fix": "fix-layer-registry",
    "explain": "resnet-module-or-sequential",
}


@pytest.mark.parametrize("kind", list(QUESTIONS))
def test_question_as_opened(snap_compare: Any, size: tuple[int, int], kind: str) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS[kind]))


def test_choice_wrong(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["choice"], graded("list")))


def test_choice_many_partly_right(snap_compare: Any, size: tuple[int, int]) -> None:
    run_before = opening(QUESTIONS["choice-many"], graded("bn2 padding"))
    assert snap_compare(offline_app(), terminal_size=size, run_before=run_before)


def test_predict_near_miss(snap_compare: Any, size: tuple[int, int]) -> None:
    answer = "tensor([[4., 4., 4.],\n        [4., 4., 4.]])"
    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["predict"], graded(answer)))


def test_code_with_a_verdict(snap_compare: Any, size: tuple[int, int]) -> None:
    run_before = opening(QUESTIONS["code"], code_graded(RESNET_WRONG["missing-skip"][0], MISSING_SKIP_RESULT))
    assert snap_compare(offline_app(), terminal_size=size, run_before=run_before)


def test_code_visible_checks_pass_on_run(snap_compare: Any, size: tuple[int, int]) -> None:
    run = Result(
        "accepted",
        tests=[CheckResult(t.name, "pass", check=t.check) for t in MISSING_SKIP_RESULT.tests if t.visible],
        jail_mode="full",
        mode="run",
    )

    def step(pilot: Pilot) -> None:
        from quizapp.practice.sheet import Outcome

        screen = pilot.app.screen
        note = "The visible checks pass; Submit (ctrl+s) runs the 1 hidden check too."
        screen._show_outcome(Outcome(run, "run", note=note), "")  # type: ignore[attr-defined]

    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["code"], step))


def test_code_running_with_stale_results(snap_compare: Any, size: tuple[int, int]) -> None:
    def busy(pilot: Pilot) -> None:
        pilot.app.screen.query_one(ResultsPanel).show_busy("submit")

    run_before = opening(QUESTIONS["code"], code_graded(RESNET_WRONG["missing-skip"][0], MISSING_SKIP_RESULT), busy)
    assert snap_compare(offline_app(), terminal_size=size, run_before=run_before)


def test_fix_with_a_verdict(snap_compare: Any, size: tuple[int, int]) -> None:
    result = Result(
        "wrong_answer",
        tests=[CheckResult("Layers are registered", "fail", "2 layers kept in a plain list are not registered")],
        jail_mode="full",
    )
    assert snap_compare(
        offline_app(), terminal_size=size, run_before=opening(QUESTIONS["fix"], code_graded("x = 1\n", result))
    )


def test_explain_rubric_step(snap_compare: Any, size: tuple[int, int]) -> None:
    async def write(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#answer", TextArea).load_text("The skip needs the block's input.")
        await pilot.press("ctrl+s")

    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["explain"], write))


def test_explain_scored(snap_compare: Any, size: tuple[int, int]) -> None:
    run_before = opening(QUESTIONS["explain"], graded("idk"))
    assert snap_compare(offline_app(), terminal_size=size, run_before=run_before)


# --- hints and the solution, where the learner looks ----------------------------------------------------------


def test_hint_shown(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["code"], press("ctrl+t")))


def test_solution_shown(snap_compare: Any, size: tuple[int, int]) -> None:
    run_before = opening(QUESTIONS["choice"], press("f3"), press("enter"))
    assert snap_compare(offline_app(), terminal_size=size, run_before=run_before)


def test_confirm_dialog(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=opening(QUESTIONS["code"], press("f3")))


# --- history and review -------------------------------------------------------------------------------------------


def test_history(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot) -> None:
        await prepared(pilot)
        store = pilot.app.services.store  # type: ignore[attr-defined]
        store.record_attempt(
            PACK,
            "resnet-residual-block",
            kind="code",
            mode="submit",
            answer=RESNET_WRONG["missing-skip"][0],
            result=MISSING_SKIP_RESULT,
            hints_used=1,
        )
        run = Result(
            "accepted",
            tests=[CheckResult("Outputs match the reference", "pass", check="outputs")],
            mode="run",
            jail_mode="full",
            duration_ms=380.0,
        )
        store.record_attempt(
            PACK, "resnet-residual-block", kind="code", mode="run", answer="# run\n", result=run, hints_used=1
        )
        pilot.app.open_question(PACK, "resnet-residual-block")  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+l")
        await pilot.pause()
        await still_cursors(pilot)

    assert snap_compare(offline_app(), terminal_size=size, run_before=before)


def test_review_list(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot) -> None:
        await prepared(pilot)
        from quizapp.practice.review import record_outcome

        store = pilot.app.services.store  # type: ignore[attr-defined]
        for question_id in ("net-defects", "resnet-residual-block"):
            record_outcome(
                store,
                PACK,
                question_id,
                Result("wrong_answer"),
                hints_used=0,
                seconds=60,
                first_try=True,
                now=MOMENT,
                minutes=5,
            )
        await pilot.press("r")
        await pilot.pause()

    assert snap_compare(offline_app(), terminal_size=size, run_before=before)


def test_review_question_opens_fresh(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot) -> None:
        await prepared(pilot)
        store = pilot.app.services.store  # type: ignore[attr-defined]
        store.save_draft(PACK, "net-defects", '["bn2"]')
        store.record_attempt(
            PACK,
            "net-defects",
            kind="choice",
            mode="submit",
            answer="bn2",
            result=Result("accepted", score=1.0),
            hints_used=0,
        )
        pilot.app.open_question(PACK, "net-defects", review=True)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(offline_app(), terminal_size=size, run_before=before)


# --- mock interviews ------------------------------------------------------------------------------------------------


def test_mock_setup(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(offline_app(), terminal_size=size, run_before=prepared, press=["m"])


def fixed_session(pilot: Pilot, **config: Any) -> Any:
    from quizapp.practice import MockConfig, MockSession

    app = pilot.app
    mock_config = MockConfig(packs=(PACK,), count=3, seed=11, total_seconds=1200, **config)
    return MockSession.start(app.services.store, mock_config, app.services.catalogue.packs, clock=lambda: MOMENT)  # type: ignore[attr-defined]


def test_mock_overview_with_the_clock_mocked(
    snap_compare: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("quizapp.practice.mock.secrets.token_hex", lambda n: "abcdef")

    async def before(pilot: Pilot) -> None:
        await prepared(pilot)
        from quizapp.tui.screens.mock import MockOverviewScreen

        session = fixed_session(pilot)
        await pilot.app.push_screen(MockOverviewScreen(session))
        await pilot.pause()

    assert snap_compare(offline_app(), terminal_size=size, run_before=before)


def test_mock_report(snap_compare: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quizapp.practice.mock.secrets.token_hex", lambda n: "abcdef")

    async def before(pilot: Pilot) -> None:
        await prepared(pilot)
        session = fixed_session(pilot, kinds=("choice", "predict"))
        app = pilot.app

        def grade(pack_id: str, question_id: str, text: str) -> Result:
            pack = app.services.catalogue.packs[pack_id]  # type: ignore[attr-defined]
            result = app.services.grade(pack, pack.question(question_id), text or "x", "submit")  # type: ignore[attr-defined]
            result.duration_ms = 0.0
            return result

        session.save_draft(0, "wrong guess")
        session.finish(grade)
        app.show_mock_report(session.id)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(offline_app(), terminal_size=size, run_before=before)
