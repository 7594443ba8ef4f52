"""The tasks a jailed child can run, by name, and the `exec` task. Worker side.

A task takes the job's payload (a JSON object) and returns (facts, tensors): facts a JSON-serialisable dict,
tensors a dict of name to torch.Tensor (sent back as safetensors). Task functions run in the jailed child,
after the learner's code may have changed anything in the interpreter: they must catch the learner's
exceptions and report them as facts, but re-raise out-of-memory (see protocol.is_out_of_memory) and let
SystemExit through.

The registry maps names to "module:function" and is resolved once, when a worker starts, so every task
module is imported before the first fork and every child is warm. This module does not import torch at
import time (the learner's code, or the probes, do; torch is already loaded in the worker).
"""

from __future__ import annotations

import builtins
import importlib
import linecache
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

from .protocol import is_out_of_memory

ANSWER_FILE = "answer.py"

REGISTRY: dict[str, str] = {
    "exec": "quizapp.judge.tasks:exec_task",
    "probe": "quizapp.judge.probes:run",
    "verdicts": "quizapp.judge.verdicts:run",  # a pack's custom verdicts, with no learner code in the job
}
# Tasks that may be missing (their module is written separately): skipped quietly when absent.
OPTIONAL = {"probe"}

Task = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def resolve(registry: dict[str, str] | None = None) -> tuple[dict[str, Task], dict[str, str]]:
    """Import every task: ({name: function}, {name: why it is unavailable})."""
    tasks: dict[str, Task] = {}
    problems: dict[str, str] = {}
    for name, target in (registry or REGISTRY).items():
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            tasks[name] = getattr(module, attribute)
        except ModuleNotFoundError as exc:
            if name in OPTIONAL and exc.name == module_name:
                problems[name] = f"{module_name} does not exist"
            else:
                problems[name] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a task module that fails to import must not take the worker down
            problems[name] = f"{type(exc).__name__}: {exc}"
    return tasks, problems


def answer_frames(tb: types.TracebackType | None) -> list[dict[str, Any]]:
    """The frames of a traceback that are in the learner's file: [{line, function}], outermost first."""
    return [
        {"line": frame.lineno, "function": frame.name}
        for frame in traceback.extract_tb(tb)
        if frame.filename == ANSWER_FILE
    ]


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """A learner's exception as facts: type, message, and where in answer.py."""
    try:
        message = str(exc)
    except Exception:  # a learner's exception whose __str__ raises
        message = "<unprintable>"
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": message[:2000],
        "traceback": answer_frames(exc.__traceback__),
    }
    if isinstance(exc, SyntaxError) and exc.filename == ANSWER_FILE:
        error["line"] = exc.lineno
        error["traceback"] = [{"line": exc.lineno, "function": "<module>"}]
    return error


def exec_task(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run payload["code"] as the __main__ script answer.py.

    Facts: {"ok": true} when it ran to the end, or {"error": {type, message, traceback: [{line,
    function}] in answer.py only}} when it raised. As a hook for tests and simple tasks, a script that
    defines RESULT (JSON-serialisable) gets it back as facts["result"], and one that defines TENSORS (a dict
    of str to torch.Tensor) gets those back as the job's tensors.
    """
    code = payload["code"]
    module = types.ModuleType("__main__")
    module.__file__ = ANSWER_FILE
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    linecache.cache[ANSWER_FILE] = (len(code), None, code.splitlines(keepends=True), ANSWER_FILE)
    facts: dict[str, Any]
    try:
        compiled = compile(code, ANSWER_FILE, "exec", dont_inherit=True)
        exec(compiled, module.__dict__)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if is_out_of_memory(exc):
            raise MemoryError(str(exc)) from None
        return {"error": describe_exception(exc)}, {}
    facts = {"ok": True}
    namespace = module.__dict__
    if "RESULT" in namespace:
        facts["result"] = namespace["RESULT"]
    tensors = namespace.get("TENSORS") or {}
    if not isinstance(tensors, dict):
        tensors = {}
    return facts, tensors


def selftest_task(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a worker runs once at start, through the full jail, to decide the jail mode."""
    return {"selftest": True}, {}


BUILTIN: dict[str, Task] = {"__selftest__": selftest_task}
