"""The results panel: the verdict, each check with its message, then the learner's traceback and output.

Selecting a check that points at a line of the answer asks the screen to move the editor's cursor there.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...grading.result import Result, TestResult

VERDICT_WORDS = {
    "accepted": "Accepted",
    "wrong_answer": "Wrong answer",
    "runtime_error": "Runtime error",
    "syntax_error": "Syntax error",
    "time_limit": "Time limit exceeded",
    "memory_limit": "Memory limit exceeded",
    "output_limit": "Output limit exceeded",
    "internal_error": "Internal error (not your fault)",
}
MARKS = {"pass": ("✓", "green"), "fail": ("✗", "red"), "error": ("!", "yellow")}


class ResultsPanel(VerticalScroll):
    """Shows one Result; empty until the first Run or Submit."""

    class JumpToLine(Message):
        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.result: Result | None = None

    def compose(self) -> ComposeResult:
        yield Static("Submit (ctrl+s) grades your answer.", id="verdict")
        checks = OptionList(id="checks")
        checks.display = False  # until a result has checks
        yield checks
        yield Static("", id="details")

    def show_busy(self, mode: str) -> None:
        """Grading has started: the previous results stay, dimmed and marked as stale, under the busy line."""
        verdict = self.query_one("#verdict", Static)
        doing = "Running the visible checks" if mode == "run" else "Submitting"
        verdict.update(Text(f"{doing}… (f4 cancels; the results below are from the previous answer)"))
        verdict.set_classes("busy")
        self.add_class("-stale")

    def show_cancelled(self) -> None:
        verdict = self.query_one("#verdict", Static)
        verdict.update(Text("Cancelled: nothing was recorded. The results below are from the previous answer."))
        verdict.set_classes("busy")

    def show_message(self, text: str) -> None:
        """A sentence instead of a verdict (the rubric step of an explain answer, a hidden verdict)."""
        self.remove_class("-stale")
        verdict = self.query_one("#verdict", Static)
        verdict.update(Text(text))
        verdict.set_classes("")
        self.query_one("#checks", OptionList).display = False
        self.query_one("#details", Static).update("")

    def show(self, result: Result, note: str = "", visible_only: bool = False) -> None:
        """Show a Result. `note` is a sentence on what it means here (predict feedback, a Run's limits);
        `visible_only`: an accepted Run while hidden checks remain, never called Accepted."""
        self.remove_class("-stale")
        self.result = result
        verdict = self.query_one("#verdict", Static)
        words = "Visible checks pass" if visible_only else VERDICT_WORDS.get(result.verdict, result.verdict)
        headline = Text(words, style="bold")
        passed = sum(1 for t in result.tests if t.status == "pass")
        if result.tests:
            headline.append(f"  {passed}/{len(result.tests)} checks passed")
        if result.score is not None and result.verdict != "accepted":
            headline.append(f"  score {result.score:.0%}")
        timing = f"  {result.duration_ms:.0f} ms"
        if result.jail_mode:
            timing += f", {result.jail_mode} jail"
        headline.append(timing, style="dim")
        if result.message and result.message not in {t.message for t in result.tests}:
            headline.append(f"\n{result.message}")
        if note:
            headline.append(f"\n{note}", style="")
        verdict.update(headline)
        verdict.set_classes("verdict-visible" if visible_only else f"verdict-{result.verdict}")
        checks = self.query_one("#checks", OptionList)
        checks.clear_options()
        checks.add_options([Option(self._line(test), id=str(index)) for index, test in enumerate(result.tests)])
        checks.display = bool(result.tests)
        self._details(result)
        self.scroll_home(animate=False)  # a new verdict is read from its headline

    @staticmethod
    def _line(test: TestResult) -> Text:
        mark, style = MARKS[test.status]
        text = Text()
        text.append(f"{mark} ", style=style)  # only the mark is coloured; the message stays readable
        text.append(test.name, style="bold" if test.status != "pass" else "")
        if not test.visible:
            text.append(" (hidden)", style="dim")
        if test.message and test.status != "pass":
            text.append(f": {test.message}")
        if test.line:
            text.append(f"  → line {test.line}", style="underline")
        return text

    def _details(self, result: Result) -> None:
        parts: list[str] = []
        first = next((t for t in result.tests if t.output), None)
        if result.traceback:
            parts.append(result.traceback)
        elif first is not None:
            parts.append(first.output)
        if result.stdout.strip():
            parts.append("Your code printed:\n" + result.stdout.rstrip()[:2000])
        if result.stderr.strip():
            parts.append("On stderr:\n" + result.stderr.rstrip()[-1500:])
        self.query_one("#details", Static).update(Text("\n\n".join(parts)))

    @on(OptionList.OptionSelected, "#checks")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if self.result is None or event.option.id is None:
            return
        test = self.result.tests[int(event.option.id)]
        if test.output:
            self.query_one("#details", Static).update(Text(test.output))
        if test.line:
            self.post_message(self.JumpToLine(test.line))
