"""What runs in the processes the server forks for a job: the chain C -> I -> J (see jail.py for the process
tree, server.py for pre-forking). Nothing here returns to the server's code: every entry point ends in
os._exit.

J, before anything of the learner's runs: exactly its own descriptors, a new session, a uid of its own (as
root) or no capabilities (in a user namespace), no_new_privs, a fresh empty session keyring, the seccomp
filter (seccomp.py), a clean environment, the scratch directory as cwd. Then, with the job in hand: its
resource limits, every random generator seeded from the job's content (the same answer to the same
question always gets the same verdict), the task, and one frame on fd 3 (protocol.encode_result).
"""

from __future__ import annotations

import errno
import functools
import json
import math
import mmap
import os
import random
import resource
import select
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from . import jail, protocol
from .limits import JobLimits
from .procs import close, default_signals, read_exact, status, write_all
from .tasks import ANSWER_FILE

EXIT_SETUP = 121
ANSWER_FILES = (ANSWER_FILE,)  # the file name learner code runs under (tasks' and probes' alike)
# J's descriptors while it waits for its job (0, 1, 2 as shown; 1 and 2 go to the server's stderr).
J_JOB, J_STATUS, J_OUT, J_ERR, J_RESULT = 4, 5, 6, 7, 8


@dataclass
class Setup:
    """What a chain needs from its server, fixed when the chain is forked."""

    mode: str  # "full" or "reduced"
    plan: jail.Plan | None
    is_root: bool
    tasks: dict[str, Any]
    proto_out: int  # the server's protocol channel, closed in every child
    warm_up: Callable[[Callable[[], bool]], None]  # the task modules' warm-ups; stop early when told
    seccomp: Any = None  # the filter J loads (seccomp.build), or None
    profile: bool = False  # QUIZAPP_JOB_PROFILE=1: J writes where its time went to the job's stderr
    # The server forks I itself, into a new PID namespace (the full jail as root): the chain has no C.
    direct_init: bool = False


# --- C: the server's child ------------------------------------------------------------------------------


def _leave_server(setup: Setup) -> None:
    """Let go of the server's stdin (the host's jobs) and its protocol channel."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(setup.proto_out)


def cold_chain(
    setup: Setup,
    header: dict[str, Any],
    payload_map: mmap.mmap | None,
    nonce: str,
    out_w: int,
    err_w: int,
    res_w: int,
    stat_w: int,
    scratch: str,
) -> NoReturn:
    """C of a chain forked for its job: take the payload, then enter the namespaces and start PID 1 (full)
    or be the job (reduced). With `setup.direct_init`, this process is PID 1 (I) already."""
    code = EXIT_SETUP
    try:
        default_signals()
        payload = bytes(payload_map) if payload_map is not None else b""
        if payload_map is not None:
            payload_map.close()
        _leave_server(setup)
        uid = jail.job_uid(_chain_pid(setup))
        limits = JobLimits.of(header["limits"])
        if setup.mode == "reduced":
            _job(setup, header, payload, nonce, out_w, err_w, res_w, scratch, uid)

        def job() -> NoReturn:
            _job(setup, header, payload, nonce, out_w, err_w, res_w, jail.SCRATCH_DIR, uid)

        _enter(setup, stat_w, [out_w, err_w, res_w], limits.scratch_kb, uid, job)
        code = 0
    except BaseException as exc:
        status(stat_w, ev="error", where="C", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def prepared_chain(
    setup: Setup,
    nonce: str,
    job_r: int,
    out_w: int,
    err_w: int,
    res_w: int,
    stat_w: int,
    scratch: str,
    scratch_kb: int,
) -> NoReturn:
    """C of a prepared chain (full mode), or J itself (reduced mode); with `setup.direct_init`, I itself."""
    code = EXIT_SETUP
    try:
        default_signals()
        _leave_server(setup)
        uid = jail.job_uid(_chain_pid(setup))
        if setup.mode == "reduced":
            _prepared_job(setup, nonce, job_r, out_w, err_w, res_w, stat_w, scratch, uid)

        def job() -> NoReturn:
            _prepared_job(setup, nonce, job_r, out_w, err_w, res_w, stat_w, jail.SCRATCH_DIR, uid)

        _enter(setup, stat_w, [out_w, err_w, res_w, job_r], scratch_kb, uid, job)
        code = 0
    except BaseException as exc:
        status(stat_w, ev="error", where="C", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def _chain_pid(setup: Setup) -> int:
    """The host's pid of the chain's first process (C, or I forked by the server): /proc is still the host's,
    where I's own pid is 1."""
    return int(os.readlink("/proc/self")) if setup.direct_init else os.getpid()


def _enter(
    setup: Setup, stat_w: int, job_fds: list[int], scratch_kb: int, uid: int, job: Callable[[], NoReturn]
) -> None:
    """In C: create the namespaces, fork I (PID 1), report its pid, wait for it. In I forked by the server into
    its PID namespace (`setup.direct_init`): become I at once, the namespaces created by I itself."""
    if setup.direct_init:
        _init(setup, stat_w, job_fds, scratch_kb, uid, job, direct=True)
    server_pid = os.getppid()
    jail.enter_namespaces(user_namespace=not setup.is_root)
    jail.set_parent_death_signal(signal.SIGKILL, server_pid)
    init = os.fork()
    if init == 0:
        _init(setup, stat_w, job_fds, scratch_kb, uid, job)
    status(stat_w, ev="init", pid=init, t=time.monotonic())
    close(*job_fds)
    os.waitpid(init, 0)


# --- I: PID 1 of the job's namespace ----------------------------------------------------------------------


def _init(
    setup: Setup,
    stat_w: int,
    job_fds: list[int],
    scratch_kb: int,
    uid: int,
    job: Callable[[], NoReturn],
    direct: bool = False,
) -> NoReturn:
    """Build the root, start the job as PID 2, reap, report. `direct`: the server forked this process into
    its PID namespace; it reports its own host pid and creates the other namespaces itself (as C would)."""
    code = EXIT_SETUP
    try:
        jail.set_parent_death_signal(signal.SIGKILL, 0)  # the parent is outside this namespace: pid 0
        if direct:
            status(stat_w, ev="init", pid=int(os.readlink("/proc/self")), t=time.monotonic())
            jail.enter_namespaces(user_namespace=False, pid=False)
        jail.set_name("quizapp-init")
        jail.prctl(jail.PR_SET_DUMPABLE, 0)
        assert setup.plan is not None
        jail.build_root(setup.plan, scratch_kb, uid if setup.is_root else None)
        pid = os.fork()
        if pid == 0:
            job()  # J closes stat_w (its own copy) before running anything of the learner's
        close(*job_fds)
        while True:
            reaped, wait_status, usage = os.wait4(-1, os.WUNTRACED)
            if reaped == pid:
                break
        # J is done: it exited, or it stopped (the usual way: J stops itself once its result is sent, see
        # _end_job). Its CPU time and peak memory are final either way; a stop counts as an exit with 0 (the
        # result channel, not the status, says what the job did). End every process left in the namespace
        # (kill -1 from PID 1 spares only PID 1) and reap them, so that nothing of the job runs or exists any
        # more when the server reads the report and answers. One exception, the usual case: a stopped J that is
        # the job's only process is reported first and killed right after (within microseconds: a J that had
        # armed a signal to wake itself gets no time that counts), and reaped after the report. The kernel
        # tearing down a torch process's memory takes 5 to 10 ms of a core; started before the report, it held
        # the report up on a busy machine (J's result to the report: 2.3 ms, now 0.9).
        stopped = os.WIFSTOPPED(wait_status)
        if stopped:
            wait_status = 0
        early = stopped and _only_process(pid)
        report = functools.partial(
            status,
            stat_w,
            ev="exit",
            status=wait_status,
            utime=usage.ru_utime,
            stime=usage.ru_stime,
            maxrss=usage.ru_maxrss,
        )
        if early:
            report()
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        if not early:
            report()
        code = 0
    except BaseException as exc:
        status(stat_w, ev="error", where="init", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)  # the kernel now kills whatever is left in the namespace


def _only_process(pid: int) -> bool:
    """In I: whether `pid` is the only process of the namespace besides I (its /proc lists no other)."""
    try:
        return {entry for entry in os.listdir("/proc") if entry.isdigit()} <= {"1", str(pid)}
    except OSError:
        return False


# --- J: the job -----------------------------------------------------------------------------------------


def _confine(setup: Setup, scratch: str, fds: dict[int, int], uid: int) -> tuple[Any, Any]:
    """In J, before anything of the job's: exactly these descriptors (fds, and 0 = /dev/null), a new
    session, no privileges, a fresh keyring, the seccomp filter, a clean environment, the scratch dir as cwd,
    and fresh stdio objects. Returns (stdout, stderr)."""
    import io

    jail.close_fds_except(fds)
    try:
        os.setsid()
    except OSError:
        pass
    default_signals()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.platform.startswith("linux"):
        last_cap = setup.plan.last_cap if setup.plan else jail.last_capability()
        if setup.is_root:
            if setup.mode == "reduced":
                os.chown(scratch, uid, uid)
            jail.drop_to_job_user(uid, last_cap)
        elif setup.mode == "full":
            jail.drop_all_capabilities(last_cap)
        jail.set_no_new_privs()
        # Changing uid (and I's own setting) left it non-dumpable: its /proc/self would be root's.
        jail.prctl(jail.PR_SET_DUMPABLE, 1)
        try:
            jail.join_fresh_session_keyring()
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM):  # no keyrings here, or a container denies them
                raise
        if setup.seccomp is not None:
            setup.seccomp.load()
    os.environ.clear()
    os.environ.update(jail.JOB_ENV)
    if setup.mode == "reduced":
        os.environ.update(HOME=scratch, TMPDIR=scratch)
    os.chdir(scratch)
    import tempfile

    tempfile.tempdir = None
    sys.argv = ["answer.py"]
    stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.stdout, sys.stderr = stdout, stderr
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    return stdout, stderr


def _setup_failed(nonce: str, exc: BaseException) -> NoReturn:
    try:
        message = json.dumps({"message": f"{type(exc).__name__}: {exc}"}).encode()
        write_all(3, protocol.encode_result(nonce, "setup_error", message))
    finally:
        os._exit(EXIT_SETUP)


def _job(
    setup: Setup,
    header: dict[str, Any],
    payload: bytes,
    nonce: str,
    out_w: int,
    err_w: int,
    res_w: int,
    scratch: str,
    uid: int,
) -> NoReturn:
    """J of a chain forked for its job: confine, run the task. Never returns."""
    try:
        streams = _confine(setup, scratch, {1: out_w, 2: err_w, 3: res_w}, uid)
    except BaseException as exc:
        _setup_failed(nonce, exc)
    _run(setup, header, payload, nonce, streams, cpu_before=0.0)


def _prepared_job(
    setup: Setup,
    nonce: str,
    job_r: int,
    out_w: int,
    err_w: int,
    res_w: int,
    stat_w: int,
    scratch: str,
    uid: int,
) -> NoReturn:
    """J of a prepared chain: confine, warm up until its job arrives, then run it like any J.

    The server may hand the job over while J is still warming up (it does not wait for "ready"): J checks its
    job pipe between the warm-up's steps and stops warming as soon as the job is there."""
    try:
        server_pid = os.getppid()
        # While waiting, 1 and 2 go to the server's stderr: nothing the warm-up prints is the job's output.
        fds = {1: 2, 2: 2, J_JOB: job_r, J_STATUS: stat_w, J_OUT: out_w, J_ERR: err_w, J_RESULT: res_w}
        streams = _confine(setup, scratch, fds, uid)
        if setup.mode == "reduced":  # J is the server's own child: die with it (set after the uid change,
            jail.set_parent_death_signal(signal.SIGKILL, server_pid)  # which clears the setting)
        jail.set_name("quizapp-ready")
        status(J_STATUS, ev="confined", t=time.monotonic())

        def job_waiting() -> bool:
            return bool(select.select([J_JOB], [], [], 0)[0])

        try:
            setup.warm_up(job_waiting)
        except Exception:  # a failed warm-up costs speed, not correctness
            pass
        for stream in streams:
            stream.flush()
        status(J_STATUS, ev="ready", cpu=_cpu_seconds(), t=time.monotonic())
        try:
            prefix = read_exact(J_JOB, protocol.PREFIX.size)
        except EOFError:  # the server dropped this chain
            os._exit(0)
        head_len, blob_len = protocol.parse_prefix(prefix, protocol.MAX_PAYLOAD_BYTES)
        header = protocol.parse_header(read_exact(J_JOB, head_len))
        payload = read_exact(J_JOB, blob_len)
        cpu_before = _cpu_seconds()
        _Profile.arrived = time.monotonic()
        status(J_STATUS, ev="start", cpu=cpu_before)
        jail.set_name("quizapp-job")
    except BaseException as exc:
        status(J_STATUS, ev="error", where="J", message=f"{type(exc).__name__}: {exc}")
        os._exit(EXIT_SETUP)
    try:
        # The job's descriptors: exactly 0 (/dev/null), 1, 2 and 3. The job pipe and the status pipe close.
        jail.close_fds_except({1: J_OUT, 2: J_ERR, 3: J_RESULT})
    except BaseException as exc:
        _setup_failed(nonce, exc)
    _run(setup, header, payload, nonce, streams, cpu_before)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def seed_generators(job: dict[str, Any]) -> int:
    """Seed every random generator a job may draw from (Python's random, torch's CPU generator, NumPy's global
    generator) with protocol.job_seed: a number derived from the job's content, so a verdict is a function of
    the answer and the pack. The learner's code itself is left out of the seed: an answer and the reference
    solution run with the same seed for the same checks, so a layer that draws random numbers (dropout in
    train mode) draws the same ones in both. (The probes seed them again before each check, from the check
    alone: probes.run.)"""
    seed = protocol.job_seed(job)
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        # What torch.manual_seed does, less its queueing of each absent accelerator's seeding with a stack
        # trace (1 ms of every job): the CPU generator, and CUDA's where there is one.
        torch.default_generator.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed(seed % (1 << 32))
        except Exception:
            pass
    return seed


def through_learner_code(exc: BaseException) -> bool:
    """Whether an exception passed through the learner's code (any frame of answer.py in its traceback, or in
    those of the exceptions it chains): then a failure of our task is the answer's doing, e.g. an exception
    whose __str__ raises, or an object that breaks the probes."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename in ANSWER_FILES:
                return True
            tb = tb.tb_next
        stack += [current.__cause__, current.__context__]  # type: ignore[list-item]
    return False


def safe_str(value: Any, limit: int = 2000) -> str:
    try:
        text = str(value)
    except BaseException:  # a learner's __str__ may raise anything, KeyboardInterrupt and SystemExit too
        try:
            text = f"<unprintable {type(value).__name__}>"
        except BaseException:
            text = "<unprintable>"
    return text[:limit]


# safetensors' name of each torch dtype a job may send (probes.sendable widens the others to one of these)
SAFETENSORS_DTYPES = {torch_name: code for code, torch_name in protocol.SAFETENSORS_TORCH_NAMES.items()}


def encode_tensors(tensors: dict[Any, Any]) -> bytes:
    """Tensors in the safetensors format (an 8-byte header length, a JSON header of dtypes, shapes and byte
    ranges, then the raw little-endian values back to back), as safetensors.torch.save writes them, without
    its overhead of about 0.1 ms per tensor (ctypes and numpy calls): 7 ms of a ResNet job's 60 tensors.
    The host's reader checks every byte of it (grading/facts.TensorStore); so does safetensors' own."""
    import torch

    header: dict[str, dict[str, Any]] = {}
    chunks: list[bytes] = []
    offset = 0
    for key, value in tensors.items():
        name = str(key)
        if name in header or name == "__metadata__":
            raise ValueError(f"two tensors named {name[:60]!r}")
        tensor = value.detach()
        if type(tensor) is not torch.Tensor:
            tensor = tensor.as_subclass(torch.Tensor)
        tensor = tensor.cpu().contiguous()
        dtype = SAFETENSORS_DTYPES.get(str(tensor.dtype).removeprefix("torch."))
        if dtype is None:
            raise ValueError(f"tensor {name[:60]!r} has dtype {tensor.dtype}, which safetensors lacks")
        data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # as safetensors pads it: the values start 8-byte aligned
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def dump_facts(facts: Any) -> bytes:
    """Facts as strict JSON: a non-finite float becomes its repr ('nan', 'inf'), so the host can refuse NaN and
    Infinity anywhere in what it parses."""
    try:
        data = json.dumps(facts, allow_nan=False).encode()
    except ValueError:  # a non-finite float
        return json.dumps(_finite(facts), allow_nan=False).encode()
    if b"\\ud" in data:  # a lone surrogate (a file name decoded with surrogateescape) or an astral character
        return json.dumps(_finite(facts), allow_nan=False).encode()
    return data


def _finite(value: Any) -> Any:
    """Facts the host's strict JSON reads: non-finite floats as their repr, text that is not UTF-8 (lone
    surrogates) with backslash escapes, as the host shows a job's output."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_finite(key) if isinstance(key, str) else key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _run(
    setup: Setup, header: dict[str, Any], payload: bytes, nonce: str, streams: tuple[Any, Any], cpu_before: float
) -> NoReturn:
    """J, confined, with the job in hand: set the limits, run the task, send one frame on fd 3, exit.

    cpu_before: the CPU time J used before its job (a prepared J's warm-up); RLIMIT_CPU counts from it."""
    stdout, stderr = streams
    try:
        limits = JobLimits.of(header["limits"])
        base_vsize = jail.virtual_size()
        nproc: int | None = limits.processes
        if sys.platform.startswith("linux") and not setup.is_root:  # as root, J has a uid of its own
            if setup.mode == "full":
                nproc = limits.processes + 2  # C and I live in the same user namespace
            else:
                nproc = jail.count_user_tasks(os.getuid()) + limits.processes - 1  # this process is counted
        memory_frame = protocol.encode_result(nonce, "memory")
        task = setup.tasks[header["task"]]
        jail.set_limits(limits.as_dict(), nproc, base_vsize, cpu_used=cpu_before)
        jail.reset_errno()
    except BaseException as exc:
        _setup_failed(nonce, exc)

    def flush() -> None:
        for stream in (stdout, stderr):
            try:
                stream.flush()
            except Exception:
                pass

    job_pid = os.getpid()

    def is_fork() -> bool:
        """A process the learner forked, returning into this wrapper: it has nothing to report."""
        return os.getpid() != job_pid

    profile = _Profile() if setup.profile else None
    try:
        try:
            data = json.loads(payload) if payload else {}
            del payload
            seed_generators(data if isinstance(data, dict) else {})
            if profile is not None:
                profile.mark("decode and seed")
                profile.profiler.enable()
            facts, tensors = task(data)
            if profile is not None:
                profile.profiler.disable()
                profile.mark("task")
            del data
            facts_bytes = dump_facts(facts)
            tensor_bytes = encode_tensors(tensors) if tensors else b""
            result = protocol.encode_result(nonce, "returned", facts_bytes, tensor_bytes)
            if profile is not None:
                profile.mark("facts and tensors encoded")
                profile.report(stderr)
        except SystemExit as exc:
            flush()
            if is_fork():
                os._exit(0)
            value = exc.code
            if value is None:
                os._exit(0)
            if isinstance(value, int):
                try:  # an int subclass of the answer's may refuse the arithmetic: then plainly its status
                    status = int.__and__(int(value), 0xFF)
                except BaseException:
                    status = 1
                os._exit(status)
            try:
                stderr.write(f"{safe_str(value)}\n")
            finally:
                flush()
                os._exit(1)
        except BaseException as exc:
            if is_fork():
                flush()
                os._exit(0)
            if protocol.is_out_of_memory(exc):
                flush()
                write_all(3, memory_frame)
                os._exit(0)
            report = {
                "type": safe_str(type(exc).__name__, 200),
                "message": safe_str(exc),
                "traceback": _format_tb(exc),
            }
            kind = "learner_error" if through_learner_code(exc) else "task_error"
            result = protocol.encode_result(nonce, kind, json.dumps(report).encode())
        flush()
        if not is_fork():
            write_all(3, result)
            if profile is not None:
                profile.exiting(stderr)
            if setup.mode == "full":
                _end_job()
        os._exit(0)
    except MemoryError as exc:  # our own code ran out (sending huge facts): the job's doing if measured
        try:
            if protocol.is_out_of_memory(exc) and not is_fork():
                write_all(3, memory_frame)
        finally:
            os._exit(0)
    except BaseException:
        os._exit(EXIT_SETUP)


def _end_job() -> None:
    """In full mode, J's result is sent: close the job's pipes and stop, rather than exit. Exiting, the kernel
    tears down J's memory (a torch process: 5 to 10 ms) before the pipes close and before I learns of it; a
    stopped J is reported at once, and killed right after its report (see _init). Whatever J does instead
    (the learner may have replaced os.kill) ends in os._exit, as before."""
    os.closerange(0, 4)
    os.kill(os.getpid(), signal.SIGSTOP)


class _Profile:
    """QUIZAPP_JOB_PROFILE=1 (a diagnostic, never on by default): J's spans with the wall, CPU and minor page
    faults of each, and a cProfile of the task, written to the job's stderr (what the host reads as the
    outcome's stderr). Only the host's environment turns it on; nothing is decided on it."""

    arrived = 0.0  # when a prepared J read its job (monotonic); 0 for a chain forked for its job

    def __init__(self) -> None:
        import cProfile

        self.profiler = cProfile.Profile()
        self.spans: list[tuple[str, float, float, int]] = []
        self.started = time.monotonic()
        self.last = self._now()

    @staticmethod
    def _now() -> tuple[float, float, int]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return time.perf_counter(), usage.ru_utime + usage.ru_stime, usage.ru_minflt

    def mark(self, name: str) -> None:
        now = self._now()
        self.spans.append((name, (now[0] - self.last[0]) * 1000, (now[1] - self.last[1]) * 1000, now[2] - self.last[2]))
        self.last = self._now()

    def report(self, stream: Any) -> None:
        import io
        import pstats

        since = (self.started - self.arrived) * 1000 if self.arrived else 0.0
        lines = [f"quizapp-job-profile: the job arrived {since:.2f} ms before _run started"]
        lines += [
            f"  {name:<28} wall {wall:7.2f} ms  cpu {cpu:7.2f} ms  faults {faults}"
            for name, wall, cpu, faults in self.spans
        ]
        text = io.StringIO()
        pstats.Stats(self.profiler, stream=text).sort_stats("cumulative").print_stats(40)
        stream.write("\n".join(lines) + "\n" + text.getvalue())

    def exiting(self, stream: Any) -> None:
        """The last line: when J calls _exit, in ms after its job arrived (the rest of the job's wall is the
        kernel tearing J down and I reporting it)."""
        if self.arrived:
            stream.write(f"quizapp-job-profile: _exit at {(time.monotonic() - self.arrived) * 1000:.2f} ms\n")
            stream.flush()


def _format_tb(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))[-8000:]
    except Exception:
        return ""
