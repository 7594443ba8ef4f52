"""Golden files of `quizapp grade --json`, kept as Exercism's test runners keep their expected results.json.

Each run is the command line (main() in this process, code graded on the session's judge pool), on answer files
in tests/golden/grade/; its stdout, with the fields that vary from machine to machine normalised (duration, jail
mode), must equal `<run>.jsonl` line by line, fields in the same order, and its exit code must be the one given:
0 when every file passed, 1 when any did not, 2 for a usage or pack error (then stderr is compared with
`<run>.stderr`).

`UPDATE_GOLDEN=1 pytest tests/test_grade_golden.py` rewrites the golden files; review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from quizapp.cli import main

GOLDEN = Path(__file__).parent / "golden" / "grade"
RESNET = "torch-modules/resnet-residual-block"

RUNS = [
    # (name, arguments after `quizapp`, exit code)
    (
        "choice-all-pass",
        ["grade", "torch-modules/module-sequential-modulelist", "choice-right.txt", "choice-right-bom.txt", "--json"],
        0,
    ),
    (
        "choice-and-predict-fail",
        ["grade", "torch-modules/module-sequential-modulelist", "choice-wrong.txt", "choice-right.txt", "--json"],
        1,
    ),
    (
        "predict",
        ["grade", "torch-modules/sequential-extraction", "predict-right.txt", "predict-wrong.txt", "--json"],
        1,
    ),
    (
        "code-in-input-order",
        [
            "grade",
            RESNET,
            "resnet-right.txt",
            "resnet-no-skip.txt",
            "resnet-syntax-error.txt",
            "resnet-raises.txt",
            "--json",
        ],
        1,
    ),
    ("code-run-mode-passes", ["grade", RESNET, "resnet-right.txt", "--json", "--mode", "run"], 0),
    ("unknown-question", ["grade", "torch-modules/resnet-block", "resnet-right.txt", "--json"], 2),
    ("unreadable-file", ["grade", RESNET, "no-such-answer.txt", "--json"], 2),
]


def normalise(line: str) -> str:
    """One JSON line with what varies between machines replaced, the order of fields kept."""
    data = json.loads(line)
    if "duration_ms" in data:
        data["duration_ms"] = "<ms>"
    if "jail_mode" in data:
        data["jail_mode"] = "<full or reduced>"
    return json.dumps(data, indent=1, ensure_ascii=False)


def first_sentence(text: str) -> str:
    """An error up to its list of what exists, which changes as packs grow."""
    return text.split(" Its questions:")[0].rstrip() + "\n"


# Runs of code answers grade on the session's judge pool (commands_on_session_pool): the same main() and the same
# output, without a fresh interpreter and two more imports of torch each. The command graded end to end in a
# real process, exit code and JSON lines, is tests/test_cli.py's test_grade_several_files_in_input_order_....
CODE_RUNS = {"code-in-input-order", "code-run-mode-passes"}


@pytest.mark.parametrize(
    "name, arguments, exit_code",
    [pytest.param(*run, id=run[0], marks=[pytest.mark.jail] if run[0] in CODE_RUNS else []) for run in RUNS],
)
def test_grade_json_matches_its_golden_file(
    name: str, arguments: list[str], exit_code: int, capsys, monkeypatch: pytest.MonkeyPatch, request
) -> None:
    if name in CODE_RUNS:
        request.getfixturevalue("commands_on_session_pool")
    monkeypatch.chdir(GOLDEN)
    code = main(arguments)
    out, err = capsys.readouterr()
    done = subprocess.CompletedProcess(arguments, code, out, err)
    lines = [normalise(line) for line in done.stdout.splitlines() if line.strip()]
    got = "\n".join(lines) + ("\n" if lines else "")
    expected_out, expected_err = GOLDEN / f"{name}.jsonl", GOLDEN / f"{name}.stderr"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_out.write_text(got)
        if exit_code == 2:
            expected_err.write_text(first_sentence(done.stderr))
    assert done.returncode == exit_code, done.stderr
    assert got == expected_out.read_text(), f"{name}: stdout differs from {expected_out.name}:\n{done.stdout}"
    if exit_code == 2:
        assert done.stdout == ""
        assert first_sentence(done.stderr) == expected_err.read_text()
    for line in done.stdout.splitlines():  # the contract's fields, in the contract's order
        keys = list(json.loads(line))
        assert keys[:7] == ["file", "status", "verdict", "message", "tests", "duration_ms", "mode"], keys
        for test in json.loads(line)["tests"]:
            assert list(test)[:3] == ["name", "status", "message"]
