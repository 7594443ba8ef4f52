"""One probe job split across two workers, and its parts' outcomes merged back into one. Host side, no torch.

A warm ResNet verdict is mostly one job's probes (about 35 ms of CPU on a quiet machine), run by one
process while the other core idles: a learner submits one answer at a time, and the pool's second worker
waits with its prepared chain. So when another worker is idle, the pool (pool.py) runs the job's checks in
two parts at once, each in a jailed chain of its own, and merges what they send back; the host then judges
the merged facts exactly as it judges a whole job's (complete-fact validation included).

A part's facts are the whole job's facts for its checks, so splitting is a choice of scheduling, never of
verdicts: a part carries its whole job's seed (`job_seed`: the answer is defined with the same random state),
the probes seed every generator again before each check from the check alone (probes.seed_for_check), and the
checks are cut in order, so the parts' printouts put together are the whole job's (a later part defines the
answer without printing). The limits hold for the job as a whole: the parts' CPU times and wall times are
added up and their printouts counted together against the job's limits.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

from . import protocol
from .limits import JobLimits
from .protocol import JobOutcome

SPLIT_TASKS = ("probe",)
# A part must hold at least this share of the job's estimated work, and this many forwards' worth (check_cost):
# a part costs a chain of its own and defines the answer again (about 5 ms of CPU on a quiet machine, what a
# few forwards of a small module cost), so below these it saves less time than it takes.
SMALLEST_PART = 0.2
SMALLEST_PART_COST = 8.0


def check_cost(spec: Any) -> float:
    """A check's work, roughly in forwards: what the probes of its kind run per case and per call (a module
    built and its roles discovered count one forward each; a backward counts one)."""
    if not isinstance(spec, dict):
        return 1.0
    kind = spec.get("kind")
    cases = spec.get("cases") if isinstance(spec.get("cases"), list) else []
    modes = spec.get("modes") if isinstance(spec.get("modes"), list) else []
    total = 0.0
    for case in cases:
        calls = case.get("calls") or case.get("inputs") if isinstance(case, dict) else None
        count = len(calls) if isinstance(calls, list) else 1
        if kind == "outputs":
            total += 2 + count * len(modes or ["train", "eval"]) + (1 if spec.get("observe") else 0)
        elif kind == "gradients":
            total += 2 + 2 * count * len(modes or ["train"])
        elif kind == "trace":
            total += 1 + count
        else:
            total += 1
    if kind == "training":
        steps = spec.get("steps")
        total += 2 * (steps if isinstance(steps, int) and 0 < steps < 1000 else 4)
    return max(total, 1.0)


def split_job(payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The job as two parts, its checks cut in order where the parts' work is closest to even; None when it
    has fewer than two checks, or when the smaller part would be too small to pay for itself."""
    checks = payload.get("checks")
    if not isinstance(checks, list) or len(checks) < 2:
        return None
    costs = [check_cost(spec) for spec in checks]
    total = sum(costs)
    best, cut, before = total, 0, 0.0
    for index in range(1, len(checks)):
        before += costs[index - 1]
        if abs(total - 2 * before) < best:
            best, cut = abs(total - 2 * before), index
    smaller = min(sum(costs[:cut]), sum(costs[cut:]))
    if smaller < max(SMALLEST_PART * total, SMALLEST_PART_COST):
        return None
    seed = protocol.job_seed(payload)
    return [
        {**payload, "checks": checks[:cut], "job_seed": seed},
        {**payload, "checks": checks[cut:], "job_seed": seed, "part": 1},
    ]


def merge_outcomes(parts: list[JobOutcome], limits: JobLimits) -> JobOutcome:
    """The whole job's outcome from its parts' (in check order).

    A part that did not end well is the job's outcome (the first such part: the whole job would have stopped
    there), with the job's CPU and wall time. Otherwise the facts are put together check by check; facts that
    could not be put together (not a table of checks, a check reported by both parts, tensors that do not
    parse) are passed on so that the grader refuses them, as it refuses a whole job's forged facts."""
    cpu_ms = sum(part.cpu_ms for part in parts)
    timing = {
        "cpu_ms": round(cpu_ms, 3),
        "wall_ms": max(part.wall_ms for part in parts),
        "max_rss_kb": max(part.max_rss_kb for part in parts),
        "extra": {**parts[0].extra, "parts": [part.extra for part in parts]},
    }
    failed = next((part for part in parts if part.status != "ok"), None)
    if failed is not None:
        return dataclasses.replace(failed, **timing)
    stdout = "".join(part.stdout for part in parts)
    stderr = "".join(part.stderr for part in parts)
    over = _over_limits(parts, limits, cpu_ms, len(stdout.encode()) + len(stderr.encode()))
    if over is not None:
        return dataclasses.replace(parts[0], status=over[0], detail=over[1], facts=None, tensors=b"", **timing)
    merged = dataclasses.replace(
        parts[0],
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=any(part.stdout_truncated for part in parts),
        **timing,
    )
    facts = [part.facts for part in parts]
    unusable = next((part for part, f in zip(parts, facts, strict=True) if not _mergeable(f)), None)
    if unusable is not None:  # a definition that failed, or facts the grader will refuse: as they came
        return dataclasses.replace(merged, facts=unusable.facts, tensors=unusable.tensors)
    checks: dict[str, Any] = {}
    for part_facts in facts:
        assert isinstance(part_facts, dict)
        for key, value in part_facts["checks"].items():
            if key in checks:  # not a check the host asked for: the grader refuses the job's facts
                checks[f"{key} (reported by two parts of the job)"] = value
            else:
                checks[key] = value
    whole: dict[str, Any] = {**facts[0], "checks": checks}
    if any("called" in part_facts for part_facts in facts if isinstance(part_facts, dict)):
        # the forbidden names each part saw called (probes.Watch): the job saw what any part saw
        reported = [part_facts.get("called") for part_facts in facts if isinstance(part_facts, dict)]
        lists = [names for names in reported if isinstance(names, list)]
        if len(lists) == len(reported):
            whole["called"] = sorted({name for names in lists for name in names if isinstance(name, str)})
        else:
            whole["called"] = None  # a part without its record: the grader refuses the facts
    return dataclasses.replace(merged, facts=whole, tensors=merge_tensors([part.tensors for part in parts]))


def _mergeable(facts: Any) -> bool:
    return isinstance(facts, dict) and facts.get("definition") == {"ok": True} and isinstance(facts.get("checks"), dict)


def _over_limits(parts: list[JobOutcome], limits: JobLimits, cpu_ms: float, printed: int) -> tuple[str, str] | None:
    """The job's limits, on what its parts used together (each part ran under the whole job's limits)."""
    if cpu_ms > limits.cpu_seconds * 1000:
        return "time_limit", f"used more than {limits.cpu_seconds:g} s of CPU time"
    if sum(part.wall_ms for part in parts) > limits.wall_seconds * 1000:
        return "time_limit", f"used more than {limits.wall_seconds:.1f} s of wall time"
    if printed > limits.output_kb * 1024:
        return "output_limit", f"printed more than {limits.output_kb} KB"
    return None


UNREADABLE_TENSORS = b"\0"  # what TensorStore refuses ("truncated"), as it refuses a forged blob


def merge_tensors(blobs: list[bytes]) -> bytes:
    """Safetensors blobs as one: the headers' tables joined, each blob's byte ranges moved past the ones
    before it. The host's TensorStore checks the result whole; a blob that does not parse here, or a name in
    two blobs, gives UNREADABLE_TENSORS."""
    present = [blob for blob in blobs if len(blob)]
    if len(present) <= 1:
        return present[0] if present else b""
    header: dict[str, Any] = {}
    chunks: list[bytes | memoryview] = []
    offset = 0
    for blob in present:
        parsed = _read_safetensors(blob)
        if parsed is None:
            return UNREADABLE_TENSORS
        table, data = parsed
        for name, info in table.items():
            if name == "__metadata__":
                continue
            if name in header:
                return UNREADABLE_TENSORS
            begin, end = info["data_offsets"]
            header[name] = {**info, "data_offsets": [begin + offset, end + offset]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return b"".join([struct.pack("<Q", len(head)), head, *chunks])


def _read_safetensors(blob: bytes) -> tuple[dict[str, Any], memoryview] | None:
    view = memoryview(blob)
    if len(view) < 8:
        return None
    (head_len,) = struct.unpack("<Q", view[:8])
    if head_len > len(view) - 8:
        return None
    try:
        table = json.loads(bytes(view[8 : 8 + head_len]))
    except (ValueError, RecursionError):
        return None
    data = view[8 + head_len :]
    if not isinstance(table, dict):
        return None
    for name, info in table.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(x) is int for x in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(data)
        ):
            return None
    return table, data
