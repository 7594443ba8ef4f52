"""A question's attempts, newest first, and the answer and result of the one selected."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TextArea

from ...grading.result import Result, TestResult
from ...packs import model
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
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when", "mode", "verdict", "score", "hints", "ms")
        store = self.app.services.store  # type: ignore[attr-defined]
        self.attempts = store.attempts(self.pack.id, self.question.id)
        for attempt in self.attempts:
            score = "" if attempt.score is None else f"{attempt.score:.0%}"
            table.add_row(
                attempt.created_at.astimezone().strftime("%d %b %H:%M:%S"),
                attempt.mode,
                attempt.verdict,
                score,
                str(attempt.hints_used),
                f"{attempt.duration_ms:.0f}",
                key=str(attempt.id),
            )
        self.query_one(StatusLine).context = f"{len(self.attempts)} attempt(s)"
        if not self.attempts:
            self.query_one("#attempt-answer", TextArea).load_text("No attempts yet.")
        table.focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        attempt = next((a for a in self.attempts if str(a.id) == event.row_key.value), None)
        if attempt is None:
            return
        self.query_one("#attempt-answer", TextArea).load_text(attempt.answer)
        self.query_one("#attempt-result", ResultsPanel).show(result_from_json(attempt.result_json))

    def action_back(self) -> None:
        self.dismiss()


def result_from_json(data: dict) -> Result:  # type: ignore[type-arg]
    """A Result rebuilt from its stored JSON (Result.to_json), enough to show it again."""
    tests = [
        TestResult(
            name=t.get("name", ""),
            status=t.get("status", "fail"),
            message=t.get("message", ""),
            visible=t.get("visible", True),
            check=t.get("check", ""),
            output=t.get("output", ""),
            line=t.get("line"),
        )
        for t in data.get("tests", [])
    ]
    return Result(
        data.get("verdict", "internal_error"),
        tests=tests,
        message=data.get("message", ""),
        duration_ms=data.get("duration_ms", 0.0),
        jail_mode=data.get("jail_mode", ""),
        mode=data.get("mode", "submit"),
        score=data.get("score"),
        stdout=data.get("stdout", ""),
        stderr=data.get("stderr", ""),
        traceback=data.get("traceback", ""),
    )
