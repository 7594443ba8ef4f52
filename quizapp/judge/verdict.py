"""From what the server saw of one job to that job's outcome: one pure function, `decide`.

The watch loop (watch.py) records what happened (how the job's processes ended, what the jail's init
reported, whether a limit was crossed, the bytes on the result channel) in a `JobRecord`; `decide` turns it
into the outcome's status and detail. No I/O, no clock: tests/test_judge_verdict.py drives it with a table.

Rules of blame: `internal_error` only for our faults seen from outside the job (the jail's init reported that
it could not start the job, or ended without reporting); never from the job's own result frame, which the
answer can write (a frame that says our task failed is the answer's runtime_error, naming what failed);
`time_limit` from the CPU time init measured (a SIGXCPU the answer sent itself is a crash); `memory_limit`
when the child measured that an allocation really failed (see jail.allocation_failed), never from text the
learner printed; anything wrong with the result channel (a forged or malformed frame, NaN or Infinity where
a length goes) is the learner's runtime_error. Nothing here raises on job data.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from .limits import JobLimits
from .procs import signal_name

CPU_SLACK_MS = 50  # the kernel counts CPU time in ticks: a process stopped at its limit can show a little less
SIGXCPU_SHARE = 0.5  # a SIGXCPU is the CPU limit's when at least this share of the limit was used (see decide)


@dataclass(frozen=True)
class Exit:
    """How a process ended, as wait4 told: the raw wait status, CPU seconds and peak RSS."""

    status: int
    cpu_s: float = 0.0
    max_rss_kb: int = 0


@dataclass
class JobRecord:
    mode: str  # "full" or "reduced"
    limits: JobLimits
    nonce: str
    events: list[dict[str, Any]] = field(default_factory=list)  # the chain's status events (C, I, J)
    reaped: Exit | None = None  # the server's own child (C in full mode, J in reduced mode), if reaped
    killed_for: str = ""  # "wall", "output", "result" or ""
    output_exceeded: bool = False
    result_exceeded: bool = False
    prepared: bool = False  # the job ran on a prepared chain
    result: bytes | memoryview = b""  # the result channel, as read


@dataclass
class Decision:
    status: str
    detail: str = ""
    cpu_ms: float = 0.0
    max_rss_kb: int = 0
    exit_code: int | None = None
    signal: int | None = None
    facts: memoryview | None = None  # slices of record.result, when the job's facts are to be forwarded
    tensors: memoryview | None = None
    retry: bool = False  # a prepared chain lost before its job: nothing of the learner's ran


def decide(record: JobRecord) -> Decision:
    limits = record.limits
    by_kind = {e.get("ev"): e for e in record.events}
    exit_event = by_kind.get("exit")
    start_event = by_kind.get("start")
    if record.prepared and start_event is None:
        return Decision("internal_error", "the prepared chain ended before taking its job", retry=True)
    cpu_before_ms = _number(start_event.get("cpu")) * 1000 if start_event else 0.0  # a prepared J's warm-up
    job_status: int | None = None
    cpu_ms = 0.0
    max_rss_kb = 0
    if record.mode == "full":
        if exit_event is not None:
            job_status = int(_number(exit_event.get("status")))
            cpu_ms = (_number(exit_event.get("utime")) + _number(exit_event.get("stime"))) * 1000
            max_rss_kb = int(_number(exit_event.get("maxrss")))
        elif record.reaped is not None:
            cpu_ms, max_rss_kb = record.reaped.cpu_s * 1000, record.reaped.max_rss_kb
    elif record.reaped is not None:
        job_status = record.reaped.status
        cpu_ms, max_rss_kb = record.reaped.cpu_s * 1000, record.reaped.max_rss_kb
    exit_code = signal_number = None
    if job_status is not None:
        if os.WIFSIGNALED(job_status):
            signal_number = os.WTERMSIG(job_status)
        elif os.WIFEXITED(job_status):
            exit_code = os.WEXITSTATUS(job_status)
    cpu_ms = max(0.0, cpu_ms - cpu_before_ms)
    measured = {"cpu_ms": round(cpu_ms, 3), "max_rss_kb": max_rss_kb, "exit_code": exit_code, "signal": signal_number}

    def done(status: str, detail: str = "", **extra: Any) -> Decision:
        return Decision(status, detail, **measured, **extra)

    error = by_kind.get("error")
    if error is not None:
        return done("internal_error", f"the jail could not start the job: {error.get('message')}")
    if record.killed_for == "wall":
        return done("time_limit", f"killed after {limits.wall_seconds:.1f} s of wall time")
    if record.output_exceeded:
        return done("output_limit", f"printed more than {limits.output_kb} KB")
    if record.result_exceeded:
        return done("output_limit", f"sent back more than {protocol.MAX_RESULT_BYTES >> 20} MB of results")
    cpu_detail = f"used more than {limits.cpu_seconds:g} s of CPU time"
    if cpu_ms > limits.cpu_seconds * 1000:
        return done("time_limit", cpu_detail)
    # SIGXCPU is the kernel's when RLIMIT_CPU runs out, or the answer's own os.kill: only the CPU time
    # measured from outside (init's wait4) tells them apart. Not to the millisecond: the kernel checks the limit
    # against its tick-sampled CPU time, which wait4's (adjusted to the scheduler's runtime) can trail on a
    # loaded VM (an infinite loop measured under 950 ms of its 1 s in one CI run); half the limit is work the
    # answer really did, where a SIGXCPU it sends itself comes at once.
    if signal_number == signal.SIGXCPU and cpu_ms >= limits.cpu_seconds * 1000 * SIGXCPU_SHARE:
        return done("time_limit", cpu_detail)
    if signal_number == signal.SIGKILL and cpu_ms >= max(1, int(limits.cpu_seconds + 0.999)) * 1000 - CPU_SLACK_MS:
        return done("time_limit", cpu_detail)
    if record.mode == "full" and exit_event is None and job_status is None:
        return done("internal_error", "the job's init process ended without reporting")
    if not len(record.result):
        if signal_number is None and exit_code is None:
            return done("internal_error", "the job ended in a way the judge could not tell")
        return done("runtime_error", ended(exit_code, signal_number))
    # The result channel: exactly one frame, with this job's nonce, in the envelope's fixed format.
    envelope = protocol.parse_envelope(record.result, record.nonce)
    if envelope is None:
        return done("runtime_error", "the judge's result channel was written to")
    if envelope.status == "memory":
        return done("memory_limit", f"used more than {limits.memory_mb} MB")
    if envelope.facts_len > protocol.MAX_FACTS_BYTES:
        return done("output_limit", f"sent back more than {protocol.MAX_FACTS_BYTES >> 20} MB of facts")
    facts = envelope.blob[: envelope.facts_len]
    tensors = envelope.blob[envelope.facts_len :]
    # The envelope's status is J's own word, and J runs the answer: whatever J can write, the answer can write
    # too (it can reach the nonce and fd 3, or break the judge's modules so that our code fails). A report that
    # blames the judge therefore counts as the answer's runtime_error; it says what failed, so a real bug of
    # ours is still named (and the reference's run failing this way is the host's internal_error).
    if envelope.status == "setup_error":
        return done("runtime_error", "the job reported that its set-up in the jail failed", facts=facts)
    if envelope.status == "task_error":
        return done(
            "runtime_error",
            "the judge's probe code failed in the job, with no frame of the answer's in its traceback (an answer "
            "that changes the judge's own modules gets this; if yours does not, it is a bug of the judge's)",
            facts=facts,
        )
    if envelope.status == "learner_error":
        return done("runtime_error", "the answer's code raised an exception while the judge probed it", facts=facts)
    if signal_number is not None or exit_code not in (0, None):
        return done("runtime_error", ended(exit_code, signal_number))
    return done("ok", facts=facts, tensors=tensors)


def ended(exit_code: int | None, signal_number: int | None) -> str:
    if signal_number is not None:
        if signal_number == signal.SIGKILL:
            return "was killed (SIGKILL)"
        return f"crashed with {signal_name(signal_number)}"
    if exit_code == 0:  # sys.exit(0), os._exit(0), or a process that stopped itself as a finished job does
        return "the program ended (it exited, or stopped itself) before the judge could probe it"
    return f"the program exited with status {exit_code} before the judge could probe it"


def _number(value: Any) -> float:
    """A figure from our own status events (never the learner's), defensively: a non-number counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        return 0.0
    return float(value)
