"""The role search, on the trusted side: when an answer's outputs differ, try other pairings of its same-shaped
layers with the reference's by running the *reference* under them, never the answer.

Canonical initialisation gives each parameter the values of its *role* (quizapp/judge/probes.py), and ranks
same-shaped layers by where their outputs go. Where an answer reaches the same result with other joins than
the reference (`(k @ q^T)^T` for `q @ k^T`), or two layers are truly alike, that ranking can pair a layer
with the wrong one of the reference's, and a right answer would be rejected.

The answer runs once, in its own job, under discovery's own pairing: its module `a` of rank r gets the values
V(r). When an outputs check fails with a numeric difference and the answer has same-shaped parameters, the
host compares that one run with the *reference's* outputs under a bounded set of pairings (`probe_roles` run on
the reference's code: for each case, its tied modules' ranks by path under each pairing, and the output of the
case's first input in the check's first mode). A reference run where its module `b` got V(r) and whose output
is the answer's pairs `a` with `b`. The reference is then run in full (every check, every case) with those
ranks given by path (`case_plan`), and the answer's one run is judged again against it. Other cases of the
checks that failed take the same pairing of modules, carried by path: the reference's `b` takes, there, the
rank the answer's `a` had there.

Both reference jobs depend on the question alone (the search) or on the question and the pairing found (the
full run), so they are cached like the reference's own facts: a wrong answer is one job, a right one written
with other joins one job once the question's pairing is cached. Nothing of the reference enters the answer's
jail, and the answer cannot choose: it ran before any pairing was tried, and every reference run it may match
is the reference with its same-shaped layers relabelled, which is the same family of functions. Sharing one
layer, or using one projection for two roles, still fails: no relabelling of the reference's layers makes
several of them one. A question whose reference cannot be run here (a student build, which ships only the
reference's own facts) is not searched: an answer that needs another pairing is rejected there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ..packs import model
from .checks import agree
from .facts import FactsRefused, TensorStore

SEARCH = "roles"  # the probe kind of the reference's search job (probes.probe_roles)
COUNT = 24  # pairings per case, the reference's own included; probes.MAX_ROLE_ASSIGNMENTS bounds it
MAX_RANKED = 2000  # tied modules a run may name by path

Ranks = dict[str, tuple[int, int]]  # a case's tied modules: path -> (group, rank of the values it gets)


def worth_searching(check: Any, learner_facts: dict[str, Any]) -> bool:
    """Whether some case of a failed outputs check has two parameters of one shape: without, there is no tie."""
    parameters = learner_facts.get("parameters") if isinstance(learner_facts, dict) else None
    if check.kind != "outputs" or not isinstance(parameters, dict):
        return False
    for listed in parameters.values():
        if not isinstance(listed, list):
            continue
        shapes = [json.dumps(p.get("shape")) for p in listed if isinstance(p, dict)]
        if len(shapes) != len(set(shapes)):
            return True
    return False


def search_id(check: model.OutputsCheck) -> str:
    """The search's id, apart from the check's own facts."""
    return f"{check.id}#roles"


def search_spec(check: model.OutputsCheck) -> dict[str, Any]:
    """The reference's search for one outputs check: every case, under each of at most COUNT pairings."""
    return {
        "id": search_id(check),
        "kind": SEARCH,
        "cases": [case.model_dump(mode="json", exclude={"name"}) for case in check.cases],
        "seed": check.seed,
        "mode": check.modes[0],
        "count": COUNT,
    }


def matching_pairings(
    check: model.OutputsCheck,
    learner: dict[str, Any],
    learner_tensors: TensorStore,
    table: Any,
    table_tensors: TensorStore,
) -> dict[int, Ranks] | None:
    """For each case of the check that makes a call: the reference's tied modules' ranks under the first pairing
    of the reference's search (`table`, probe_roles' facts from the reference's code) whose output is the
    answer's own first output there (its first input in the check's first mode). None when some case has no
    such pairing, or the facts are not what was asked."""
    if not isinstance(table, dict) or not isinstance(table.get("results"), list):
        return None
    mode = check.modes[0]
    own = {
        entry.get("case"): entry
        for entry in learner.get("results", [])
        if isinstance(entry, dict) and entry.get("mode") == mode and entry.get("input") == 0
    }
    found: dict[int, Ranks] = {}
    try:
        for entry in table["results"]:
            if not isinstance(entry, dict) or "output" not in entry:
                continue
            case, assignment = entry.get("case"), entry.get("assignment")
            if type(case) is not int or type(assignment) is not int or case in found:
                continue
            mine = own.get(case)
            ranks = _rank_map(entry.get("ranks"))
            if not 0 <= case < len(check.cases) or mine is None or "output" not in mine or ranks is None:
                continue
            rtol, atol = model.tolerance_for(check, check.cases[case])
            answer_key, reference_key = f"{check.id}/{case}/{mode}/0", f"{search_id(check)}/{case}/{assignment}"
            if _same_output(answer_key, learner_tensors, reference_key, entry, table_tensors, rtol, atol):
                found[case] = ranks
    except (FactsRefused, KeyError, ValueError, TypeError, IndexError):
        return None
    needed = {index for index, case in enumerate(check.cases) if case.inputs or case.calls}
    return found if needed <= set(found) else None


def _same_output(
    answer_key: str,
    answer_tensors: TensorStore,
    reference_key: str,
    reference: dict[str, Any],
    reference_tensors: TensorStore,
    rtol: float,
    atol: float,
) -> bool:
    """Whether the answer's output under `answer_key` is the reference's search output under `reference_key`: one
    tensor, or each tensor element of a tuple, list or dict output (`/o<element index>` in both)."""
    elements = reference.get("elements")
    if not isinstance(elements, list):
        return (
            answer_key in answer_tensors
            and reference_key in reference_tensors
            and agree(answer_tensors[answer_key], reference_tensors[reference_key], rtol, atol)
        )
    indexes = [i for i in elements if type(i) is int and f"{reference_key}/o{i}" in reference_tensors]
    return bool(indexes) and all(
        f"{answer_key}/o{i}" in answer_tensors
        and agree(answer_tensors[f"{answer_key}/o{i}"], reference_tensors[f"{reference_key}/o{i}"], rtol, atol)
        for i in indexes
    )


def _rank_map(given: Any) -> Ranks | None:
    """A run's report of its tied modules (path -> [group, rank]) as a map, or None if it is not one."""
    if not isinstance(given, dict) or len(given) > MAX_RANKED:
        return None
    out: Ranks = {}
    for path, value in given.items():
        if not isinstance(path, str) or not isinstance(value, list) or len(value) != 2:
            return None
        if not all(type(v) is int and 0 <= v < MAX_RANKED for v in value):
            return None
        out[path] = (value[0], value[1])
    return out


def reference_ranks(
    checks: list[Any],
    found: dict[str, dict[int, Ranks]],
    learner_of: Callable[[str], dict[str, Any]],
    reference_of: Callable[[str], dict[str, Any]],
) -> dict[str, dict[str, dict[str, int]]]:
    """What the reference's full run under the pairing is given: check id -> case -> the reference's tied module
    path -> the rank of the values it gets, for the outputs and gradients checks among `checks`.

    A searched case takes the ranks found (`found`, from matching_pairings). Any other case whose reference has
    tied modules takes the pairing of modules found on a searched case (the answer's module that got the same
    values as the reference's, by path), a case built the same way first: the reference's module takes the rank
    its answer module has in that case (`ranks` in the answer's facts; it decides only which relabelling of the
    reference is compared, never what the answer computed). A case the pairing cannot be carried to keeps the
    reference's own pairing."""
    by_id = {check.id: check for check in checks}
    pairings: list[tuple[str, dict[str, str]]] = []  # (build, answer's module path -> reference's)
    for check_id, cases in found.items():
        answer_ranks = learner_of(check_id).get("ranks") or {}
        for case, ranks in cases.items():
            mine = _rank_map(answer_ranks.get(str(case)))
            paired = _paired_modules(mine, ranks) if mine is not None else None
            if paired is not None and check_id in by_id:
                pairings.append((_build_key(by_id[check_id].cases[case]), paired))
    given: dict[str, dict[str, dict[str, int]]] = {}
    for check in checks:
        if check.kind not in ("outputs", "gradients"):
            continue
        theirs_by_case = reference_of(check.id).get("ranks") or {}
        mine_by_case = learner_of(check.id).get("ranks") or {}
        ranks_by_case: dict[str, dict[str, int]] = {}
        for index, case in enumerate(check.cases):
            if index in found.get(check.id, {}):
                ranks_by_case[str(index)] = {path: rank for path, (_, rank) in found[check.id][index].items()}
                continue
            theirs, mine = _rank_map(theirs_by_case.get(str(index))), _rank_map(mine_by_case.get(str(index)))
            if not theirs or mine is None:
                continue
            build = _build_key(case)
            for _, paired in sorted(pairings, key=lambda source: source[0] != build):  # stable: found order
                carried = _carried(paired, mine, theirs)
                if carried is not None:
                    ranks_by_case[str(index)] = carried
                    break
        if ranks_by_case:
            given[check.id] = ranks_by_case
    return given


def _paired_modules(mine: Ranks, theirs: Ranks) -> dict[str, str] | None:
    """The answer's tied module path -> the reference's that got the same values (group and rank), or None if
    the two do not pair one to one."""
    owner = {value: path for path, value in theirs.items()}
    if len(owner) != len(theirs) or len(mine) != len(theirs):
        return None
    paired: dict[str, str] = {}
    for path, value in mine.items():
        if value not in owner:
            return None
        paired[path] = owner[value]
    return paired


def _carried(paired: dict[str, str], mine: Ranks, theirs: Ranks) -> dict[str, int] | None:
    """A pairing of modules carried to another case: each reference module (`theirs`, its tied modules there)
    takes the rank its answer module has there (`mine`). None when some module has no partner of its group."""
    partner = {reference: answer for answer, reference in paired.items()}
    ranks: dict[str, int] = {}
    for path, (group, _) in theirs.items():
        answer = partner.get(path)
        if answer is None or answer not in mine or mine[answer][0] != group:
            return None
        ranks[path] = mine[answer][1]
    # A relabelling only: within each group, the ranks the reference's own run gave, each once. (The answer's
    # ranks are its report: a report that would make one set of values serve two layers carries nothing.)
    for group in {group for group, _ in theirs.values()}:
        own = sorted(rank for group_of, rank in theirs.values() if group_of == group)
        if sorted(ranks[path] for path, (group_of, _) in theirs.items() if group_of == group) != own:
            return None
    return ranks


def is_reference_own(given: dict[str, dict[str, dict[str, int]]], reference_of: Callable[[str], Any]) -> bool:
    """Whether the ranks given are the ones the reference's own run used everywhere (nothing to run again)."""
    for check_id, cases in given.items():
        own = reference_of(check_id).get("ranks") or {}
        for case, ranks in cases.items():
            theirs = _rank_map(own.get(case)) or {}
            if {path: rank for path, (_, rank) in theirs.items()} != ranks:
                return False
    return True


def with_ranks(payload: dict[str, Any], given: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """The reference's payload with each outputs and gradients probe given its cases' ranks by path."""
    for spec in payload["checks"]:
        if spec["id"] in given and spec["kind"] in ("outputs", "gradients"):
            spec["ranks"] = given[spec["id"]]
    return payload


def pairing_key(given: dict[str, dict[str, dict[str, int]]]) -> str:
    """A short name for a pairing, for the reference cache."""
    return hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()[:16]


def _build_key(case: model.Case) -> str:
    return json.dumps([case.build, case.args, case.kwargs, case.init, case.dtype], sort_keys=True, default=str)
