"""Hostile answers against the real jail: each gets exactly the outcome it earned, the host sees nothing of
it, and the same pool answers a normal job right after.

Every case in the list of docs' SANDBOX.md is here. The network cases never send a packet off this machine:
the job first checks that its network namespace has nothing but a loopback interface, and only then tries an
outside address (192.0.2.1, a documentation address that is never routed) and a name lookup.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from judge_support import comm, descendants, leftovers, prepared_chain

from quizapp import locations
from quizapp.judge import jail
from quizapp.judge.pool import Pool
from quizapp.packs.model import Limits

SECRET_NAME = "QUIZAPP_TEST_SECRET"
SECRET_VALUE = f"s3cret-{uuid.uuid4().hex}"
LIMITS = Limits(cpu_seconds=1, wall_seconds=3, memory_mb=256, output_kb=16, processes=1, file_size_kb=64)
FORKING = LIMITS.model_copy(update={"processes": 4})


@pytest.fixture(scope="module")
def pool():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_NAME, SECRET_VALUE)  # in the host's environment while the workers start
        pool = Pool(size=2)
    with pool:
        assert pool.wait_warm(180), "the judge's workers did not start"
        if pool.jail_mode != "full":
            pytest.skip(f"the full jail is unavailable here: {pool.jail_reason}")
        yield pool


def run(pool: Pool, text: str, limits: Limits = LIMITS):
    return pool.run("exec", {"code": textwrap.dedent(text)}, limits)


def processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def job_uid_processes(pool: Pool) -> list[int]:
    """Processes owned by any job uid (root mode only), this pool's or another judge's."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("Uid:") and int(line.split()[1]) >= jail.JOB_UID_BASE:
                            found.append(int(entry))
            except OSError:
                pass
    return found


def judge_servers() -> list[int]:
    """Every judge server process on this machine (and their forks), this pool's or another's."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"quizapp.judge.server" in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def inside(pid: int, roots: set[int]) -> bool:
    """Whether pid descends from one of roots."""
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        pid = parent(pid)
        if pid in roots:
            return True
    return False


def pool_processes(pool: Pool) -> list[int]:
    """This pool's workers and everything below them, and every job process that escaped any judge's tree:
    what a job could leave behind, without the other processes of a shared machine."""
    workers = list(pool.worker_pids().values())
    servers = set(judge_servers())
    escaped = [p for p in job_uid_processes(pool) if not inside(p, servers)]
    return [*workers, *(p for w in workers for p in descendants(w)), *escaped]


def stray_job_uid_processes(pool: Pool, timeout: float = 15.0) -> list[int]:
    """Processes with a job uid outside every judge worker's tree, once things have settled: a job's process
    that escaped its chain. Any judge's tree counts: other pools on this machine (a test run next to the app,
    other checkouts' tests) have chains and running jobs with the same job uids. What a job left behind
    inside this pool's workers is `leftovers`' to find."""
    deadline = time.monotonic() + timeout
    while True:
        servers = set(judge_servers())
        stray = [p for p in job_uid_processes(pool) if not inside(p, servers)]
        if not stray or time.monotonic() > deadline:
            return stray
        time.sleep(0.02)


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """The built-in ResNet question, its reference solution, and a grader with a reference cache of its own."""
    from quizapp.grading.grader import Grader, ReferenceCache
    from quizapp.packs.loader import load_pack

    pack = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
    question = pack.question("resnet-residual-block")
    cache = ReferenceCache(tmp_path_factory.mktemp("reference"))
    return pack, question, lambda pool: Grader(pool, cache)


@pytest.fixture
def healthy(pool, resnet):
    """Before: note the workers. After: same workers, no job process left, a normal job answers, and a correct
    ResNet answer is graded accepted in the same pool (nothing of the attack stayed in a worker)."""
    before = pool.worker_pids()
    yield pool
    assert pool.worker_pids() == before, "a worker died"
    # Was: no descendants and no process with a job uid at all. Now each idle worker keeps its next job's
    # chain ready (see server.py), whose J already runs as the job uid: anything else is a leftover.
    for pid in before.values():
        assert leftovers(pid) == [], "a job's process outlived it"
    assert stray_job_uid_processes(pool) == []
    for expected in (1, 2):  # twice, so both workers are likely exercised
        outcome = run(pool, f"RESULT = {expected}")
        assert outcome.status == "ok", outcome.detail
        assert outcome.facts == {"ok": True, "result": expected}
    pack, question, grader = resnet
    result = grader(pool).grade(pack, question, question.solution)
    assert result.verdict == "accepted", result.message


# --- time -------------------------------------------------------------------------------------------------


# The CPU-limit cases give the wall clock room (the CPU limit ends them first): on a loaded machine a job may
# get a quarter of a core, and the wall clock would end it before it had used its CPU time.
CPU_BOUND = LIMITS.model_copy(update={"wall_seconds": 20})


def test_infinite_loop_is_a_time_limit(healthy):
    outcome = run(healthy, "while True:\n    pass", CPU_BOUND)
    assert outcome.status == "time_limit"
    assert "CPU" in outcome.detail
    assert outcome.facts is None


def test_sleep_is_a_time_limit_by_wall_clock(healthy):
    outcome = run(healthy, "import time\ntime.sleep(60)", LIMITS.model_copy(update={"wall_seconds": 1.5}))
    assert outcome.status == "time_limit"
    assert outcome.detail == "killed after 1.5 s of wall time"
    assert 1400 < outcome.wall_ms < 10000


def test_ignoring_sigxcpu_is_still_a_time_limit(healthy):
    outcome = run(
        healthy,
        """
        import signal
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        while True:
            pass
        """,
        CPU_BOUND,
    )
    assert outcome.status == "time_limit"
    assert "CPU" in outcome.detail  # killed by the hard CPU limit, not the wall clock


# --- memory -----------------------------------------------------------------------------------------------


def test_memory_hog_in_bytes_is_a_memory_limit(healthy):
    outcome = run(healthy, "hog = bytearray(2 * 1024**3)")
    assert outcome.status == "memory_limit"
    assert outcome.detail == "used more than 256 MB"


def test_memory_hog_in_small_steps_is_a_memory_limit(healthy):
    outcome = run(healthy, "hog = []\nwhile True:\n    hog.append(bytearray(8 * 1024**2))")
    assert outcome.status == "memory_limit"


def test_memory_hog_in_tensors_is_a_memory_limit(healthy):
    outcome = run(healthy, "import torch\nhog = torch.ones(1024, 1024, 512)")
    assert outcome.status == "memory_limit"


# --- processes --------------------------------------------------------------------------------------------


def settle(pool: Pool, timeout: float = 15.0) -> None:
    """Wait until every worker's only descendants are its ready prepared chain (what an idle worker has)."""
    deadline = time.monotonic() + timeout
    workers = pool.worker_pids().values()
    expect_chains = os.environ.get("QUIZAPP_PREFORK") != "0"
    while time.monotonic() < deadline:
        if all(
            descendants(pid) == prepared_chain(pid) and bool(prepared_chain(pid)) == expect_chains for pid in workers
        ):
            return
        time.sleep(0.02)


def test_fork_storm_is_contained(healthy):
    settle(healthy)  # added: count processes with every worker's prepared chain in place, before and after
    before = len(pool_processes(healthy))
    outcome = run(
        healthy,
        """
        import os, time
        forked = failed = 0
        for _ in range(300):
            try:
                pid = os.fork()
            except OSError:
                failed += 1
                continue
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
        RESULT = {"forked": forked, "failed": failed}
        """,
        FORKING,
    )
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"]["forked"] <= 3  # processes=4: the job itself and three more
    assert outcome.facts["result"]["failed"] >= 297
    settle(healthy)
    after = len(pool_processes(healthy))
    assert after <= before


def test_no_fork_at_all_with_one_process(healthy):
    outcome = run(healthy, "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)")
    assert outcome.status == "ok"
    assert outcome.facts["error"]["type"] == "BlockingIOError"


def test_thread_storm_is_contained(healthy):
    outcome = run(
        healthy,
        """
        import threading, time
        started = 0
        try:
            for _ in range(500):
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                started += 1
        except RuntimeError as exc:
            error = str(exc)
        RESULT = {"started": started, "error": error}
        """,
        FORKING,
    )
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"]["started"] <= 3
    assert "can't start new thread" in outcome.facts["result"]["error"]


def test_an_orphan_cannot_outlive_the_job(healthy):
    marker = Path("/tmp") / f"quizapp-orphan-{uuid.uuid4().hex}"
    outcome = run(
        healthy,
        f"""
        import ctypes, os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                ctypes.CDLL(None).prctl(15, b"qz-orphan", 0, 0, 0)
                time.sleep(1)
                for path in ({str(marker)!r}, "/tmp/orphan-was-here"):
                    try:
                        open(path, "w").write("still alive")
                    except OSError:
                        pass
                time.sleep(60)
            os._exit(0)
        time.sleep(0.3)
        RESULT = "parent done"
        """,
        FORKING,
    )
    assert outcome.status == "ok", outcome.detail
    assert processes_named("qz-orphan") == []
    assert not marker.exists()
    follow_up = run(healthy, "import os\nRESULT = os.listdir('/tmp')")
    # The next job's scratch holds nothing a job wrote: at most the mount points of the jail's read-only
    # binds that live under /tmp on the host (a checkout or virtual environment there, as in some CI runs).
    bound_under_tmp = {Path(p).parts[2] for p in [*sys.path, sys.prefix] if p.startswith("/tmp/")}
    assert set(follow_up.facts["result"]) <= bound_under_tmp
    assert "orphan-was-here" not in follow_up.facts["result"]


# --- network ----------------------------------------------------------------------------------------------


def test_no_network_by_address_or_by_name(healthy):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        outcome = run(
            healthy,
            f"""
            import socket
            result = {{}}
            with open("/proc/net/dev") as f:
                result["interfaces"] = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
            def attempt(key, action):
                try:
                    action()
                    result[key] = "succeeded"
                except OSError as exc:
                    result[key] = type(exc).__name__
            attempt("host listener", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1))
            if result["interfaces"] == ["lo"]:  # never send anything off this machine
                attempt("outside address", lambda: socket.create_connection(("192.0.2.1", 53), timeout=1))
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                attempt("udp", lambda: udp.sendto(b"x", ("192.0.2.1", 53)))
                attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
            RESULT = result
            """,
        )
        assert outcome.status == "ok", outcome.detail
        result = outcome.facts["result"]
        assert result["interfaces"] == ["lo"]
        for key in ("host listener", "outside address", "udp", "dns"):
            assert result[key] != "succeeded", key
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected to the host's listener
    finally:
        listener.close()


# --- files ------------------------------------------------------------------------------------------------


def test_host_files_are_invisible(healthy):
    secret_file = locations.data_dir() / "progress.db"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text("the learner's progress")
    pack = locations.builtin_packs_dir() / "torch-modules.yaml"
    assert pack.is_file()
    repo_file = Path(__file__).resolve().parent.parent / "pyproject.toml"
    paths = [
        "/etc/shadow",
        "/etc/passwd",
        "/etc/hostname",
        str(Path.home()),
        str(Path.home() / ".bashrc"),
        str(pack),
        str(pack.parent),
        str(secret_file),
        str(locations.data_dir()),
        str(repo_file),
        str(Path(__file__).resolve()),
    ]
    outcome = run(
        healthy,
        f"""
        import os
        result = {{}}
        for path in {paths!r}:
            try:
                if os.path.isdir(path):
                    result[path] = "listed " + repr(os.listdir(path))
                else:
                    with open(path) as f:
                        result[path] = "read " + f.read()[:100]
            except OSError as exc:
                result[path] = type(exc).__name__
        RESULT = result
        """,
    )
    assert outcome.status == "ok", outcome.detail
    result = outcome.facts["result"]
    # The home directory shows at most the empty path down to the Python installation (pyenv lives there).
    home = Path.home()
    leading = {
        Path(p).relative_to(home).parts[0] for p in (sys.base_prefix, sys.prefix) if Path(p).is_relative_to(home)
    }
    if leading:
        assert result.pop(str(home)) == f"listed {sorted(leading)!r}"
    for path, seen in result.items():
        assert seen in ("FileNotFoundError", "PermissionError"), (path, seen)


def test_writing_outside_the_scratch_dir_changes_nothing_on_the_host(healthy):
    name = f"quizapp-escape-{uuid.uuid4().hex}"
    package_dir = Path(jail.__file__).resolve().parent
    targets = [f"/tmp/{name}", f"/{name}", f"/var/tmp/{name}", str(package_dir / name)]
    targets.append(str(locations.data_dir() / name))
    outcome = run(
        healthy,
        f"""
        result = {{}}
        for path in {targets!r}:
            try:
                with open(path, "w") as f:
                    f.write("escaped")
                result[path] = "written"
            except OSError as exc:
                result[path] = type(exc).__name__
        RESULT = result
        """,
    )
    assert outcome.status == "ok", outcome.detail
    result = outcome.facts["result"]
    assert result[f"/tmp/{name}"] == "written"  # the job's own scratch /tmp
    for path in targets:
        assert not Path(path).exists(), path
        if path != f"/tmp/{name}":
            assert result[path] != "written", path


def test_filling_the_disk_stops_at_the_limits(healthy):
    outcome = run(
        healthy,
        """
        import errno
        result = {}
        try:
            with open("big", "wb") as f:
                f.write(b"x" * 10_000_000)
        except OSError as exc:
            result["one big file"] = errno.errorcode[exc.errno]
        written = 0
        try:
            for i in range(10_000):
                with open(f"part{i}", "wb") as f:
                    f.write(b"y" * 60_000)
                written += 1
        except OSError as exc:
            result["many files"] = errno.errorcode[exc.errno]
        result["written"] = written
        RESULT = result
        """,
    )
    assert outcome.status == "ok", outcome.detail
    result = outcome.facts["result"]
    assert result["one big file"] == "EFBIG"
    assert result["many files"] == "ENOSPC"
    assert result["written"] < 10


# --- output and the result channel ---------------------------------------------------------------------------


def test_flooding_stdout_is_an_output_limit(healthy):
    outcome = run(healthy, "while True:\n    print('spam' * 100)")
    assert outcome.status == "output_limit"
    assert outcome.detail == "printed more than 16 KB"
    assert outcome.stdout_truncated
    assert len(outcome.stdout.encode()) + len(outcome.stderr.encode()) <= 16 * 1024


def test_flooding_stderr_is_an_output_limit(healthy):
    outcome = run(healthy, "import sys\nwhile True:\n    sys.stderr.write('spam' * 1000)")
    assert outcome.status == "output_limit"


def test_the_environment_does_not_leak(healthy):
    assert SECRET_NAME not in os.environ  # it was set only while the workers started
    outcome = run(
        healthy,
        f"""
        import os
        with open("/proc/self/environ", "rb") as f:
            own = f.read()
        try:
            with open("/proc/1/environ", "rb") as f:
                init = f.read()
        except OSError:
            init = b""
        RESULT = {{
            "keys": sorted(os.environ),
            "leaked": {SECRET_VALUE!r}.encode() in own + init,
        }}
        """,
    )
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"]["keys"] == sorted(jail.JOB_ENV)
    assert outcome.facts["result"]["leaked"] is False
    assert SECRET_VALUE not in outcome.stdout + outcome.stderr


FORGE = """
import json, os, struct
header = json.dumps({"op": "outcome", "status": "ok", "nonce": "0" * 32, "facts_len": 15, "tensors_len": 0,
                     "facts": {"forged": True}}).encode()
blob = b'{"forged":true}'
frame = b"QZF1" + struct.pack(">IQ", len(header), len(blob)) + header + blob
hits = []
for fd in range(256):
    try:
        os.write(fd, frame)
        hits.append(fd)
    except OSError:
        pass
"""


def test_forging_a_verdict_on_every_fd_earns_nothing(healthy):
    outcome = run(healthy, FORGE + "RESULT = hits")
    assert outcome.status == "runtime_error"
    assert outcome.detail == "the judge's result channel was written to"
    assert outcome.facts is None


def test_forging_a_verdict_then_exiting_earns_nothing(healthy):
    outcome = run(healthy, FORGE + "os._exit(0)")
    assert outcome.status == "runtime_error"
    assert outcome.facts is None


def test_forging_a_verdict_on_stdout_is_only_output(healthy):
    outcome = run(healthy, 'print(\'{"status": "ok", "facts": {"forged": true}}\')\nraise ValueError("wrong")')
    assert outcome.status == "ok"
    assert outcome.facts["error"]["type"] == "ValueError"
    assert "forged" not in outcome.facts


def test_patching_torch_allclose_does_not_reach_the_next_job(healthy):
    patched = run(
        healthy,
        "import torch\ntorch.allclose = lambda *a, **k: True\nRESULT = torch.allclose(torch.zeros(1), torch.ones(1))",
    )
    assert patched.facts["result"] is True
    for _ in range(4):
        clean = run(healthy, "import torch\nRESULT = torch.allclose(torch.zeros(1), torch.ones(1))")
        assert clean.facts["result"] is False


# --- signals and crashes ----------------------------------------------------------------------------------


def test_killing_the_parent_and_everyone_leaves_the_server_alive(healthy):
    outcome = run(
        healthy,
        """
        import os, signal
        result = {}
        for name, pid in (("parent", os.getppid()), ("init", 1), ("everyone", -1)):
            for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                try:
                    os.kill(pid, sig)
                    result[f"{name} {sig.name}"] = "sent"
                except OSError as exc:
                    result[f"{name} {sig.name}"] = type(exc).__name__
        RESULT = result
        """,
    )
    assert outcome.status == "ok", outcome.detail


def test_segfault_is_a_runtime_error(healthy):
    outcome = run(healthy, "import ctypes\nctypes.string_at(0)")
    assert outcome.status == "runtime_error"
    assert outcome.detail == "crashed with SIGSEGV"
    assert outcome.signal == 11


def test_exiting_before_defining_anything_is_a_runtime_error(healthy):
    outcome = run(healthy, "import sys\nsys.exit(0)\nclass Model:\n    pass")
    assert outcome.status == "runtime_error"
    assert outcome.detail == "the program ended (it exited, or stopped itself) before the judge could probe it"
    assert outcome.exit_code == 0


def test_os_exit_is_a_runtime_error(healthy):
    outcome = run(healthy, "import os\nos._exit(3)")
    assert outcome.status == "runtime_error"
    assert outcome.detail == "the program exited with status 3 before the judge could probe it"


def test_a_forked_child_that_returns_does_not_report_twice(healthy):
    outcome = run(healthy, "import os\npid = os.fork()\nRESULT = 'child' if pid == 0 else 'parent'", FORKING)
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"] == "parent"


# --- the result channel: one job's bad frame is that job's outcome ---------------------------------------------

# The learner's code runs in the interpreter that writes the result frame: it can find the per-job nonce in
# an ancestor frame and write a frame of its own. The server checks the envelope's fixed format.
FIND_NONCE = """
import os, struct, sys
frame = sys._getframe()
nonce = None
while frame is not None and nonce is None:
    nonce = frame.f_locals.get("nonce") if isinstance(frame.f_locals.get("nonce"), str) else None
    frame = frame.f_back
assert nonce, "no nonce found"
def send(facts_len: str, blob: bytes = b"") -> None:
    header = ('{"nonce":"%s","status":"returned","facts_len":%s,"tensors_len":0}' % (nonce, facts_len)).encode()
    os.write(3, b"QZF1" + struct.pack(">IQ", len(header), len(blob)) + header + blob)
    os._exit(0)
"""


def test_a_result_frame_with_an_infinite_length_is_the_jobs_runtime_error(healthy):
    outcome = run(healthy, FIND_NONCE + "send('Infinity')")
    assert outcome.status == "runtime_error"
    assert outcome.detail == "the judge's result channel was written to"


def test_a_result_frame_with_nan_in_its_facts_is_not_accepted(healthy):
    facts = b'{"ok": NaN, "result": 1}'
    outcome = run(healthy, FIND_NONCE + f"send('{len(facts)}', {facts!r})")
    assert outcome.status == "runtime_error"
    assert outcome.facts is None


def test_facts_over_their_own_cap_are_an_output_limit(healthy):
    outcome = run(
        healthy,
        FIND_NONCE + "n = 5 << 20\nsend(str(n), b'{' + b' ' * (n - 2) + b'}')",
        LIMITS.model_copy(update={"memory_mb": 512}),
    )
    assert outcome.status == "output_limit"
    assert outcome.detail == "sent back more than 4 MB of facts"
    assert outcome.facts is None


def test_non_finite_numbers_a_job_really_returns_arrive_as_text(healthy):
    outcome = run(healthy, "RESULT = [float('nan'), float('inf'), 1.5]")
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"] == ["nan", "inf", 1.5]


# --- the learner does not choose the verdict --------------------------------------------------------------

PROBE_LIMITS = Limits(cpu_seconds=5, wall_seconds=10, memory_mb=512)


def probe_job(code: str, checks: list | None = None) -> dict:
    case = {"args": [], "kwargs": {}, "inputs": [{"shape": [2, 3]}]}
    return {
        "code": textwrap.dedent(code),
        "entry_point": "Model",
        "checks": checks if checks is not None else [{"id": "out", "kind": "outputs", "cases": [case], "seed": 0}],
    }


UNPRINTABLE = """
class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("my __str__ raises")
"""


def test_an_exception_whose_str_raises_is_the_learners_error(healthy):
    at_definition = healthy.run("probe", probe_job(UNPRINTABLE + "raise Unprintable()"), PROBE_LIMITS)
    assert at_definition.status == "ok", at_definition.detail
    assert at_definition.facts["definition"]["exception"]["type"] == "Unprintable"
    in_forward = healthy.run(
        "probe",
        probe_job(
            UNPRINTABLE
            + """
import torch
class Model(torch.nn.Module):
    def forward(self, x):
        raise Unprintable()
"""
        ),
        PROBE_LIMITS,
    )
    assert in_forward.status == "ok", in_forward.detail
    error = in_forward.facts["checks"]["out"]["results"][0]["error"]
    assert error["type"] == "Unprintable"
    assert "memory" not in error
    as_exec = run(healthy, UNPRINTABLE + "raise Unprintable()")
    assert as_exec.status == "ok"
    assert as_exec.facts["error"]["type"] == "Unprintable"


def test_an_object_that_breaks_the_probes_is_the_learners_runtime_error(healthy):
    outcome = healthy.run(
        "probe",
        probe_job(
            """
import torch
class Liar:
    @property
    def __class__(self):
        raise ValueError("you cannot look at me")
class Model(torch.nn.Module):
    def forward(self, x):
        return Liar()
"""
        ),
        PROBE_LIMITS,
    )
    # The probe records its own failure as that check's fact (the grader makes it the learner's runtime_error);
    # an escape past the probes is the learner's runtime_error too; never the judge's internal_error.
    assert outcome.status in ("ok", "runtime_error"), outcome.detail
    assert "internal" not in (outcome.detail or "")
    if outcome.status == "ok":
        failed = outcome.facts["checks"]["out"]["probe_failed"]
        assert "you cannot look at me" in str(failed)
    else:
        assert "while the judge probed it" in outcome.detail


@pytest.mark.parametrize(
    "raising",
    [
        "raise MemoryError",
        "raise MemoryError('out of memory')",
        'raise RuntimeError("DefaultCPUAllocator: can\'t allocate memory: you tried to allocate 10 bytes")',
        "raise RuntimeError('CUDA out of memory')",
    ],
)
def test_saying_out_of_memory_on_a_tiny_input_is_not_a_memory_limit(healthy, raising):
    outcome = run(healthy, "x = [1, 2, 3]\n" + raising)
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["error"]["type"] in ("MemoryError", "RuntimeError")
    probed = healthy.run(
        "probe",
        probe_job(f"import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        {raising}\n"),
        PROBE_LIMITS,
    )
    assert probed.status == "ok", probed.detail
    error = probed.facts["checks"]["out"]["results"][0]["error"]
    assert "memory" not in error


# --- kernel state the namespaces do not cover ------------------------------------------------------------

KERNEL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"keyctl": 250, "add_key": 248, "request_key": 249, "ptrace": 101, "unshare": 272, "clone": 56}

def call(name, *args):
    ctypes.set_errno(0)
    value = libc.syscall(NR[name], *args)
    return "ok" if value >= 0 else os.strerror(ctypes.get_errno())

result = {
    # KEYCTL_GET_KEYRING_ID of the session keyring (-3), creating it if needed
    "keyctl": call("keyctl", 0, ctypes.c_long(-3), 0),
    "add_key": call("add_key", b"user", b"qz-job-key", b"data", 4, ctypes.c_long(-3)),
    "request_key": call("request_key", b"user", b"qz-host-key", None, 0),
    "ptrace": call("ptrace", 0, 0, 0, 0),  # PTRACE_TRACEME
    "unshare user": call("unshare", 0x10000000),
    "unshare mount": call("unshare", 0x00020000),
    "clone new user": call("clone", 0x10000000 | 17, 0, 0, 0, 0),  # CLONE_NEWUSER | SIGCHLD
}
try:
    with open("/proc/keys") as f:
        result["/proc/keys"] = f.read()
except OSError as exc:
    result["/proc/keys"] = type(exc).__name__
result["fork"] = "ok" if os.fork() >= 0 else "failed"
RESULT = result
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the job calls x86_64 system call numbers")
def test_keyrings_ptrace_namespaces_are_denied_to_a_job(healthy):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    description = f"qz-host-key-{uuid.uuid4().hex}".encode()
    key = libc.syscall(248, b"user", description, b"the grader's secret", 19, ctypes.c_long(-3))  # add_key
    try:
        outcome = run(healthy, KERNEL, FORKING)
        assert outcome.status == "ok", outcome.detail
        result = outcome.facts["result"]
        for name in ("keyctl", "add_key", "request_key", "ptrace", "unshare user", "unshare mount", "clone new user"):
            assert result[name] == "Operation not permitted", (name, result[name])
        assert description.decode() not in result["/proc/keys"]
        assert "qz-job-key" not in result["/proc/keys"]
        assert result["fork"] == "ok"  # an ordinary fork still works
    finally:
        if key > 0:
            libc.syscall(250, 21, ctypes.c_long(key))  # KEYCTL_INVALIDATE


def test_every_job_runs_under_a_uid_of_its_own(healthy):
    if os.geteuid() != 0:
        pytest.skip("as an ordinary user, jobs are uid 0 of their own user namespace")
    uids = []
    futures = [healthy.submit("exec", {"code": "import os, time\ntime.sleep(0.3)\nRESULT = os.getuid()"}, LIMITS)]
    futures.append(healthy.submit("exec", {"code": "import os, time\ntime.sleep(0.3)\nRESULT = os.getuid()"}, LIMITS))
    uids += [f.result(timeout=60).facts["result"] for f in futures]
    uids += [run(healthy, "import os\nRESULT = os.getuid()").facts["result"] for _ in range(3)]
    assert len(set(uids)) == len(uids), uids
    assert all(uid >= jail.JOB_UID_BASE for uid in uids)


def test_a_chain_holds_no_handle_on_the_hosts_namespaces(healthy):
    """As root the server forks the jail's PID 1 (I) itself into a new PID namespace, and keeps a handle on its own
    namespace to send its later children back there: no process of a chain may hold such a handle (a way back
    out of the jail's namespaces), and the chain is I and J, with no C."""
    if os.geteuid() != 0:
        pytest.skip("as an ordinary user, a chain starts with C, which also creates a user namespace")
    run(healthy, "x = 1")  # a job ran, and each worker prepared its next chain
    for worker in healthy.worker_pids().values():
        deadline = time.monotonic() + 15
        while not (chain := prepared_chain(worker)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [comm(pid) for pid in chain] == ["quizapp-init", "quizapp-ready"]
        for pid in chain:
            links = []
            for fd in os.listdir(f"/proc/{pid}/fd"):  # the chain waits for its job: it is there
                try:
                    links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:  # a descriptor closed meanwhile
                    pass
            kinds = ("pid", "mnt", "net", "ipc", "uts", "user", "cgroup", "time")
            assert [link for link in links if link.split(":")[0] in kinds] == [], (comm(pid), links)


# --- nothing of one job stays in the worker for the next ---------------------------------------------------

SCAN = """
import ctypes
needles = [bytes.fromhex(h) for h in {hexes!r}]
hits = [0] * len(needles)
with open("/proc/self/maps") as maps:
    regions = []
    for line in maps:
        parts = line.split()
        start, end = (int(x, 16) for x in parts[0].split("-"))
        # anonymous and heap memory: where the worker's Python objects and buffers live
        if parts[1].startswith("rw") and (len(parts) < 6 or parts[5] in ("[heap]",)):
            regions.append((start, end))
for start, end in regions:
    for offset in range(start, end, 1 << 22):
        chunk = ctypes.string_at(offset, min(1 << 22, end - offset) + 64 if offset + (1 << 22) < end else end - offset)
        for i, needle in enumerate(needles):
            hits[i] += chunk.count(needle)
RESULT = hits
"""


def test_an_earlier_jobs_output_is_not_in_a_later_jobs_memory(healthy):
    secret, control = f"qz-private-{uuid.uuid4().hex}", f"qz-private-{uuid.uuid4().hex}"
    leak = f"""
import os, sys
sys.stderr.write({secret!r} * 50)
sys.stdout.write({secret!r} * 50)
sys.stderr.flush(); sys.stdout.flush()
os._exit(1)
"""
    scan_limits = LIMITS.model_copy(update={"cpu_seconds": 10, "wall_seconds": 30, "memory_mb": 512})
    hexes = [secret.encode().hex(), control.encode().hex()]
    for _ in range(4):
        leaked = run(healthy, leak)
        assert leaked.status == "runtime_error"
        assert secret in leaked.stderr  # the host got it
        for _ in range(3):  # until the scan lands on the worker that ran the leaking job
            scanned = run(healthy, SCAN.format(hexes=hexes), scan_limits)
            if scanned.worker == leaked.worker:
                break
        assert scanned.status == "ok", scanned.detail
        found, baseline = scanned.facts["result"]
        # The scan's own copies of its needles are counted for both: only the secret may not be above them.
        assert found == baseline, (found, baseline)


# --- determinism ---------------------------------------------------------------------------------------------


def test_the_same_answer_draws_the_same_random_numbers_every_run(healthy):
    code = """
import random, numpy, torch
RESULT = [torch.rand(3).tolist(), torch.randn(2).tolist(), random.random(), numpy.random.rand(2).tolist()]
"""
    first, second = run(healthy, code), run(healthy, code)
    assert first.status == second.status == "ok"
    assert first.facts == second.facts
    # The seed comes from the question's side of the job, not the answer's text: another answer to the same
    # checks (the reference solution, say) draws the same numbers, so dropout masks agree.
    other = run(healthy, code + "# another answer\n")
    assert other.facts == first.facts
    unseeded = run(healthy, "import torch\ntorch.seed()\nRESULT = torch.rand(3).tolist()")
    assert unseeded.facts["result"] != first.facts["result"][0]


def test_an_answer_using_torch_rand_gets_the_same_facts_twice(healthy, resnet):
    pack, question, _ = resnet
    from quizapp.grading.grader import probe_payload

    noisy = question.solution + (
        f"\n_forward = {question.entry_point}.forward\n"
        f"{question.entry_point}.forward = lambda self, x: _forward(self, x) + 0.01 * torch.rand(1)\n"
    )
    payload = probe_payload(question, noisy, question.checks)
    outcomes = [healthy.run("probe", payload, pack.limits_for(question)) for _ in range(2)]
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert outcomes[0].facts == outcomes[1].facts
    assert outcomes[0].tensors == outcomes[1].tensors


# --- speed: what a training step needs is loaded before the fork ------------------------------------------


def test_a_jobs_first_training_step_imports_nothing_new(healthy):
    outcome = run(
        healthy,
        """
import sys
before = set(sys.modules)
import torch
from torch import nn
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
for optimizer in (
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
    torch.optim.Adam(model.parameters()),
    torch.optim.AdamW(model.parameters()),
):
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    loss = nn.functional.cross_entropy(model(torch.randn(5, 4)), torch.tensor([0, 1, 0, 1, 1]))
    loss.backward()
    optimizer.step()
    scheduler.step()
RESULT = sorted(set(sys.modules) - before)
""",
    )
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"] == []


# --- the reference solutions: no copy of any pack, and no reference cache, anywhere in the jail ---------------

WALK = """
import os
needles = [bytes.fromhex(h) for h in {hexes!r}]
found, files = [], 0
for top, dirs, names in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    for name in names:
        path = os.path.join(top, name)
        try:
            if os.path.islink(path) or os.path.getsize(path) > 1 << 20:  # packs are text, far smaller
                continue
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        files += 1
        found += [(path, i) for i, needle in enumerate(needles) if needle in data]
RESULT = {{"found": found, "files": files}}
"""


def test_no_reference_solution_is_readable_anywhere_in_the_jail(tmp_path, monkeypatch, resnet):
    """Every copy of every pack the grader knows, and the reference cache, stay out of the jail: the built-in
    packs (also the copy an install writes under site-packages), the user's pack folder, QUIZAPP_PACKS,
    --pack paths, and cache/reference. The job reads every file it can see, looking for their solutions."""
    pack, question, _ = resnet
    builtin_line = max(question.solution.splitlines(), key=len).strip()
    secrets = {name: f"solution-{name}-{uuid.uuid4().hex}" for name in ("user", "env", "cli", "cache")}
    home = tmp_path / "home"
    monkeypatch.setenv("QUIZAPP_HOME", str(home))
    user_pack = locations.user_packs_dir() / "mine.yaml"
    env_pack = tmp_path / "env-packs" / "course.yaml"
    cli_pack = tmp_path / "cli-pack.yaml"
    cache_file = locations.cache_dir() / "reference" / "0123.json"
    for path, name in ((user_pack, "user"), (env_pack, "env"), (cli_pack, "cli"), (cache_file, "cache")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"solution: |\n  {secrets[name]}\n")
    monkeypatch.setenv("QUIZAPP_PACKS", str(env_pack.parent))
    needles = [builtin_line, *secrets.values()]
    limits = Limits(cpu_seconds=40, wall_seconds=90, memory_mb=512, file_size_kb=64)
    with Pool(size=1, hide=[cli_pack]) as own:
        assert own.wait_warm(180)
        if own.jail_mode != "full":
            pytest.skip(f"the full jail is unavailable here: {own.jail_reason}")
        outcome = own.run("exec", {"code": WALK.format(hexes=[n.encode().hex() for n in needles])}, limits)
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["result"]["files"] > 1000  # it did read the Python installation
    assert outcome.facts["result"]["found"] == []
