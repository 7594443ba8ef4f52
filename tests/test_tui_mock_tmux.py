"""A mock interview in a real terminal survives `kill -9`: `python -m quizapp mock ...` in a detached 80x24 tmux
session, driven with send-keys and read with capture-pane.

The learner starts a 5-minute mock (seed 7: predict, choice, predict), hands in question 1 with the right answer,
types a draft in question 3, and the app is killed with SIGKILL. After `reset`, a plain `python -m quizapp` in the
same pane comes back to the same interview: less time on its clock, question 1 handed in, the draft in question 3.

The overview's clock is a Digits widget (a 3-row font); the test reads it by matching the screen against Textual's
own rendering of every time the clock can show. Everything waits by polling the screen with generous deadlines;
the one blind sleep is for the draft's autosave. The tmux server has its own socket in the test's tmp dir and is
killed at the end whatever happens.
"""

from __future__ import annotations

import functools
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.style import Style
from textual.renderables.digits import Digits
from tmux_support import Terminal, has, needs_tmux

ROOT = Path(__file__).resolve().parent.parent
MINUTES = 5
AUTOSAVE_WAIT = 3.0  # the question screen autosaves every 2 s

pytestmark = needs_tmux


def prompt(screen: str) -> bool:
    return screen.rstrip().endswith("$")


# --- the overview's clock --------------------------------------------------------------------------------------------


def clock_text(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


@functools.cache
def clock_glyphs() -> dict[tuple[str, str, str], int]:
    """Every time a 5-minute clock can show, as the Digits widget draws it (three rows), to its seconds."""
    glyphs = {}
    for seconds in range(MINUTES * 60 + 1):
        rows = "".join(segment.text for segment in Digits(clock_text(seconds)).render(Style())).splitlines()
        glyphs[tuple(rows)] = seconds
    return glyphs


def clock_on_screen(screen: str) -> int | None:
    """The seconds left on the overview's clock, or None when no clock is on screen."""
    lines = screen.splitlines()
    for rows, seconds in clock_glyphs().items():
        width = len(rows[0])
        for y in range(len(lines) - 2):
            column = lines[y].find(rows[0])
            while column >= 0:
                if all(lines[y + i][column : column + width] == rows[i] for i in (1, 2)):
                    return seconds
                column = lines[y].find(rows[0], column + 1)
    return None


def overview_row(screen: str, number: int) -> str:
    return next((line.strip() for line in screen.splitlines() if line.strip().startswith(f"{number} ")), "")


# --- the app's process ---------------------------------------------------------------------------------------------


def app_pid(terminal: Terminal, home: Path) -> int:
    """The app's python: the pane's shell's child whose environment has this test's QUIZAPP_HOME."""
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(terminal.shell_pid())], capture_output=True, text=True, check=False
    ).stdout.split()
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"quizapp" in command and f"QUIZAPP_HOME={home}".encode() in environ:
            return child
    raise AssertionError(f"no quizapp process under the pane's shell (children: {children})")


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")  # a zombie, not yet reaped
    except OSError:
        return True


# --- the test ------------------------------------------------------------------------------------------------------

QUESTION_1 = "Layers in a plain list: count the parameters"  # predict, answer 262
QUESTION_3 = "FixedHiddenMLP: what is a parameter?"  # predict
DRAFT = "420 1"


def test_a_mock_survives_kill_9_with_its_clock_hand_in_and_draft(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fixture = shlex.quote(str(Path(__file__).resolve().parent / "packs" / "tui-fixture.yaml"))
    # The frozen fixture pack only: QUIZAPP_PACKS lets the command line find it, QUIZAPP_ONLY_PACKS keeps the app
    # to it (the built-in packs keep growing, and the seed's draw depends on the questions).
    python = (
        f"QUIZAPP_HOME={shlex.quote(str(home))} QUIZAPP_PACKS={fixture} QUIZAPP_ONLY_PACKS={fixture} QUIZAPP_WORKERS=1 "
        f"{shlex.quote(sys.executable)} -m quizapp"
    )
    terminal = Terminal(f"quizapp-mock-{os.getpid()}", tmp_path / "tmux.sock")
    try:
        terminal.start(ROOT)
        terminal.wait_for("the shell", prompt, timeout=30)
        terminal.run(
            f"{python} mock --count 3 --minutes {MINUTES} --seed 7 --kinds choice,predict,code --packs tui-fixture"
        )
        screen = terminal.wait_for(
            "the overview with its clock",
            lambda s: has("Mock interview: 3 questions, 0 handed in")(s) and clock_on_screen(s) is not None,
            timeout=90,
        )
        started_with, read_at = clock_on_screen(screen), time.monotonic()
        assert started_with is not None and 4 * 60 + 30 <= started_with <= 5 * 60, screen  # a clock like 04:5x
        assert QUESTION_1[:30] in overview_row(screen, 1) and "predict" in overview_row(screen, 1)  # may be clipped

        # Question 1 (the cursor starts on it): the right answer, handed in.
        terminal.keys("Enter")
        terminal.wait_for("question 1", has(QUESTION_1, "question 1 of 3"))
        terminal.text("262")
        terminal.wait_for("the answer typed", has("262"))
        terminal.keys("C-s")
        terminal.wait_for("the hand-in", has("Accepted", "(handed in)"), timeout=60)
        terminal.keys("Escape")
        terminal.wait_for("the overview again", has("1 handed in", "✓ accepted"))

        # Question 3: a draft only.
        terminal.keys("Down", "Down", "Enter")
        terminal.wait_for("question 3", has(QUESTION_3, "question 3 of 3"))
        terminal.text(DRAFT)
        terminal.wait_for("the draft typed", has(DRAFT))
        time.sleep(AUTOSAVE_WAIT)  # the one blind wait: let the autosave run

        pid = app_pid(terminal, home)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(pid), f"the app (pid {pid}) survived SIGKILL"

        # The terminal is left in the app's modes: reset it, then start the app again, with no mock asked for.
        terminal.run("reset")
        terminal.wait_for("the shell after reset", lambda s: prompt(s) and "Mock interview" not in s, timeout=30)
        terminal.run(python)
        told: list[str] = []  # the toast is transient: seen on any screen while waiting

        def resumed(s: str) -> bool:
            if has("Your mock interview is resumed")(s):
                told.append(s)
            return has("Mock interview: 3 questions, 1 handed in")(s) and clock_on_screen(s) is not None

        screen = terminal.wait_for("the same interview, resumed", resumed, timeout=90)
        left, elapsed = clock_on_screen(screen), time.monotonic() - read_at
        assert left is not None and left < started_with, (started_with, left)
        # The clock ran on, the app's downtime included (give or take the 1 s tick and rounding on each reading).
        assert abs((started_with - left) - elapsed) <= 3, (started_with, left, elapsed)
        assert "✓ accepted" in overview_row(screen, 1), screen
        assert "not started" in overview_row(screen, 2), screen
        assert QUESTION_3[:30] in overview_row(screen, 3) and "opened" in overview_row(screen, 3), screen
        if not told:
            terminal.wait_for("the toast saying it is resumed", has("Your mock interview is resumed"), timeout=10)

        terminal.keys("Down", "Down", "Enter")
        screen = terminal.wait_for("question 3 with its draft", has(QUESTION_3, "question 3 of 3", DRAFT))
        assert "(handed in)" not in screen and "(time is up)" not in screen
        terminal.keys("Escape")
        terminal.wait_for("the overview", has("Mock interview: 3 questions"))
        terminal.keys("Up", "Up", "Enter")
        terminal.wait_for("question 1, still handed in", has(QUESTION_1, "(handed in)", "262"))

        terminal.keys("C-q")
        terminal.wait_for("the app to quit", prompt, timeout=30)
    finally:
        terminal.kill()
