"""Timed mock interviews: set-up, the overview with its clock, and the report.

The clock is the session's wall-clock deadline (practice/mock.py), read every second: a restart resumes it.
At zero, every answer not yet submitted is handed in as it stands, graded in a worker, and the report opens.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Digits,
    Header,
    Input,
    Label,
    Markdown,
    SelectionList,
    Static,
)
from textual.widgets.selection_list import Selection

from ...grading.result import Result
from ...practice import MockConfig, MockError, MockSession, load_report
from ...practice.reference import plural
from ...practice.report import screen_markdown
from ..widgets.footer import KeysFooter
from ..widgets.status import StatusLine
from .confirm import ConfirmScreen

KINDS = ("choice", "predict", "code", "fix", "explain")
TITLE_WIDTH = 40  # with the other columns, the overview fits 80 columns
SHORT_VERDICT = {
    "accepted": "✓ accepted",
    "wrong_answer": "✗ wrong",
    "runtime_error": "✗ error",
    "syntax_error": "✗ syntax",
    "time_limit": "✗ too slow",
    "memory_limit": "✗ memory",
    "output_limit": "✗ output",
    "internal_error": "! not graded",
}
LEVELS = ("easy", "medium", "hard")


def clock_text(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60:02d}:{whole % 60:02d}"


class MockSetupScreen(Screen[None]):
    """Choose what the mock interview is made of, then start it."""

    BINDINGS = [Binding("escape", "back", "Back"), Binding("ctrl+s", "start", "Start")]

    def compose(self) -> ComposeResult:
        packs = list(self.app.services.catalogue.packs.values())  # type: ignore[attr-defined]
        yield Header()
        with VerticalScroll(id="mock-setup"):
            yield Static("A mock interview: a clock, no solutions, a report at the end.", id="mock-intro")
            with Horizontal(classes="mock-row"):
                with Vertical(classes="mock-list packs"):
                    yield Label("Packs")
                    yield SelectionList[str](
                        *[Selection(p.title, p.id, True) for p in packs], id="mock-packs", compact=True
                    )
                with Vertical(classes="mock-list"):
                    yield Label("Kinds")
                    yield SelectionList[str](*[Selection(k, k, True) for k in KINDS], id="mock-kinds", compact=True)
                with Vertical(classes="mock-list"):
                    yield Label("Levels")
                    yield SelectionList[str](
                        *[Selection(level, level, True) for level in LEVELS], id="mock-levels", compact=True
                    )
            with Horizontal(classes="mock-row mock-numbers"):
                yield Label("Questions")
                yield Input("3", id="mock-count", type="integer", compact=True)
                yield Label("Minutes")
                yield Input("", id="mock-minutes", type="number", placeholder="estimates", compact=True)
                yield Label("Seed")
                yield Input("", id="mock-seed", type="integer", placeholder="random", compact=True)
            with Horizontal(classes="mock-row mock-switches"):
                yield Checkbox("Hints allowed", False, id="mock-hints", compact=True)
                yield Checkbox("Hide verdicts until hand-in", False, id="mock-hide", compact=True)
                yield Checkbox("Favour unsolved", True, id="mock-favour", compact=True)
            yield Button("Start (ctrl+s)", variant="primary", id="mock-start", compact=True)
        yield StatusLine(id="status-line")
        yield KeysFooter()

    def config(self) -> MockConfig:
        def number(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        minutes = number("#mock-minutes")
        seed = number("#mock-seed")
        extra = {"seed": int(seed)} if seed else {}
        return MockConfig(
            packs=tuple(self.query_one("#mock-packs", SelectionList).selected),
            count=int(number("#mock-count") or 0),
            kinds=tuple(self.query_one("#mock-kinds", SelectionList).selected),
            difficulties=tuple(self.query_one("#mock-levels", SelectionList).selected),
            total_seconds=float(minutes) * 60 if minutes else None,
            hints_allowed=self.query_one("#mock-hints", Checkbox).value,
            hide_verdicts=self.query_one("#mock-hide", Checkbox).value,
            prefer_unsolved=self.query_one("#mock-favour", Checkbox).value,
            **extra,
        )

    @on(Button.Pressed, "#mock-start")
    def action_start(self) -> None:
        try:
            config = self.config()
        except (MockError, ValueError) as error:
            self.notify(str(error), severity="error")
            return
        self.app.start_mock(config)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.dismiss()


class MockExpired(Message):
    """Every answer has been handed in and graded; the report is ready."""


class MockTimeUp(Message):
    """The clock reached zero (a question screen tells every screen; the overview ends the session)."""


class MockOverviewScreen(Screen[None]):
    """The mock's questions, the clock, and hand-in."""

    BINDINGS = [
        Binding("ctrl+e", "hand_in", "Hand in"),
        Binding("escape", "noop", show=False),
    ]

    def __init__(self, session: MockSession) -> None:
        super().__init__()
        self.session = session
        self.ending = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="mock-top"):
            yield Digits(clock_text(self.session.remaining()), id="mock-clock")
            yield Static(self._summary(), id="mock-summary")
        yield DataTable(id="mock-questions", cursor_type="row")
        yield StatusLine(id="status-line")
        yield KeysFooter()

    def _summary(self) -> str:
        done = sum(1 for q in self.session.questions if q.submitted)
        hints = "hints allowed" if self.session.config.hints_allowed else "no hints"
        hidden = ", verdicts in the report" if self.session.config.hide_verdicts else ""
        return (
            f"Mock interview: {len(self.session.questions)} questions, {done} handed in, {hints}{hidden}.\n"
            "Enter opens a question; ctrl+s in a question hands it in; ctrl+e hands everything in."
        )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "question", "kind", "state", "time")
        self.refill()
        self.set_interval(1.0, self.tick)
        # After the first refresh: a session resumed past its deadline ends at once, and popping this screen
        # while it is still mounting would pull its widgets from under their watchers.
        self.call_after_refresh(self.tick)
        table.focus()

    def on_screen_resume(self) -> None:
        self.refill()

    def refill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for number, question in enumerate(self.session.questions, 1):
            if question.submitted and self.session.config.hide_verdicts:
                state = "handed in"
            elif question.submitted:
                state = SHORT_VERDICT.get(question.verdict or "", "✗ handed in")
            elif self.session.time_spent(number - 1) > 0:
                state = "opened"
            else:
                state = "not started"
            spent = clock_text(self.session.time_spent(number - 1))
            title = question.title if len(question.title) <= TITLE_WIDTH else question.title[: TITLE_WIDTH - 1] + "…"
            table.add_row(str(number), title, question.kind, state, spent, key=str(number - 1))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.query_one("#mock-summary", Static).update(self._summary())

    def tick(self) -> None:
        remaining = self.session.remaining()
        self.query_one("#mock-clock", Digits).update(clock_text(remaining))
        self.query_one("#mock-clock").set_class(remaining < 60, "-last-minute")
        if remaining <= 0 and not self.ending and not self.session.finished:
            self.end("Time is up: every answer is handed in as it stands.")

    def end(self, message: str) -> None:
        self.ending = True
        self.notify(message, timeout=4)
        self.app.save_drafts()  # type: ignore[attr-defined]
        while isinstance(self.app.screen, Screen) and self.app.screen is not self:
            self.app.pop_screen()
        self.hand_in_all()

    @work(thread=True, exclusive=True, group="mock-end", exit_on_error=False)
    def hand_in_all(self) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        catalogue = services.catalogue.packs

        def grade(pack_id: str, question_id: str, text: str) -> Result:
            pack = catalogue[pack_id]
            question = pack.question(question_id)
            return services.grade(pack, question, _as_answer(question, text), "submit")

        if self.session.expired():
            self.session.expire(grade)
        else:
            self.session.finish(grade)
        self.post_message(MockExpired())

    @on(MockTimeUp)
    def _time_up(self) -> None:
        if not self.ending and not self.session.finished:
            self.end("Time is up: every answer is handed in as it stands.")

    @on(MockExpired)
    def _expired(self) -> None:
        self.app.show_mock_report(self.session.id)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if self.ending:
            return
        self.app.open_mock_question(self.session, int(str(event.row_key.value)))  # type: ignore[attr-defined]

    def action_hand_in(self) -> None:
        left = len(self.session.unsubmitted)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.end("Handed in.")

        self.app.push_screen(
            ConfirmScreen(
                f"Hand in now? {plural(left, 'answer')} not yet submitted will be graded as they stand.", "Hand in"
            ),
            confirmed,
        )

    def action_noop(self) -> None:
        self.notify("A mock interview ends when its clock does, or when you hand in (ctrl+e).", timeout=3)


class MockReportScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, report_id: str) -> None:
        super().__init__()
        self.report_id = report_id

    def compose(self) -> ComposeResult:
        store = self.app.services.store  # type: ignore[attr-defined]
        report = load_report(store, self.report_id)
        text = screen_markdown(report) if report else "The report is not ready yet."
        text += (
            f"\n\n---\n\nExport it with `quizapp report {self.report_id} --format html -o report.html` "
            "(or `md`, `json`)."
        )
        yield Header()
        with VerticalScroll(id="mock-report"):
            yield Markdown(text)
        yield StatusLine(id="status-line")
        yield KeysFooter()

    def action_back(self) -> None:
        self.app.go_home()  # type: ignore[attr-defined]


def _as_answer(question: object, text: str) -> str:
    """A draft as the grader takes it: choice drafts are stored as a JSON list of option ids."""
    from ...packs import model

    if isinstance(question, model.ChoiceQuestion):
        import json

        try:
            return " ".join(json.loads(text or "[]"))
        except ValueError:
            return text
    return text
