"""No answer can forge its verdict, and no answer can break a run: the host judges the facts the pack asked for.

The learner's code runs in the interpreter that collects the facts, so it can empty the payload's checks,
rewrite the probes' tables or write its own result frame. Each attack below is a real answer graded through
the real jailed pool; none is a residual block, none may pass, and a correct answer graded right after passes.
Forged and oversized facts are also fed to the grader directly, as a compromised child would send them.
"""

from __future__ import annotations

import json
import struct

import pytest
from answers import RESNET_RIGHT

from quizapp import locations
from quizapp.grading.checks import TAMPERED
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.judge.protocol import JobOutcome
from quizapp.packs import load_pack
from quizapp.packs.loader import check_pack_text

PACK = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
RESNET = PACK.question("resnet-residual-block")
RIGHT = RESNET_RIGHT["identity-and-functional-relu"]

NOT_A_BLOCK = """
import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()

    def forward(self, x):
        return x
"""

ATTACKS = {
    "frames-empty-the-payload": """
import sys

frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()):
        if isinstance(value, dict) and isinstance(value.get("checks"), list):
            value["checks"].clear()
    frame = frame.f_back
""",
    "gc-empties-the-payload": """
import gc

for obj in gc.get_objects():
    if isinstance(obj, dict) and "entry_point" in obj and isinstance(obj.get("checks"), list):
        obj["checks"].clear()
""",
    "probes-table-rewritten": """
import sys

probes = sys.modules["quizapp.judge.probes"]
for kind in list(probes._PROBES):
    probes._PROBES[kind] = lambda *args, **kwargs: {"results": []}
""",
    "own-result-frame-with-the-nonce": """
import json
import os
import sys

from quizapp.judge import protocol

frame, nonce = sys._getframe(), None
while frame is not None and nonce is None:
    candidate = frame.f_locals.get("nonce")
    nonce = candidate if isinstance(candidate, str) else None
    frame = frame.f_back
facts = json.dumps({"definition": {"ok": True}, "checks": {}}).encode()
header = {"nonce": nonce, "status": "returned", "facts_len": len(facts), "tensors_len": 0}
os.write(3, protocol.encode_frame(header, facts))
os._exit(0)
""",
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ReferenceCache:
    return ReferenceCache(tmp_path_factory.mktemp("reference-cache"))


@pytest.fixture(scope="module")
def grader(judged, cache: ReferenceCache) -> Grader:
    return Grader(judged, cache)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_forged_or_emptied_facts_never_pass(grader: Grader, attack: str) -> None:
    result = grader.grade(PACK, RESNET, ATTACKS[attack] + NOT_A_BLOCK)
    assert result.verdict in ("wrong_answer", "runtime_error"), result.to_json()
    assert not any(t.status == "pass" for t in result.tests if t.check != "identity-layers"), result.to_json()
    if result.verdict == "wrong_answer":  # the forged facts reached the grader: every probed check says so
        assert TAMPERED in result.message, result.message
        assert all(TAMPERED in t.message for t in result.tests if t.status != "pass")
    assert grader.grade(PACK, RESNET, RIGHT).verdict == "accepted"  # nothing leaked into the worker


# --- forged facts sent straight to the grader ----------------------------------------------------------------


class Canned:
    """A runner whose learner job returns the facts and tensors given; the reference comes from the cache."""

    def __init__(self, facts: dict, tensors: bytes = b""):
        self.outcome = JobOutcome(status="ok", facts=facts, tensors=tensors, jail_mode="full")

    def run(self, task, payload, limits):
        return self.outcome

    def submit(self, task, payload, limits):
        raise AssertionError("the reference should come from the cache")


@pytest.fixture(scope="module")
def reference(grader: Grader) -> tuple[dict, bytes]:
    """The reference's own facts for the ResNet question: the most convincing forgery there is."""
    return grader.reference_raw(PACK, RESNET)


def forged(cache: ReferenceCache, facts: dict, tensors: bytes = b"") -> object:
    return Grader(Canned(facts, tensors), cache).grade(PACK, RESNET, NOT_A_BLOCK)


def test_the_references_own_facts_pass_so_the_forgeries_below_are_judged_fairly(cache, reference) -> None:
    facts, tensors = reference
    assert forged(cache, facts, tensors).verdict == "accepted"


def _with(facts: dict, check: str, value: object) -> dict:
    copy = json.loads(json.dumps(facts))
    copy["checks"][check] = value
    return copy


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda r: r[:-1], "no result for case 3"),  # one run left out
        (lambda r: r + r[:1], "more results than the check asked for"),  # one run twice: more than asked
        (lambda r: [{**r[0], "case": 7}] + r[1:], "case 7, which the check does not have"),
        (lambda r: [{**r[0], "surprise": 1}] + r[1:], "Extra inputs are not permitted"),
        (lambda r: [{**r[0], "mode": "sideways"}] + r[1:], "results.0.mode"),
        (lambda r: [r[0], {**r[1], "mode": r[0]["mode"]}] + r[2:], "reports a run twice"),
    ],
)
def test_missing_extra_duplicate_or_malformed_results_fail_the_check(cache, reference, change, words) -> None:
    facts, tensors = reference
    results = facts["checks"]["outputs"]["results"]
    result = forged(cache, _with(facts, "outputs", {**facts["checks"]["outputs"], "results": change(results)}), tensors)
    outputs = next(t for t in result.tests if t.check == "outputs")
    assert result.verdict == "wrong_answer"
    assert outputs.status == "fail"
    assert TAMPERED in outputs.message and words in outputs.message, outputs.message
    assert [t.status for t in result.tests if t.check != "outputs"] == ["pass"] * 4  # the others stand


def test_facts_for_checks_not_asked_or_without_a_definition_fail_every_check(cache, reference) -> None:
    facts, tensors = reference
    extra = _with(facts, "made-up", {"results": []})
    assert forged(cache, extra, tensors).verdict == "wrong_answer"
    assert "made-up" in forged(cache, extra, tensors).message
    nothing = forged(cache, {"checks": facts["checks"]}, tensors)
    assert nothing.verdict == "wrong_answer"
    assert "no definition" in nothing.message
    assert all(t.status == "fail" for t in nothing.tests)


def test_a_tensor_that_does_not_match_its_summary_fails(cache, reference) -> None:
    facts, tensors = reference
    outputs = json.loads(json.dumps(facts["checks"]["outputs"]))
    outputs["results"][0]["output"]["shape"] = [1, 1]
    result = forged(cache, _with(facts, "outputs", outputs), tensors)
    assert "does not have the shape reported for it" in result.tests[0].message
    truncated = forged(cache, facts, tensors[:-4])
    assert truncated.verdict == "wrong_answer"
    assert "tensor" in truncated.message


def test_judging_is_bounded_by_the_pack_not_by_what_arrives(cache, reference) -> None:
    facts, tensors = reference
    flood = [{"case": 0, "mode": "train", "input": 0}] * 900_000
    result = forged(cache, _with(facts, "outputs", {"results": flood}), tensors)
    assert "more results than the check asked for" in result.tests[0].message
    empties = forged(cache, _with(facts, "skip-connection", {"results": [{}] * 3_000_000}), tensors)
    assert (
        "more results than the check asked for"
        in next(t for t in empties.tests if t.check == "skip-connection").message
    )
    deep: object = []
    for _ in range(500):
        deep = [deep]
    many = forged(
        cache,
        _with(facts, "identity-layers", {"results": [{"case": 0, "modules": {}, "param_count": 1, "tree": deep}]}),
        tensors,
    )
    assert many.tests[2].status == "fail" and TAMPERED in many.tests[2].message


# --- one answer, one verdict: dtypes, a pack's own verdict code, BOMs, dataclasses ----------------------------

SMALL_PACK = """\
format: 1
id: small
title: Small pack
version: "1.0.0"
description: Dtypes and a custom verdict.
authors: [Test]
licence: CC-BY-4.0
questions:
  - id: half
    kind: code
    title: Half precision
    difficulty: easy
    minutes: 1
    prompt: Return the input in bfloat16, doubled.
    explanation: to(torch.bfloat16).
    entry_point: Half
    signature: Half()
    solution: |
      import torch
      from torch import nn


      class Half(nn.Module):
          def forward(self, x):
              return (2 * x).to(torch.bfloat16)
    checks:
      - id: outputs
        kind: outputs
        cases:
          - inputs: [[2, 3]]
        modes: [eval]
  - id: double
    kind: code
    title: A function, not a module
    difficulty: easy
    minutes: 1
    prompt: Define double(x).
    explanation: 2 * x.
    entry_point: double
    signature: double(x)
    solution: |
      def double(x):
          return 2 * x
    checks:
      - id: gradients
        kind: gradients
        cases:
          - build: double
            inputs: [[2, 3]]
  - id: nan-facts
    kind: code
    title: NaN
    difficulty: easy
    minutes: 1
    prompt: Define ratio().
    explanation: zero over zero.
    entry_point: ratio
    signature: ratio()
    solution: |
      def ratio():
          return float("nan")
    checks:
      - id: is-nan
        kind: custom
        probe: |
          def probe(ns):
              return {"value": ns["ratio"]()}
        verdict: |
          import math

          def verdict(learner, reference):
              if not isinstance(learner["value"], float):
                  return f"NaN arrived as {learner['value']!r}"
              return None if math.isnan(learner["value"]) else "not NaN"
      - id: raises
        kind: custom
        probe: |
          def probe(ns):
              return 1
        verdict: |
          def verdict(learner, reference):
              raise ValueError("the author's bug")
"""


@pytest.fixture(scope="module")
def small():
    loaded = check_pack_text(SMALL_PACK)
    assert loaded.pack is not None, loaded.problems
    return loaded.pack


@pytest.mark.parametrize(
    "returns, verdict, words",
    [
        ("(x + x).to(torch.bfloat16)", "accepted", ""),
        ("(2 * x).to(torch.float8_e4m3fn)", "wrong_answer", "dtype float8_e4m3fn, expected bfloat16"),
        ("(2 * x).to(torch.complex64)", "wrong_answer", "dtype complex64, expected bfloat16"),
        ("(3 * x).to(torch.bfloat16)", "wrong_answer", "max abs error"),
    ],
)
def test_bfloat16_float8_and_complex_outputs_are_graded(grader: Grader, small, returns, verdict, words) -> None:
    code = "import torch\nfrom torch import nn\n\nclass Half(nn.Module):\n    def forward(self, x):\n"
    code += f"        return {returns}\n"
    result = grader.grade(small, small.question("half"), code)
    assert result.verdict == verdict, result.to_json()
    assert words in result.message


def test_gradients_of_a_function_entry_point_are_judged(grader: Grader, small) -> None:
    question = small.question("double")
    assert grader.grade(small, question, "def double(x):\n    return x + x\n").verdict == "accepted"
    wrong = grader.grade(small, question, "def double(x):\n    return 3 * x\n")
    assert wrong.verdict == "wrong_answer"
    assert "the gradient with respect to the input differs" in wrong.message


def test_a_packs_raising_verdict_names_the_pack_and_check_and_nan_arrives_as_a_float(grader: Grader, small) -> None:
    result = grader.grade(small, small.question("nan-facts"), 'def ratio():\n    return float("nan")\n')
    assert result.verdict == "internal_error"
    by_check = {t.check: t for t in result.tests}
    assert by_check["is-nan"].status == "pass", by_check["is-nan"].message
    assert by_check["raises"].status == "error"
    assert "pack 'small', check 'raises'" in by_check["raises"].message
    assert "ValueError: the author's bug" in by_check["raises"].message


def test_an_answer_with_a_byte_order_mark_reads_as_python_and_as_option_ids(grader: Grader) -> None:
    assert grader.grade(PACK, RESNET, "\ufeff" + RIGHT).verdict == "accepted"
    choice = PACK.question("module-sequential-modulelist")
    assert grader.grade(PACK, choice, "\ufeffa, c, e\n").verdict == "accepted"


def test_a_dataclass_in_the_answer_works(grader: Grader) -> None:
    code = """
from dataclasses import dataclass

from torch import nn
from torch.nn import functional as F


@dataclass
class StackConfig:
    width: int
    depth: int


class MLPStack(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.config = StackConfig(width, depth)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for index, layer in enumerate(self.layers):
            x = layer(F.relu(x) if index else x)
        return x
"""
    result = grader.grade(PACK, PACK.question("mlp-stack"), code)
    assert result.verdict == "accepted", result.to_json()


def test_tensors_of_every_dtype_decode_without_torch() -> None:
    from quizapp.grading.facts import TensorStore

    def blob(entries: dict[str, tuple[str, list[int], bytes]]) -> bytes:
        header, data = {}, b""
        for name, (dtype, shape, raw) in entries.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        head = json.dumps(header).encode()
        return struct.pack("<Q", len(head)) + head + data

    store = TensorStore(
        blob(
            {
                "bf16": ("BF16", [2], struct.pack("<HH", 0x3F80, 0xC000)),  # 1.0, -2.0
                "e4m3": ("F8_E4M3", [3], bytes([0x38, 0x7F, 0x01])),  # 1.0, NaN, 2**-9
                "e5m2": ("F8_E5M2", [1], bytes([0x3C])),  # 1.0
                "c64": ("C64", [1], struct.pack("<ff", 1.0, -1.0)),
            }
        )
    )
    assert store["bf16"].tolist() == [1.0, -2.0] and store.dtype("bf16") == "bfloat16"
    e4m3 = store["e4m3"].tolist()
    assert e4m3[0] == 1.0 and e4m3[1] != e4m3[1] and e4m3[2] == 2.0**-9
    assert store["e5m2"].tolist() == [1.0] and store.dtype("e5m2") == "float8_e5m2"
    assert store["c64"].tolist() == [1 - 1j]


def test_a_broken_judge_is_that_answers_internal_error_not_a_crash(cache, reference, monkeypatch) -> None:
    from quizapp.grading import checks

    facts, tensors = reference

    def broken(check, context):
        raise ZeroDivisionError("our bug")

    monkeypatch.setitem(checks._JUDGES, "trace", broken)
    result = forged(cache, facts, tensors)
    assert result.verdict == "internal_error"
    trace = next(t for t in result.tests if t.check == "skip-connection")
    assert trace.status == "error" and "ZeroDivisionError: our bug" in trace.message
    assert [t.status for t in result.tests if t.check != "skip-connection"] == ["pass"] * 4


# --- roles: same-shaped layers get their own values, told apart by where they sit, whatever their names -----

ROLES_PACK = """\
format: 1
id: roles
title: Roles
version: "1.0.0"
description: Attention and a LayerNorm from scratch.
authors: [Test]
licence: CC-BY-4.0
questions:
  - id: attention
    kind: code
    title: Single-head attention
    difficulty: medium
    minutes: 5
    prompt: Write single-head self-attention with q, k, v projections of width E.
    explanation: softmax(q k^T / sqrt(E)) v.
    entry_point: Attention
    signature: Attention(E)
    solution: |
      import math

      import torch
      from torch import nn


      class Attention(nn.Module):
          def __init__(self, E):
              super().__init__()
              self.q_proj = nn.Linear(E, E)
              self.k_proj = nn.Linear(E, E)
              self.v_proj = nn.Linear(E, E)

          def forward(self, x):
              q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
              scores = q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])
              return torch.softmax(scores, dim=-1) @ v
    checks:
      - id: outputs
        kind: outputs
        cases:
          - args: [8]
            inputs: [[2, 5, 8]]
  - id: layer-norm
    kind: code
    title: LayerNorm from scratch
    difficulty: easy
    minutes: 5
    prompt: Write LayerNorm(E) with a learnt scale and shift.
    explanation: normalise, scale, shift.
    entry_point: Norm
    signature: Norm(E)
    solution: |
      from torch import nn
      from torch.nn import functional as F


      class Norm(nn.Module):
          def __init__(self, E):
              super().__init__()
              self.norm = nn.LayerNorm(E)

          def forward(self, x):
              return self.norm(x)
    checks:
      - id: outputs
        kind: outputs
        cases:
          - args: [6]
            inputs: [[3, 6]]
"""

ATTENTION = """
import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.query = nn.Linear(E, E)
        self.key = nn.Linear(E, E)
        self.value = nn.Linear(E, E)

    def forward(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = SCORES / math.sqrt(x.shape[-1])
        return torch.softmax(scores, dim=-1) @ v
"""


@pytest.fixture(scope="module")
def roles():
    loaded = check_pack_text(ROLES_PACK)
    assert loaded.pack is not None, loaded.problems
    return loaded.pack


def test_same_shaped_layers_are_told_apart_by_role(grader: Grader, roles) -> None:
    attention = roles.question("attention")
    renamed = ATTENTION.replace("SCORES", "q @ k.transpose(-2, -1)")
    assert grader.grade(roles, attention, renamed).verdict == "accepted"
    # Q and K projected from the same input, the roles swapped in the scores: the layer called `query` plays the
    # reference's K. That is a renaming (the same family of functions), so it must pass as any renaming does.
    swapped = grader.grade(roles, attention, ATTENTION.replace("SCORES", "k @ q.transpose(-2, -1)"))
    assert swapped.verdict == "accepted", swapped.message
    keys_first = ATTENTION.replace("SCORES", "q @ k.transpose(-2, -1)").replace(
        "q, k, v = self.query(x), self.key(x), self.value(x)", "v, k, q = self.value(x), self.key(x), self.query(x)"
    )
    assert grader.grade(roles, attention, keys_first).verdict == "accepted"
    same_maths_other_joins = ATTENTION.replace("SCORES", "(k @ q.transpose(-2, -1)).transpose(-2, -1)")
    assert grader.grade(roles, attention, same_maths_other_joins).verdict == "accepted"  # found by the role search
    # A role really swapped: the values come from the query projection, and `value` never runs.
    values_from_queries = ATTENTION.replace("SCORES", "q @ k.transpose(-2, -1)").replace(
        "self.key(x), self.value(x)", "self.key(x), self.query(x)"
    )
    wrong = grader.grade(roles, attention, values_from_queries)
    assert wrong.verdict == "wrong_answer"
    assert "`value` never runs" in wrong.message or "`value` never run" in wrong.message, wrong.message
    one_projection = ATTENTION.replace("SCORES", "q @ k.transpose(-2, -1)").replace(
        "self.key(x), self.value(x)", "self.query(x), self.query(x)"
    )
    shared = grader.grade(roles, attention, one_projection)
    assert shared.verdict == "wrong_answer"
    assert "`key`, `value` never run in forward: their weights" in shared.message


def test_names_of_parameters_are_free(grader: Grader, roles) -> None:
    gamma_beta = """
import torch
from torch import nn


class Norm(nn.Module):
    def __init__(self, E, eps=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(E))
        self.beta = nn.Parameter(torch.zeros(E))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return self.gamma * (x - mean) / torch.sqrt(var + self.eps) + self.beta
"""
    result = grader.grade(roles, roles.question("layer-norm"), gamma_beta)
    assert result.verdict == "accepted", result.to_json()


def test_one_layer_repeated_fails_the_outputs_check_too(grader: Grader) -> None:
    code = PACK.question("mlp-stack").decoys[1].code  # nn.ModuleList([nn.Linear(width, width)] * depth)
    result = grader.grade(PACK, PACK.question("mlp-stack"), code)
    by_check = {t.check: t for t in result.tests}
    assert by_check["outputs"].status == "fail", by_check["outputs"]
    assert "are the same module as `layers.0`" in result.message


def test_parameters_that_cannot_be_matched_are_named(grader: Grader, roles) -> None:
    fused = """
import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.qkv = nn.Linear(E, 3 * E)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1]), dim=-1) @ v
"""
    result = grader.grade(roles, roles.question("attention"), fused)
    assert result.verdict == "wrong_answer"
    assert result.message.startswith("its parameters cannot be matched to the reference's: ")
    assert "`qkv.weight` has shape (24, 8) where the reference's `q_proj.weight` has (8, 8)" in result.message


def test_grade_batch_gives_every_answer_its_verdict_and_writes_its_tables(
    tmp_path, capsys, commands_on_session_pool
) -> None:
    """One class run through the command line (main(), on the session's pool: the command's real processes are
    tested in test_batch.py): a bfloat16 forward, a pack verdict that raises, a forger."""
    from quizapp.cli import main

    pack_file = tmp_path / "small.yaml"
    pack_file.write_text(SMALL_PACK)
    half = "import torch\nfrom torch import nn\n\nclass Half(nn.Module):\n    def forward(self, x):\n"
    answers = {
        "ada": {
            "half.py": half + "        return (2 * x).to(torch.bfloat16)\n",
            "nan-facts.py": "def ratio():\n    return 0.0\n",
        },
        "bob": {"half.py": ATTACKS["probes-table-rewritten"] + half + "        return x\n"},
        "cy": {"half.py": "\ufeff" + half + "        return (3 * x).to(torch.float8_e5m2)\n"},
    }
    for student, files in answers.items():
        for name, text in files.items():
            (tmp_path / "class" / student).mkdir(parents=True, exist_ok=True)
            (tmp_path / "class" / student / name).write_text(text, encoding="utf-8")
    grades = tmp_path / "grades"
    code = main(["--pack", str(pack_file), "grade-batch", "small", str(tmp_path / "class"), "-o", str(grades)])
    out, err = capsys.readouterr()
    assert code == 0, err  # the run completed (wrong answers are the class's, not the command's failure)
    assert "Traceback" not in err and "Traceback" not in out, err
    assert "graded 9 answer(s), 0 unchanged since the last run, of 9" in out, out  # 3 students x 3 questions
    results = json.loads((tmp_path / "grades" / "results.json").read_text())
    text = json.dumps(results)
    assert (tmp_path / "grades" / "grades.csv").exists() and (tmp_path / "grades" / "junit.xml").exists()
    verdicts = {}
    for line in (tmp_path / "grades" / "results.jsonl").read_text().splitlines():
        entry = json.loads(line)
        verdicts[(entry["student"], entry["question"])] = (entry.get("result") or {}).get("verdict")
    assert verdicts[("ada", "half")] == "accepted", text
    assert verdicts[("ada", "nan-facts")] == "internal_error"  # the pack's verdict raised: not the student's fault
    assert verdicts[("bob", "half")] == "wrong_answer"  # emptied facts never pass
    assert verdicts[("cy", "half")] == "wrong_answer"


class CountingJobs:
    """The session's pool, counting the jobs a grade runs."""

    def __init__(self, pool):
        self.pool, self.jobs = pool, 0

    def run(self, task, payload, limits):
        self.jobs += 1
        return self.pool.run(task, payload, limits)

    def submit(self, task, payload, limits):
        return self.pool.submit(task, payload, limits)


def test_the_role_search_runs_the_reference_not_the_answer_and_caches_it(judged, tmp_path, roles) -> None:
    counting = CountingJobs(judged)
    grader = Grader(counting, ReferenceCache(tmp_path / "reference"))  # its own: nothing of other tests cached
    grader.reference_facts(PACK, RESNET)

    def scaled(factor: float) -> str:
        """The same layers and maths, a scaled result: no pairing of its same-shaped layers can mend it."""
        return RESNET.solution + (
            "\n\n_right_forward = ResidualBlock.forward\n"
            f"ResidualBlock.forward = lambda self, x: _right_forward(self, x) * {factor}\n"
        )

    for factor in (1.5, 1.25):
        counting.jobs = 0
        result = grader.grade(PACK, RESNET, scaled(factor))
        assert result.verdict == "wrong_answer"
        assert next(t for t in result.tests if t.check == "outputs").status == "fail"
        # the answer's one job, and the first time at most, the reference's search (then cached)
        assert counting.jobs == 1 or (factor == 1.5 and counting.jobs == 2)
    attention = roles.question("attention")
    grader.reference_facts(roles, attention)
    other_joins = ATTENTION.replace("SCORES", "(k @ q.transpose(-2, -1)).transpose(-2, -1)")
    renamed = other_joins.replace("self.query", "self.q").replace("self.key", "self.k")
    for answer, jobs in ((other_joins, 3), (renamed, 1)):
        counting.jobs = 0
        assert grader.grade(roles, attention, answer).verdict == "accepted"
        # the answer's one job; the first time, the reference's search and its full run under the pairing found
        assert counting.jobs == jobs


def test_role_search_facts_in_an_answers_job_are_refused(cache, reference) -> None:
    facts, tensors = reference
    assert not any(key.endswith("#roles") for key in facts["checks"])  # no job but the reference's search has one
    search = {"results": [{"case": 0, "assignment": 0}], "assignments": {"0": 1}}
    refused = forged(cache, _with(facts, "outputs#roles", search), tensors)
    assert refused.verdict == "wrong_answer" and "outputs#roles" in refused.message


def test_answers_graded_at_once_store_one_reference_without_tripping_on_each_other(tmp_path) -> None:
    """`quizapp grade F1 ... Fn` grades the files of one question concurrently, and each may store the same
    reference facts: the writers must not rename each other's partial files away (an answer got internal_error,
    FileNotFoundError, when they shared one name)."""
    import threading

    cache = ReferenceCache(tmp_path / "reference")
    facts = {"checks": {"outputs": {"results": list(range(200))}}}
    tensors = bytes(range(256)) * 400
    problems: list[BaseException] = []

    def store() -> None:
        try:
            for _ in range(30):
                cache.store("same-key", facts, tensors)
        except BaseException as problem:  # noqa: BLE001 - the test reports whatever a writer raised
            problems.append(problem)

    writers = [threading.Thread(target=store) for _ in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert problems == []
    assert cache.load("same-key") == (facts, tensors)
    assert sorted(p.name for p in (tmp_path / "reference").iterdir()) == ["same-key.json", "same-key.safetensors"]
