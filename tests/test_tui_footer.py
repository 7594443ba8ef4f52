"""The footer is rebuilt when the keys on offer change, and only then."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from quizapp.tui.widgets.footer import KeysFooter


class FooterApp(App[None]):
    BINDINGS = [Binding("f2", "run", "Run"), Binding("f3", "hint", "Hint")]

    def __init__(self) -> None:
        super().__init__()
        self.hint_allowed = True

    def compose(self) -> ComposeResult:
        yield Input(id="a")
        yield Input(id="b")
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.hint_allowed if action == "hint" else True


def offered(app: App[None]) -> list[tuple[str, bool]]:
    return [(key.description, not key.disabled) for key in app.screen.query(FooterKey) if key.description]


def test_focus_changes_keep_the_footer_and_a_disabled_key_shows() -> None:
    async def run() -> None:
        app = FooterApp()
        async with app.run_test(size=(80, 10)) as pilot:
            await pilot.pause()
            assert ("Run", True) in offered(app) and ("Hint", True) in offered(app)
            keys = [id(key) for key in app.screen.query(FooterKey)]
            for target in ("#b", "#a", "#b"):
                app.query_one(target).focus()
                await pilot.pause()
            assert [id(key) for key in app.screen.query(FooterKey)] == keys  # the same widgets: not rebuilt
            app.hint_allowed = False
            app.refresh_bindings()
            await pilot.pause()
            await pilot.pause()
            assert [name for name, _ in offered(app)] == ["Run", "palette"]  # check_action False: hidden

    asyncio.run(run())
