"""The built-in packs: every file in questions/ loads, teaches, and proves itself in the judge, one test per pack
file found at run time (packs are added without touching this file); and torch-modules has what tools rely on.

The proofs share the session's warm pool and one reference cache, and run in this process: every reference
passes its checks, every decoy fails the check it names, every predict snippet prints exactly its answer,
through the same grader and jail as a learner's answer.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.grading.proving import prove
from quizapp.packs import check_pack_file, load_pack, model

BUILTIN_FILES = sorted(locations.builtin_packs_dir().glob("*.yaml"))
MODULES = locations.builtin_packs_dir() / "torch-modules.yaml"


def test_the_builtin_packs_are_found() -> None:
    assert MODULES in BUILTIN_FILES


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.name)
def test_the_pack_loads_clean_and_every_question_teaches(path: Path) -> None:
    loaded = check_pack_file(path)
    assert loaded.problems == [], "\n".join(str(p) for p in loaded.problems)
    pack = loaded.pack
    assert pack is not None and pack.build == "source"
    for question in pack.questions:
        assert question.hints, f"{question.id} has no hints"
        assert len(question.explanation.split()) >= 25, f"{question.id}: the explanation is too thin to teach"
        if isinstance(question, model.CodeBase):
            assert question.decoys, f"{question.id} has no decoys proving its checks"
            assert {d.fails for d in question.decoys} <= {c.id for c in question.checks}, question.id


def test_pack_ids_are_unique_across_files() -> None:
    ids = [load_pack(path).id for path in BUILTIN_FILES]
    assert len(ids) == len(set(ids)), ids


@pytest.fixture(scope="session")
def proving_grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    """One grader and one reference cache for every pack's proof, on the session's warm pool (whose outcomes
    the student-build tests then reuse: they grade the same references and decoys)."""
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("builtin-reference-cache")))


@pytest.mark.jail
@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.name)
def test_the_pack_proves_itself_in_the_judge(path: Path, proving_grader: Grader, judged) -> None:
    loaded = check_pack_file(path)
    assert loaded.pack is not None
    proof = prove(loaded, proving_grader, judged)
    errors = [str(p) for p in proof.problems if p.severity == "error"]
    assert errors == []
    code = [q for q in loaded.pack.questions if isinstance(q, model.CodeBase)]
    assert proof.references == len(code)
    assert proof.decoys == sum(len(q.decoys) for q in code)
    assert proof.snippets == sum(1 for q in loaded.pack.questions if isinstance(q, model.PredictQuestion))
    # every custom probe reports observations (docs/authoring.md): none may look like a self-assessment
    assert [str(p) for p in proof.problems if "self-assessment" in p.message] == []
    if path == MODULES:  # a warning elsewhere, as for `quizapp validate`; torch-modules proves every check
        assert [str(p) for p in proof.problems if "is unproven" in p.message] == []


# --- torch-modules: what tools and the README rely on --------------------------------------------------------


@pytest.fixture(scope="module")
def pack() -> model.Pack:
    return load_pack(MODULES)


def test_has_the_questions_tools_rely_on(pack: model.Pack) -> None:
    kinds = {q.id: q.kind for q in pack.questions}
    assert kinds["resnet-residual-block"] == "code"
    assert kinds["fix-netsequential"] == "fix"
    assert kinds["my-sequential"] == "code"
    assert kinds["sequential-extraction"] == "predict"
    assert set(kinds.values()) == set(model.QUESTION_KINDS)
    signatures = {q.id: q.signature for q in pack.questions if isinstance(q, model.CodeBase)}
    assert signatures["resnet-residual-block"] == "ResidualBlock(in_channels, out_channels, stride=1)"
    assert signatures["fix-netsequential"] == "NetSequential(in_c, n_classes)"
    assert signatures["my-sequential"] == "MySequential(*modules)"


def _run_in_the_judge(judged, pack: model.Pack, question: model.CodeBase, code: str, probe: str) -> object:
    """`code` then `probe` (which sets RESULT) run in the jail, as an answer would: the test process never
    imports torch."""
    outcome = judged.run("exec", {"code": code + "\n\n" + textwrap.dedent(probe)}, pack.limits_for(question))
    assert outcome.status == "ok", outcome.detail
    assert outcome.facts["ok"], outcome.facts
    return outcome.facts["result"]


SHAPES = [(16, 16, 1, 8), (16, 32, 2, 7), (8, 8, 2, 6), (3, 5, 3, 10)]


@pytest.mark.jail
def test_resnet_reference_shapes(pack: model.Pack, judged) -> None:
    question = pack.question("resnet-residual-block")
    assert isinstance(question, model.CodeBase) and question.solution
    probe = f"""
        import torch
        RESULT = [
            list(ResidualBlock(i, o, stride=s)(torch.randn(2, i, n, n)).shape) for i, o, s, n in {SHAPES!r}
        ]
        """
    shapes = _run_in_the_judge(judged, pack, question, question.solution, probe)
    assert shapes == [[2, o, math.ceil(n / s), math.ceil(n / s)] for _, o, s, n in SHAPES]


@pytest.mark.jail
def test_fix_starter_is_broken_and_solution_is_not(pack: model.Pack, judged) -> None:
    question = pack.question("fix-netsequential")
    assert isinstance(question, model.CodeBase) and question.solution
    probe = """
        import torch
        try:
            out = NetSequential(1, 10).eval()(torch.randn(2, 1, 28, 28))
            RESULT = {"shape": list(out.shape)}
        except Exception as error:
            RESULT = {"raised": type(error).__name__, "message": str(error)}
        """
    broken = _run_in_the_judge(judged, pack, question, question.starter, probe)
    assert broken["raised"] == "AttributeError" and "decode" in broken["message"], broken
    assert _run_in_the_judge(judged, pack, question, question.solution, probe) == {"shape": [2, 10]}


@pytest.mark.jail
def test_mlp_stack_message_states_the_true_parameter_count(pack: model.Pack, judged) -> None:
    question = pack.question("mlp-stack")
    assert isinstance(question, model.CodeBase) and question.solution
    probe = "RESULT = sum(p.numel() for p in MLPStack(8, 3).parameters())"
    count = _run_in_the_judge(judged, pack, question, question.solution, probe)
    check = next(c for c in question.checks if c.id == "registered")
    assert isinstance(count, int) and f"{count} parameters" in (check.message or "")
