"""Review: the questions spaced repetition says are due today, most overdue first."""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...practice import due
from ..widgets.footer import KeysFooter
from ..widgets.status import StatusLine


class ReviewScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Due for review: answer from memory. Each question opens fresh (no draft, no verdict, no solution);\n"
            "how you do sets when it comes back.",
            id="review-intro",
        )
        yield DataTable(id="review-due", cursor_type="row")
        yield StatusLine(id="status-line")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("due", "question", "kind", "pack")
        self.refill()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refill()

    def refill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
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
            table.add_row(when, question.title, question.kind, pack.id, key=f"{card.pack_id}/{card.question_id}")
        self.query_one(StatusLine).context = (
            f"{table.row_count} due for review" if table.row_count else "nothing due: come back tomorrow"
        )

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        pack_id, _, question_id = str(event.row_key.value).partition("/")
        self.app.open_question(pack_id, question_id, review=True)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.dismiss()
