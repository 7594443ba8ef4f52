"""End to end in a real terminal: `python -m quizapp` in a detached 80x24 tmux session, driven with send-keys and
read with capture-pane.

The learner filters to the ResNet question, asks for a hint and sees it, types a wrong answer line by line in the
auto-indenting editor, submits, reads the verdict, types a right one, submits, opens the review (the question is
due: it was failed, then passed with a hint) and finds it fresh, quits, starts the app again and sees the
question solved. The app runs on the tests' frozen fixture pack (QUIZAPP_ONLY_PACKS). Everything waits by polling the
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

from quizapp.tui.widgets.editor import INDENT, next_line_indent

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "packs" / "tui-fixture.yaml"

pytestmark = needs_tmux


def empty_editor(screen: str) -> bool:
    """The editor shows line 1, blank, and no line 2."""
    rows = [line.strip("▊▎ ") for line in screen.splitlines()]
    return "1" in rows and not any(re.match(r"2(\s|$)", row) for row in rows)


def type_answer(terminal: Terminal, code: str) -> None:
    """Select all and delete, then type the answer line by line as a learner would in an auto-indenting editor:
    after Enter the editor keeps the indentation (one level more after a colon), so each line is typed without
    its indentation, with backspaces to dedent (one level each) or spaces to indent further."""
    terminal.keys("C-a", "BSpace")  # select all and delete
    terminal.wait_for("the editor to be empty", empty_editor)
    current = ""
    for line in code.rstrip("\n").split("\n"):
        wanted = len(line) - len(line.lstrip(" ")) if line.strip() else len(current)
        if wanted < len(current):
            terminal.keys(*["BSpace"] * ((len(current) - wanted + INDENT - 1) // INDENT))
        elif wanted > len(current):
            terminal.text(" " * (wanted - len(current)))
        terminal.text(line.strip())
        terminal.keys("Enter")
        current = next_line_indent(" " * wanted + line.strip())


RESNET_ROW = "Module or Sequential? Build a ResNet residual block"


def resnet_row(screen: str) -> str:
    return next((line.strip() for line in screen.splitlines() if RESNET_ROW in line), "")


def test_solve_the_resnet_question_in_a_real_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = (
        f"QUIZAPP_HOME={shlex.quote(str(home))} QUIZAPP_ONLY_PACKS={shlex.quote(str(FIXTURE))} QUIZAPP_WORKERS=1 "
        f"{shlex.quote(sys.executable)} -m quizapp"
    )
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
        terminal.wait_for("the ResNet question", has("tui-fixture/resnet-residual-block", "class ResidualBlock"))
        terminal.keys("C-t")  # a hint, shown at the top of the prompt, where the learner looks
        terminal.wait_for("the first hint", has("Hint 1."))

        wrong = RESNET_WRONG["missing-skip"][0]
        type_answer(terminal, wrong)
        last_line = wrong.rstrip("\n").split("\n")[-1].strip()
        terminal.wait_for("the wrong answer typed", has(last_line))
        terminal.keys("C-s")
        terminal.wait_for("the verdict", has("Wrong answer", "2/5 checks passed"), timeout=90)
        terminal.keys("F6")  # from the editor to the results, then zoom them to read every check
        terminal.keys("F5")
        terminal.wait_for("every check in full", has("Wrong answer", "no skip connection"))
        terminal.keys("F5")  # restore the layout: the results read from their headline again
        terminal.wait_for(
            "the layout restored", has("tui-fixture/resnet-residual-block", "judge: warm", "Wrong answer")
        )
        terminal.keys("F6")  # the prompt
        terminal.keys("F6")  # the editor again

        right = RESNET_RIGHT["identity-and-functional-relu"]
        type_answer(terminal, right)
        terminal.wait_for("the right answer typed", has(right.rstrip("\n").split("\n")[-1].strip()))
        terminal.keys("C-s")
        terminal.wait_for("Accepted", has("Accepted", "5/5 checks passed"), timeout=90)
        terminal.wait_for("the notice", has("Solved."), timeout=10)
        # The notice goes after its 5 s, and its cells are painted again (Textual left them on screen until a resize).
        terminal.wait_for("the notice to go", lambda screen: "Solved." not in screen, timeout=15)

        # Review: failed, then passed with a hint, the question is due today; it opens fresh (recall).
        terminal.keys("Escape")
        terminal.wait_for("the home screen", has(RESNET_ROW, "shown"))
        terminal.keys("r")
        # At 80 columns the title gives way (ending in "…") so that the kind and the whole pack id stay in view.
        review_row = ("Module or Sequential? Build a ResNet", "code", "tui-fixture", "1 due for review")
        terminal.wait_for("the review list", has("Due for review", *review_row))
        terminal.keys("Enter")
        screen = terminal.wait_for("the question in review", has("review: answer from memory", "class ResidualBlock"))
        assert "Accepted" not in screen and "Wrong answer" not in screen, "no old verdict in a review"
        assert "Solution" not in screen.split("esc Back")[0], "no solution in a review before it is answered"
        assert "return F.relu(y + self.skip(x))" not in screen, "no old draft in a review"
        terminal.keys("Escape")
        terminal.wait_for("the review list again", has("Due for review"))

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


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def test_quitting_at_once_keeps_the_draft_and_the_hint_and_leaves_no_judge_behind(tmp_path: Path) -> None:
    """ctrl+q while the judge's workers are still starting (importing torch): the shell comes back, the draft typed
    a moment before and the hint revealed are in the store, and the workers stop by themselves."""
    from quizapp.store import FILENAME, Store

    home = tmp_path / "home"
    command = (
        f"QUIZAPP_HOME={shlex.quote(str(home))} QUIZAPP_ONLY_PACKS={shlex.quote(str(FIXTURE))} QUIZAPP_WORKERS=1 "
        f"{shlex.quote(sys.executable)} -m quizapp"
    )
    terminal = Terminal(f"quizapp-quit-{os.getpid()}", tmp_path / "tmux.sock")
    try:
        terminal.start(ROOT)
        terminal.wait_for("the shell", lambda screen: "$" in screen, timeout=30)
        terminal.run(command)
        terminal.wait_for("the home screen", has(RESNET_ROW))
        (app,) = children(terminal.shell_pid())
        terminal.keys("/")
        terminal.text("resnet block")
        terminal.keys("Enter")
        terminal.wait_for("the filtered table", has("1 shown"))
        terminal.keys("Enter")
        terminal.wait_for("the ResNet question", has("tui-fixture/resnet-residual-block", "class ResidualBlock"))
        terminal.keys("C-t")
        terminal.wait_for("the first hint", has("Hint 1."))
        terminal.keys("C-a", "BSpace")
        terminal.text("# typed just before quitting")
        terminal.wait_for("the typed line", has("# typed just before quitting"))
        workers = terminal.wait_for_value("the judge's workers to start", lambda: children(app) or None)
        assert "judge: warm" not in terminal.screen()  # still importing torch: the hardest moment to quit

        terminal.keys("C-q")
        terminal.wait_for("the shell again", lambda screen: screen.rstrip().endswith("$"), timeout=30)
        with Store(home / FILENAME) as store:
            draft = store.draft("tui-fixture", "resnet-residual-block")
            assert draft is not None and draft.text == "# typed just before quitting"
            assert store.hints_revealed("tui-fixture", "resnet-residual-block") == 1
        terminal.wait_for_value(
            "the judge's workers to stop by themselves", lambda: not any(alive(pid) for pid in workers) or None
        )
    finally:
        terminal.kill()
