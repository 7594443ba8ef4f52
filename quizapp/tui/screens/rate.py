"""After a passed review card of a choice or explain question: the learner's own rating, as in Anki."""

from __future__ import annotations

from fsrs import Rating
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

CHOICES = (("1", Rating.Again), ("2", Rating.Hard), ("3", Rating.Good), ("4", Rating.Easy))


class RateScreen(ModalScreen[Rating | None]):
    """Enter takes the rating the outcome earned (focused); 1-4 pick one; escape keeps the earned rating."""

    BINDINGS = [Binding("escape", "keep", "Keep")] + [
        Binding(key, f"rate({int(rating)})", rating.name, show=False) for key, rating in CHOICES
    ]

    def __init__(self, earned: Rating | None) -> None:
        super().__init__()
        self.earned = earned or Rating.Good

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(
                f"How well did you recall it? The outcome earns {self.earned.name}: "
                "Enter takes it, or pick your own (1 to 4)."
            )
            with Horizontal(id="rate-buttons"):
                for key, rating in CHOICES:
                    yield Button(f"{key} {rating.name}", id=f"rate-{int(rating)}", compact=True)

    def on_mount(self) -> None:
        self.query_one(f"#rate-{int(self.earned)}", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Rating(int(str(event.button.id).removeprefix("rate-"))))

    def action_rate(self, value: int) -> None:
        self.dismiss(Rating(value))

    def action_keep(self) -> None:
        self.dismiss(None)
