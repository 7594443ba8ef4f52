"""A prompt's code blocks are highlighted once, not again at each style update."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input
from textual.widgets.markdown import MarkdownFence

from quizapp.tui.widgets import prompt
from quizapp.tui.widgets.prompt import CodeFence, PromptMarkdown

SNIPPET = "```python\nimport torch\nprint(torch.ones(2, 3).sum(0))  # a snippet seen once\n```\n"


class PromptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PromptMarkdown(f"What does it print?\n\n{SNIPPET}", id="prompt")
        yield Input(id="a")
        yield Input(id="b")


def test_the_snippet_is_highlighted_once_however_often_styles_change(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    highlight = MarkdownFence.highlight

    def counted(code: str, language: str, ansi: bool = False, dark: bool = False):  # type: ignore[no-untyped-def]
        calls.append(code)
        return highlight(code, language, ansi=ansi, dark=dark)

    monkeypatch.setattr(MarkdownFence, "highlight", staticmethod(counted))
    prompt._highlighted.cache_clear()

    async def run() -> str:
        app = PromptApp()
        async with app.run_test(size=(80, 20)) as pilot:
            await pilot.pause()
            for target in ("#b", "#a", "#b", "#a"):
                app.query_one(target).focus()
                await pilot.pause()
            app.query_one("#prompt").add_class("other")  # a class change restyles the blocks
            await pilot.pause()
            fence = app.query_one(CodeFence)
            return str(fence.query_one("#code-content").render())

    shown = asyncio.run(run())
    assert "torch.ones(2, 3).sum(0)" in shown
    assert calls == ["import torch\nprint(torch.ones(2, 3).sum(0))  # a snippet seen once"]
