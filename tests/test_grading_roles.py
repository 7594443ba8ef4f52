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


def test_the_reference_under_the_pairing_found_gives_what_an_answer_with_other_joins_computes() -> None:
    """The trusted side: the answer runs once, the reference under each pairing; the reference run whose output is
    the answer's, given its ranks by module path, gives the answer's outputs on every case and input."""
    answer = ATTENTION.replace("QKV", IN_ORDER).replace("SCORES", "(k @ q.transpose(-2, -1)).transpose(-2, -1)")
    spec = {**SPEC, "cases": [*SPEC["cases"], {"args": [4], "inputs": [{"shape": [2, 3, 4]}, {"shape": [1, 6, 4]}]}]}
    mine = outputs(answer, spec)
    assert not same(mine, outputs(REFERENCE, spec))  # discovery alone pairs them differently
    facts, tensors = probes.run(
        {"code": REFERENCE, "entry_point": "Attention", "checks": [{**spec, "kind": "roles", "mode": "eval"}]}
    )
    found = {}
    for entry in facts["checks"]["o"]["results"]:
        key = f"o/{entry['case']}/{entry['assignment']}"
        if entry["case"] not in found and torch.allclose(tensors[key], mine[f"o/{entry['case']}/eval/0"], atol=1e-5):
            found[entry["case"]] = {path: rank for path, (_, rank) in entry["ranks"].items()}
    assert set(found) == {0, 1, 2}
    assert found[0] != {path: rank for path, (_, rank) in facts["checks"]["o"]["results"][0]["ranks"].items()}
    assert same(mine, outputs(REFERENCE, {**spec, "ranks": {str(case): r for case, r in found.items()}}))


def test_ranks_given_by_path_that_are_not_a_relabelling_are_ignored() -> None:
    """A reference's run is given ranks only as a permutation of its own within each group of same-shaped
    modules: two modules given one rank (one set of values for two roles) leave the reference's own pairing."""
    want = outputs(REFERENCE)
    for ranks in ({"q_proj": 0, "k_proj": 0, "v_proj": 2, "o_proj": 3}, {"q_proj": 1}, {"q_proj": "1"}):
        assert same(outputs(REFERENCE, {**SPEC, "ranks": {"0": ranks, "1": ranks}}), want)


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


def test_a_tensor_too_large_to_keep_gets_draft_values_only_for_discovery(monkeypatch) -> None:
    """Role discovery's run is never compared, so a tensor too large to keep its canonical values gets a drawn
    block repeated there (one copy instead of a draw of every value); every run that is compared gets the full
    draw, and the facts are those of a job that drew everything."""
    monkeypatch.setattr("quizapp.judge.probes.MAX_DRAWN_ELEMENTS", 20)  # the Linears' 36 weights are "large"
    monkeypatch.setattr("quizapp.judge.probes.DRAFT_PERIOD", 7)
    code = stack("pass", "0")
    module = built(code, [6, 3], "Stack")
    plan = probes.case_plan(module, STACK_SPEC, STACK_SPEC["cases"][0], 0)
    drafted = module.layers[0].weight.detach().reshape(-1).clone()
    assert torch.equal(drafted[7:14], drafted[:7]) and len(set(drafted[:7].tolist())) == 7  # a block repeated
    probes.apply_plan(plan)
    weight = module.layers[0].weight.detach()
    assert not torch.equal(weight.reshape(-1)[7:14], weight.reshape(-1)[:7])
    _, _, _, seed, low, high = next(entry for entry in plan if entry[0] is module.layers[0] and entry[1] == "weight")
    full = torch.empty(6, 6).uniform_(low, high, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(weight, full)  # the canonical draw itself

    drafted_facts = probes.run({"code": code, "entry_point": "Stack", "checks": [STACK_SPEC]})

    def full_draw(tensor, low: float, high: float, generator) -> None:
        tensor.uniform_(low, high, generator=generator)

    monkeypatch.setattr("quizapp.judge.probes._tiled_fill", full_draw)
    drawn_facts = probes.run({"code": code, "entry_point": "Stack", "checks": [STACK_SPEC]})
    assert json.dumps(drafted_facts[0], sort_keys=True) == json.dumps(drawn_facts[0], sort_keys=True)
    assert drafted_facts[1].keys() == drawn_facts[1].keys()
    assert all(torch.equal(drafted_facts[1][key], drawn_facts[1][key]) for key in drawn_facts[1])


def test_the_constants_an_observed_run_reports_do_not_depend_on_where_the_allocator_puts_them() -> None:
    """Each constant forward combines with its input is reported, even one made after an earlier one was freed
    (Python may give the new tensor the freed one's id): the facts are a function of the answer alone."""
    code = """
import torch
from torch import nn


class Masks(nn.Module):
    def forward(self, x):
        for step in range(6):
            x = x * torch.full((x.shape[-1],), float(step + 2))
        return x
"""
    spec = {
        "id": "o",
        "kind": "outputs",
        "cases": [{"inputs": [{"shape": [2, 4]}]}],
        "modes": ["eval"],
        "observe": True,
    }
    runs = [probes.run({"code": code, "entry_point": "Masks", "checks": [spec]})[0] for _ in range(3)]
    constants = runs[0]["checks"]["o"]["results"][0]["constants"]
    assert len(constants) == 6  # one per step: each is a new tensor, whatever its id
    assert all(json.dumps(run, sort_keys=True) == json.dumps(runs[0], sort_keys=True) for run in runs)


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
GRADIENTS = model.GradientsCheck.model_validate(
    {"id": "g", "kind": "gradients", "cases": [{"args": [4], "inputs": [[2, 3, 4]]}, {"args": [6], "inputs": [[1, 6]]}]}
)


def store(tensors: dict[str, torch.Tensor]) -> TensorStore:
    from safetensors.torch import save

    return TensorStore(save({k: v.contiguous() for k, v in tensors.items()}))


def answer_run() -> tuple[dict, TensorStore]:
    """The answer's one run: case 0 gives ones, case 1 zeros."""
    results = [{"case": c, "mode": "eval", "input": 0, "output": {"shape": [], "dtype": "float32"}} for c in (0, 1)]
    ranks = {"0": {"a": [0, 0], "b": [0, 1]}, "1": {"a": [0, 0], "b": [0, 1]}}
    return {"results": results, "ranks": ranks}, store(
        {"o/0/eval/0": torch.ones(2, 5, 8), "o/1/eval/0": torch.zeros(1, 3, 4)}
    )


def searched(outputs_by_key: dict[str, torch.Tensor]) -> tuple[dict, TensorStore]:
    """The reference's search: under pairing k of case c its modules `p` and `q` got ranks (k % 2, 1 - k % 2)."""
    results = []
    for key in outputs_by_key:
        case, assignment = int(key.split("/")[1]), int(key.split("/")[2])
        flip = assignment % 2
        ranks = {"p": [0, flip], "q": [0, 1 - flip]}
        results.append({"case": case, "assignment": assignment, "ranks": ranks, "output": {}})
    return {"results": results, "assignments": {"0": 24, "1": 24}}, store(outputs_by_key)


def test_the_host_pairs_each_case_with_the_first_reference_run_that_gives_the_answers_output() -> None:
    learner, learner_tensors = answer_run()
    sent = {
        "o#roles/0/0": torch.zeros(2, 5, 8),
        "o#roles/0/3": torch.ones(2, 5, 8),
        "o#roles/0/5": torch.ones(2, 5, 8),
        "o#roles/1/0": torch.zeros(1, 3, 4),
    }
    table, tensors = searched(sent)
    found = search.matching_pairings(CHECK, learner, learner_tensors, table, tensors)
    assert found == {0: {"p": (0, 1), "q": (0, 0)}, 1: {"p": (0, 0), "q": (0, 1)}}
    del sent["o#roles/1/0"]
    table, tensors = searched(sent)
    assert search.matching_pairings(CHECK, learner, learner_tensors, table, tensors) is None  # case 1 unmatched


@pytest.mark.parametrize(
    "table",
    [
        None,
        [],
        {"results": "x"},
        {"results": [{"case": "0", "assignment": 1, "ranks": {}, "output": {}}]},
        {"results": [{"case": 0, "assignment": 1, "ranks": {"p": [0, -1]}, "output": {}}]},
    ],
)
def test_a_malformed_search_chooses_nothing(table) -> None:
    learner, learner_tensors = answer_run()
    sent = store({"o#roles/0/1": torch.ones(2, 5, 8), "o#roles/1/1": torch.zeros(1, 3, 4)})
    assert search.matching_pairings(CHECK, learner, learner_tensors, table, sent) is None


def test_the_pairing_found_is_carried_to_the_other_cases_by_module_path() -> None:
    """The answer's `a` got the values the reference's `q` got on case 0: on every other case, `q` takes the rank
    `a` has there; a case built like a searched one is carried from it first."""
    learner = {
        "o": {"ranks": {"0": {"a": [0, 0], "b": [0, 1]}, "1": {"a": [0, 0], "b": [0, 1]}}},
        "g": {"ranks": {"0": {"a": [0, 1], "b": [0, 0]}, "1": {"a": [0, 0], "b": [0, 1]}}},
    }
    reference = {
        "o": {"ranks": {"0": {"p": [0, 0], "q": [0, 1]}, "1": {"p": [0, 0], "q": [0, 1]}}},
        "g": {"ranks": {"0": {"p": [0, 0], "q": [0, 1]}, "1": {"p": [0, 0], "q": [0, 1]}}},
    }
    found = {"o": {0: {"p": (0, 1), "q": (0, 0)}, 1: {"p": (0, 0), "q": (0, 1)}}}
    given = search.reference_ranks([CHECK, GRADIENTS], found, learner.__getitem__, reference.__getitem__)
    assert given["o"] == {"0": {"p": 1, "q": 0}, "1": {"p": 0, "q": 1}}
    # g's case 0 is built like o's case 1 (a <-> p there): p takes a's rank in g's case 0, 1; q takes b's, 0.
    # g's case 1 is built like no searched case: the first pairing found (o's case 0, a <-> q) is carried.
    assert given["g"] == {"0": {"p": 1, "q": 0}, "1": {"p": 1, "q": 0}}
    assert json.dumps(given)  # plain data for the wire
    assert not search.is_reference_own(given, reference.__getitem__)
    own = {"o": {"0": {"p": 0, "q": 1}}}
    assert search.is_reference_own(own, reference.__getitem__)


def test_a_pairing_that_cannot_be_carried_leaves_the_case_to_the_references_own() -> None:
    learner = {"o": {"ranks": {"0": {"a": [0, 0], "b": [0, 1]}}}, "g": {"ranks": {"1": {"x": [0, 0], "y": [0, 1]}}}}
    reference = {"o": {"ranks": {"0": {"p": [0, 0], "q": [0, 1]}}}, "g": {"ranks": {"1": {"p": [0, 0], "q": [0, 1]}}}}
    found = {"o": {0: {"p": (0, 1), "q": (0, 0)}}}
    given = search.reference_ranks([CHECK, GRADIENTS], found, learner.__getitem__, reference.__getitem__)
    assert given == {"o": {"0": {"p": 1, "q": 0}}}  # the answer's x and y were never paired: g's case 1 is left
    learner["g"]["ranks"]["1"] = {"a": [0, 1], "b": [0, 1]}  # a report giving two layers one set of values
    given = search.reference_ranks([CHECK, GRADIENTS], found, learner.__getitem__, reference.__getitem__)
    assert given == {"o": {"0": {"p": 1, "q": 0}}}


def test_the_references_runs_are_given_ranks_only_for_outputs_and_gradients() -> None:
    payload = {
        "checks": [{"id": "o", "kind": "outputs"}, {"id": "g", "kind": "gradients"}, {"id": "s", "kind": "structure"}]
    }
    given = {"o": {"0": {"p": 1, "q": 0}}, "s": {"0": {"p": 1}}}
    specs = {spec["id"]: spec for spec in search.with_ranks(payload, given)["checks"]}
    assert specs["o"]["ranks"] == {"0": {"p": 1, "q": 0}}
    assert "ranks" not in specs["g"] and "ranks" not in specs["s"]
    assert search.pairing_key(given) == search.pairing_key(json.loads(json.dumps(given)))
    assert search.pairing_key(given) != search.pairing_key({"o": {"0": {"p": 0, "q": 1}}})
