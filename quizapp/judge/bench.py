"""`python -m quizapp.judge.bench [N] [FRESH]`: what the warm pool buys, measured on this machine.

Prints the median and p95 wall time of N trivial exec jobs through the warm pool, the same for FRESH jobs
each run as a fresh `python -c 'import torch; ...'` process with rlimits (the naive alternative), and each
worker's memory as PSS (proportional set size: shared pages divided among the processes sharing them), read
from /proc/PID/smaps_rollup. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

from ..packs.model import Limits
from .pool import Pool, server_environment

TRIVIAL = "import torch\nx = torch.ones(4, 4)\nRESULT = float((x @ x).sum())"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe(name: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), percentile(values, 0.95)
    return f"{name:<28} n={len(values):<4} median {median:8.1f} ms   p95 {p95:8.1f} ms"


def pss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fresh_job() -> float:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (10, 11))

    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", TRIVIAL + "\nprint(RESULT)"],
        env=server_environment(),
        preexec_fn=limit,
        check=True,
        capture_output=True,
    )
    return (time.monotonic() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 50
    fresh_n = int(args[1]) if len(args) > 1 else 5
    limits = Limits()
    started = time.monotonic()
    with Pool(size=2) as pool:
        pool.wait_warm(300)
        print(f"pool warm after {time.monotonic() - started:.2f} s; jail mode {pool.jail_mode} ({pool.jail_reason})")
        pool.run("exec", {"code": TRIVIAL}, limits)  # first job after start-up
        warm = []
        for _ in range(n):
            t = time.monotonic()
            outcome = pool.run("exec", {"code": TRIVIAL}, limits)
            warm.append((time.monotonic() - t) * 1000)
            if outcome.status != "ok":
                print(f"job failed: {outcome.status} {outcome.detail}")
        served = [pool.run("exec", {"code": TRIVIAL}, limits).wall_ms for _ in range(min(n, 20))]
        total = 0
        for slot, pid in sorted(pool.worker_pids().items()):
            pss = pss_kb(pid)
            total += pss or 0
            print(f"worker {slot} pid {pid}: PSS {pss / 1024 if pss else float('nan'):.1f} MiB")
        print(f"pool PSS total: {total / 1024:.1f} MiB")
    fresh = [fresh_job() for _ in range(fresh_n)]
    print(describe("warm pool (host round trip)", warm))
    print(describe("warm pool (server's wall)", served))
    print(describe("fresh python + import torch", fresh))
    print(f"speed-up (median): {statistics.median(fresh) / statistics.median(warm):.0f}x")
    print(f"cores: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
