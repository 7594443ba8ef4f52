"""The judge's pool, for real: warm workers, jailed jobs, facts and tensors back, workers replaced."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from judge_support import leftovers, prepared_chain

from quizapp.judge.pool import Pool
from quizapp.packs.model import Limits

LIMITS = Limits(cpu_seconds=2, wall_seconds=10, memory_mb=256, output_kb=16)


@pytest.fixture(scope="module")
def pool():
    with Pool(size=2) as pool:
        assert pool.wait_warm(180), "the judge's workers did not start"
        yield pool


def code(text: str) -> dict:
    return {"code": textwrap.dedent(text)}


def test_a_job_returns_facts(pool):
    outcome = pool.run("exec", code("print('hello')\nRESULT = {'answer': 42}"), LIMITS)
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts == {"ok": True, "result": {"answer": 42}}
    assert outcome.stdout == "hello\n"
    assert outcome.stderr == ""
    assert outcome.jail_mode == pool.jail_mode
    assert outcome.worker in (0, 1)
    assert outcome.wall_ms > 0 and outcome.cpu_ms > 0 and outcome.max_rss_kb > 0
    assert outcome.exit_code == 0 and outcome.signal is None


def test_the_worker_freezes_its_heap_and_a_job_still_collects_its_own_cycles(pool):
    """No collection in a chain walks the worker's objects (server.freeze_heap); the learner's garbage is
    collected as ever."""
    with pool._lock:
        infos = [worker.info for worker in pool._workers.values() if worker.info]
    assert infos and all(info["frozen_objects"] > 50_000 for info in infos), infos
    outcome = pool.run(
        "exec",
        code(
            """
            import gc, weakref
            class Node:
                pass
            watched = []
            for _ in range(200):
                node = Node()
                node.me = node
                watched.append(weakref.ref(node))
            del node
            gc.collect()
            RESULT = {"alive": sum(ref() is not None for ref in watched), "frozen": gc.get_freeze_count()}
            """
        ),
        LIMITS,
    )
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"]["alive"] == 0  # every cycle was collected (by gc.collect, or before it)
    assert outcome.facts["result"]["frozen"] > 50_000


def test_tensors_round_trip_without_torch_on_the_host(pool):
    from safetensors.numpy import load

    outcome = pool.run(
        "exec",
        code(
            """
            import torch
            TENSORS = {
                "weights": torch.arange(12, dtype=torch.float32).reshape(3, 4),
                "mask": torch.tensor([True, False]),
                "ids": torch.tensor([[1, 2], [3, 4]], dtype=torch.int64).t(),  # not contiguous
            }
            """
        ),
        LIMITS,
    )
    assert outcome.status == "ok", outcome.detail
    arrays = load(outcome.tensors)
    assert arrays["weights"].shape == (3, 4)
    assert arrays["weights"].tolist()[2] == [8.0, 9.0, 10.0, 11.0]
    assert arrays["mask"].tolist() == [True, False]
    assert arrays["ids"].tolist() == [[1, 3], [2, 4]]


def test_the_host_side_does_not_import_torch():
    check = "import sys, quizapp.judge.pool, quizapp.judge.protocol; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_learner_traceback_names_answer_py_lines(pool):
    outcome = pool.run(
        "exec",
        code(
            """
            def helper(x):
                return 1 / x

            value = helper(0)
            """
        ),
        LIMITS,
    )
    assert outcome.status == "ok"
    error = outcome.facts["error"]
    assert error["type"] == "ZeroDivisionError"
    assert [frame["line"] for frame in error["traceback"]] == [5, 3]
    assert [frame["function"] for frame in error["traceback"]] == ["<module>", "helper"]


def test_a_syntax_error_is_a_fact_with_its_line(pool):
    outcome = pool.run("exec", code("x = 1\ndef broken(:\n    pass\n"), LIMITS)
    assert outcome.status == "ok"
    assert outcome.facts["error"]["type"] == "SyntaxError"
    assert outcome.facts["error"]["line"] == 2


def test_workers_are_reused(pool):
    pool.wait_warm(180)
    before = pool.worker_pids()
    seen = set()
    for i in range(12):
        outcome = pool.run("exec", code(f"RESULT = {i} * 2"), LIMITS)
        assert outcome.status == "ok" and outcome.facts["result"] == i * 2
        seen.add(outcome.worker)
    assert pool.worker_pids() == before
    for pid in before.values():
        assert leftovers(pid) == []  # was: no descendants at all; now each worker keeps its prepared chain


def test_jobs_run_in_parallel_on_both_workers(pool):
    pool.wait_warm(180)
    job = code("import time\ntime.sleep(0.6)\nRESULT = 'done'")
    results = []
    started = time.monotonic()

    def one() -> None:
        results.append(pool.run("exec", job, LIMITS))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert [o.status for o in results] == ["ok"] * 4
    assert {o.worker for o in results} == {0, 1}
    assert elapsed < 4 * 0.6  # serially it would take at least 2.4 s


def test_submit_returns_a_future(pool):
    futures = [pool.submit("exec", code(f"RESULT = {i}"), LIMITS) for i in range(3)]
    done = [f.result(timeout=120) for f in futures]
    assert [o.facts["result"] for o in done] == [0, 1, 2]
    assert isinstance(futures[0], concurrent.futures.Future)


def test_a_worker_killed_from_outside_is_replaced(pool):
    assert pool.wait_warm(180)
    before = pool.worker_pids()
    os.kill(before[0], signal.SIGKILL)
    for i in range(4):
        outcome = pool.run("exec", code(f"RESULT = {i}"), LIMITS)
        assert outcome.status == "ok", outcome.detail
        assert outcome.facts["result"] == i
    assert pool.wait_warm(180)
    after = pool.worker_pids()
    assert after[0] != before[0]
    assert after[1] == before[1]


def test_an_unknown_task_is_an_internal_error(pool):
    outcome = pool.run("no-such-task", {"x": 1}, LIMITS)
    assert outcome.status == "internal_error"
    assert "unknown task" in outcome.detail
    assert pool.run("exec", code("RESULT = 1"), LIMITS).status == "ok"


def test_the_judge_can_be_closed_twice_and_then_refuses_jobs():
    pool = Pool(size=1)
    pool.close()
    pool.close()
    outcome = pool.run("exec", code("RESULT = 1"), LIMITS)
    assert outcome.status == "internal_error"


def test_reduced_mode_can_be_forced_and_says_so(monkeypatch):
    monkeypatch.setenv("QUIZAPP_JAIL", "reduced")
    with Pool(size=1) as reduced:
        assert reduced.jail_mode == "reduced"
        outcome = reduced.run("exec", code("import os\nRESULT = sorted(os.environ)\nprint('hi')"), LIMITS)
        assert outcome.status == "ok", outcome.detail
        assert outcome.jail_mode == "reduced"
        assert outcome.stdout == "hi\n"
        assert "QUIZAPP_JAIL" not in outcome.facts["result"]
        looping = reduced.run("exec", code("while True:\n    pass"), Limits(cpu_seconds=1, wall_seconds=5))
        assert looping.status == "time_limit"
        assert looping.jail_mode == "reduced"
        assert reduced.run("exec", code("RESULT = 2"), LIMITS).facts == {"ok": True, "result": 2}
        for pid in reduced.worker_pids().values():
            assert leftovers(pid) == []  # was: no descendants at all; now each worker keeps its prepared chain


# --- pre-forking (server.py): each idle worker keeps the next job's chain ready ---------------------------

prefork = pytest.mark.skipif(os.environ.get("QUIZAPP_PREFORK") == "0", reason="pre-forking is off")


@prefork
def test_jobs_run_on_prepared_chains(pool):
    pool.wait_warm(180)
    for pid in pool.worker_pids().values():
        assert leftovers(pid) == []
    outcomes = [pool.run("exec", code(f"RESULT = {i}"), LIMITS) for i in range(4)]
    assert [o.facts["result"] for o in outcomes] == [0, 1, 2, 3]
    assert {o.extra.get("chain") for o in outcomes} == {"prepared"}


@prefork
def test_a_prepared_chain_that_dies_while_idle_is_replaced(pool):
    pool.wait_warm(180)
    before = pool.worker_pids()
    # A worker forks its next chain a moment after its last outcome (server.PREPARE_AFTER_S): wait for them.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(prepared_chain(pid) for pid in before.values()):
        time.sleep(0.05)
    for pid in before.values():
        assert leftovers(pid) == []
    victims = [chain[-1] for pid in before.values() if (chain := prepared_chain(pid))]
    assert victims, "no worker keeps a prepared chain"
    for victim in victims:
        os.kill(victim, signal.SIGKILL)
    for i in range(4):
        outcome = pool.run("exec", code(f"RESULT = {i}"), LIMITS)
        assert outcome.status == "ok", outcome.detail
        assert outcome.facts["result"] == i
    assert pool.worker_pids() == before
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(prepared_chain(pid) for pid in before.values()):
        time.sleep(0.05)
    chains = [prepared_chain(pid) for pid in before.values()]
    assert all(chains), "a worker did not prepare a new chain"
    assert not set(victims) & {chain[-1] for chain in chains}


def test_the_learner_gets_its_whole_cpu_allowance_after_the_warm_up(pool):
    # A prepared J has used CPU time warming up; RLIMIT_CPU counts from there, and the report leaves it out.
    burn = code(
        """
        import time
        started = time.process_time()
        while time.process_time() - started < 0.8:
            pass
        RESULT = "done"
        """
    )
    limits = LIMITS.model_copy(update={"cpu_seconds": 1})
    outcome = pool.run("exec", burn, limits)
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"] == "done"
    assert 750 < outcome.cpu_ms < 1000


@prefork
def test_limits_a_prepared_chain_cannot_honour_take_a_chain_forked_for_the_job(pool):
    # Another scratch size than the prepared chain's: that job runs cold; the worker then prepares its next
    # chain at that size, so the same limits soon run warm again, with the scratch size they ask for.
    small = LIMITS.model_copy(update={"file_size_kb": 8})
    fill = code(
        """
        import errno
        written = 0
        try:
            for i in range(64):
                with open(f"part{i}", "wb") as f:
                    f.write(b"y" * 7000)
                written += 1
        except OSError as exc:
            RESULT = [errno.errorcode[exc.errno], written]
        else:
            RESULT = ["no error", written]
        """
    )
    outcomes = [pool.run("exec", fill, small) for _ in range(5)]
    if outcomes[0].jail_mode == "full":  # the reduced jail has no scratch tmpfs: any chain fits any job
        assert outcomes[0].extra.get("chain") == "cold"
    assert "prepared" in [o.extra.get("chain") for o in outcomes[1:]]
    assert [o.status for o in outcomes] == ["ok"] * 5
    if outcomes[0].jail_mode == "full":  # a 64 KB scratch tmpfs (the smallest), cold or prepared alike
        assert {tuple(o.facts["result"]) for o in outcomes} == {("ENOSPC", 8)}
    assert pool.run("exec", code("RESULT = 1"), LIMITS).facts["result"] == 1


def test_the_judge_and_the_pack_schema_share_one_set_of_default_limits():
    from dataclasses import asdict

    from quizapp.judge.limits import JobLimits

    assert asdict(JobLimits()) == Limits().model_dump()
    assert JobLimits.of(Limits(cpu_seconds=2, memory_mb=300)) == JobLimits(cpu_seconds=2.0, memory_mb=300)
    assert JobLimits.of(None) == JobLimits()


def test_code_version_covers_every_worker_side_module():
    from pathlib import Path

    from quizapp.judge import version

    folder = Path(version.__file__).parent
    host_only = {"__init__.py", "pool.py", "bench.py", "version.py"}
    assert {p.name for p in folder.glob("*.py")} - host_only == set(version.WORKER_MODULES)


def test_a_pool_without_prefork_runs_every_job_cold() -> None:
    """What grade-batch uses: back-to-back jobs gain nothing from a warmed chain, so none is prepared."""
    with Pool(size=1, prefork=False) as cold:
        assert cold.wait_warm(180)
        outcomes = [cold.run("exec", code("RESULT = 6 * 7"), LIMITS) for _ in range(3)]
    assert [o.facts["result"] for o in outcomes] == [42, 42, 42]
    assert {o.extra.get("chain") for o in outcomes} == {"cold"}


def test_a_failure_while_serving_a_job_is_that_jobs_outcome_and_the_loop_goes_on(monkeypatch):
    """Whatever raises while the server runs a job (here: a bug of ours, simulated) becomes that job's
    internal_error outcome; serve_job returns normally, so the serve loop takes the next job."""
    from quizapp.judge import protocol
    from quizapp.judge.server import Server

    server = Server(0, [])
    server.prefork = False
    server.tasks = {"exec": lambda payload: ({}, {})}
    read_end, server.proto_out = os.pipe()

    def broken(header, payload):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(server, "run_job", broken)
    try:
        server.serve_job({"op": "job", "id": 7, "task": "exec", "limits": {}}, 0)
        server.serve_job({"op": "job", "id": 8, "task": "nope", "limits": {}}, 0)
        data = os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
        os.close(server.proto_out)
    outcomes = []
    while data:
        head_len, blob_len = protocol.parse_prefix(data[: protocol.PREFIX.size], 1 << 20)
        end = protocol.PREFIX.size + head_len + blob_len
        outcomes.append(protocol.parse_header(data[protocol.PREFIX.size : protocol.PREFIX.size + head_len]))
        data = data[end:]
    assert [(o["id"], o["status"]) for o in outcomes] == [(7, "internal_error"), (8, "internal_error")]
    assert outcomes[0]["detail"] == "the judge failed: OverflowError"
    assert "unknown task" in outcomes[1]["detail"]


# --- a probe job split across two workers (quizapp/judge/split.py) ---------------------------------------------


def _resnet_payload(code_text: str | None = None) -> tuple[dict, Limits]:
    from quizapp.grading.grader import probe_payload
    from quizapp.judge.bench import resnet_question

    pack, question = resnet_question()
    return probe_payload(question, code_text or question.solution, question.checks), pack.limits_for(question)


RANDOM_ANSWER_TAIL = """

import torch

NOISE = torch.randn(3)  # drawn when the answer is defined: from the job's seed
print("defined", NOISE)
_forward = ResidualBlock.forward
ResidualBlock.forward = lambda self, x: torch.nn.functional.dropout(_forward(self, x) + NOISE.sum(), 0.5, self.training)
"""


def _wait_until_both_idle(pool, timeout: float = 30.0) -> None:
    """Until both workers are free and have been for twice the idle time a split asks for."""
    from quizapp.judge.pool import SPLIT_AFTER_IDLE_S

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with pool._lock:
            free = list(pool._free)
        now = time.monotonic()
        if len(free) == 2 and all(w.alive and w.info and now - w.idle_since >= 2 * SPLIT_AFTER_IDLE_S for w in free):
            return
        time.sleep(0.05)
    raise AssertionError("the pool's two workers did not become idle")


def test_a_probe_job_split_across_two_workers_reports_what_the_whole_job_reports():
    """Splitting is scheduling, never a verdict: the same facts and the same tensors, byte for byte, for the
    reference and for an answer that draws random numbers both when it is defined and in every forward (so
    each check's generators must be seeded from the check alone), and the answer's printout once. A pool of
    its own: the module's pool has had workers killed and replaced by the tests before it."""
    from quizapp.grading.facts import TensorStore
    from quizapp.judge.bench import resnet_question

    with Pool(size=2) as pool:
        assert pool.wait_warm(180), "the judge's workers did not start"
        _split_and_whole(pool, resnet_question()[1], TensorStore)


def _split_and_whole(pool, question, TensorStore) -> None:  # noqa: N803 - the class, imported by the test

    for answer in (question.solution, question.solution + RANDOM_ANSWER_TAIL):
        payload, limits = _resnet_payload(answer)
        seen = {}
        for split in (False, True):
            pool.split_jobs = split
            try:
                _wait_until_both_idle(pool)  # long enough for a split (a loaded machine takes longer)
                outcome = pool.run("probe", payload, limits)
            finally:
                pool.split_jobs = True
            assert outcome.status == "ok", outcome.detail
            assert ("parts" in outcome.extra) is split
            tensors = TensorStore(outcome.tensors)
            seen[split] = (outcome.facts, {name: tensors[name].raw for name in tensors}, outcome.stdout)
        assert seen[True][0] == seen[False][0]
        assert seen[True][1] == seen[False][1] and len(seen[True][1]) > 50
        assert seen[True][2] == seen[False][2]
    assert seen[True][2].count("defined tensor(") == 1


def test_a_probe_job_is_run_whole_when_no_other_worker_is_idle(pool):
    payload, limits = _resnet_payload()
    busy = pool.submit("exec", code("import time\ntime.sleep(1.5)"), LIMITS)  # one worker taken
    time.sleep(0.3)
    outcome = pool.run("probe", payload, limits)
    assert outcome.status == "ok", outcome.detail
    assert "parts" not in outcome.extra
    assert not busy.done()  # it ran while the other worker was busy
    assert busy.result().status == "ok"


def test_a_job_is_cut_between_checks_where_the_work_is_even():
    from quizapp.judge import protocol, split

    payload, _ = _resnet_payload()
    parts = split.split_job(payload)
    assert parts is not None
    assert [spec["id"] for spec in parts[0]["checks"]] == ["outputs"]  # about two thirds of the job's work
    assert [spec["id"] for spec in parts[1]["checks"]] == [
        "skip-connection",
        "identity-layers",
        "projection-layers",
        "gradients",
    ]
    assert parts[0]["job_seed"] == parts[1]["job_seed"] == protocol.job_seed(payload)
    assert "part" not in parts[0] and parts[1]["part"] == 1  # a later part defines the answer without printing
    assert split.split_job({**payload, "checks": payload["checks"][:1]}) is None
    tiny = {"id": "s", "kind": "structure", "cases": [{"args": [1]}]}
    assert split.split_job({**payload, "checks": [payload["checks"][0], tiny]}) is None  # not worth a chain


def _part(**fields):
    from quizapp.judge.protocol import JobOutcome

    base = {"status": "ok", "facts": {"definition": {"ok": True}, "checks": {}}, "cpu_ms": 10.0, "wall_ms": 12.0}
    return JobOutcome(**{**base, **fields})


def _tensors(**arrays):
    import struct

    header, data = {}, b""
    for name, values in arrays.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    head = json_bytes(header)
    return struct.pack("<Q", len(head)) + head + data


def json_bytes(value) -> bytes:
    import json

    return json.dumps(value).encode()


def test_merged_parts_hold_both_parts_facts_tensors_and_printouts():
    from quizapp.grading.facts import TensorStore
    from quizapp.judge.limits import JobLimits
    from quizapp.judge.split import merge_outcomes

    first = _part(
        facts={"definition": {"ok": True}, "checks": {"a": {"x": 1}}}, tensors=_tensors(t=[1, 2]), stdout="1\n"
    )
    second = _part(facts={"definition": {"ok": True}, "checks": {"b": {"y": 2}}}, tensors=_tensors(u=[3]), stdout="2\n")
    merged = merge_outcomes([first, second], JobLimits())
    assert merged.status == "ok"
    assert merged.facts == {"definition": {"ok": True}, "checks": {"a": {"x": 1}, "b": {"y": 2}}}
    store = TensorStore(merged.tensors)
    assert (
        store["t"].raw == TensorStore(first.tensors)["t"].raw and store["u"].raw == TensorStore(second.tensors)["u"].raw
    )
    assert merged.stdout == "1\n2\n"
    assert merged.cpu_ms == 20.0 and merged.wall_ms == 12.0


def test_merged_parts_report_every_forbidden_call_either_part_saw():
    from quizapp.judge.limits import JobLimits
    from quizapp.judge.split import merge_outcomes

    def part(called, check):  # type: ignore[no-untyped-def]
        facts = {"definition": {"ok": True}, "checks": {check: {}}}
        if called is not ...:
            facts["called"] = called
        return _part(facts=facts)

    merged = merge_outcomes([part([], "a"), part(["nn.Sequential"], "b")], JobLimits())
    assert merged.facts["called"] == ["nn.Sequential"]  # the second part's call counts for the job
    missing = merge_outcomes([part(["x"], "a"), part(..., "b")], JobLimits())
    assert missing.facts["called"] is None  # a part without its record: refused by the grader
    unwatched = merge_outcomes([part(..., "a"), part(..., "b")], JobLimits())
    assert "called" not in unwatched.facts


@pytest.mark.parametrize(
    ("first", "second", "status", "detail"),
    [
        ({"status": "time_limit", "detail": "t"}, {}, "time_limit", "t"),  # the first part that did not end well
        ({}, {"status": "runtime_error", "detail": "r"}, "runtime_error", "r"),
        ({"cpu_ms": 3000.0}, {"cpu_ms": 2500.0}, "time_limit", "used more than 5 s of CPU time"),  # together
        ({"wall_ms": 6000.0}, {"wall_ms": 5000.0}, "time_limit", "used more than 10.0 s of wall time"),
        ({"stdout": "x" * 40_000}, {"stdout": "y" * 30_000}, "output_limit", "printed more than 64 KB"),
    ],
)
def test_a_split_job_is_held_to_the_whole_jobs_limits(first, second, status, detail):
    from quizapp.judge.limits import JobLimits
    from quizapp.judge.split import merge_outcomes

    failed = {**first, "facts": None} if "status" in first else first
    merged = merge_outcomes([_part(**failed), _part(**second)], JobLimits())
    assert (merged.status, merged.detail) == (status, detail)
    assert merged.facts is None or merged.status == "runtime_error"  # nothing over a limit is judged


def test_parts_that_cannot_be_put_together_are_refused_by_the_grader_as_forged_facts_are():
    from quizapp.grading.facts import FactsRefused, TensorStore
    from quizapp.judge.limits import JobLimits
    from quizapp.judge.split import merge_outcomes

    same = {"definition": {"ok": True}, "checks": {"a": {"x": 1}}}
    merged = merge_outcomes([_part(facts=same), _part(facts=same)], JobLimits())
    assert set(merged.facts["checks"]) == {"a", "a (reported by two parts of the job)"}  # not asked: refused
    broken = merge_outcomes([_part(tensors=_tensors(t=[1])), _part(tensors=b"\x10\0\0\0\0\0\0\0{")], JobLimits())
    with pytest.raises(FactsRefused):
        TensorStore(broken.tensors)
    twice = merge_outcomes([_part(tensors=_tensors(t=[1])), _part(tensors=_tensors(t=[2]))], JobLimits())
    with pytest.raises(FactsRefused):
        TensorStore(twice.tensors)
    undefined = {"definition": {"ok": False, "syntax": {"line": 1}}}
    kept = merge_outcomes([_part(facts=undefined, stdout="a"), _part(facts=undefined)], JobLimits())
    assert kept.facts == undefined and kept.status == "ok"


def test_terminate_kills_workers_still_warming_up_at_once():
    """The app's quit ends its process without exit handlers: its workers, asked politely, would read the
    request only once warm, and go on importing torch on both cores for seconds after the app has gone.
    terminate() kills them (their whole process groups) at once, and the pool refuses work after it."""
    pool = Pool(size=2)
    deadline = time.monotonic() + 60
    while len(pool._workers) < 2 and time.monotonic() < deadline:  # started, not warm yet
        time.sleep(0.01)
    workers = list(pool._workers.values())
    assert len(workers) == 2 and not pool._warm.is_set()
    pool.terminate()
    for worker in workers:
        assert worker.process.wait(timeout=30) == -signal.SIGKILL  # killed, not an exit of its own once warm
    assert pool.run("exec", code("RESULT = 1"), LIMITS).status != "ok"
    pool.close()  # nothing more to do: idempotent


def test_services_close_without_waiting_terminates_the_judge(tmp_path, monkeypatch):
    from quizapp.services import Services

    monkeypatch.setenv("QUIZAPP_HOME", str(tmp_path))
    services = Services.default(lazy=True)
    services.start_judge()
    deadline = time.monotonic() + 60
    while services._pool is None and time.monotonic() < deadline:
        time.sleep(0.01)
    pool = services._pool
    assert pool is not None, services.pool_error
    while not pool._workers and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = list(pool._workers.values())
    services.close(wait=0)
    assert workers and all(worker.process.wait(timeout=30) == -signal.SIGKILL for worker in workers)
