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
from quizapp.grading.student import student_yaml
from quizapp.packs import check_pack_file, check_pack_text, load_pack

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


@pytest.mark.jail
def test_validate_warns_about_a_student_builds_shipped_self_assessment(grader: Grader, judged, tmp_path) -> None:
    """A student build has no reference to run: the warning reads the reference's report it ships."""
    text = student_yaml(load_pack(SELF_ASSESSING), grader)
    loaded = check_pack_text(text, "student.yaml")
    assert loaded.pack is not None, loaded.problems
    proof = prove(loaded, Grader(None, ReferenceCache(tmp_path / "empty-cache")), judged)
    assert [p for p in proof.problems if p.severity == "error"] == []
    (warning,) = [p for p in proof.problems if "self-assessment" in p.message]
    assert warning.path == "questions[0].checks[1].probe", warning
    assert "custom check 'gate-error' looks like a self-assessment" in warning.message


# --- the rewritten built-in checks, graded on answers in several styles --------------------------------------

ANSWERS = Path(__file__).parent / "custom_probes"
REDTEAM = Path(__file__).parent / "redteam" / "answers"

# (pack, question) -> right answers written in other styles than the reference, and wrong answers with the
# custom check each must fail and words of its message.
STYLES: dict[tuple[str, str], tuple[list[str], dict[str, tuple[str, str]]]] = {
    ("torch-modules", "tied-embeddings"): (
        ["tied_functional.py", "tied_matmul.py", "tied_head_first.py"],
        {"tied_relu.py": ("logits", "the logits differ from tanh(hidden(E[idx])) @ E.T by up to")},
    ),
    ("torch-from-scratch", "inverted-dropout"): (
        ["dropout_bernoulli.py", "dropout_where.py"],
        {"dropout_no_rescale.py": ("training", "with p=0.25, an input of 0.25 that was kept became 0.25, expected")},
    ),
    ("torch-from-scratch", "linear-with-init"): (
        ["linear_uniform_helper.py", "linear_rand_scaled.py"],
        {"linear_bound_without_sqrt.py": ("initialisation", "the largest |value| is 0.25 k")},
    ),
    ("torch-from-scratch", "embedding"): (
        ["embedding_normal_.py", "embedding_one_hot.py"],
        {"embedding_uniform_std_one.py": ("initialisation", "is not distributed like a standard normal")},
    ),
    ("torch-from-scratch", "causal-self-attention"): (
        ["attn_tril.py", "attn_einsum.py"],
        {"attn_no_mask.py": ("causal", "changed the output at an earlier position: the future leaks into the past")},
    ),
    ("torch-from-scratch", "gpt-block"): (
        ["block_sdpa.py", "block_manual.py"],
        {"block_bidirectional.py": ("causal", "changed the output at an earlier position: the attention is not")},
    ),
    ("torch-from-scratch", "rotary-embedding"): (
        ["rope_complex.py", "rope_rotate_half.py"],
        {"rope_scaled.py": ("relative", "changes the length of a vector by up to")},
    ),
    ("torch-from-scratch", "kv-cache"): (
        ["kv_list.py", "kv_preallocated.py"],
        {"kv_stale_reset.py": ("reset", "after reset_cache(), the same sequence gives different outputs")},
    ),
    ("torch-from-scratch", "sgd-momentum"): (
        ["sgd_subclass.py", "sgd_zero_fill.py"],
        {"sgd_no_zero_grad.py": ("zero-grad", "after zero_grad(), a gradient of 5.0 was still there")},
    ),
    ("torch-modules", "relu-zero-fractions"): (
        ["relu_handles.py", "relu_context.py"],
        {"relu_hooks_left.py": ("clean", "2 hook(s) are still registered on the model afterwards")},
    ),
    ("torch-training", "fix-validation-accuracy"): (
        ["eval_finally.py", "eval_decorated.py"],
        {"eval_never_restored.py": ("mode-restored", "called on a model in train mode, evaluate left it in eval mode")},
    ),
    ("torch-training", "fix-epoch-memory"): (
        ["epoch_float.py", "epoch_detach_item.py"],
        {"epoch_detached_tensor.py": ("returns-float", "train_epoch returned a tensor, expected a Python float")},
    ),
}

RIGHT = [(pack, question, name) for (pack, question), (right, _) in STYLES.items() for name in right]
WRONG = [(pack, question, name, *why) for (pack, question), (_, wrong) in STYLES.items() for name, why in wrong.items()]


def _grade(grader: Grader, pack_id: str, question_id: str, source: str):
    pack = load_pack(PACKS / f"{pack_id}.yaml")
    return grader.grade(pack, pack.question(question_id), source)


@pytest.mark.jail
@pytest.mark.parametrize(("pack_id", "question_id", "name"), RIGHT, ids=[f"{q}/{n}" for _, q, n in RIGHT])
def test_a_right_answer_in_another_style_is_accepted(grader: Grader, pack_id, question_id, name) -> None:
    result = _grade(grader, pack_id, question_id, (ANSWERS / name).read_text(encoding="utf-8"))
    assert result.verdict == "accepted", result.to_json()


@pytest.mark.jail
@pytest.mark.parametrize(
    ("pack_id", "question_id", "name", "check", "words"), WRONG, ids=[f"{q}/{n}" for _, q, n, *_ in WRONG]
)
def test_a_wrong_answer_fails_the_custom_check_in_a_reviewers_words(
    grader: Grader, pack_id, question_id, name, check, words
) -> None:
    result = _grade(grader, pack_id, question_id, (ANSWERS / name).read_text(encoding="utf-8"))
    assert result.verdict == "wrong_answer", result.to_json()
    found = next(t for t in result.tests if t.check == check)
    assert found.status == "fail" and words in found.message, found


# --- answers that doctor their own probe's report ------------------------------------------------------------

# (answer file, pack, question, check, words of the forged run's failure, words of the honest run's failure)
FORGERIES = [
    (
        "attention_leak_hidden.py",
        "torch-from-scratch",
        "causal-self-attention",
        "causal",
        "the outputs differ from the reference's causal attention by up to",
        "the future leaks into the past",
    ),
    (
        "sgd_stale_gradient_hidden.py",
        "torch-from-scratch",
        "sgd-momentum",
        "zero-grad",
        "after zero_grad(), a backward and step(), w is [0.3, -1.7, -0.3], expected [0.8, -1.2, 0.2]",
        "after zero_grad(), a gradient of 5.0 was still there",
    ),
    (
        "evaluate_statistics_hidden.py",
        "torch-training",
        "fix-validation-accuracy",
        "eval-mode",
        "three calls on the same data gave accuracies",
        "evaluating changed BatchNorm's running statistics",
    ),
]


@pytest.mark.jail
@pytest.mark.parametrize(
    ("name", "pack_id", "question_id", "check", "forged_words", "honest_words"),
    FORGERIES,
    ids=[f[0] for f in FORGERIES],
)
def test_a_doctored_report_of_observations_is_still_rejected(
    grader: Grader, name, pack_id, question_id, check, forged_words, honest_words
) -> None:
    """The answer runs the real probe and rewrites the part of its report that shows the defect; the values the
    defect produced stay in the report and differ from the reference's. Without the forgery, the same wrong
    answer fails the same check with the diagnosis."""
    forged = (REDTEAM / name).read_text(encoding="utf-8")
    result = _grade(grader, pack_id, question_id, forged)
    assert result.verdict == "wrong_answer", result.to_json()
    found = next(t for t in result.tests if t.check == check)
    assert found.status == "fail" and forged_words in found.message, found

    honest = forged.replace('probes._PROBES["custom"] = _doctored\n', "")
    assert honest != forged
    control = _grade(grader, pack_id, question_id, honest)
    assert control.verdict == "wrong_answer", control.to_json()
    found = next(t for t in control.tests if t.check == check)
    assert found.status == "fail" and honest_words in found.message, found
