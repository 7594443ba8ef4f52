"""The host side of the judge: a pool of warm worker servers. No torch here: the UI process imports this.

    with Pool(size=2) as pool:
        outcome = pool.run("exec", {"code": "print(1)"}, JobLimits())

`Pool(size)` starts `size` servers (`python -P -m quizapp.judge.server --slot K`) in the background, each
with a clean, minimal environment that pins every thread pool to one thread (OMP, MKL, OpenBLAS) and caps
glibc's malloc arenas (MALLOC_ARENA_MAX only works when set before the process starts). `-P` keeps the
current directory off the worker's sys.path, since the jail binds every sys.path entry.

`run` is blocking and thread-safe: each call takes a free worker (waiting for one if all are busy), sends
the job, and reads the outcome. A worker that is dead or does not answer in time (wall limit plus a grace)
is killed and replaced in the background; its job is retried once on a fresh worker, and gets an
internal_error outcome (never blamed on the learner) if that fails too. `submit` does the same on a thread
and returns a Future.

Every path the jail must never show (the data directory, the user's and the built-in packs, QUIZAPP_PACKS
entries, the home directory) is computed here, from the host's environment, and handed to each server as
`--hide`: the servers themselves run with a clean environment.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import locations
from . import protocol, split
from .limits import JobLimits
from .protocol import JobOutcome, ProtocolError, internal_error

START_TIMEOUT_S = 180.0  # importing torch takes about 2 s; a loaded CI machine may take far longer
ANSWER_GRACE_S = 15.0  # beyond the job's wall limit, before a silent worker counts as wedged
MAX_START_FAILURES = 3
# A worker idle this long has prepared its next chain (forked, jailed, warmed: about 40 ms on a quiet
# 2-core machine), so a job split onto it does not wait for one (see Pool.run).
SPLIT_AFTER_IDLE_S = 0.1
SERVER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    # One hash seed for every worker and every run: set and dict-of-str orders in an answer, and so its
    # verdict, do not change from one run to the next (see child.seed_generators for the random generators).
    "PYTHONHASHSEED": "0",
}


class WorkerLost(Exception):
    """The worker died or stopped answering. `before_job`: it never took the job (so retrying is safe)."""

    def __init__(self, message: str, before_job: bool = False) -> None:
        super().__init__(message)
        self.before_job = before_job


def hidden_paths(extra: Iterable[str | Path] = ()) -> list[str]:
    """Host paths no job may see: every place packs and their reference facts live (the jail also hides
    every other copy of the quizapp package it finds on the path, see jail.make_plan). `extra`: more, such
    as the packs given with --pack."""
    paths = [
        *extra,
        locations.data_dir(),
        locations.user_packs_dir(),
        locations.builtin_packs_dir(),
        *locations.extra_pack_paths(),
        Path.home(),
    ]
    package = Path(__file__).resolve().parent.parent
    paths.append(package / "_builtin_packs")
    paths.append(package.parent / "questions")
    return sorted({str(Path(p).expanduser().absolute()) for p in paths})


def server_environment(prefork: bool = True) -> dict[str, str]:
    env = dict(SERVER_ENV)
    env["PATH"] = os.defpath
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = package_parent  # for a source checkout that is not installed
    for key in ("QUIZAPP_JAIL", "QUIZAPP_PREFORK", "QUIZAPP_JOB_PROFILE", "TZ"):
        if key in os.environ:
            env[key] = os.environ[key]
    if not prefork:
        env["QUIZAPP_PREFORK"] = "0"
    return env


class Worker:
    """One server process and its pipes. Used by one job at a time (the pool guarantees it)."""

    def __init__(self, slot: int, python: str, prefork: bool = True, hide: Iterable[str | Path] = ()) -> None:
        self.slot = slot
        self.ready = threading.Event()
        self.idle_since = time.monotonic()  # when it last became free (a job split onto it must find it idle)
        self.failed = ""
        self.info: dict[str, Any] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._buffer = bytearray()
        command = [python, "-P", "-m", "quizapp.judge.server", "--slot", str(slot)]
        for path in hidden_paths(hide):
            command += ["--hide", path]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_environment(prefork),
            cwd="/",
            close_fds=True,
            start_new_session=True,  # no terminal signals (Ctrl-C in the UI) reach the workers
        )
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.stdin = self.process.stdin.fileno()
        self.stdout = self.process.stdout.fileno()
        os.set_blocking(self.stdout, False)
        threading.Thread(target=self._drain_stderr, name=f"judge-stderr-{slot}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        try:
            for line in iter(stream.readline, b""):
                self.stderr_tail.append(line.decode(errors="replace").rstrip())
        except (OSError, ValueError):
            pass

    def start(self, timeout: float) -> None:
        """Wait for the server's ready frame, then check it answers a ping."""
        deadline = time.monotonic() + timeout
        try:
            header, _ = self.read_frame(deadline)
            if header.get("op") == "fatal":
                raise WorkerLost(str(header.get("message")))
            if header.get("op") != "ready":
                raise WorkerLost(f"unexpected first frame {header.get('op')!r}")
            self.info = header
            self.write(protocol.encode_frame({"op": "ping"}), deadline)
            pong, _ = self.read_frame(deadline)
            if pong.get("op") != "pong":
                raise WorkerLost(f"unexpected answer to ping {pong.get('op')!r}")
        except (WorkerLost, ProtocolError) as exc:
            self.failed = str(exc) or type(exc).__name__
            self.kill()
        finally:
            self.ready.set()

    def write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        try:
            while len(view):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerLost("the worker stopped reading")
                _, writable, _ = select.select([], [self.stdin], [], remaining)
                if writable:
                    written = os.write(self.stdin, view[: 1 << 16])
                    view = view[written:]
        except (BrokenPipeError, OSError) as exc:
            raise WorkerLost(f"the worker is gone ({exc})") from None

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerLost("the worker did not answer in time")
            readable, _, _ = select.select([self.stdout], [], [], remaining)
            if not readable:
                continue
            try:
                chunk = os.read(self.stdout, max(1 << 16, n - len(self._buffer)))
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WorkerLost(f"the worker is gone ({exc})") from None
            if not chunk:
                raise WorkerLost("the worker exited")
            self._buffer += chunk

    def read_frame(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        size = protocol.PREFIX.size
        self._fill(size, deadline)
        head_len, blob_len = protocol.parse_prefix(bytes(self._buffer[:size]), protocol.MAX_RESULT_BYTES + (8 << 20))
        total = size + head_len + blob_len
        self._fill(total, deadline)
        header = protocol.parse_header(self._buffer[size : size + head_len])
        blob = bytes(self._buffer[size + head_len : total])
        del self._buffer[:total]
        return header, blob

    def run(self, task: str, payload: bytes, limits: JobLimits, job_id: int) -> JobOutcome:
        header = {"op": "job", "id": job_id, "task": task, "limits": limits.as_dict()}
        deadline = time.monotonic() + float(limits.wall_seconds) + ANSWER_GRACE_S
        if not self.alive:
            raise WorkerLost("the worker had exited", before_job=True)
        frame = protocol.encode_frame(header, payload)
        self.write(frame, deadline)
        try:
            answer, blob = self.read_frame(deadline)
        except ProtocolError as exc:
            raise WorkerLost(f"protocol error from the worker: {exc}") from None
        if answer.get("op") != "outcome" or answer.get("id") != job_id:
            raise WorkerLost(f"unexpected frame from the worker: {answer.get('op')!r}")
        try:
            outcome = protocol.outcome_from_frame(answer, blob)
        except (ProtocolError, TypeError, ValueError) as exc:
            raise WorkerLost(f"malformed outcome from the worker: {exc}") from None
        if answer.get("fatal"):
            self.kill()  # the server stops after this job; make sure it is replaced
        return outcome

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Ask the server to stop, then make sure it has."""
        if self.alive:
            try:
                self.write(protocol.encode_frame({"op": "exit"}), time.monotonic() + 1)
                self.process.wait(timeout=2)
            except (WorkerLost, subprocess.TimeoutExpired, OSError):
                pass
        self.kill()


class Pool:
    """A pool of `size` warm, jailed torch workers. Thread-safe; a context manager."""

    def __init__(
        self,
        size: int = 2,
        *,
        python: str | None = None,
        start_timeout: float = START_TIMEOUT_S,
        prefork: bool = True,
        hide: Iterable[str | Path] = (),
        split_jobs: bool = True,
    ) -> None:
        """`prefork` (the default) prepares each job's warm chain while a worker is idle: the lowest latency for
        a learner's Run and Submit. Batch grading turns it off: jobs arrive back to back, so the chain's warm-up
        is work done twice, and cold forks give more answers per second (21/s against 16/s for ResNet here).
        `hide`: more host paths the jail must not show (the packs given with --pack), besides hidden_paths().
        `split_jobs`: a probe job may run in two parts on two idle workers (see run)."""
        self.prefork = prefork
        self.hide = [str(path) for path in hide]
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size = size
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._free: collections.deque[Worker] = collections.deque()
        self._available = threading.Condition(self._lock)
        self._workers: dict[int, Worker] = {}
        self._failures: dict[int, int] = {slot: 0 for slot in range(size)}
        self._broken = ""
        self._closed = False
        self._job_ids = iter(range(1, 1 << 62))
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._parts_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._asked = 0  # calls of run() in progress: a job is split only when it is the only one
        self.split_jobs = split_jobs and size > 1
        self._warm = threading.Event()
        for slot in range(size):
            self._spawn(slot)
        self._finalizer = weakref.finalize(self, Pool._finalize, self._workers)

    # --- workers --------------------------------------------------------------------------------------

    def _spawn(self, slot: int) -> None:
        def start() -> None:
            try:
                worker = Worker(slot, self.python, self.prefork, self.hide)
            except OSError as exc:
                self._start_failed(slot, f"cannot start a worker: {exc}")
                return
            with self._lock:
                if self._closed:
                    worker.kill()
                    return
                self._workers[slot] = worker
            worker.start(self.start_timeout)
            with self._lock:
                if self._closed:
                    worker.kill()
                    return
                if worker.failed:
                    tail = "\n".join(list(worker.stderr_tail)[-5:])
                    failure = worker.failed + (f"\n{tail}" if tail else "")
                else:
                    self._failures[slot] = 0
                    self._free.append(worker)
                    self._available.notify()
                    if all(
                        slot in self._workers and self._workers[slot].info and not self._workers[slot].failed
                        for slot in range(self.size)
                    ):
                        self._warm.set()
                    return
            self._start_failed(slot, failure)

        threading.Thread(target=start, name=f"judge-start-{slot}", daemon=True).start()

    def _start_failed(self, slot: int, message: str) -> None:
        with self._lock:
            self._failures[slot] += 1
            if self._failures[slot] >= MAX_START_FAILURES or "QUIZAPP_JAIL=full" in message:
                if all(n >= MAX_START_FAILURES for n in self._failures.values()) or "QUIZAPP_JAIL=full" in message:
                    self._broken = message
                self._available.notify_all()
                return
        self._spawn(slot)

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            self._warm.clear()
            if self._closed:
                return
            if self._workers.get(worker.slot) is worker:
                del self._workers[worker.slot]
        self._spawn(worker.slot)

    def _acquire(self, deadline: float) -> Worker | None:
        with self._lock:
            while True:
                if self._closed:
                    return None
                while self._free:
                    worker = self._free.popleft()
                    if worker.alive:
                        return worker
                    self._lock.release()
                    try:
                        self._replace(worker)
                    finally:
                        self._lock.acquire()
                if self._broken:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._available.wait(min(remaining, 1.0))

    def _release(self, worker: Worker) -> None:
        with self._lock:
            if self._closed:
                worker.close()
                return
            worker.idle_since = time.monotonic()
            self._free.append(worker)
            self._available.notify()

    def _acquire_idle(self, idle_for: float) -> Worker | None:
        """A free worker that has been idle at least `idle_for` seconds (so its next chain is prepared), at
        once; None when there is none, or when another job is being asked for (it would wait for the part)."""
        with self._lock:
            if self._closed or self._asked > 1:  # another job is asked for: it gets the worker
                return None
            now = time.monotonic()
            for worker in list(self._free):
                if worker.alive and worker.info and now - worker.idle_since >= idle_for:
                    self._free.remove(worker)
                    return worker
        return None

    # --- public ---------------------------------------------------------------------------------------

    @property
    def warm(self) -> bool:
        """Whether every worker has imported torch and answered a ping."""
        return self._warm.is_set()

    def wait_warm(self, timeout: float | None = None) -> bool:
        return self._warm.wait(timeout)

    @property
    def jail_mode(self) -> str:
        """'full' or 'reduced'. Blocks until a worker has started, since each detects it when starting."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            with self._lock:
                for worker in self._workers.values():
                    if worker.info:
                        return str(worker.info.get("jail_mode"))
                if self._broken or self._closed:
                    return "unknown"
            time.sleep(0.05)
        return "unknown"

    @property
    def jail_reason(self) -> str:
        self.jail_mode  # noqa: B018 (waits for a worker)
        with self._lock:
            for worker in self._workers.values():
                if worker.info:
                    return str(worker.info.get("jail_reason", ""))
        return ""

    def worker_pids(self) -> dict[int, int]:
        """slot -> pid of every live worker."""
        with self._lock:
            return {slot: w.pid for slot, w in self._workers.items() if w.alive}

    def run(self, task: str, payload: dict[str, Any], limits: Any = None) -> JobOutcome:
        """Run one job on a free worker and return its outcome. Blocking; safe from several threads, and the
        way to grade many answers at once: each call takes a free worker. `limits`: a JobLimits, or anything
        with its fields (a pack's Limits), or None for the defaults.

        A probe job with several checks is split in two when another worker has been idle long enough to
        have its chain prepared (split.py: the parts run at once, on two cores, and their facts are the
        whole job's); a busy pool (batch grading, many files at once) runs each job whole."""
        limits = JobLimits.of(limits)
        with self._lock:
            self._asked += 1
        try:
            return self._run_split_or_whole(task, payload, limits)
        finally:
            with self._lock:
                self._asked -= 1

    def _run_split_or_whole(self, task: str, payload: dict[str, Any], limits: JobLimits) -> JobOutcome:
        parts = split.split_job(payload) if task in split.SPLIT_TASKS and self.split_jobs else None
        if parts is None:
            return self._run(task, payload, limits)
        first = self._acquire(time.monotonic() + self.start_timeout)
        helper = self._acquire_idle(SPLIT_AFTER_IDLE_S) if first is not None else None
        if helper is None:
            return self._run(task, payload, limits, first)
        with self._lock:
            if self._parts_executor is None:
                self._parts_executor = concurrent.futures.ThreadPoolExecutor(self.size, thread_name_prefix="judge-part")
            executor = self._parts_executor
        try:
            later = executor.submit(self._run, task, parts[1], limits, helper)
        except RuntimeError:  # the pool is closing
            self._release(helper)
            return self._run(task, payload, limits, first)
        outcomes = [self._run(task, parts[0], limits, first), later.result()]
        try:
            return split.merge_outcomes(outcomes, limits)
        except Exception as exc:  # our bug: this job's internal_error, never a crash of the caller
            return internal_error(f"the judge could not merge a split job: {type(exc).__name__}: {exc}")

    def _run(self, task: str, payload: dict[str, Any], limits: JobLimits, worker: Worker | None = None) -> JobOutcome:
        """Run one job whole: on `worker` if given (already taken from the free list), else on a free one."""
        try:
            data = json.dumps(payload).encode()
        except (TypeError, ValueError) as exc:
            if worker is not None:
                self._release(worker)
            return internal_error(f"the job's payload is not JSON: {exc}")
        if len(data) > protocol.MAX_PAYLOAD_BYTES:
            if worker is not None:
                self._release(worker)
            return internal_error("the job's payload is too large")
        attempts = 0
        start_deadline = time.monotonic() + self.start_timeout
        while True:
            if worker is None or not worker.alive:
                if worker is not None:
                    self._replace(worker)
                worker = self._acquire(start_deadline)
            if worker is None:
                if self._closed:
                    return internal_error("the judge was closed")
                return internal_error(f"the judge could not start: {self._broken or 'no worker became ready'}")
            try:
                with self._lock:
                    job_id = next(self._job_ids)
                outcome = worker.run(task, data, limits, job_id)
            except WorkerLost as exc:
                lost, worker = worker, None
                mode = str(lost.info.get("jail_mode", "unknown"))
                self._replace(lost)
                if exc.before_job:
                    continue  # it died between jobs: not this job's doing
                attempts += 1
                if attempts <= 1:
                    continue
                tail = " | ".join(list(lost.stderr_tail)[-3:])
                return internal_error(
                    f"the judge's worker failed: {exc}", worker=lost.slot, jail_mode=mode, server_log=tail
                )
            except BaseException:
                self._replace(worker)
                raise
            if outcome.status in ("internal_error", "runtime_error") and outcome.extra.get("task_report"):
                report = outcome.extra["task_report"]
                detail = f"{outcome.detail}: {report.get('type', '')}: {report.get('message', '')}".strip()
                outcome = dataclasses.replace(outcome, detail=detail)
            if worker.alive:
                self._release(worker)
            else:
                self._replace(worker)
            return outcome

    def submit(self, task: str, payload: dict[str, Any], limits: Any = None) -> concurrent.futures.Future[JobOutcome]:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(self.size * 2, thread_name_prefix="judge-job")
            executor = self._executor
        return executor.submit(self.run, task, payload, limits)

    def close(self) -> None:
        """Stop every worker and every job. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers.values())
            self._free.clear()
            self._available.notify_all()
            executor, self._executor = self._executor, None
            parts_executor, self._parts_executor = self._parts_executor, None
        for worker in workers:
            worker.close()
        for pending in (executor, parts_executor):
            if pending is not None:
                pending.shutdown(wait=False, cancel_futures=True)
        self._finalizer.detach()

    def terminate(self) -> None:
        """Stop every worker now (SIGKILL to each one's process group), without waiting for any: for a process
        about to end at once (the app's quit, which exits without running exit handlers). Asked politely, a
        worker still importing torch would read its pipe only when warm, seconds of both cores later.
        Idempotent; close() after it does nothing more."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._free.clear()
            self._available.notify_all()
        for worker in workers:
            try:
                os.killpg(worker.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    @staticmethod
    def _finalize(workers: dict[int, Worker]) -> None:
        for worker in list(workers.values()):
            worker.kill()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
