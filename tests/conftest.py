"""Shared fixtures: an isolated QUIZAPP_HOME for every test, and a small valid pack to derive broken ones from."""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import scheduling


def _midday_zone() -> str:
    """A POSIX time zone in which it is about noon now: "due today" then never depends on when the suite runs (a
    failed question due again in a few minutes is due tomorrow from a quarter to midnight on)."""
    hour = time.gmtime().tm_hour
    ahead = (12 - hour + 11) % 24 - 11  # hours east of UTC, in -11..12
    return f"QZT{-ahead:+d}"  # POSIX counts the offset west of Greenwich


# Set before any test imports the app, and inherited by the processes the tests start (tmux, the command line).
os.environ["TZ"] = _midday_zone()
time.tzset()


@pytest.fixture(autouse=True)
def _local_zone_from_the_environment() -> None:
    """The zone above again for each test: a test that pins TZ (the snapshots pin UTC) has its variable restored by
    monkeypatch, but the C library keeps the zone it last read until tzset is called."""
    time.tzset()

# A valid format-1 pack with all five question kinds. The code question has one check of every kind and a
# decoy. Tests derive broken packs from this text by replacing exact snippets of it, so keep each line
# distinctive: `mutate` in the tests insists that the replaced text occurs exactly once.
VALID_PACK = """\
format: 1
id: test-pack
title: Test pack
version: "1.2.0"
description: A small pack for the tests.
authors: [Test Author]
licence: CC-BY-4.0
tags: [testing]
defaults:
  limits:
    cpu_seconds: 4
    memory_mb: 512
questions:
  - id: pick-activation
    kind: choice
    title: Pick an activation
    difficulty: easy
    minutes: 1
    tags: [basics]
    prompt: Which of these are activation functions?
    explanation: ReLU and GELU are activations; Linear is a layer.
    hints:
      - Think of nonlinearities.
    options:
      - id: a
        text: nn.ReLU
        correct: true
        feedback: ReLU is an activation.
      - id: b
        text: nn.Linear
      - id: c
        text: nn.GELU
        correct: true
  - id: predict-shape
    kind: predict
    title: Predict a shape
    difficulty: medium
    minutes: 2
    prompt: What does this print?
    explanation: Matrix multiplication of 2x3 by 3x4 gives 2x4.
    snippet: |
      import torch
      print(tuple((torch.ones(2, 3) @ torch.ones(3, 4)).shape))
    answer: (2, 4)
    accept: ["(2,4)"]
  - id: scale-module
    kind: code
    title: A scaling module
    difficulty: hard
    minutes: 10
    prompt: Write a module that multiplies its input by a learnt scale.
    explanation: One parameter, one multiplication.
    entry_point: Scale
    signature: Scale(features)
    starter: |
      class Scale:
          pass
    solution: |
      import torch
      from torch import nn


      class Scale(nn.Module):
          def __init__(self, features):
              super().__init__()
              self.weight = nn.Parameter(torch.ones(features))

          def forward(self, x):
              return x * self.weight
    limits:
      wall_seconds: 20
    checks:
      - id: same-outputs
        kind: outputs
        cases:
          - name: three features
            args: [3]
            inputs:
              - [2, 3]
              - {shape: [4, 3], dtype: float64, low: -1, high: 1}
      - id: same-gradients
        kind: gradients
        visible: false
        message: Check how the scale enters the product.
        cases:
          - build: Scale(3)
            inputs: [[2, 3]]
      - id: has-parameter
        kind: structure
        cases:
          - kwargs: {features: 3}
            inputs: [[1, 3]]
        modules:
          Scale: 1
          Linear: {max: 0}
        param_count: reference
      - id: multiplies
        kind: trace
        cases:
          - args: [3]
            inputs: [[2, 3]]
        rules:
          - merges_input: mul
          - op: mul
            count: 1
          - last: mul
            message: The product should be returned.
      - id: weight-shape
        kind: expression
        setup: |
          m = Scale(3)
        expressions:
          - expr: tuple(m.weight.shape)
            equals: [3]
          - expr: m.weight.requires_grad
      - id: is-a-module
        kind: source
        rules:
          - subclass: {Scale: nn.Module}
          - forbid_names: [nn.Linear]
            max_lines: 40
      - id: custom-probe
        kind: custom
        probe: |
          def probe(ns):
              return {"name": ns["Scale"].__name__}
        verdict: |
          def verdict(learner, reference):
              return None
    decoys:
      - id: adds-instead
        description: Adds the scale instead of multiplying.
        code: |
          import torch
          from torch import nn


          class Scale(nn.Module):
              def __init__(self, features):
                  super().__init__()
                  self.weight = nn.Parameter(torch.ones(features))

              def forward(self, x):
                  return x + self.weight
        fails: same-outputs
  - id: fix-relu
    kind: fix
    title: Fix the activation
    difficulty: medium
    minutes: 5
    prompt: The function should apply ReLU.
    explanation: relu clamps at zero from below.
    entry_point: act
    signature: act(x)
    defects: 1
    starter: |
      import torch


      def act(x):
          return torch.sigmoid(x)
    solution: |
      import torch


      def act(x):
          return torch.relu(x)
    checks:
      - id: relu-values
        kind: expression
        expressions:
          - expr: act(torch.tensor([-1.0, 2.0])).tolist()
            equals: [0.0, 2.0]
  - id: why-no-grad
    kind: explain
    title: Why no_grad
    difficulty: easy
    minutes: 3
    prompt: Why wrap evaluation in torch.no_grad()?
    explanation: It saves memory and time.
    model_answer: No graph is recorded, so activations are not kept for backward.
    rubric:
      - id: no-graph
        text: No autograd graph is built.
      - id: memory
        text: Saves memory.
        points: 2
"""

VALID_PACK_ID = "test-pack"
VALID_QUESTION_IDS = ["pick-activation", "predict-shape", "scale-module", "fix-relu", "why-no-grad"]


_FOLDERS = itertools.count()


def fresh_folder(factory: pytest.TempPathFactory, name: str) -> Path:
    """A new empty folder under this process's base temporary folder, made with one mkdir. pytest's numbered
    folders (`mktemp`, and the `tmp_path` it makes) list the whole base folder to find the next number: with a
    folder or two per test, that listing grows with every test, and cost each process seconds of CPU."""
    path = factory.getbasetemp() / f"{name}-{next(_FOLDERS)}"
    path.mkdir()
    return path


@pytest.fixture
def tmp_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's `tmp_path` (a new folder per test, named after it, kept as pytest's default retention keeps it),
    made by fresh_folder instead of a numbered mktemp."""
    return fresh_folder(tmp_path_factory, re.sub(r"\W", "_", request.node.name)[:30])


@pytest.fixture(autouse=True)
def quizapp_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty QUIZAPP_HOME and no QUIZAPP_PACKS, so none touches the user's data."""
    home = fresh_folder(tmp_path_factory, "quizapp-home")
    monkeypatch.setenv("QUIZAPP_HOME", str(home))
    monkeypatch.delenv("QUIZAPP_PACKS", raising=False)
    return home


@pytest.fixture(autouse=True)
def _test_process_heap_frozen_for_the_app(request: pytest.FixtureRequest) -> Any:
    """Before a test that drives the app (`tui`), move the objects the test process already holds (pytest's items,
    every module the suite imported, what earlier tests left) out of the cyclic garbage collector's reach, as they
    are in the app's own process, where they do not exist. Once warm, the app makes a full collection and
    freezes what it holds (QuizApp._freeze_soon); in the test process that collection walked the whole suite's
    heap, 0.1 s at the first app and more with every test after, for each of about 110 app runs. It now walks
    what the test made. The app unfreezes on unmount; so does the teardown, whatever the test did."""
    if request.node.get_closest_marker("tui") is None:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class ParsedOnce:
    """The loader's check_pack_file, reading each pack file of the repository (the built-in packs, the tests' own
    packs) once per process. Test modules load the built-in packs when they are collected, which every test
    process does (torch-modules alone nine times), every command a test runs in process (`quizapp list`, `show`,
    `grade`, ...) discovers them, and every app a TUI test starts discovers its fixture pack: a third of a second
    of CPU for each built-in pack each time. Loading is a pure function of the file's path and bytes, and packs
    are frozen models, so each caller gets a new LoadResult around the same pack; a file whose bytes changed is
    loaded again. Files anywhere else (every pack a test writes) are loaded as they are: the loader is tested
    on those."""

    def __init__(self, load: Any, folders: list[Path]) -> None:
        self.load = load
        self.folders = [folder.resolve() for folder in folders]
        self.results: dict[tuple[str, bytes], Any] = {}

    def __call__(self, path: str | Path, *args: Any, **kwargs: Any) -> Any:
        file = Path(path)
        if args or kwargs or not any(file.resolve().is_relative_to(folder) for folder in self.folders):
            return self.load(path, *args, **kwargs)
        key = (str(path), hashlib.sha256(file.read_bytes()).digest())
        if key not in self.results:
            self.results[key] = self.load(path)
        result = self.results[key]
        return dataclasses.replace(result, problems=list(result.problems))


def _parse_repository_packs_once() -> None:
    """Install ParsedOnce before any test module is imported (they bind the loader's functions when collected):
    as the loader's, discovery's and the package's check_pack_file, which load_pack calls."""
    import quizapp.packs
    from quizapp import locations
    from quizapp.packs import discovery, loader

    once = ParsedOnce(loader.check_pack_file, [locations.builtin_packs_dir(), Path(__file__).parent])
    for module in (loader, discovery, quizapp.packs):
        module.check_pack_file = once  # type: ignore[attr-defined]


_parse_repository_packs_once()


def write_pack(directory: Path, text: str = VALID_PACK, name: str = "pack.yaml") -> Path:
    """Write pack text to directory/name (creating the folder) and return the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def valid_pack_text() -> str:
    return VALID_PACK


@pytest.fixture
def valid_pack_file(tmp_path: Path) -> Path:
    """VALID_PACK written to a file in a fresh temporary folder."""
    return write_pack(tmp_path / "packs", VALID_PACK, "test-pack.yaml")


@pytest.fixture(scope="session")
def judge_pool():
    """One real, jailed, warm pool for the grading tests (the judge's own tests start their own). One worker:
    `make test` runs two test processes on two cores, each with its own session pool, so a second worker per
    process only competes for the same cores, and its start (an import of torch and the probes' warm-up, about
    3 s of CPU) would be paid twice over."""
    from quizapp.judge.pool import Pool

    with Pool(size=1) as pool:
        assert pool.wait_warm(180), "the judge's workers did not start"
        yield pool


def _copy_of(outcome: Future[Any]) -> Future[Any]:
    """A future of a deep copy of `outcome`'s result (or of its exception)."""
    copied: Future[Any] = Future()

    def settle(done: Future[Any]) -> None:
        error = done.exception()
        if error is not None:
            copied.set_exception(error)
        else:
            copied.set_result(copy.deepcopy(done.result()))

    outcome.add_done_callback(settle)
    return copied


class OncePerSession:
    """The session's pool, running each distinct job (task, payload, limits) once and handing every later asker
    the same outcome. The judge is deterministic (every generator is seeded from the job), so a job's outcome
    is a fact about the job: tests that grade the same answer to the same question (a pack's proof, its student
    build, a class of answers) need not pay the jail again. The judge's own behaviour (limits, hostile code,
    workers replaced) is tested on pools of their own, never through this. Every asker gets a copy of the
    outcome, so nothing one test does to the facts it judged reaches another's."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.size = pool.size
        self.jail_mode = pool.jail_mode
        self._outcomes: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self.runs = 0
        self.reused = 0

    def wait_warm(self, timeout: float | None = None) -> bool:
        return bool(self.pool.wait_warm(timeout))

    @staticmethod
    def key(task: str, payload: dict[str, Any], limits: Any) -> str:
        limits_data = limits.model_dump(mode="json") if hasattr(limits, "model_dump") else limits
        return json.dumps([task, payload, limits_data], sort_keys=True)

    def submit(self, task: str, payload: dict[str, Any], limits: Any = None) -> Future[Any]:
        key = self.key(task, payload, limits)
        with self._lock:
            pending = self._outcomes.get(key)
            if pending is None:
                self.runs += 1
                pending = self._outcomes[key] = self.pool.submit(task, payload, limits)
            else:
                self.reused += 1
        return _copy_of(pending)

    def run(self, task: str, payload: dict[str, Any], limits: Any = None) -> Any:
        return self.submit(task, payload, limits).result()

    def __getattr__(self, name: str) -> Any:  # the pool's other attributes (warm, jail_reason, ...)
        return getattr(self.pool, name)


@pytest.fixture(scope="session")
def judged(judge_pool) -> OncePerSession:
    """The session's pool behind a record of every job's outcome: see OncePerSession."""
    return OncePerSession(judge_pool)


class _Borrowed:
    """The session's pool, lent to a command that would start its own: closing it gives it back."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def close(self) -> None:
        pass

    def terminate(self) -> None:  # a command ends its pool this way: the session's is only given back
        pass

    def __enter__(self) -> _Borrowed:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def commands_on_session_pool(judged, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`main()` run in this process grades on the session's warm pool instead of starting one (two imports of
    torch), through the session's record of outcomes (`judged`): for tests of what a command does and prints, not
    of how it starts or configures the judge."""
    from quizapp.judge import pool as pool_module

    monkeypatch.setattr(pool_module, "Pool", lambda *args, **kwargs: _Borrowed(judged))
    return judged


# --- markers and groups: `make test-fast` runs `-m "not jail and not tui and not e2e"` ------------------------

# Files whose every test runs code in the judge (they start their own pools, or run `quizapp` that does).
JAIL_FILES = {"test_containment.py", "test_judge_pool.py", "test_grading_code.py"}
# Files that run the whole program end to end: a real terminal, a built wheel, a fresh app process.
E2E_FILES = {"test_tui_tmux.py", "test_tui_mock_tmux.py", "test_tui_no_torch.py", "test_packaging.py"}
# Tests that look for job processes machine-wide: no other judge's jobs may run beside them (see scheduling.py).
ALONE_FILES = {"test_containment.py"}
# Files whose tests grade the same jobs through the session's record of outcomes (`judged`): the built-in packs'
# proofs, their student build, the generated class, and the grading tests that grade the built-in references,
# decoys and the conftest pack's answers again share one process, so each job runs once.
SHARED_OUTCOMES = {
    "test_builtin_pack.py": "builtin-packs",
    "test_student_build.py": "builtin-packs",
    "test_batch.py": "builtin-packs",
    "test_grading_code.py": "builtin-packs",
    "test_grading_integrity.py": "builtin-packs",
}


# Files that run worker-side code (torch) in the test process: one process imports torch for them, not both.
TORCH_IN_PROCESS = {"test_grading_roles.py", "test_probe_helpers.py"}


# What collecting the suite imported that it must not: every test process collects every file, so a module-level
# `import torch` costs each of them seconds of CPU (test_scheduling.py checks that this stays empty).
COLLECTION_IMPORTED: set[str] = set()


def judge_group(file_name: str) -> str:
    """The xdist group of a test that runs jobs in a judge (see scheduling.py for how groups are scheduled)."""
    if file_name in ALONE_FILES:
        return f"{scheduling.JUDGE_ALONE}{file_name}"
    return f"{scheduling.JUDGE}{SHARED_OUTCOMES.get(file_name, file_name)}"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by what they need, so that a file need not say it: the session's judge pool (or a file of
    judge tests) is `jail`, the Textual app is `tui`, a real terminal or a fresh program is `e2e`.

    Every test that runs jobs in a judge (`jail`, and `e2e`: the app or a command starts one) gets an xdist group
    (`judge_group`): its file's, so that a module's pool or grader is built once, or a set of files' that share
    the session's record of outcomes (`judged`), or the containment tests' own, which runs alone. Every other
    test is scheduled on its own."""
    if "torch" in sys.modules:
        COLLECTION_IMPORTED.add("torch")
    for item in items:
        name = item.path.name
        fixtures = getattr(item, "fixturenames", ())
        if "judge_pool" in fixtures or "judged" in fixtures or name in JAIL_FILES:
            item.add_marker(pytest.mark.jail)
        if name.startswith("test_tui_"):
            item.add_marker(pytest.mark.tui)
        if name in E2E_FILES:
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("jail") or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group(judge_group(name)))
        elif name in TORCH_IN_PROCESS:
            item.add_marker(pytest.mark.xdist_group(f"torch-in-process:{name}"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--suite-cpu",
        action="store_true",
        help="record each test's wall time and the CPU of its process tree in .suite-cpu/ (tests/suite_cpu.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and config.getvalue("dist") == "loadgroup":  # the controller, before it starts the workers
        filler = scheduling.filler_id(int(config.getvalue("numprocesses") or 0), scheduling.cores())
        os.environ[scheduling.FILLER_VARIABLE] = filler or ""
    elif worker is not None and worker == os.environ.get(scheduling.FILLER_VARIABLE):
        os.nice(scheduling.FILLER_NICENESS)  # the filler process: see scheduling.py (its pools inherit this)
    if config.getoption("suite_cpu"):
        import suite_cpu

        config.pluginmanager.register(suite_cpu, "suite_cpu")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` (`make test`) with the judge's tests shared between the processes: scheduling.py."""
    if config.getvalue("dist") == "loadgroup":
        return scheduling.JudgeAwareScheduling(config, log)
    return None
