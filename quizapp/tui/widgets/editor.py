"""A Python editor: Textual's code editor with the indentation habits of one.

- Enter keeps the line's indentation, and indents one level more after a line ending in a colon (a line
  ending in `return`, `pass`, `break`, `continue` or `raise ...` dedents one level).
- Backspace in the leading whitespace removes one indentation level.
- ctrl+a selects all, ctrl+g asks for a line to go to; Tab indents, shift+tab dedents the line.
- Escape asks the screen to go back (one press), instead of only leaving the editor.
- Its key bindings run in the order the keys came, with the characters typed around them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from textual import events
from textual._tree_sitter import TREE_SITTER, get_language
from textual.binding import Binding
from textual.document._document_navigator import DocumentNavigator
from textual.document._syntax_aware_document import SyntaxAwareDocument
from textual.document._wrapped_document import WrappedDocument
from textual.message import Message
from textual.widgets import TextArea

INDENT = 4
# Compiled tree-sitter highlight queries by language. TextArea compiles its query for every document it makes (twice
# per editor), a tenth of a second each for Python: once per process is enough, since a Query is read-only.
_HIGHLIGHT_QUERIES: dict[str, Any] = {}
_QUERIES_LOCK = threading.Lock()
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


class AnswerBox(TextArea):
    """The answer box of predict and explain questions: a plain TextArea whose ctrl+a selects all, as in the
    code editor and as the help says (TextArea's own ctrl+a goes to the line's start)."""

    BINDINGS = [Binding("ctrl+a", "select_all", "Select all", show=False)]


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

    @classmethod
    def highlight_query(cls, language: str) -> Any:
        """The compiled highlight query of a built-in language (None without tree-sitter or the language); any
        thread may call it (the app's warm-up does, so that the first question opens as fast as the next)."""
        with _QUERIES_LOCK:
            if language not in _HIGHLIGHT_QUERIES:
                grammar = get_language(language) if TREE_SITTER else None
                source = cls._get_builtin_highlight_query(language)
                compiled = SyntaxAwareDocument("", grammar).prepare_query(source) if grammar else None
                _HIGHLIGHT_QUERIES[language] = compiled
            return _HIGHLIGHT_QUERIES[language]

    def _set_document(self, text: str, language: str | None) -> None:
        """TextArea's, with the highlight query compiled once per process instead of once per document."""
        if not (TREE_SITTER and language) or language in self._languages:
            super()._set_document(text, language)
            return
        query = self.highlight_query(language)
        grammar = get_language(language)
        if query is None or grammar is None:
            super()._set_document(text, language)
            return
        document = SyntaxAwareDocument(text, grammar)
        self._highlight_query = query
        self.document = document
        self.wrapped_document = WrappedDocument(document, tab_width=self.indent_width)
        self.navigator = DocumentNavigator(self.wrapped_document)
        self._build_highlight_map()
        self.move_cursor((0, 0))
        self._rewrap_and_refresh_virtual_size()

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
        if await self._run_own_binding(event.key):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _run_own_binding(self, key: str) -> bool:
        """Run this editor's binding for `key` now, in order with the keys typed around it. Textual runs a focused
        widget's bindings only once the key has bubbled up to the App, while typed characters are inserted at once:
        in a burst of keys (a fast typist on a busy machine, keys sent through tmux) ctrl+a then backspace deleted
        one character and only then selected everything."""
        for binding in self._bindings.key_to_bindings.get(key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                return True
        return False

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
