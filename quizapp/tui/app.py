"""The App: screens, bindings, themes and wiring. Nothing else lives here."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .commands import QuestionCommands, ScreenActions
from .screens.help import HelpScreen
from .screens.home import HomeScreen
from .services import Services


class QuizApp(App[None]):
    TITLE = "quizapp"
    SUB_TITLE = "PyTorch interview practice"
    CSS_PATH = "quizapp.tcss"
    COMMANDS = App.COMMANDS | {QuestionCommands, ScreenActions}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, services: Services | None = None, extra_packs: list[Path] | None = None) -> None:
        super().__init__()
        self.services = services or Services.default(extra_packs)

    def on_mount(self) -> None:
        # The judge's workers import torch in their own processes; this returns at once.
        self.run_worker(self.services.start_judge, thread=True, group="judge-start", exit_on_error=False)
        self.push_screen(HomeScreen())

    async def action_quit(self) -> None:
        self.save_drafts()
        self.exit()

    def save_drafts(self) -> None:
        """Save every open question's draft while its widgets still exist (on_unmount is too late)."""
        for screen in self.screen_stack:
            save = getattr(screen, "save_draft", None)
            if callable(save):
                save()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_question(self, pack_id: str, question_id: str) -> None:
        from .screens.question import QuestionScreen

        self.save_drafts()  # a screen opened now reads the latest text from the store
        current = self.screen
        if isinstance(current, QuestionScreen) and (current.pack.id, current.question.id) == (pack_id, question_id):
            return  # already open: keep the editor as it is
        pack = self.services.catalogue.packs[pack_id]
        self.push_screen(QuestionScreen(pack, pack.question(question_id)))

    def on_unmount(self) -> None:
        self.services.close()


def run(extra_packs: list[Path] | None = None) -> None:
    QuizApp(extra_packs=extra_packs).run()
