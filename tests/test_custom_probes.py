"""Custom probes report observations: `quizapp validate` warns, at the check, when a custom probe's report on the
reference looks like a self-assessment (an error, a flag, a count measured inside the probe, which runs in the
answer's own process), and the built-in checks rewritten to report observations accept right answers in several
styles, reject wrong ones with the reviewer's words, and reject answers that forge their probes' reports.

Graded on the session's pool, through a grader of this module's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.proving import prove, self_assessment
from quizapp.packs import check_pack_file

PACKS = locations.builtin_packs_dir()
SELF_ASSESSING = Path(__file__).parent / "redteam" / "packs" / "self-assessing-probe.yaml"


# --- the rule, on reports as probes send them --------------------------------------------------------------


@pytest.mark.parametrize(
    "report",
    [
        {"error": 0.0},
        {"error": 2.4e-07, "exact": True},
        {"leaks": [], "finite": True},
        {"leaks": []},
        {"cleared": True},
        {"hooks": 0, "same_output": True},
        {"matches": [5, 5, 5], "ok": True},
        None,
        [],
    ],
)
def test_flags_zeros_and_one_repeated_number_are_a_self_assessment(report) -> None:
    assert self_assessment(report) is not None


@pytest.mark.parametrize(
    "report",
    [
        [0.16, 0.90],
        {"logits": [0.5, -1.25, 0.0], "shape": [1, 3]},
        {"value": {"tensor": [[1.0, 2.0]], "dtype": "float32"}},
        {"grad": None, "weights": [0.9, 0.7, 0.8]},
        {"train": "train", "eval": "eval"},  # names and modes are observations of the answer's state
        {"mean": 0.43},  # one measured number (format 2's mean-gate example)
        {"value": {"__float__": "nan"}},  # a NaN the answer produced is an observation too
    ],
)
def test_values_with_magnitudes_are_observations(report) -> None:
    assert self_assessment(report) is None


# --- the warning, from `quizapp validate`'s proof ----------------------------------------------------------


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("custom-probes-reference-cache")))


@pytest.mark.jail
def test_validate_warns_at_the_self_assessing_probe_only(grader: Grader, judged) -> None:
    loaded = check_pack_file(SELF_ASSESSING)
    assert loaded.pack is not None, loaded.problems
    proof = prove(loaded, grader, judged)
    assert [p for p in proof.problems if p.severity == "error"] == []
    (warning,) = [p for p in proof.problems if "self-assessment" in p.message]
    assert warning.severity == "warning"
    assert warning.path == "questions[0].checks[1].probe", warning
    text = SELF_ASSESSING.read_text(encoding="utf-8")
    probe_line = text[: text.index("probe: |", text.index("id: gate-error"))].count("\n") + 1
    assert warning.line == probe_line, warning
    assert "custom check 'gate-error' looks like a self-assessment" in warning.message
    assert "its only number is zero" in warning.message
    assert "let the verdict compare them with the reference's" in warning.message
    assert "gated-values" not in warning.message
    assert (proof.references, proof.decoys) == (1, 2)
