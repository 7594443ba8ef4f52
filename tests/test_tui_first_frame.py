"""The home screen's first frame draws the Header and the filter menus as cheap faces (one widget each), replaced by
the real widgets right after it: the faces must draw exactly what the real widgets then draw, cell for cell, at any
width, so nothing on screen changes when they are swapped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.style import Style

from quizapp.packs import discover
from quizapp.services import Services
from quizapp.store import Store
from quizapp.tui.app import QuizApp
from quizapp.tui.screens.home import FooterFace, HeaderFace, HomeScreen, MenuFace

FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"

Cells = list[list[tuple[object, ...]]]


def look(character: str, style: Style) -> tuple[object, ...]:
    """What a cell looks like: a blank shows only its background; a character its colours and text style too."""
    color, background = style.color, style.bgcolor
    if style.reverse:
        color, background = background, color
    if character == " ":
        return (" ", background, bool(style.underline), bool(style.strike))
    return (character, color, background, bool(style.bold), bool(style.dim), bool(style.italic), bool(style.underline))


def cells(app: QuizApp) -> Cells:
    """The screen as what each cell looks like, whatever the segments it was drawn in."""
    lines = app.screen._compositor.render_strips()
    return [
        [look(character, segment.style or Style()) for segment in strip for character in segment.text]
        for strip in lines
    ]


async def first_and_settled(size: tuple[int, int]) -> tuple[Cells, Cells, list[str], list[str]]:
    app = QuizApp(services=Services(discover([FIXTURE], include_defaults=False), Store.open_default(), None))
    seen: dict[str, object] = {}
    first_frame = HomeScreen._first_frame_drawn

    def record_then_go_on(screen: HomeScreen) -> None:
        seen["cells"] = cells(screen.app)  # type: ignore[arg-type]
        seen["widgets"] = [type(widget).__name__ for widget in screen.query("HeaderFace, MenuFace, FooterFace")]
        first_frame(screen)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HomeScreen, "_first_frame_drawn", record_then_go_on)
        async with app.run_test(size=size) as pilot:
            app.prepare()
            await app.workers.wait_for_complete()
            for _ in range(100):
                await pilot.pause(0.02)
                if not app.screen.query(MenuFace) and not app.screen.query(HeaderFace):
                    break
            await pilot.pause()
            settled = cells(app)
            left = [type(widget).__name__ for widget in app.screen.query("HeaderFace, MenuFace, FooterFace")]
            await pilot.press("ctrl+q")
    return seen["cells"], settled, seen["widgets"], left  # type: ignore[return-value]


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (46, 12)])
def test_the_faces_draw_what_the_header_and_menus_then_draw(size: tuple[int, int]) -> None:
    first, settled, faces, left = asyncio.run(first_and_settled(size))
    assert faces == [HeaderFace.__name__, MenuFace.__name__, FooterFace.__name__]  # the first frame had the faces
    assert left == []  # and the real widgets replaced every one
    assert "quizapp" in "".join(str(cell[0]) for cell in first[0])
    assert first[0] == settled[0], "the header's face differs from the Header"
    assert first[1] == settled[1], "the menus' faces differ from the Selects"
    assert first[2:-1] == settled[2:-1]  # the list and the status line did not move
