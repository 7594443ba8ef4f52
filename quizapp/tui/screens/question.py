"""One question: the prompt, an answer widget for its kind, Run and Submit, hints, the solution, drafts.

The bookkeeping is a sheet's (practice/sheet.py): this screen shows what the sheet says and offers only the keys
that work for this question's kind and mode. Grading runs in a thread worker owned by the app (leaving the
question does not cancel it: its attempt is still recorded); the result comes back to the UI thread, and a
running grade can be cancelled (f4). Drafts are saved every few seconds and whenever the learner
leaves, so a crash loses seconds at most; a failing save is reported.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Markdown, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection
from textual.worker import Worker

from ...grading.result import Result
from ...packs import model
from ...practice.feedback import predict_feedback
from ...practice.reference import letter, plural
from ...practice.sheet import MockSheet, Outcome, PracticeSheet, SheetError
from ...store import Store
from ..widgets.choices import ChoiceList
from ..widgets.editor import AnswerBox, PythonEditor
from ..widgets.footer import KeysFooter
from ..widgets.prompt import PromptMarkdown
from ..widgets.results import ResultsPanel
from ..widgets.status import StatusLine
from .confirm import ConfirmScreen

AUTOSAVE_SECONDS = 2.0
TEXT_KINDS = ("code", "fix", "predict", "explain")


def chosen_options(draft: str) -> list[str]:
    """The option ids a choice draft (a JSON list) holds; none when it is empty or not a list."""
    try:
        chosen = json.loads(draft) if draft else []
    except ValueError:
        return []
    return [str(option) for option in chosen] if isinstance(chosen, list) else []


class Graded(Message):
    """What a grading worker hands to the UI thread when it finishes."""

    def __init__(self, mode: str, answer: str, draft: str, result: Result) -> None:
        super().__init__()
        self.mode = mode
        self.answer = answer  # as the grader took it
        self.draft = draft  # as the answer widget held it (choice: a JSON list of option ids)
        self.result = result


class MockClockTick(Message):
    """The mock's clock ran out while this question was open (posted by the screen to itself each second)."""


class QuestionScreen(Screen[None]):
    # The answer has the focus from the start: a focus that moves restyles the widget it leaves and every widget in
    # it (the prompt pane, which Textual's default would focus first, holds every block of the prompt).
    AUTO_FOCUS = "#answer, #options"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+s", "submit", "Submit"),
        Binding("ctrl+t", "hint", "Hint"),
        Binding("f3", "solution", "Solution"),
        Binding("f5", "zoom", "Zoom", show=False),
        Binding("f4", "cancel", "Cancel run"),
        Binding("f6", "next_pane", "Next pane", show=False, priority=True),
        Binding("ctrl+l", "history", "History", show=False),
        Binding("ctrl+o", "external_editor", "$EDITOR", show=False),
        Binding("f2", "reset", "Reset", show=False),
        Binding("ctrl+n", "next_question", "Next question", show=False),
        Binding("f8", "next_unsolved", "Next unsolved", show=False),
    ]

    def __init__(
        self,
        pack: model.Pack,
        question: model.AnyQuestion,
        mock: object | None = None,
        index: int = 0,
        review: bool = False,
        *,
        store: Store | None = None,
    ) -> None:
        """`store` keeps a practice sitting (a mock's `mock` session keeps its own)."""
        super().__init__()
        self.pack = pack
        self.question = question
        self.mock = mock  # a MockSession: drafts and hints go to the session, no solution, a clock
        self.index = index
        self.review = review
        # Made here, not on mount: the screen is composed with the draft, the hints shown and the footer's keys for
        # this kind and mode, so that its first layout is its last (see QuizApp.push_question).
        self.sheet: PracticeSheet | MockSheet
        if mock is not None:
            self.sheet = MockSheet(mock, index, question)  # type: ignore[arg-type]
        else:
            if store is None:
                raise ValueError("a practice question needs the progress store")
            self.sheet = PracticeSheet(store, pack, question, review=review)
        self.when_drawn: Callable[[], None] | None = None  # called once, after the first layout (set by the app)
        self._resumed_before = False
        self.awaiting_rubric = False
        self.solution_shown = False
        self.revealed: dict[str, str] = {}  # student builds: sealed texts a right answer opened
        self.grading: Worker[None] | None = None
        self._updating: dict[str, object] = {}  # Markdown updates not yet laid out, by selector
        self.add_class(f"kind-{question.kind}")

    # --- layout ----------------------------------------------------------------------------------------

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.app.services.store  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        question = self.question
        with Horizontal(id="body"):
            with VerticalScroll(id="prompt-pane"):
                yield Static(self._heading(), id="question-heading")
                yield PromptMarkdown(self._prompt_markdown(), id="prompt")
                # The hints (#hints) and the solution (#reveal) follow the prompt once asked for (`_set_markdown`).
            with Vertical(id="work"):
                with Vertical(id="answer-pane"):
                    yield from self._answer_widgets(question)
                yield ResultsPanel(id="results")
        yield StatusLine(id="status-line")
        yield KeysFooter(at_once=True)

    def _heading(self) -> str:
        q = self.question
        tags = f" · {', '.join(q.tags)}" if q.tags else ""
        mode = " · review" if self.review else ""
        return f"{q.title}\n{q.kind} · {q.difficulty} · about {q.minutes:g} min{tags}{mode}"

    def _prompt_markdown(self) -> str:
        q = self.question
        text = q.prompt.rstrip()
        if isinstance(q, model.PredictQuestion):
            text += f"\n\n```python\n{q.snippet.rstrip()}\n```\n\nType exactly what it prints."
        elif isinstance(q, model.CodeBase):
            text += f"\n\nDefine `{q.signature}`."
            if isinstance(q, model.FixQuestion) and q.defects:
                text += f" There {'is' if q.defects == 1 else 'are'} {plural(q.defects, 'defect')}."
        elif isinstance(q, model.ChoiceQuestion):
            text += "\n\n*Select all that apply.*" if q.selects_many else "\n\n*Select one.*"
        return text

    def _answer_widgets(self, question: model.AnyQuestion) -> ComposeResult:
        """The answer widget for this kind, holding the sheet's draft (or the starter) from the start."""
        draft = self.sheet.draft
        if isinstance(question, model.CodeBase):
            yield PythonEditor.python(draft, id="answer")
        elif isinstance(question, model.PredictQuestion):
            yield AnswerBox(draft, id="answer", show_line_numbers=False, placeholder="what the snippet prints")
        elif isinstance(question, model.ExplainQuestion):
            yield AnswerBox(draft, id="answer", soft_wrap=True, show_line_numbers=False, placeholder="your explanation")
            rubric = SelectionList[str](*[Selection(p.text.strip(), p.id) for p in question.rubric], id="rubric")
            rubric.display = False
            yield rubric
        else:
            options = [(o.id, o.text) for o in self.option_order()]
            choices = ChoiceList(options, many=question.selects_many, id="options")
            choices.set_selected(chosen_options(draft))
            yield choices

    def option_order(self) -> list[model.Option]:
        """The options in the order shown (a shuffled question is shuffled once per learner and question)."""
        assert isinstance(self.question, model.ChoiceQuestion)
        options = list(self.question.options)
        if self.question.shuffle:
            random.Random(f"{self.pack.id}/{self.question.id}").shuffle(options)
        return options

    # --- answer as text ------------------------------------------------------------------------------

    def answer_text(self) -> str:
        if isinstance(self.question, model.ChoiceQuestion):
            return json.dumps(self.selected_options())
        return self.query_one("#answer", TextArea).text

    def selected_options(self) -> list[str]:
        return list(self.query_one("#options", ChoiceList).selected)

    def set_answer_text(self, text: str) -> None:
        if isinstance(self.question, model.ChoiceQuestion):
            self.query_one("#options", ChoiceList).set_selected(chosen_options(text))
            return
        editor = self.query_one("#answer", TextArea)
        editor.load_text(text)
        self._cursor_to_end()

    def _cursor_to_end(self) -> None:
        editor = self.query_one("#answer", TextArea)
        last = editor.document.line_count - 1
        editor.cursor_location = (last, len(editor.document[last]))  # typing continues after the text

    def starter_text(self) -> str:
        return self.sheet.starter

    # --- lifecycle -----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        """The screen as it opens. It may be built ahead of time, while the learner is still on the list
        (QuizApp.prebuild_question): what must happen only once it is shown is in `_first_shown`."""
        if not self.query("#answer, #options"):
            return  # closed while it composed (the app quit while this screen was being built ahead)
        if self.sheet.restored_draft and not isinstance(self.question, model.ChoiceQuestion):
            self._cursor_to_end()
        if self.sheet.hints_shown():  # the hints' Markdown starts empty: no update (and layout) for nothing
            self._show_hints(self.sheet.hints_shown(), scroll=False)
        last = self.sheet.last_result()
        if last is not None:
            self.revealed = last.revealed if last.passed else {}  # a student build's sealed texts a pass opened
            self._show_result(last)
        if self.sheet.solution_visible():
            self._reveal(after_pass=bool(self.revealed) or not self.sheet.gave_up)  # type: ignore[union-attr]
        self.on_resize()
        if self.mock is not None:
            self.mock.enter(self.index)  # type: ignore[attr-defined]
            self.mock_tick()
            self.set_interval(1.0, self.mock_tick)
        else:
            self.query_one(StatusLine).context = f"{self.pack.id}/{self.question.id}" + (
                " · review: answer from memory" if self.review else ""
            )
        self.query_one("#answer, #options").focus()
        self.refresh_bindings()

    def _first_shown(self) -> None:
        """The learner sees the screen for the first time: the time to answer starts, and so do the autosaves."""
        if isinstance(self.sheet, PracticeSheet):
            self.sheet.begin()
        if self.sheet.restored_draft and self.mock is None:
            self.notify("Your draft is restored: the cursor is at its end.", timeout=5)
        self.set_interval(AUTOSAVE_SECONDS, self.save_draft)

    def _compositor_refresh(self) -> None:
        """Textual renders a screen after each layout even while the app holds its paints in a batch, and throws
        the render away (nothing is displayed in a batch). The batch that opens this screen ends with a full
        repaint (QuizApp.push_question), so the render made inside it, a tenth of the time to open, is skipped."""
        if self.app._batch_count:
            return
        super()._compositor_refresh()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """The first resume lays the screen out whole: whoever waits for that (QuizApp.push_question) is told once
        the screen has handled what that layout set off.

        This handler runs before Textual's own (a subclass's first). Textual restyles a resumed screen and all its
        widgets, for a theme changed while it was hidden; a screen resumed for the first time was styled as its
        widgets were mounted, a moment ago, and restyling all of them again was a seventh of the time to open it."""
        if not self._resumed_before:
            self._resumed_before = True
            event.refresh_styles = False
            self._first_shown()
        if self.when_drawn is not None:
            drawn, self.when_drawn = self.when_drawn, None
            self.call_after_refresh(drawn)

    def mock_tick(self) -> None:
        """The clock in the status line; at zero, or once handed in, the answer can no longer change."""
        assert self.mock is not None
        from .mock import MockTimeUp, clock_text

        session = self.mock
        remaining = session.remaining()  # type: ignore[attr-defined]
        locked = self.sheet.locked
        state = ""
        if locked:
            state = "  (handed in)" if session.question(self.index).submitted else "  (time is up)"  # type: ignore[attr-defined]
        number = f"question {self.index + 1} of {len(session.questions)}"  # type: ignore[attr-defined]
        self.query_one(StatusLine).context = f"mock interview: {clock_text(remaining)} left · {number}{state}"
        if locked:
            self._lock()
        if remaining <= 0:
            for screen in self.app.screen_stack:
                screen.post_message(MockTimeUp())  # the overview ends the session; others ignore it

    def _lock(self) -> None:
        for widget in self.query("#answer"):
            widget.read_only = True  # type: ignore[attr-defined]
        for choices in self.query(ChoiceList):
            choices.locked = True

    def on_unmount(self) -> None:
        self.save_draft()
        try:
            self.sheet.close()
        except Exception as error:  # never a traceback on the way out
            self.app.notify(f"Could not record the review: {error}", severity="error")

    def save_draft(self) -> None:
        if not self.is_mounted:
            return
        try:
            text = self.answer_text()
        except Exception:
            return
        if self.sheet.locked:
            return
        try:
            self.sheet.save_draft(text)
        except SheetError as error:
            if not getattr(self, "_save_failed", False):  # once, not every two seconds
                self.app.notify(str(error), severity="error", timeout=8)
            self._save_failed = True
        else:
            self._save_failed = False

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 120, "wide")

    # --- which keys work here -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only the keys that work for this question's kind and mode are offered (and shown in the footer)."""
        kind = self.question.kind
        busy = self.grading is not None and self.grading.is_running
        if action == "run":
            return kind in ("code", "fix") and not self.sheet.locked
        if action == "submit":
            return not self.sheet.locked
        if action == "cancel":
            return busy
        if action == "hint":
            if not self.question.hints:
                return False
            if self.mock is not None and not self.mock.config.hints_allowed:  # type: ignore[attr-defined]
                return False
            return True
        if action in ("solution", "history"):
            return self.mock is None
        if action == "external_editor":
            return kind in TEXT_KINDS and not self.sheet.locked
        if action == "reset":
            return kind in TEXT_KINDS and not self.sheet.locked
        if action in ("next_question", "next_unsolved"):
            return self.mock is None and not self.review
        return True

    # --- actions -------------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Back to the list, the draft saved; a grade still running is recorded when it ends (f4 cancels it)."""
        self.save_draft()
        self.dismiss()

    @on(PythonEditor.Leave)
    def _leave_editor(self) -> None:
        self.action_back()

    def action_cancel(self) -> None:
        if self.grading is None or not self.grading.is_running:
            return
        self.grading.cancel()
        self.grading = None
        panel = self.query_one(ResultsPanel)
        panel.show_cancelled()
        self.refresh_bindings()

    def action_run(self) -> None:
        self._grade("run")

    def action_submit(self) -> None:
        if self.sheet.locked:
            self.notify(self.sheet.lock_reason())  # type: ignore[union-attr]
            return
        if isinstance(self.question, model.ExplainQuestion) and not self.awaiting_rubric:
            if not self.answer_text().strip():
                self.notify("Write your explanation first.", severity="warning")
                return
            self.awaiting_rubric = True
            self.query_one("#rubric").display = True
            self._reveal_model_answer()
            self.query_one(ResultsPanel).show_message(
                "Compare with the model answer, tick the points your answer made (space), then Submit again."
            )
            self.query_one("#rubric").focus()
            return
        self._grade("submit")

    def _grade(self, mode: str) -> None:
        self.save_draft()
        draft = self.answer_text()
        answer = draft
        if isinstance(self.question, model.ChoiceQuestion):
            chosen = json.loads(draft)
            if not chosen:
                self.notify("Select an option first.", severity="warning")
                return
            answer = " ".join(chosen)
        ticked = list(self.query_one("#rubric", SelectionList).selected) if self.awaiting_rubric else []
        self.query_one(ResultsPanel).show_busy(mode)
        self.grading = self.grade_in_background(mode, answer, draft, ticked)
        self.refresh_bindings()

    def grade_in_background(self, mode: str, answer: str, draft: str, ticked: list[str]) -> Worker[None]:
        """Grade in a thread owned by the app, not by this screen: leaving the question (esc) does not cancel it,
        and its attempt is recorded when it ends; f4 cancels it (nothing recorded)."""
        app = self.app  # read here: a worker thread has no active app to find it by
        services = app.services  # type: ignore[attr-defined]

        def job() -> None:
            from textual.worker import get_current_worker

            try:
                result = services.grade(self.pack, self.question, answer, mode, ticked)
            except Exception as error:  # never a traceback from the judge on screen
                result = Result("internal_error", message=f"{type(error).__name__}: {error}")
            if not get_current_worker().is_cancelled:
                app.call_from_thread(self._graded, Graded(mode, answer, draft, result))

        return app.run_worker(job, thread=True, exclusive=True, group=f"grade-{id(self)}", exit_on_error=False)

    def _graded(self, message: Graded) -> None:
        self.grading = None
        self.refresh_bindings()
        result = message.result
        try:
            outcome = self.sheet.record(message.mode, message.draft if self.mock else message.answer, result)
        except SheetError as error:
            self.notify(str(error), severity="warning")
            self._show_result(result)
            return
        except Exception as error:  # a store that fails: say so, keep the verdict on screen
            self.notify(f"The attempt could not be recorded: {error}", severity="error", timeout=8)
            outcome = Outcome(result, message.mode)
        if self not in self.app.screen_stack:  # the learner left while it was graded: recorded, nothing to show
            return
        self._show_outcome(outcome, message.answer)
        if result.verdict == "syntax_error" and result.line:
            self.post_message(ResultsPanel.JumpToLine(result.line))
        if self.awaiting_rubric and message.mode == "submit":
            self.awaiting_rubric = False
        if self.mock is not None:
            if message.mode == "submit":
                self._lock()
                self.notify(outcome.note or "Handed in.", timeout=2)
                self.refresh_bindings()
            return
        if message.mode == "submit" and result.passed:
            self.revealed = result.revealed
            self._reveal(after_pass=outcome.solved)
            self._show_in_prompt("#reveal")
            if outcome.solved:
                self.notify("Solved.", title=self.question.title, timeout=5)
        if outcome.awaiting_rating:
            from .rate import RateScreen

            def rated(rating: object) -> None:
                if rating is not None:
                    self.sheet.rate(rating)  # type: ignore[union-attr, arg-type]
                    self.notify(f"Rated {rating.name}.", timeout=2)  # type: ignore[attr-defined]

            self.app.push_screen(RateScreen(outcome.rating), rated)

    def _show_outcome(self, outcome: Outcome, answer: str) -> None:
        if not self.sheet.shows_verdicts and outcome.mode == "submit":
            self.query_one(ResultsPanel).show_message("Handed in: the verdict comes with the report.")
            return
        notes = [outcome.note] if outcome.note else []
        question = self.question
        if isinstance(question, model.PredictQuestion) and not outcome.result.passed:
            feedback = predict_feedback(answer, question.answer)
            if feedback:
                notes.append(feedback)
        self._show_result(outcome.result, "\n".join(notes), visible_only=bool(outcome.note and outcome.mode == "run"))

    def _show_result(self, result: Result, note: str = "", visible_only: bool = False) -> None:
        if isinstance(self.question, model.ChoiceQuestion):
            result = self._relettered(result)
        self.query_one(ResultsPanel).show(result, note=note, visible_only=visible_only)

    def _relettered(self, result: Result) -> Result:
        """Choice checks name options by the letters shown, not by their ids in the pack."""
        choices = self.query_one("#options", ChoiceList)
        tests = []
        for test in result.tests:
            option_id = test.name.removeprefix("option ")
            if option_id in {oid for oid, _ in choices.choices}:
                shown = choices.letter_of(option_id)
                message = test.message.replace(f"{option_id}: ", f"{shown}) ", 1)
                test = type(test)(**{**test.__dict__, "name": f"option {shown}", "message": message})
            tests.append(test)
        return type(result)(**{**result.__dict__, "tests": tests})

    @on(TextArea.Changed, "#answer")
    @on(ChoiceList.Changed, "#options")
    def _answer_changed(self) -> None:
        """In a mock, every change is saved at once: when the clock runs out the answer is what was typed."""
        if self.mock is not None:
            self.save_draft()

    @on(ResultsPanel.JumpToLine)
    def _jump(self, message: ResultsPanel.JumpToLine) -> None:
        if not isinstance(self.question, model.CodeBase):
            return
        editor = self.query_one("#answer", PythonEditor)
        editor.go_to_line(message.line)
        editor.focus()

    @on(PythonEditor.GoToLine)
    def _ask_line(self) -> None:
        from .goto import GoToLineScreen

        editor = self.query_one("#answer", PythonEditor)

        def chosen(line: int | None) -> None:
            if line is not None:
                editor.go_to_line(line)
            editor.focus()

        self.app.push_screen(GoToLineScreen(editor.document.line_count), chosen)

    def action_hint(self) -> None:
        try:
            shown = self.sheet.reveal_hint()
        except SheetError as error:
            self.notify(str(error))
            return
        self._show_hints(shown, scroll=True)
        self.notify(f"Hint {shown} of {len(self.question.hints)}", timeout=2)

    def _show_hints(self, count: int, scroll: bool) -> None:
        hints = self.question.hints[:count]
        text = "\n\n".join(f"**Hint {i}.** {hint.strip()}" for i, hint in enumerate(hints, 1))
        self._set_markdown("hints", text)
        if scroll and count:
            self._show_in_prompt("#hints")

    def _set_markdown(self, pane_id: str, text: str) -> None:
        """Show `text` in the prompt pane's hints ("hints") or solution ("reveal"), made on first use: a screen
        opens without them (two Markdown widgets fewer to mount, style and lay out), hints after the prompt and the
        solution last."""
        key = f"#{pane_id}"
        existing = next(self.query(key).results(Markdown), None)
        if existing is not None and existing.is_mounted:
            self._updating[key] = existing.update(text)
            return
        if existing is not None:  # mounted a moment ago, not yet showing its first text: this one comes after it
            mounting = self._updating.get(key)
            markdown = existing

            async def after_mount() -> None:
                if mounting is not None:
                    await mounting  # type: ignore[misc]
                await markdown.update(text)

            self._updating[key] = AwaitComplete(after_mount())
            return
        pane = self.query_one("#prompt-pane", VerticalScroll)
        markdown = PromptMarkdown(text, id=pane_id)
        hints_first = pane_id == "hints"
        self._updating[f"#{pane_id}"] = pane.mount(markdown, after="#prompt") if hints_first else pane.mount(markdown)

    def _show_in_prompt(self, selector: str) -> None:
        """Bring what the learner asked for (a hint, the solution) to the top of the prompt pane, in view, once
        its Markdown has been laid out."""
        self.run_worker(self._bring_into_view(selector), group="bring-into-view", exclusive=True)

    async def _bring_into_view(self, selector: str) -> None:
        pending = self._updating.pop(selector, None)
        if pending is not None:
            await pending
        pane = self.query_one("#prompt-pane", VerticalScroll)
        target = self.query_one(selector)
        blocks = list(target.children)
        widget = blocks[-1] if selector == "#hints" and blocks else target

        def scroll() -> None:
            pane.scroll_to_widget(widget, animate=False, top=True)

        self.call_after_refresh(scroll)

    def action_solution(self) -> None:
        if self.mock is not None:
            return
        if self.solution_shown:
            self._show_in_prompt("#reveal")
            return
        sheet = self.sheet
        assert isinstance(sheet, PracticeSheet)
        if self.pack.build == "student" and not sheet.solved:
            # Nothing to show before a pass (no solution, no marks): giving up would record a loss for nothing.
            self.notify(
                "This student build has no solutions. Its explanation opens once your answer passes.",
                title="No solution here",
            )
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                sheet.give_up()
                self._reveal(after_pass=False)
                self._show_in_prompt("#reveal")
                self.refresh_bindings()

        if not sheet.solution_needs_confirmation():
            self._reveal(after_pass=sheet.solved)
            self._show_in_prompt("#reveal")
        else:
            self.app.push_screen(
                ConfirmScreen("Show the solution? The question will be recorded as given up.", "Show it"), confirmed
            )

    def _reveal_model_answer(self) -> None:
        assert isinstance(self.question, model.ExplainQuestion)
        self._set_markdown(
            "reveal",
            f"## Model answer\n\n{self.question.model_answer}\n\n"
            "Tick the rubric points (below your answer) that your explanation made.",
        )
        self._show_in_prompt("#reveal")

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
            for index, option in enumerate(self.option_order()):
                feedback = option.feedback or self.revealed.get(f"feedback:{option.id}")
                mark = "" if student else ("✓ " if option.correct else "✗ ")
                text = " ".join(option.text.split())
                line = f"- {mark}**{letter(index)})** {text}"
                parts.append(line + (f"  \n  *{' '.join(feedback.split())}*" if feedback else ""))
        elif isinstance(q, model.ExplainQuestion):
            parts.append(q.model_answer)
        explanation = self.revealed.get("explanation", q.explanation)
        parts.append(f"## Why\n\n{explanation}")
        self._set_markdown("reveal", "\n\n".join(parts))
        self.solution_shown = True

    def action_reset(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                try:
                    starter = self.sheet.reset()
                except SheetError as error:
                    self.notify(str(error), severity="warning")
                    return
                self.set_answer_text(starter)
                self.notify("Back to the starter.", timeout=2)

        self.app.push_screen(ConfirmScreen("Replace your answer with the starter?", "Reset"), confirmed)

    def action_history(self) -> None:
        if self.mock is not None:
            return
        from .history import HistoryScreen

        self.save_draft()
        self.app.push_screen(HistoryScreen(self.pack, self.question))

    def action_zoom(self) -> None:
        """Give the focused pane (prompt, answer or results) the whole screen; again to restore."""
        if self.maximized is not None:
            restored = self.maximized
            self.minimize()  # the focus stays where it was, so f6 goes on from there
            if isinstance(restored, ResultsPanel):  # back in its corner, the panel is read from its headline again
                self.call_after_refresh(restored.scroll_home, animate=False)
            return
        focused = self.focused
        if focused is None:
            return
        for pane_id in ("prompt-pane", "answer-pane", "results"):
            pane = self.query_one(f"#{pane_id}")
            if focused is pane or pane in focused.ancestors:
                self.maximized = pane
                return

    def action_next_pane(self) -> None:
        order = ["#prompt-pane", "#answer, #options", "#results #checks"]
        targets = [w for selector in order for w in self.query(selector) if w.display and w.focusable][:3]
        if not targets:
            return
        focused = self.focused
        position = next(
            (i for i, w in enumerate(targets) if focused is w or w in (focused.ancestors if focused else [])), -1
        )
        # At once, not after the next refresh as focus() does: keys typed right after f6 (f6 f6, then ctrl+a on a
        # busy machine) must find the pane it moved to, not the one it left.
        self.set_focus(targets[(position + 1) % len(targets)])

    def action_next_question(self) -> None:
        self.app.open_next(self.pack.id, self.question.id, unsolved=False)  # type: ignore[attr-defined]

    def action_next_unsolved(self) -> None:
        self.app.open_next(self.pack.id, self.question.id, unsolved=True)  # type: ignore[attr-defined]

    def action_external_editor(self) -> None:
        if self.question.kind not in TEXT_KINDS:
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
