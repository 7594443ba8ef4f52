"""The role search: when an answer's outputs differ, try the other ways of matching its layers to the reference's.

Canonical initialisation gives each parameter the values of its *role* (quizapp/judge/probes.py), and ranks
same-shaped layers by where their outputs go. Where an answer reaches the same result with other joins than
the reference (`(k @ q^T)^T` for `q @ k^T`), or two layers are truly alike, that ranking can pair a layer
with the wrong one of the reference's, and a right answer would be rejected. So, when an outputs check fails
with a numeric difference and the answer has same-shaped parameters, the host asks the jail for the outputs
of a bounded set of other assignments (job 2), keeps the first that gives the reference's outputs on every
case's first input, and grades the answer again with it (job 3). The reference's outputs never enter the
jail: the child reports, the host compares. Job 2's facts only choose what job 3 runs; job 3 is judged like
any run, so a forged search can win nothing. Sharing one layer, or using one projection for two roles, still
fails: no assignment of one set of values to several roles gives the reference's outputs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..packs import model
from .checks import compare_arrays
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
    """The search's id in a job that may also observe the check itself (grader._locate)."""
    return f"{check.id}#roles"


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
            want = reference_tensors[f"{check.id}/{case}/{mode}/0"]
            if key in tensors and compare_arrays(tensors[key], want, check.rtol, check.atol) is None:
                found[case] = assignment
    except (FactsRefused, KeyError, ValueError, TypeError):
        return None
    needed = {index for index, case in enumerate(check.cases) if case.inputs}
    return found if needed <= set(found) else None


def with_assignments(payload: dict[str, Any], checks: list[Any], chosen: dict[str, dict[int, int]]) -> dict[str, Any]:
    """Job 3's payload: every outputs and gradients probe told which assignment each case uses.

    A searched check's cases use what the search found; any other case uses the assignment found for a case
    built the same way (same arguments), else the one found most often."""
    by_build: dict[str, int] = {}
    counts: Counter[int] = Counter()
    by_id = {check.id: check for check in checks}
    for check_id, found in chosen.items():
        for case_index, assignment in found.items():
            by_build.setdefault(_build_key(by_id[check_id].cases[case_index]), assignment)
            counts[assignment] += 1
    default = min(counts, key=lambda a: (-counts[a], a)) if counts else 0
    for spec in payload["checks"]:
        if spec["kind"] not in ("outputs", "gradients"):
            continue
        check = by_id[spec["id"]]
        found = chosen.get(spec["id"], {})
        assignment: dict[str, int] = {"*": default}
        for index, case in enumerate(check.cases):
            assignment[str(index)] = found.get(index, by_build.get(_build_key(case), default))
        spec["assignment"] = assignment
    return payload


def _build_key(case: model.Case) -> str:
    return json.dumps([case.build, case.args, case.kwargs], sort_keys=True, default=str)
