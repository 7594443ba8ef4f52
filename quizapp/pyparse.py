"""ast.parse, one thread at a time.

CPython 3.11's AST constructor keeps its recursion depth in the interpreter's state, shared by every thread:
two threads parsing at once (grading answers on a pool's threads, `quizapp grade -j 2`, the app's workers)
can make one of them fail with a spurious `SystemError: AST constructor recursion depth mismatch`
(python/cpython gh-106905; Debian's 3.11.2 has it). Every parse of the host's goes through this lock, so an
answer's verdict never depends on what another thread parses. A parse takes well under a millisecond for an
answer (they are at most MAX_ANSWER_CHARS), so the lock costs nothing that matters."""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec") -> Any:
    """ast.parse's tree (typed Any, as ast.parse's overloads are by mode)."""
    with _LOCK:
        return ast.parse(source, filename=filename, mode=mode)
