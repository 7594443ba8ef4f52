"""The warm worker: imports torch once, then runs each job in a fresh jailed process chain forked from it.
Run by the pool as `python -P -m quizapp.judge.server --slot K [--hide PATH ...]`.

The worker is split by what each part does: this file is the serve loop and the prepared chain's life;
child.py is the code that runs in the forked chain (C, I, J); watch.py watches a running job; verdict.py
turns what was seen into the outcome (a pure function); procs.py holds the fd and process helpers.

Protocol (frames, see protocol.py): the host writes a job frame whose blob is the payload. The server reads
the frame's prefix and header into its heap, and the payload into an anonymous mmap that it unmaps as soon
as the job is over; it hands the payload to the job's process and never parses it. So the server's heap,
which every later job shares copy-on-write, never holds a learner's code, a reference solution or a payload.
For the same reason the server never parses what a job sends back: it reads the job's stdout, stderr and
result channel into anonymous mmaps created for the job, checks only the result's small envelope (a per-job
nonce, a status and two lengths, matched in place by a fixed pattern: protocol.parse_envelope), forwards the
bytes to the host and unmaps them. No learner text (a stderr tail, a message) is ever copied into the
server's heap, where every later job would inherit it.

One job, one outcome: whatever goes wrong while the server runs a job (a malformed result frame, a bug of
ours) becomes that job's outcome, and the serve loop goes on with the next job.

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

(as root the server forks I itself, into a new PID namespace, and there is no C: see jail.py and
Server._fork_chain)

J confines itself exactly as a job does (closes descriptors, new session, drops to the slot's uid with no
capabilities and no_new_privs, clean environment, scratch dir as cwd, stdio to the server's stderr for
now), then runs the task modules' own warm_up functions inside itself (probes.warm_up: every probe on our
own small model, once, as a job runs them), so the pages a job touches are already private to J and its
caches are warm.
Every random generator is seeded from the job's content when the job starts. J then reports "ready" on its
status pipe, names itself quizapp-ready, and blocks reading a dedicated job pipe that the server created
for it before forking.

When a job arrives, the server reads the payload into an mmap, checks the chain (alive per its pidfd, built
for the job's scratch size), starts the wall clock, and writes the job frame (header, then the payload from
the mmap) into J's job pipe, without waiting for J to be warm: J looks at its job pipe between the steps of
its warm-up and stops warming as soon as the job is there (a chain still warming is still confined, and
always further along than a chain forked now would be). J reads it, reports its own CPU time so far on the status pipe
("start": the server subtracts it, and the learner's RLIMIT_CPU is set on top of it), puts the job's
stdout, stderr and result pipe on fds 1, 2 and 3, closes everything else, sets RLIMIT_AS from its current
virtual size plus memory_mb and the other limits, and runs the task. From there on, everything (limits,
verdicts, killing, reaping) is the same as for a chain forked for the job.

Rules the design keeps:

* One fresh chain per job, never reused; a chain runs only our code until its job arrives, and at most one
  chain per worker exists at any time.
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
the server's memory and the namespaces. It kills them, sends the outcome, forks the next chain, and reaps
them as they end (finish_job). J's own teardown is off that path too: in full mode J, its result sent,
closes its pipes and stops itself (SIGSTOP) instead of exiting; I sees the stop (its CPU time and peak
memory are final) and, when J is the namespace's only process, reports at once, kills J right after its
report and reaps it; otherwise it kills and reaps everything first, as before. The kernel freeing a torch
process's memory took 5 to 10 ms of every job's wall (and counted in its CPU time); started before I's
report, it still held the report up on a busy machine (the job's result to I's report: 2.3 ms, now 0.9).

Measured when pre-forking was introduced (2 cores, while another test run loaded the machine): a ResNet
probe job 0.3 s after the previous one, host round trip median 61-67 ms instead of 132 ms under the same
load, the trivial job 16 instead of 66. Jobs sent back to back to one worker waited for its chain to finish
warming up (50 to 80 ms after the previous job): there the cold design was faster; handing the job to a
chain still warming (above)
removed that wait. `python -m quizapp.judge.bench` measures both.
"""

from __future__ import annotations

import argparse
import gc
import inspect
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
from typing import Any

from . import child, jail, protocol, seccomp
from .limits import JobLimits
from .procs import (
    children,
    close,
    collapse_huge_pages,
    kill_descendants,
    log,
    parse_events,
    read_exact,
    reap_exited,
    try_kill,
    widen_pipe,
    write_all,
)
from .verdict import Decision, decide
from .watch import STATUS_EVENTS_MAX, Buffers, watch

THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SEND_TIMEOUT_S = 10.0  # how long J may take to read its job frame
MAX_PREPARE_FAILURES = 3  # in a row; then this worker stops pre-forking
TRAINING_WARM_IDLE_S = 0.3  # how long a new worker waits for the host before its deferred training warm-up
# After its first job, how long a worker waits for the host's next request before that warm-up: an "exit" (a
# pool closed after one job) is answered at once instead of after about 2 s of the warm-up's CPU; a job that
# comes in that time still waits for the warm-up first (every later job of a training question needs it).
TRAINING_WARM_AFTER_JOB_S = 0.1
# How long after sending an outcome the server waits before forking the next job's chain. Forking and warming
# it takes both workers' chains about 2 x 60 ms of CPU at once, while the host reads the outcome and judges it
# (2 to 4 ms of CPU): put off this long, on a quiet machine the verdict is out before they start, and the
# chain is still ready long before a learner's next answer. A job that comes sooner gets its chain at once.
PREPARE_AFTER_S = 0.02


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
        for event in parse_events(self.status):
            if event.get("ev") == "ready" and not self.ready_at:
                self.ready_at = time.monotonic()
            elif event.get("ev") == "error":
                self.failed = f"{event.get('where')}: {event.get('message')}"

    def timeline(self) -> dict[str, float]:
        """When (ms after the fork) C had started I, J was confined and J was warm: for diagnosis."""
        times = {e["ev"]: e["t"] for e in parse_events(self.status) if isinstance(e.get("t"), int | float)}
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
        close(self.pidfd, self.job_w, self.out_r, self.err_r, self.res_r, self.stat_r)
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
        # The full jail as root: the server forks each chain's I itself, into a new PID namespace (no C).
        self.direct_init = False
        self._pid_ns = -1  # the server's own PID namespace, for going back to it after such a fork
        self.seccomp: Any = None
        self.seccomp_problem = ""
        self._buffers: Buffers | None = None
        # Pre-forking (see the module docstring).
        self.prefork = os.environ.get("QUIZAPP_PREFORK", "1").strip() != "0" and sys.platform.startswith("linux")
        self.chain: Chain | None = None
        self.chain_scratch_kb = JobLimits().scratch_kb
        self.prepare_failures = 0
        self.last_phases: dict[str, float] = {}
        self._leftover_scratch: list[str] = []
        self._reap_pending = False  # the last job's C and I are ending: reap them as they do
        self.training_warm = False
        self.jobs_served = 0
        self._prepare_at = 0.0  # when to fork the next chain, put off after an outcome (0: not pending)

    # --- start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        # The protocol channel is a private copy of stdout; fd 1 now goes to stderr.
        self.proto_out = os.dup(1)
        widen_pipe(self.proto_out)  # an outcome (a ResNet job's: 130 KB) goes to the host in one write
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
        warm_up_torch(torch)
        from . import tasks

        self.tasks, self.task_problems = tasks.resolve()
        self.tasks.update(tasks.BUILTIN)
        for name, problem in self.task_problems.items():
            log(f"task {name!r} unavailable: {problem}")
        self.warm_up_tasks()
        if sys.platform.startswith("linux"):
            self.seccomp, self.seccomp_problem = seccomp.build()
        freeze_heap()
        self._choose_mode()

    def warm_up_tasks(self, stop: Callable[[], bool] | None = None) -> None:
        """Let each task module run its own warm-up (probes.warm_up runs every probe on our own small model).
        Run in the server, lazy initialisation happens once, before the forks; run again inside a prepared
        J, it makes the pages a job touches private before the job arrives. Only the project's code runs.
        `stop`: asked between steps by the warm-ups that take it; True when a job is waiting."""
        modules = {sys.modules.get(getattr(task, "__module__", "")) for task in self.tasks.values()}
        for module in sorted(filter(None, modules), key=lambda m: m.__name__):
            warm_up = getattr(module, "warm_up", None)
            if not callable(warm_up):
                continue
            if stop is not None and stop():
                return
            try:
                parameters = inspect.signature(warm_up).parameters
                if stop is not None and "stop" in parameters:
                    # in a prepared chain: one pass (the server's own warm-up ran the module's default), of
                    # what the module chooses for a chain
                    options = {"passes": 1, "chain": True}
                    warm_up(stop=stop, **{key: value for key, value in options.items() if key in parameters})
                else:
                    warm_up()
            except Exception as exc:  # a failed warm-up costs speed, not correctness
                log(f"warm-up of {module.__name__} failed: {exc!r}")

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
            self.direct_init = self.is_root and self._open_pid_namespace()
            outcome_header = self._selftest()
            if outcome_header["status"] != "ok" and self.direct_init:
                detail = outcome_header.get("detail")
                log(f"I forked by the server failed the self-test ({detail}): chains start with C")
                self.direct_init = False
                outcome_header = self._selftest()
            if outcome_header["status"] == "ok":
                self.mode_reason = "root, namespaces" if self.is_root else "user namespace"
                if self.seccomp_problem:
                    self.mode_reason += f"; {self.seccomp_problem}"
                return
            reason = f"the full jail failed its self-test: {outcome_header.get('detail')}"
        self.mode, self.mode_reason = "reduced", reason or ""
        if forced == "full":
            raise SystemExit(f"QUIZAPP_JAIL=full but the full jail is unavailable: {reason}")
        log(f"reduced jail: {reason}")

    def _selftest(self) -> dict[str, Any]:
        outcome_header, _ = self.run_job({"task": "__selftest__", "limits": JobLimits().as_dict()}, None)
        self.release_buffers()
        self.finish_job()
        return outcome_header

    def _open_pid_namespace(self) -> bool:
        try:
            self._pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log(f"cannot open the server's PID namespace ({exc}): chains start with C")
            return False
        return True

    def _fork_chain(self) -> int:
        """os.fork for a chain's first process. With direct_init, the child is PID 1 of a new PID namespace (I):
        unshare(CLONE_NEWPID) puts the server's next child there, and setns takes the server's later children
        back to its own namespace at once. One fork of the worker, and one process, fewer per chain than C
        (C's only work was to unshare and fork I): about 10 ms of CPU a chain at a load of 5."""
        if not self.direct_init:
            return os.fork()
        jail.unshare(jail.CLONE_NEWPID)
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:
                jail.setns(self._pid_ns, jail.CLONE_NEWPID)
        return pid

    def setup(self) -> child.Setup:
        return child.Setup(
            mode=self.mode,
            plan=self.plan,
            is_root=self.is_root,
            tasks=self.tasks,
            proto_out=self.proto_out,
            warm_up=lambda stop: self.warm_up_tasks(stop),
            seccomp=self.seccomp,
            profile=os.environ.get("QUIZAPP_JOB_PROFILE", "").strip() == "1",
            direct_init=self.direct_init,
        )

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
                "seccomp": self.seccomp is not None,
                "tasks": sorted(self.tasks),
                "task_problems": self.task_problems,
                "vm_bytes": jail.virtual_size(),
                "frozen_objects": gc.get_freeze_count(),
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
                if not self.training_warm and self.jobs_served:
                    self.warm_up_training()  # the second job came before the worker was idle: warm up once
                self.prepare_now()  # a job came before the delayed chain was forked: fork it now, for this job
                self.serve_job(header, blob_len)
            else:
                raise protocol.ProtocolError(f"unknown op {op!r}")

    def serve_job(self, header: dict[str, Any], blob_len: int) -> None:
        """One job, start to end: its outcome is always sent, whatever happens on the way."""
        payload = self._read_payload(blob_len)
        self.jobs_served += 1
        try:
            if header.get("task") not in self.tasks:
                outcome, parts = self._internal(header, f"unknown task {header.get('task')!r}"), []
            else:
                try:
                    outcome, parts = self.run_job(header, payload)
                except Exception as exc:  # a bug of ours: this job's internal_error, and the loop goes on
                    log(f"job {header.get('id')} failed in the server: {type(exc).__name__}: {exc}")
                    log(traceback.format_exc())
                    self.release_buffers()
                    self._drop_chain("the job failed in the server", failure=False)
                    self.finish_job()
                    outcome, parts = self._internal(header, f"the judge failed: {type(exc).__name__}"), []
            try:
                self.send(outcome, parts)
            finally:
                parts = []  # the last references to slices of the job's buffers
                self.release_buffers()
                if self.chain is None:  # a job ran (an unknown task leaves the prepared chain alone)
                    self.finish_job(wait=False)
        finally:
            if payload is not None:
                payload.close()
        # The next job's chain, once the host has had PREPARE_AFTER_S to read and judge this outcome on a core
        # of its own (_wait_for_host forks it then; a job arriving sooner gets it forked at once).
        self._prepare_at = time.monotonic() + PREPARE_AFTER_S

    def warm_up_training(self) -> None:
        """The training stack's warm-up (warm_up_training), once, outside any job, and then a new prepared
        chain that has it. Deferred from the start so the worker is ready (and a first verdict comes) as soon
        as torch is imported: it runs when the worker is first idle, or right after its first job at the
        latest (a batch of jobs waits once, about as long as one job used to), so every later job, on any
        question, finds the optimizers loaded."""
        self.training_warm = True
        try:
            import torch

            warm_up_training(torch)
        except Exception as exc:  # a failed warm-up costs speed, not correctness
            log(f"training warm-up failed: {exc!r}")
        freeze_heap()  # the training stack's objects too
        if sys.platform.startswith("linux"):
            # The worker is warm now: every chain forked from here on copies fewer page tables. Not at start,
            # where it would delay the first verdict (about 0.2 s of CPU).
            collapse_huge_pages()
        if self.chain is not None:
            self._drop_chain("prepared before the training warm-up", failure=False)
            self.prepare()

    def _wait_for_host(self) -> None:
        """Block until the host writes (or closes) stdin; meanwhile replace a prepared chain that ends, and
        reap what is left of the last job's chain as it ends."""
        if not self.training_warm:
            # Not while the host is talking to a worker that has just started (its ping, its first job), nor
            # before reading a request that comes right after the first job (serve warms up before such a job).
            idle = TRAINING_WARM_AFTER_JOB_S if self.jobs_served else TRAINING_WARM_IDLE_S
            if not select.select([0], [], [], idle)[0]:
                self.warm_up_training()
        while True:
            if self._prepare_at and time.monotonic() >= self._prepare_at:
                self.prepare_now()
            chain = self.chain
            waits = [0]
            timeout = None
            if chain is not None:
                if chain.pidfd >= 0:
                    waits.append(chain.pidfd)
                else:
                    timeout = 1.0
            if self._reap_pending:
                self._reap_exited()
                if self._reap_pending:
                    timeout = 0.02 if timeout is None else min(timeout, 0.02)
            if self._prepare_at:
                wait = max(0.0, self._prepare_at - time.monotonic())
                timeout = wait if timeout is None else min(timeout, wait)
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
        widen_pipe(res_r)
        stat_r, stat_w = os.pipe2(os.O_CLOEXEC)
        job_r, job_w = os.pipe2(os.O_CLOEXEC)
        scratch = self._make_scratch() if self.mode == "reduced" else ""
        scratch_kb = self.chain_scratch_kb
        setup = self.setup()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = self._fork_chain()
        if pid == 0:
            close(out_r, err_r, res_r, stat_r, job_w, self._pid_ns)
            child.prepared_chain(setup, nonce, job_r, out_w, err_w, res_w, stat_w, scratch, scratch_kb)
        close(out_w, err_w, res_w, stat_w, job_r)
        for fd in (out_r, err_r, res_r, stat_r):
            os.set_blocking(fd, False)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = -1
        self.chain = Chain(pid, pidfd, nonce, scratch_kb, scratch, job_w, out_r, err_r, res_r, stat_r, time.monotonic())

    def prepare_now(self) -> None:
        """Fork the chain whose preparation was put off after the last outcome (PREPARE_AFTER_S), if any."""
        if self._prepare_at:
            self._prepare_at = 0.0
            self.prepare()

    def _make_scratch(self) -> str:
        import tempfile

        return tempfile.mkdtemp(prefix=f"quizapp-job{self.slot}-")

    def _drop_chain(self, why: str, failure: bool) -> None:
        """Kill and reap the prepared chain (it is this server's only descendant while no job runs)."""
        chain, self.chain = self.chain, None
        if chain is None:
            return
        try_kill(chain.pid)
        chain.close_server_ends()
        kill_descendants()
        if chain.scratch:
            import shutil

            shutil.rmtree(chain.scratch, ignore_errors=True)
        if failure:
            self.prepare_failures += 1
            log(f"prepared chain dropped: {why}")
            if self.prepare_failures >= MAX_PREPARE_FAILURES:
                self.prefork = False
                log(f"pre-forking off after {self.prepare_failures} failures in a row: jobs take the cold path")

    def _take_chain(self, limits: JobLimits) -> Chain | None:
        """The prepared chain, if it is alive and can run a job with these limits; else None. It need not be
        warm yet: J takes its job between two steps of its warm-up."""
        chain = self.chain
        if chain is None:
            return None
        if self.mode == "full" and chain.scratch_kb != limits.scratch_kb:
            self.chain_scratch_kb = limits.scratch_kb  # prepare the next one at this job's size
            self._drop_chain("the job needs another scratch size", failure=False)
            return None
        chain.read_status()
        if chain.failed or chain.ended():
            chain.read_status()
            self._drop_chain(f"it ended before its job ({chain.failed or 'no report'})", failure=True)
            return None
        self.chain = None
        return chain

    # --- one job --------------------------------------------------------------------------------------

    def run_job(self, header: dict[str, Any], payload: mmap.mmap | None) -> tuple[dict[str, Any], list[Any]]:
        """Run one job: on the prepared chain when it can take it, else on a chain forked for it."""
        limits = JobLimits.of(header.get("limits"))
        header = {**header, "limits": limits.as_dict()}
        waited = time.monotonic()
        chain = self._take_chain(limits)
        if chain is not None:
            waited_ms = (time.monotonic() - waited) * 1000
            outcome, parts = self._run_prepared(header, limits, chain, payload)
            if not outcome.pop("retry", False):
                if outcome.get("status") != "internal_error":
                    self.prepare_failures = 0
                outcome["extra"] = {
                    "chain": "prepared",
                    "ready_wait_ms": round(waited_ms, 3),
                    "warm_when_taken": bool(chain.ready_at),
                    "prepared_ms": chain.timeline(),
                    "phases_ms": self.last_phases,
                }
                return outcome, parts
            log(f"prepared chain lost before its job ({outcome.get('detail')}): running the job cold")
            parts = []
            self.release_buffers()
            self.finish_job()
            self.prepare_failures += 1
        outcome, parts = self._run_cold(header, limits, payload)
        outcome["extra"] = {"chain": "cold", "phases_ms": self.last_phases}
        return outcome, parts

    def _run_prepared(
        self, header: dict[str, Any], limits: JobLimits, chain: Chain, payload: mmap.mmap | None
    ) -> tuple[dict[str, Any], list[Any]]:
        job = {"task": header["task"], "limits": header["limits"]}
        started = time.monotonic()  # the wall clock starts when the job is sent
        sent = False
        try:
            sent = self._send_job(chain, job, payload)
        finally:
            close(chain.job_w)
            chain.job_w = -1
        if not sent:
            try_kill(chain.pid)
        try:
            fds = (chain.out_r, chain.err_r, chain.res_r, chain.stat_r)
            watched = watch(
                self.mode, limits, chain.pid, chain.nonce, started, fds, chain.pidfd, chain.status, prepared=True
            )
        finally:
            chain.pidfd = -1  # closed by watch
            chain.close_server_ends()
            if chain.scratch:
                self._leftover_scratch.append(chain.scratch)
        return self._outcome(header, watched)

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

    def _run_cold(
        self, header: dict[str, Any], limits: JobLimits, payload: mmap.mmap | None
    ) -> tuple[dict[str, Any], list[Any]]:
        nonce = os.urandom(16).hex()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        widen_pipe(res_r)
        stat_r, stat_w = os.pipe2(os.O_CLOEXEC)
        scratch = self._make_scratch() if self.mode == "reduced" else ""
        setup = self.setup()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        started = time.monotonic()
        pid = self._fork_chain()
        if pid == 0:
            close(out_r, err_r, res_r, stat_r, self._pid_ns)  # the chain keeps nothing of the host's namespaces
            child.cold_chain(setup, header, payload, nonce, out_w, err_w, res_w, stat_w, scratch)
        close(out_w, err_w, res_w, stat_w)
        try:
            watched = watch(self.mode, limits, pid, nonce, started, (out_r, err_r, res_r, stat_r))
        finally:
            close(out_r, err_r, res_r, stat_r)
            if scratch:
                self._leftover_scratch.append(scratch)
        return self._outcome(header, watched)

    def _outcome(self, header: dict[str, Any], watched: Any) -> tuple[dict[str, Any], list[Any]]:
        """The outcome frame of a watched job: the verdict's decision, and the parts to forward."""
        self._buffers = watched.buffers
        self.last_phases = watched.phases
        decision: Decision = decide(watched.record)
        stdout, stderr = watched.buffers.part(0), watched.buffers.part(1)
        facts = decision.facts if decision.facts is not None else memoryview(b"")
        tensors = decision.tensors if decision.tensors is not None else memoryview(b"")
        outcome: dict[str, Any] = {
            "op": "outcome",
            "id": header.get("id"),
            "jail_mode": self.mode,
            "worker": self.slot,
            "wall_ms": round(watched.wall_ms, 3),
            "stdout_truncated": watched.record.output_exceeded,
            "stdout_len": len(stdout),
            "stderr_len": len(stderr),
            "facts_len": len(facts),
            "tensors_len": len(tensors),
            "status": decision.status,
            "detail": decision.detail,
            "cpu_ms": decision.cpu_ms,
            "max_rss_kb": decision.max_rss_kb,
            "exit_code": decision.exit_code,
            "signal": decision.signal,
        }
        if decision.retry:
            outcome["retry"] = True
        return outcome, [stdout, stderr, facts, tensors]

    def finish_job(self, wait: bool = True) -> None:
        """After a job's outcome is sent: kill whatever is left of its chain (C and I in full mode; the job's
        own processes are gone already) and remove its scratch directory (reduced mode). Always before the
        next chain is forked. With `wait`, reap them now; else they are reaped as they end (C and I take 10
        to 20 ms to tear down their namespaces and their copy of the server's memory), while the next chain
        is prepared and the next job may arrive: each job has a uid of its own, so nothing the next job is
        counted by (RLIMIT_NPROC) includes them."""
        if wait:
            kill_descendants()
            self._reap_pending = False
        else:
            kill_descendants(reap=False)
            self._reap_pending = True
            self._reap_exited()
        if self._leftover_scratch:
            import shutil

            for path in self._leftover_scratch:
                shutil.rmtree(path, ignore_errors=True)
            self._leftover_scratch.clear()

    def _reap_exited(self) -> None:
        """Reap the children that have ended, without waiting; done when none is left but the prepared chain."""
        reap_exited()
        chain_pid = self.chain.pid if self.chain is not None else -1
        self._reap_pending = any(pid != chain_pid for pid in children(os.getpid()))

    def release_buffers(self) -> None:
        """Unmap the last job's buffers, once nothing refers to slices of them."""
        buffers, self._buffers = self._buffers, None
        if buffers is not None:
            buffers.release()


def freeze_heap() -> None:
    """Move every object the worker holds now into the collector's permanent generation (gc.freeze), so that no
    collection in a forked chain walks them. A collection writes to the header of each object it examines: in a
    fresh fork of a warm worker (about 170,000 objects, a full collection: 140 ms), that made the pages of
    objects a job never uses private copies, and it ran in I, J's warm-up and the job alike. Measured in
    interleaved runs of a ResNet job (2 cores): J's job 42 to 43 ms of CPU instead of 48, I 7.3 ms instead
    of 9.9, and back to back 56 ms a verdict instead of 58 to 61. The objects stay alive as they would
    anyway: the worker keeps what it imported, and no collection needs to look at them again. Not preceded by a
    collection (140 ms at start): the cyclic garbage of the warm-ups (about 140 small objects, no tensors) stays
    with them. A learner's gc.unfreeze() in a job only brings the old cost back, in that job."""
    gc.freeze()


def warm_up_torch(torch: Any) -> None:
    """Run once, single-threaded, what most jobs run, so lazy initialisation happens before the forks."""
    import safetensors.torch  # noqa: F401
    from torch.nn import functional as F

    try:  # loaded before the fork, so every job's NumPy generator is seeded (child.seed_generators)
        import numpy  # noqa: F401
    except ImportError:
        pass
    with torch.no_grad():
        a = torch.randn(16, 16)
        (a @ a).relu().softmax(-1)
        F.conv2d(torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3), padding=1)
    layer = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
    layer(torch.randn(3, 4, requires_grad=True)).sum().backward()
    torch.allclose(a, a)


def warm_up_training(torch: Any) -> None:
    """One training step with each common optimizer, learning-rate schedulers, the usual losses, gradient
    clipping and a DataLoader, so that what they import and initialise on first use is in the worker before
    the forks. Building the first optimizer imports about 800 modules (torch._dynamo, sympy, ...), which took
    every job of a training question about 2.5 s; it takes the worker about as long as importing torch, once
    (see Server.warm_up_training for when)."""
    import torch.optim.lr_scheduler as schedulers
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    layer = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.1), nn.Linear(4, 3))
    data = DataLoader(TensorDataset(torch.randn(8, 4), torch.randint(0, 3, (8,))), batch_size=4, shuffle=True)
    optimizers = [
        torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4),
        torch.optim.Adam(layer.parameters(), lr=1e-3),
        torch.optim.AdamW(layer.parameters(), lr=1e-3),
        torch.optim.RMSprop(layer.parameters(), lr=1e-3),
        torch.optim.Adagrad(layer.parameters(), lr=1e-2),
    ]
    for optimizer in optimizers:
        scheduler = schedulers.StepLR(optimizer, step_size=1)
        cosine = schedulers.CosineAnnealingLR(optimizer, T_max=2)
        for x, y in data:
            optimizer.zero_grad()
            out = layer(x)
            loss = F.cross_entropy(out, y) + F.mse_loss(out, torch.zeros_like(out))
            loss = (
                loss
                + F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
                + nn.NLLLoss()(out.log_softmax(-1), y)
            )
            loss.backward()
            nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
            optimizer.step()
        scheduler.step()
        cosine.step()
    torch.autograd.grad(layer(torch.randn(2, 4)).sum(), list(layer.parameters()))


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
        kill_descendants()
    return 0


if __name__ == "__main__":
    sys.exit(main())
