"""`quizapp validate` proves a pack in the judge: each way a pack can lie is reported where it lies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from quizapp import locations

BUILTIN = (locations.builtin_packs_dir() / "torch-modules.yaml").read_text()


def _line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(needle, start)].count("\n") + 1


def _lying_pack() -> str:
    text = BUILTIN.replace("id: torch-modules", "id: lying-pack", 1)
    # A predict answer that is not what the snippet prints.
    text = text.replace('answer: "262"', 'answer: "1522"', 1)
    # A decoy that is the reference itself, so it passes the check it names.
    decoy = "      - id: relu-after-last\n        description: A ReLU after every layer, the last one included.\n"
    assert decoy in text
    solution = (
        "        code: |\n          from torch import nn\n          from torch.nn import functional as F\n\n\n"
        "          class MLPStack(nn.Module):\n              def __init__(self, width, depth):\n"
        "                  super().__init__()\n"
        "                  self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))\n\n"
        "              def forward(self, x):\n                  for index, layer in enumerate(self.layers):\n"
        "                      if index > 0:\n                          x = F.relu(x)\n"
        "                      x = layer(x)\n                  return x\n"
    )
    start = text.index(decoy) + len(decoy)
    fails_line = text.index("        fails: outputs\n", start)
    end = text.index("\n\n  # --- fix", start)
    text = text[:start] + "        fails: outputs\n" + solution + text[end:]
    assert fails_line
    # A reference that fails its own literal expectation.
    text = text.replace("equals: 67", "equals: 68", 1)
    return text


def test_validate_reports_each_lie_where_it_is(tmp_path: Path) -> None:
    text = _lying_pack()
    path = tmp_path / "lying.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "quizapp", "validate", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr
    everything = json.loads(done.stdout)["problems"]
    problems = [p for p in everything if p["severity"] == "error"]
    by_path = {p["path"]: p for p in problems}
    assert len(problems) == 3, everything
    # With relu-after-last replaced by the reference, mlp-stack's outputs check is still proven: one layer
    # repeated (shared weights) fails it too, now that same-shaped layers get their own values.
    assert not [p for p in everything if p["severity"] == "warning" and "unproven" in p["message"]], everything

    predict = next(p for p in problems if p["path"].endswith(".answer"))
    assert predict["line"] == _line_of(text, 'answer: "1522"')
    assert "prints something else:\n262" in predict["message"]

    decoy = next(p for p in problems if ".decoys[" in p["path"])
    assert decoy["line"] == _line_of(text, "fails: outputs", after="id: relu-after-last")
    assert "decoy 'relu-after-last' passes check 'outputs'" in decoy["message"]

    reference = next(p for p in problems if p["path"].endswith(".solution"))
    assert reference["line"] == _line_of(text, "solution: |", after="id: my-sequential")
    assert "does not pass its own checks" in reference["message"]
    assert "is 67, expected 68" in reference["message"]
    assert set(by_path) == {predict["path"], decoy["path"], reference["path"]}


def test_a_check_no_decoy_fails_is_reported_as_unproven(tmp_path: Path) -> None:
    text = BUILTIN.replace("id: torch-modules", "id: unproven-pack", 1)
    decoy_start = text.index("      - id: subclass-sequential")
    decoy_end = text.index("      - id: reversed-order")
    text = text[:decoy_start] + text[decoy_end:]
    path = tmp_path / "unproven.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "quizapp", "validate", "--json", str(path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, not an error
    problems = json.loads(done.stdout)["problems"]
    assert [p["severity"] for p in problems] == ["warning"], problems
    (warning,) = problems
    assert warning["message"].startswith("check 'no-builtin' is unproven: no decoy fails it")
    assert warning["line"] == _line_of(text, "id: no-builtin")
