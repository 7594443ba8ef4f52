"""A Python editor: Textual's code editor with the indentation habits of one.

- Enter keeps the line's indentation, and indents one level more after a line ending in a colon (a line
  ending in `return`, `pass`, `break`, `continue` or `raise ...` dedents one level).
- Backspace in the leading whitespace removes one indentation level.
- ctrl+a selects all, ctrl+g asks for a line to go to; Tab indents, shift+tab dedents the line.
- Escape asks the screen to go back (one press), instead of only leaving the editor.
"""

from __future__ import annotations

import re

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

INDENT = 4
_DEDENT_AFTER = re.compile(r"^\s*(return\b.*|pass|break|continue|raise\b.*)\s*$")


def next_line_indent(line: str, indent: int = INDENT) -> str:
    """The indentation a new line after `line` starts with."""
    current = line[: len(line) - len(line.lstrip(" "))]
    code = line.split("#", 1)[0].rstrip() if "#" in line and "'" not in line and '"' not in line else line.rstrip()
    if code.endswith(":"):
        return current + " " * indent
    if _DEDENT_AFTER.match(code) and len(current) >= indent:
        return current[:-indent]
    return current


class PythonEditor(TextArea):
    """The answer editor for code and fix questions."""

    BINDINGS = [
        Binding("ctrl+a", "select_all", "Select all", show=False),
        Binding("home", "cursor_line_start", "Line start", show=False),
        Binding("ctrl+g", "go_to_line", "Go to line", show=False),
        Binding("shift+tab", "dedent", "Dedent", show=False),
    ]

    class Leave(Message):
        """Escape in the editor: the screen goes back."""

    class GoToLine(Message):
        """ctrl+g: the screen asks which line."""

    @classmethod
    def python(cls, text: str, **kwargs: object) -> PythonEditor:
        return cls.code_editor(text, language="python", **kwargs)  # type: ignore[arg-type, return-value]

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self.post_message(self.Leave())
            return
        if self.read_only:
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            row, column = self.cursor_location
            before = self.document[row][:column]
            start, end = self.selection
            self._replace_via_keyboard("\n" + next_line_indent(before), start, end)
            return
        if event.key == "backspace" and self.selection.is_empty:
            row, column = self.cursor_location
            before = self.document[row][:column]
            if column and not before.strip(" "):
                event.stop()
                event.prevent_default()
                width = (column - 1) % INDENT + 1
                self._replace_via_keyboard("", (row, column - width), (row, column))
                return
        await super()._on_key(event)

    def action_go_to_line(self) -> None:
        self.post_message(self.GoToLine())

    def go_to_line(self, line: int) -> None:
        """Move the cursor to the start of `line` (1-based, clamped to the document)."""
        row = max(0, min(line - 1, self.document.line_count - 1))
        self.cursor_location = (row, len(self.document[row]) - len(self.document[row].lstrip(" ")))
        self.scroll_cursor_visible(center=True)

    def action_dedent(self) -> None:
        if self.read_only:
            return
        row, column = self.cursor_location
        line = self.document[row]
        leading = len(line) - len(line.lstrip(" "))
        width = min(leading, (leading - 1) % INDENT + 1) if leading else 0
        if width:
            self.replace("", (row, 0), (row, width), maintain_selection_offset=False)
            self.cursor_location = (row, max(0, column - width))

    def cursor_to_end(self) -> None:
        """After a restored draft: typing continues where the text ends, not before it."""
        last = self.document.line_count - 1
        self.cursor_location = (last, len(self.document[last]))
