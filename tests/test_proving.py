"""`quizapp validate` proves a pack in the judge: each way a pack can lie is reported where it lies.

The packs are small fixtures (the conftest pack, one code question with a check of every kind), proved in this
process on the session's pool; one test runs the command (main()) on it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import VALID_PACK

from quizapp.cli import main
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.proving import prove
from quizapp.packs import check_pack_text

pytestmark = pytest.mark.jail

# The conftest pack without the one trace rule its reference does not meet: a pack that proves clean but for
# checks its single decoy does not fail.
HONEST = VALID_PACK.replace("          - merges_input: mul\n", "")
REFERENCE_FORWARD = "              return x * self.weight\n"
DECOY_FORWARD = "                  return x + self.weight\n"


def _line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(needle, start)].count("\n") + 1


def _lying_pack() -> str:
    text = HONEST.replace("id: test-pack", "id: lying-pack", 1)
    text = text.replace("answer: (2, 4)", "answer: (4, 2)", 1)  # not what the snippet prints
    assert DECOY_FORWARD in text
    text = text.replace(DECOY_FORWARD, "                  return x * self.weight\n", 1)  # the decoy is the reference
    text = text.replace("equals: [0.0, 2.0]", "equals: [0.0, 3.0]", 1)  # the reference fails its own check
    return text


@pytest.fixture
def grader(judged, tmp_path: Path) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path / "cache"))


def _prove(text: str, grader: Grader, judged) -> tuple[list, list]:
    loaded = check_pack_text(text, "pack.yaml")
    assert loaded.pack is not None, loaded.problems
    proof = prove(loaded, grader, judged)
    assert (proof.references, proof.decoys, proof.snippets) == (2, 1, 1)
    errors = [p for p in proof.problems if p.severity == "error"]
    warnings = [p for p in proof.problems if p.severity == "warning"]
    return errors, warnings


def test_each_lie_is_reported_where_it_is(grader, judged) -> None:
    text = _lying_pack()
    errors, warnings = _prove(text, grader, judged)
    by_path = {p.path: p for p in errors}
    assert set(by_path) == {
        "questions[1].answer",
        "questions[2].decoys[0].fails",
        "questions[3].solution",
    }, errors

    predict = by_path["questions[1].answer"]
    assert predict.line == _line_of(text, "answer: (4, 2)")
    assert predict.message == "the snippet prints something else:\n(2, 4)"

    decoy = by_path["questions[2].decoys[0].fails"]
    assert decoy.line == _line_of(text, "fails: same-outputs")
    assert decoy.message.startswith("decoy 'adds-instead' passes check 'same-outputs': the check does not catch")

    reference = by_path["questions[3].solution"]
    assert reference.line == _line_of(text, "solution: |", after="id: fix-relu")
    assert "does not pass its own checks" in reference.message and "expected [0.0, 3.0]" in reference.message

    # A decoy that passes everything proves no check of its question.
    unproven = sorted(p.message.split("'")[1] for p in warnings if "is unproven" in p.message)
    assert unproven == sorted(
        ["same-outputs", "same-gradients", "has-parameter", "multiplies", "weight-shape", "is-a-module", "custom-probe"]
    )
    outputs = next(p for p in warnings if p.message.startswith("check 'same-outputs' is unproven"))
    assert outputs.line == _line_of(text, "id: same-outputs")


def test_only_the_checks_a_decoy_fails_are_proven(grader, judged) -> None:
    errors, warnings = _prove(HONEST, grader, judged)
    assert errors == []
    unproven = {p.message.split("'")[1] for p in warnings if "is unproven" in p.message}
    # The decoy (x + w for x * w) fails the outputs, gradients and trace checks; fix-relu has no decoy at all.
    assert unproven == {"has-parameter", "weight-shape", "is-a-module", "custom-probe", "relu-values"}
    assert all(p.message.endswith("add a decoy with a mistake it should catch") for p in warnings)


def test_a_trivial_reference_is_not_slow_but_a_slow_one_is(grader, judged) -> None:
    """The warning times the job in the jail, after the pool is warm: never start-up or a wait for a worker."""
    _, warnings = _prove(HONEST, grader, judged)
    assert not [p for p in warnings if "of its" in p.message and "wall limit" in p.message]
    slow = HONEST.replace(  # the reference sleeps 4.5 s when it is defined: most of an 8 s wall limit
        "\n      class Scale(nn.Module):\n",
        "\n      import time\n      time.sleep(4.5)\n\n\n      class Scale(nn.Module):\n",
        1,
    ).replace("      wall_seconds: 20\n", "      wall_seconds: 8\n", 1)
    assert slow.count("time.sleep(4.5)") == 1 and "wall_seconds: 8" in slow
    _, warnings = _prove(slow, grader, judged)
    (warning,) = [p for p in warnings if "wall limit" in p.message]
    assert warning.path == "questions[2].solution" and "of its 8 s wall limit" in warning.message
    seconds = float(warning.message.split("takes ")[1].split(" s")[0])
    assert 4.5 <= seconds < 8


def test_validate_from_the_command_line(tmp_path: Path, capsys, commands_on_session_pool) -> None:
    """The command's exit code and JSON document, from main() on the session's judge pool (the exit code of a real
    process is tests/test_cli.py's to check)."""
    path = tmp_path / "lying.yaml"
    path.write_text(_lying_pack())
    assert main(["validate", "--json", str(path)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    errors = [p for p in document["problems"] if p["severity"] == "error"]
    assert sorted(p["path"] for p in errors) == [
        "questions[1].answer",
        "questions[2].decoys[0].fails",
        "questions[3].solution",
    ]
    assert all(p["file"] == str(path) for p in document["problems"])
