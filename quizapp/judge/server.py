"""The warm worker: imports torch once, then runs each job in a fresh jailed process chain forked from it.
Run by the pool as `python -P -m quizapp.judge.server --slot K [--hide PATH ...]`.

Protocol (frames, see protocol.py): the host writes a job frame whose blob is the payload. The server reads
the frame's prefix and header into its heap, and the payload into an anonymous mmap that it unmaps as soon
as the job is over; it hands the payload to the job's process and never parses it. So the server's heap,
which every later job shares copy-on-write, never holds a learner's code, a reference solution or a payload.
For the same reason the server never parses what a job sends back: it reads the job's stdout, stderr and
result channel into anonymous mmaps created for the job, checks only the result's small envelope (a per-job
nonce and a status), forwards the bytes to the host and unmaps them.

The server's own stdout is the protocol channel: it is moved to another descriptor at start and fd 1 is
pointed at stderr, so a stray print (a library warning) cannot corrupt a frame.

Threads: OMP/MKL/OpenBLAS are pinned to one thread by the environment the pool sets (and again here, before
torch is imported), torch.set_num_threads(1) and set_num_interop_threads(1) run before any op, and the
server never runs a parallel op: forking after OpenMP started threads can hang the child.

The server is a child subreaper: whatever a job leaves behind is re-parented to it, and it kills and reaps
every descendant after each job. In full mode it ends a job by killing the job's PID 1, which makes the
kernel kill everything in the job's PID namespace.

Pre-forking (why, and how)
--------------------------
Measured on a 2-core machine, a warm ResNet grading job (the 'probe' task) took about 78 ms of wall time and
44 ms of CPU in its child, while the same probes.run takes 13 to 15 ms in a warm process. Two costs made
the difference: about 30 ms of wall time to set up the chain (namespaces, the jail's root, /proc, the
scratch tmpfs), and a freshly forked child running everything 2 to 4 times slower at first (conv2d 11 ms
instead of 3, backward 5 instead of 1, about 2500 minor page faults): CPython writes reference counts into
every object it touches, so every page's first touch after the fork is a copy-on-write fault, and the
caches are cold. Four runs of probes.run inside one jailed child took 41, 25, 27 and 22 ms.

So the server prepares the next job's chain while it is idle (at start, and right after each job's outcome
is sent), off the critical path:

    server ─fork─▶ C ─unshare─fork─▶ I (PID 1: root, /proc, scratch tmpfs) ─fork─▶ J

J confines itself exactly as a job does (closes descriptors, new session, drops to the slot's uid with no
capabilities and no_new_privs, clean environment, scratch dir as cwd, stdio to the server's stderr for
now), then runs the task modules' own warm_up functions inside itself (probes.warm_up: every probe on our
own small model, twice), so the pages a job touches are already private to J and its caches are warm. The
RNG states are restored afterwards. J then reports "ready" on its status pipe, names itself
quizapp-ready, and blocks reading a dedicated job pipe that the server created for it before forking.

When a job arrives, the server reads the payload into an mmap, checks the chain (alive per its pidfd,
ready, built for the job's scratch size), starts the wall clock, and writes the job frame (header, then the
payload from the mmap) into J's job pipe. J reads it, reports its own CPU time so far on the status pipe
("start": the server subtracts it, and the learner's RLIMIT_CPU is set on top of it), puts the job's
stdout, stderr and result pipe on fds 1, 2 and 3, closes everything else, sets RLIMIT_AS from its current
virtual size plus memory_mb and the other limits, and runs the task. From there on, everything (limits,
verdicts, killing, reaping) is the same as for a chain forked for the job.

Rules the design keeps:

* One fresh chain per job, never reused; a chain runs only our code until its job arrives, and at most one
  chain per worker exists at any time (it runs as the slot's job uid, which RLIMIT_NPROC counts).
* A chain that dies while idle is noticed (its pidfd, polled together with stdin) and replaced. A job
  handed to a chain that died before reporting "start" (a broken pipe, or no start event) is run again,
  transparently, on a chain forked for it: the payload is still in the server's mmap for that job.
* Jobs the prepared chain cannot honour run on a chain forked for them (the cold path, the original
  design): in full mode, a job whose scratch tmpfs size differs from the prepared one. The next chain is
  then prepared at the size of the last job, so a run of jobs with the same limits is served warm. The
  first chain uses the size that the default Limits give.
* If preparing fails several times in a row, the worker stops pre-forking and uses the cold path only.
  QUIZAPP_PREFORK=0 turns pre-forking off.
* Reduced mode pre-forks too: J is then a direct child of the server, with a parent-death signal.

One more cut off the critical path, for both kinds of chain: when J ends, I kills every process left in the
namespace (kill -1 from PID 1) and reaps them before it reports J's exit, so the server answers as soon as
that report and the job's pipes are in, without waiting 10 to 20 ms for C and I to tear down their copies of
the server's memory and the namespaces. It kills them, sends the outcome, then reaps them (finish_job)
before it forks the next chain.

Measured after (2 cores, while another test run loaded the machine): a ResNet probe job 0.3 s after the
previous one, host round trip median 61-67 ms instead of 132 ms under the same load, the trivial job 16
instead of 66. Jobs sent back to back to one worker wait for its chain to finish warming up (50 to 80 ms
after the previous job): there the cold design was faster. `python -m quizapp.judge.bench` measures both.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from . import jail, protocol

EXIT_SETUP = 121
STATUS_EVENTS_MAX = 1 << 16
WALL_GRACE_S = 1.0  # after the job's main process ended, how long its pipes may stay open
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ENVELOPE_STATUSES = ("returned", "memory", "task_error", "setup_error")
READY_TIMEOUT_S = 20.0  # how long a job waits for a chain still warming up before it takes the cold path
SEND_TIMEOUT_S = 10.0  # how long J may take to read its job frame
MAX_PREPARE_FAILURES = 3  # in a row; then this worker stops pre-forking
DEFAULT_FILE_SIZE_KB = 1024  # Limits().file_size_kb (the server does not import pydantic; a test checks)
# J's descriptors while it waits for its job (0, 1, 2 as shown; 1 and 2 go to the server's stderr).
J_JOB, J_STATUS, J_OUT, J_ERR, J_RESULT = 4, 5, 6, 7, 8


def log(message: str) -> None:
    try:
        os.write(2, f"[judge server {os.getpid()}] {message}\n".encode(errors="replace"))
    except OSError:
        pass


def read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while len(view):
        written = os.write(fd, view)
        view = view[written:]


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def scratch_kb_for(limits: dict[str, Any]) -> int:
    """The size of a job's scratch tmpfs (full mode): room for four files of the largest size allowed."""
    return max(int(limits["file_size_kb"]) * 4, 64)


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class Chain:
    """A prepared process chain waiting for its job. `pid` is the server's child: C (full) or J (reduced)."""

    pid: int
    pidfd: int  # -1 where pidfd_open is missing
    nonce: str
    scratch_kb: int
    scratch: str  # reduced mode: J's cwd on the host ('' in full mode)
    job_w: int
    out_r: int
    err_r: int
    res_r: int
    stat_r: int
    forked_at: float
    status: bytearray = field(default_factory=bytearray)
    ready_at: float = 0.0
    failed: str = ""

    def read_status(self) -> None:
        """Take what the chain has reported so far, without blocking."""
        while len(self.status) < STATUS_EVENTS_MAX:
            try:
                chunk = os.read(self.stat_r, 4096)
            except BlockingIOError:
                break
            if not chunk:
                self.failed = self.failed or "it ended while idle"
                break
            self.status += chunk
        for event in _events(self.status):
            if event.get("ev") == "ready" and not self.ready_at:
                self.ready_at = time.monotonic()
            elif event.get("ev") == "error":
                self.failed = f"{event.get('where')}: {event.get('message')}"

    def timeline(self) -> dict[str, float]:
        """When (ms after the fork) C had started I, J was confined and J was warm: for diagnosis."""
        times = {e["ev"]: e["t"] for e in _events(self.status) if isinstance(e.get("t"), (int, float))}
        return {ev: round((t - self.forked_at) * 1000, 3) for ev, t in times.items()}

    def ended(self) -> bool:
        if self.pidfd >= 0:
            readable, _, _ = select.select([self.pidfd], [], [], 0)
            return bool(readable)
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return pid == self.pid

    def close_server_ends(self) -> None:
        _close(self.pidfd, self.job_w, self.out_r, self.err_r, self.res_r, self.stat_r)
        self.pidfd = self.job_w = self.out_r = self.err_r = self.res_r = self.stat_r = -1


class Server:
    def __init__(self, slot: int, hidden: list[str]) -> None:
        self.slot = slot
        self.hidden = hidden
        self.proto_out = -1
        self.tasks: dict[str, Any] = {}
        self.task_problems: dict[str, str] = {}
        self.plan: jail.Plan | None = None
        self.mode = "reduced"
        self.mode_reason = ""
        self.is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.job_uid = jail.JOB_UID_BASE + slot
        self._buffers: Any = None
        # Pre-forking (see the module docstring).
        self.prefork = os.environ.get("QUIZAPP_PREFORK", "1").strip() != "0" and sys.platform.startswith("linux")
        self.chain: Chain | None = None
        self.chain_scratch_kb = scratch_kb_for({"file_size_kb": DEFAULT_FILE_SIZE_KB})
        self.prepare_failures = 0
        self.last_phases: dict[str, float] = {}
        self._leftover_scratch: list[str] = []

    # --- start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        # The protocol channel is a private copy of stdout; fd 1 now goes to stderr.
        self.proto_out = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if sys.platform.startswith("linux"):
            try:
                jail.prctl(jail.PR_SET_CHILD_SUBREAPER, 1)
            except OSError as exc:
                log(f"cannot become a child subreaper: {exc}")
        for key, value in THREAD_ENV.items():
            os.environ.setdefault(key, value)
        if "MALLOC_ARENA_MAX" not in os.environ and sys.platform.startswith("linux"):
            try:  # glibc reads the variable only at start-up: set the same thing at run time
                jail.libc().mallopt(-8, 2)
            except (AttributeError, OSError):
                pass
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        # oneDNN builds (JIT-compiles) a kernel per convolution shape on first use, so every job paid for
        # its question's shapes again in its fresh process (about 10 ms of a ResNet job). The native
        # kernels need no such set-up; learner and reference are always computed the same way here.
        torch.backends.mkldnn.enabled = False
        self._warm_up(torch)
        from . import tasks

        self.tasks, self.task_problems = tasks.resolve()
        self.tasks.update(tasks.BUILTIN)
        for name, problem in self.task_problems.items():
            log(f"task {name!r} unavailable: {problem}")
        self._warm_up_tasks()
        self._choose_mode()

    def _warm_up_tasks(self) -> None:
        """Let each task module run its own warm-up (probes.warm_up runs every probe on our own small model).
        Run in the server, lazy initialisation happens once, before the forks; run again inside a prepared
        J, it makes the pages a job touches private before the job arrives. Only the project's code runs."""
        modules = {sys.modules.get(getattr(task, "__module__", "")) for task in self.tasks.values()}
        for module in sorted(filter(None, modules), key=lambda m: m.__name__):
            warm_up = getattr(module, "warm_up", None)
            if callable(warm_up):
                try:
                    warm_up()
                except Exception as exc:  # a failed warm-up costs speed, not correctness
                    log(f"warm-up of {module.__name__} failed: {exc!r}")

    def _warm_up(self, torch: Any) -> None:
        """Run once, single-threaded, what most jobs run, so lazy initialisation happens before the forks."""
        import safetensors.torch  # noqa: F401

        with torch.no_grad():
            a = torch.randn(16, 16)
            (a @ a).relu().softmax(-1)
            torch.nn.functional.conv2d(torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3), padding=1)
        layer = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
        layer(torch.randn(3, 4, requires_grad=True)).sum().backward()
        torch.allclose(a, a)

    def _choose_mode(self) -> None:
        forced = os.environ.get("QUIZAPP_JAIL", "").strip().lower()
        reason = jail.namespaces_possible()
        if forced == "reduced":
            self.mode, self.mode_reason = "reduced", "forced by QUIZAPP_JAIL=reduced"
            return
        if reason is None:
            try:
                self.plan = jail.make_plan(self.hidden)
            except Exception as exc:
                reason = f"cannot plan the jail: {exc}"
        if reason is None:
            self.mode = "full"
            outcome_header, _ = self.run_job(
                {"task": "__selftest__", "limits": _default_limits(), "payload_len": 0}, trial=True
            )
            self.release_buffers()
            self.finish_job()
            if outcome_header["status"] == "ok":
                self.mode_reason = "root, namespaces" if self.is_root else "user namespace"
                return
            reason = f"the full jail failed its self-test: {outcome_header.get('detail')}"
        self.mode, self.mode_reason = "reduced", reason or ""
        if forced == "full":
            raise SystemExit(f"QUIZAPP_JAIL=full but the full jail is unavailable: {reason}")
        log(f"reduced jail: {reason}")

    # --- serve ----------------------------------------------------------------------------------------

    def send(self, header: dict[str, Any], parts: list[memoryview | bytes] = ()) -> None:  # type: ignore[assignment]
        total = sum(len(p) for p in parts)
        write_all(self.proto_out, protocol.frame_prefix(header, total))
        for part in parts:
            write_all(self.proto_out, part)

    def serve(self) -> None:
        self.prepare()
        self.send(
            {
                "op": "ready",
                "slot": self.slot,
                "pid": os.getpid(),
                "jail_mode": self.mode,
                "jail_reason": self.mode_reason,
                "tasks": sorted(self.tasks),
                "task_problems": self.task_problems,
                "vm_bytes": jail.virtual_size(),
                "prefork": self.prefork,
            }
        )
        while True:
            try:
                self._wait_for_host()
                prefix = read_exact(0, protocol.PREFIX.size)
                head_len, blob_len = protocol.parse_prefix(prefix, protocol.MAX_PAYLOAD_BYTES)
                header = protocol.parse_header(read_exact(0, head_len))
            except EOFError:
                return
            op = header.get("op")
            if op == "ping":
                self._discard(blob_len)
                self.send({"op": "pong", "slot": self.slot, "pid": os.getpid()})
            elif op == "exit":
                return
            elif op == "job":
                header["payload_len"] = blob_len
                if header.get("task") not in self.tasks:
                    self._discard(blob_len)
                    self.send(self._internal(header, f"unknown task {header.get('task')!r}"))
                    continue
                outcome, parts = self.run_job(header)
                try:
                    self.send(outcome, parts)
                finally:
                    parts = None  # the last references to slices of the job's buffers
                    self.release_buffers()
                    self.finish_job()
                self.prepare()  # the next job's chain, while the host reads this outcome
            else:
                raise protocol.ProtocolError(f"unknown op {op!r}")

    def _wait_for_host(self) -> None:
        """Block until the host writes (or closes) stdin; meanwhile replace a prepared chain that ends."""
        while True:
            chain = self.chain
            waits = [0]
            timeout = None
            if chain is not None:
                if chain.pidfd >= 0:
                    waits.append(chain.pidfd)
                else:
                    timeout = 1.0
            readable, _, _ = select.select(waits, [], [], timeout)
            if 0 in readable:
                return
            if chain is not None and chain.ended():
                chain.read_status()
                self._drop_chain(f"it ended while idle ({chain.failed or 'no report'})", failure=True)
                self.prepare()

    def _discard(self, n: int) -> None:
        """Skip n payload bytes without keeping them in the heap (an mmap, unmapped at once)."""
        if not n:
            return
        with mmap.mmap(-1, min(n, 1 << 20)) as buffer:
            view = memoryview(buffer)
            while n:
                got = os.readv(0, [view[: min(n, len(view))]])
                if not got:
                    raise EOFError
                n -= got
            view.release()

    def _read_payload(self, n: int) -> mmap.mmap | None:
        """The job's payload from stdin into an anonymous mmap (never the heap); the caller unmaps it."""
        if not n:
            return None
        buffer = mmap.mmap(-1, n)
        view = memoryview(buffer)
        try:
            done = 0
            while done < n:
                got = os.readv(0, [view[done:]])
                if not got:
                    raise EOFError
                done += got
        finally:
            view.release()
        return buffer

    def _internal(self, header: dict[str, Any], detail: str, **extra: Any) -> dict[str, Any]:
        return {
            "op": "outcome",
            "id": header.get("id"),
            "status": "internal_error",
            "detail": detail,
            "jail_mode": self.mode,
            "worker": self.slot,
            **extra,
        }

    # --- the prepared chain ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Fork the next job's chain, unless one exists or pre-forking is off. Returns at once: the chain
        builds its jail and warms up on its own while the server waits for the host."""
        if not self.prefork or self.chain is not None:
            return
        nonce = os.urandom(16).hex()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        stat_r, stat_w = os.pipe2(os.O_CLOEXEC)
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        scratch = self._make_scratch() if self.mode == "reduced" else ""
        scratch_kb = self.chain_scratch_kb
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            _close(out_r, err_r, res_r, stat_r, job_w)
            _prepared_chain(self, nonce, job_r, out_w, err_w, res_w, stat_w, scratch, scratch_kb)  # never returns
        _close(out_w, err_w, res_w, stat_w, job_r)
        for fd in (out_r, err_r, res_r, stat_r):
            os.set_blocking(fd, False)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = -1
        self.chain = Chain(pid, pidfd, nonce, scratch_kb, scratch, job_w, out_r, err_r, res_r, stat_r, time.monotonic())

    def _make_scratch(self) -> str:
        import tempfile

        scratch = tempfile.mkdtemp(prefix=f"quizapp-job{self.slot}-")
        if self.is_root:
            os.chown(scratch, self.job_uid, self.job_uid)
        return scratch

    def _drop_chain(self, why: str, failure: bool) -> None:
        """Kill and reap the prepared chain (it is this server's only descendant while no job runs)."""
        chain, self.chain = self.chain, None
        if chain is None:
            return
        _try_kill(chain.pid)
        chain.close_server_ends()
        _kill_descendants()
        if chain.scratch:
            import shutil

            shutil.rmtree(chain.scratch, ignore_errors=True)
        if failure:
            self.prepare_failures += 1
            log(f"prepared chain dropped: {why}")
            if self.prepare_failures >= MAX_PREPARE_FAILURES:
                self.prefork = False
                log(f"pre-forking off after {self.prepare_failures} failures in a row: jobs take the cold path")

    def _take_chain(self, limits: dict[str, Any]) -> Chain | None:
        """The prepared chain, if it can run a job with these limits and is alive and warm; else None."""
        chain = self.chain
        if chain is None:
            return None
        if self.mode == "full" and chain.scratch_kb != scratch_kb_for(limits):
            self.chain_scratch_kb = scratch_kb_for(limits)  # prepare the next one at this job's size
            self._drop_chain("the job needs another scratch size", failure=False)
            return None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            chain.read_status()
            if chain.failed or chain.ended():
                chain.read_status()
                self._drop_chain(f"it ended before its job ({chain.failed or 'no report'})", failure=True)
                return None
            if chain.ready_at:
                self.chain = None
                return chain
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._drop_chain("it was not ready in time", failure=True)
                return None
            waits = [chain.stat_r] + ([chain.pidfd] if chain.pidfd >= 0 else [])
            select.select(waits, [], [], min(remaining, 0.05 if chain.pidfd < 0 else remaining))

    # --- one job --------------------------------------------------------------------------------------

    def run_job(self, header: dict[str, Any], trial: bool = False) -> tuple[dict[str, Any], list[Any]]:
        """Run one job: on the prepared chain when it can take it, else on a chain forked for it."""
        payload_len = int(header.get("payload_len", 0))
        payload = self._read_payload(payload_len) if payload_len else None
        try:
            waited = time.monotonic()
            chain = self._take_chain(header["limits"])
            if chain is not None:
                waited_ms = (time.monotonic() - waited) * 1000
                outcome, parts = self._run_prepared(header, chain, payload)
                if not outcome.pop("retry", False):
                    if outcome.get("status") != "internal_error":
                        self.prepare_failures = 0
                    outcome["extra"] = {
                        "chain": "prepared",
                        "ready_wait_ms": round(waited_ms, 3),
                        "prepared_ms": chain.timeline(),
                        "phases_ms": self.last_phases,
                    }
                    return outcome, parts
                log(f"prepared chain lost before its job ({outcome.get('detail')}): running the job cold")
                parts = None
                self.release_buffers()
                self.finish_job()
                self.prepare_failures += 1
            outcome, parts = self._run_cold(header, payload)
            outcome["extra"] = {"chain": "cold", "phases_ms": self.last_phases}
            return outcome, parts
        finally:
            if payload is not None:
                payload.close()

    def _run_prepared(
        self, header: dict[str, Any], chain: Chain, payload: mmap.mmap | None
    ) -> tuple[dict[str, Any], list[Any]]:
        limits = header["limits"]
        job = {"task": header["task"], "limits": limits}
        started = time.monotonic()  # the wall clock starts when the job is sent
        sent = False
        try:
            sent = self._send_job(chain, job, payload)
        finally:
            _close(chain.job_w)
            chain.job_w = -1
        if not sent:
            _try_kill(chain.pid)
        try:
            return self._collect(
                header,
                chain.pid,
                chain.nonce,
                started,
                chain.out_r,
                chain.err_r,
                chain.res_r,
                chain.stat_r,
                pidfd=chain.pidfd,
                events_so_far=chain.status,
                prepared=True,
            )
        finally:
            chain.pidfd = -1  # closed by _collect
            chain.close_server_ends()
            if chain.scratch:
                self._leftover_scratch.append(chain.scratch)

    def _send_job(self, chain: Chain, job: dict[str, Any], payload: mmap.mmap | None) -> bool:
        """Write the job frame into J's pipe. False when J is gone or stopped reading."""
        n = len(payload) if payload is not None else 0
        deadline = time.monotonic() + SEND_TIMEOUT_S
        os.set_blocking(chain.job_w, False)
        view = memoryview(payload) if payload is not None else memoryview(b"")
        try:
            for data in (memoryview(protocol.frame_prefix(job, n)), view):
                while len(data):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    _, writable, _ = select.select([], [chain.job_w], [], remaining)
                    if not writable:
                        continue
                    try:
                        written = os.write(chain.job_w, data[: 1 << 16])
                    except BlockingIOError:
                        continue
                    data = data[written:]
            return True
        except OSError:  # EPIPE: J is gone
            return False
        finally:
            view.release()

    def _run_cold(self, header: dict[str, Any], payload: mmap.mmap | None) -> tuple[dict[str, Any], list[Any]]:
        nonce = os.urandom(16).hex()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        stat_r, stat_w = os.pipe2(os.O_CLOEXEC)
        scratch = self._make_scratch() if self.mode == "reduced" else ""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _close(out_r, err_r, res_r, stat_r)
            _child(self, header, payload, nonce, out_w, err_w, res_w, stat_w, scratch)  # never returns
        _close(out_w, err_w, res_w, stat_w)
        try:
            return self._collect(header, pid, nonce, started, out_r, err_r, res_r, stat_r)
        finally:
            _close(out_r, err_r, res_r, stat_r)
            if scratch:
                self._leftover_scratch.append(scratch)

    def _collect(
        self,
        header: dict[str, Any],
        pid: int,
        nonce: str,
        started: float,
        out_r: int,
        err_r: int,
        res_r: int,
        stat_r: int,
        pidfd: int = -1,
        events_so_far: bytes | bytearray = b"",
        prepared: bool = False,
    ) -> tuple[dict[str, Any], list[Any]]:
        limits = header["limits"]
        wall_limit = float(limits["wall_seconds"])
        output_cap = int(limits["output_kb"]) * 1024
        deadline = started + wall_limit
        # Buffers outside the heap, created after the fork, unmapped after the job (see the module doc).
        out_map = mmap.mmap(-1, output_cap + 1)
        err_map = mmap.mmap(-1, output_cap + 1)
        res_map = mmap.mmap(-1, protocol.MAX_RESULT_BYTES + 1)
        views = {out_r: memoryview(out_map), err_r: memoryview(err_map), res_r: memoryview(res_map)}
        pos = {out_r: 0, err_r: 0, res_r: 0}
        status_bytes = bytearray(events_so_far)  # a prepared chain's events so far: I's pid, J's ready
        open_fds = {out_r, err_r, res_r, stat_r}
        for fd in open_fds:
            os.set_blocking(fd, False)
        if pidfd < 0:
            try:
                pidfd = os.pidfd_open(pid)
            except (AttributeError, OSError):
                pass
        reaped: tuple[int, Any] | None = None
        # When the job was over: its chain reaped, or (full mode) I's report that J ended, which I sends only
        # after it has killed and reaped every process of the namespace. The outcome does not wait for C
        # and I to end (their teardown takes 10 to 20 ms): they are killed now and reaped after the outcome
        # is sent, before the next chain is forked.
        finished_at = 0.0
        init_pid = next((int(e["pid"]) for e in _events(status_bytes) if e.get("ev") == "init"), 0)
        killed_for = ""
        output_exceeded = result_exceeded = False
        # When (ms after the job was sent) the server saw: J take the job, the result channel close, I report
        # J's exit, the chain end. For the bench and for diagnosis; no verdict depends on them.
        phases: dict[str, float] = {}
        self.last_phases = phases

        def elapsed() -> float:
            return round((time.monotonic() - started) * 1000, 3)

        def kill(reason: str) -> None:
            nonlocal killed_for
            if killed_for:
                return
            killed_for = reason
            if init_pid:
                _try_kill(init_pid)
            _try_kill(pid)
            _kill_descendants(reap=False)

        try:
            while True:
                now = time.monotonic()
                if not finished_at and now >= deadline and not killed_for:
                    kill("wall")
                if finished_at:
                    pending = open_fds - {stat_r} if reaped is None else open_fds
                    if not pending or now - finished_at > WALL_GRACE_S:
                        break
                waits = list(open_fds) + ([pidfd] if pidfd >= 0 and reaped is None else [])
                timeout = max(0.0, deadline - now) if not finished_at and not killed_for else 0.05
                if pidfd < 0:
                    timeout = min(timeout, 0.02)
                ready, _, _ = select.select(waits, [], [], timeout)
                for fd in ready:
                    if fd == pidfd:
                        continue
                    if fd == stat_r:
                        chunk = os.read(fd, 4096)
                        if not chunk:
                            open_fds.discard(fd)
                        elif len(status_bytes) < STATUS_EVENTS_MAX:
                            status_bytes += chunk
                            for event in _events(status_bytes):
                                if event.get("ev") == "init":
                                    init_pid = int(event["pid"])
                                elif event.get("ev") in ("start", "exit"):
                                    phases.setdefault(event["ev"], elapsed())
                                if event.get("ev") == "exit" and self.mode == "full" and not finished_at:
                                    finished_at = time.monotonic()
                        continue
                    view = views[fd]
                    if fd == res_r:
                        room = 0 if result_exceeded else len(view) - pos[fd]
                    else:
                        room = 0 if output_exceeded else output_cap - pos[out_r] - pos[err_r] + 1
                    if room <= 0:  # over the limit already: the job is being killed, drain what is left
                        try:
                            if not os.read(fd, 65536):
                                open_fds.discard(fd)
                        except BlockingIOError:
                            pass
                        continue
                    try:
                        got = os.readv(fd, [view[pos[fd] : pos[fd] + room]])
                    except BlockingIOError:
                        continue
                    if not got:
                        open_fds.discard(fd)
                        if fd == res_r:
                            phases["result"] = elapsed()
                        continue
                    pos[fd] += got
                    if fd == res_r and pos[fd] > protocol.MAX_RESULT_BYTES:
                        result_exceeded = True
                        kill("result")
                    elif fd != res_r and pos[out_r] + pos[err_r] > output_cap:
                        output_exceeded = True
                        pos[fd] -= pos[out_r] + pos[err_r] - output_cap
                        kill("output")
                if reaped is None:
                    try:
                        got_pid, status, usage = os.wait4(pid, os.WNOHANG)
                    except ChildProcessError:  # reaped elsewhere: its status is lost
                        got_pid, status, usage = pid, 0xFF00, resource.getrusage(resource.RUSAGE_CHILDREN)
                    if got_pid == pid:
                        reaped = (status, usage)
                        finished_at = finished_at or time.monotonic()
                        phases["reaped"] = elapsed()
                        _kill_descendants()  # reduced mode: whatever the job left behind
            wall_ms = ((finished_at or time.monotonic()) - started) * 1000
            events = _events(status_bytes)
            return self._verdict(
                header,
                limits,
                nonce,
                events,
                reaped,
                wall_ms,
                killed_for,
                output_exceeded,
                result_exceeded,
                views,
                pos,
                out_r,
                err_r,
                res_r,
                prepared,
            )
        finally:
            if pidfd >= 0:
                os.close(pidfd)
            if reaped is None:  # C and I, or a job that outlived the wall clock: finish_job reaps them
                if init_pid:
                    _try_kill(init_pid)
                _try_kill(pid)
            self._buffers = (views, (out_map, err_map, res_map))

    def _verdict(
        self,
        header: dict[str, Any],
        limits: dict[str, Any],
        nonce: str,
        events: list[dict[str, Any]],
        reaped: tuple[int, Any] | None,
        wall_ms: float,
        killed_for: str,
        output_exceeded: bool,
        result_exceeded: bool,
        views: dict[int, memoryview],
        pos: dict[int, int],
        out_r: int,
        err_r: int,
        res_r: int,
        prepared: bool,
    ) -> tuple[dict[str, Any], list[Any]]:
        stdout = views[out_r][: pos[out_r]]
        stderr = views[err_r][: pos[err_r]]
        base: dict[str, Any] = {
            "op": "outcome",
            "id": header.get("id"),
            "jail_mode": self.mode,
            "worker": self.slot,
            "wall_ms": round(wall_ms, 3),
            "stdout_truncated": output_exceeded,
            "stdout_len": len(stdout),
            "stderr_len": len(stderr),
            "facts_len": 0,
            "tensors_len": 0,
        }
        parts: list[Any] = [stdout, stderr]
        by_kind = {e.get("ev"): e for e in events}
        exit_event = by_kind.get("exit")
        start_event = by_kind.get("start")
        if prepared and start_event is None:
            # The prepared chain ended (or was killed) before J took the job: nothing of the learner's ran.
            base.update(status="internal_error", detail="the prepared chain ended before taking its job", retry=True)
            return base, parts
        # A prepared J's CPU time before its job (the warm-up) is not the learner's.
        cpu_before_ms = float(start_event.get("cpu", 0.0)) * 1000 if start_event else 0.0
        # Who the job's main process was, and how it ended.
        job_status: int | None = None
        cpu_ms = 0.0
        max_rss_kb = 0
        if self.mode == "full":
            if exit_event is not None:
                job_status = int(exit_event["status"])
                cpu_ms = (float(exit_event["utime"]) + float(exit_event["stime"])) * 1000
                max_rss_kb = int(exit_event["maxrss"])
            elif reaped is not None:
                usage = reaped[1]
                cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
                max_rss_kb = usage.ru_maxrss
        elif reaped is not None:
            job_status, usage = reaped
            cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
            max_rss_kb = usage.ru_maxrss
        exit_code = signal_number = None
        if job_status is not None:
            if os.WIFSIGNALED(job_status):
                signal_number = os.WTERMSIG(job_status)
            elif os.WIFEXITED(job_status):
                exit_code = os.WEXITSTATUS(job_status)
        cpu_ms = max(0.0, cpu_ms - cpu_before_ms)
        base.update(cpu_ms=round(cpu_ms, 3), max_rss_kb=int(max_rss_kb), exit_code=exit_code, signal=signal_number)

        def done(status: str, detail: str = "", **extra: Any) -> tuple[dict[str, Any], list[Any]]:
            base.update(status=status, detail=detail, **extra)
            return base, parts

        error = by_kind.get("error")
        if error is not None:
            return done("internal_error", f"the jail could not start the job: {error.get('message')}")
        cpu_limit = float(limits["cpu_seconds"])
        if killed_for == "wall":
            return done("time_limit", f"killed after {float(limits['wall_seconds']):.1f} s of wall time")
        if output_exceeded:
            return done("output_limit", f"printed more than {int(limits['output_kb'])} KB")
        if result_exceeded:
            return done("output_limit", f"sent back more than {protocol.MAX_RESULT_BYTES >> 20} MB of results")
        cpu_detail = f"used more than {cpu_limit:g} s of CPU time"
        if signal_number == signal.SIGXCPU or cpu_ms > cpu_limit * 1000:
            return done("time_limit", cpu_detail)
        if signal_number == signal.SIGKILL and cpu_ms >= max(1, int(cpu_limit + 0.999)) * 1000 - 50:
            return done("time_limit", cpu_detail)
        if self.mode == "full" and exit_event is None and job_status is None:
            return done("internal_error", "the job's init process ended without reporting")
        # The result channel: exactly one frame, with this job's nonce, or nothing at all.
        result = views[res_r][: pos[res_r]]
        if len(result):
            try:
                envelope, blob = protocol.decode_single_frame(result, protocol.MAX_RESULT_BYTES)
                if envelope.get("nonce") != nonce or envelope.get("status") not in ENVELOPE_STATUSES:
                    raise protocol.ProtocolError("not this job's frame")
                facts_len, tensors_len = int(envelope.get("facts_len", -1)), int(envelope.get("tensors_len", -1))
                if facts_len < 0 or tensors_len < 0 or facts_len + tensors_len != len(blob):
                    raise protocol.ProtocolError("lengths do not match")
            except (protocol.ProtocolError, ValueError, TypeError, RecursionError):
                return done("runtime_error", "the judge's result channel was written to")
            kind = envelope["status"]
            if kind == "memory":
                return done("memory_limit", f"used more than {int(limits['memory_mb'])} MB")
            parts += [blob[:facts_len], blob[facts_len:]]
            base.update(facts_len=facts_len, tensors_len=tensors_len)
            if kind == "setup_error":
                return done("internal_error", "the jail could not start the job")
            if kind == "task_error":
                return done("internal_error", "the judge's task failed")
            if signal_number is not None or exit_code not in (0, None):
                base.update(facts_len=0, tensors_len=0)
                del parts[2:]
                return done("runtime_error", _ended(exit_code, signal_number))
            return done("ok")
        text = bytes(stderr[-4096:]).decode(errors="replace").lower()
        if any(marker in text for marker in ("std::bad_alloc", "memoryerror", "cannot allocate memory")):
            return done("memory_limit", f"used more than {int(limits['memory_mb'])} MB")
        if signal_number is None and exit_code is None:
            return done("internal_error", "the job ended in a way the judge could not tell")
        return done("runtime_error", _ended(exit_code, signal_number))

    def finish_job(self) -> None:
        """After a job's outcome is sent: kill and reap whatever is left of its chain (C and I in full mode;
        the job's own processes are gone already), and remove its scratch directory (reduced mode). Always
        before the next chain is forked."""
        _kill_descendants()
        if self._leftover_scratch:
            import shutil

            for path in self._leftover_scratch:
                shutil.rmtree(path, ignore_errors=True)
            self._leftover_scratch.clear()

    def release_buffers(self) -> None:
        """Unmap the last job's buffers, once nothing refers to slices of them."""
        buffers, self._buffers = self._buffers, None
        if buffers:
            views, maps = buffers
            for view in views.values():
                view.release()
            for buffer in maps:
                try:
                    buffer.close()
                except BufferError:  # a slice still alive somewhere: unmapped when it goes
                    pass


def _ended(exit_code: int | None, signal_number: int | None) -> str:
    if signal_number is not None:
        if signal_number == signal.SIGKILL:
            return "was killed (SIGKILL)"
        return f"crashed with {signal_name(signal_number)}"
    return f"the program exited with status {exit_code} before the judge could probe it"


def _events(data: bytes | bytearray) -> list[dict[str, Any]]:
    events = []
    for line in bytes(data).split(b"\n"):
        if line.strip():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def _try_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return found


def _kill_descendants(reap: bool = True) -> None:
    """Kill every descendant of this server (all of them are job processes), and reap them if asked."""
    if not sys.platform.startswith("linux"):
        return
    me = os.getpid()
    for _ in range(100):
        stack, everyone = [me], []
        while stack:
            for child in _children(stack.pop()):
                everyone.append(child)
                stack.append(child)
        if not everyone:
            break
        for pid in everyone:
            _try_kill(pid)
        if not reap:
            return
        for pid in _children(me):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    if not reap:
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


def _default_limits() -> dict[str, Any]:
    return {
        "cpu_seconds": 5.0,
        "wall_seconds": 10.0,
        "memory_mb": 256,
        "output_kb": 64,
        "processes": 1,
        "file_size_kb": 64,
        "open_files": 64,
    }


# --- in the forked children -----------------------------------------------------------------------------


def _status(fd: int, **event: Any) -> None:
    try:
        write_all(fd, json.dumps(event).encode() + b"\n")
    except OSError:
        pass


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)


def _leave_server(server: Server) -> None:
    """In the server's child: let go of the server's stdin (the host's jobs) and its protocol channel."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(server.proto_out)


def _child(
    server: Server,
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
    or be the job (reduced)."""
    code = EXIT_SETUP
    try:
        _default_signals()
        payload = bytes(payload_map) if payload_map is not None else b""
        if payload_map is not None:
            payload_map.close()
        _leave_server(server)
        if server.mode == "reduced":
            _job(server, header, payload, nonce, out_w, err_w, res_w, scratch)

        def job() -> NoReturn:
            _job(server, header, payload, nonce, out_w, err_w, res_w, jail.SCRATCH_DIR)

        _enter(server, stat_w, [out_w, err_w, res_w], scratch_kb_for(header["limits"]), job)
        code = 0
    except BaseException as exc:
        _status(stat_w, ev="error", where="C", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def _prepared_chain(
    server: Server,
    nonce: str,
    job_r: int,
    out_w: int,
    err_w: int,
    res_w: int,
    stat_w: int,
    scratch: str,
    scratch_kb: int,
) -> NoReturn:
    """C of a prepared chain (full mode), or J itself (reduced mode)."""
    code = EXIT_SETUP
    try:
        _default_signals()
        _leave_server(server)
        if server.mode == "reduced":
            _prepared_job(server, nonce, job_r, out_w, err_w, res_w, stat_w, scratch)

        def job() -> NoReturn:
            _prepared_job(server, nonce, job_r, out_w, err_w, res_w, stat_w, jail.SCRATCH_DIR)

        _enter(server, stat_w, [out_w, err_w, res_w, job_r], scratch_kb, job)
        code = 0
    except BaseException as exc:
        _status(stat_w, ev="error", where="C", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def _enter(server: Server, stat_w: int, job_fds: list[int], scratch_kb: int, job: Callable[[], NoReturn]) -> None:
    """In C: create the namespaces, fork I (PID 1), report its pid, wait for it."""
    server_pid = os.getppid()
    jail.enter_namespaces(user_namespace=not server.is_root)
    jail.set_parent_death_signal(signal.SIGKILL, server_pid)
    init = os.fork()
    if init == 0:
        _init(server, stat_w, job_fds, scratch_kb, job)
    _status(stat_w, ev="init", pid=init, t=time.monotonic())
    _close(*job_fds)
    os.waitpid(init, 0)


def _init(server: Server, stat_w: int, job_fds: list[int], scratch_kb: int, job: Callable[[], NoReturn]) -> NoReturn:
    """I, PID 1 of the job's namespace: build the root, start the job as PID 2, reap, report."""
    code = EXIT_SETUP
    try:
        jail.set_parent_death_signal(signal.SIGKILL, 0)  # the parent is outside this namespace: pid 0
        jail.set_name("quizapp-init")
        jail.prctl(jail.PR_SET_DUMPABLE, 0)
        assert server.plan is not None
        jail.build_root(server.plan, scratch_kb, server.job_uid if server.is_root else None)
        pid = os.fork()
        if pid == 0:
            job()  # J closes stat_w (its own copy) before running anything of the learner's
        _close(*job_fds)
        while True:
            reaped, status, usage = os.wait4(-1, 0)
            if reaped == pid:
                break
        # J is done: end every process left in the namespace (kill -1 from PID 1 spares only PID 1) and reap
        # them, so that nothing of the job runs any more when the server reads the report and answers.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        _status(stat_w, ev="exit", status=status, utime=usage.ru_utime, stime=usage.ru_stime, maxrss=usage.ru_maxrss)
        code = 0
    except BaseException as exc:
        _status(stat_w, ev="error", where="init", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)  # the kernel now kills whatever is left in the namespace


def _confine(server: Server, scratch: str, fds: dict[int, int]) -> tuple[Any, Any]:
    """In J, before anything of the job's: exactly these descriptors (fds, and 0 = /dev/null), a new
    session, no privileges (the slot's uid, or no capabilities), a clean environment, the scratch dir as cwd,
    and fresh stdio objects. Returns (stdout, stderr)."""
    import io

    jail.close_fds_except(fds)
    try:
        os.setsid()
    except OSError:
        pass
    _default_signals()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.platform.startswith("linux"):
        if server.is_root:
            jail.drop_to_job_user(server.job_uid, server.plan.last_cap if server.plan else jail.last_capability())
        elif server.mode == "full":
            jail.drop_all_capabilities(server.plan.last_cap if server.plan else jail.last_capability())
        jail.set_no_new_privs()
        # Changing uid (and I's own setting) left it non-dumpable: its /proc/self would be root's.
        jail.prctl(jail.PR_SET_DUMPABLE, 1)
    os.environ.clear()
    os.environ.update(jail.JOB_ENV)
    if server.mode == "reduced":
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
        write_all(3, _frame(nonce, "setup_error", message))
    finally:
        os._exit(EXIT_SETUP)


def _frame(nonce: str, status: str, facts: bytes = b"", tensors: bytes = b"") -> bytes:
    envelope = {"nonce": nonce, "status": status, "facts_len": len(facts), "tensors_len": len(tensors)}
    return protocol.encode_frame(envelope, facts + tensors)


def _job(
    server: Server, header: dict[str, Any], payload: bytes, nonce: str, out_w: int, err_w: int, res_w: int, scratch: str
) -> NoReturn:
    """J of a chain forked for its job: confine, run the task. Never returns."""
    try:
        streams = _confine(server, scratch, {1: out_w, 2: err_w, 3: res_w})
    except BaseException as exc:
        _setup_failed(nonce, exc)
    _run(server, header, payload, nonce, streams, cpu_before=0.0)


def _prepared_job(
    server: Server, nonce: str, job_r: int, out_w: int, err_w: int, res_w: int, stat_w: int, scratch: str
) -> NoReturn:
    """J of a prepared chain: confine, warm up, report ready, wait for the job, then run it like any J."""
    try:
        server_pid = os.getppid()
        # While waiting, 1 and 2 go to the server's stderr: nothing the warm-up prints is the job's output.
        fds = {1: 2, 2: 2, J_JOB: job_r, J_STATUS: stat_w, J_OUT: out_w, J_ERR: err_w, J_RESULT: res_w}
        streams = _confine(server, scratch, fds)
        if server.mode == "reduced":  # J is the server's own child: die with it (set after the uid change,
            jail.set_parent_death_signal(signal.SIGKILL, server_pid)  # which clears the setting)
        jail.set_name("quizapp-ready")
        _status(J_STATUS, ev="confined", t=time.monotonic())
        _warm_up_inside(server)
        for stream in streams:
            stream.flush()
        _status(J_STATUS, ev="ready", cpu=_cpu_seconds(), t=time.monotonic())
        try:
            prefix = read_exact(J_JOB, protocol.PREFIX.size)
        except EOFError:  # the server dropped this chain
            os._exit(0)
        head_len, blob_len = protocol.parse_prefix(prefix, protocol.MAX_PAYLOAD_BYTES)
        header = protocol.parse_header(read_exact(J_JOB, head_len))
        payload = read_exact(J_JOB, blob_len)
        cpu_before = _cpu_seconds()
        _status(J_STATUS, ev="start", cpu=cpu_before)
        jail.set_name("quizapp-job")
    except BaseException as exc:
        _status(J_STATUS, ev="error", where="J", message=f"{type(exc).__name__}: {exc}")
        os._exit(EXIT_SETUP)
    try:
        # The job's descriptors: exactly 0 (/dev/null), 1, 2 and 3. The job pipe and the status pipe close.
        jail.close_fds_except({1: J_OUT, 2: J_ERR, 3: J_RESULT})
    except BaseException as exc:
        _setup_failed(nonce, exc)
    _run(server, header, payload, nonce, streams, cpu_before)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _warm_up_inside(server: Server) -> None:
    """The task modules' warm-ups, in J: the pages a job touches become J's own before the job arrives.
    The random number generators are put back as the server left them, so a job sees what a cold J saw."""
    import random

    import torch

    python_state = random.getstate()
    torch_state = torch.random.get_rng_state()
    try:
        server._warm_up_tasks()
    finally:
        random.setstate(python_state)
        torch.random.set_rng_state(torch_state)


def _run(
    server: Server, header: dict[str, Any], payload: bytes, nonce: str, streams: tuple[Any, Any], cpu_before: float
) -> NoReturn:
    """J, confined, with the job in hand: set the limits, run the task, send one frame on fd 3, exit.

    cpu_before: the CPU time J used before its job (a prepared J's warm-up); RLIMIT_CPU counts from it."""
    stdout, stderr = streams
    limits = header["limits"]
    try:
        base_vsize = jail.virtual_size()
        processes = int(limits["processes"])
        nproc: int | None = processes
        if sys.platform.startswith("linux") and not server.is_root:  # as root, J has the slot's own uid
            if server.mode == "full":
                nproc = processes + 2  # C and I live in the same user namespace
            else:
                nproc = jail.count_user_tasks(os.getuid()) + processes - 1  # this process is counted already
        memory_frame = _frame(nonce, "memory")
        task = server.tasks[header["task"]]
        import safetensors.torch

        jail.set_limits(limits, nproc, base_vsize, cpu_used=cpu_before)
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

    try:
        try:
            data = json.loads(payload) if payload else {}
            del payload
            facts, tensors = task(data)
            del data
            facts_bytes = json.dumps(facts).encode()
            if tensors:
                clean = {str(k): v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
                tensor_bytes = safetensors.torch.save(clean)
            else:
                tensor_bytes = b""
            result = _frame(nonce, "returned", facts_bytes, tensor_bytes)
        except SystemExit as exc:
            flush()
            if is_fork():
                os._exit(0)
            value = exc.code
            if value is None:
                os._exit(0)
            if isinstance(value, int):
                os._exit(value & 0xFF)
            try:
                stderr.write(f"{value}\n")
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
                "type": type(exc).__name__,
                "message": str(exc)[:2000],
                "traceback": traceback.format_exc()[-8000:],
            }
            result = _frame(nonce, "task_error", json.dumps(report).encode())
        flush()
        if not is_fork():
            write_all(3, result)
        os._exit(0)
    except MemoryError:
        try:
            write_all(3, memory_frame)
        finally:
            os._exit(0)
    except BaseException:
        os._exit(EXIT_SETUP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quizapp.judge.server")
    parser.add_argument("--slot", type=int, required=True)
    parser.add_argument("--hide", action="append", default=[], help="a host path the jail must not show")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    server = Server(args.slot, args.hide)
    try:
        server.start()
    except SystemExit as exc:
        message = str(exc.code)
        try:
            server.send({"op": "fatal", "message": message})
        except Exception:
            pass
        log(message)
        return 2
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        log(f"cannot start: {message}\n{traceback.format_exc()}")
        try:
            if server.proto_out >= 0:
                server.send({"op": "fatal", "message": message})
        except Exception:
            pass
        return 2
    try:
        server.serve()
    except (protocol.ProtocolError, EOFError, BrokenPipeError) as exc:
        log(f"stopping: {exc}")
        return 3
    finally:
        _kill_descendants()
    return 0


if __name__ == "__main__":
    sys.exit(main())
