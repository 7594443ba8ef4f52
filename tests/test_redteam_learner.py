"""Red team: a hostile learner against the grader, through the real jailed pool.

Each test states the right behaviour; the ones the product does not meet yet are strict xfails whose reason
says the root cause suspected. The answers are in tests/redteam/answers/.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from answers import RESNET_RIGHT

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

ANSWERS = Path(__file__).parent / "redteam" / "answers"
MODULES = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
AUTOGRAD = load_pack(locations.builtin_packs_dir() / "torch-autograd.yaml")
RESNET = MODULES.question("resnet-residual-block")


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("redteam-reference-cache")))


def test_the_role_search_cannot_choose_between_an_answers_hypotheses(grader: Grader) -> None:
    """This attack won on main before the search was folded into the answer's first job (it was a strict xfail).
    The search now runs the reference under the pairings, never the answer, so no frame of it ever runs in the
    answer's process (a stronger attack of the class, and the class's tests: tests/test_role_oracle.py)."""
    oracle = (ANSWERS / "resnet_search_oracle.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, oracle)
    # Run on its own, the file computes a block with no ReLU after the addition: that is what must be graded.
    assert result.verdict == "wrong_answer", result.to_json()
    outputs = next(t for t in result.tests if t.check == "outputs")
    assert outputs.status == "fail", outputs


def test_the_same_file_without_the_oracle_is_wrong_and_a_right_block_still_passes(grader: Grader) -> None:
    """The control for the test above: hypothesis 0 alone is rejected by the outputs check, and the search still
    finds the pairing of a right block written with other joins (so a fix must keep it working)."""
    oracle = (ANSWERS / "resnet_search_oracle.py").read_text(encoding="utf-8")
    disabled = oracle.replace("def _hypothesis(module):\n", "def _hypothesis(module):\n    return 0\n", 1)
    assert disabled != oracle
    wrong = grader.grade(MODULES, RESNET, disabled)
    assert wrong.verdict == "wrong_answer", wrong.to_json()
    assert "ReLU" in wrong.to_json().__repr__() or "relu" in wrong.to_json().__repr__()
    right = grader.grade(MODULES, RESNET, RESNET_RIGHT["identity-and-functional-relu"])
    assert right.verdict == "accepted", right.to_json()


def test_hollow_custom_facts_do_not_pass_a_packs_verdict(grader: Grader) -> None:
    question = AUTOGRAD.question("gradient-penalty")
    hollow = (ANSWERS / "penalty_hollow_facts.py").read_text(encoding="utf-8")
    result = grader.grade(AUTOGRAD, question, hollow)
    assert result.verdict != "accepted", result.to_json()
    assert all(t.status != "pass" for t in result.tests), result.to_json()


def test_the_penalty_answer_without_its_forgery_is_wrong(grader: Grader) -> None:
    """The control: the same constant penalty, reported honestly, fails both checks."""
    hollow = (ANSWERS / "penalty_hollow_facts.py").read_text(encoding="utf-8")
    honest = hollow.replace('probes._PROBES["custom"] = _hollow_probe\n', "")
    assert honest != hollow
    result = grader.grade(AUTOGRAD, AUTOGRAD.question("gradient-penalty"), honest)
    assert result.verdict == "wrong_answer", result.to_json()
    assert all(t.status == "fail" for t in result.tests), result.to_json()


def test_a_custom_probes_self_assessment_cannot_be_reported_as_exact(grader: Grader) -> None:
    """The tied-embeddings probes used to report only an error measured in the answer's own process, which the
    answer replaced by 0 (a strict xfail until this round). They now report the logits and the gradient for
    weights the probe sets itself, and the host compares them with the reference's: a report of 0 says nothing."""
    question = MODULES.question("tied-embeddings")
    forged = (ANSWERS / "tied_lm_zero_error.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, question, forged)
    assert result.verdict == "wrong_answer", result.to_json()
    failed = {t.check: t.message for t in result.tests if t.status == "fail"}
    assert set(failed) == {"logits", "gradient"}, result.to_json()
    assert "holds no logits" in failed["logits"], failed
    honest = forged.replace('probes._PROBES["custom"] = ', "_unused = ")
    assert honest != forged
    control = grader.grade(MODULES, question, honest)
    assert control.verdict == "wrong_answer", control.to_json()
    logits = next(t for t in control.tests if t.check == "logits")
    assert logits.status == "fail" and "differ from tanh(hidden(E[idx])) @ E.T" in logits.message, logits


def test_a_predict_answer_nested_too_deep_is_a_wrong_answer_not_our_fault(grader: Grader) -> None:
    question = AUTOGRAD.question("broadcasting-shapes")
    result = grader.grade(AUTOGRAD, question, "[" * 5000 + "]" * 5000)
    assert result.verdict == "wrong_answer", result.to_json()


def test_an_exception_message_with_a_lone_surrogate_is_a_runtime_error(grader: Grader) -> None:
    answer = 'raise ValueError("cannot open " + b"caf\\xe9.txt".decode("utf-8", "surrogateescape"))\n'
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "runtime_error", result.to_json()
    assert "cannot open" in result.message, result.message


def test_a_custom_value_of_another_structure_fails_the_check_and_does_not_blame_the_pack(grader: Grader) -> None:
    forged = (ANSWERS / "tied_lm_zero_error.py").read_text(encoding="utf-8")
    odd = forged.replace('{"value": {"error": 0.0}}', '{"value": {"error": None}}')
    assert odd != forged
    result = grader.grade(MODULES, MODULES.question("tied-embeddings"), odd)
    assert result.verdict == "wrong_answer", result.to_json()
    assert "its verdict raised" not in repr(result.to_json())


def test_a_huge_answer_does_not_take_the_grading_processs_memory(grader: Grader) -> None:
    answer = "x = 1\n" * 190_000  # 1.1 MB of valid Python
    tracemalloc.start()
    try:
        result = grader.grade(MODULES, RESNET, answer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.verdict != "accepted"
    assert result.verdict != "internal_error", result.message
    assert peak < 64 << 20, f"the grading process allocated {peak >> 20} MiB for a {len(answer) >> 10} KiB answer"


# --- round 8's red team: trace rules by an operator's overload, torch's class names, the judge's blame -------

SCRATCH = load_pack(locations.builtin_packs_dir() / "torch-from-scratch.yaml")


@pytest.mark.parametrize(
    ("question_id", "answer_file", "op"),
    [
        ("stable-softmax", "softmax_by_aten_overload.py", "softmax"),
        ("layer-norm", "layer_norm_by_aten_overload.py", "layer_norm"),
    ],
)
def test_a_builtin_called_by_its_aten_overload_still_breaks_the_trace_rule(
    grader: Grader, question_id: str, answer_file: str, op: str
) -> None:
    """torch.ops.aten._softmax.default(...) used to trace as 'softmax.default', which a rule `op: softmax` never
    matched: an answer that calls the forbidden built-in by its overload was accepted with no tampering."""
    question = SCRATCH.question(question_id)
    answer = (ANSWERS / answer_file).read_text(encoding="utf-8")
    result = grader.grade(SCRATCH, question, answer)
    assert result.verdict == "wrong_answer", result.to_json()
    traced = [
        t
        for t in result.tests
        if t.status == "fail" and f"no built-in {op.replace('_', ' ')}" in t.message.replace("_", " ")
    ]
    assert traced, result.to_json()
    assert f"{op} ran" in traced[0].message, traced[0].message


def test_an_answers_own_class_named_like_torchs_is_not_counted_as_torchs(grader: Grader) -> None:
    """A class of the answer's called BatchNorm2d that normalises nothing used to pass both layer checks (0.6
    against an honest block without BatchNorms at 0.2)."""
    answer = (ANSWERS / "resnet_own_batchnorm_class.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "wrong_answer", result.to_json()
    layers = {t.check: t for t in result.tests if t.check in ("identity-layers", "projection-layers")}
    assert set(layers) == {"identity-layers", "projection-layers"}, result.to_json()
    for test in layers.values():
        assert test.status == "fail", test
        assert "0 BatchNorm2d" in test.message and "its own class named BatchNorm2d" in test.message, test.message
    assert result.score <= 0.2, result.to_json()
    right = grader.grade(MODULES, RESNET, RESNET_RIGHT["identity-and-functional-relu"])
    assert right.verdict == "accepted", right.to_json()


@pytest.mark.parametrize("answer_file", ["judge_helper_broken.py", "forged_task_error_frame.py"])
def test_an_answer_cannot_make_its_failure_the_judges(grader: Grader, answer_file: str) -> None:
    """Breaking the child's own helper (no frame of answer.py in the failure), or writing a task_error frame with
    the nonce read from a frame, used to give internal_error: the judge's fault, in words the answer chose.
    J's word is the answer's: it is a runtime_error that says what failed."""
    answer = (ANSWERS / answer_file).read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "runtime_error", result.to_json()
    assert "probe code failed" in result.message, result.message
    right = grader.grade(MODULES, RESNET, RESNET_RIGHT["identity-and-functional-relu"])
    assert right.verdict == "accepted", right.to_json()


def test_an_answer_that_sends_itself_sigxcpu_is_not_a_time_limit(grader: Grader) -> None:
    result = grader.grade(MODULES, RESNET, "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\n")
    assert result.verdict == "runtime_error", result.to_json()
    assert "SIGXCPU" in result.message, result.message


def test_an_exception_class_with_a_huge_name_is_a_runtime_error_with_the_name_cut(grader: Grader) -> None:
    """A 1.8-million-character class name used to be copied into every run's facts: output_limit."""
    answer = (ANSWERS / "huge_exception_type_name.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "runtime_error", result.to_json()
    assert all(len(t.message) < 4000 for t in result.tests), [len(t.message) for t in result.tests]


def test_a_forbidden_function_looked_up_by_a_computed_name_breaks_the_source_rule(grader: Grader) -> None:
    """`importlib.import_module("torch.autograd." + "functional").jacobian` used to pass a rule that forbids
    torch.autograd.functional: a source rule read only the text. The job now watches the forbidden names being
    called from the answer's code; the same lookup spelled with a constant is read in the text as before."""
    question = AUTOGRAD.question("jacobian-by-rows")
    computed = (ANSWERS / "jacobian_builtin_by_computed_import.py").read_text(encoding="utf-8")
    result = grader.grade(AUTOGRAD, question, computed)
    assert result.verdict == "wrong_answer", result.to_json()
    rule = next(t for t in result.tests if t.check == "by-hand")
    assert rule.status == "fail" and "torch.autograd.functional.jacobian (seen while it ran)" in rule.message, rule
    constant = computed.replace('"torch.autograd." + "functional"', '"torch.autograd.functional"')
    assert constant != computed
    spelled = grader.grade(AUTOGRAD, question, constant)
    rule = next(t for t in spelled.tests if t.check == "by-hand")
    assert rule.status == "fail" and "uses torch.autograd.functional" in rule.message, rule


SOURCE_RULES = ANSWERS / "source_rules"
RULE_QUESTIONS = {  # file prefix -> (pack, question, the source check's id)
    "jacobian": (AUTOGRAD, "jacobian-by-rows", "by-hand"),
    "sequential": (MODULES, "my-sequential", None),
    "linear": (SCRATCH, "linear-with-init", None),
}


def _rule_check(pack, question_id: str, check_id: str | None):  # type: ignore[no-untyped-def]
    question = pack.question(question_id)
    return question, check_id or next(c.id for c in question.checks if c.kind == "source")


@pytest.mark.parametrize("answer_file", sorted(p.name for p in SOURCE_RULES.glob("*_bypass_*.py")))
def test_a_forbidden_name_reached_any_way_fails_the_source_rule(grader: Grader, answer_file: str) -> None:
    """The review of this round's static reading found fifteen ways past it (getattr kept in a variable,
    operator.attrgetter, functools.reduce(getattr, ...), sys.modules.get, __getattribute__, inspect.getmembers,
    the module passed as an argument, a class that derives from the forbidden one, the entry point bound to
    it...). Each is seen calling the forbidden name, or holding it, when the job runs."""
    pack, question_id, check_id = RULE_QUESTIONS[answer_file.split("_")[0]]
    question, check_id = _rule_check(pack, question_id, check_id)
    result = grader.grade(pack, question, (SOURCE_RULES / answer_file).read_text(encoding="utf-8"))
    assert result.verdict == "wrong_answer", result.to_json()
    rule = next(t for t in result.tests if t.check == check_id)
    assert rule.status == "fail", result.to_json()
    assert "seen while it ran" in rule.message or "uses " in rule.message, rule.message


@pytest.mark.parametrize("answer_file", sorted(p.name for p in SOURCE_RULES.glob("*_honest_*.py")))
def test_an_honest_answer_with_computed_lookups_of_its_own_passes_the_source_rule(
    grader: Grader, answer_file: str
) -> None:
    """getattr(self, f"layer{i}"), getattr(torch, dtype), sys.modules[__name__], a self-test under
    `if __name__ == "__main__":`: none calls a forbidden name, and each answer is right."""
    pack, question_id, check_id = RULE_QUESTIONS[answer_file.split("_")[0]]
    question, check_id = _rule_check(pack, question_id, check_id)
    result = grader.grade(pack, question, (SOURCE_RULES / answer_file).read_text(encoding="utf-8"))
    assert result.verdict == "accepted", result.to_json()


def test_running_statistics_updated_with_another_momentum_fail_the_outputs_check(grader: Grader) -> None:
    """BatchNorm2d(momentum=0.9) gives the reference's outputs in both modes (each run starts from the same
    running statistics) and was accepted. The statistics a training-mode forward leaves are compared now."""
    answer = (ANSWERS / "resnet_batchnorm_momentum.py").read_text(encoding="utf-8")
    result = grader.grade(MODULES, RESNET, answer)
    assert result.verdict == "wrong_answer", result.to_json()
    outputs = next(t for t in result.tests if t.check == "outputs")
    assert outputs.status == "fail" and "running statistics" in outputs.message, outputs
    assert "momentum" in outputs.message and "running_mean" in outputs.message, outputs.message
    fixed = answer.replace("momentum=0.9", "momentum=0.1")
    assert fixed != answer
    assert grader.grade(MODULES, RESNET, fixed).verdict == "accepted"


def test_a_crash_before_a_layer_does_not_say_the_layer_never_runs(grader: Grader) -> None:
    """The fix-head-merge starter raises in `.view` before `self.out` is reached: the headline used to say "`out`
    never runs in forward: its weights are registered but not used; then RuntimeError ...", a claim drawn from
    a run cut short by the crash (a new user's report). Only the exception and its line are said now."""
    question = AUTOGRAD.question("fix-head-merge")
    assert question.starter is not None
    result = grader.grade(AUTOGRAD, question, question.starter)
    assert result.verdict == "runtime_error", result.to_json()
    outputs = next(t for t in result.tests if t.check == "outputs")
    assert "view size is not compatible" in outputs.message and "line 12" in outputs.message, outputs.message
    assert "never runs" not in outputs.message and "0 times" not in outputs.message, outputs.message


def test_an_exception_that_cannot_be_printed_by_any_means_is_the_answers_runtime_error(grader: Grader) -> None:
    """A KeyboardInterrupt subclass whose __str__ raises itself, and a SystemExit whose int code refuses `&`:
    the verdicts were right, the messages said "exited with status 121" (the child's own set-up status)."""
    unprintable = grader.grade(MODULES, RESNET, (ANSWERS / "keyboard_interrupt_unprintable.py").read_text())
    assert unprintable.verdict == "runtime_error", unprintable.to_json()
    outputs = next(t for t in unprintable.tests if t.check == "outputs")
    assert "Stop" in outputs.message and "cannot be printed" in outputs.message, outputs.message
    assert "status 121" not in repr(unprintable.to_json())
    odd_exit = grader.grade(MODULES, RESNET, (ANSWERS / "system_exit_odd_code.py").read_text())
    assert odd_exit.verdict == "runtime_error", odd_exit.to_json()
    assert "status 7" in odd_exit.message, odd_exit.message
