"""Snapshots (pytest-textual-snapshot) of each screen state at 80x24.

Deterministic by construction: no judge (the status line says 'judge: starting…'), a fresh store, no clock in the
header, a fixed Result injected where a verdict shows, and editor cursors that do not blink. Update with
`pytest tests/test_tui_snapshots.py --snapshot-update` and look at the SVGs in tests/__snapshots__/.
"""

from __future__ import annotations

from typing import Any

from answers import RESNET_WRONG
from textual.pilot import Pilot
from textual.widgets import TextArea

from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as CheckResult  # not collected as a test class
from quizapp.packs import discover
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.widgets.results import ResultsPanel

PACK = "torch-modules"
SIZE = (80, 24)

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


def offline_app() -> QuizApp:
    return QuizApp(services=Services(discover([]), Store.open_default(), pool_factory=None))


def still_cursors(pilot: Pilot) -> None:
    """A blinking cursor would make the picture depend on when it is taken."""
    for editor in pilot.app.screen.query(TextArea):
        editor.cursor_blink = False


def opening(question_id: str, then: Any = None) -> Any:
    async def run_before(pilot: Pilot) -> None:
        pilot.app.open_question(PACK, question_id)  # type: ignore[attr-defined]
        await pilot.pause()
        if then is not None:
            then(pilot)
        still_cursors(pilot)
        await pilot.pause()

    return run_before


def test_home(snap_compare: Any) -> None:
    assert snap_compare(offline_app(), terminal_size=SIZE)


def test_home_filtered(snap_compare: Any) -> None:
    assert snap_compare(offline_app(), terminal_size=SIZE, press=["slash", *"resnet", "enter"])


def test_resnet_question_as_opened(snap_compare: Any) -> None:
    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=opening("resnet-residual-block"))


def test_resnet_question_with_a_verdict(snap_compare: Any) -> None:
    def wrong_answer_graded(pilot: Pilot) -> None:
        screen = pilot.app.screen
        editor = screen.query_one("#answer", TextArea)
        editor.load_text(RESNET_WRONG["missing-skip"][0])
        editor.cursor_location = (0, 0)
        screen.query_one(ResultsPanel).show(MISSING_SKIP_RESULT)

    assert snap_compare(
        offline_app(), terminal_size=SIZE, run_before=opening("resnet-residual-block", wrong_answer_graded)
    )


def test_choice_question(snap_compare: Any) -> None:
    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=opening("feed-forward-container"))


def test_help(snap_compare: Any) -> None:
    assert snap_compare(offline_app(), terminal_size=SIZE, press=["f1"])
