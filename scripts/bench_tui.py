"""The app's speed in a real terminal (tmux), side by side with the floor of any Textual app here.

    python scripts/bench_tui.py [--runs 5] [--size 80x24]

Prints, as medians over the runs:

- floor: `python -c "import textual.app"` in a new process (no Textual app can draw before this);
- first frame: from starting `quizapp` to the question list on screen (goal: at most 1.5x the floor);
- open: from Enter on the first question to its prompt on screen (goal: under 0.3 s), with the CPU seconds the app
  used meanwhile (what it still had to do: the rest of the packs' loading if Enter came early, and the screen);
- quit: from ctrl+q to the process gone (goal: under 0.5 s).

The runs share one fresh QUIZAPP_HOME and use the packs the app finds by default (the built-in ones). The very
first start (no home index yet) is printed apart; the medians are over the starts after it, as a learner's usual
start is. The judge starts in the background as it does for a learner, so the figures include its competition
for the CPU. Timings are taken by polling the terminal every 10 ms, so each is up to 10 ms late. On a shared,
loaded machine wall times swing; the CPU seconds the app used until its first frame, beside the floor's, are
steadier.

Two things keep the comparison with the floor fair. quizapp's bytecode is compiled first, as installing it does
(textual's, which the floor imports, was compiled when it was installed): under PYTHONDONTWRITEBYTECODE, which
shells and CI often set, every start would otherwise compile quizapp's modules again. And the terminal is polled
through one tmux control-mode client, commands on a pipe: a `tmux capture-pane` process per poll, 100 a second,
took a share of a 2-core machine from the app being measured that the floor never paid.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.01
# A row of the home screen's question table: a status mark, then a question kind. Structural, so it holds
# whatever the packs contain, however wide the terminal, and whichever question comes first.
QUESTION_ROW = re.compile(r"^\s*[·◐✓]\s+(choice|predict|code|fix|explain|training)\s", re.MULTILINE)


def question_list_shown(screen: str) -> bool:
    return len(QUESTION_ROW.findall(screen)) >= 2


def question_shown(screen: str) -> bool:
    """The question screen: its footer offers Submit, and the home screen's table is gone."""
    return "Submit" in screen and not question_list_shown(screen)


class Control:
    """A tmux control-mode client: each command is a line on its stdin, its answer a %begin ... %end block on its
    stdout. Each command is followed by one that prints a marker of its own: the command's answer is the block
    just before the marker's, never a block tmux sent on its own (one on attaching); notifications between blocks
    are skipped."""

    def __init__(self, base: list[str], session: str) -> None:
        self.process = subprocess.Popen(
            [*base, "-C", "attach-session", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            errors="replace",  # a screen captured mid-write can end inside a character
        )
        self.markers = itertools.count()
        self.command("refresh-client -f no-output")  # no copy of the app's output on this pipe

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _block(self) -> str:
        assert self.process.stdout is not None
        lines: list[str] | None = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("bench_tui: the tmux control client ended")
            if lines is None:
                if line.startswith("%begin"):
                    lines = []
            elif line.startswith(("%end", "%error")):
                return "".join(lines)
            else:
                lines.append(line)

    def command(self, line: str) -> str:
        marker = f"bench-answer-{next(self.markers)}"
        self._send(line)  # a line of its own: a command that fails must not stop the marker's
        self._send(f"display-message -p {marker}")
        answer = ""
        while True:
            block = self._block()
            if block == f"{marker}\n":
                return answer
            answer = block

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


class Terminal:
    def __init__(self, socket: Path, width: int, height: int) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            raise SystemExit("bench_tui: tmux is not installed (apt-get install tmux)")
        self.base = [tmux, "-S", str(socket), "-f", os.devnull]
        self.width, self.height = width, height
        self.control: Control | None = None

    def tmux(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True).stdout

    def start(self, command: str, env: dict[str, str]) -> float:
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        self.tmux("new-session", "-d", "-s", "bench", "-x", str(self.width), "-y", str(self.height))
        self.tmux("set-option", "-t", "bench", "remain-on-exit", "on")
        self.tmux("set-option", "-t", "bench", "status", "off")  # the app gets the whole WIDTHxHEIGHT
        self.control = Control(self.base, "bench")
        started = time.perf_counter()
        self.tmux("respawn-pane", "-k", "-t", "bench", f"env {exports} {command}")
        return started

    def ask(self, command: str) -> str:
        assert self.control is not None
        return self.control.command(command)

    def screen(self) -> str:
        return self.ask("capture-pane -p -t bench")

    def size(self) -> str:
        return self.ask("display-message -p -t bench '#{pane_width}x#{pane_height}'").strip()

    def pid(self) -> int:
        return int(self.ask("display-message -p -t bench '#{pane_pid}'").strip())

    def dead(self) -> bool:
        return self.ask("display-message -p -t bench '#{pane_dead}'").strip() == "1"

    def keys(self, *keys: str) -> float:
        moment = time.perf_counter()
        self.ask(f"send-keys -t bench {' '.join(keys)}")
        return moment

    def wait(self, ready, what: str, timeout: float = 60) -> float:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return time.perf_counter()
            time.sleep(POLL_SECONDS)
        raise SystemExit(f"bench_tui: timed out waiting for {what}; the screen:\n{self.screen()}")

    def kill(self) -> None:
        if self.control is not None:
            self.control.close()
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, all its threads; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def floor(python: str) -> tuple[float, float]:
    """Wall and CPU seconds of `python -c "import textual.app"`."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([python, "-c", "import textual.app"], check=True)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def one_run(python: str, size: tuple[int, int], home: str, choose: float) -> tuple[float, float, float, float, float]:
    """(first frame, its CPU seconds, open, quit, the open's CPU seconds) for one start of the app on the data
    directory `home`."""
    terminal = Terminal(Path(home) / "tmux.sock", *size)
    try:
        env = {"QUIZAPP_HOME": home, "TERM": "xterm-256color"}
        started = terminal.start(f"{python} -m quizapp", env)
        shown = terminal.wait(lambda: question_list_shown(terminal.screen()), "the question list")
        if terminal.size() != f"{size[0]}x{size[1]}":
            raise SystemExit(f"bench_tui: the app ran at {terminal.size()}, not {size[0]}x{size[1]}")
        cpu = cpu_seconds(terminal.pid())
        time.sleep(choose)  # the learner reads the list; the packs load and the judge starts meanwhile
        cpu_before_enter = cpu_seconds(terminal.pid())
        pressed = terminal.keys("Enter")
        opened = terminal.wait(lambda: question_shown(terminal.screen()), "a question")
        open_cpu = cpu_seconds(terminal.pid()) - cpu_before_enter
        time.sleep(0.5)  # let the screen settle before quitting
        quit_at = terminal.keys("C-q")
        gone = terminal.wait(terminal.dead, "the app to exit")
        return shown - started, cpu, opened - pressed, gone - quit_at, open_cpu
    finally:
        terminal.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="80x24")
    parser.add_argument(
        "--choose", type=float, default=1.0, help="seconds between the list on screen and Enter (default 1)"
    )
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    python = sys.executable
    os.chdir(ROOT)
    compileall.compile_dir(ROOT / "quizapp", quiet=1)  # as an install does; PYTHONDONTWRITEBYTECODE stays as set
    with tempfile.TemporaryDirectory() as home:
        floors = [floor(python)]
        first_start = one_run(python, (width, height), home, args.choose)  # no home index yet: it writes one
        runs = []
        for _ in range(args.runs):  # interleaved, so a change in the machine's load touches both alike
            floors.append(floor(python))
            runs.append(one_run(python, (width, height), home, args.choose))
    base, base_cpu = (statistics.median(values) for values in zip(*floors, strict=True))
    first, first_cpu, opened, quit_, open_cpu = (statistics.median(values) for values in zip(*runs, strict=True))
    load = os.getloadavg()[0]
    print(f"TUI speed in tmux at {width}x{height}, median of {args.runs} runs (polled every 10 ms; load {load:.1f})")
    print(f"  floor: python -c 'import textual.app'   {base:6.3f} s  (CPU {base_cpu:.3f} s)")
    print(
        f"  first frame with the question list      {first:6.3f} s  ({first / base:.2f}x the floor; goal <= 1.5x)"
        f"  CPU {first_cpu:.3f} s ({first_cpu / base_cpu:.2f}x)"
    )
    print(
        f"    the very first start (no home index)  {first_start[0]:6.3f} s  ({first_start[0] / base:.2f}x the floor)"
        f"  CPU {first_start[1]:.3f} s"
    )
    print(
        f"  open a question (Enter to its prompt)   {opened:6.3f} s  (goal < 0.3 s; Enter {args.choose:g} s after)"
        f"  CPU {open_cpu:.3f} s"
    )
    print(f"  quit (ctrl+q to the process gone)       {quit_:6.3f} s  (goal < 0.5 s)")


if __name__ == "__main__":
    main()
