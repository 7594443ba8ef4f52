"""One line at the bottom of every screen: where the learner is, and the judge's state and jail mode."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class StatusLine(Static):
    """Polls the judge's state twice a second; never blocks on it."""

    context: reactive[str] = reactive("")
    _shown: str | None = None

    def on_mount(self) -> None:
        self.refresh_state()
        self.set_interval(0.5, self.refresh_state)

    def watch_context(self) -> None:
        self.refresh_state()

    def refresh_state(self) -> None:
        state, detail = self.app.services.judge_state()  # type: ignore[attr-defined]
        if state == "warm":
            judge = f"judge: warm, {detail} jail" if detail else "judge: warm"
            if detail == "reduced":
                judge += " (isolation reduced)"
        elif state == "starting":
            judge = "judge: starting…"
        else:
            judge = "judge: unavailable"
        self.set_class(state != "warm", "-cold")
        self.set_class(detail == "reduced", "-reduced")
        text = f"{self.context}  │  {judge}" if self.context else judge
        if text != self._shown:  # an update lays the whole screen out again: not twice a second for nothing
            self._shown = text
            self.update(text)
