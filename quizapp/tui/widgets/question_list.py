"""The home screen's list of questions: a header line and one line per question, drawn line by line.

Textual's Line API: only the lines on screen are rendered, from plain strings, when they are shown. A DataTable
formats and measures every cell of every row as the rows are added (a rich measurement, with a fresh set of
console options, per cell) and renders each visible cell through rich: for the 99 built-in questions that was
about a tenth of a second of CPU before the first frame, as much as the rest of the home screen together. The
columns here have fixed widths but one, the title's, which takes the rest of the line and ends with "…" when a
title does not fit (so the list never scrolls sideways, and every other column stays in view at 80 columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

CELL_PADDING = 1  # blank cells either side of every column, as a DataTable has


def fit(text: str, width: int) -> str:
    """`text` in exactly `width` cells: padded, or cut with an ellipsis."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, max(width - 1, 0)) + "…" if width > 0 else ""


class QuestionList(ScrollView, can_focus=True):
    """Rows of plain-text cells, each row with a key; a cursor row; Enter (or a click on the cursor's row) selects.

    `columns` are (label, width) pairs; the first column of width 0 takes what the others leave."""

    class _RowMessage(Message):
        """A message about one row of the list, named by its key."""

        def __init__(self, question_list: QuestionList, key: str | None) -> None:
            super().__init__()
            self.question_list = question_list
            self.key = key

        @property
        def control(self) -> QuestionList:
            return self.question_list

    class Selected(_RowMessage):
        """A row was chosen (Enter, or a click on the highlighted row)."""

        key: str

    class Highlighted(_RowMessage):
        """The cursor moved to another row (or the rows changed under it); `key` is None when the list is empty."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    # The look of a DataTable with zebra stripes and a row cursor (its own rules, under our names).
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "question-list--header",
        "question-list--even-row",
        "question-list--cursor",
    }
    DEFAULT_CSS = """
    QuestionList {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .question-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .question-list--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .question-list--even-row {
            background: $surface-darken-1 40%;
        }
        & > .question-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .question-list--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .question-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True)

    def __init__(self, columns: Sequence[tuple[str, int]], **kwargs: str | None) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns = list(columns)
        self._rows: list[tuple[str, tuple[str, ...]]] = []
        self._index: dict[str, int] = {}

    # --- content -------------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self._rows]

    def row(self, index: int) -> tuple[str, ...]:
        return self._rows[index][1]

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None when the list is empty."""
        return self._rows[self.cursor_row][0] if self._rows else None

    def set_rows(self, rows: Sequence[tuple[str, tuple[str, ...]]], keep: str | None = None) -> None:
        """Replace every row (key, cells). The cursor goes to the row keyed `keep` if there is one, else stays at
        its index (within the new rows)."""
        self._rows = list(rows)
        self._index = {key: index for index, (key, _) in enumerate(self._rows)}
        self.virtual_size = Size(0, len(self._rows) + 1)  # the header line, then the rows
        wanted = self._index.get(keep, self.cursor_row) if keep is not None else self.cursor_row
        self.cursor_row = self._clamp(wanted)
        self.refresh()

    def move_to(self, key: str) -> None:
        if key in self._index:
            self.cursor_row = self._index[key]

    def _clamp(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1))

    # --- drawing -------------------------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        widths = [w for _, w in self.columns]
        rest = width - sum(widths) - 2 * CELL_PADDING * len(widths)
        if 0 in widths:
            widths[widths.index(0)] = max(rest, 0)
        return widths

    def _line(self, cells: Sequence[str], width: int) -> str:
        pad = " " * CELL_PADDING
        line = "".join(f"{pad}{fit(cell, w)}{pad}" for cell, w in zip(cells, self._widths(width), strict=False))
        return set_cell_size(line, width)  # exact, however narrow the list

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            style = self.get_component_rich_style("question-list--header")
            return Strip([Segment(self._line([label for label, _ in self.columns], width), style)], width)
        index = self.scroll_offset.y + y - 1
        base = self.rich_style
        if index >= len(self._rows):
            return Strip([Segment(" " * width, base)], width)
        style: Style = base
        if index % 2 == 0:
            style = style + self.get_component_rich_style("question-list--even-row")
        if index == self.cursor_row:
            style = style + self.get_component_rich_style("question-list--cursor")
        return Strip([Segment(self._line(self._rows[index][1], width), style)], width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rich_style_cache.clear()  # the cursor's colours follow focus

    # --- the cursor ----------------------------------------------------------------------------------------

    _highlighted: str | None = None

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        if self.cursor_key != self._highlighted:
            self._highlighted = self.cursor_key
            self.post_message(self.Highlighted(self, self._highlighted))

    def _visible_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _scroll_cursor_into_view(self) -> None:
        if not self._rows:
            return
        top = round(self.scroll_y)
        visible = self._visible_rows()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_cursor_into_view()

    def action_cursor_up(self) -> None:
        self.cursor_row = self._clamp(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.cursor_row = self._clamp(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.cursor_row = self._clamp(self.cursor_row - self._visible_rows())

    def action_page_down(self) -> None:
        self.cursor_row = self._clamp(self.cursor_row + self._visible_rows())

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = self._clamp(len(self._rows) - 1)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        """A click highlights a row; a click on the highlighted row opens it (as a DataTable does)."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = self.scroll_offset.y + offset.y - 1
        if not 0 <= index < len(self._rows):
            return
        event.stop()
        if index == self.cursor_row:
            self.action_select()
        else:
            self.cursor_row = index
