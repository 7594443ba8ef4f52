"""A question's attempts, newest first, and the answer and result of the one selected."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TextArea

from ...grading.result import Result
from ...packs import model
from ...practice.reference import plural
from ...practice.report import SHORT_VERDICT
from ...practice.sheet import visible_only_pass
from ..widgets.footer import KeysFooter
from ..widgets.results import ResultsPanel
from ..widgets.status import StatusLine


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, pack: model.Pack, question: model.AnyQuestion) -> None:
        super().__init__()
        self.pack = pack
        self.question = question

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"History: {self.question.title}", id="history-title")
        with Horizontal(id="history-body"):
            yield DataTable(id="attempts", cursor_type="row")
            with Vertical(id="attempt-pane"):
                yield TextArea("", id="attempt-answer", read_only=True, show_line_numbers=True)
                yield ResultsPanel(id="attempt-result")
        yield StatusLine(id="status-line")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when", "mode", "verdict", "score", "hints", "ms")
        self.set_class(self.size.width >= 120, "wide")
        store = self.app.services.store  # type: ignore[attr-defined]
        self.attempts = store.attempts(self.pack.id, self.question.id)
        for attempt in self.attempts:
            score = "" if attempt.score is None else f"{attempt.score:.0%}"
            result = Result.from_json(attempt.result_json)
            short = SHORT_VERDICT.get(attempt.verdict, "?")
            verdict = "visible ✓" if visible_only_pass(self.question, result) else short
            if attempt.gave_up and attempt.mode == "submit":
                verdict += " (gave up)"
            table.add_row(
                attempt.created_at.astimezone().strftime("%d %b %H:%M"),
                attempt.mode,
                verdict,
                score,
                str(attempt.hints_used),
                f"{attempt.duration_ms:.0f}",
                key=str(attempt.id),
            )
        self.query_one(StatusLine).context = plural(len(self.attempts), "attempt")
        if not self.attempts:
            self.query_one("#attempt-answer", TextArea).load_text("No attempts yet.")
        table.focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        attempt = next((a for a in self.attempts if str(a.id) == event.row_key.value), None)
        if attempt is None:
            return
        self.query_one("#attempt-answer", TextArea).load_text(attempt.answer)
        result = Result.from_json(attempt.result_json)
        self.query_one("#attempt-result", ResultsPanel).show(
            result, visible_only=visible_only_pass(self.question, result)
        )

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 120, "wide")

    def action_back(self) -> None:
        self.dismiss()
