"""End to end in a real terminal: `python -m quizapp` in a detached 80x24 tmux session, driven with send-keys and
read with capture-pane.

The learner filters to the ResNet question, types a wrong answer line by line, submits, reads the verdict, types a
right one, submits, quits, starts the app again and sees the question solved. Everything waits by polling the
screen with generous deadlines; nothing sleeps blindly. The tmux server has its own socket in the test's tmp
dir, so it cannot touch anyone's sessions, and it is killed at the end whatever happens.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from answers import RESNET_RIGHT, RESNET_WRONG
from tmux_support import Terminal, has, needs_tmux

ROOT = Path(__file__).resolve().parent.parent

pytestmark = needs_tmux


def empty_editor(screen: str) -> bool:
    """The editor shows line 1, blank, and no line 2."""
    rows = [line.strip("▊▎ ") for line in screen.splitlines()]
    return "1" in rows and not any(re.match(r"2(\s|$)", row) for row in rows)


def type_answer(terminal: Terminal, code: str) -> None:
    """Clear the editor, then type the answer line by line with explicit indentation.

    The TextArea has no select-all and no auto-indent: go to the top, then ctrl+k kills to the end of the line
    and, on an empty line, the line itself. Its kill action is async, so wait for the editor to be empty before
    typing, or a late kill would eat what was typed.
    """
    terminal.keys(*["PageUp"] * 6, "Home")
    terminal.keys(*["C-k"] * 120)
    terminal.wait_for("the editor to be empty", empty_editor)
    for line in code.rstrip("\n").split("\n"):
        terminal.text(line)
        terminal.keys("Enter")


RESNET_ROW = "Module or Sequential? Build a ResNet residual block"


def resnet_row(screen: str) -> str:
    return next((line.strip() for line in screen.splitlines() if RESNET_ROW in line), "")


def test_solve_the_resnet_question_in_a_real_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = f"QUIZAPP_HOME={shlex.quote(str(home))} {shlex.quote(sys.executable)} -m quizapp"
    terminal = Terminal(f"quizapp-test-{os.getpid()}", tmp_path / "tmux.sock")
    try:
        terminal.start(ROOT)
        terminal.wait_for("the shell", lambda screen: "$" in screen, timeout=30)
        terminal.text(command)
        terminal.keys("Enter")
        terminal.wait_for("the home screen with a warm judge", has(RESNET_ROW, "judge: warm"), timeout=90)

        terminal.keys("/")
        terminal.text("resnet block")
        terminal.keys("Enter")
        screen = terminal.wait_for("the filtered table", has("1 shown"))
        assert RESNET_ROW in screen
        terminal.keys("Enter")
        terminal.wait_for("the ResNet question", has("torch-modules/resnet-residual-block", "class ResidualBlock"))

        wrong = RESNET_WRONG["missing-skip"][0]
        type_answer(terminal, wrong)
        last_line = wrong.rstrip("\n").split("\n")[-1].strip()
        terminal.wait_for("the wrong answer typed", has(last_line))
        terminal.keys("C-s")
        terminal.wait_for("the verdict", has("Wrong answer", "no skip connection"), timeout=90)

        right = RESNET_RIGHT["identity-and-functional-relu"]
        type_answer(terminal, right)
        terminal.wait_for("the right answer typed", has(right.rstrip("\n").split("\n")[-1].strip()))
        terminal.keys("C-s")
        terminal.wait_for("Accepted", has("Accepted", "5/5 checks passed"), timeout=90)

        terminal.keys("C-q")
        terminal.wait_for("the app to quit", lambda screen: screen.rstrip().endswith("$"), timeout=30)

        terminal.text(command)
        terminal.keys("Enter")
        screen = terminal.wait_for("the home screen again", has(RESNET_ROW, "1/17 solved"), timeout=60)
        assert resnet_row(screen).startswith("✓"), screen
        terminal.keys("C-q")
        terminal.wait_for("the app to quit again", lambda screen: screen.rstrip().endswith("$"), timeout=30)
    finally:
        terminal.kill()
