"""A generated class of submissions for batch grading: right, wrong, hostile, missing and not-Python answers,
with the verdict each must get."""

from __future__ import annotations

from pathlib import Path

from answers import RESNET_RIGHT, RESNET_WRONG

from quizapp.packs import model

HOSTILE_LOOP = "while True:\n    pass\n"
HOSTILE_READ = "print(open('/etc/shadow').read())\n"


def write_class(pack: model.Pack, folder: Path, hostile: bool = True) -> dict[tuple[str, str], str]:
    """Write the class under `folder`; return {(student, question): expected table cell}."""
    resnet = pack.question("resnet-residual-block")
    my_seq = pack.question("my-sequential")
    expected: dict[tuple[str, str], str] = {}

    def answer(student: str, question_id: str, name: str, content: str | bytes, verdict: str) -> None:
        path = folder / student / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        expected[(student, question_id)] = verdict

    styles = sorted(RESNET_RIGHT)
    for index in range(4):
        student = f"ada-{index}"
        answer(student, "resnet-residual-block", "resnet-residual-block.py", RESNET_RIGHT[styles[index]], "accepted")
        answer(student, "my-sequential", "my-sequential.py", my_seq.solution, "accepted")
        answer(student, "net-defects", "net-defects.txt", "bn2 fc1 view", "accepted")
        answer(student, "plain-list-param-count", "plain-list-param-count.txt", "262\n", "accepted")
    for index, mistake in enumerate(sorted(RESNET_WRONG)):
        student = f"bob-{index}"
        code, verdict, _check, _words = RESNET_WRONG[mistake]
        answer(student, "resnet-residual-block", "resnet-residual-block.py", code, verdict)
        answer(student, "my-sequential", "my-sequential.py", my_seq.decoys[0].code, "wrong_answer")
        answer(student, "net-defects", "net-defects.txt", "bn2", "wrong_answer")
        answer(student, "plain-list-param-count", "plain-list-param-count.txt", "1522", "wrong_answer")
    if hostile:
        answer("eve", "resnet-residual-block", "resnet-residual-block.py", HOSTILE_LOOP, "time_limit")
    answer("eve", "my-sequential", "my-sequential.py", HOSTILE_READ, "runtime_error")  # no /etc/shadow in the jail
    answer(
        "mallory",
        "resnet-residual-block",
        "resnet-residual-block.py",
        b"\x89PNG\r\n\x1a\n\x00\x00binary",
        "syntax_error",
    )
    answer("mallory", "my-sequential", "my-sequential.py", "def MySequential(:\n", "syntax_error")
    answer("mallory", "net-defects", "notes.txt", "I did not understand the question", "stray")
    del expected[("mallory", "net-defects")]
    for student in sorted({s for s, _ in expected}):
        for question in pack.questions:
            expected.setdefault((student, question.id), "missing")
    assert resnet is not None
    return expected
