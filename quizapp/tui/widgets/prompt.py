"""Markdown for a question's prompt, hints and solution, with code blocks highlighted once.

Textual's MarkdownFence highlights its code again (pygments) at every style update of the block, and opening a
question brings several (focus moving in, the layout's classes): for a predict question's snippet that was about a
seventh of the time to open it. The highlighting depends only on the code, its language and the theme's kind, so
it is kept per those.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from textual.content import Content
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownFence


@lru_cache(maxsize=128)
def _highlighted(code: str, language: str, ansi: bool, dark: bool) -> Content:
    return MarkdownFence.highlight(code, language, ansi=ansi, dark=dark)


class CodeFence(MarkdownFence):
    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        return _highlighted(code, language, ansi, dark)


class PromptMarkdown(Markdown):
    BLOCKS: ClassVar[dict[str, type[MarkdownBlock]]] = {
        **Markdown.BLOCKS,
        "fence": CodeFence,
        "code_block": CodeFence,
    }
