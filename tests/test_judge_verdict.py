"""The verdict table: what the server saw of one job -> that job's outcome. Pure (quizapp/judge/verdict.py):
no pool, no processes. Each row is a situation the watch loop records, and the status and detail it earns."""

from __future__ import annotations

import os
import signal

import pytest

from quizapp.judge import protocol
from quizapp.judge.limits import JobLimits
from quizapp.judge.verdict import Exit, JobRecord, decide

NONCE = "0123456789abcdef" * 2
LIMITS = JobLimits(cpu_seconds=2, wall_seconds=5, memory_mb=300, output_kb=16)


def exited(code: int) -> int:
    return code << 8  # a wait status


def killed(sig: int) -> int:
    return sig


def init_exit(status: int, cpu: float = 0.1, maxrss: int = 1000) -> dict:
    return {"ev": "exit", "status": status, "utime": cpu, "stime": 0.0, "maxrss": maxrss}


def frame(status: str = "returned", facts: bytes = b'{"ok": true}', tensors: bytes = b"", nonce: str = NONCE) -> bytes:
    return protocol.encode_result(nonce, status, facts, tensors)


def raw_frame(header: bytes, blob: bytes = b"") -> bytes:
    return protocol.PREFIX.pack(protocol.MAGIC, len(header), len(blob)) + header + blob


def record(**changes) -> JobRecord:
    base = {"mode": "full", "limits": LIMITS, "nonce": NONCE, "events": [init_exit(exited(0))], "result": frame()}
    base.update(changes)
    return JobRecord(**base)


INFINITE = b'{"nonce":"' + NONCE.encode() + b'","status":"returned","facts_len":Infinity,"tensors_len":0}'
NAN = b'{"nonce":"' + NONCE.encode() + b'","status":"returned","facts_len":NaN,"tensors_len":0}'
NEGATIVE = b'{"nonce":"' + NONCE.encode() + b'","status":"returned","facts_len":-1,"tensors_len":1}'
SPACED = b'{"nonce": "' + NONCE.encode() + b'", "status": "returned", "facts_len": 2, "tensors_len": 0}'
EXTRA = b'{"nonce":"' + NONCE.encode() + b'","status":"returned","facts_len":2,"tensors_len":0,"x":1}'

TABLE = [
    # (name, record changes, status, detail or a part of it)
    ("facts returned", {}, "ok", ""),
    ("wall clock", {"killed_for": "wall", "events": []}, "time_limit", "killed after 5.0 s of wall time"),
    ("printed too much", {"output_exceeded": True}, "output_limit", "printed more than 16 KB"),
    ("sent too much", {"result_exceeded": True}, "output_limit", "sent back more than 64 MB of results"),
    ("SIGXCPU", {"events": [init_exit(killed(signal.SIGXCPU), cpu=2.0)], "result": b""}, "time_limit", "2 s of CPU"),
    # the kernel's SIGXCPU, with wait4's CPU time trailing its tick-sampled one (seen on a loaded CI machine)
    (
        "SIGXCPU, CPU measured short",
        {"events": [init_exit(killed(signal.SIGXCPU), cpu=1.8)], "result": b""},
        "time_limit",
        "CPU",
    ),
    (
        "SIGXCPU sent by the answer",
        {"events": [init_exit(killed(signal.SIGXCPU))], "result": b""},
        "runtime_error",
        "SIGXCPU",
    ),
    ("CPU measured over", {"events": [init_exit(exited(0), cpu=2.5)]}, "time_limit", "2 s of CPU"),
    ("segfault", {"events": [init_exit(killed(signal.SIGSEGV))], "result": b""}, "runtime_error", "SIGSEGV"),
    ("exit before facts", {"events": [init_exit(exited(3))], "result": b""}, "runtime_error", "status 3"),
    ("facts then a crash", {"events": [init_exit(killed(signal.SIGABRT))]}, "runtime_error", "SIGABRT"),
    ("jail failed", {"events": [{"ev": "error", "where": "init", "message": "x"}]}, "internal_error", "jail"),
    ("init silent", {"events": [], "result": b""}, "internal_error", "without reporting"),
    ("another job's nonce", {"result": frame(nonce="f" * 32)}, "runtime_error", "result channel"),
    ("length Infinity", {"result": raw_frame(INFINITE)}, "runtime_error", "result channel"),
    ("length NaN", {"result": raw_frame(NAN)}, "runtime_error", "result channel"),
    ("negative length", {"result": raw_frame(NEGATIVE, b"x")}, "runtime_error", "result channel"),
    ("free-form JSON envelope", {"result": raw_frame(SPACED, b"{}")}, "runtime_error", "result channel"),
    ("an extra key", {"result": raw_frame(EXTRA, b"{}")}, "runtime_error", "result channel"),
    ("two frames", {"result": frame() + frame()}, "runtime_error", "result channel"),
    ("garbage", {"result": b"QZF1" + b"\xff" * 40}, "runtime_error", "result channel"),
    ("facts over their cap", {"result": frame(facts=b" " * (protocol.MAX_FACTS_BYTES + 1))}, "output_limit", "facts"),
    ("measured out of memory", {"result": frame("memory", b"")}, "memory_limit", "more than 300 MB"),
    ("our task failed, by J's word", {"result": frame("task_error", b"{}")}, "runtime_error", "probe code failed"),
    ("the answer broke the probes", {"result": frame("learner_error", b"{}")}, "runtime_error", "probed"),
    ("set-up failed, by J's word", {"result": frame("setup_error", b"{}")}, "runtime_error", "set-up"),
    ("prepared chain lost", {"prepared": True, "events": [], "result": b""}, "internal_error", "before taking"),
]


@pytest.mark.parametrize(("changes", "status", "detail"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_verdict_table(changes, status, detail):
    decision = decide(record(**changes))
    assert decision.status == status
    assert detail in decision.detail
    if status != "ok":
        assert decision.tensors is None


def test_facts_and_tensors_are_slices_of_the_result():
    decision = decide(record(result=frame(facts=b'{"a": 1}', tensors=b"TENSORS")))
    assert bytes(decision.facts) == b'{"a": 1}'
    assert bytes(decision.tensors) == b"TENSORS"


def test_a_prepared_jobs_warm_up_cpu_is_not_the_learners():
    events = [{"ev": "start", "cpu": 0.5}, init_exit(exited(0), cpu=1.6)]
    decision = decide(record(prepared=True, events=events))
    assert decision.status == "ok"
    assert decision.cpu_ms == pytest.approx(1100)


def test_reduced_mode_reads_the_reaped_status():
    decision = decide(record(mode="reduced", events=[], reaped=Exit(exited(0), 0.2, 500)))
    assert (decision.status, decision.exit_code, decision.max_rss_kb) == ("ok", 0, 500)
    crashed = decide(record(mode="reduced", events=[], reaped=Exit(killed(signal.SIGSEGV)), result=b""))
    assert crashed.status == "runtime_error" and crashed.signal == signal.SIGSEGV


def test_nothing_in_the_table_comes_from_learner_text():
    # A learner's stderr is not an input of the verdict at all: the record has no field for it.
    assert "stderr" not in JobRecord.__dataclass_fields__
    assert os.WEXITSTATUS(exited(7)) == 7
