"""The TUI's own process never imports torch or numpy: only the judge's workers do.

The app runs headless in a fresh interpreter (so nothing imported by other tests counts), with its real default
services (the real pool starts in the background), answers a choice question, opens the ResNet question without
grading it, and reports what it imported. The time from process start to the home screen is printed, not checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import asyncio, json, sys, time

from textual.widgets import TextArea

from quizapp.tui.app import QuizApp
from quizapp.tui.screens.home import HomeScreen
from quizapp.tui.screens.question import QuestionScreen


async def main() -> dict:
    from quizapp.services import Services

    app = QuizApp(services=Services.default(lazy=True))
    report = {}
    async with app.run_test(size=(80, 24)) as pilot:
        while not (isinstance(app.screen, HomeScreen) and app.screen.is_mounted and app.services.catalogue_ready()):
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        report["home_at"] = time.monotonic()
        report["rows"] = app.screen.query_one("#questions").row_count

        app.open_question("tui-fixture", "feed-forward-container")
        await pilot.pause()
        choices = app.screen.query_one("#options")
        names = [option_id for option_id, _ in choices.choices]
        choices.focus()
        await pilot.pause()
        await pilot.press("home", *["down"] * names.index("sequential"), "enter", "ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        attempts = app.services.store.attempts("tui-fixture", "feed-forward-container")
        report["choice_verdicts"] = [attempt.verdict for attempt in attempts]
        await pilot.press("escape")
        await pilot.pause()

        app.open_question("tui-fixture", "resnet-residual-block")
        await pilot.pause()
        screen = app.screen
        report["resnet_open"] = isinstance(screen, QuestionScreen) and "class ResidualBlock" in screen.query_one(
            "#answer", TextArea
        ).text
        report["torch"] = "torch" in sys.modules
        report["numpy"] = "numpy" in sys.modules
        report["heavy"] = sorted(
            name for name in sys.modules if name.split(".")[0] in ("torch", "numpy", "safetensors")
        )
    return report


print("REPORT " + json.dumps(asyncio.run(main())))
"""


def test_the_tui_process_imports_neither_torch_nor_numpy(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parent / "packs" / "tui-fixture.yaml"
    env = {**os.environ, "QUIZAPP_HOME": str(tmp_path / "home"), "QUIZAPP_ONLY_PACKS": str(fixture)}
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(line for line in completed.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert report["rows"] == 17
    assert report["choice_verdicts"] == ["accepted"]
    assert report["resnet_open"]
    assert report["heavy"] == [], f"the TUI process imported {report['heavy']}"
    assert report["torch"] is False
    assert report["numpy"] is False
    print(f"time to the first frame (process start to the home screen): {report['home_at'] - started:.2f} s")
