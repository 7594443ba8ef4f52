"""Pilot tests of the flows issue 13 added: the Python editor, review as recall with the learner's own rating,
next / next unsolved / continue, zoom, cancelling a running grade, a damaged progress database, a failing save.

Over the frozen fixture pack, without a judge (code answers are graded by a stand-in where a grade must run).
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fsrs import Rating
from textual import events
from textual.widgets import Input, Markdown, Static, TextArea

from quizapp.grading.result import Result
from quizapp.packs import discover
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.screens.home import HomeScreen
from quizapp.tui.screens.question import QuestionScreen
from quizapp.tui.screens.rate import RateScreen
from quizapp.tui.widgets.choices import ChoiceList
from quizapp.tui.widgets.editor import PythonEditor, next_line_indent
from quizapp.tui.widgets.results import ResultsPanel

PACK = "tui-fixture"
FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"
SIZE = (80, 24)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class SlowServices(Services):
    """Grades code answers only when told to (a stand-in for a judge busy with an infinite loop)."""

    release: threading.Event

    def grade(self, pack: Any, question: Any, answer: str, mode: str, ticked: Any = None) -> Result:
        if question.kind in ("code", "fix"):
            self.release.wait(30)
            return Result("accepted", mode=mode)
        return super().grade(pack, question, answer, mode, ticked)


def make_app(services_class: type[Services] = Services) -> QuizApp:
    services = services_class(discover([FIXTURE], include_defaults=False), Store.open_default(), None)
    return QuizApp(services=services)


async def open_question(pilot: Any, question_id: str, review: bool = False) -> QuestionScreen:
    pilot.app.open_question(PACK, question_id, review=review)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, QuestionScreen)
    return screen


def markdown_source(screen: Any, selector: str) -> str:
    """The Markdown shown by the prompt pane's `selector` (#hints, #reveal); '' while it has not been made (the
    screen makes them when first asked for)."""
    found = list(screen.query(selector).results(Markdown))
    return found[0].source if found else ""


def verdict_text(screen: Any) -> str:
    return str(screen.query_one(ResultsPanel).query_one("#verdict", Static).render())


# --- the editor ---------------------------------------------------------------------------------------------------


def test_next_line_indent() -> None:
    assert next_line_indent("class A:") == "    "
    assert next_line_indent("    def f(self):  # comment") == "        "
    assert next_line_indent("        x = 1") == "        "
    assert next_line_indent("        return x") == "    "
    assert next_line_indent("    pass") == ""
    assert next_line_indent("    s = ':'") == "    "


@sync
async def test_the_editor_indents_after_a_colon_keeps_indentation_and_dedents_on_backspace() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "my-sequential")
        editor = screen.query_one("#answer", PythonEditor)
        editor.load_text("")
        editor.focus()
        await pilot.press(*"class A:", "enter", *"def f(self):", "enter", *"x = 1", "enter")
        assert editor.text == "class A:\n    def f(self):\n        x = 1\n        "
        await pilot.press("backspace", *"y = 2")
        assert editor.text.endswith("\n    y = 2")
        # ctrl+a selects all (typing replaces it), ctrl+g asks for a line and goes there.
        await pilot.press("ctrl+a")
        assert editor.selected_text == editor.text
        await pilot.press("ctrl+g")
        await pilot.pause()
        await pilot.press("2", "enter")
        await pilot.pause()
        assert app.screen is screen and editor.cursor_location == (1, 4)
        # shift+tab dedents the line; escape leaves the question in one press.
        await pilot.press("shift+tab")
        assert editor.document[1] == "def f(self):"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


# --- review as recall ---------------------------------------------------------------------------------------------


@sync
async def test_a_review_opens_fresh_and_a_passed_choice_takes_the_learners_rating() -> None:
    app = make_app()
    store_answer = '["sequential"]'
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        store = app.services.store
        store.save_draft(PACK, "feed-forward-container", store_answer, starter="[]")
        store.record_attempt(
            PACK,
            "feed-forward-container",
            kind="choice",
            mode="submit",
            answer="sequential",
            result=Result("accepted", score=1.0),
            hints_used=0,
        )
        screen = await open_question(pilot, "feed-forward-container", review=True)
        choices = screen.query_one("#options", ChoiceList)
        assert choices.selected == [], "no draft in a review"
        assert verdict_text(screen).startswith("Submit"), "no old verdict"
        assert markdown_source(screen, "#reveal") == "", "no solution until answered"
        assert "review: answer from memory" in str(screen.query_one("#status-line", Static).render())
        choices.set_selected(["sequential"])
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, RateScreen)
        dialog = app.screen.query_one("#confirm").content_region
        buttons = list(app.screen.query("#rate-buttons Button"))
        assert [str(b.label) for b in buttons] == ["1 Again", "2 Hard", "3 Good", "4 Easy"]
        assert all(dialog.contains_region(b.region) for b in buttons), [(b.label, b.region, dialog) for b in buttons]
        await pilot.press("2")  # Hard, the learner's own say
        await pilot.pause()
        assert app.screen is screen
        log = store.review_log(PACK, "feed-forward-container")
        assert [entry.rating for entry in log] == [Rating.Hard]
        assert "## Solution" in markdown_source(screen, "#reveal")
        assert store.draft(PACK, "feed-forward-container").text == store_answer, "the practice draft is kept"


@sync
async def test_due_times_are_shown_in_local_time() -> None:
    from datetime import UTC, datetime

    from quizapp.practice.review import record_outcome

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        moment = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
        record_outcome(
            app.services.store,
            PACK,
            "net-defects",
            Result("wrong_answer"),
            hints_used=0,
            seconds=10,
            first_try=True,
            now=moment,
            minutes=4,
        )
        await pilot.press("r")
        await pilot.pause()
        table = app.screen.query_one("#review-due")
        shown = table.row(0)[0]  # type: ignore[attr-defined]
        due = app.services.store.review_card(PACK, "net-defects").due
        assert shown == due.astimezone().strftime("%d %b %H:%M")


# --- next, next unsolved, continue ----------------------------------------------------------------------------


@sync
async def test_next_next_unsolved_and_continue() -> None:
    app = make_app()
    questions = [q.id for q in discover([FIXTURE], include_defaults=False).packs[PACK].questions]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        store = app.services.store
        store.record_attempt(
            PACK, questions[1], kind="choice", mode="submit", answer="x", result=Result("accepted"), hints_used=0
        )
        await open_question(pilot, questions[0])
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.question.id == questions[1]
        assert len(app.screen_stack) == 3, "next replaces the open question"
        await pilot.press("escape")
        await pilot.pause()
        await open_question(pilot, questions[0])
        await pilot.press("f8")  # next unsolved: skips the solved questions[1]
        await pilot.pause()
        assert app.screen.question.id == questions[2]
        await pilot.press("escape")
        await pilot.pause()
        store.save_draft(PACK, questions[5], "draft")
        await pilot.press("c")
        await pilot.pause()
        assert app.screen.question.id == questions[5]


# --- zoom, cancel -------------------------------------------------------------------------------------------------


@sync
async def test_zoom_gives_the_focused_pane_the_whole_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "resnet-residual-block")
        await pilot.press("f5")
        await pilot.pause()
        assert screen.maximized is screen.query_one("#answer-pane")
        assert screen.query_one("#answer").size.height >= SIZE[1] - 2
        await pilot.press("f5")
        await pilot.pause()
        assert screen.maximized is None
        await pilot.press("f6")  # the next pane: the prompt, then zoom it
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert screen.maximized is screen.query_one("#prompt-pane")
        # the whole screen, as for the answer (a code question's prompt kept its 30%: six lines at 80x24)
        assert screen.query_one("#prompt-pane").size.height >= SIZE[1] - 2, screen.query_one("#prompt-pane").size


@sync
async def test_zoom_in_the_wide_layout_keeps_the_prompt_within_the_screen() -> None:
    """At 120x40 the code prompt's 2fr width came along into the zoom: it was twice the screen's width and its
    lines were cut off at the right edge (a new user's check of this round's fixes)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "resnet-residual-block")
        screen.set_focus(screen.query_one("#prompt-pane"))
        await pilot.press("f5")
        await pilot.pause()
        prompt = screen.query_one("#prompt-pane")
        assert screen.maximized is prompt
        assert prompt.region.width == 120 and prompt.size.height >= 38, (prompt.region, prompt.size)


def many_checks() -> Result:
    from quizapp.grading.result import TestResult

    tests = [TestResult(f"check {i}", "fail", f"message {i} " + "words " * 12) for i in range(30)]
    return Result("wrong_answer", tests=tests, mode="submit")


@sync
async def test_after_zooming_the_results_they_show_their_headline_and_the_editor_still_takes_keys() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "resnet-residual-block")
        screen._show_result(many_checks())
        await pilot.pause()
        results = screen.query_one(ResultsPanel)
        await pilot.press("f6")  # editor -> the results' checks
        await pilot.pause()
        assert screen.focused is results.query_one("#checks")
        await pilot.press("f5")
        await pilot.pause()
        assert screen.maximized is results
        await pilot.press("end")  # read to the last check, as a learner does in the zoomed pane
        results.scroll_end(animate=False)
        await pilot.pause()
        assert results.scroll_y > 0
        await pilot.press("f5")
        await pilot.pause()
        await pilot.pause()
        assert screen.maximized is None
        assert results.scroll_y == 0, "the restored results show their headline, not where the zoom left them"
        assert verdict_text(screen).startswith("Wrong answer")
        await pilot.press("f6", "f6")  # the prompt, then the editor
        await pilot.pause()
        editor = screen.query_one("#answer", PythonEditor)
        assert screen.focused is editor
        await pilot.press("ctrl+a", "backspace", "x")
        await pilot.pause()
        assert editor.text == "x"


@sync
async def test_keys_that_arrive_in_one_burst_after_f6_reach_the_pane_f6_moved_to() -> None:
    """A busy machine delivers f6 f6 ctrl+a backspace together: each f6 must move on from where the previous one
    went, and the editing keys must reach the editor (they once went to the prompt after a zoom and restore)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "resnet-residual-block")
        screen._show_result(many_checks())
        await pilot.pause()
        await pilot.press("f6", "f5", "f5")  # the results, zoomed and restored
        await pilot.pause()
        assert screen.focused is screen.query_one(ResultsPanel).query_one("#checks")
        for key, character in (("f6", None), ("f6", None), ("ctrl+a", None), ("x", "x")):  # queued together
            app.post_message(events.Key(key, character))
        await pilot.pause()
        await pilot.pause()
        editor = screen.query_one("#answer", PythonEditor)
        assert screen.focused is editor
        assert editor.text == "x", "select-all ran after the character typed behind it"


@sync
async def test_slash_then_words_typed_at_once_filter_the_home_list() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for character in "/resnet":  # queued before '/' is handled: the words must reach the filter
            app.post_message(events.Key("slash" if character == "/" else character, character))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert app.screen.query_one("#filter", Input).value == "resnet"


@sync
async def test_an_enter_right_behind_the_filters_enter_opens_the_highlighted_question() -> None:
    """ "/resnet block", Enter, Enter delivered together (a fast typist, a busy machine): the first Enter gives the
    keys to the list, the second opens the one question left; it once reached the filter again and was lost."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for character in "/resnet block":
            key = {"/": "slash", " ": "space"}.get(character, character)
            app.post_message(events.Key(key, character))
        app.post_message(events.Key("enter", "\r"))
        app.post_message(events.Key("enter", "\r"))
        for _ in range(100):
            if isinstance(app.screen, QuestionScreen):
                break
            await pilot.pause(0.02)
        assert isinstance(app.screen, QuestionScreen), f"still on {type(app.screen).__name__}, focus {app.focused}"
        assert app.screen.question.id == "resnet-residual-block"


@sync
async def test_a_running_grade_dims_the_old_results_and_can_be_cancelled() -> None:
    app = make_app(SlowServices)
    app.services.release = threading.Event()  # type: ignore[attr-defined]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "resnet-residual-block")
        panel = screen.query_one(ResultsPanel)
        panel.show(Result("wrong_answer", message="old verdict"))
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert panel.has_class("-stale") and "Running the visible checks" in verdict_text(screen)
        await pilot.press("f4")
        await pilot.pause()
        assert verdict_text(screen).startswith("Cancelled")
        app.services.release.set()  # type: ignore[attr-defined]
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert verdict_text(screen).startswith("Cancelled"), "a cancelled grade's result is never shown"
        assert app.services.store.attempts(PACK, "resnet-residual-block") == [], "nor recorded"


# --- failures the learner must hear about ------------------------------------------------------------------------


@sync
async def test_a_failing_draft_save_is_reported() -> None:
    app = make_app()
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (said.append(str(message)), notify(message, *a, **k))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "my-sequential")
        screen.query_one("#answer", TextArea).load_text("x = 1\n")
        app.services.store.close()
        screen.save_draft()
        screen.save_draft()
        assert [m for m in said if "could not be saved" in m] != []
        assert len([m for m in said if "could not be saved" in m]) == 1, "reported once, not every autosave"


def test_a_damaged_progress_database_is_one_message_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    import os

    from quizapp.store import default_path

    os.environ["QUIZAPP_HOME"] = str(home)
    path = default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    completed = subprocess.run(
        [sys.executable, "-m", "quizapp"],
        capture_output=True,
        text=True,
        env={**os.environ, "QUIZAPP_HOME": str(home)},
        timeout=60,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "damaged or is not a quizapp database" in completed.stderr
    assert completed.stderr.startswith("quizapp: ")


@sync
async def test_a_passed_choice_question_keeps_its_verdict_in_view_at_80x24() -> None:
    """The built-in 'Module, Sequential, ModuleList' passed at 80x24 left its results pane one row in view (its
    border): the solution and the options took the screen (a new user's report). The options now scroll first."""
    from quizapp import locations

    catalogue = discover([locations.builtin_packs_dir() / "torch-modules.yaml"], include_defaults=False)
    app = QuizApp(services=Services(catalogue, Store.open_default(), None))
    question = catalogue.packs["torch-modules"].question("module-sequential-modulelist")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_question("torch-modules", question.id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuestionScreen)
        screen.query_one("#options", ChoiceList).set_selected([o.id for o in question.options if o.correct])
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = screen.query_one(ResultsPanel)
        shown = panel.region.intersection(screen.query_one("#body").region).height
        assert shown >= 3, (panel.region, screen.query_one("#body").region)  # its border, the verdict and a line
        assert (
            "Accepted" in str(panel.query_one("#verdict", Static).render())
            or "accepted" in str(panel.query_one("#verdict", Static).render()).lower()
        )
