"""Review: the questions spaced repetition says are due today, most overdue first."""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Static

from ...practice import due
from ..widgets.footer import KeysFooter
from ..widgets.question_list import QuestionList
from ..widgets.status import StatusLine


class ReviewScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Due for review: answer from memory. Each question opens fresh (no draft, no verdict, no solution), "
            "and how you do sets when it comes back.",
            id="review-intro",
        )
        yield QuestionList(self._columns(4), id="review-due")
        yield StatusLine(id="status-line")
        yield KeysFooter()

    @staticmethod
    def _columns(pack_width: int) -> list[tuple[str, int]]:
        """The due time, the title (what the others leave, cut with "…"), the kind and the whole pack id."""
        return [("due", 12), ("question", 0), ("kind", 7), ("pack", max(pack_width, 4))]

    def on_mount(self) -> None:
        self.refill()
        self.query_one(QuestionList).focus()

    def on_screen_resume(self) -> None:
        self.refill()

    def refill(self) -> None:
        table = self.query_one(QuestionList)
        rows: list[tuple[str, tuple[str, ...]]] = []
        packs = self.app.services.catalogue.packs  # type: ignore[attr-defined]
        cards = [c for c in due(self.app.services.store) if c.pack_id in packs]  # type: ignore[attr-defined]
        for card in cards:
            pack = packs[card.pack_id]
            try:
                question = pack.question(card.question_id)
            except KeyError:
                continue  # the pack changed since: nothing to review
            local = card.due.astimezone()  # the learner's time zone
            when = local.strftime(
                "today %H:%M" if local.date() == datetime.now().astimezone().date() else "%d %b %H:%M"
            )
            rows.append((f"{card.pack_id}/{card.question_id}", (when, question.title, question.kind, pack.id)))
        table.columns = self._columns(max((len(cells[3]) for _, cells in rows), default=0))
        table.set_rows(rows, keep=table.cursor_key)
        self.query_one(StatusLine).context = (
            f"{table.row_count} due for review" if table.row_count else "nothing due: come back tomorrow"
        )

    @on(QuestionList.Selected)
    def _open(self, event: QuestionList.Selected) -> None:
        pack_id, _, question_id = event.key.partition("/")
        self.app.open_question(pack_id, question_id, review=True)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.dismiss()
