"""The options of a choice question, each lettered in the order shown, wrapped in full, inline code styled.

One widget for single and tick-all questions: Enter or space toggles the highlighted option; a single-select
question keeps at most one selected. Options are shown once (not also in the prompt).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...practice.reference import letter

_INLINE_CODE = re.compile(r"`([^`]+)`")


def inline_text(text: str, code_style: str = "bold") -> Text:
    """Markdown-ish text as Rich Text: `code` loses its backticks and is styled instead; whitespace folds."""
    folded = " ".join(text.split())
    result = Text()
    position = 0
    for match in _INLINE_CODE.finditer(folded):
        result.append(folded[position : match.start()])
        result.append(match.group(1), style=code_style)
        position = match.end()
    result.append(folded[position:])
    return result


class ChoiceList(OptionList):
    BINDINGS = [Binding("space", "select", "Toggle", show=False)]

    class Changed(Message):
        def __init__(self, choices: ChoiceList) -> None:
            super().__init__()
            self.choices = choices

        @property
        def control(self) -> ChoiceList:
            return self.choices

    def __init__(self, options: Sequence[tuple[str, str]], many: bool, **kwargs: object) -> None:
        """`options` as (option id, text) in display order; `many` for a tick-all question."""
        self.choices = list(options)
        self.many = many
        self.selected: list[str] = []
        self.locked = False
        super().__init__(
            *[Option(self._prompt(i, oid, text), id=oid) for i, (oid, text) in enumerate(options)], **kwargs
        )  # type: ignore[arg-type]

    def _prompt(self, index: int, option_id: str, text: str) -> Text:
        chosen = option_id in self.selected
        mark = ("☑" if chosen else "☐") if self.many else ("●" if chosen else "○")
        prompt = Text(f"{mark} {letter(index)}) ", style="bold" if chosen else "")
        prompt.append_text(inline_text(text))
        return prompt

    def letter_of(self, option_id: str) -> str:
        return next(letter(i) for i, (oid, _) in enumerate(self.choices) if oid == option_id)

    def set_selected(self, option_ids: Sequence[str]) -> None:
        known = {oid for oid, _ in self.choices}
        wanted = [oid for oid in option_ids if oid in known]
        self.selected = wanted if self.many else wanted[:1]
        self._redraw()

    def toggle(self, option_id: str) -> None:
        if self.locked:
            return
        if option_id in self.selected:
            self.selected.remove(option_id)
        elif self.many:
            self.selected.append(option_id)
        else:
            self.selected = [option_id]
        self._redraw()
        self.post_message(self.Changed(self))

    def _redraw(self) -> None:
        for index, (option_id, text) in enumerate(self.choices):
            self.replace_option_prompt(option_id, self._prompt(index, option_id, text))

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.toggle(event.option.id)
