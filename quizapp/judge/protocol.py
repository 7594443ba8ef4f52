"""The judge's wire format and the outcome of one job. Plain Python: imported by the host (no torch).

Frames
------
Every message, on every channel (host <-> server, jailed child -> server), is one frame::

    b"QZF1" | header length (u32, big endian) | blob length (u64, big endian) | header (UTF-8 JSON) | blob

The header is a small JSON object; the blob is opaque bytes (a job's payload, a child's facts and tensors,
an outcome's stdout/stderr/facts/tensors). Sizes are checked before anything is allocated, so a hostile or
broken peer cannot make a reader allocate more than it allowed.

Nothing on any channel is ever unpickled: facts are JSON and tensors are a safetensors blob, which the
grader reads itself (quizapp/grading/facts.py and tensors.py: no torch or numpy on the host).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Each safetensors dtype a job may send, and torch's name for it: the child writes tensors by these codes and
# the host reads them back by them (quizapp.grading.facts).
SAFETENSORS_TORCH_NAMES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "I16": "int16",
    "U16": "uint16",
    "I32": "int32",
    "U32": "uint32",
    "I64": "int64",
    "U64": "uint64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "C64": "complex64",
    "C128": "complex128",
}

MAGIC = b"QZF1"
PREFIX = struct.Struct(">4sIQ")
MAX_HEADER_BYTES = 1 << 20
# Facts plus tensors a job may send back. Over this, the job's outcome is output_limit.
MAX_RESULT_BYTES = 64 << 20
# The facts (JSON) within that: the host parses them, so their own, smaller cap. The largest facts of the
# built-in packs are a few hundred KB (a trace of every op of forward, per input).
MAX_FACTS_BYTES = 4 << 20
# A job's payload (the learner's code, the probes): generous, but bounded.
MAX_PAYLOAD_BYTES = 16 << 20

Status = Literal["ok", "runtime_error", "time_limit", "memory_limit", "output_limit", "internal_error"]
STATUSES: tuple[str, ...] = ("ok", "runtime_error", "time_limit", "memory_limit", "output_limit", "internal_error")


def job_seed(job: dict[str, Any]) -> int:
    """The seed of a job's random generators: a number derived from the job's question side (everything but
    the learner's code), so a verdict is a function of the answer and the pack, and an answer and the
    reference draw alike. A part of a job split across workers (pool.py) carries its whole job's seed as
    `job_seed`, so its answer is defined exactly as in the whole job."""
    given = job.get("job_seed")
    if type(given) is int and given >= 0:
        return given
    question_side = {key: value for key, value in job.items() if key != "code"}
    text = json.dumps(question_side, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


class ProtocolError(Exception):
    """A frame was malformed, too large, or the stream ended in the middle of one."""


def encode_frame(header: dict[str, Any], blob: bytes | bytearray | memoryview = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(head) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(head)} bytes is too large")
    return PREFIX.pack(MAGIC, len(head), len(blob)) + head + bytes(blob)


def frame_prefix(header: dict[str, Any], blob_len: int) -> bytes:
    """The prefix and header of a frame whose blob (of blob_len bytes) the caller writes itself."""
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(head) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(head)} bytes is too large")
    return PREFIX.pack(MAGIC, len(head), blob_len) + head


def parse_prefix(prefix: bytes, max_blob: int) -> tuple[int, int]:
    """(header length, blob length) from a frame's first PREFIX.size bytes, checked against the limits."""
    if len(prefix) != PREFIX.size:
        raise ProtocolError("truncated frame prefix")
    magic, head_len, blob_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError("bad frame magic")
    if head_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {head_len} bytes is too large")
    if blob_len > max_blob:
        raise ProtocolError(f"blob of {blob_len} bytes is too large")
    return head_len, blob_len


def parse_header(data: bytes | memoryview) -> dict[str, Any]:
    try:
        header = json.loads(bytes(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header


def decode_single_frame(data: bytes | memoryview, max_blob: int) -> tuple[dict[str, Any], memoryview]:
    """The one frame that `data` must consist of exactly: anything before, after or malformed is an error."""
    view = memoryview(data)
    if len(view) < PREFIX.size:
        raise ProtocolError("truncated frame")
    head_len, blob_len = parse_prefix(bytes(view[: PREFIX.size]), max_blob)
    end = PREFIX.size + head_len + blob_len
    if len(view) != end:
        raise ProtocolError("channel holds more or less than one frame")
    header = parse_header(view[PREFIX.size : PREFIX.size + head_len])
    return header, view[PREFIX.size + head_len : end]


# --- the result channel: one frame from the jailed child, in a fixed format ---------------------------------
#
# The child's frame header (the envelope) is not free JSON: it is exactly the text `encode_result` writes,
# checked by one regular expression on the server's buffer. So nothing but a hex nonce, a known status and
# two decimal lengths is ever copied out of it (the server's heap never holds the learner's bytes, see
# server.py), and NaN, Infinity, negative or fractional lengths, extra keys or a huge header are all simply
# "not this job's frame".

RESULT_STATUSES = ("returned", "memory", "task_error", "learner_error", "setup_error")
MAX_ENVELOPE_BYTES = 160
_ENVELOPE = re.compile(
    rb'\{"nonce":"([0-9a-f]{32})","status":"(' + "|".join(RESULT_STATUSES).encode() + rb')",'
    rb'"facts_len":(0|[1-9][0-9]{0,11}),"tensors_len":(0|[1-9][0-9]{0,11})\}'
)


@dataclass(frozen=True)
class Envelope:
    status: str
    facts_len: int
    tensors_len: int
    blob: memoryview  # facts then tensors


def encode_result(nonce: str, status: str, facts: bytes = b"", tensors: bytes = b"") -> bytes:
    """The child's one frame on the result channel."""
    head = (f'{{"nonce":"{nonce}","status":"{status}","facts_len":{len(facts)},"tensors_len":{len(tensors)}}}').encode()
    return PREFIX.pack(MAGIC, len(head), len(facts) + len(tensors)) + head + facts + tensors


def parse_envelope(data: bytes | memoryview, nonce: str) -> Envelope | None:
    """The result channel's frame, if it is exactly one well-formed frame of this job (its nonce); else None."""
    view = memoryview(data)
    if len(view) < PREFIX.size:
        return None
    magic, head_len, blob_len = PREFIX.unpack(view[: PREFIX.size])
    if magic != MAGIC or head_len > MAX_ENVELOPE_BYTES or PREFIX.size + head_len + blob_len != len(view):
        return None
    match = _ENVELOPE.fullmatch(view[PREFIX.size : PREFIX.size + head_len])
    if match is None or match.group(1) != nonce.encode():
        return None
    facts_len, tensors_len = int(match.group(3)), int(match.group(4))
    if facts_len + tensors_len != blob_len:
        return None
    return Envelope(match.group(2).decode(), facts_len, tensors_len, view[PREFIX.size + head_len :])


# --- what jobs and tasks share -------------------------------------------------------------------------

OOM_MARKERS = (
    "can't allocate memory",
    "cannot allocate memory",
    "not enough memory",
    "out of memory",
    "std::bad_alloc",
    "bad_alloc",
)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception means the job ran out of its memory allowance: it looks like an allocation
    failure (MemoryError, or torch's allocator failures, which arrive as RuntimeError "DefaultCPUAllocator:
    can't allocate memory: ...") AND the job measurably hit its limit (jail.allocation_failed: an allocation
    was refused by the kernel, or the address space peaked at the limit). A MemoryError the learner raised,
    or a message saying "out of memory", on a small input is an ordinary exception of theirs.

    Task code (probes) that catches the learner's exceptions should re-raise these, so the job's outcome is
    memory_limit rather than a fact about the answer.
    """
    if isinstance(exc, MemoryError):
        looks = True
    elif isinstance(exc, RuntimeError):
        try:
            text = str(exc).lower()
        except BaseException:  # a learner's exception whose __str__ raises (anything)
            return False
        looks = any(marker in text for marker in OOM_MARKERS)
    else:
        looks = False
    if not looks:
        return False
    from .jail import allocation_failed

    return allocation_failed()


# --- the outcome of one job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one job. `facts` and `tensors` are the task's, only when status is 'ok'.

    status:
      ok              the task returned its facts (which may describe an error in the learner's code)
      runtime_error   the program crashed, exited before the judge could probe it, or wrote to the judge's
                      result channel
      time_limit      over its CPU time (SIGXCPU or measured) or its wall-clock time
      memory_limit    an allocation failed under its memory allowance
      output_limit    printed more than output_kb, or sent back more than MAX_RESULT_BYTES of results
      internal_error  the judge's fault (a worker died, a protocol error): never the learner's
    """

    status: Status
    facts: dict[str, Any] | None = None
    tensors: bytes = b""
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    max_rss_kb: int = 0
    exit_code: int | None = None
    signal: int | None = None
    jail_mode: str = "unknown"
    detail: str = ""
    worker: int = -1
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> dict[str, Any]:
        """Everything but the blobs, for logs and JSON output."""
        data = asdict(self)
        data.pop("tensors")
        data["tensors_bytes"] = len(self.tensors)
        return data


def internal_error(detail: str, *, worker: int = -1, jail_mode: str = "unknown", **extra: Any) -> JobOutcome:
    return JobOutcome(status="internal_error", detail=detail, worker=worker, jail_mode=jail_mode, extra=extra)


# Fields of an outcome frame's header that map one to one onto JobOutcome.
OUTCOME_FIELDS = (
    "status",
    "stdout_truncated",
    "wall_ms",
    "cpu_ms",
    "max_rss_kb",
    "exit_code",
    "signal",
    "jail_mode",
    "detail",
    "worker",
)


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: the child writes non-finite numbers as strings, so these are forged."""
    raise ValueError(f"{name} is not allowed in facts")


def outcome_from_frame(header: dict[str, Any], blob: bytes | memoryview) -> JobOutcome:
    """Build the JobOutcome from a server's outcome frame.

    The blob is stdout | stderr | facts JSON | safetensors, with the lengths in the header. The server never
    parses the facts (so they never sit in its memory, which later jobs share); the host does, here, and a
    result that is not a JSON object is the job's doing: runtime_error.
    """
    view = memoryview(blob)
    lengths = [int(header.get(key, 0)) for key in ("stdout_len", "stderr_len", "facts_len", "tensors_len")]
    if any(n < 0 for n in lengths) or sum(lengths) != len(view):
        raise ProtocolError("outcome blob does not match its lengths")
    parts = []
    offset = 0
    for n in lengths:
        parts.append(view[offset : offset + n])
        offset += n
    stdout, stderr, facts_bytes, tensors = parts
    values = {key: header[key] for key in OUTCOME_FIELDS if key in header}
    if values.get("status") not in STATUSES:
        raise ProtocolError(f"unknown status {values.get('status')!r}")
    facts: dict[str, Any] | None = None
    extra: dict[str, Any] = dict(header.get("extra") or {})
    if len(facts_bytes) > MAX_FACTS_BYTES:
        raise ProtocolError("facts over their cap")
    if len(facts_bytes):
        try:
            decoded = json.loads(bytes(facts_bytes), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            decoded = None
        if not isinstance(decoded, dict):
            values["status"] = "runtime_error"
            values["detail"] = "the judge's result channel was written to"
            tensors = memoryview(b"")
        elif values["status"] == "ok":
            facts = decoded
        else:
            extra["task_report"] = decoded
    if values["status"] != "ok":
        tensors = memoryview(b"")
    return JobOutcome(
        facts=facts,
        tensors=bytes(tensors),
        stdout=bytes(stdout).decode("utf-8", errors="replace"),
        stderr=bytes(stderr).decode("utf-8", errors="replace"),
        extra=extra,
        **values,
    )
