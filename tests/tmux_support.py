"""A real terminal for end-to-end tests: one tmux server on its own socket, one 80x24 session."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")
TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed: the end-to-end terminal test needs it (apt-get install tmux)"
)


def flat(screen: str) -> str:
    """The screen's words on one line, so a message wrapped over two rows still matches."""
    return " ".join(screen.split())


def has(*words: str) -> Callable[[str], bool]:
    return lambda screen: all(word in flat(screen) for word in words)


class Terminal:
    """One tmux server (own socket) with one 80x24 session running a shell."""

    def __init__(self, name: str, socket: Path) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-S", str(socket), "-f", os.devnull]
        self.target = f"{name}:0.0"
        self.name = name

    def tmux(self, *args: str) -> str:
        completed = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=30)
        assert completed.returncode == 0, f"tmux {' '.join(args[:2])}: {completed.stderr}"
        return completed.stdout

    def start(self, cwd: Path) -> None:
        shell = "env PS1='$ ' bash --noprofile --norc"
        self.tmux("new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", "-c", str(cwd), shell)
        self.tmux("set-option", "-t", self.name, "status", "off")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def text(self, text: str) -> None:
        """Type text literally (no key names), as a learner would."""
        if text:
            self.tmux("send-keys", "-t", self.target, "-l", text)

    def run(self, command: str) -> None:
        self.text(command)
        self.keys("Enter")

    def shell_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", self.target, "#{pane_pid}").strip())

    def wait_for(self, what: str, ready: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            time.sleep(0.2)  # polling interval: the condition, not the sleep, decides
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; the screen:\n{screen}")

    def wait_for_value(self, what: str, value: Callable[[], T | None], timeout: float = 60) -> T:
        """Poll `value` until it gives something (not None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = value()
            if found is not None:
                return found
            time.sleep(0.2)  # polling interval: the condition, not the sleep, decides
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; the screen:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)
