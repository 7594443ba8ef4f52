"""The home screen's question list (a Line API widget): what it draws, its cursor, and what selects a row."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from quizapp.tui.widgets.question_list import QuestionList, fit

COLUMNS = (("", 1), ("kind", 7), ("level", 6), ("min", 3), ("question", 0))
ROWS = [(f"pack/q{i}", ("·", "code", "easy", "5", f"Question number {i}")) for i in range(50)]
LONG = "A title far too long to fit beside the other columns of an eighty-column terminal, by a wide margin"


class ListApp(App[None]):
    def __init__(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        super().__init__()
        self.rows = rows
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield QuestionList(COLUMNS, id="questions")

    def on_mount(self) -> None:
        self.query_one(QuestionList).set_rows(self.rows)
        self.query_one(QuestionList).focus()

    def on_question_list_selected(self, event: QuestionList.Selected) -> None:
        self.selected.append(event.key)


def screen_lines(app: App[None]) -> list[str]:
    widget = app.query_one(QuestionList)
    return [widget.render_line(y).text for y in range(widget.scrollable_content_region.height)]


def test_fit_pads_or_cuts_with_an_ellipsis() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc…"
    assert fit("日本語", 4) == "日 …"  # wide characters count by cells: 2 + 1 + 1
    assert fit("abc", 0) == ""


def test_header_then_rows_with_the_title_cut_to_the_width() -> None:
    async def run() -> list[str]:
        app = ListApp([("p/long", ("◐", "fix", "hard", "12", LONG)), *ROWS[:3]])
        async with app.run_test(size=(80, 10)):
            return screen_lines(app)

    lines = asyncio.run(run())
    assert lines[0].split() == ["kind", "level", "min", "question"]
    assert lines[1].startswith(" ◐  fix      hard    12   A title far too long")
    assert lines[1].rstrip().endswith("…")
    assert all(len(line) == len(lines[0]) for line in lines)  # exactly the width: nothing scrolls sideways
    assert LONG not in "".join(lines)
    assert lines[2].startswith(" ·  code     easy    5    Question number 0")


def test_keys_move_the_cursor_and_keep_it_on_screen() -> None:
    async def run() -> None:
        app = ListApp(ROWS)
        async with app.run_test(size=(80, 12)) as pilot:
            table = app.query_one(QuestionList)
            visible = table.scrollable_content_region.height - 1
            await pilot.press("down", "down")
            assert table.cursor_row == 2 and table.cursor_key == "pack/q2"
            await pilot.press("pagedown")
            assert table.cursor_row == 2 + visible
            row = f" ·  code     easy    5    Question number {2 + visible} "
            assert any(line.startswith(row) for line in screen_lines(app))
            await pilot.press("end")
            assert table.cursor_row == 49
            assert screen_lines(app)[-1].startswith(" ·  code     easy    5    Question number 49 ")
            await pilot.press("home")
            assert table.cursor_row == 0 and table.scroll_y == 0
            await pilot.press("up")  # stays at the first row
            assert table.cursor_row == 0

    asyncio.run(run())


def test_enter_and_a_second_click_select_the_row() -> None:
    async def run() -> list[str]:
        app = ListApp(ROWS)
        async with app.run_test(size=(80, 12)) as pilot:
            await pilot.press("down", "enter")
            await pilot.click(QuestionList, offset=(10, 4))  # the header is line 0: line 4 is the fourth row
            await pilot.pause()
            assert app.query_one(QuestionList).cursor_row == 3
            assert app.selected == ["pack/q1"]  # the first click only highlights
            await pilot.click(QuestionList, offset=(10, 4))
            await pilot.pause()
            await pilot.click(QuestionList, offset=(10, 0))  # the header selects nothing
            await pilot.pause()
            return app.selected

    assert asyncio.run(run()) == ["pack/q1", "pack/q3"]


def test_new_rows_keep_the_cursor_on_the_same_key() -> None:
    async def run() -> None:
        app = ListApp(ROWS)
        async with app.run_test(size=(80, 12)) as pilot:
            table = app.query_one(QuestionList)
            await pilot.press("down", "down", "down")
            table.set_rows(ROWS[2:], keep=table.cursor_key)  # two rows above it filtered out
            assert table.cursor_key == "pack/q3" and table.cursor_row == 1
            table.set_rows(ROWS[10:12], keep="pack/q3")  # gone: the cursor stays within the rows
            assert table.cursor_row == 1 and table.cursor_key == "pack/q11"
            table.set_rows([], keep=None)
            assert table.cursor_key is None and table.row_count == 0
            await pilot.press("enter", "down")
            assert app.selected == []

    asyncio.run(run())
