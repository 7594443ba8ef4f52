"""The server's watch over one running job: read its pipes into buffers outside the heap, enforce the wall
clock and the output caps, notice when it ends, and record what happened (verdict.JobRecord).

Buffers: the job's stdout, stderr and result channel are read into anonymous mmaps created for the job and
unmapped after its outcome is sent (Buffers.release). The server never copies a byte of them into its heap,
which every later job shares copy-on-write.
"""

from __future__ import annotations

import mmap
import os
import resource
import select
import time
from dataclasses import dataclass, field

from . import protocol
from .limits import JobLimits
from .procs import kill_descendants, parse_events, try_kill
from .verdict import Exit, JobRecord

STATUS_EVENTS_MAX = 1 << 16
DRAIN_BYTES = 1 << 16
WALL_GRACE_S = 1.0  # after the job's main process ended, how long its pipes may stay open


@dataclass
class Buffers:
    """The job's three output buffers (mmaps) and how much of each is filled."""

    output_cap: int
    maps: list[mmap.mmap] = field(default_factory=list)
    views: list[memoryview] = field(default_factory=list)
    filled: list[int] = field(default_factory=lambda: [0, 0, 0])

    @classmethod
    def create(cls, output_cap: int) -> Buffers:
        # stdout, stderr, the result channel, and a place to drain a pipe past its cap
        sizes = (output_cap + 1, output_cap + 1, protocol.MAX_RESULT_BYTES + 1, DRAIN_BYTES)
        maps = [mmap.mmap(-1, size) for size in sizes]
        return cls(output_cap, maps, [memoryview(m) for m in maps])

    def part(self, index: int) -> memoryview:
        return self.views[index][: self.filled[index]]

    def release(self) -> None:
        for view in self.views:
            view.release()
        for buffer in self.maps:
            try:
                buffer.close()
            except BufferError:  # a slice still alive somewhere: unmapped when it goes
                pass
        self.views, self.maps = [], []


@dataclass
class Watched:
    record: JobRecord
    buffers: Buffers
    phases: dict[str, float]
    wall_ms: float
    init_pid: int
    reaped: bool


def watch(
    mode: str,
    limits: JobLimits,
    pid: int,
    nonce: str,
    started: float,
    fds: tuple[int, int, int, int],
    pidfd: int = -1,
    events_so_far: bytes | bytearray = b"",
    prepared: bool = False,
) -> Watched:
    """Watch the job whose chain is `pid` (the server's child) until it is over. fds: the server's ends of
    the job's stdout, stderr, result and status pipes. Closes pidfd; the caller closes the fds."""
    out_r, err_r, res_r, stat_r = fds
    deadline = started + limits.wall_seconds
    output_cap = limits.output_kb * 1024
    buffers = Buffers.create(output_cap)
    index = {out_r: 0, err_r: 1, res_r: 2}
    status_bytes = bytearray(events_so_far)  # a prepared chain's events so far: I's pid, J's ready
    open_fds = {out_r, err_r, res_r, stat_r}
    for fd in open_fds:
        os.set_blocking(fd, False)
    if pidfd < 0:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pass
    reaped: Exit | None = None
    # When the job was over: its chain reaped, or (full mode) I's report that J ended, which I sends only
    # after it has killed and reaped every process of the namespace, or, when J stopped itself and was the
    # namespace's only process, just before killing it (child._init). The outcome does not wait for C and I
    # to end (their teardown takes 10 to 20 ms): they are killed now and reaped after the outcome is sent,
    # before the next chain is forked.
    finished_at = 0.0
    init_pid = next((int(e["pid"]) for e in parse_events(status_bytes) if e.get("ev") == "init"), 0)
    killed_for = ""
    output_exceeded = result_exceeded = False
    # When (ms after the job was sent) the server saw: J take the job, the result channel close, I report
    # J's exit, the chain end. For the bench and for diagnosis; no verdict depends on them.
    phases: dict[str, float] = {}

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 3)

    def kill(reason: str) -> None:
        nonlocal killed_for
        if killed_for:
            return
        killed_for = reason
        if init_pid:
            try_kill(init_pid)
        try_kill(pid)
        kill_descendants(reap=False)

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
                        for event in parse_events(status_bytes):
                            if event.get("ev") == "init":
                                init_pid = int(event["pid"])
                            elif event.get("ev") in ("start", "exit"):
                                phases.setdefault(event["ev"], elapsed())
                            if event.get("ev") == "exit" and mode == "full" and not finished_at:
                                finished_at = time.monotonic()
                    continue
                i = index[fd]
                filled = buffers.filled
                if fd == res_r:
                    room = 0 if result_exceeded else len(buffers.views[2]) - filled[2]
                else:
                    room = 0 if output_exceeded else output_cap - filled[0] - filled[1] + 1
                if room <= 0:  # over the limit already: the job is being killed, drain what is left
                    try:  # into a buffer of its own (never the heap), overwritten each time
                        if not os.readv(fd, [buffers.views[3]]):
                            open_fds.discard(fd)
                    except BlockingIOError:
                        pass
                    continue
                try:
                    got = os.readv(fd, [buffers.views[i][filled[i] : filled[i] + room]])
                except BlockingIOError:
                    continue
                if not got:
                    open_fds.discard(fd)
                    if fd == res_r:
                        phases["result"] = elapsed()
                    continue
                filled[i] += got
                if fd == res_r and filled[2] > protocol.MAX_RESULT_BYTES:
                    result_exceeded = True
                    kill("result")
                elif fd != res_r and filled[0] + filled[1] > output_cap:
                    output_exceeded = True
                    filled[i] -= filled[0] + filled[1] - output_cap
                    kill("output")
            if reaped is None:
                try:
                    got_pid, wait_status, usage = os.wait4(pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: its status is lost
                    got_pid, wait_status, usage = pid, 0xFF00, resource.getrusage(resource.RUSAGE_CHILDREN)
                if got_pid == pid:
                    reaped = Exit(wait_status, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))
                    finished_at = finished_at or time.monotonic()
                    phases["reaped"] = elapsed()
                    kill_descendants()  # reduced mode: whatever the job left behind
        wall_ms = ((finished_at or time.monotonic()) - started) * 1000
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        if reaped is None:  # C and I, or a job that outlived the wall clock: the server reaps them later
            if init_pid:
                try_kill(init_pid)
            try_kill(pid)
    record = JobRecord(
        mode=mode,
        limits=limits,
        nonce=nonce,
        events=parse_events(status_bytes),
        reaped=reaped,
        killed_for=killed_for,
        output_exceeded=output_exceeded,
        result_exceeded=result_exceeded,
        prepared=prepared,
        result=buffers.part(2),
    )
    return Watched(record, buffers, phases, wall_ms, init_pid, reaped is not None)
