"""The role search folded into an answer's own job: one case's every pairing, run beside the outputs check.

The worker side (quizapp/judge/probes.py) runs here in-process, as the jailed child would; the host side
(quizapp/grading/roles.py) is given facts as the child would send them. The fold must report exactly what the
search's own job reports for that case, must leave the check's own facts as they were, and can only ever
spare a search: never make anything pass.
"""

from __future__ import annotations

import importlib
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
        self.drop = nn.Dropout(DROP)

    def forward(self, x):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        w = torch.softmax(SCORES / math.sqrt(x.shape[-1]), dim=-1)
        return self.drop(w) @ v
"""
REFERENCE = ATTENTION.replace("SCORES", "q @ k.transpose(-2, -1)").replace("DROP", "0.0")
OTHER_JOINS = ATTENTION.replace("SCORES", "(k @ q.transpose(-2, -1)).transpose(-2, -1)").replace("DROP", "0.0")
SCALED = REFERENCE.replace("return self.drop(w) @ v", "return 1.5 * (self.drop(w) @ v)")
CHECK = model.OutputsCheck.model_validate(
    {
        "id": "o",
        "kind": "outputs",
        "cases": [{"args": [8], "inputs": [[2, 5, 8]]}, {"args": [4], "inputs": [[1, 3, 4], [2, 3, 4]]}],
        "modes": ["train", "eval"],
    }
)
SPEC = {
    "id": "o",
    "kind": "outputs",
    "cases": [case.model_dump(mode="json", exclude={"name"}) for case in CHECK.cases],
    "modes": CHECK.modes,
    "seed": 0,
    "observe": True,
}
FOLDED = {**SPEC, "search": search.folded_spec(CHECK)}


def run(code: str, spec: dict) -> tuple[dict, dict[str, torch.Tensor]]:
    torch.manual_seed(0)  # as the job seeds it
    facts, tensors = probes.run({"code": code, "entry_point": "Attention", "checks": [spec]})
    assert facts["definition"]["ok"], facts
    return facts["checks"], tensors


def store(tensors: dict[str, torch.Tensor]) -> TensorStore:
    from safetensors.torch import save

    return TensorStore(save({k: v.contiguous() for k, v in tensors.items()}))


@pytest.mark.parametrize("drop", ["0.0", "0.5"])
def test_the_fold_leaves_the_checks_own_facts_as_they_were(drop: str) -> None:
    code = REFERENCE.replace("0.0", drop)  # 0.5: a random forward, whose later draws must not shift
    plain, plain_tensors = run(code, SPEC)
    folded, folded_tensors = run(code, FOLDED)
    assert set(folded) == {"o", "o#roles"}
    assert folded["o"] == plain["o"]
    own = {k: v for k, v in folded_tensors.items() if not k.startswith("o#roles/")}
    assert own.keys() == plain_tensors.keys()
    assert all(torch.equal(own[k], plain_tensors[k]) for k in own)


def test_the_fold_reports_what_the_searchs_own_job_reports_for_its_case() -> None:
    facts, tensors = run(OTHER_JOINS, FOLDED)
    fold = facts["o#roles"]
    assert fold["assignments"] == {"0": 6}  # three same-shaped projections: 3! pairings, all of them
    searched, searched_tensors = run(OTHER_JOINS, {**search.search_spec(CHECK), "seed": 0})
    alone = [entry for entry in searched["o#roles"]["results"] if entry["case"] == 0]
    assert fold["results"] == alone
    for entry in alone:
        key = f"o#roles/0/{entry['assignment']}"
        assert torch.allclose(tensors[key], searched_tensors[key], atol=1e-6)


def reference() -> tuple[dict, TensorStore]:
    facts, tensors = run(REFERENCE, SPEC)
    return facts["o"], store(tensors)


def folded_facts(code: str) -> tuple[dict, dict, TensorStore]:
    facts, tensors = run(code, FOLDED)
    return facts["o"], facts["o#roles"], store(tensors)


def test_a_fold_where_no_pairing_gives_the_reference_rules_the_search_out() -> None:
    want, want_tensors = reference()
    own, fold, tensors = folded_facts(SCALED)
    assert search.ruled_out(CHECK, fold, tensors, own, want, want_tensors)


def test_a_fold_where_a_pairing_gives_the_reference_leaves_the_search_to_run() -> None:
    want, want_tensors = reference()
    own, fold, tensors = folded_facts(OTHER_JOINS)
    assert not search.ruled_out(CHECK, fold, tensors, own, want, want_tensors)
    right, right_fold, right_tensors = folded_facts(REFERENCE)  # discovery's own pairing is assignment 0
    assert not search.ruled_out(CHECK, right_fold, right_tensors, right, want, want_tensors)


def _without(fold: dict, assignment: int) -> dict:
    return {**fold, "results": [entry for entry in fold["results"] if entry["assignment"] != assignment]}


@pytest.mark.parametrize(
    "change",
    [
        lambda fold: None,
        lambda fold: {**fold, "results": "x"},
        lambda fold: _without(fold, 5),  # cut short: not every pairing of its case
        lambda fold: {**fold, "assignments": {"0": 6, "1": 6}},  # one case only
        lambda fold: {**fold, "assignments": {"0": 1}},
        lambda fold: {**fold, "assignments": {"0": 99}},
        lambda fold: {**fold, "assignments": {"9": 6}},  # a case the check does not have
        lambda fold: {**fold, "assignments": {"0": True}},
        lambda fold: {**fold, "results": [{**fold["results"][0], "case": "0"}, *fold["results"][1:]]},
    ],
)
def test_a_fold_that_is_not_what_was_asked_rules_nothing_out(change) -> None:
    want, want_tensors = reference()
    own, fold, tensors = folded_facts(SCALED)
    assert search.ruled_out(CHECK, fold, tensors, own, want, want_tensors)  # as sent, it does
    assert not search.ruled_out(CHECK, change(json.loads(json.dumps(fold))), tensors, own, want, want_tensors)


def test_a_random_forward_rules_nothing_out() -> None:
    want, want_tensors = reference()
    own, fold, tensors = folded_facts(SCALED.replace("nn.Dropout(0.0)", "nn.Dropout(0.5)"))
    assert any(entry.get("random") for entry in own["results"])
    assert not search.ruled_out(CHECK, fold, tensors, own, want, want_tensors)


def test_a_case_with_more_pairings_than_a_fold_takes_is_not_folded() -> None:
    many = REFERENCE.replace(
        "self.v_proj = nn.Linear(E, E)", "self.v_proj = nn.Linear(E, E)\n        self.o = nn.Linear(E, E)"
    ).replace("return self.drop(w) @ v", "return self.o(self.drop(w) @ v)")  # four same-shaped layers: 24 pairings
    facts, tensors = run(many, FOLDED)
    assert "o#roles" not in facts
    assert not any(key.startswith("o#roles/") for key in tensors)


def test_a_fold_that_breaks_leaves_the_checks_facts_and_no_trace_of_itself(monkeypatch) -> None:
    plain, plain_tensors = run(REFERENCE, SPEC)
    calls = []

    def breaks(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # after assignment 0's entry and tensors are in: nothing of it may stay
            raise RuntimeError("the answer broke the search")
        return original(*args, **kwargs)

    worker = importlib.import_module("quizapp.judge.probes")
    original = worker._search_entry
    monkeypatch.setattr(worker, "_search_entry", breaks)
    folded, folded_tensors = run(REFERENCE, FOLDED)
    assert len(calls) == 2
    assert folded == plain  # no fold filed: the host runs the search's own job if it needs one
    assert folded_tensors.keys() == plain_tensors.keys()
