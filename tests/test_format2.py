"""Pack format 2: what it may say, what a format-1 pack may not, and how each new capability grades.

The loader and the facts' validation are tested here without the judge; the grading of the test pack
tests/packs/format2-canon.yaml (multi-head attention with a mask returning (output, weights), a softmax
function, cross-entropy over integer targets, float64 and bfloat16 cases) runs in the jail.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import VALID_PACK

from quizapp.grading import answers
from quizapp.grading.checks import same_value
from quizapp.grading.facts import FactsRefused, TensorStore, validate
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import check_pack_text, load_pack, model

ROOT = Path(__file__).resolve().parent.parent
TEST_PACK = ROOT / "tests" / "packs" / "format2-canon.yaml"

# A case of the conftest pack's code question as written (the first so written is its fourth check's)
FIRST_CASE = "          - args: [3]\n            inputs: [[2, 3]]\n"


def _errors(text: str) -> list[tuple[int, str, str]]:
    result = check_pack_text(text, "pack.yaml")
    return [(p.line, p.path, p.message) for p in result.errors]


def _line(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_the_conftest_pack_is_format_1_and_loads() -> None:
    assert VALID_PACK.startswith("format: 1\n") and FIRST_CASE in VALID_PACK
    assert check_pack_text(VALID_PACK).pack is not None


def test_a_format_1_pack_using_a_format_2_key_is_told_which_key_needs_format_2() -> None:
    calls = "          - args: [3]\n            calls: [{args: [{shape: [2, 3]}, 1]}]\n"
    text = VALID_PACK.replace(FIRST_CASE, calls, 1)
    errors = _errors(text)
    assert errors == [
        (
            _line(text, "calls: [{args"),
            "questions[2].checks[3].cases[0].calls",
            "'calls' needs 'format: 2' at the top of the pack (this pack says format 1)",
        )
    ]
    assert check_pack_text(text.replace("format: 1\n", "format: 2\n", 1)).pack is not None


def test_a_format_2_key_deep_inside_a_format_1_tensor_is_named_where_it_is() -> None:
    text = VALID_PACK.replace("inputs: [[2, 3]]", "inputs: [{values: [[1.0, 2.0, 3.0]]}]", 1)
    assert _errors(text) == [
        (
            _line(text, "inputs: [{values"),
            "questions[2].checks[1].cases[0].inputs[0].values",
            "'values' needs 'format: 2' at the top of the pack (this pack says format 1)",
        )
    ]


def test_a_format_1_question_sends_the_judge_what_it_always_sent() -> None:
    """No format-2 key reaches a format-1 question's payload: the judge's seed, derived from the payload, and
    so every random number an answer draws, stay what they were."""
    from quizapp.grading.grader import probe_payload

    pack = check_pack_text(VALID_PACK).pack
    assert pack is not None
    for question in pack.questions:
        if isinstance(question, model.CodeBase):
            payload = probe_payload(question, "", question.checks)
            assert "entry_point_kind" not in payload
            for spec in payload["checks"]:
                for case in spec.get("cases", []):
                    assert not {"calls", "dtype"} & set(case), case
                    assert all("values" not in tensor for tensor in case["inputs"]), case


def test_format_2_reads_every_format_1_pack_the_same() -> None:
    one = check_pack_text(VALID_PACK).pack
    two = check_pack_text(VALID_PACK.replace("format: 1\n", "format: 2\n", 1)).pack
    assert one is not None and two is not None
    assert one.model_dump(exclude={"format"}) == two.model_dump(exclude={"format"})


FORMAT_2 = VALID_PACK.replace("format: 1\n", "format: 2\n", 1)


@pytest.mark.parametrize(
    ("case", "needle", "message"),
    [
        (
            "          - args: [3]\n            calls: [{args: [{shape: [2, 3]}, {same_as: 1}, 4]}]\n",
            "{same_as: 1}",
            "same_as names argument 1, which is not a tensor argument of this call (tensor arguments: 0)",
        ),
        (
            "          - args: [3]\n            inputs: [[2, 3]]\n            calls: [{args: [{shape: [2, 3]}]}]\n",
            "calls:",
            "give either 'inputs' or 'calls' for a case, not both",
        ),
        (
            "          - args: [3]\n            calls: [{args: [{shape: [2, 3], dtyp: float64}]}]\n",
            "{shape: [2, 3], dtyp",
            "unknown key 'dtyp'",
        ),
        (
            "          - args: [3]\n            calls: [{args: [{shape: [2, 3], values: [1, 2]}]}]\n",
            "{shape: [2, 3], values",
            "a tensor needs exactly one of 'shape' and 'values'",
        ),
    ],
)
def test_a_call_that_cannot_be_made_is_a_located_error(case: str, needle: str, message: str) -> None:
    text = FORMAT_2.replace(FIRST_CASE, case, 1)
    errors = _errors(text)
    assert len(errors) == 1, errors
    line, _path, said = errors[0]
    assert line == _line(text, needle)
    assert message in said


FUNCTION_QUESTION = """\
  - id: double
    kind: code
    title: Double
    difficulty: easy
    minutes: 1
    prompt: Write double(x, times).
    explanation: x times the number.
    signature: double(x, times)
    entry_point: double
    entry_point_kind: function
    solution: |
      def double(x, times=2):
          return x * times
    checks:
      - id: outputs
        kind: outputs
        cases:
          - CASE
"""


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "args: [2]\n            calls: [{args: [{shape: [2]}]}]",
            "the entry point is a function (entry_point_kind: function): nothing is constructed",
        ),
    ],
)
def test_a_function_entry_point_takes_no_constructor_arguments(case: str, message: str) -> None:
    text = FORMAT_2 + FUNCTION_QUESTION.replace("CASE", case)
    errors = _errors(text)
    assert len(errors) == 1 and message in errors[0][2], errors


def test_a_structure_check_needs_a_module_to_build() -> None:
    question = FUNCTION_QUESTION.replace("CASE", "calls: [{args: [{shape: [2]}]}]") + (
        "      - id: tree\n        kind: structure\n        cases: [{}]\n        param_count: 0\n"
    )
    errors = _errors(FORMAT_2 + question)
    assert len(errors) == 1 and "a structure check needs a module" in errors[0][2], errors


def test_a_case_dtype_reaches_the_tensors_that_name_none() -> None:
    case = model.Case(
        dtype="bfloat16",
        calls=[{"args": [{"shape": [2]}, {"shape": [2], "dtype": "float32"}, {"shape": [2], "dtype": "int64"}, 3]}],
    )
    dtypes = [a.dtype for a in case.calls[0].args[:3]]
    assert dtypes == ["bfloat16", "float32", "int64"]
    assert model.Case(inputs=[[2, 3]]).all_calls()[0].args[0].shape == [2, 3]


def test_tolerances_widen_to_the_case_dtype_unless_the_author_set_them() -> None:
    default = model.OutputsCheck(id="o", kind="outputs", cases=[{"inputs": [[2]]}])
    bf16 = model.Case(dtype="bfloat16", inputs=[[2]])
    f64 = model.Case(dtype="float64", inputs=[[2]])
    assert model.tolerance_for(default, bf16) == (2e-2, 2e-2)
    assert model.tolerance_for(default, f64) == (1e-5, 1e-6)
    strict = model.OutputsCheck(id="o", kind="outputs", cases=[{"inputs": [[2]]}], rtol=1e-3)
    assert model.tolerance_for(strict, bf16) == (1e-3, 2e-2)
    # a dump that writes every key (a student build's) still says the author set no tolerance
    again = model.OutputsCheck.model_validate(default.model_dump())
    assert model.tolerance_for(again, bf16) == (2e-2, 2e-2)
    gradients = model.GradientsCheck(id="g", kind="gradients", cases=[{"inputs": [[2]]}])
    assert model.tolerance_for(gradients, f64) == (1e-4, 1e-5)


def test_same_value_compares_numbers_within_the_tolerance_everywhere() -> None:
    assert same_value([1.0, {"a": 2.0}], [1.0005, {"a": 2.001}], 1e-3, 0)
    assert not same_value([1.0, {"a": 2.0}], [1.0005, {"a": 2.01}], 1e-3, 0)
    assert not same_value(1.0, 1.0005)  # the default stays tight
    assert same_value(float("nan"), float("nan"))


def test_a_predict_tolerance_accepts_close_numbers_and_nothing_else() -> None:
    text = FORMAT_2.replace("    answer: (2, 4)\n", "    answer: (2, 4)\n    tolerance: {atol: 0.01}\n", 1)
    pack = check_pack_text(text).pack
    assert pack is not None
    question = next(q for q in pack.questions if isinstance(q, model.PredictQuestion))
    assert question.tolerance is not None and question.tolerance.atol == 0.01
    looser = question.model_copy(update={"answer": "tensor([0.0900, 0.2447, 0.6652])"})
    assert answers.grade_predict(looser, "tensor([0.09, 0.245, 0.665])").verdict == "accepted"
    assert answers.grade_predict(looser, "tensor([0.09, 0.26, 0.665])").verdict == "wrong_answer"
    assert answers.grade_predict(looser, "tensor([0.09, 0.245])").verdict == "wrong_answer"
    assert answers.grade_predict(looser, "tensor([0.09, 0.245, 0.665], dtype=torch.float64)").verdict == (
        "wrong_answer"
    )
    exact = looser.model_copy(update={"tolerance": None})
    assert answers.grade_predict(exact, "tensor([0.09, 0.245, 0.665])").verdict == "wrong_answer"


# --- the facts a run must send: a forger never passes by omitting or reshaping them ---------------------


def _attention_check() -> model.GradientsCheck:
    pack = load_pack(TEST_PACK)
    question = pack.question("masked-multi-head-attention")
    return next(c for c in question.checks if c.id == "gradients")  # type: ignore[union-attr]


def _honest_gradients() -> tuple[dict, TensorStore]:
    import numpy as np
    from safetensors.numpy import save

    key = "gradients/0/train/0"
    arrays = {f"{key}/input": np.zeros((2, 3, 8), np.float32)}
    arrays[f"{key}/input/1"] = np.zeros((2, 3, 8), np.float32)
    arrays[f"{key}/input/2"] = np.zeros((2, 3, 8), np.float32)
    facts = {
        "results": [
            {
                "case": 0,
                "mode": "train",
                "input": 0,
                "output": {"type": "tuple"},
                "detached": False,
                "input_grad": f"{key}/input",
                "input_grads": {"1": f"{key}/input/1", "2": f"{key}/input/2"},
                "parameters": [],
            }
        ]
    }
    return facts, TensorStore(save(arrays))


def test_the_gradients_of_every_argument_are_required() -> None:
    check = _attention_check()
    facts, tensors = _honest_gradients()
    validate(check, copy.deepcopy(facts), tensors)  # honest: accepted
    for forged in (
        lambda f: f["results"][0].pop("input_grads"),
        lambda f: f["results"][0]["input_grads"].pop("2"),
        lambda f: f["results"][0]["input_grads"].__setitem__("3", None),
        lambda f: f["results"][0]["input_grads"].__setitem__("2", "gradients/0/train/0/input/1"),
    ):
        bad = copy.deepcopy(facts)
        forged(bad)
        with pytest.raises(FactsRefused):
            validate(check, bad, tensors)


def test_output_elements_must_be_the_tensors_sent() -> None:
    import numpy as np
    from safetensors.numpy import save

    pack = load_pack(TEST_PACK)
    check = pack.question("masked-multi-head-attention").checks[0]  # type: ignore[union-attr]
    results = []
    arrays = {}
    for case_index, case in enumerate(check.cases):
        for mode in check.modes:
            for call_index in range(len(case.all_calls())):
                key = f"outputs/{case_index}/{mode}/{call_index}"
                arrays[f"{key}/o0"] = np.zeros((2,), np.float32)
                elements = [
                    {"path": "[0]", "shape": [2], "dtype": "float32", "tensor": f"{key}/o0"},
                    {"path": "[1]", "type": "NoneType", "value": None},
                ]
                results.append(
                    {
                        "case": case_index,
                        "mode": mode,
                        "input": call_index,
                        "output": {"type": "tuple"},
                        "elements": elements,
                    }
                )
    tensors = TensorStore(save(arrays))
    validate(check, {"results": copy.deepcopy(results)}, tensors)
    for forged in (
        lambda r: r[0]["elements"][0].__setitem__("tensor", "outputs/0/eval/0/o0"),  # another run's tensor
        lambda r: r[0]["elements"][0].__setitem__("shape", [3]),
        lambda r: r[0]["elements"].append(dict(r[0]["elements"][1])),  # an element twice
        lambda r: r[0]["elements"][1].__setitem__("shape", [2]),  # a shape without a tensor
    ):
        bad = copy.deepcopy(results)
        forged(bad)
        with pytest.raises(FactsRefused):
            validate(check, {"results": bad}, tensors)


def test_running_statistics_must_be_the_tensors_sent_for_a_train_runs_first_input() -> None:
    import numpy as np
    from safetensors.numpy import save

    pack = load_pack(TEST_PACK)
    check = pack.question("masked-multi-head-attention").checks[0]  # type: ignore[union-attr]
    results, arrays = [], {}
    for case_index, case in enumerate(check.cases):
        for mode in check.modes:
            for call_index in range(len(case.all_calls())):
                key = f"outputs/{case_index}/{mode}/{call_index}"
                arrays[key] = np.zeros((2,), np.float32)
                entry = {
                    "case": case_index,
                    "mode": mode,
                    "input": call_index,
                    "output": {"shape": [2], "dtype": "float32"},
                }
                if mode == "train" and call_index == 0:
                    arrays[f"{key}/s0"] = np.zeros((4,), np.float32)
                    entry["state"] = [
                        {"path": "norm.running_mean", "shape": [4], "dtype": "float32", "tensor": f"{key}/s0"}
                    ]
                results.append(entry)
    tensors = TensorStore(save(arrays))
    validate(check, {"results": copy.deepcopy(results)}, tensors)
    first_train = next(i for i, r in enumerate(results) if r.get("state"))
    first_eval = next(i for i, r in enumerate(results) if r["mode"] == "eval")
    for forged in (
        lambda r: r[first_train]["state"][0].__setitem__("tensor", "outputs/0/train/0"),  # the output's tensor
        lambda r: r[first_train]["state"][0].__setitem__("shape", [5]),
        lambda r: r[first_eval].__setitem__("state", [dict(r[first_train]["state"][0])]),  # in an eval run
    ):
        bad = copy.deepcopy(results)
        forged(bad)
        with pytest.raises(FactsRefused):
            validate(check, {"results": bad}, tensors)


def test_the_calls_a_job_watched_must_be_reported_as_asked() -> None:
    from quizapp import locations
    from quizapp.grading.grader import _called, watched_names

    autograd = load_pack(locations.builtin_packs_dir() / "torch-autograd.yaml")
    jacobian = autograd.question("jacobian-by-rows")
    watched = watched_names(jacobian)  # type: ignore[arg-type]
    assert "torch.autograd.functional.jacobian" in watched and "torch.func" in watched
    assert _called(jacobian, {"called": []}) == set()  # type: ignore[arg-type]
    assert _called(jacobian, {"called": ["torch.func"]}) == {"torch.func"}  # type: ignore[arg-type]
    for forged in ({}, {"called": None}, {"called": ["torch.func", "torch.func"]}, {"called": ["os.system"]}):
        with pytest.raises(FactsRefused):
            _called(jacobian, forged)  # type: ignore[arg-type]
    plain = autograd.question("gradient-penalty")  # no source rule: nothing watched, nothing to report
    assert watched_names(plain) == [] and _called(plain, {}) == set()  # type: ignore[arg-type]
    with pytest.raises(FactsRefused):
        _called(plain, {"called": ["torch.func"]})  # type: ignore[arg-type]


def test_state_dict_keys_must_be_reported_when_the_check_asks() -> None:
    pack = load_pack(TEST_PACK)
    check = next(c for c in pack.question("masked-multi-head-attention").checks if c.id == "interface")
    entry = {"case": 0, "modules": {"MultiHeadAttention": 1}, "param_count": 10, "state_dict": ["a.weight"]}
    validate(check, {"results": [dict(entry)]}, TensorStore())
    without = dict(entry)
    without.pop("state_dict")
    with pytest.raises(FactsRefused, match="state_dict"):
        validate(check, {"results": [without]}, TensorStore())


# --- graded in the judge ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("format2-cache")))


def _decoy(question: model.CodeBase, decoy_id: str) -> str:
    return next(d.code for d in question.decoys if d.id == decoy_id)


def _failed(grader: Grader, question_id: str, code: str) -> dict[str, str]:
    pack = load_pack(TEST_PACK)
    result = grader.grade(pack, pack.question(question_id), code)
    return {t.check: t.message for t in result.tests if t.status != "pass"}


@pytest.mark.jail
def test_the_test_pack_proves_clean(judged, grader: Grader) -> None:
    from quizapp.grading.proving import prove
    from quizapp.packs import check_pack_file

    loaded = check_pack_file(TEST_PACK)
    assert loaded.problems == []
    proof = prove(loaded, grader, judged)
    assert [str(p) for p in proof.problems] == []
    assert (proof.references, proof.decoys, proof.snippets) == (5, 23, 1)


@pytest.mark.jail
def test_a_tuple_output_is_compared_element_by_element_and_named(grader: Grader) -> None:
    question = load_pack(TEST_PACK).question("masked-multi-head-attention")
    failed = _failed(grader, question.id, _decoy(question, "weights-before-softmax"))
    # The weights' element says what is wrong with them, where a mask makes them not finite and where none does.
    assert failed["outputs"].startswith(
        "output[1] (attention weights) is not normalised along dim 3 (the last), where the reference's sums to 1 "
        "along dim 3 (the last); output[1] (attention weights) differs in train mode for MultiHeadAttention(8, 2)"
    ), failed["outputs"]
    bare = _failed(grader, question.id, _decoy(question, "output-only"))
    assert bare["outputs"].startswith(
        "forward returned a tensor where the reference returns a tuple of 2 for MultiHeadAttention(8, 2), "
        "q = k = v, causal mask (output, attention weights)"
    )
    assert "Traceback" not in bare["outputs"]


@pytest.mark.jail
def test_names_matter_only_when_the_check_says_so(grader: Grader) -> None:
    question = load_pack(TEST_PACK).question("masked-multi-head-attention")
    failed = _failed(grader, question.id, _decoy(question, "other-names"))
    assert set(failed) <= {"interface", "gradients"}, failed  # the outputs check pairs layers by role, not name
    assert "no `q_proj.weight`" in failed["interface"] and "unexpected `query.weight`" in failed["interface"]
    assert "(is `query.weight` meant to be `q_proj.weight`?)" in failed["interface"]


@pytest.mark.jail
def test_a_learner_only_rule_binds_an_answer_identical_to_the_reference(grader: Grader) -> None:
    pack = load_pack(TEST_PACK)
    question = pack.question("softmax-function")
    assert isinstance(question, model.CodeQuestion) and question.solution is not None
    as_learner = grader.grade(pack, question, question.solution)
    assert {t.check for t in as_learner.tests if t.status != "pass"} == {"no-library-softmax"}
    as_reference = grader.grade_code(pack, question, question.solution, as_reference=True)
    assert as_reference.verdict == "accepted"


@pytest.mark.jail
def test_a_function_gets_dtype_cases_and_its_calls_named(grader: Grader) -> None:
    question = load_pack(TEST_PACK).question("softmax-function")
    failed = _failed(grader, question.id, _decoy(question, "always-float32"))
    assert "output differs for float64: dtype float32, expected float64" in failed["outputs"]
    detached = _failed(grader, question.id, _decoy(question, "detached-normaliser"))
    assert detached["gradients"].startswith("the gradient with respect to `x` differs for softmax(float32[3, 5], 1)")


@pytest.mark.jail
def test_cross_entropy_over_integer_targets_with_keyword_arguments(grader: Grader) -> None:
    question = load_pack(TEST_PACK).question("cross-entropy-function")
    failed = _failed(grader, question.id, _decoy(question, "ignores-ignore-index"))
    assert "output differs for cross_entropy, ignore_index=1, mean: max abs error" in failed["outputs"]


EINSUM_ATTENTION = """
import math

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, query, key, value, mask=None):
        b, t, e = query.shape
        h = self.num_heads
        q = self.q_proj(query).view(b, -1, h, e // h)
        k = self.k_proj(key).view(b, -1, h, e // h)
        v = self.v_proj(value).view(b, -1, h, e // h)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(e // h)
        if mask is not None:
            scores = scores.masked_fill(mask.logical_not(), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, e)
        return self.out_proj(out), weights
"""


@pytest.mark.jail
def test_a_right_attention_written_with_einsum_passes(grader: Grader) -> None:
    pack = load_pack(TEST_PACK)
    result = grader.grade(pack, pack.question("masked-multi-head-attention"), EINSUM_ATTENTION)
    assert result.verdict == "accepted", [t.message for t in result.tests if t.status != "pass"]


def test_a_functions_outputs_run_each_call_once_unless_the_check_says_otherwise() -> None:
    pack = load_pack(TEST_PACK)
    assert pack.question("masked-multi-head-attention").checks[0].modes == ["train", "eval"]  # a module
    function = FUNCTION_QUESTION.replace("CASE", "calls: [{args: [{shape: [2]}]}]")
    question = check_pack_text(FORMAT_2 + function).pack.question("double")  # type: ignore[union-attr]
    assert question.checks[0].modes == ["eval"]
    both = function.replace("        kind: outputs\n", "        kind: outputs\n        modes: [train, eval]\n")
    question = check_pack_text(FORMAT_2 + both).pack.question("double")  # type: ignore[union-attr]
    assert question.checks[0].modes == ["train", "eval"]


# --- a constructor that takes tensors: a case's `init` ----------------------------------------------------

TABLE_PACK = """\
format: 2
id: tables
title: Tables
version: "1.0"
description: A module built from a tensor.
authors: [tests]
licence: CC0-1.0
questions:
  - id: scaled-lookup
    kind: code
    title: A lookup built from a table
    difficulty: easy
    minutes: 3
    prompt: "`ScaledLookup(table, scale)` keeps `table` as a buffer; `forward(x)` returns `x @ table * scale`."
    explanation: A buffer moves with the module and is saved with it.
    signature: ScaledLookup(table, scale)
    entry_point: ScaledLookup
    solution: |
      import torch
      from torch import nn

      class ScaledLookup(nn.Module):
          def __init__(self, table, scale=1.0):
              super().__init__()
              self.register_buffer("table", table.clone())
              self.scale = scale

          def forward(self, x):
              return x @ self.table * self.scale
    checks:
      - id: outputs
        kind: outputs
        cases:
          - INIT
            calls: [{args: [{shape: [2, 4]}]}]
"""


def _table_pack(init: str) -> str:
    return TABLE_PACK.replace("INIT", init)


def test_a_constructor_takes_tensors_through_init() -> None:
    text = _table_pack("init: {args: [{shape: [4, 3]}], kwargs: {scale: 0.5}}")
    result = check_pack_text(text, "tables.yaml")
    assert result.problems == [], result.problems
    case = result.pack.question("scaled-lookup").checks[0].cases[0]  # type: ignore[union-attr]
    assert isinstance(case.init.args[0], model.TensorSpec)
    assert case.init.kwargs == {"scale": 0.5}


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ("init: {args: [{shape: [4, 3]}]}\n            args: [1]", "give either 'init' or 'args'/'kwargs' or 'build'"),
        ("init: {args: [{same_as: 1}]}", "same_as names argument 1"),
    ],
)
def test_a_wrong_init_is_a_located_error(init: str, message: str) -> None:
    errors = _errors(_table_pack(init))
    assert any(message in said for _, _, said in errors), errors


def test_init_needs_format_2() -> None:
    text = _table_pack("init: {args: [{shape: [4, 3]}]}").replace("format: 2", "format: 1", 1)
    errors = _errors(text)
    assert any("'init' needs 'format: 2'" in said for _, _, said in errors), errors


@pytest.mark.jail
def test_a_module_built_from_a_tensor_is_graded(grader: Grader) -> None:
    pack = check_pack_text(_table_pack("init: {args: [{shape: [4, 3]}], kwargs: {scale: 0.5}}"), "t.yaml").pack
    assert pack is not None
    question = pack.question("scaled-lookup")
    right = question.solution.replace("x @ self.table * self.scale", "self.scale * torch.matmul(x, self.table)")
    assert grader.grade(pack, question, right).verdict == "accepted"
    ignores_table = question.solution.replace(
        'self.register_buffer("table", table.clone())', 'self.register_buffer("table", torch.ones_like(table))'
    )
    result = grader.grade(pack, question, ignores_table)
    assert result.verdict == "wrong_answer"
    assert "output differs" in result.message


@pytest.mark.jail
def test_a_functions_messages_name_the_function_and_its_arguments(grader: Grader) -> None:
    """A function entry point is not a module: messages say `softmax` where a module's say forward, and name
    the argument a gradient is taken with respect to by the reference's own parameter names."""
    question = load_pack(TEST_PACK).question("softmax-function")
    detached = _failed(grader, question.id, _decoy(question, "detached-normaliser"))
    assert detached["gradients"].startswith("the gradient with respect to `x` differs for softmax(float32[3, 5], 1)")
    assert "(`softmax` calls detach(), which cuts the graph there)" in detached["gradients"]
    assert "forward" not in " ".join(detached.values())


@pytest.mark.jail
def test_an_output_cut_from_the_graph_is_a_wrong_answer_not_a_crash(grader: Grader) -> None:
    """`return out.detach()` leaves nothing for backward: the learner's code did not crash, its output carries
    no gradient, and the gradients check says so (it was a runtime error blamed on the learner's last line)."""
    pack = load_pack(TEST_PACK)
    question = pack.question("cross-entropy-function")
    code = question.solution.replace("def cross_entropy(", "def _reference(") + (
        "\n\ndef cross_entropy(*args, **kwargs):\n    return _reference(*args, **kwargs).detach()\n"
    )
    result = grader.grade(pack, question, code)
    failed = {t.check: t for t in result.tests if t.status != "pass"}
    assert result.verdict == "wrong_answer", result.message
    assert set(failed) == {"gradients"}
    assert failed["gradients"].message.startswith("no gradient reaches `logits` for ")
    assert "calls detach(), which cuts the graph there" in failed["gradients"].message
