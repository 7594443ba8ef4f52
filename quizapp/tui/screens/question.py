"""One question: the prompt, an answer widget for its kind, Run and Submit, hints, the solution, drafts.

Grading runs in a thread worker; the result comes back as a message. Typing never waits on the judge.
Drafts are saved every few seconds and whenever the learner leaves, so a crash loses seconds at most.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Markdown, RadioButton, RadioSet, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection

from ...grading.result import Result
from ...packs import model
from ...practice import MockError, MockSession, record_outcome
from ..widgets.results import ResultsPanel
from ..widgets.status import StatusLine
from .confirm import ConfirmScreen

AUTOSAVE_SECONDS = 2.0


def _label(option: model.Option) -> str:
    """A one-line selector label: the option's id, then its text (the prompt shows the text in full)."""
    return f"{option.id}: {' '.join(option.text.split())}"


class Graded(Message):
    """A grading worker finished; handled on the UI thread."""

    def __init__(self, mode: str, answer: str, result: Result) -> None:
        super().__init__()
        self.mode = mode
        self.answer = answer
        self.result = result


class QuestionScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+s", "submit", "Submit"),
        Binding("ctrl+g", "hint", "Hint"),
        Binding("f3", "solution", "Solution"),
        Binding("ctrl+l", "history", "History"),
        Binding("ctrl+o", "external_editor", "$EDITOR"),
        Binding("f2", "reset", "Reset"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(
        self, pack: model.Pack, question: model.AnyQuestion, mock: MockSession | None = None, index: int = 0
    ) -> None:
        super().__init__()
        self.pack = pack
        self.question = question
        self.mock = mock  # in a mock interview: drafts and hints go to the session, no solution, a clock
        self.index = index
        self.started_at = datetime.now(UTC)
        self.saved_text: str | None = None
        self.awaiting_rubric = False
        self.solution_shown = False
        self.revealed: dict[str, str] = {}  # student builds: sealed texts a right answer opened
        self.graded_draft = ""

    # --- layout ----------------------------------------------------------------------------------------

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.app.services.store  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        question = self.question
        yield Header()
        with Horizontal(id="body"):
            with VerticalScroll(id="prompt-pane"):
                yield Static(self._heading(), id="question-heading")
                yield Markdown(self._prompt_markdown(), id="prompt")
                yield Markdown("", id="hints")
                yield Markdown("", id="reveal")
            with Vertical(id="answer-pane"):
                yield from self._answer_widgets(question)
        yield ResultsPanel(id="results")
        yield StatusLine(id="status-line")
        yield Footer()

    def _heading(self) -> str:
        q = self.question
        tags = f" · {', '.join(q.tags)}" if q.tags else ""
        return f"{q.title}\n{q.kind} · {q.difficulty} · about {q.minutes:g} min{tags}"

    def _prompt_markdown(self) -> str:
        q = self.question
        text = q.prompt.rstrip()
        if isinstance(q, model.PredictQuestion):
            text += f"\n\n```python\n{q.snippet.rstrip()}\n```\n\nType exactly what it prints."
        elif isinstance(q, model.CodeBase):
            text += f"\n\nDefine `{q.signature}`."
            if isinstance(q, model.FixQuestion) and q.defects:
                text += f" There are {q.defects} defects."
        elif isinstance(q, model.ChoiceQuestion):
            # The full options, wrapped by Markdown: the selector's one-line labels may be cut at 80 columns.
            text += "\n\n" + "\n".join(f"- **{o.id}**: {o.text.strip()}" for o in self._option_order())
            text += "\n\n*Select all that apply.*" if q.selects_many else "\n\n*Select one.*"
        return text

    def _answer_widgets(self, question: model.AnyQuestion) -> ComposeResult:
        if isinstance(question, model.CodeBase):
            yield TextArea.code_editor(question.starter, language="python", id="answer")
        elif isinstance(question, model.PredictQuestion):
            yield TextArea("", id="answer", show_line_numbers=False, placeholder="what the snippet prints")
        elif isinstance(question, model.ExplainQuestion):
            yield TextArea("", id="answer", soft_wrap=True, show_line_numbers=False, placeholder="your explanation")
            rubric = SelectionList[str](*[Selection(p.text.strip(), p.id) for p in question.rubric], id="rubric")
            rubric.display = False
            yield rubric
        else:
            options = self._option_order()
            if question.selects_many:
                yield SelectionList[str](*[Selection(_label(o), o.id) for o in options], id="options")
            else:
                with RadioSet(id="options"):
                    for option in options:
                        yield RadioButton(_label(option), name=option.id)

    def _option_order(self) -> list[model.Option]:
        assert isinstance(self.question, model.ChoiceQuestion)
        options = list(self.question.options)
        if self.question.shuffle:
            random.Random(f"{self.pack.id}/{self.question.id}").shuffle(options)  # stable for a learner
        return options

    # --- answer as text ------------------------------------------------------------------------------

    def answer_text(self) -> str:
        if isinstance(self.question, model.ChoiceQuestion):
            return json.dumps(self.selected_options())
        return self.query_one("#answer", TextArea).text

    def selected_options(self) -> list[str]:
        widget = self.query_one("#options")
        if isinstance(widget, SelectionList):
            return list(widget.selected)
        pressed = widget.pressed_button if isinstance(widget, RadioSet) else None
        return [pressed.name] if pressed is not None and pressed.name else []

    def set_answer_text(self, text: str) -> None:
        if isinstance(self.question, model.ChoiceQuestion):
            try:
                chosen = set(json.loads(text)) if text else set()
            except ValueError:
                chosen = set()
            widget = self.query_one("#options")
            if isinstance(widget, SelectionList):
                widget.deselect_all()
                for option_id in chosen:
                    widget.select(option_id)
            else:
                for button in widget.query(RadioButton):
                    button.value = button.name in chosen
            return
        editor = self.query_one("#answer", TextArea)
        editor.load_text(text)

    def starter_text(self) -> str:
        if isinstance(self.question, model.CodeBase):
            return self.question.starter
        if isinstance(self.question, model.ChoiceQuestion):
            return "[]"
        return ""

    # --- lifecycle -----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.mock is not None:
            self._mount_in_mock()
            return
        draft = self.store.draft(self.pack.id, self.question.id)
        if draft is not None:
            self.set_answer_text(draft.text)
            self.notify("Your draft is restored.", timeout=2)
        self.saved_text = self.answer_text()
        self._show_hints(self.store.hints_revealed(self.pack.id, self.question.id))
        solved = self.store.status(self.pack.id, self.question.id) == "solved"
        if solved or self.store.gave_up(self.pack.id, self.question.id):
            self._reveal(after_pass=solved)
        last = self.store.attempts(self.pack.id, self.question.id, limit=1)
        if last:
            from .history import result_from_json

            self.query_one(ResultsPanel).show(result_from_json(last[0].result_json))
        self.query_one(StatusLine).context = f"{self.pack.id}/{self.question.id}"
        self.set_interval(AUTOSAVE_SECONDS, self.save_draft)
        self.query_one("#answer, #options").focus()

    def _mount_in_mock(self) -> None:
        assert self.mock is not None
        item = self.mock.question(self.index)
        self.set_answer_text(item.draft)
        self.saved_text = self.answer_text()
        self._show_hints(item.hints_used)
        if item.result is not None:
            from .history import result_from_json

            self.query_one(ResultsPanel).show(result_from_json(item.result))
        self.mock.enter(self.index)
        self.mock_tick()
        self.set_interval(1.0, self.mock_tick)
        self.set_interval(AUTOSAVE_SECONDS, self.save_draft)
        self.query_one("#answer, #options").focus()

    def mock_tick(self) -> None:
        """The clock in the status line; at zero, or once handed in, the answer can no longer change."""
        assert self.mock is not None
        from .mock import clock_text

        remaining = self.mock.remaining()
        editable = self.mock.editable(self.index)
        state = "" if editable else ("  (handed in)" if self.mock.question(self.index).submitted else "  (time is up)")
        number = f"question {self.index + 1} of {len(self.mock.questions)}"
        self.query_one(StatusLine).context = f"mock interview: {clock_text(remaining)} left · {number}{state}"
        if not editable:
            self._lock()
        if remaining <= 0:
            overview = next((s for s in self.app.screen_stack if type(s).__name__ == "MockOverviewScreen"), None)
            if overview is not None and not overview.ending:  # type: ignore[attr-defined]
                overview.end("Time is up: every answer is handed in as it stands.")  # type: ignore[attr-defined]

    def _lock(self) -> None:
        for widget in self.query("#answer"):
            widget.read_only = True  # type: ignore[attr-defined]
        for widget in self.query("#options"):
            widget.disabled = True

    def on_unmount(self) -> None:
        self.save_draft()
        if self.mock is not None:
            self.mock.leave(self.index)

    def save_draft(self) -> None:
        if not self.is_mounted:
            return
        try:
            text = self.answer_text()
        except Exception:
            return
        if text == self.saved_text:
            return
        if self.mock is not None:
            if not self.mock.editable(self.index):
                return
            try:
                self.mock.save_draft(self.index, text)
            except MockError:  # the deadline passed between the check and the save
                return
        else:
            self.store.save_draft(self.pack.id, self.question.id, text, starter=self.starter_text())
        self.saved_text = text

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 120, "wide")

    # --- actions -------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.save_draft()
        self.dismiss()

    def action_run(self) -> None:
        if not isinstance(self.question, model.CodeBase):
            self.notify("Run is for code questions: Submit (ctrl+s) checks this answer.")
            return
        self._grade("run")

    def action_submit(self) -> None:
        if self.mock is not None and not self.mock.editable(self.index):
            self.notify("This answer is handed in." if self.mock.question(self.index).submitted else "Time is up.")
            return
        if isinstance(self.question, model.ExplainQuestion) and not self.awaiting_rubric:
            if not self.answer_text().strip():
                self.notify("Write your explanation first.", severity="warning")
                return
            self.awaiting_rubric = True
            self.query_one("#rubric").display = True
            self._reveal_model_answer()
            self.query_one(ResultsPanel).query_one("#verdict", Static).update(
                "Compare with the model answer, tick the points your answer made, then Submit again."
            )
            self.query_one("#rubric").focus()
            return
        self._grade("submit")

    def _grade(self, mode: str) -> None:
        self.save_draft()
        answer = self.answer_text()
        self.graded_draft = answer  # as the editor holds it (choice: a JSON list), for a mock's hand-in
        if isinstance(self.question, model.ChoiceQuestion):
            chosen = json.loads(answer)
            if not chosen:
                self.notify("Select an option first.", severity="warning")
                return
            answer = " ".join(chosen)
        ticked = list(self.query_one("#rubric", SelectionList).selected) if self.awaiting_rubric else []
        self.query_one(ResultsPanel).show_busy(mode)
        self.grade_in_background(mode, answer, ticked)

    @work(thread=True, exclusive=True, group="grade", exit_on_error=False)
    def grade_in_background(self, mode: str, answer: str, ticked: list[str]) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        try:
            result = services.grade(self.pack, self.question, answer, mode, ticked)
        except Exception as error:  # never a traceback from the judge on screen
            result = Result("internal_error", message=f"{type(error).__name__}: {error}")
        self.post_message(Graded(mode, answer, result))

    @on(Graded)
    def _graded(self, message: Graded) -> None:
        result = message.result
        self.query_one(ResultsPanel).show(result)
        if self.mock is not None:
            self._graded_in_mock(message)
            return
        hints = self.store.hints_revealed(self.pack.id, self.question.id)
        first_try = message.mode == "submit" and not any(
            a.mode == "submit" for a in self.store.attempts(self.pack.id, self.question.id, limit=None)
        )
        self.store.record_attempt(
            self.pack.id,
            self.question.id,
            kind=self.question.kind,
            mode=message.mode,
            answer=message.answer,
            result=result,
            hints_used=hints,
            started_at=self.started_at,
        )
        if message.mode == "submit":
            seconds = (datetime.now(UTC) - self.started_at).total_seconds()
            record_outcome(
                self.store,
                self.pack.id,
                self.question.id,
                result,
                hints_used=hints,
                seconds=seconds,
                first_try=first_try,
                minutes=self.question.minutes,
            )
        if result.verdict == "syntax_error" and result.line:
            self.post_message(ResultsPanel.JumpToLine(result.line))
        if message.mode == "submit" and result.passed:
            self.revealed = result.revealed
            self._reveal(after_pass=True)
            self.notify("Solved.", title=self.question.title, timeout=3)
        if self.awaiting_rubric:
            self.awaiting_rubric = False

    def _graded_in_mock(self, message: Graded) -> None:
        assert self.mock is not None
        if message.result.verdict == "syntax_error" and message.result.line:
            self.post_message(ResultsPanel.JumpToLine(message.result.line))
        if message.mode != "submit" or not self.mock.editable(self.index):
            return
        try:
            self.mock.submit(self.index, message.result, answer=self.graded_draft)
        except MockError as error:
            self.notify(str(error), severity="warning")
            return
        self.awaiting_rubric = False
        self._lock()
        self.notify("Handed in.", timeout=2)

    @on(TextArea.Changed, "#answer")
    @on(SelectionList.SelectedChanged, "#options")
    @on(RadioSet.Changed, "#options")
    def _answer_changed(self) -> None:
        """In a mock, every change is saved at once: when the clock runs out the answer is what was typed."""
        if self.mock is not None:
            self.save_draft()

    @on(ResultsPanel.JumpToLine)
    def _jump(self, message: ResultsPanel.JumpToLine) -> None:
        if not isinstance(self.question, model.CodeBase):
            return
        editor = self.query_one("#answer", TextArea)
        line = max(0, min(message.line - 1, editor.document.line_count - 1))
        editor.cursor_location = (line, 0)
        editor.focus()

    def action_hint(self) -> None:
        total = len(self.question.hints)
        if self.mock is not None:
            if not self.mock.config.hints_allowed:
                self.notify("No hints in this mock interview.")
                return
            if self.mock.question(self.index).hints_used >= total:
                self.notify("No more hints." if total else "This question has no hints.")
                return
            self._show_hints(self.mock.use_hint(self.index))
            return
        shown = self.store.hints_revealed(self.pack.id, self.question.id)
        if shown >= total:
            self.notify("No more hints." if total else "This question has no hints.")
            return
        shown = self.store.reveal_hint(self.pack.id, self.question.id)
        self._show_hints(shown)
        self.notify(f"Hint {shown} of {total}", timeout=2)

    def _show_hints(self, count: int) -> None:
        hints = self.question.hints[:count]
        text = "\n\n".join(f"**Hint {i}.** {hint.strip()}" for i, hint in enumerate(hints, 1))
        self.query_one("#hints", Markdown).update(text)

    def action_solution(self) -> None:
        if self.mock is not None:
            self.notify("No solutions during a mock interview: they are in practice mode afterwards.")
            return
        if self.solution_shown:
            self.query_one("#reveal").scroll_visible()
            return
        solved = self.store.status(self.pack.id, self.question.id) == "solved"

        def confirmed(yes: bool | None) -> None:
            if yes:
                if not solved:
                    self.store.give_up(self.pack.id, self.question.id)
                self._reveal(after_pass=solved)

        if solved:
            confirmed(True)
        else:
            self.app.push_screen(
                ConfirmScreen("Show the solution? The question will be recorded as given up.", "Show it"), confirmed
            )

    def _reveal_model_answer(self) -> None:
        assert isinstance(self.question, model.ExplainQuestion)
        points = "\n".join(f"- {p.text.strip()}" for p in self.question.rubric)
        self.query_one("#reveal", Markdown).update(
            f"## Model answer\n\n{self.question.model_answer}\n\n## Rubric: tick what your answer made\n\n{points}"
        )
        self.query_one("#reveal").scroll_visible()

    def _reveal(self, after_pass: bool) -> None:
        q = self.question
        parts = ["## Solution" if after_pass else "## Solution (given up)"]
        student = self.pack.build == "student"
        if isinstance(q, model.CodeBase):
            if q.solution:
                parts.append(f"```python\n{q.solution.rstrip()}\n```")
            else:
                parts.append("*The solution is not part of this student build.*")
        elif isinstance(q, model.PredictQuestion):
            if q.answer:
                parts.append(f"It prints:\n\n```text\n{q.answer.rstrip()}\n```")
        elif isinstance(q, model.ChoiceQuestion):
            for option in q.options:
                feedback = option.feedback or self.revealed.get(f"feedback:{option.id}")
                mark = "" if student else ("✓ " if option.correct else "✗ ")
                parts.append(f"- {mark}**{option.text.strip()}**" + (f" {feedback.strip()}" if feedback else ""))
        elif isinstance(q, model.ExplainQuestion):
            parts.append(q.model_answer)
        explanation = self.revealed.get("explanation", q.explanation)
        parts.append(f"## Why\n\n{explanation}")
        self.query_one("#reveal", Markdown).update("\n\n".join(parts))
        self.solution_shown = True

    def action_reset(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self.set_answer_text(self.starter_text())
                if self.mock is not None:
                    self.save_draft()  # the session's draft is the starter again
                    return
                self.store.clear_draft(self.pack.id, self.question.id)
                self.saved_text = self.answer_text()
                self.notify("Back to the starter.", timeout=2)

        self.app.push_screen(ConfirmScreen("Replace your answer with the starter?", "Reset"), confirmed)

    def action_history(self) -> None:
        if self.mock is not None:
            self.notify("History is for practice mode.")
            return
        from .history import HistoryScreen

        self.save_draft()
        self.app.push_screen(HistoryScreen(self.pack, self.question))

    def action_external_editor(self) -> None:
        if isinstance(self.question, model.ChoiceQuestion):
            return
        editor_command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        suffix = ".py" if isinstance(self.question, model.CodeBase) else ".txt"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{self.question.id}{suffix}"
            path.write_text(self.answer_text())
            try:
                with self.app.suspend():
                    subprocess.run([*shlex.split(editor_command), str(path)], check=False)
            except Exception as error:
                self.notify(f"Could not run {editor_command}: {error}", severity="error")
                return
            self.set_answer_text(path.read_text())
        self.save_draft()
