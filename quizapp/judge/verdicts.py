"""The `verdicts` task: a custom check's `verdict`, the pack's own Python, run in the jail. Worker side.

A pack is untrusted input as much as an answer: its verdict runs here, under the job's limits, and never in
the process that grades (where it would have the user's files, network and time). No learner code runs in
this job: it receives the values the answer's probe reported and the reference's, as data, and returns
only each call's message. Imports no torch.
"""

from __future__ import annotations

import traceback
from typing import Any

from .protocol import is_out_of_memory

MAX_MESSAGE = 4000


def run(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """payload {check, code, pairs: [[learner, reference], ...]} -> facts {defined, error?, results: [{message}
    or {error}]}, one result per pair, in order."""
    name = str(payload.get("check", "?"))
    scope: dict[str, Any] = {"__name__": "verdict"}
    try:
        exec(compile(payload["code"], f"<verdict of {name}>", "exec", dont_inherit=True), scope)
        verdict = scope["verdict"]
        if not callable(verdict):
            raise TypeError("`verdict` is not a function")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 - the pack's code: reported as its fault, by the host
        if is_out_of_memory(exc):
            raise MemoryError(str(exc)) from None
        return {"defined": False, "error": _describe(exc)}, {}
    results: list[dict[str, Any]] = []
    for learner, reference in payload.get("pairs", []):
        try:
            message = verdict(learner, reference)
            results.append({"message": str(message)[:MAX_MESSAGE] if message else None})
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001
            if is_out_of_memory(exc):
                raise MemoryError(str(exc)) from None
            results.append({"error": _describe(exc)})
    return {"defined": True, "results": results}, {}


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001
        text = type(exc).__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<verdict of ")]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return (text + where).encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_MESSAGE]
