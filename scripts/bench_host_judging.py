"""The host's half of grading code, measured and checked without the judge (the jail's work is recorded once).

    python scripts/bench_host_judging.py record FILE   # grade answers through the real pool, keep every job's outcome
    python scripts/bench_host_judging.py replay FILE   # grade the same answers again from FILE: one JSON line each
    python scripts/bench_host_judging.py time FILE [N] # host judging of a right and a wrong ResNet answer, N times
    python scripts/bench_host_judging.py first FILE    # in this fresh process: the first ResNet verdict's cost

The answers are every code and fix question's reference and decoys in the built-in packs, the grading corpus
(tests/grading_corpus.py), and the ResNet benchmark's wrong answer (the reference's output scaled). `replay`
prints each result without its timings, so two versions of the grader can be compared line by line on the same
recorded facts; `time` measures what the host does for one warm verdict (decode the learner's tensors, validate
and judge every check, against a reference decoded once), which is what grading adds to the judge's job, in
wall time and in CPU time (steadier on a loaded machine); `first` measures what the first code answer costs
a fresh process that grades (the app, the CLI): its time, and the memory and modules it loads.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import statistics
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from quizapp import locations  # noqa: E402
from quizapp.grading.grader import Grader  # noqa: E402
from quizapp.packs import load_pack, model  # noqa: E402

RESNET = ("torch-modules", "resnet-residual-block")


def _key(task: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([task, payload], sort_keys=True).encode()).hexdigest()


@dataclasses.dataclass
class Recorded:
    status: str
    facts: dict[str, Any] | None = None
    tensors: bytes = b""
    stdout: str = ""
    stderr: str = ""
    wall_ms: float = 0.0
    jail_mode: str = "unknown"
    detail: str = ""


class Recording:
    """The pool, with every job's outcome kept by its task and payload."""

    def __init__(self, pool: Any, patient: bool = True):
        self.pool = pool
        self.kept: dict[str, Recorded] = {}

    def _limits(self, limits: Any) -> Any:
        return limits.model_copy(update={"wall_seconds": 120, "cpu_seconds": 60})

    def _keep(self, task: str, payload: dict[str, Any], outcome: Any) -> Recorded:
        fields = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(Recorded)}
        self.kept[_key(task, payload)] = Recorded(**fields)
        return self.kept[_key(task, payload)]

    def run(self, task: str, payload: dict[str, Any], limits: Any) -> Recorded:
        return self._keep(task, payload, self.pool.run(task, payload, self._limits(limits)))

    def submit(self, task: str, payload: dict[str, Any], limits: Any) -> Future[Recorded]:
        future: Future[Recorded] = Future()
        future.set_result(self.run(task, payload, limits))
        return future


class Replaying:
    """Outcomes from a recording; a job that was not recorded is an error of the tool."""

    def __init__(self, kept: dict[str, Recorded]):
        self.kept = kept

    def run(self, task: str, payload: dict[str, Any], limits: Any) -> Recorded:
        return self.kept[_key(task, payload)]

    def submit(self, task: str, payload: dict[str, Any], limits: Any) -> Future[Recorded]:
        future: Future[Recorded] = Future()
        future.set_result(self.run(task, payload, limits))
        return future


def _answers() -> list[tuple[model.Pack, model.CodeBase, str, str]]:
    """(pack, question, name, code) for every answer graded."""
    from grading_corpus import CORPUS

    from quizapp.judge.bench import wrong_answer

    packs = [load_pack(path) for path in sorted(locations.builtin_packs_dir().glob("*.yaml"))]
    packs.append(load_pack(ROOT / "tests" / "grading_corpus_pack.yaml"))
    found: list[tuple[model.Pack, model.CodeBase, str, str]] = []
    by_id = {}
    for pack in packs:
        for question in pack.questions:
            if not isinstance(question, model.CodeBase) or question.solution is None:
                continue
            by_id.setdefault(question.id, (pack, question))
            found.append((pack, question, "reference", question.solution))
            found.extend((pack, question, f"decoy {decoy.id}", decoy.code) for decoy in question.decoys)
    for answer in CORPUS:
        pack, question = by_id[answer.question]
        found.append((pack, question, f"corpus {answer.name}", answer.code))
    pack, question = next((p, q) for p in packs for q in p.questions if (p.id, q.id) == RESNET)
    found.append((pack, question, "bench wrong", wrong_answer(question)))
    return found


def record(path: Path) -> None:
    from quizapp.judge.pool import Pool

    with Pool(size=2) as pool:
        runner = Recording(pool)
        grader = Grader(runner, cache=None)
        answers = _answers()
        for number, (pack, question, _name, code) in enumerate(answers):
            grader.grade(pack, question, code)
            if number % 25 == 0:
                print(f"{number}/{len(answers)}", file=sys.stderr)
    data = {
        key: {**dataclasses.asdict(outcome), "tensors": base64.b64encode(outcome.tensors).decode()}
        for key, outcome in runner.kept.items()
    }
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    print(f"{len(data)} jobs recorded in {path}", file=sys.stderr)


def _load(path: Path) -> dict[str, Recorded]:
    data = json.loads(gzip.decompress(path.read_bytes()))
    return {key: Recorded(**{**value, "tensors": base64.b64decode(value["tensors"])}) for key, value in data.items()}


def replay(path: Path) -> None:
    grader = Grader(Replaying(_load(path)), cache=None)
    for pack, question, name, code in _answers():
        result = grader.grade(pack, question, code).to_json()
        for key in ("duration_ms",):
            result.pop(key, None)
        print(json.dumps({"question": question.id, "answer": name, "result": result}, sort_keys=True))


def timing(path: Path, repeats: int) -> None:
    from quizapp.grading.checks import Facts
    from quizapp.grading.grader import decode_tensors, probe_payload

    kept = _load(path)
    grader = Grader(Replaying(kept), cache=None)
    answers = [a for a in _answers() if (a[0].id, a[1].id) == RESNET and a[2] in ("reference", "bench wrong")]
    pack, question = answers[0][0], answers[0][1]
    checks = list(question.checks)
    reference_outcome = kept[_key("probe", probe_payload(question, question.solution, checks))]
    reference = Facts(reference_outcome.facts["checks"], decode_tensors(reference_outcome.tensors))
    for _, _, name, code in answers:
        outcome = kept[_key("probe", probe_payload(question, code, checks))]
        verdict = grader._judge(pack, question, code, checks, outcome, reference).verdict  # warms the reference
        samples, cpu = [], []
        for _ in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            grader._judge(pack, question, code, checks, outcome, reference)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        samples.sort()
        print(
            f"{name:<11} {verdict:<13} host judging: median {statistics.median(samples):.2f} ms, "
            f"min {samples[0]:.2f} ms, p90 {samples[int(0.9 * (len(samples) - 1))]:.2f} ms; "
            f"CPU median {statistics.median(cpu):.2f} ms ({len(outcome.tensors) / 1e3:.0f} kB of tensors, "
            f"{repeats} runs)"
        )
    started = time.perf_counter()
    fresh = Facts(reference_outcome.facts["checks"], decode_tensors(reference_outcome.tensors))
    grader._judge(pack, question, question.solution, checks, reference_outcome, fresh)
    print(f"first verdict against a freshly decoded reference: {(time.perf_counter() - started) * 1000:.2f} ms")


def _rss_kb() -> int:
    """The process's resident memory now (not its peak: reading the recording raised that)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def first(path: Path) -> None:
    kept = _load(path)
    answers = [a for a in _answers() if (a[0].id, a[1].id) == RESNET and a[2] == "reference"]
    pack, question, _, code = answers[0]
    before = _rss_kb()
    started, started_cpu = time.perf_counter(), time.process_time()
    result = Grader(Replaying(kept), cache=None).grade(pack, question, code)
    wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - started_cpu) * 1000
    after = _rss_kb()
    heavy = sorted({name.split(".")[0] for name in sys.modules} & {"numpy", "torch", "safetensors"})
    print(
        f"first ResNet verdict in a fresh process: {result.verdict}, {wall:.1f} ms ({cpu:.1f} ms CPU), resident "
        f"memory {before / 1024:.1f} MB before it, {(after - before) / 1024:+.1f} MB after; heavy modules loaded: "
        f"{heavy or 'none'}"
    )


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("record", "replay", "time", "first"):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    if argv[0] == "record":
        record(path)
    elif argv[0] == "replay":
        replay(path)
    elif argv[0] == "first":
        first(path)
    else:
        timing(path, int(argv[2]) if len(argv) > 2 else 200)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
