"""The TUI's flows, driven headless with Textual's pilot at 80x24 over the real store, catalogue and judge.

Each test asserts on what the learner would see (widget text) and on what was recorded (store rows). Workers are
awaited with `app.workers.wait_for_complete()` and `pilot.pause()`, never with sleeps.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from answers import RESNET_RIGHT, RESNET_WRONG
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import (
    DataTable,
    Input,
    Markdown,
    OptionList,
    Select,
    SelectionList,
    Static,
    TextArea,
)

from quizapp.packs import discover
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.screens.confirm import ConfirmScreen
from quizapp.tui.screens.help import HelpScreen
from quizapp.tui.screens.history import HistoryScreen
from quizapp.tui.screens.home import HomeScreen
from quizapp.tui.screens.question import QuestionScreen
from quizapp.tui.widgets.choices import ChoiceList
from quizapp.tui.widgets.question_list import QuestionList
from quizapp.tui.widgets.results import ResultsPanel

PACK = "tui-fixture"
RESNET = "resnet-residual-block"
SIZE = (80, 24)
FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"  # frozen: the built-in packs keep growing


def fixture_catalogue() -> Any:
    return discover([FIXTURE], include_defaults=False)


CATALOGUE = fixture_catalogue()


def builtin_questions() -> list[Any]:
    return list(CATALOGUE.packs[PACK].questions)


def question(question_id: str) -> Any:
    return CATALOGUE.packs[PACK].question(question_id)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (the project has no pytest-asyncio); fixtures pass through."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


# --- building the app ------------------------------------------------------------------------------------------


def offline_app() -> QuizApp:
    """No judge at all: the status line stays 'judge: starting…'. For every kind but code."""
    return QuizApp(services=Services(fixture_catalogue(), Store.open_default(), pool_factory=None))


@pytest.fixture
def judged_app(judge_pool: Any) -> QuizApp:
    """The real, warm, shared pool (the app must not close it)."""
    return QuizApp(
        services=Services(fixture_catalogue(), Store.open_default(), pool_factory=lambda: judge_pool, owns_pool=False)
    )


def store_of(app: QuizApp) -> Store:
    return app.services.store


# --- reading the screen -----------------------------------------------------------------------------------------


def table_rows(app: QuizApp) -> dict[str, list[str]]:
    """The home table's rows by key (pack/question), in the table's order."""
    table = app.screen.query_one("#questions", QuestionList)
    return {key: list(table.row(i)) for i, key in enumerate(table.keys)}


def shown_titles(app: QuizApp) -> list[str]:
    return [cells[-1] for cells in table_rows(app).values()]


def static_text(widget: Static) -> str:
    return str(widget.render())


def verdict_text(screen: Any) -> str:
    return static_text(screen.query_one(ResultsPanel).query_one("#verdict", Static))


def check_lines(screen: Any) -> list[str]:
    checks = screen.query_one(ResultsPanel).query_one("#checks", OptionList)
    return [str(checks.get_option_at_index(i).prompt) for i in range(checks.option_count)]


def markdown_source(screen: Any, selector: str) -> str:
    """The Markdown shown by the prompt pane's `selector` (#hints, #reveal); '' while it has not been made (the
    screen makes them when first asked for)."""
    found = list(screen.query(selector).results(Markdown))
    return found[0].source if found else ""


def footer_pairs(app: QuizApp) -> list[tuple[str, str]]:
    """(key as shown, description) of each key the footer offers."""
    from textual.widgets._footer import FooterKey

    return [(key.key_display or key.key, key.description) for key in app.screen.query(FooterKey)]


def footer_keys(app: QuizApp) -> list[str]:
    """The descriptions of the keys the footer offers (whatever has focus)."""
    from textual.widgets._footer import FooterKey

    return [key.description for key in app.screen.query(FooterKey)]


def notifications(app: QuizApp) -> list[str]:
    return [notification.message for notification in app._notifications]


# --- acting -----------------------------------------------------------------------------------------------------


async def open_question(pilot: Pilot, question_id: str) -> QuestionScreen:
    pilot.app.open_question(PACK, question_id)  # type: ignore[attr-defined]
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, QuestionScreen) and screen.question.id == question_id
    return screen


async def type_text(pilot: Pilot, text: str) -> None:
    """Type as a learner would, one key at a time."""
    await pilot.press(*["enter" if char == "\n" else char for char in text])


async def settle(pilot: Pilot) -> None:
    """Let every worker (judge start, grading) finish and its messages be handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def menus_built(pilot: Pilot) -> None:
    """Wait for the home screen's four filter menus. They replace their faces after the first paint, once the app
    has prepared (HomeScreen._build_menus): one pause covered that on a quiet machine, but the pilot's pause ends
    when the process looks idle, and a process starved of CPU on a loaded machine looks idle too."""
    deadline = time.monotonic() + 60
    while not all(pilot.app.screen.query(f"#{menu}") for menu in ("pack", "tag", "difficulty", "status")):
        assert time.monotonic() < deadline, "the home screen's filter menus were never built"
        await pilot.pause(0.01)


async def submit(pilot: Pilot, key: str = "ctrl+s") -> None:
    await pilot.press(key)
    await settle(pilot)


async def pick(pilot: Pilot, screen: QuestionScreen, wanted: set[str]) -> None:
    """Select exactly `wanted` (option ids) in a choice question with the keyboard: walk the options from the
    top, enter to toggle."""
    choices = screen.query_one("#options", ChoiceList)
    choices.focus()
    await pilot.pause()
    await pilot.press("home")
    for option_id, _text in choices.choices:
        if (option_id in wanted) != (option_id in choices.selected):
            await pilot.press("enter")
        await pilot.press("down")
    assert set(choices.selected) == wanted


def letter_of(screen: QuestionScreen, option_id: str) -> str:
    return screen.query_one("#options", ChoiceList).letter_of(option_id)


async def tick(pilot: Pilot, selection_list: SelectionList, wanted: set[str]) -> None:
    """Select exactly `wanted` in a SelectionList with the keyboard: walk it from the top, space to toggle."""
    selection_list.focus()
    await pilot.pause()
    await pilot.press("home")
    for index in range(selection_list.option_count):
        value = selection_list.get_option_at_index(index).value
        if (value in wanted) != (value in selection_list.selected):
            await pilot.press("space")
        await pilot.press("down")
    assert set(selection_list.selected) == wanted


async def load_answer(pilot: Pilot, screen: QuestionScreen, code: str) -> TextArea:
    editor = screen.query_one("#answer", TextArea)
    editor.load_text(code)
    editor.focus()
    await pilot.pause()
    return editor


# --- home ---------------------------------------------------------------------------------------------------------


@sync
async def test_home_lists_every_builtin_question_and_opens_one() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        rows = table_rows(app)
        expected = builtin_questions()
        assert len(expected) == 17
        assert list(rows) == [f"{PACK}/{q.id}" for q in expected]
        assert [cells[-1] for cells in rows.values()] == [q.title for q in expected]
        assert all(cells[0] == "·" for cells in rows.values()), "a fresh store has only new questions"
        assert rows[f"{PACK}/{RESNET}"][1:4] == ["code", "hard", "15"]
        status = static_text(app.screen.query_one("#status-line", Static))
        assert f"{PACK} 0/17 solved" in status and "17 shown" in status
        assert "judge: starting…" in status
        # Enter opens the highlighted question; escape comes back with the cursor where it was.
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        assert app.screen.question.id == expected[1].id
        assert static_text(app.screen.query_one("#question-heading", Static)).startswith(expected[1].title)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert app.screen.query_one("#questions", QuestionList).cursor_row == 1


@sync
async def test_a_question_opened_before_the_preparation_has_its_screen_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The question screen's rules (screens.tcss) join the stylesheet after the first frame's preparation; a question
    opened before that still gets them: its prompt pane has its kind's share and padding, its results panel its rule."""
    from quizapp.tui import app as app_module

    release = threading.Event()
    imports = app_module.import_question_screen
    monkeypatch.setattr(app_module, "import_question_screen", lambda: (release.wait(10), imports()))  # it waits
    app = offline_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert not app._screen_styles_loaded, "the first frame parses only the list's rules"
            app.open_question(PACK, RESNET)
            await pilot.pause()
            assert isinstance(app.screen, QuestionScreen)
            pane = app.screen.query_one("#prompt-pane")
            assert str(pane.styles.max_height) == "30h" and pane.styles.padding.left == 1  # a code question's share
            assert app.screen.query_one(ResultsPanel).styles.border_top[0] == "solid"
            release.set()
    finally:
        release.set()


@sync
async def test_typing_in_the_filter_narrows_the_table() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter", Input)
        await type_text(pilot, "resnet")
        await pilot.pause()
        assert shown_titles(app) == [question(RESNET).title, question("resnet-module-or-sequential").title]
        assert "2 shown" in static_text(app.screen.query_one("#status-line", Static))
        await type_text(pilot, " block")
        await pilot.pause()
        assert shown_titles(app) == [question(RESNET).title]
        await pilot.press("enter")  # back to the table, with the filter kept
        assert isinstance(app.focused, QuestionList)
        assert shown_titles(app) == [question(RESNET).title]
        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        assert len(table_rows(app)) == 17
        assert app.screen.query_one("#filter", Input).value == ""


@sync
async def test_a_new_filter_highlights_its_first_match() -> None:
    """The cursor kept its old index: five rows down, "resnet" and Enter opened the last match, not the first
    (a new user's report)."""
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(QuestionList)
        table.focus()
        await pilot.press(*["down"] * 5)
        await pilot.pause()
        assert table.cursor_row == 5 and "resnet" not in str(table.cursor_key)
        await pilot.press("slash")
        await type_text(pilot, "resnet")
        await pilot.pause()
        assert shown_titles(app) == [question(RESNET).title, question("resnet-module-or-sequential").title]
        assert table.cursor_row == 0 and table.cursor_key == f"{PACK}/{RESNET}"


@sync
async def test_the_tag_level_and_status_menus_filter() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await menus_built(pilot)
        screen = app.screen
        # The level menu with the keyboard: focus it, open it, move to 'hard', choose.
        level = screen.query_one("#difficulty", Select)
        level.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause()
        assert level.value == "hard"
        hard = [q.title for q in builtin_questions() if q.difficulty == "hard"]
        assert shown_titles(app) == hard and len(hard) == 3

        level.clear()
        screen.query_one("#tag", Select).value = "interview"
        await pilot.pause()
        assert shown_titles(app) == [q.title for q in builtin_questions() if "interview" in q.tags]
        assert len(shown_titles(app)) == 2

        screen.query_one("#tag", Select).clear()
        store_of(app).save_draft(PACK, "my-sequential", "class MySequential: ...")
        status = screen.query_one("#status", Select)
        status.value = "attempted"
        await pilot.pause()
        assert shown_titles(app) == [question("my-sequential").title]
        status.value = "solved"
        await pilot.pause()
        assert shown_titles(app) == []
        status.value = "new"
        await pilot.pause()
        assert len(shown_titles(app)) == 16 and question("my-sequential").title not in shown_titles(app)


SECOND_PACK = """\
format: 1
id: second-pack
title: A second pack
version: "1.0.0"
description: One question, to have two packs on the home list.
authors: ["quizapp tests"]
licence: CC0-1.0
questions:
  - id: pick-one
    kind: choice
    title: A question of another pack
    difficulty: easy
    minutes: 1
    prompt: Which one?
    explanation: The first.
    options:
      - {id: first, text: "the first", correct: true}
      - {id: second, text: "the second"}
"""


@sync
async def test_the_pack_menu_and_the_words_filter_by_pack(tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(SECOND_PACK, encoding="utf-8")
    catalogue = discover([FIXTURE, second], include_defaults=False)
    app = QuizApp(services=Services(catalogue, Store.open_default(), pool_factory=None))
    async with app.run_test(size=SIZE) as pilot:
        await menus_built(pilot)
        screen = app.screen
        assert len(shown_titles(app)) == len(builtin_questions()) + 1
        screen.query_one("#pack", Select).value = "second-pack"
        await pilot.pause()
        assert list(table_rows(app)) == ["second-pack/pick-one"]
        screen.query_one("#pack", Select).value = PACK
        await pilot.pause()
        assert shown_titles(app) == [q.title for q in builtin_questions()]
        screen.query_one("#pack", Select).clear()
        screen.query_one("#filter", Input).value = "second-pack"  # the pack's id is one of the words too
        await pilot.pause()
        assert list(table_rows(app)) == ["second-pack/pick-one"]


# --- choice -------------------------------------------------------------------------------------------------------


@sync
async def test_choice_single_right_then_home_shows_it_solved() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "feed-forward-container")
        await pick(pilot, screen, {"sequential"})
        assert screen.selected_options() == ["sequential"]
        await submit(pilot)
        assert verdict_text(screen).startswith("Accepted")
        assert check_lines(screen) == [f"✓ option {letter_of(screen, 'sequential')}"]
        assert "## Solution" in markdown_source(screen, "#reveal")
        [attempt] = store_of(app).attempts(PACK, "feed-forward-container")
        assert (attempt.kind, attempt.mode, attempt.verdict, attempt.answer) == (
            "choice",
            "submit",
            "accepted",
            "sequential",
        )
        await pilot.press("f3")  # once solved, the solution needs no confirmation and is not giving up
        await pilot.pause()
        assert app.screen is screen
        assert not store_of(app).gave_up(PACK, "feed-forward-container")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert table_rows(app)[f"{PACK}/feed-forward-container"][0] == "✓"
        assert f"{PACK} 1/17 solved" in static_text(app.screen.query_one("#status-line", Static))


@sync
async def test_choice_single_wrong() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "feed-forward-container")
        footer = footer_keys(app)
        assert "Run" not in footer and "$EDITOR" not in footer, "Run is not offered on a choice question"
        assert {"Back", "Submit", "Quit", "Help"} <= set(footer)
        await submit(pilot, "ctrl+r")
        assert not any("Run" in n for n in notifications(app)) and verdict_text(screen).startswith("Submit (ctrl+s)")
        await submit(pilot)
        assert "Select an option first." in notifications(app)
        assert store_of(app).attempts(PACK, "feed-forward-container") == []
        await pick(pilot, screen, {"modulelist"})
        await submit(pilot)
        assert verdict_text(screen).startswith("Wrong answer")
        picked = letter_of(screen, "modulelist")
        assert check_lines(screen) == [
            f"✗ option {picked}: {picked}) not correct. "
            + question("feed-forward-container").options[1].feedback.strip()
        ]
        assert "sequential" not in verdict_text(screen) + " ".join(check_lines(screen)), "the answer is not given"
        assert markdown_source(screen, "#reveal") == "", "no solution after a wrong answer"
        [attempt] = store_of(app).attempts(PACK, "feed-forward-container")
        assert (attempt.verdict, attempt.answer) == ("wrong_answer", "modulelist")
        await pilot.press("escape")
        await pilot.pause()
        assert table_rows(app)[f"{PACK}/feed-forward-container"][0] == "◐"
        # The choice was saved as a draft and comes back, with the last result.
        assert json.loads(store_of(app).draft(PACK, "feed-forward-container").text) == ["modulelist"]
        screen = await open_question(pilot, "feed-forward-container")
        assert screen.selected_options() == ["modulelist"]
        assert verdict_text(screen).startswith("Wrong answer")


@sync
async def test_choice_many_right_and_wrong() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        target = question("module-sequential-modulelist")
        screen = await open_question(pilot, target.id)
        options = screen.query_one("#options", ChoiceList)
        # The options are shown once, in full (wrapped, not cut), lettered in order, without raw backticks.
        rows = " ".join(options.render_line(y).text for y in range(options.scrollable_content_region.height))
        assert "…" not in rows and "`" not in rows
        for index in range(len(options.choices)):
            assert f"{'abcdefgh'[index]}) " in rows
        prompt = markdown_source(screen, "#prompt")
        assert not any(f"**{option.id}**" in prompt for option in target.options), "options are not printed twice"

        await pick(pilot, screen, {"a", "c"})  # misses e
        await submit(pilot)
        assert verdict_text(screen).startswith("Wrong answer")
        assert "1 correct option not selected" in verdict_text(screen)
        assert not any(" e" in line or "e)" in line for line in check_lines(screen)), "the missed option is not named"
        # Leaving saves the ticks as a draft; they come back.
        await pilot.press("escape")
        await pilot.pause()
        assert sorted(json.loads(store_of(app).draft(PACK, target.id).text)) == ["a", "c"]
        screen = await open_question(pilot, target.id)
        options = screen.query_one("#options", ChoiceList)
        assert sorted(options.selected) == ["a", "c"]
        await pick(pilot, screen, {"a", "c", "e"})
        await submit(pilot)
        assert verdict_text(screen).startswith("Accepted")
        attempts = store_of(app).attempts(PACK, "module-sequential-modulelist")
        assert [(a.verdict, sorted(a.answer.split())) for a in attempts] == [
            ("accepted", ["a", "c", "e"]),
            ("wrong_answer", ["a", "c"]),
        ]
        assert store_of(app).status(PACK, "module-sequential-modulelist") == "solved"


# --- predict ------------------------------------------------------------------------------------------------------


@sync
async def test_predict_right_and_wrong() -> None:
    app = offline_app()
    target = question("chimera-parameters")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        assert target.snippet.strip().splitlines()[0] in markdown_source(screen, "#prompt"), "the snippet is shown"
        editor = screen.query_one("#answer", TextArea)
        assert app.focused is editor
        await type_text(pilot, "11 10")
        assert editor.text == "11 10"
        await submit(pilot)
        assert verdict_text(screen).startswith("Wrong answer")
        assert markdown_source(screen, "#reveal") == ""
        editor.clear()
        await type_text(pilot, "10\n11")
        await submit(pilot)
        assert verdict_text(screen).startswith("Accepted")
        assert "It prints:" in markdown_source(screen, "#reveal")
        attempts = store_of(app).attempts(PACK, target.id)
        assert [(a.kind, a.verdict, a.answer) for a in attempts] == [
            ("predict", "accepted", "10\n11"),
            ("predict", "wrong_answer", "11 10"),
        ]


# --- code ---------------------------------------------------------------------------------------------------------


@sync
async def test_code_resnet_right(judged_app: QuizApp) -> None:
    app = judged_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        editor = screen.query_one("#answer", TextArea)
        assert editor.text == question(RESNET).starter
        await load_answer(pilot, screen, RESNET_RIGHT["identity-and-functional-relu"])
        await submit(pilot)
        verdict = verdict_text(screen)
        assert verdict.startswith("Accepted  5/5 checks passed"), verdict
        assert "jail" in verdict
        assert all(line.startswith("✓") for line in check_lines(screen))
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert (attempt.kind, attempt.mode, attempt.verdict) == ("code", "submit", "accepted")
        assert attempt.answer == RESNET_RIGHT["identity-and-functional-relu"]
        assert "class ResidualBlock" in markdown_source(screen, "#reveal")
        assert "Solved." in notifications(app)


@sync
async def test_code_resnet_wrong(judged_app: QuizApp) -> None:
    code, verdict, check_id, words = RESNET_WRONG["missing-skip"]
    app = judged_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        editor = screen.query_one("#answer", TextArea)
        assert app.focused is editor
        await pilot.press("tab")
        assert editor.text.startswith("    import torch"), "tab indents in the code editor"
        assert ("esc", "Back") in footer_pairs(app), "the footer says how to leave the editor"
        await load_answer(pilot, screen, code)
        await submit(pilot)
        assert verdict == "wrong_answer"
        assert verdict_text(screen).startswith("Wrong answer"), verdict_text(screen)
        result = screen.query_one(ResultsPanel).result
        assert result is not None
        failing = [t for t in result.tests if t.check == check_id]
        assert failing and failing[0].status != "pass"
        shown = "\n".join(check_lines(screen))
        assert words in shown, shown
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert (attempt.mode, attempt.verdict, attempt.answer) == ("submit", verdict, code)
        assert attempt.result_json["verdict"] == verdict
        assert store_of(app).status(PACK, RESNET) == "attempted"
        assert markdown_source(screen, "#reveal") == ""
        # One escape leaves the question, from inside the code editor too.
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert table_rows(app)[f"{PACK}/{RESNET}"][0] == "◐"


@sync
async def test_run_shows_only_the_visible_checks(judged_app: QuizApp) -> None:
    app = judged_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        await load_answer(pilot, screen, RESNET_WRONG["detached-shortcut"][0])
        await submit(pilot, "ctrl+r")
        result = screen.query_one(ResultsPanel).result
        assert result is not None and result.mode == "run"
        visible = [c.id for c in question(RESNET).checks if c.visible]
        assert [t.check for t in result.tests] == visible and "gradients" not in visible
        lines = check_lines(screen)
        assert len(lines) == 4 and not any("Gradients" in line or "(hidden)" in line for line in lines)
        # The detached shortcut fails only the hidden gradients check, so Run passes it: never "Accepted".
        assert verdict_text(screen).startswith("Visible checks pass  4/4 checks passed")
        assert "Submit (ctrl+s) runs the 1 hidden check too" in verdict_text(screen)
        assert "Accepted" not in verdict_text(screen)
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert (attempt.mode, attempt.verdict) == ("run", "accepted")
        assert store_of(app).status(PACK, RESNET) == "attempted", "an accepted Run does not solve"
        assert markdown_source(screen, "#reveal") == ""
        # Submit runs the hidden check too, and it catches the detached shortcut.
        await submit(pilot)
        assert verdict_text(screen).startswith("Wrong answer  4/5 checks passed")
        assert any("Gradients" in line and "(hidden)" in line for line in check_lines(screen))


@sync
async def test_leaving_while_grading_still_records_the_attempt(judged_app: QuizApp) -> None:
    app = judged_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        await load_answer(pilot, screen, RESNET_RIGHT["sequential-body-and-add-inplace"])
        # Submit, then leave at once (escape leaves, from the editor too).
        await pilot.press("ctrl+s", "escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert (attempt.mode, attempt.verdict) == ("submit", "accepted")
        assert store_of(app).status(PACK, RESNET) == "solved"


# --- fix ----------------------------------------------------------------------------------------------------------


@sync
async def test_fix_starter_is_wrong_and_solution_is_accepted(judged_app: QuizApp) -> None:
    app = judged_app
    fix = question("fix-layer-registry")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, fix.id)
        assert screen.query_one("#answer", TextArea).text == fix.starter
        assert f"Define `{fix.signature}`." in markdown_source(screen, "#prompt")
        await submit(pilot)
        # The starter keeps its layers in a plain list: the checks fail, as a wrong answer or a runtime error.
        assert verdict_text(screen).startswith(("Wrong answer", "Runtime error")), verdict_text(screen)
        assert "not registered" in verdict_text(screen) + "\n".join(check_lines(screen))
        await load_answer(pilot, screen, fix.solution)
        await submit(pilot)
        assert verdict_text(screen).startswith("Accepted"), verdict_text(screen)
        attempts = store_of(app).attempts(PACK, fix.id)
        assert [(a.kind, a.verdict) for a in attempts][0] == ("fix", "accepted")
        assert attempts[1].verdict in ("wrong_answer", "runtime_error")
        assert attempts[1].answer == fix.starter and attempts[0].answer == fix.solution


# --- explain ------------------------------------------------------------------------------------------------------


@sync
async def test_explain_reveals_the_model_answer_then_records_the_ticked_score() -> None:
    app = offline_app()
    explain = question("resnet-module-or-sequential")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, explain.id)
        rubric = screen.query_one("#rubric", SelectionList)
        assert not rubric.display, "the rubric stays hidden until the learner has written something"
        await submit(pilot)
        assert "Write your explanation first." in notifications(app)
        assert markdown_source(screen, "#reveal") == ""

        await type_text(pilot, "Skip needs x.")
        await submit(pilot)
        assert rubric.display
        assert app.focused is rubric
        reveal = markdown_source(screen, "#reveal")
        assert reveal.startswith("## Model answer")
        assert explain.model_answer.strip()[:40] in markdown_source(screen, "#reveal")
        assert [str(rubric.get_option_at_index(i).prompt) for i in range(rubric.option_count)] == [
            p.text.strip() for p in explain.rubric
        ]
        assert "tick the points" in verdict_text(screen)
        assert store_of(app).attempts(PACK, explain.id) == [], "the first Submit only reveals"

        ticked = {"sequential-is-a-chain", "skip-needs-input"}
        await tick(pilot, rubric, ticked)
        await submit(pilot)
        [attempt] = store_of(app).attempts(PACK, explain.id)
        # Two of five points: under half, so not accepted (and not solved), whatever was written.
        assert (attempt.kind, attempt.verdict, attempt.score) == ("explain", "wrong_answer", pytest.approx(2 / 5))
        assert attempt.answer == "Skip needs x."
        passed = {t["name"] for t in attempt.result_json["tests"] if t["status"] == "pass"}
        assert passed == ticked
        assert verdict_text(screen).startswith("Wrong answer  2/5 checks passed")
        assert store_of(app).status(PACK, explain.id) == "attempted"


@sync
async def test_explain_with_nothing_ticked_scores_zero() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_question(pilot, "functional-calls-lost")
        await type_text(pilot, "?")
        await submit(pilot)
        await submit(pilot)
        [attempt] = store_of(app).attempts(PACK, "functional-calls-lost")
        assert attempt.score == 0
        assert attempt.verdict == "wrong_answer", '"?" with nothing ticked is not accepted'
        assert all(t["status"] == "fail" for t in attempt.result_json["tests"])
        assert store_of(app).status(PACK, "functional-calls-lost") != "solved"
        await pilot.press("escape")
        await pilot.pause()
        assert table_rows(app)[f"{PACK}/functional-calls-lost"][0] == "◐"


# --- hints, solution, reset -----------------------------------------------------------------------------------


@sync
async def test_hints_one_at_a_time_counted_then_no_more() -> None:
    app = offline_app()
    target = question("module-sequential-modulelist")
    assert len(target.hints) == 2
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        assert markdown_source(screen, "#hints") == ""
        await pilot.press("ctrl+t")
        await pilot.pause()
        hints = markdown_source(screen, "#hints")
        assert "**Hint 1.**" in hints and target.hints[0].strip() in hints and "Hint 2" not in hints
        assert store_of(app).hints_revealed(PACK, target.id) == 1
        assert "Hint 1 of 2" in notifications(app)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert target.hints[1].strip() in markdown_source(screen, "#hints")
        assert store_of(app).hints_revealed(PACK, target.id) == 2
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "No more hints." in notifications(app)
        assert store_of(app).hints_revealed(PACK, target.id) == 2
        # The attempt counts the hints used; reopening shows them again.
        await pick(pilot, screen, {"a"})
        await submit(pilot)
        [attempt] = store_of(app).attempts(PACK, target.id)
        assert attempt.hints_used == 2
        await pilot.press("escape")
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        assert target.hints[1].strip() in markdown_source(screen, "#hints")


@sync
async def test_solution_before_passing_asks_cancel_records_nothing_confirm_records_gave_up() -> None:
    app = offline_app()
    target = question("fixed-hidden-mlp-params")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        # Cancelled, with escape or n: nothing shown, nothing recorded.
        for cancel in ("escape", "n"):
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(cancel)
            await pilot.pause()
            assert app.screen is screen
            assert markdown_source(screen, "#reveal") == ""
            assert not store_of(app).gave_up(PACK, target.id)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # Enter answers the dialog: the learner asked for the solution
        await pilot.pause()
        assert app.screen is screen
        reveal = markdown_source(screen, "#reveal")
        assert reveal.startswith("## Solution (given up)")
        assert target.answer.strip() in reveal and "## Why" in reveal
        assert store_of(app).gave_up(PACK, target.id)
        assert store_of(app).status(PACK, target.id) == "new", "giving up alone is not an attempt"
        # Reopening keeps the solution shown.
        await pilot.press("escape")
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        reveal = markdown_source(screen, "#reveal")
        assert reveal.startswith("## Solution (given up)") and target.answer.strip() in reveal


@sync
async def test_reset_restores_the_starter_and_clears_the_draft() -> None:
    app = offline_app()
    target = question("my-sequential")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        editor = screen.query_one("#answer", TextArea)
        await type_text(pilot, "# t\n")
        assert editor.text == "# t\n" + target.starter
        screen.save_draft()
        assert store_of(app).draft(PACK, target.id).text == editor.text
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # cancelled: the answer stays
        await pilot.pause()
        assert editor.text == "# t\n" + target.starter
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#yes")
        await pilot.pause()
        assert app.screen is screen
        assert editor.text == target.starter
        assert store_of(app).draft(PACK, target.id) is None
        assert store_of(app).status(PACK, target.id) == "new"


# --- drafts -------------------------------------------------------------------------------------------------------


@sync
async def test_a_draft_survives_quitting_and_a_new_app() -> None:
    target = question("mlp-stack")
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        await type_text(pilot, "# d\n")
        screen.save_draft()  # what the 2-second autosave does
        assert store_of(app).draft(PACK, target.id).text == "# d\n" + target.starter
        # Typed after the last autosave, then quit at once: ctrl+q saves it too (it once did not).
        await type_text(pilot, "# q\n")
        typed = screen.query_one("#answer", TextArea).text
        assert typed == "# d\n# q\n" + target.starter
        await pilot.press("ctrl+q")
    assert app.return_code == 0

    again = offline_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert table_rows(again)[f"{PACK}/{target.id}"][0] == "◐"
        screen = await open_question(pilot, target.id)
        editor = screen.query_one("#answer", TextArea)
        assert editor.text == typed
        assert any(n.startswith("Your draft is restored") for n in notifications(again))
        last = editor.document.line_count - 1
        assert editor.cursor_location == (last, len(editor.document[last])), "typing goes after the old text"


@sync
async def test_escape_saves_the_draft_for_the_next_run() -> None:
    target = question("plain-list-param-count")
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_question(pilot, target.id)
        await type_text(pilot, "262?")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert store_of(app).draft(PACK, target.id).text == "262?"
        assert table_rows(app)[f"{PACK}/{target.id}"][0] == "◐"
        await pilot.press("ctrl+q")

    again = offline_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        assert screen.query_one("#answer", TextArea).text == "262?"


@sync
async def test_the_palette_keeps_what_was_typed() -> None:
    target = question("my-sequential")
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = await open_question(pilot, target.id)
        await type_text(pilot, "# a\n")
        again = await open_question(pilot, target.id)  # what choosing it in the palette does
        assert again is first, "the open question is not opened a second time"
        assert again.query_one("#answer", TextArea).text == "# a\n" + target.starter
        # Another question from the palette: the one being edited is saved first, and the new one takes its place,
        # so escape goes back to the list, as the help says (it went back to the first question, and a learner's
        # next key was typed into its answer: a new user's report).
        await open_question(pilot, "mlp-stack")
        assert store_of(app).draft(PACK, target.id).text == "# a\n" + target.starter
        await pilot.press("escape")  # leave mlp-stack, from its code editor
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen), app.screen
        assert first not in app.screen_stack


# --- history ------------------------------------------------------------------------------------------------------


@sync
async def test_history_lists_attempts_newest_first_and_shows_the_highlighted_answer() -> None:
    app = offline_app()
    target = question("fixed-hidden-mlp-params")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, target.id)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.screen.query_one("#attempt-answer", TextArea).text == "No attempts yet."
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await type_text(pilot, "420 1")
        await submit(pilot)
        screen.query_one("#answer", TextArea).clear()
        await type_text(pilot, "420 2")
        await submit(pilot)
        await pilot.press("ctrl+l")
        await pilot.pause()
        history = app.screen
        assert isinstance(history, HistoryScreen)
        assert static_text(history.query_one("#history-title", Static)) == f"History: {target.title}"
        table = history.query_one("#attempts", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [row[1:3] for row in rows] == [["submit", "accepted"], ["submit", "wrong"]]
        answer = history.query_one("#attempt-answer", TextArea)
        assert answer.text == "420 2", "the newest attempt is highlighted first"
        shown = history.query_one("#attempt-result", ResultsPanel)
        assert static_text(shown.query_one("#verdict", Static)).startswith("Accepted")
        await pilot.press("down")
        await pilot.pause()
        assert answer.text == "420 1"
        assert static_text(shown.query_one("#verdict", Static)).startswith("Wrong answer")
        assert "2 attempts" in static_text(history.query_one("#status-line", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


# --- results: jump to a line ------------------------------------------------------------------------------------


@sync
async def test_selecting_a_check_with_a_line_moves_the_editor_cursor(judged_app: QuizApp) -> None:
    code, verdict, _check, _words = RESNET_WRONG["batchnorm-on-the-wrong-channels"]
    assert verdict == "runtime_error"
    app = judged_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        editor = await load_answer(pilot, screen, code)
        await submit(pilot)
        assert verdict_text(screen).startswith("Runtime error")
        result = screen.query_one(ResultsPanel).result
        assert result is not None
        index, test = next((i, t) for i, t in enumerate(result.tests) if t.line)
        assert code.splitlines()[test.line - 1].strip() == "out = F.relu(self.bn1(self.conv1(x)))"
        assert editor.cursor_location[0] != test.line - 1
        checks = screen.query_one(ResultsPanel).query_one("#checks", OptionList)
        assert f"→ line {test.line}" in str(checks.get_option_at_index(index).prompt)
        checks.focus()
        await pilot.pause()
        checks.highlighted = index
        await pilot.press("enter")
        await pilot.pause()
        assert editor.cursor_location[0] == test.line - 1
        assert app.focused is editor
        details = static_text(screen.query_one(ResultsPanel).query_one("#details", Static))
        assert "RuntimeError: running_mean should contain" in details


@sync
async def test_a_syntax_error_moves_the_cursor_to_its_line(judged_app: QuizApp) -> None:
    app = judged_app
    broken = RESNET_RIGHT["identity-and-functional-relu"].replace("def forward(self, x):", "def forward(self, x)")
    line = broken.splitlines().index("    def forward(self, x)") + 1
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_question(pilot, RESNET)
        editor = await load_answer(pilot, screen, broken)
        await submit(pilot, "ctrl+r")
        assert verdict_text(screen).startswith("Syntax error")
        assert f"line {line}" in verdict_text(screen)
        assert editor.cursor_location[0] == line - 1
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert (attempt.mode, attempt.verdict) == ("run", "syntax_error")


# --- command palette, help -------------------------------------------------------------------------------------


@sync
async def test_the_command_palette_opens_a_question_by_a_word_of_its_title() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "chimera")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuestionScreen)
        assert screen.question.id == "chimera-parameters"
        # The palette also offers the screen's own actions by their footer names.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "hint")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is screen
        assert store_of(app).hints_revealed(PACK, "chimera-parameters") == 1
        assert "**Hint 1.**" in markdown_source(screen, "#hints")


@sync
async def test_help_opens_and_closes() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        home = app.screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "ctrl+s" in app.screen.query_one(Markdown).source
        await pilot.press("f1")  # f1 again closes it rather than stacking a second help
        await pilot.pause()
        assert app.screen is home
        # From a question, too.
        screen = await open_question(pilot, "lazy-linear-shapes")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


@sync
async def test_a_grading_failure_shows_an_internal_error_not_a_traceback() -> None:
    """With no judge, a code question's Submit says the judge could not start."""

    def broken_pool() -> Any:
        raise OSError("no workers today")

    app = QuizApp(services=Services(fixture_catalogue(), Store.open_default(), pool_factory=broken_pool))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(100):  # the judge starts just after the first frame; its failure shows soon after
            if "judge: unavailable" in static_text(app.screen.query_one("#status-line", Static)):
                break
            await pilot.pause(0.05)
        assert "judge: unavailable" in static_text(app.screen.query_one("#status-line", Static))
        screen = await open_question(pilot, RESNET)
        await load_answer(pilot, screen, RESNET_RIGHT["identity-and-functional-relu"])
        await submit(pilot)
        assert verdict_text(screen).startswith("Internal error (not your fault)")
        assert "no workers today" in verdict_text(screen)
        [attempt] = store_of(app).attempts(PACK, RESNET)
        assert attempt.verdict == "internal_error"


@sync
async def test_a_question_opens_in_one_layout_with_nothing_held_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a question holds the paints in a batch until the screen has settled, with the garbage collector
    paused: both must be released once it is on screen, the screen laid out a few times rather than once per part,
    the answer focused from the start (the prompt pane, with every block of the prompt, never focused and left),
    and the hints and solution panes not made until asked for."""
    import gc

    from textual.screen import Screen

    layouts: list[str] = []
    focused: list[str] = []
    refresh_layout = Screen._refresh_layout

    def counted(screen: Screen, *args: Any, **kwargs: Any) -> None:
        layouts.append(type(screen).__name__)
        refresh_layout(screen, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        layouts.clear()
        screen = await open_question(pilot, RESNET)
        screen.watch(screen, "focused", lambda widget: focused.append(getattr(widget, "id", None) or ""))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app._batch_count, "the paints are no longer held"
        assert gc.isenabled()
        assert screen.focused is screen.query_one("#answer")
        assert "prompt-pane" not in focused
        assert layouts.count("QuestionScreen") <= 3, layouts  # five to eleven when each part laid it out again
        assert not screen.query("#hints") and not screen.query("#reveal")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "**Hint 1.**" in markdown_source(screen, "#hints")
        assert not screen.query("#reveal")


# --- the highlighted question, built ahead of time -------------------------------------------------------------

PREDICT = "sequential-extraction"


async def highlight_and_wait_for_prebuild(pilot: Pilot, question_id: str) -> QuestionScreen:
    """Put the list's cursor on `question_id` and wait (at most 20 s) until the app has built its screen out of
    sight and laid it out at the terminal's size."""
    app: QuizApp = pilot.app  # type: ignore[assignment]
    app.screen.query_one(QuestionList).move_to(f"{PACK}/{question_id}")
    for _ in range(400):
        await pilot.pause(0.05)
        screen = app._prebuilt
        if (
            screen is not None
            and app._prebuilt_key == f"{PACK}/{question_id}"
            and screen.outer_size == app.size
            and not any(worker.group == "prebuild" and not worker.is_finished for worker in app.workers)
        ):
            return screen
    raise AssertionError(f"{question_id}'s screen was never built ahead")


def notified(app: QuizApp) -> list[str]:
    return [notification.message for notification in app._notifications]


@sync
async def test_enter_shows_the_screen_built_while_the_learner_was_on_the_list() -> None:
    """The highlighted row's screen is composed and laid out while the list is on screen (nothing of it shows: no
    'draft restored' note over the list); Enter shows that very screen, with the stored draft, and only then says
    the draft is restored."""
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        store_of(app).save_draft(PACK, PREDICT, "Linear(4, 8)\n")
        built = await highlight_and_wait_for_prebuild(pilot, PREDICT)
        assert isinstance(app.screen, HomeScreen)
        assert not any("draft is restored" in message for message in notified(app))
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is built
        assert app.screen.query_one("#answer", TextArea).text == "Linear(4, 8)\n"
        assert any("draft is restored" in message for message in notified(app))
        assert app._prebuilt is None  # taken, not kept for another Enter


@sync
async def test_a_screen_built_ahead_is_not_shown_once_its_draft_changed_in_the_store() -> None:
    """A screen built for the highlighted row whose draft then changes in the store (another process, a grade
    recorded meanwhile) is dropped: Enter builds the screen again, with the new draft."""
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        store_of(app).save_draft(PACK, PREDICT, "old text\n")
        built = await highlight_and_wait_for_prebuild(pilot, PREDICT)
        assert built.query_one("#answer", TextArea).text == "old text\n"
        store_of(app).save_draft(PACK, PREDICT, "new text\n")
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen) and app.screen is not built
        assert app.screen.question.id == PREDICT
        assert app.screen.query_one("#answer", TextArea).text == "new text\n"
        assert not built.is_attached  # the stale one is gone, not left mounted out of sight


@sync
async def test_moving_the_cursor_builds_the_new_rows_screen_and_drops_the_old_one() -> None:
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        first = await highlight_and_wait_for_prebuild(pilot, RESNET)
        second = await highlight_and_wait_for_prebuild(pilot, PREDICT)
        await app.workers.wait_for_complete()
        assert not first.is_attached and second.is_attached
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is second and app.screen.question.id == PREDICT
        await pilot.press("escape")  # back on the list, the row under the cursor is built again
        await pilot.pause()
        again = await highlight_and_wait_for_prebuild(pilot, PREDICT)
        assert again is not second and isinstance(app.screen, HomeScreen)


@sync
async def test_a_screen_dropped_while_it_is_still_being_built_does_not_break_the_app() -> None:
    """The cursor leaves a row while its screen is still composing: that screen is dropped once it has mounted (not
    under its own on_mount, which would fail and end the app), and the new row's screen is built."""
    app = offline_app()
    async with app.run_test(size=SIZE) as pilot:
        await highlight_and_wait_for_prebuild(pilot, PREDICT)
        table = app.screen.query_one(QuestionList)
        table.move_to(f"{PACK}/{RESNET}")
        await pilot.pause()
        app._start_prebuild(f"{PACK}/{RESNET}")  # at once, as the timer would
        for _ in range(1000):  # until its worker has made the screen, not yet mounted
            await asyncio.sleep(0)
            if app._prebuilt is not None:
                break
        composing = app._prebuilt
        assert composing is not None and not composing.is_mounted
        table.move_to(f"{PACK}/{PREDICT}")  # before it has mounted
        built = await highlight_and_wait_for_prebuild(pilot, PREDICT)
        await app.workers.wait_for_complete()
        assert not composing.is_attached
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is built and app.screen.question.id == PREDICT


@sync
async def test_a_student_build_has_no_solution_to_give_up_for(tmp_path: Path) -> None:
    """F3 before a pass in a student build used to record "given up" and then say there was no solution
    (a choice question showed its options with no marks). It now says so and records nothing."""
    from quizapp.cli import main

    student = tmp_path / "student.yaml"
    assert main(["build", str(FIXTURE), "--student", "-o", str(student)]) == 0
    app = QuizApp(services=Services(discover([student], include_defaults=False), Store.open_default(), None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_question(pilot, "module-sequential-modulelist")
        await pilot.press("f3")
        await pilot.pause()
        assert app.screen is screen, "no dialog: there is nothing to confirm"
        assert markdown_source(screen, "#reveal") == ""
        assert not store_of(app).gave_up(PACK, "module-sequential-modulelist")
        assert any("no solutions" in str(n.message) for n in app._notifications), list(app._notifications)
