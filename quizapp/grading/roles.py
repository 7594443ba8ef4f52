"""The role search: when an answer's outputs differ, try the other ways of matching its layers to the reference's.

Canonical initialisation gives each parameter the values of its *role* (quizapp/judge/probes.py), and ranks
same-shaped layers by where their outputs go. Where an answer reaches the same result with other joins than
the reference (`(k @ q^T)^T` for `q @ k^T`), or two layers are truly alike, that ranking can pair a layer
with the wrong one of the reference's, and a right answer would be rejected. So, when an outputs check fails
with a numeric difference and the answer has same-shaped parameters, the host asks the jail for the outputs
of a bounded set of other assignments (job 2), keeps the first that gives the reference's outputs on every
case's first input, and grades the answer again with it (job 3). The reference's outputs never enter the
jail: the child reports, the host compares. Job 2's facts only choose what job 3 runs, and job 3 is judged like
any run; but the answer can tell the assignments apart from inside its process, so it can compute a different
hypothesis under each and have the host pick the one that matches (tests/test_redteam_learner.py, a strict
xfail; the README's "Not done yet"). Searching on the trusted side (the reference under each assignment,
against the answer's one run) would close that. Sharing one layer, or using one projection for two roles, still
fails: no assignment of one set of values to several roles gives the reference's outputs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..packs import model
from .checks import agree
from .facts import FactsRefused, TensorStore

SEARCH = "roles"  # the probe kind of job 2 (probes.probe_roles)
COUNT = 24  # assignments per case, the first (discovery's own) included; probes.MAX_ROLE_ASSIGNMENTS bounds it


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


def folded_spec(check: model.OutputsCheck) -> dict[str, Any]:
    """What an outputs check's own probe is given to fold the search of one case into the job (see ruled_out)."""
    return {"id": search_id(check), "count": COUNT}


def search_spec(check: model.OutputsCheck) -> dict[str, Any]:
    return {
        "id": search_id(check),
        "kind": SEARCH,
        "cases": [case.model_dump(mode="json", exclude={"name"}) for case in check.cases],
        "seed": check.seed,
        "mode": check.modes[0],
        "count": COUNT,
    }


def matches(
    check: model.OutputsCheck, facts: Any, tensors: TensorStore, reference: dict[str, Any], reference_tensors: Any
) -> dict[int, int] | None:
    """For each case with inputs, the first assignment whose output is the reference's on the first input;
    None when some case has none (or the facts are not what was asked)."""
    found = _matching(check, facts, tensors, reference, reference_tensors)
    if found is None:
        return None
    needed = {index for index, case in enumerate(check.cases) if case.inputs or case.calls}
    return found if needed <= set(found) else None


def ruled_out(
    check: model.OutputsCheck,
    folded: Any,
    tensors: TensorStore,
    learner: dict[str, Any],
    reference: dict[str, Any],
    reference_tensors: Any,
) -> bool:
    """Whether the search folded into the answer's own job (every pairing of one case, see probes.probe_outputs)
    shows that no pairing gives the reference's output on that case, so none gives it on every case and the
    search's own job can be skipped. False whenever that cannot be told: no fold, a fold that does not cover
    every pairing of its case, facts that are not what was asked, or a forward that is random. A forged fold
    can only skip the forger's own search: it never makes anything pass."""
    if not isinstance(folded, dict) or not isinstance(folded.get("results"), list):
        return False
    assignments = folded.get("assignments")
    if not isinstance(assignments, dict) or len(assignments) != 1:
        return False
    ((case_text, count),) = assignments.items()
    if type(count) is not int or not 2 <= count <= COUNT or not isinstance(case_text, str) or not case_text.isdigit():
        return False
    case = int(case_text)
    if case >= len(check.cases) or any(
        isinstance(entry, dict) and entry.get("random") for entry in learner.get("results") or []
    ):
        return False
    covered = {
        entry.get("assignment")
        for entry in folded["results"]
        if isinstance(entry, dict) and entry.get("case") == case and type(entry.get("assignment")) is int
    }
    if covered != set(range(count)):
        return False
    found = _matching(check, folded, tensors, reference, reference_tensors)
    return found is not None and case not in found


def _matching(
    check: model.OutputsCheck, facts: Any, tensors: TensorStore, reference: dict[str, Any], reference_tensors: Any
) -> dict[int, int] | None:
    """For each case the search's facts cover, the first assignment whose output is the reference's on the first
    input (cases with no match left out); None when the facts are not what was asked."""
    if not isinstance(facts, dict) or not isinstance(facts.get("results"), list):
        return None
    mode = check.modes[0]
    wanted = {
        entry.get("case"): entry
        for entry in reference.get("results", [])
        if entry.get("mode") == mode and entry.get("input") == 0 and "output" in entry
    }
    found: dict[int, int] = {}
    try:
        for entry in facts["results"]:
            if not isinstance(entry, dict) or "output" not in entry:
                continue
            case, assignment = entry.get("case"), entry.get("assignment")
            if not isinstance(case, int) or not isinstance(assignment, int) or case in found or case not in wanted:
                continue
            key = f"{search_id(check)}/{case}/{assignment}"
            rtol, atol = model.tolerance_for(check, check.cases[case])
            if _same_output(key, f"{check.id}/{case}/{mode}/0", wanted[case], tensors, reference_tensors, rtol, atol):
                found[case] = assignment
    except (FactsRefused, KeyError, ValueError, TypeError, IndexError):
        return None
    return found


def _same_output(
    key: str,
    want_key: str,
    want: dict[str, Any],
    tensors: TensorStore,
    reference_tensors: Any,
    rtol: float,
    atol: float,
) -> bool:
    """Whether the search's output under `key` is the reference's first output: one tensor, or each tensor
    element of a tuple, list or dict output (sent as `o<element index>`)."""
    elements = want.get("elements")
    if not isinstance(elements, list):
        return key in tensors and agree(tensors[key], reference_tensors[want_key], rtol, atol)
    indexes = [i for i in range(len(elements)) if f"{want_key}/o{i}" in reference_tensors]
    return bool(indexes) and all(
        f"{key}/o{i}" in tensors and agree(tensors[f"{key}/o{i}"], reference_tensors[f"{want_key}/o{i}"], rtol, atol)
        for i in indexes
    )


MAX_RANKED = 2000  # modules a found assignment may name by path


def _rank_map(given: Any) -> dict[str, tuple[int, int]] | None:
    """A run's report of its tied modules (path -> [group, rank]) as a map, or None if it is not one."""
    if not isinstance(given, dict) or len(given) > MAX_RANKED:
        return None
    out: dict[str, tuple[int, int]] = {}
    for path, value in given.items():
        if not isinstance(path, str) or not isinstance(value, list) or len(value) != 2:
            return None
        if not all(type(v) is int and 0 <= v < MAX_RANKED for v in value):
            return None
        out[path] = (value[0], value[1])
    return out


def ranks_found(facts: Any, found: dict[int, int]) -> dict[int, dict[str, tuple[int, int]]]:
    """For each case the search matched, the answer's tied modules by path under the assignment found, as
    (group, rank). An index means something only for its own call; these let another call reuse the pairing."""
    ranks: dict[int, dict[str, tuple[int, int]]] = {}
    if not isinstance(facts, dict) or not isinstance(facts.get("results"), list):
        return ranks
    for entry in facts["results"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("case"), int):
            continue
        if found.get(entry["case"]) != entry.get("assignment"):
            continue
        mapped = _rank_map(entry.get("ranks"))
        if mapped is not None:
            ranks.setdefault(entry["case"], mapped)
    return ranks


def _translate(learner: dict[str, tuple[int, int]], there: Any, here: Any) -> dict[str, int] | None:
    """The answer's pairing found on one case (`learner`: its module -> (group, rank) that matched), carried to
    another case of the same construction: the reference's module that held that (group, rank) `there` holds
    some rank `here`, and the answer's module takes it. None when the reference's reports do not allow it."""
    there_map, here_map = _rank_map(there), _rank_map(here)
    if there_map is None or here_map is None:
        return None
    owner = {value: path for path, value in there_map.items()}
    if len(owner) != len(there_map):
        return None
    ranks: dict[str, int] = {}
    for path, value in learner.items():
        reference_module = owner.get(value)
        if reference_module is None or reference_module not in here_map:
            return None
        group, rank = here_map[reference_module]
        if group != value[0]:
            return None
        ranks[path] = rank
    return ranks


def with_assignments(
    payload: dict[str, Any],
    checks: list[Any],
    chosen: dict[str, dict[int, int]],
    ranks: dict[str, dict[int, dict[str, tuple[int, int]]]] | None = None,
    reference_ranks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Job 3's payload: every outputs and gradients probe told which assignment each case uses.

    A searched check's cases use what the search found. Any other case built the same way (same arguments) as
    a searched one takes that pairing carried over through the reference's own ranks on both cases (`ranks`,
    the answer's found ranks; `reference_ranks`, check id -> the reference's facts' `ranks`); failing that,
    the assignment index found for a case built alike, else the one found most often."""
    ranks = ranks or {}
    reference_ranks = reference_ranks or {}
    by_build: dict[str, int] = {}
    sources: dict[str, tuple[dict[str, tuple[int, int]], Any]] = {}
    counts: Counter[int] = Counter()
    by_id = {check.id: check for check in checks}
    for check_id, found in chosen.items():
        for case_index, index_found in found.items():
            key = _build_key(by_id[check_id].cases[case_index])
            by_build.setdefault(key, index_found)
            learner = ranks.get(check_id, {}).get(case_index)
            there = (reference_ranks.get(check_id) or {}).get(str(case_index))
            if learner is not None and there is not None:
                sources.setdefault(key, (learner, there))
            counts[index_found] += 1
    default = min(counts, key=lambda a: (-counts[a], a)) if counts else 0
    for spec in payload["checks"]:
        if spec["kind"] not in ("outputs", "gradients"):
            continue
        check = by_id[spec["id"]]
        found = chosen.get(spec["id"], {})
        assignment: dict[str, int] = {"*": default}
        by_path: dict[str, dict[str, int]] = {}
        for index, case in enumerate(check.cases):
            key = _build_key(case)
            carried = None
            if index not in found and key in sources:
                here = (reference_ranks.get(spec["id"]) or {}).get(str(index))
                carried = _translate(sources[key][0], sources[key][1], here)
            if index in found:
                assignment[str(index)] = found[index]
            elif carried is not None:
                assignment[str(index)] = 0
                by_path[str(index)] = carried
            else:
                assignment[str(index)] = by_build.get(key, default)
        spec["assignment"] = assignment
        if by_path:
            spec["ranks"] = by_path
    return payload


def _build_key(case: model.Case) -> str:
    return json.dumps([case.build, case.args, case.kwargs], sort_keys=True, default=str)
