"""Make the README's screenshot: the ResNet question after submitting an answer with no skip connection.

Runs the real app headless at 120x34 (the side-by-side layout) with the real judge, in a throwaway
QUIZAPP_HOME, and saves assets/question-verdict.svg. Usage: `.venv/bin/python scripts/screenshot.py [OUTPUT.svg]`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "assets" / "question-verdict.svg"
SIZE = (120, 34)


async def take(output: Path) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's quizapp, and the tests' answers
    from answers import RESNET_WRONG
    from textual.widgets import TextArea

    from quizapp.judge.pool import Pool
    from quizapp.packs import discover
    from quizapp.services import Services
    from quizapp.store import Store
    from quizapp.tui.app import QuizApp
    from quizapp.tui.widgets.results import ResultsPanel

    code = RESNET_WRONG["missing-skip"][0]
    with Pool(size=1) as pool:
        if not pool.wait_warm(180):
            raise SystemExit("the judge's worker did not start")
        services = Services(discover([]), Store.open_default(), pool_factory=lambda: pool, owns_pool=False)
        app = QuizApp(services=services)
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            app.open_question("torch-modules", "resnet-residual-block")
            await pilot.pause()
            screen = app.screen
            editor = screen.query_one("#answer", TextArea)
            editor.cursor_blink = False
            editor.load_text(code)
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await pilot.pause()
            result = screen.query_one(ResultsPanel).result
            if result is None or result.verdict != "wrong_answer":
                raise SystemExit(f"expected a wrong answer, got {result}")
            await pilot.press("ctrl+t")  # a hint, shown at the top of the prompt
            await pilot.pause()
            # Show the forward() that lacks the skip connection.
            lines = code.splitlines()
            last = max(i for i, line in enumerate(lines) if "return" in line)
            editor.cursor_location = (last, 0)
            editor.scroll_cursor_visible(center=True, animate=False)
            await pilot.pause()
            output.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(filename=output.name, path=str(output.parent))
    print(f"saved {output} ({result.verdict}: {len(result.tests)} checks)")


def main() -> None:
    output = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else DEFAULT_OUTPUT
    with tempfile.TemporaryDirectory(prefix="quizapp-screenshot-") as home:
        os.environ["QUIZAPP_HOME"] = home
        asyncio.run(take(output))


if __name__ == "__main__":
    main()
