"""The YAML loader: a valid pack round-trips, and every broken pack gets located, worded problems."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import VALID_PACK, VALID_QUESTION_IDS, write_pack

from quizapp.packs import (
    LoadResult,
    Pack,
    PackError,
    Problem,
    check_pack_file,
    check_pack_text,
    load_pack,
    model,
)

# --- helpers ------------------------------------------------------------------------------------------


def mutate(old: str, new: str, text: str = VALID_PACK) -> str:
    """`text` with the one occurrence of `old` replaced by `new` (fails if `old` is missing or repeated)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the pack text"
    return text.replace(old, new)


def at(text: str, needle: str, offset: int = 0, nth: int | None = None) -> tuple[int, int]:
    """1-based (line, column) of the character `offset` characters into `needle`.

    `needle` must occur exactly once, unless `nth` picks one of its occurrences (1-based).
    """
    if nth is None:
        assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times; pass nth"
    index = -1
    for _ in range(nth or 1):
        index = text.find(needle, index + 1)
        assert index >= 0, f"{needle!r} does not occur {nth} time(s)"
    index += offset
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def errors_of(text: str) -> list[Problem]:
    result = check_pack_text(text, "t.yaml")
    assert result.pack is None, "the broken pack loaded"
    assert result.errors, "no errors for a broken pack"
    return result.errors


def only_error(text: str) -> Problem:
    errors = errors_of(text)
    assert len(errors) == 1, "\n".join(str(e) for e in errors)
    return errors[0]


def valid_pack() -> Pack:
    result = check_pack_text(VALID_PACK, "t.yaml")
    assert result.problems == [], "\n".join(str(p) for p in result.problems)
    assert result.pack is not None
    return result.pack


# --- the valid pack ---------------------------------------------------------------------------------


def test_valid_pack_loads_without_problems():
    result = check_pack_text(VALID_PACK, "t.yaml")
    assert isinstance(result, LoadResult)
    assert result.file == "t.yaml"
    assert result.problems == []
    assert result.errors == []
    assert isinstance(result.pack, Pack)


def test_header_fields_come_back_as_written():
    pack = valid_pack()
    assert pack.format == 1
    assert pack.id == "test-pack"
    assert pack.title == "Test pack"
    assert pack.version == "1.2.0"
    assert pack.description == "A small pack for the tests."
    assert pack.authors == ["Test Author"]
    assert pack.licence == "CC-BY-4.0"
    assert pack.tags == ["testing"]
    assert [q.id for q in pack.questions] == VALID_QUESTION_IDS
    assert [q.kind for q in pack.questions] == ["choice", "predict", "code", "fix", "explain"]


def test_pack_defaults_merge_over_built_in_limits():
    limits = valid_pack().defaults.limits
    assert limits.cpu_seconds == 4
    assert limits.memory_mb == 512
    assert limits.wall_seconds == model.Limits().wall_seconds == 10.0


def test_choice_question_fields():
    question = valid_pack().question("pick-activation")
    assert isinstance(question, model.ChoiceQuestion)
    assert question.title == "Pick an activation"
    assert question.difficulty == "easy"
    assert question.minutes == 1
    assert question.tags == ["basics"]
    assert question.hints == ["Think of nonlinearities."]
    assert [o.id for o in question.options] == ["a", "b", "c"]
    assert [o.text for o in question.options] == ["nn.ReLU", "nn.Linear", "nn.GELU"]
    assert question.options[0].feedback == "ReLU is an activation."
    assert question.options[1].feedback is None
    assert question.correct_ids == ["a", "c"]
    assert question.select is None
    assert question.selects_many is True
    assert question.shuffle is True


def test_choice_with_one_correct_option_selects_one():
    text = mutate("        text: nn.GELU\n        correct: true\n", "        text: nn.GELU\n")
    question = check_pack_text(text).pack.question("pick-activation")
    assert question.correct_ids == ["a"]
    assert question.selects_many is False


def test_select_many_with_one_correct_option_selects_many():
    text = mutate("        text: nn.GELU\n        correct: true\n", "        text: nn.GELU\n")
    text = mutate("    options:\n", "    select: many\n    options:\n", text)
    question = check_pack_text(text).pack.question("pick-activation")
    assert question.selects_many is True


def test_integer_option_id_becomes_text():
    text = mutate("      - id: b\n", "      - id: 2\n")
    question = check_pack_text(text).pack.question("pick-activation")
    assert [o.id for o in question.options] == ["a", "2", "c"]


def test_predict_question_fields():
    question = valid_pack().question("predict-shape")
    assert isinstance(question, model.PredictQuestion)
    assert question.snippet == ("import torch\nprint(tuple((torch.ones(2, 3) @ torch.ones(3, 4)).shape))\n")
    assert question.answer == "(2, 4)"
    assert question.accept == ["(2,4)"]


def test_code_question_fields_and_check_kinds():
    question = valid_pack().question("scale-module")
    assert isinstance(question, model.CodeQuestion)
    assert question.entry_point == "Scale"
    assert question.signature == "Scale(features)"
    assert question.starter == "class Scale:\n    pass\n"
    assert question.solution.startswith("import torch\nfrom torch import nn\n\n\nclass Scale(nn.Module):\n")
    assert [c.id for c in question.checks] == [
        "same-outputs",
        "same-gradients",
        "has-parameter",
        "multiplies",
        "weight-shape",
        "is-a-module",
        "custom-probe",
    ]
    assert [c.kind for c in question.checks] == [k for k in model.CHECK_KINDS if k != "training"]  # training: own tests
    assert [type(c) for c in question.checks] == [
        model.OutputsCheck,
        model.GradientsCheck,
        model.StructureCheck,
        model.TraceCheck,
        model.ExpressionCheck,
        model.SourceCheck,
        model.CustomCheck,
    ]


def test_shape_shorthand_becomes_tensor_spec():
    outputs = valid_pack().question("scale-module").checks[0]
    case = outputs.cases[0]
    assert case.name == "three features"
    assert case.args == [3]
    assert case.kwargs == {}
    assert case.build is None
    assert case.inputs == [
        model.TensorSpec(shape=[2, 3]),
        model.TensorSpec(shape=[4, 3], dtype="float64", low=-1, high=1),
    ]
    shorthand = case.inputs[0]
    assert (shorthand.dtype, shorthand.low, shorthand.high, shorthand.requires_grad) == ("float32", None, None, True)
    assert outputs.modes == ["train", "eval"]
    assert (outputs.rtol, outputs.atol, outputs.seed) == (None, None, 0)
    assert model.tolerance_for(outputs, outputs.cases[0]) == (1e-5, 1e-6)


def test_check_fields():
    checks = valid_pack().question("scale-module").checks
    gradients, structure, trace, expression, source, custom = checks[1:]
    assert gradients.visible is False
    assert gradients.message == "Check how the scale enters the product."
    assert gradients.cases[0].build == "Scale(3)"
    assert gradients.cases[0].inputs == [model.TensorSpec(shape=[2, 3])]
    assert gradients.modes == ["train"]
    assert gradients.wrt == ["input", "parameters"]
    assert checks[0].visible is True

    assert structure.cases[0].kwargs == {"features": 3}
    assert structure.modules == {"Scale": model.CountRange(min=1, max=1), "Linear": model.CountRange(max=0)}
    assert structure.modules["Linear"].min is None
    assert structure.param_count == "reference"

    assert trace.rules == [
        model.TraceRule(merges_input="mul"),
        model.TraceRule(op="mul", count=model.CountRange(min=1, max=1)),
        model.TraceRule(last="mul", message="The product should be returned."),
    ]

    assert expression.setup == "m = Scale(3)\n"
    assert [(e.expr, e.equals) for e in expression.expressions] == [
        ("tuple(m.weight.shape)", [3]),
        ("m.weight.requires_grad", None),
    ]

    assert source.rules == [
        model.SourceRule(subclass={"Scale": "nn.Module"}),
        model.SourceRule(forbid_names=["nn.Linear"], max_lines=40),
    ]

    assert custom.probe == 'def probe(ns):\n    return {"name": ns["Scale"].__name__}\n'
    assert custom.verdict == "def verdict(learner, reference):\n    return None\n"


def test_decoy_fields():
    (decoy,) = valid_pack().question("scale-module").decoys
    assert decoy.id == "adds-instead"
    assert decoy.description == "Adds the scale instead of multiplying."
    assert "return x + self.weight" in decoy.code
    assert decoy.fails == "same-outputs"


def test_fix_and_explain_fields():
    pack = valid_pack()
    fix = pack.question("fix-relu")
    assert isinstance(fix, model.FixQuestion)
    assert fix.defects == 1
    assert fix.starter.endswith("return torch.sigmoid(x)\n")
    assert fix.solution.endswith("return torch.relu(x)\n")
    assert fix.limits is None
    explain = pack.question("why-no-grad")
    assert isinstance(explain, model.ExplainQuestion)
    assert explain.model_answer.startswith("No graph is recorded")
    assert [(p.id, p.points) for p in explain.rubric] == [("no-graph", 1.0), ("memory", 2.0)]


def test_unknown_question_id_raises_key_error():
    with pytest.raises(KeyError):
        valid_pack().question("no-such-question")


def test_limits_for_merges_question_overrides_over_pack_defaults():
    pack = valid_pack()
    code = pack.question("scale-module")
    assert code.limits is not None
    merged = pack.limits_for(code)
    assert merged == model.Limits(cpu_seconds=4, memory_mb=512, wall_seconds=20)
    assert merged.cpu_seconds == 4  # from the pack, not the question's unwritten default of 5
    assert merged.memory_mb == 512
    assert merged.wall_seconds == 20
    assert merged.output_kb == 64
    assert pack.limits_for(pack.question("fix-relu")) == pack.defaults.limits


def test_model_dump_validates_to_an_equal_pack():
    pack = valid_pack()
    assert Pack.model_validate(pack.model_dump()) == pack
    assert Pack.model_validate(pack.model_dump(mode="json")) == pack
    assert Pack.model_validate_json(pack.model_dump_json()) == pack


def test_limits_for_survives_a_model_dump_round_trip():
    pack = valid_pack()
    again = Pack.model_validate(pack.model_dump())
    assert again == pack
    assert again.limits_for(again.question("scale-module")) == pack.limits_for(pack.question("scale-module"))


def test_load_pack_reads_a_file(valid_pack_file: Path):
    pack = load_pack(valid_pack_file)
    assert pack == valid_pack()
    result = check_pack_file(valid_pack_file)
    assert result.file == str(valid_pack_file)
    assert check_pack_file(valid_pack_file, display="shown.yaml").file == "shown.yaml"


def test_load_pack_raises_pack_error_with_every_problem(tmp_path: Path):
    text = mutate("    difficulty: medium\n    minutes: 2\n", "    difficulty: medum\n    minutes: 2\n")
    text = mutate("      - id: c\n", "      - id: a\n", text)
    path = write_pack(tmp_path, text)
    with pytest.raises(PackError) as caught:
        load_pack(path)
    problems = caught.value.problems
    assert [(p.line, p.column) for p in problems] == [at(text, "id: a\n", 4, nth=2), at(text, "medum")]
    assert all(p.file == str(path) for p in problems)
    assert f"{path}:{problems[0].line}:{problems[0].column}: error:" in str(caught.value)


# --- one mistake, one located problem -----------------------------------------------------------------

_MISSING_CODE_SOLUTION = (
    "    solution: |\n      import torch\n      from torch import nn\n\n\n      class Scale(nn.Module):\n"
    "          def __init__(self, features):\n              super().__init__()\n"
    "              self.weight = nn.Parameter(torch.ones(features))\n\n"
    "          def forward(self, x):\n              return x * self.weight\n    limits:\n"
)
_FIX_SOLUTION = "    solution: |\n      import torch\n\n\n      def act(x):\n          return torch.relu(x)\n"
_SECOND_DECOY = (
    "        fails: same-outputs\n"
    "      - id: adds-instead\n        description: The same id again.\n"
    "        code: |\n          class Scale:\n              pass\n        fails: same-gradients\n"
)


def _case(name, text, position, path, message):
    return pytest.param(text, position, path, message, id=name)


def _error_cases():
    cases = []

    def add(name, text, needle, path, message, offset=0, nth=None):
        cases.append(_case(name, text, at(text, needle, offset, nth), path, message))

    t = mutate("title: Test pack\n", "title: Test: pack\n")
    add("yaml-syntax-mapping-value", t, ": pack", "", "YAML syntax: mapping values are not allowed here")
    t = mutate("    tags: [basics]\n", "    tags: [basics]\n   stray: x\n")
    add(
        "yaml-syntax-bad-indent",
        t,
        "stray",
        "",
        "YAML syntax: expected <block end>, but found '<block mapping start>' (while parsing a block collection)",
    )
    t = mutate("    tags: [basics]\n", "    tags: [basics\n")
    add(
        "yaml-syntax-unclosed-flow",
        t,
        ": Which",
        "",
        "YAML syntax: expected ',' or ']', but got ':' (while parsing a flow sequence)",
    )

    t = mutate("licence: CC-BY-4.0\n", "licence: CC-BY-4.0\nlicence: MIT\n")
    add(
        "duplicate-yaml-key",
        t,
        "licence: MIT",
        "licence",
        "key 'licence' appears twice in this mapping (first at line 7)",
    )
    t = mutate("    minutes: 2\n", "    minutes: 2\n    minutes: 4\n")
    add(
        "duplicate-yaml-key-in-question",
        t,
        "minutes: 4",
        "questions[1].minutes",
        "key 'minutes' appears twice in this mapping (first at line 38)",
    )

    t = mutate("    tags: [basics]\n", "    zzzz: [basics]\n")
    add(
        "unknown-key-no-close-match",
        t,
        "zzzz",
        "questions[0].zzzz",
        "unknown key 'zzzz' (expected one of: answer_hash, difficulty, explanation, hints, id, kind, minutes, "
        "options, points, prompt, sealed, select, shuffle, tags, title)",
    )
    t = mutate("    cpu_seconds: 4\n", "    cpu_second: 4\n")
    add(
        "unknown-key-in-limits",
        t,
        "cpu_second",
        "defaults.limits.cpu_second",
        "unknown key 'cpu_second': did you mean 'cpu_seconds'?",
    )
    t = mutate("        kind: outputs\n", "        kind: outputs\n        rtoll: 0.1\n")
    add("unknown-key-in-check", t, "rtoll", "questions[2].checks[0].rtoll", "unknown key 'rtoll': did you mean 'rtol'?")

    t = mutate("    title: Predict a shape\n", "")
    add("missing-required-key", t, "id: predict-shape", "questions[1]", "missing required key 'title'")
    t = mutate("licence: CC-BY-4.0\n", "")
    cases.append(_case("missing-header-key", t, (1, 1), "", "missing required key 'licence'"))
    t = mutate("licence: CC-BY-4.0\n", "").replace("authors: [Test Author]\n", "")
    cases.append(_case("missing-header-keys", t, (1, 1), "", "missing required keys 'authors' and 'licence'"))
    t = mutate("        description: Adds the scale instead of multiplying.\n", "")
    add("missing-decoy-key", t, "id: adds-instead", "questions[2].decoys[0]", "missing required key 'description'")

    t = mutate("    title: Predict a shape\n", "    title: [a, b]\n")
    add("text-not-list", t, "[a, b]", "questions[1].title", "expected text, got a list")
    t = mutate("authors: [Test Author]\n", "authors: Test Author\n")
    add("list-not-text", t, "Test Author", "authors", "expected a list, got the text 'Test Author'")
    t = mutate('version: "1.2.0"\n', "version: 1.2\n")
    add(
        "version-number-says-quote-it",
        t,
        "1.2",
        "version",
        "expected text, got float 1.2 (YAML read a number: quote it, '1.2')",
    )
    t = mutate("    minutes: 2\n", "    minutes: soon\n")
    add("number-not-text", t, "soon", "questions[1].minutes", "expected a number, got the text 'soon'")
    t = mutate("    cpu_seconds: 4\n", "    cpu_seconds: 100\n")
    add("out-of-range", t, "100", "defaults.limits.cpu_seconds", "input should be less than or equal to 60")

    t = mutate("    difficulty: medium\n    minutes: 2\n", "    difficulty: medum\n    minutes: 2\n")
    add(
        "bad-literal-did-you-mean",
        t,
        "medum",
        "questions[1].difficulty",
        "expected 'easy', 'medium' or 'hard', got 'medum': did you mean 'medium'?",
    )

    t = mutate("  - id: predict-shape\n", "  - id: Predict Shape\n")
    add(
        "invalid-slug",
        t,
        "Predict Shape",
        "questions[1].id",
        "'Predict Shape' is not a valid id: use lowercase letters, digits and dashes, e.g. 'resnet-block'",
    )
    t = mutate("id: test-pack\n", "id: test_pack\n")
    add(
        "invalid-pack-id",
        t,
        "test_pack",
        "id",
        "'test_pack' is not a valid id: use lowercase letters, digits and dashes, e.g. 'resnet-block'",
    )

    t = mutate("  - id: fix-relu\n", "  - id: predict-shape\n")
    add(
        "duplicate-question-id",
        t,
        "id: predict-shape",
        "questions[3].id",
        "duplicate question id 'predict-shape' (first at line 34)",
        offset=4,
        nth=2,
    )
    t = mutate("      - id: c\n", "      - id: a\n")
    add(
        "duplicate-option-id",
        t,
        "id: a\n",
        "questions[0].options[2].id",
        "duplicate option id 'a' (first at line 25)",
        offset=4,
        nth=2,
    )
    t = mutate("      - id: multiplies\n", "      - id: same-outputs\n")
    add(
        "duplicate-check-id",
        t,
        "id: same-outputs",
        "questions[2].checks[3].id",
        "duplicate check id 'same-outputs' (first at line 73)",
        offset=4,
        nth=2,
    )
    t = mutate("        fails: same-outputs\n", _SECOND_DECOY)
    add(
        "duplicate-decoy-id",
        t,
        "id: adds-instead",
        "questions[2].decoys[1].id",
        "duplicate decoy id 'adds-instead' (first at line 131)",
        offset=4,
        nth=2,
    )
    t = mutate("      - id: memory\n", "      - id: no-graph\n")
    add(
        "duplicate-rubric-id",
        t,
        "id: no-graph",
        "questions[4].rubric[1].id",
        "duplicate rubric point id 'no-graph' (first at line 183)",
        offset=4,
        nth=2,
    )

    t = mutate("        kind: gradients\n", "        kind: gradient\n")
    add(
        "unknown-check-kind",
        t,
        "gradient\n",
        "questions[2].checks[1].kind",
        "unknown check kind 'gradient': did you mean 'gradients'? "
        "(the kinds are outputs, gradients, structure, trace, expression, source, custom, training)",
    )
    t = mutate("    kind: explain\n", "    kind: essay\n")
    add(
        "unknown-question-kind",
        t,
        "essay",
        "questions[4].kind",
        "unknown question kind 'essay' (the kinds are choice, predict, code, fix, explain)",
    )
    t = mutate("    kind: explain\n", "")
    add(
        "missing-question-kind",
        t,
        "id: why-no-grad",
        "questions[4]",
        "missing key 'kind': a question needs one of choice, predict, code, fix, explain",
    )
    t = mutate("        kind: structure\n", "")
    add(
        "missing-check-kind",
        t,
        "id: has-parameter",
        "questions[2].checks[2]",
        "missing key 'kind': a check needs one of outputs, gradients, structure, trace, expression, source, custom, "
        "training",
    )

    t = VALID_PACK.replace("        correct: true\n", "")
    assert t.count("correct") == 0
    add(
        "choice-no-correct-option",
        t,
        "- id: a\n",
        "questions[0].options",
        "no option is correct: mark at least one option with 'correct: true'",
    )
    t = mutate("    options:\n", "    select: one\n    options:\n")
    add(
        "select-one-two-correct",
        t,
        "select: one",
        "questions[0].select",
        "'select: one' but 2 options are correct (a, c): use 'select: many' or mark one",
        offset=8,
    )

    t = mutate(_MISSING_CODE_SOLUTION, "    limits:\n")
    add(
        "code-without-solution",
        t,
        "id: scale-module",
        "questions[2]",
        "a code question needs a reference solution: add 'solution'",
    )
    t = mutate(_FIX_SOLUTION, "")
    add(
        "fix-without-solution",
        t,
        "id: fix-relu",
        "questions[3]",
        "a fix question needs a reference solution: add 'solution'",
    )
    t = mutate(
        "      def act(x):\n          return torch.relu(x)\n",
        "      def activation(x):\n          return torch.relu(x)\n",
    )
    add(
        "solution-without-entry-point",
        t,
        "|\n      import torch\n\n\n      def activation",
        "questions[3].solution",
        "the solution does not define 'act' (the entry_point) at its top level",
    )
    t = mutate(_FIX_SOLUTION, _FIX_SOLUTION.replace("relu(x)", "relu(x").replace("import torch", "import torch  "))
    add(
        "fix-solution-syntax-error",
        t,
        "(x\n",
        "questions[3].solution",
        "syntax error in the solution: '(' was never closed",
    )
    t = mutate("              return x * self.weight\n", "              return x * (self.weight\n")
    add(
        "solution-syntax-error-block-offset",
        t,
        "(self.weight",
        "questions[2].solution",
        "syntax error in the solution: '(' was never closed",
    )
    t = mutate("                  return x + self.weight\n", "                  return x + (self.weight\n")
    add(
        "decoy-syntax-error",
        t,
        "(self.weight",
        "questions[2].decoys[0].code",
        "syntax error in the decoy: '(' was never closed",
    )
    t = mutate("          m = Scale(3)\n", "          m = = Scale(3)\n")
    add(
        "setup-syntax-error",
        t,
        "= Scale(3)",
        "questions[2].checks[4].setup",
        "syntax error in the setup: invalid syntax",
        offset=0,
        nth=1,
    )
    t = mutate("          - build: Scale(3)\n", "          - build: Scale(3\n")
    add(
        "build-syntax-error",
        t,
        "(3\n",
        "questions[2].checks[1].cases[0].build",
        "syntax error in the build expression: '(' was never closed",
    )
    t = mutate("          def probe(ns):\n", "          def probe_it(ns):\n")
    add(
        "probe-without-def-probe",
        t,
        "|\n          def probe_it",
        "questions[2].checks[6].probe",
        "a custom check's probe must define 'def probe(ns):'",
    )
    t = mutate("(torch.ones(2, 3) @ torch.ones(3, 4)).shape", "(torch.ones(2, 3) @ ).shape")
    add("snippet-syntax-error", t, ").shape", "questions[1].snippet", "syntax error in the snippet: invalid syntax")

    t = mutate("        fails: same-outputs\n", "        fails: same-output\n")
    add(
        "decoy-unknown-check-did-you-mean",
        t,
        "same-output\n",
        "questions[2].decoys[0].fails",
        "decoy 'adds-instead' names check 'same-output', which this question does not have: "
        "did you mean 'same-outputs'?",
    )
    t = mutate("        fails: same-outputs\n", "        fails: nothing-like-it\n")
    add(
        "decoy-unknown-check-listing",
        t,
        "nothing-like-it",
        "questions[2].decoys[0].fails",
        "decoy 'adds-instead' names check 'nothing-like-it', which this question does not have (expected one of: "
        "custom-probe, has-parameter, is-a-module, multiplies, same-gradients, same-outputs, weight-shape)",
    )

    rule = "a trace rule needs exactly one of 'merges_input', 'op' (with 'count'), 'last'"
    t = mutate("          - merges_input: mul\n", "          - message: no rule field here\n")
    add("trace-rule-zero-fields", t, "message: no rule", "questions[2].checks[3].rules[0]", rule)
    t = mutate("          - merges_input: mul\n", "          - merges_input: mul\n            last: mul\n")
    add("trace-rule-two-fields", t, "merges_input: mul", "questions[2].checks[3].rules[0]", rule)
    t = mutate("          - op: mul\n            count: 1\n", "          - op: mul\n")
    add(
        "trace-op-without-count",
        t,
        "op: mul",
        "questions[2].checks[3].rules[1]",
        "'op' and 'count' go together in a trace rule",
    )

    t = mutate("          - build: Scale(3)\n", "          - build: Scale(3)\n            args: [3]\n")
    add(
        "case-build-and-args",
        t,
        "Scale(3)\n            args",
        "questions[2].checks[1].cases[0].build",
        "give either 'build' or 'args'/'kwargs' for a case, not both",
    )
    t = mutate("            inputs: [[2, 3]]\n        rules:\n", "        rules:\n")
    add(
        "trace-case-without-inputs",
        t,
        "args: [3]\n        rules",
        "questions[2].checks[3].cases[0]",
        "a case of a trace check needs 'inputs' or 'calls': the forward calls to make",
    )
    t = mutate("    inputs: [[1, 3]]\n        modules:", "    inputs: []\n        modules:")
    assert check_pack_text(t).problems == [], "a structure check's case needs no inputs"
    t = mutate("          - forbid_names: [nn.Linear]\n            max_lines: 40\n", "          - message: empty\n")
    add(
        "empty-source-rule",
        t,
        "message: empty",
        "questions[2].checks[5].rules[1]",
        "an empty source rule: give forbid_names, forbid_imports, require_names, subclass or max_lines",
    )

    t = mutate("format: 1\n", "")
    cases.append(
        _case("missing-format", t, (1, 1), "", "missing required key 'format': start the pack with 'format: 2'")
    )
    t = mutate("format: 1\n", "format: 3\n")
    add(
        "unsupported-format-3",
        t,
        "format: 3",
        "format",
        "format 3 is not one this quizapp reads: it reads formats 1 and 2",
        offset=8,
    )
    t = mutate("format: 1\n", "format: '1'\n")
    add(
        "format-as-text",
        t,
        "format: '1'",
        "format",
        "format '1' is not one this quizapp reads: it reads formats 1 and 2",
        offset=8,
    )

    t = VALID_PACK[: VALID_PACK.index("questions:")]
    cases.append(
        _case("no-questions", t, (1, 1), "", "missing required key 'questions': a pack needs at least one question")
    )
    t = VALID_PACK[: VALID_PACK.index("questions:")] + "questions: []\n"
    add("empty-questions", t, "[]", "questions", "'questions' is empty: a pack needs at least one question")

    cases.append(
        _case(
            "yaml-list-not-mapping",
            "- format: 1\n- id: x\n",
            (1, 1),
            "",
            "a pack is a mapping of keys (format, id, title, ...), not a list",
        )
    )
    cases.append(
        _case("empty-file", "", (1, 1), "", "a pack is a mapping of keys (format, id, title, ...), not nothing (null)")
    )
    cases.append(
        _case(
            "only-a-comment",
            "# nothing yet\n",
            (1, 1),
            "",
            "a pack is a mapping of keys (format, id, title, ...), not nothing (null)",
        )
    )
    cases.append(
        _case(
            "plain-text-file",
            "hello\n",
            (1, 1),
            "",
            "a pack is a mapping of keys (format, id, title, ...), not the text 'hello'",
        )
    )
    return cases


@pytest.mark.parametrize(("text", "position", "path", "message"), _error_cases())
def test_one_mistake_gives_one_located_problem(text: str, position: tuple[int, int], path: str, message: str):
    problem = only_error(text)
    assert (problem.line, problem.column) == position, str(problem)
    assert problem.message == message
    assert problem.path == path
    assert problem.file == "t.yaml"
    assert problem.severity == "error"
    where = f" {path}:" if path else ""
    assert str(problem) == f"t.yaml:{position[0]}:{position[1]}: error:{where} {message}"


def test_solution_syntax_error_is_reported_at_the_file_line_not_the_block_line():
    # The block's line 11 is the file's line 69: the block starts on the line after `solution: |` (line 58).
    text = mutate("              return x * self.weight\n", "              return x * (self.weight\n")
    problem = only_error(text)
    assert at(text, "solution: |", nth=1)[0] == 58
    assert (problem.line, problem.column) == (69, 26)
    assert text.splitlines()[problem.line - 1][problem.column - 1] == "("


def test_misspelt_key_suggests_the_right_one_and_reports_the_missing_one():
    text = mutate("    prompt: Which", "    promt: Which")
    errors = errors_of(text)
    assert [(e.line, e.column, e.path, e.message) for e in errors] == [
        (*at(text, "id: pick-activation"), "questions[0]", "missing required key 'prompt'"),
        (*at(text, "promt"), "questions[0].promt", "unknown key 'promt': did you mean 'prompt'?"),
    ]


def test_file_that_is_not_utf8(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"\xe9" + VALID_PACK.encode("utf-8"))
    result = check_pack_file(path)
    assert result.pack is None
    assert [(p.line, p.column, p.path) for p in result.problems] == [(1, 1, "")]
    assert result.problems[0].message == "not UTF-8 text: invalid continuation byte"
    assert result.problems[0].file == str(path)


def test_file_that_cannot_be_read(tmp_path: Path):
    result = check_pack_file(tmp_path / "missing.yaml")
    assert result.pack is None
    assert [(p.line, p.column) for p in result.problems] == [(1, 1)]
    assert result.problems[0].message == "cannot read: No such file or directory"


# --- every problem of a file at once -------------------------------------------------------------------


def test_all_problems_of_a_file_are_reported_at_once():
    text = VALID_PACK
    mistakes: list[tuple[str, str, str]] = []  # (old, new, needle that marks the line of the mistake)

    def put(old: str, new: str, needle: str) -> None:
        nonlocal text
        text = mutate(old, new, text)
        mistakes.append((old, new, needle))

    put("id: test-pack\n", "id: Test Pack\n", "id: Test Pack")
    put('version: "1.2.0"\n', "version: 1.2\n", "version: 1.2")
    put("tags: [testing]\n", "tags: [testing]\ntitel: again\n", "titel")
    put("    memory_mb: 512\n", "    memory_mb: 100000\n", "memory_mb: 100000")
    put("    difficulty: easy\n    minutes: 1\n", "    difficulty: medum\n    minutes: 1\n", "medum")
    put("      - id: c\n", "      - id: a\n", "      - id: a\n        text: nn.GELU")
    put("      print(tuple((torch.ones(2, 3) @ torch.ones(3, 4)).shape))\n", "      print(tuple(\n", "print(tuple(\n")
    put("    minutes: 2\n", "    minutes: 2\n    minutes: 4\n", "minutes: 4")
    put("        kind: gradients\n", "        kind: gradient\n", "kind: gradient\n")
    put("      - id: multiplies\n", "      - id: same-outputs\n", "      - id: same-outputs\n        kind: trace")
    put(
        "      def act(x):\n          return torch.relu(x)\n",
        "      def activation(x):\n          return torch.relu(x)\n",
        "solution: |\n      import torch\n\n\n      def activation",
    )
    put("        points: 2\n", "        points: -1\n", "points: -1")
    put("  - id: why-no-grad\n", "  - id: fix-relu\n", "  - id: fix-relu\n    kind: explain")

    result = check_pack_text(text, "t.yaml")
    assert result.pack is None
    expected_lines = sorted(at(text, needle)[0] for _, _, needle in mistakes)
    lines = [p.line for p in result.problems]
    assert len(mistakes) >= 10
    assert len(set(expected_lines)) == len(mistakes), "each mistake should sit on its own line"
    assert lines == expected_lines, "\n".join(str(p) for p in result.problems)
    assert all(p.severity == "error" for p in result.problems)
    assert lines == sorted(lines), "problems come in file order"
    messages = " | ".join(p.message for p in result.problems)
    for fragment in (
        "not a valid id",
        "quote it",
        "did you mean 'title'?",
        "less than or equal to 4096",
        "did you mean 'medium'?",
        "duplicate option id 'a'",
        "syntax error in the snippet",
        "key 'minutes' appears twice",
        "did you mean 'gradients'?",
        "duplicate check id",
        "does not define 'act'",
        "greater than or equal to 0",
        "duplicate question id 'fix-relu'",
    ):
        assert fragment in messages


# --- no traceback, whatever the text --------------------------------------------------------------------

_LINES = VALID_PACK.splitlines(keepends=True)


def _mutations() -> list[pytest.param]:
    params = []
    for i in range(len(_LINES)):
        params.append(pytest.param("".join(_LINES[:i] + _LINES[i + 1 :]), id=f"delete-line-{i + 1}"))
        params.append(pytest.param("".join(_LINES[:i]), id=f"truncate-before-line-{i + 1}"))
        params.append(pytest.param("".join(_LINES[:i]) + _LINES[i][: len(_LINES[i]) // 2], id=f"cut-line-{i + 1}"))
        dedented = _LINES[i][2:] if _LINES[i].startswith("  ") else "  " + _LINES[i]
        params.append(pytest.param("".join(_LINES[:i] + [dedented] + _LINES[i + 1 :]), id=f"shift-line-{i + 1}"))
    rng = random.Random(20240601)
    noise = [":", "-", " ", "[", "]", "{", "}", "'", '"', "#", "|", ">", "\t", "\n", "!", "%", "@", "`", ",", "?"]
    for n in range(200):
        chars = list(VALID_PACK)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(chars))
            action = rng.choice(("replace", "insert", "delete"))
            if action == "replace":
                chars[position] = rng.choice(noise)
            elif action == "insert":
                chars.insert(position, rng.choice(noise))
            else:
                del chars[position]
        params.append(pytest.param("".join(chars), id=f"random-{n}"))
    return params


@pytest.mark.parametrize("text", _mutations())
def test_no_traceback_for_any_mutation(text: str):
    result = check_pack_text(text, "m.yaml")
    assert isinstance(result, LoadResult)
    assert result.file == "m.yaml"
    if result.pack is None:
        assert result.errors, "no pack but no error either"
    else:
        assert isinstance(result.pack, Pack)
        assert result.errors == []
    last_line = len(text.splitlines()) + 1
    for problem in result.problems:
        assert 1 <= problem.line <= last_line, str(problem)
        assert problem.column >= 1, str(problem)
        assert problem.message and isinstance(problem.message, str)
        assert problem.file == "m.yaml"


# --- regressions: bugs found while writing these tests, now fixed ----------------------------------------


@pytest.mark.parametrize("character", ["\x00", "\x07"])
def test_control_character_is_a_located_problem(character: str):
    text = mutate("title: Test pack\n", f"title: Test{character}pack\n")
    problem = only_error(text)
    assert problem.line == 3
    assert "character" in problem.message


def test_recursive_alias_is_a_located_problem():
    text = mutate("tags: [testing]\n", "tags: &t [*t]\n")
    problem = only_error(text)
    assert problem.line == 8


def test_huge_integer_is_a_located_problem():
    text = mutate("    minutes: 1\n", "    minutes: 1" + "0" * 5000 + "\n")
    problem = only_error(text)
    assert problem.line == at(text, "minutes: 1000")[0]


def test_deeply_nested_expression_is_a_located_problem():
    text = mutate("          - expr: m.weight.requires_grad\n", "          - expr: " + "-" * 5000 + "1\n")
    problem = only_error(text)
    assert problem.line == at(text, "- expr: ---")[0]


def test_merge_key_override_is_not_a_duplicate():
    text = mutate("  - id: why-no-grad\n    kind: explain\n", "  - &explain\n    id: why-no-grad\n    kind: explain\n")
    text += "  - <<: *explain\n    id: why-no-grad-again\n"
    result = check_pack_text(text)
    assert result.problems == []
    assert [q.id for q in result.pack.questions][-2:] == ["why-no-grad", "why-no-grad-again"]


def test_syntax_error_column_in_a_quoted_expression():
    text = mutate("          - expr: tuple(m.weight.shape)\n", '          - expr: "tuple(m.weight.shape"\n')
    problem = only_error(text)
    assert (problem.line, problem.column) == at(text, "(m.weight.shape")
