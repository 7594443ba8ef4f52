"""Canonical initialisation by role, constant buffers, and the role search's two halves, without the jail.

The worker side (quizapp/judge/probes.py) runs here in-process on answers defined from text, as the jailed
child would; the host side (quizapp/grading/roles.py) is given facts as the child would send them.
"""

from __future__ import annotations

import json

import pytest
from deferred import Deferred

from quizapp.grading import roles as search
from quizapp.grading.facts import TensorStore
from quizapp.packs import model

torch = Deferred("torch")
probes = Deferred("quizapp.judge.probes")

ATTENTION = """
import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.q_proj = nn.Linear(E, E)
        self.k_proj = nn.Linear(E, E)
        self.v_proj = nn.Linear(E, E)
        self.o_proj = nn.Linear(E, E)

    def forward(self, x):
        QKV
        w = torch.softmax(SCORES / math.sqrt(x.shape[-1]), dim=-1)
        return self.o_proj(w @ v)
"""
IN_ORDER = "q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)"
REFERENCE = ATTENTION.replace("QKV", IN_ORDER).replace("SCORES", "q @ k.transpose(-2, -1)")
SPEC = {
    "id": "o",
    "kind": "outputs",
    "cases": [{"args": [8], "inputs": [{"shape": [2, 5, 8]}]}, {"args": [4], "inputs": [{"shape": [1, 3, 4]}]}],
    "modes": ["eval"],
    "seed": 0,
}


def outputs(code: str, spec: dict | None = None, entry_point: str = "Attention") -> dict[str, torch.Tensor]:
    facts, tensors = probes.run({"code": code, "entry_point": entry_point, "checks": [spec or SPEC]})
    assert facts["definition"]["ok"], facts
    return tensors


def same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> bool:
    return got.keys() == want.keys() and all(torch.allclose(got[k], want[k], atol=1e-6) for k in want)


def built(code: str, args: list, entry_point: str):
    namespace, error = probes.define(code)
    assert error is None, error
    return probes.build({"args": args}, namespace, entry_point, fast=True)


@pytest.mark.parametrize(
    "qkv",
    [
        "k, q, v = self.k_proj(x), self.q_proj(x), self.v_proj(x)",  # keys before queries
        "v = self.v_proj(x); k = self.k_proj(x); q = self.q_proj(x)",  # values first
    ],
)
def test_the_order_in_which_forward_runs_same_fed_layers_is_free(qkv: str) -> None:
    answer = ATTENTION.replace("QKV", qkv).replace("SCORES", "q @ k.transpose(-2, -1)")
    assert same(outputs(answer), outputs(REFERENCE))


def test_registration_order_and_names_are_free() -> None:
    answer = REFERENCE.replace(
        """        self.q_proj = nn.Linear(E, E)
        self.k_proj = nn.Linear(E, E)
        self.v_proj = nn.Linear(E, E)
        self.o_proj = nn.Linear(E, E)""",
        """        self.o_proj = nn.Linear(E, E)
        self.v_proj, self.k_proj, self.q_proj = (nn.Linear(E, E) for _ in range(3))""",
    )
    assert same(outputs(answer), outputs(REFERENCE))


def test_one_projection_for_two_roles_never_matches_under_any_assignment() -> None:
    shared = ATTENTION.replace("QKV", "q, k, v = self.q_proj(x), self.q_proj(x), self.v_proj(x)").replace(
        "SCORES", "q @ k.transpose(-2, -1)"
    )
    want = outputs(REFERENCE)
    searched = outputs(shared, {**SPEC, "kind": "roles", "mode": "eval", "count": 24})
    assert searched  # the search ran and sent outputs
    assert not any(torch.allclose(t, want[f"o/{key.split('/')[1]}/eval/0"], atol=1e-5) for key, t in searched.items())


def test_the_search_finds_the_pairing_for_the_same_maths_written_with_other_joins() -> None:
    answer = ATTENTION.replace("QKV", IN_ORDER).replace("SCORES", "(k @ q.transpose(-2, -1)).transpose(-2, -1)")
    want = outputs(REFERENCE)
    assert not same(outputs(answer), want)  # discovery alone pairs them differently
    facts, tensors = probes.run(
        {"code": answer, "entry_point": "Attention", "checks": [{**SPEC, "kind": "roles", "mode": "eval"}]}
    )
    found = {}
    for entry in facts["checks"]["o"]["results"]:
        key = f"o/{entry['case']}/{entry['assignment']}"
        if entry["case"] not in found and torch.allclose(tensors[key], want[f"o/{entry['case']}/eval/0"], atol=1e-5):
            found[entry["case"]] = entry["assignment"]
    assert set(found) == {0, 1}
    chosen = {"*": found[0], **{str(case): k for case, k in found.items()}}
    assert same(outputs(answer, {**SPEC, "assignment": chosen}), want)  # job 3 with that assignment passes


def test_role_assignments_are_bounded_distinct_and_start_with_discoverys_own() -> None:
    module = built(REFERENCE, [8], "Attention")
    x = torch.randn(2, 5, 8)
    orders = probes.discover_role_orders(module, lambda: module(x))
    assignments = probes.role_assignments(orders)
    assert assignments[0] == orders[0]
    assert len(assignments) == probes.MAX_ROLE_ASSIGNMENTS  # 4 same-shaped layers: 24 pairings, all of them
    fingerprints = {tuple(sorted((k, r) for k, (_, r, _) in a.items())) for a in assignments}
    assert len(fingerprints) == len(assignments)
    again = probes.role_assignments(probes.discover_role_orders(module, lambda: module(x)))
    assert [sorted(a.values()) for a in again] == [sorted(a.values()) for a in assignments]
    assert len(probes.role_assignments(orders, limit=5)) == 5


STACK = """
import math

import torch
from torch import nn


class Stack(nn.Module):
    def __init__(self, d, depth):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d, d) for _ in range(depth))
        self.norm = nn.BatchNorm1d(d)
        BUFFERS

    def forward(self, x):
        x = x + TABLE
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.norm(x)
"""
TABLE_IN_FORWARD = "torch.sin(torch.arange(x.shape[-1], dtype=torch.float32) * 0.3)"
TABLE_BUFFER = 'self.register_buffer("table", torch.sin(torch.arange(d, dtype=torch.float32) * 0.3))'
STACK_SPEC = {
    "id": "o",
    "kind": "outputs",
    "cases": [{"args": [6, 3], "inputs": [{"shape": [4, 6]}]}],
    "modes": ["train", "eval"],
    "seed": 0,
}


def stack(buffers: str, table: str) -> str:
    return STACK.replace("BUFFERS", buffers).replace("TABLE", table)


def test_a_constant_buffer_keeps_its_value_and_is_part_of_the_answer() -> None:
    reference = outputs(stack("pass", TABLE_IN_FORWARD), STACK_SPEC, "Stack")
    assert same(outputs(stack(TABLE_BUFFER, "self.table"), STACK_SPEC, "Stack"), reference)
    wrong = stack(TABLE_BUFFER.replace("0.3", "0.4"), "self.table")
    assert not same(outputs(wrong, STACK_SPEC, "Stack"), reference)


def test_only_the_buffers_forward_changes_in_training_are_reset() -> None:
    module = built(stack(TABLE_BUFFER, "self.table"), [6, 3], "Stack")
    table = module.table.clone()
    plan = probes.case_plan(module, STACK_SPEC, STACK_SPEC["cases"][0], 0)
    probes.apply_plan(plan)
    reset = {name for owner, name, is_parameter, *_ in plan if not is_parameter}
    assert reset == {"running_mean", "running_var"}  # BatchNorm's running statistics: state training sets
    assert torch.equal(module.table, table)
    assert not torch.equal(module.norm.running_var, torch.ones(6))


def test_a_buffer_forward_reassigns_is_reset_before_every_run() -> None:
    ema = """
import torch
from torch import nn


class Ema(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))
        self.register_buffer("mean", torch.zeros(d))

    def forward(self, x):
        if self.training:
            self.mean = 0.9 * self.mean + 0.1 * x.mean(0).detach()
        return (x - self.mean) * self.scale
"""
    in_place = ema.replace(
        "self.mean = 0.9 * self.mean + 0.1 * x.mean(0).detach()", "self.mean.mul_(0.9).add_(0.1 * x.mean(0).detach())"
    )
    spec = {**STACK_SPEC, "cases": [{"args": [3], "inputs": [{"shape": [4, 3]}, {"shape": [2, 3]}]}]}
    assert same(outputs(ema, spec, "Ema"), outputs(in_place, spec, "Ema"))


def test_the_search_sends_a_bounded_amount_whatever_the_answer(monkeypatch) -> None:
    monkeypatch.setattr("quizapp.judge.probes.SEARCH_ELEMENTS", 200)  # the module itself, not the Deferred
    facts, tensors = probes.run(
        {"code": REFERENCE, "entry_point": "Attention", "checks": [{**SPEC, "kind": "roles", "mode": "eval"}]}
    )
    assert sum(t.numel() for t in tensors.values()) <= 200
    assert 1 <= len(tensors) < 24


# --- the host's half --------------------------------------------------------------------------------------

CHECK = model.OutputsCheck.model_validate(
    {
        "id": "o",
        "kind": "outputs",
        "cases": [{"args": [8], "inputs": [[2, 5, 8]]}, {"args": [4], "inputs": [[1, 3, 4]]}],
        "modes": ["eval"],
    }
)


def store(tensors: dict[str, torch.Tensor]) -> TensorStore:
    from safetensors.torch import save

    return TensorStore(save({k: v.contiguous() for k, v in tensors.items()}))


def reference_facts() -> tuple[dict, TensorStore]:
    want = {"o/0/eval/0": torch.ones(2, 5, 8), "o/1/eval/0": torch.zeros(1, 3, 4)}
    results = [{"case": c, "mode": "eval", "input": 0, "output": {"shape": [], "dtype": "float32"}} for c in (0, 1)]
    return {"results": results}, store(want)


def test_the_host_keeps_the_first_assignment_that_matches_every_case() -> None:
    reference, reference_tensors = reference_facts()
    sent = {
        "o#roles/0/0": torch.zeros(2, 5, 8),
        "o#roles/0/3": torch.ones(2, 5, 8),
        "o#roles/0/5": torch.ones(2, 5, 8),
        "o#roles/1/0": torch.zeros(1, 3, 4),
    }
    facts = {
        "results": [{"case": int(k.split("/")[1]), "assignment": int(k.split("/")[2]), "output": {}} for k in sent],
        "assignments": {"0": 24, "1": 24},
    }
    assert search.matches(CHECK, facts, store(sent), reference, reference_tensors) == {0: 3, 1: 0}
    del sent["o#roles/1/0"]
    facts["results"] = facts["results"][:3]
    assert search.matches(CHECK, facts, store(sent), reference, reference_tensors) is None  # case 1 unmatched


@pytest.mark.parametrize("facts", [None, [], {"results": "x"}, {"results": [{"case": "0", "assignment": 1}]}])
def test_malformed_search_facts_choose_nothing(facts) -> None:
    reference, reference_tensors = reference_facts()
    sent = store({"o#roles/0/1": torch.ones(2, 5, 8)})
    assert search.matches(CHECK, facts, sent, reference, reference_tensors) is None


def test_job_three_tells_every_case_its_assignment() -> None:
    gradients = model.GradientsCheck.model_validate(
        {"id": "g", "kind": "gradients", "cases": [{"args": [4], "inputs": [[2, 3, 4]]}, {"args": [6]}]}
    )
    payload = {"checks": [{"id": "o", "kind": "outputs"}, {"id": "g", "kind": "gradients"}]}
    chosen = search.with_assignments(payload, [CHECK, gradients], {"o": {0: 3, 1: 7}})
    specs = {spec["id"]: spec["assignment"] for spec in chosen["checks"]}
    assert specs["o"] == {"*": 3, "0": 3, "1": 7}
    assert specs["g"] == {"*": 3, "0": 7, "1": 3}  # built like the outputs check's case 1; else the default
    assert json.dumps(chosen)  # plain data for the wire
