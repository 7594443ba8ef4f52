"""Layers import down only, as Harlequin keeps its domain free of textual: read from every module's imports (the
ones inside functions too), and checked in fresh interpreters for what a real run loads.

- textual only under quizapp/tui/;
- torch, numpy and safetensors only in the judge's worker-side code;
- the judge never imports grading (it runs jobs; verdicts are made above it).
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VALID_PACK

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "quizapp"
HEAVY = ("torch", "numpy", "safetensors")
# Worker-side modules: they run in the judge's server process, which imports torch once and forks jobs.
WORKER_SIDE = {"judge/child.py", "judge/probes.py", "judge/server.py", "judge/tasks.py", "judge/training.py"}
# The benchmark drives every layer, the grader included, to measure them; it is a tool, not part of the judge.
TOOLS = {"judge/bench.py"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, absolute, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(ROOT).parent.parts)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import grading`
    return found


@functools.cache
def _modules() -> dict[str, frozenset[str]]:
    """Every module's imports, read once for the file's tests (parsing the whole package takes most of a second)."""
    return {path.relative_to(PACKAGE).as_posix(): frozenset(_imports(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def _top(names: frozenset[str], *tops: str) -> list[str]:
    return sorted(name for name in names if name.split(".")[0] in tops)


def test_the_scan_sees_imports_inside_functions() -> None:
    imports = _modules()
    assert "torch" in {n.split(".")[0] for n in imports["judge/probes.py"]}
    assert "quizapp.judge.pool" in imports["services.py"]  # imported inside a function
    assert "textual.app" in {n for n in imports["tui/app.py"]}


def test_textual_only_under_tui() -> None:
    offenders = {
        name: _top(names, "textual")
        for name, names in _modules().items()
        if not name.startswith("tui/") and _top(names, "textual")
    }
    assert offenders == {}


def test_torch_numpy_and_safetensors_only_in_worker_side_code() -> None:
    offenders = {
        name: _top(names, *HEAVY)
        for name, names in _modules().items()
        if name not in WORKER_SIDE | TOOLS and _top(names, *HEAVY)
    }
    assert offenders == {}


def test_the_judge_never_imports_grading() -> None:
    offenders = {
        name: sorted(n for n in names if n.startswith("quizapp.grading") or n == "quizapp.grading")
        for name, names in _modules().items()
        if name.startswith("judge/") and name not in TOOLS
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_domain_packages_import_no_layer_above_them() -> None:
    above = {
        "packs/": ("quizapp.grading", "quizapp.judge", "quizapp.store", "quizapp.practice", "quizapp.tui"),
        "grading/": ("quizapp.store", "quizapp.practice", "quizapp.tui", "quizapp.services", "quizapp.cli"),
        "store/": ("quizapp.practice", "quizapp.tui", "quizapp.services", "quizapp.cli"),
        "practice/": ("quizapp.tui", "quizapp.services", "quizapp.cli"),
    }
    offenders = {}
    for name, names in _modules().items():
        for prefix, forbidden in above.items():
            if name.startswith(prefix):
                bad = sorted(n for n in names if n.startswith(forbidden))
                if bad:
                    offenders[name] = bad
    assert offenders == {}


# The conftest pack, whose code question checks outputs and gradients (without the trace rule its reference fails).
PACK = VALID_PACK.replace("          - merges_input: mul\n", "")
# A fresh interpreter, as the app or the CLI runs: what it has loaded after grading a code answer in the judge.
GRADE_CODE = r"""
import json, sys
from quizapp.grading.grader import Grader
from quizapp.judge.pool import Pool
from quizapp.packs import check_pack_text

pack = check_pack_text(sys.stdin.read(), "pack.yaml").pack
question = pack.question("scale-module")  # outputs and gradients: tensors come back
pool = Pool(size=1)
try:
    result = Grader(pool).grade(pack, question, question.solution)
finally:
    pool.terminate()  # as the commands end theirs: close() would wait for the worker's deferred training warm-up
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"verdict": result.verdict, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def fresh_grading() -> dict:
    return _grade_code_in_a_fresh_process()


def _grade_code_in_a_fresh_process() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", GRADE_CODE], input=PACK, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.jail
def test_grading_code_loads_no_torch_and_no_textual_in_the_calling_process(fresh_grading: dict) -> None:
    report = fresh_grading
    assert report["verdict"] == "accepted"
    assert "torch" not in report["loaded"] and "textual" not in report["loaded"]
    assert "quizapp" in report["loaded"]  # the list is real


@pytest.mark.jail
def test_grading_code_loads_no_safetensors_in_the_calling_process(fresh_grading: dict) -> None:
    """The worker's tensors are read by quizapp/grading/facts.py from the format itself (8 bytes of header length,
    a JSON header, raw bytes), not by the safetensors library."""
    assert "safetensors" not in fresh_grading["loaded"]


@pytest.mark.jail
def test_grading_code_loads_no_numpy_in_the_calling_process(fresh_grading: dict) -> None:
    """The grader decodes and compares the worker's tensors in pure Python (quizapp/grading/tensors.py)."""
    assert "numpy" not in fresh_grading["loaded"]


def test_the_cli_and_the_domain_load_no_textual_and_no_torch() -> None:
    code = (
        "import sys, json\n"
        "import quizapp.cli, quizapp.services, quizapp.practice, quizapp.store, quizapp.grading.batch\n"
        "import quizapp.grading.proving, quizapp.grading.student, quizapp.judge.pool\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "quizapp" in loaded
    assert loaded.isdisjoint({"textual", *HEAVY}), sorted(loaded & {"textual", *HEAVY})
