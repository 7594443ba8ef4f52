"""The built-in pack: it loads, it has what tools rely on, and what it states is true under real torch.

The judge (a later layer) proves references, decoys and predict answers inside the jail; these tests run
the pack's own code directly so a wrong number in the pack fails here first.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys

import pytest

from quizapp import locations
from quizapp.packs import load_pack, model

torch = pytest.importorskip("torch")
nn = torch.nn

PACK = locations.builtin_packs_dir() / "torch-modules.yaml"


@pytest.fixture(scope="module")
def pack() -> model.Pack:
    return load_pack(PACK)


def test_has_the_questions_tools_rely_on(pack: model.Pack) -> None:
    kinds = {q.id: q.kind for q in pack.questions}
    assert kinds["resnet-residual-block"] == "code"
    assert kinds["fix-netsequential"] == "fix"
    assert kinds["my-sequential"] == "code"
    assert kinds["sequential-extraction"] == "predict"
    assert len(pack.questions) >= 15
    assert set(kinds.values()) == set(model.QUESTION_KINDS)
    signatures = {q.id: q.signature for q in pack.questions if isinstance(q, model.CodeBase)}
    assert signatures["resnet-residual-block"] == "ResidualBlock(in_channels, out_channels, stride=1)"
    assert signatures["fix-netsequential"] == "NetSequential(in_c, n_classes)"
    assert signatures["my-sequential"] == "MySequential(*modules)"


def test_every_question_teaches(pack: model.Pack) -> None:
    for question in pack.questions:
        assert question.hints, f"{question.id} has no hints"
        assert len(question.explanation.split()) >= 25, f"{question.id}: the explanation is too thin to teach"
        if isinstance(question, model.CodeBase):
            assert question.decoys, f"{question.id} has no decoys proving its checks"
            named = {d.fails for d in question.decoys}
            assert named <= {c.id for c in question.checks}


def _run(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<snippet>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


@pytest.mark.parametrize(
    "question_id",
    [
        "sequential-extraction",
        "plain-list-param-count",
        "fixed-hidden-mlp-params",
        "chimera-parameters",
        "lazy-linear-shapes",
        "convnext-extraction",
    ],
)
def test_predict_answers_are_what_the_snippets_print(pack: model.Pack, question_id: str) -> None:
    question = pack.question(question_id)
    assert isinstance(question, model.PredictQuestion)
    assert _run(question.snippet).rstrip("\n") == question.answer.rstrip("\n")


def _namespace(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "solution"}
    exec(compile(source, "<solution>", "exec"), namespace)
    return namespace


def _build(case: model.Case, namespace: dict[str, object], entry_point: str) -> object:
    if case.build:
        scope = {"torch": torch, "nn": nn, "F": torch.nn.functional, **namespace}
        return eval(case.build, scope)
    return namespace[entry_point](*case.args, **case.kwargs)  # type: ignore[operator]


def _code_questions(pack: model.Pack) -> list[model.CodeBase]:
    return [q for q in pack.questions if isinstance(q, model.CodeBase)]


def test_references_run_every_case(pack: model.Pack) -> None:
    for question in _code_questions(pack):
        namespace = _namespace(question.solution)
        for check in question.checks:
            for case in getattr(check, "cases", []):
                module = _build(case, namespace, question.entry_point)
                for spec in case.inputs:
                    out = module(torch.randn(*spec.shape))  # type: ignore[operator]
                    assert torch.isfinite(out).all(), f"{question.id}/{check.id}: non-finite output"


def test_resnet_reference_shapes(pack: model.Pack) -> None:
    question = pack.question("resnet-residual-block")
    block_class = _namespace(question.solution)["ResidualBlock"]
    for in_c, out_c, stride, size in [(16, 16, 1, 8), (16, 32, 2, 7), (8, 8, 2, 6), (3, 5, 3, 10)]:
        block = block_class(in_c, out_c, stride=stride)
        out = block(torch.randn(2, in_c, size, size))
        expected = math.ceil(size / stride)
        assert tuple(out.shape) == (2, out_c, expected, expected)


def test_fix_starter_is_broken_and_solution_is_not(pack: model.Pack) -> None:
    question = pack.question("fix-netsequential")
    broken = _namespace(question.starter)["NetSequential"](1, 10)
    with pytest.raises(AttributeError, match="decode"):
        broken(torch.randn(2, 1, 28, 28))
    fixed = _namespace(question.solution)["NetSequential"](1, 10).eval()
    assert tuple(fixed(torch.randn(2, 1, 28, 28)).shape) == (2, 10)


def test_literal_expressions_hold_for_the_reference(pack: model.Pack) -> None:
    checked = 0
    for question in _code_questions(pack):
        for check in question.checks:
            if not isinstance(check, model.ExpressionCheck):
                continue
            namespace = {"torch": torch, "nn": nn, "F": torch.nn.functional, **_namespace(question.solution)}
            if check.setup:
                exec(check.setup, namespace)
            for expression in check.expressions:
                if "equals" in expression.model_fields_set:
                    assert eval(expression.expr, namespace) == expression.equals, (question.id, expression.expr)
                    checked += 1
    assert checked >= 4


def test_structure_counts_hold_for_the_reference(pack: model.Pack) -> None:
    checked = 0
    for question in _code_questions(pack):
        namespace = _namespace(question.solution)
        for check in question.checks:
            if not isinstance(check, model.StructureCheck):
                continue
            for case in check.cases:
                module = _build(case, namespace, question.entry_point)
                counts: dict[str, int] = {}
                for sub in module.modules():  # type: ignore[attr-defined]
                    counts[type(sub).__name__] = counts.get(type(sub).__name__, 0) + 1
                for type_name, expected in check.modules.items():
                    got = counts.get(type_name, 0)
                    assert expected.min is None or got >= expected.min, (question.id, check.id, type_name, got)
                    assert expected.max is None or got <= expected.max, (question.id, check.id, type_name, got)
                    checked += 1
    assert checked >= 8


def test_mlp_stack_message_states_the_true_parameter_count(pack: model.Pack) -> None:
    question = pack.question("mlp-stack")
    module = _namespace(question.solution)["MLPStack"](8, 3)
    count = sum(p.numel() for p in module.parameters())
    check = next(c for c in question.checks if c.id == "registered")
    assert f"{count} parameters" in (check.message or "")


def test_the_pack_proves_itself_from_the_command_line(pack: model.Pack) -> None:
    """`quizapp validate` runs every reference, every decoy and every snippet in the judge."""
    done = subprocess.run(
        [sys.executable, "-m", "quizapp", "validate", str(PACK)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    code = [q for q in pack.questions if isinstance(q, model.CodeBase)]
    decoys = sum(len(q.decoys) for q in code)
    snippets = sum(1 for q in pack.questions if isinstance(q, model.PredictQuestion))
    assert f"ran {len(code)} reference(s), {decoys} decoy(s), {snippets} snippet(s), 0 error(s)" in done.stderr
