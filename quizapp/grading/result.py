"""The one Result shape every front end reads: the TUI, `quizapp grade --json`, reports and the store.

Modelled on Exercism's results.json (v3): a status, and tests in the pack's order, each with a message;
verdict names follow LeetCode/Judge0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal[
    "accepted",
    "wrong_answer",
    "runtime_error",
    "syntax_error",
    "time_limit",
    "memory_limit",
    "output_limit",
    "internal_error",
]
Status = Literal["pass", "fail", "error"]

MAX_OUTPUT_CHARS = 4000


@dataclass
class TestResult:
    name: str
    status: Status
    message: str = ""
    visible: bool = True
    check: str = ""  # the check's id in the pack
    output: str = ""  # what the learner's code printed, when it matters
    line: int | None = None  # a line of the learner's answer the message points at
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["output"]:
            del data["output"]
        if data["line"] is None:
            del data["line"]
        if not data["details"]:
            del data["details"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        """The inverse of `to_json`."""
        return cls(
            name=str(data.get("name", "")),
            status=data.get("status", "fail"),
            message=str(data.get("message", "")),
            visible=bool(data.get("visible", True)),
            check=str(data.get("check", "")),
            output=str(data.get("output", "")),
            line=data.get("line"),
            details=dict(data.get("details") or {}),
        )


@dataclass
class Result:
    verdict: Verdict
    tests: list[TestResult] = field(default_factory=list)
    message: str = ""  # one sentence on the whole answer, for verdicts that stop before the tests
    duration_ms: float = 0.0
    jail_mode: str = ""  # 'full' or 'reduced' for code answers run in the jail; '' otherwise
    mode: str = "submit"
    score: float | None = None  # points earned / points possible, for partial credit
    line: int | None = None
    column: int | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str = ""  # the learner's own frames, when the answer raised before any check ran
    revealed: dict[str, str] = field(default_factory=dict)  # student builds: sealed texts a right answer opened

    @property
    def status(self) -> Status:
        if self.verdict == "accepted":
            return "pass"
        if self.verdict in ("wrong_answer", "runtime_error"):
            return "fail"
        return "error"

    @property
    def passed(self) -> bool:
        return self.verdict == "accepted"

    def to_json(self, file: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if file is not None:
            data["file"] = file
        data.update(
            {
                "status": self.status,
                "verdict": self.verdict,
                "message": self.message,
                "tests": [test.to_json() for test in self.tests],
                "duration_ms": round(self.duration_ms, 1),
                "mode": self.mode,
            }
        )
        if self.jail_mode:
            data["jail_mode"] = self.jail_mode
        if self.score is not None:
            data["score"] = round(self.score, 4)
        if self.line is not None:
            data["line"] = self.line
            data["column"] = self.column
        if self.stdout:
            data["stdout"] = cut(self.stdout)
        if self.stderr:
            data["stderr"] = cut(self.stderr)
        if self.traceback:
            data["traceback"] = self.traceback
        if self.revealed:
            data["revealed"] = self.revealed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """The inverse of `to_json` (the `file` and derived `status` keys are ignored): a stored Result comes back
        with every field, so a reopened question shows what it showed when graded."""
        verdict = data.get("verdict", "internal_error")
        return cls(
            verdict=verdict,
            tests=[TestResult.from_json(t) for t in data.get("tests", [])],
            message=str(data.get("message", "")),
            duration_ms=float(data.get("duration_ms", 0.0)),
            jail_mode=str(data.get("jail_mode", "")),
            mode=str(data.get("mode", "submit")),
            score=data.get("score"),
            line=data.get("line"),
            column=data.get("column"),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            traceback=str(data.get("traceback", "")),
            revealed=dict(data.get("revealed") or {}),
        )


def cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Captured output cut to a readable length, saying so."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"
