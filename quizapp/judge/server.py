"""The warm worker: imports torch once, then forks one jailed child per job. Run by the pool as
`python -P -m quizapp.judge.server --slot K [--hide PATH ...]`.

Protocol (frames, see protocol.py): the host writes a job frame whose blob is the payload; the server reads
only the frame's prefix and header, forks, and the child reads the payload bytes from the pipe. So the
server's memory, which every later job shares copy-on-write, never holds a learner's code, a reference
solution or a payload. For the same reason the server never parses what a job sends back: it reads the
job's stdout, stderr and result channel into anonymous mmaps created after the fork, checks only the
result's small envelope (a per-job nonce and a status), forwards the bytes to the host and unmaps them.

The server's own stdout is the protocol channel: it is moved to another descriptor at start and fd 1 is
pointed at stderr, so a stray print (a library warning) cannot corrupt a frame.

Threads: OMP/MKL/OpenBLAS are pinned to one thread by the environment the pool sets (and again here, before
torch is imported), torch.set_num_threads(1) and set_num_interop_threads(1) run before any op, and the
server never runs a parallel op: forking after OpenMP started threads can hang the child.

The server is a child subreaper: whatever a job leaves behind is re-parented to it, and it kills and reaps
every descendant after each job. In full mode it ends a job by killing the job's PID 1, which makes the
kernel kill everything in the job's PID namespace.
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
from pathlib import Path
from typing import Any

from . import jail, protocol

EXIT_SETUP = 121
STATUS_EVENTS_MAX = 1 << 16
WALL_GRACE_S = 1.0  # after the job's main process ended, how long its pipes may stay open
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ENVELOPE_STATUSES = ("returned", "memory", "task_error", "setup_error")


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
        self._warm_up(torch)
        from . import tasks

        self.tasks, self.task_problems = tasks.resolve()
        self.tasks.update(tasks.BUILTIN)
        for name, problem in self.task_problems.items():
            log(f"task {name!r} unavailable: {problem}")
        self._warm_up_tasks()
        self._choose_mode()

    def _warm_up_tasks(self) -> None:
        """Let each task module run its own warm-up (probes.warm_up runs every probe on our own small model):
        a forked ResNet job then costs about 30 ms instead of 50. Only the project's code runs here."""
        modules = {sys.modules.get(getattr(task, "__module__", "")) for task in self.tasks.values()}
        for module in modules:
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
            }
        )
        while True:
            try:
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
                if outcome.get("fatal"):
                    log(f"stopping: {outcome.get('detail')}")
                    return
            else:
                raise protocol.ProtocolError(f"unknown op {op!r}")

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

    # --- one job --------------------------------------------------------------------------------------

    def run_job(self, header: dict[str, Any], trial: bool = False) -> tuple[dict[str, Any], list[Any]]:
        nonce = os.urandom(16).hex()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        res_r, res_w = os.pipe2(os.O_CLOEXEC)
        stat_r, stat_w = os.pipe2(os.O_CLOEXEC)
        scratch = ""
        if self.mode == "reduced":
            import tempfile

            scratch = tempfile.mkdtemp(prefix=f"quizapp-job{self.slot}-")
            if self.is_root:
                os.chown(scratch, self.job_uid, self.job_uid)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            for fd in (out_r, err_r, res_r, stat_r):
                os.close(fd)
            _child(self, header, nonce, out_w, err_w, res_w, stat_w, scratch)  # never returns
        for fd in (out_w, err_w, res_w, stat_w):
            os.close(fd)
        try:
            return self._collect(header, pid, nonce, started, out_r, err_r, res_r, stat_r, trial)
        finally:
            for fd in (out_r, err_r, res_r, stat_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._clean_up()
            if scratch:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)

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
        trial: bool,
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
        status_bytes = bytearray()
        open_fds = {out_r, err_r, res_r, stat_r}
        for fd in open_fds:
            os.set_blocking(fd, False)
        pidfd = -1
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pass
        reaped: tuple[int, Any] | None = None
        reaped_at = 0.0
        init_pid = 0
        killed_for = ""
        output_exceeded = result_exceeded = False

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
                if reaped is None and now >= deadline and not killed_for:
                    kill("wall")
                if reaped is not None and (not open_fds or now - reaped_at > WALL_GRACE_S):
                    break
                waits = list(open_fds) + ([pidfd] if pidfd >= 0 and reaped is None else [])
                timeout = max(0.0, deadline - now) if reaped is None and not killed_for else 0.05
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
                        reaped_at = time.monotonic()
                        _kill_descendants()  # reduced mode: whatever the job left behind
            wall_ms = (reaped_at - started) * 1000 if reaped else (time.monotonic() - started) * 1000
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
                trial,
            )
        finally:
            if pidfd >= 0:
                os.close(pidfd)
            if reaped is None:
                kill("cleanup")
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
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
        trial: bool,
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
        fatal = "payload" not in by_kind and int(header.get("payload_len", 0)) > 0
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
        base.update(cpu_ms=round(cpu_ms, 3), max_rss_kb=int(max_rss_kb), exit_code=exit_code, signal=signal_number)

        def done(status: str, detail: str = "", **extra: Any) -> tuple[dict[str, Any], list[Any]]:
            base.update(status=status, detail=detail, **extra)
            if fatal:
                base["fatal"] = True
            return base, parts

        error = by_kind.get("error")
        if error is not None:
            return done("internal_error", f"the jail could not start the job: {error.get('message')}")
        if fatal:
            return done("internal_error", "the job did not take its payload")
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

    def _clean_up(self) -> None:
        _kill_descendants()

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


def _child(
    server: Server, header: dict[str, Any], nonce: str, out_w: int, err_w: int, res_w: int, stat_w: int, scratch: str
) -> None:
    """C: take the payload, then either enter the namespaces and start PID 1 (full) or be the job (reduced)."""
    code = EXIT_SETUP
    try:
        _default_signals()
        server_pid = os.getppid()
        payload = read_exact(0, int(header.get("payload_len", 0)))
        _status(stat_w, ev="payload")
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.close(server.proto_out)
        if server.mode == "reduced":
            _job(server, header, payload, nonce, out_w, err_w, res_w, scratch)
        plan = server.plan
        assert plan is not None
        jail.enter_namespaces(user_namespace=not server.is_root)
        jail.set_parent_death_signal(signal.SIGKILL, server_pid)
        init = os.fork()
        if init == 0:
            _init(server, header, payload, nonce, out_w, err_w, res_w, stat_w)
        del payload
        _status(stat_w, ev="init", pid=init)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        os.waitpid(init, 0)
        code = 0
    except BaseException as exc:
        _status(stat_w, ev="error", where="C", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


def _init(
    server: Server, header: dict[str, Any], payload: bytes, nonce: str, out_w: int, err_w: int, res_w: int, stat_w: int
) -> None:
    """I, PID 1 of the job's namespace: build the root, start the job as PID 2, reap, report."""
    code = EXIT_SETUP
    try:
        jail.set_parent_death_signal(signal.SIGKILL, 0)  # the parent is outside this namespace: pid 0
        jail.set_name("quizapp-init")
        jail.prctl(jail.PR_SET_DUMPABLE, 0)
        limits = header["limits"]
        scratch_kb = max(int(limits["file_size_kb"]) * 4, 64)
        assert server.plan is not None
        jail.build_root(server.plan, scratch_kb, server.job_uid if server.is_root else None)
        job = os.fork()
        if job == 0:
            os.close(stat_w)
            _job(server, header, payload, nonce, out_w, err_w, res_w, jail.SCRATCH_DIR)
        del payload
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        while True:
            pid, status, usage = os.wait4(-1, 0)
            if pid == job:
                break
        _status(stat_w, ev="exit", status=status, utime=usage.ru_utime, stime=usage.ru_stime, maxrss=usage.ru_maxrss)
        code = 0
    except BaseException as exc:
        _status(stat_w, ev="error", where="init", message=f"{type(exc).__name__}: {exc}")
    finally:
        os._exit(code)  # the kernel now kills whatever is left in the namespace


def _job(
    server: Server, header: dict[str, Any], payload: bytes, nonce: str, out_w: int, err_w: int, res_w: int, scratch: str
) -> None:
    """J: the job itself. Confine, run the task, send one frame on fd 3, exit. Never returns."""
    import io

    def frame(status: str, facts: bytes = b"", tensors: bytes = b"") -> bytes:
        envelope = {"nonce": nonce, "status": status, "facts_len": len(facts), "tensors_len": len(tensors)}
        return protocol.encode_frame(envelope, facts + tensors)

    limits = header["limits"]
    try:
        jail.close_fds_except({1: out_w, 2: err_w, 3: res_w})
        try:
            os.setsid()
        except OSError:
            pass
        _default_signals()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        base_vsize = jail.virtual_size()
        processes = int(limits["processes"])
        nproc: int | None = processes
        if sys.platform.startswith("linux"):
            if server.is_root:
                jail.drop_to_job_user(server.job_uid, server.plan.last_cap if server.plan else jail.last_capability())
            elif server.mode == "full":
                jail.drop_all_capabilities(server.plan.last_cap if server.plan else jail.last_capability())
                nproc = processes + 2  # C and I live in the same user namespace
            else:
                nproc = jail.count_user_tasks(os.getuid()) + processes - 1  # this process is counted already
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
        memory_frame = frame("memory")
        task = server.tasks[header["task"]]
        import safetensors.torch

        jail.set_limits(limits, nproc, base_vsize)
    except BaseException as exc:
        try:
            write_all(3, frame("setup_error", json.dumps({"message": f"{type(exc).__name__}: {exc}"}).encode()))
        finally:
            os._exit(EXIT_SETUP)

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
            result = frame("returned", facts_bytes, tensor_bytes)
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
            result = frame("task_error", json.dumps(report).encode())
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
