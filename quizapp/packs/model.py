"""Pack formats 1 and 2: the typed model of a question pack.

The models are the single source of truth for the format: the loader validates YAML against them, and
`quizapp schema` prints their JSON Schema. docs/pack-format.md explains every field to authors.

Format 2 is format 1 plus new keys (calls with several arguments, function entry points, tolerances
everywhere, dtype cases, state_dict keys, learner-only source rules). Each key that format 1 lacks carries
`since(2)` (a class that format 1 lacks, `SINCE_FORMAT = 2`); the loader reads both formats and names the
keys a format-1 pack would need `format: 2` for.

Check specifications are defined and validated here; the judge gives them meaning.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

FORMAT_VERSION = 2  # the newest format; the loader reads every one of FORMATS
FORMATS = (1, 2)


def since(version: int) -> dict[str, Any]:
    """A field's json_schema_extra: the format that introduced it (the loader refuses it in older packs)."""
    return {"x-since-format": version}


def field_since(model: type[BaseModel], name: str) -> int:
    """The format that introduced a model's field (1 for the original fields)."""
    extra = model.model_fields[name].json_schema_extra
    return int(extra.get("x-since-format", 1)) if isinstance(extra, dict) else 1  # type: ignore[arg-type]


SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Slug = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        max_length=64,
        description="lowercase letters, digits and dashes, starting with a letter or digit",
    ),
]
OptionId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=32),
    BeforeValidator(
        lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v, json_schema_input_type=str | int
    ),
]
Markdown = Annotated[str, Field(min_length=1, description="Markdown text")]
PythonSource = Annotated[str, Field(min_length=1, description="Python source code")]
OpName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", description="a normalised op name, e.g. add")]


class Strict(BaseModel):
    """Every pack model rejects unknown keys, so a misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    SINCE_FORMAT: ClassVar[int] = 1  # the format that introduced this model (a new check kind says 2)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Keys of a later format that the pack does not set are not dumped: a format-1 question dumps exactly
        as it did before format 2 (its judge payload, the seed derived from it, its reference cache key)."""
        data = handler(self)
        if isinstance(data, dict):
            owner = type(self)
            for name in owner.model_fields:
                if name in data and name not in self.model_fields_set and field_since(owner, name) > 1:
                    del data[name]
        return data


# --- limits -----------------------------------------------------------------------------------------


class Limits(Strict):
    """Resource limits for one job in the jail. A pack may change the defaults within these bounds."""

    cpu_seconds: float = Field(5.0, ge=0.1, le=60, description="CPU time of the learner's process")
    wall_seconds: float = Field(10.0, ge=0.2, le=120, description="wall-clock time of the whole job")
    memory_mb: int = Field(768, ge=128, le=4096, description="memory the job may use beyond the warm worker")
    output_kb: int = Field(64, ge=1, le=1024, description="stdout and stderr kept, together")
    processes: int = Field(1, ge=1, le=16, description="processes and threads the learner may start")
    file_size_kb: int = Field(1024, ge=0, le=65536, description="largest file written in the scratch dir")
    open_files: int = Field(64, ge=16, le=1024, description="file descriptors open at once")


class LimitOverrides(Strict):
    """A question's changes to the pack's default limits: the keys given replace the defaults' values."""

    cpu_seconds: float | None = Field(None, ge=0.1, le=60)
    wall_seconds: float | None = Field(None, ge=0.2, le=120)
    memory_mb: int | None = Field(None, ge=128, le=4096)
    output_kb: int | None = Field(None, ge=1, le=1024)
    processes: int | None = Field(None, ge=1, le=16)
    file_size_kb: int | None = Field(None, ge=0, le=65536)
    open_files: int | None = Field(None, ge=16, le=1024)


class Defaults(Strict):
    limits: Limits = Field(default_factory=Limits)


# --- inputs to probes ---------------------------------------------------------------------------------

DType = Literal["float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"]


def _shape_shorthand(value: Any) -> Any:
    """`[2, 16, 8, 8]` is short for `{shape: [2, 16, 8, 8]}`."""
    if isinstance(value, list):
        return {"shape": value}
    return value


FloatDType = Literal["float32", "float64", "float16", "bfloat16"]


class TensorSpec(Strict):
    """A tensor made for a probe: random normal (or uniform in [low, high)) from the check's seed, or the
    literal `values` given. Integer tensors are uniform integers in [low, high) (default [0, 10)); bool
    tensors are random True/False."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"oneOf": [{"required": ["shape"]}, {"required": ["values"]}]}
    )
    shape: list[Annotated[int, Field(ge=0, le=4096)]] | None = Field(None, max_length=8)
    dtype: DType = Field(
        "float32", description="in a case with a `dtype`, a floating tensor that names no dtype takes the case's"
    )
    low: float | None = Field(None, description="uniform in [low, high) instead of normal")
    high: float | None = None
    values: Any = Field(
        None,
        description="the tensor's literal values, a number or nested lists (a causal mask, given targets); "
        "instead of shape",
        json_schema_extra=since(2),
    )
    requires_grad: bool = Field(True, description="for gradient checks: whether the input gets a gradient")

    @model_validator(mode="after")
    def _shape_or_values(self) -> TensorSpec:
        if (self.shape is None) == (self.values is None):
            raise ValueError("a tensor needs exactly one of 'shape' and 'values'")
        if self.values is not None and not _numeric_nest(self.values):
            raise ValueError("'values' must be a number, true/false, or nested lists of them")
        return self

    def tensor_shape(self) -> list[int]:
        """The shape of the tensor made: `shape`, or the shape of the nested lists of `values`."""
        if self.shape is not None:
            return list(self.shape)
        shape, level = [], self.values
        while isinstance(level, list):
            shape.append(len(level))
            level = level[0] if level else None
        return shape

    @property
    def floating(self) -> bool:
        return self.dtype in ("float32", "float64", "float16", "bfloat16")


def _numeric_nest(value: Any, depth: int = 0) -> bool:
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, list) and depth < 8 and len(value) <= 4096:
        return all(_numeric_nest(item, depth + 1) for item in value)
    return False


Tensor = Annotated[TensorSpec, BeforeValidator(_shape_shorthand, json_schema_input_type=TensorSpec | list[int])]


class SameAs(Strict):
    """The very tensor passed as another argument of the same call: `{same_as: 0}` (a position) or
    `{same_as: key}` (a keyword), so q=k=v self-attention receives one tensor three times."""

    SINCE_FORMAT: ClassVar[int] = 2
    same_as: int | str = Field(description="the position (0, 1, ...) or keyword of the argument to repeat")


def _argument_kind(value: Any) -> str:
    if isinstance(value, dict) and ("shape" in value or "values" in value):
        return "tensor"
    if isinstance(value, dict) and "same_as" in value:
        return "same"
    if isinstance(value, TensorSpec):
        return "tensor"
    if isinstance(value, SameAs):
        return "same"
    return "value"


_PLAIN_SCHEMA = {
    "description": "a plain value: a number, true/false, null, text, a list, or a mapping without "
    "'shape', 'values' or 'same_as'",
    "anyOf": [
        {"type": ["null", "boolean", "number", "string", "array"]},
        {
            "type": "object",
            "not": {"anyOf": [{"required": ["shape"]}, {"required": ["values"]}, {"required": ["same_as"]}]},
        },
    ],
}
Argument = Annotated[
    Annotated[TensorSpec, Tag("tensor")]
    | Annotated[SameAs, Tag("same")]
    | Annotated[Any, Tag("value"), WithJsonSchema(_PLAIN_SCHEMA)],
    Discriminator(_argument_kind),
]


class Call(Strict):
    """One call of the entry point's object (or of the function): positional and keyword arguments. A mapping
    with `shape` or `values` is a tensor, `{same_as: k}` repeats argument k, anything else is passed as is."""

    SINCE_FORMAT: ClassVar[int] = 2
    name: str | None = Field(None, description="shown in messages, e.g. 'with a causal mask'")
    args: list[Argument] = Field(default_factory=list, description="positional arguments")
    kwargs: dict[str, Argument] = Field(default_factory=dict, description="keyword arguments")

    def tensors(self) -> list[tuple[int | str, TensorSpec]]:
        """The tensor arguments, by position or keyword, in the order the call passes them."""
        found: list[tuple[int | str, TensorSpec]] = [
            (index, value) for index, value in enumerate(self.args) if isinstance(value, TensorSpec)
        ]
        found += [(key, value) for key, value in self.kwargs.items() if isinstance(value, TensorSpec)]
        return found


class Case(Strict):
    """One construction of the learner's entry point and the calls made on it.

    Either `args`/`kwargs` (plain values) or `build` (a Python expression, evaluated with torch, nn, F and
    the learner's definitions in scope) says how to construct it. `inputs` is short for calls of one tensor.
    """

    name: str | None = Field(None, description="shown in messages, e.g. 'stride 2, channels change'")
    args: list[Any] = Field(default_factory=list, description="positional constructor arguments")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword constructor arguments")
    build: PythonSource | None = Field(None, description="an expression that builds the object")
    init: Call | None = Field(
        None,
        description="the constructor's arguments written as a call, so they may be tensors (a mask, a table, "
        "`{same_as: k}`) made from the check's seed: instead of `args`/`kwargs`",
        json_schema_extra=since(2),
    )
    inputs: list[Tensor] = Field(
        default_factory=list,
        description="one forward call per entry, each with one tensor of this spec; outputs, gradients and "
        "trace checks need at least one call (here or in `calls`)",
    )
    calls: list[Call] = Field(
        default_factory=list,
        description="calls with several arguments, instead of `inputs`: each {args, kwargs}",
        json_schema_extra=since(2),
    )
    dtype: FloatDType | None = Field(
        None,
        description="cast the constructed module and the floating tensors that name no dtype to this dtype",
        json_schema_extra=since(2),
    )

    @model_validator(mode="after")
    def _cast_tensors(self) -> Case:
        """With a case `dtype`, the tensors that name no dtype of their own take it (so the judge receives it)."""
        if self.dtype is None:
            return self

        def cast(value: Any) -> Any:
            if isinstance(value, TensorSpec) and "dtype" not in value.model_fields_set:
                return value.model_copy(update={"dtype": self.dtype})
            return value

        calls = [
            call.model_copy(
                update={"args": [cast(a) for a in call.args], "kwargs": {k: cast(v) for k, v in call.kwargs.items()}}
            )
            for call in self.calls
        ]
        if self.init is not None:
            init = self.init.model_copy(
                update={
                    "args": [cast(a) for a in self.init.args],
                    "kwargs": {k: cast(v) for k, v in self.init.kwargs.items()},
                }
            )
            object.__setattr__(self, "init", init)
        object.__setattr__(self, "inputs", [cast(spec) for spec in self.inputs])
        object.__setattr__(self, "calls", calls)
        return self

    def all_calls(self) -> list[Call]:
        """The case's calls: `calls`, or one single-tensor call per entry of `inputs`."""
        return list(self.calls) if self.calls else [Call(args=[spec]) for spec in self.inputs]


# Default tolerances for low-precision cases (torch.testing's, widened for a few ops of rounding): a check's
# own rtol/atol apply when the author sets them.
DTYPE_TOLERANCES: dict[str, tuple[float, float]] = {"bfloat16": (2e-2, 2e-2), "float16": (2e-3, 2e-3)}


def tolerance_for(check: Any, case: Case) -> tuple[float, float]:
    """The (rtol, atol) an outputs or gradients check uses on a case: the author's, else the check's default
    widened to the case's dtype. (A default is None, not a number, so a dump that writes every key, a
    student build's, keeps saying that the author set none.)"""
    default_rtol, default_atol = check.DEFAULT_TOLERANCE
    widened = DTYPE_TOLERANCES.get(case.dtype or "", (0.0, 0.0))
    rtol = check.rtol if check.rtol is not None else max(default_rtol, widened[0])
    atol = check.atol if check.atol is not None else max(default_atol, widened[1])
    return rtol, atol


class CheckBase(Strict):
    id: Slug
    title: str | None = Field(None, description="a short name shown in results; defaults to the id")
    visible: bool = Field(True, description="run by Run and Submit (true), or only by Submit (false)")
    message: str | None = Field(
        None, description="the author's message when the check fails; all a learner sees of a hidden check"
    )
    points: float = Field(1.0, ge=0, le=100, description="weight in mock-interview scores")


Mode = Literal["train", "eval"]


def _train_and_eval() -> list[Mode]:
    return ["train", "eval"]


def _train_only() -> list[Mode]:
    return ["train"]


def _input_and_parameters() -> list[Literal["input", "parameters"]]:
    return ["input", "parameters"]


class OutputsCheck(CheckBase):
    """Outputs of the learner's module equal the reference's, with canonical initialisation."""

    kind: Literal["outputs"]
    cases: list[Case] = Field(min_length=1)
    modes: list[Mode] = Field(default_factory=_train_and_eval, min_length=1)
    rtol: float | None = Field(None, ge=0, le=1, description="default 1e-5, widened for a bfloat16 or float16 case")
    atol: float | None = Field(None, ge=0, le=1, description="default 1e-6, widened for a bfloat16 or float16 case")
    DEFAULT_TOLERANCE: ClassVar[tuple[float, float]] = (1e-5, 1e-6)
    seed: int = 0
    output_names: list[str] = Field(
        default_factory=list,
        description="names of a tuple output's elements, in order, for messages: [output, attention weights]",
        json_schema_extra=since(2),
    )


class GradientsCheck(CheckBase):
    """Gradients of a fixed random projection of the output, with respect to the input and parameters."""

    kind: Literal["gradients"]
    cases: list[Case] = Field(min_length=1)
    modes: list[Mode] = Field(default_factory=_train_only, min_length=1)
    wrt: list[Literal["input", "parameters"]] = Field(default_factory=_input_and_parameters, min_length=1)
    rtol: float | None = Field(None, ge=0, le=1, description="default 1e-4, widened for a bfloat16 or float16 case")
    atol: float | None = Field(None, ge=0, le=1, description="default 1e-5, widened for a bfloat16 or float16 case")
    DEFAULT_TOLERANCE: ClassVar[tuple[float, float]] = (1e-4, 1e-5)
    seed: int = 0


class CountRange(Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


def _count_shorthand(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"min": value, "max": value}
    return value


Count = Annotated[CountRange, BeforeValidator(_count_shorthand, json_schema_input_type=CountRange | int)]


class StructureCheck(CheckBase):
    """Facts about the constructed module tree, for each case's construction."""

    kind: Literal["structure"]
    cases: list[Case] = Field(min_length=1)
    modules: dict[str, Count] = Field(
        default_factory=dict, description="module type name to an exact count or {min, max}"
    )
    state_dict_keys: Literal["reference"] | list[str] | None = Field(
        None,
        description="'reference' or a list: the state_dict's keys (parameter and buffer names) must be exactly "
        "these; without it names are free",
        json_schema_extra=since(2),
    )
    param_count: Literal["reference"] | int | None = Field(
        None, description="'reference' or a number: the count of trainable scalars"
    )
    unregistered_modules: bool = Field(
        False, description="whether modules kept in plain lists, tuples or dicts are allowed"
    )


class TraceRule(Strict):
    """One rule about the ops that forward ran. Exactly one of the rule fields is set."""

    merges_input: OpName | None = Field(
        None,
        description="some call of this op has two operands that both depend on the forward's input: two paths "
        "from the input meet there, as in a skip connection",
    )
    op: OpName | None = Field(None, description="with count: how often this op runs")
    count: Count | None = None
    last: OpName | None = Field(None, description="the last op whose result is returned")
    message: str | None = Field(None, description="the reviewer's message when the rule fails")


class TraceCheck(CheckBase):
    """Rules over the trace of ops that forward ran (a torch function mode in the worker)."""

    kind: Literal["trace"]
    cases: list[Case] = Field(min_length=1)
    rules: list[TraceRule] = Field(min_length=1)


class Expression(Strict):
    expr: PythonSource
    equals: Any = Field(None, description="the expected value; when absent, the value the reference solution gives")
    message: str | None = None
    rtol: float | None = Field(
        None, ge=0, le=1, description="numbers compare within this; default the check's", json_schema_extra=since(2)
    )
    atol: float | None = Field(None, ge=0, le=1, json_schema_extra=since(2))


class ExpressionCheck(CheckBase):
    """Python expressions evaluated after `setup`, compared with given values or the reference's."""

    kind: Literal["expression"]
    setup: PythonSource | None = Field(None, description="statements run first, in the learner's namespace")
    expressions: list[Expression] = Field(min_length=1)
    rtol: float = Field(
        1e-6, ge=0, le=1, description="numbers in values compare within rtol/atol", json_schema_extra=since(2)
    )
    atol: float = Field(1e-9, ge=0, le=1, json_schema_extra=since(2))

    def tolerance(self, expression: Expression) -> tuple[float, float]:
        return (
            self.rtol if expression.rtol is None else expression.rtol,
            self.atol if expression.atol is None else expression.atol,
        )


class SourceRule(Strict):
    """A static rule over the learner's source, checked with `ast` without running it."""

    forbid_names: list[str] = Field(
        default_factory=list, description="dotted names that must not appear, e.g. nn.Sequential"
    )
    forbid_imports: list[str] = Field(default_factory=list, description="modules that must not be imported")
    require_names: list[str] = Field(default_factory=list, description="dotted names that must appear")
    subclass: dict[str, str] | None = Field(
        None, description="{class: base}: the class must be defined with this direct base, e.g. nn.Module"
    )
    max_lines: int | None = Field(None, ge=1, description="at most this many non-blank lines of code")
    message: str | None = None
    applies_to: Literal["all", "learner"] = Field(
        "all",
        description="'learner': the rule binds the learner's answer only, so the reference (and `quizapp "
        "validate`) may use what learners may not",
        json_schema_extra=since(2),
    )


class SourceCheck(CheckBase):
    kind: Literal["source"]
    rules: list[SourceRule] = Field(min_length=1)


# grade-batch's gradebook (grades.csv, verdicts.csv) has a column per question beside these of its own: a question
# with one of these ids would make two columns of one name.
RESERVED_QUESTION_IDS = ("total", "maximum", "percent", "status", "solved")


class CustomCheck(CheckBase):
    """What the other kinds cannot say.

    `probe` runs in the jail, once against the learner's definitions and once against the reference's: it
    defines `probe(ns)` returning JSON-compatible facts. `verdict`, if given, defines `verdict(learner,
    reference)` returning None for a pass or a message; it runs in a jailed job of its own, with the two
    probes' facts as data and no learner code. It must pass the reference's facts against themselves, and a
    pass needs lists as long as the reference's. Without it, the facts must be equal.
    """

    kind: Literal["custom"]
    probe: PythonSource
    verdict: PythonSource | None = None
    rtol: float = Field(
        1e-6,
        ge=0,
        le=1,
        description="without a verdict: numbers in the facts compare within rtol/atol",
        json_schema_extra=since(2),
    )
    atol: float = Field(1e-9, ge=0, le=1, json_schema_extra=since(2))


# --- training check (quizapp/judge/training.py runs it, quizapp/grading/training.py judges it) ---------------


def _parsed(source: Any, mode: str) -> Any:
    """The source, if Python parses it (statements, or one expression); a message with its line otherwise."""
    from ..pyparse import parse

    if isinstance(source, str):
        try:
            parse(source, mode=mode)
        except SyntaxError as error:
            what = "an expression" if mode == "eval" else "Python statements"
            raise ValueError(f"not {what}: line {error.lineno}: {error.msg}") from None
    return source


def _watch_shorthand(value: Any) -> Any:
    """`watch: model` is short for `watch: [model]`; each entry must be an expression."""
    value = [value] if isinstance(value, str) else value
    return [_parsed(item, "eval") for item in value] if isinstance(value, list) else value


Statements = Annotated[PythonSource, BeforeValidator(lambda v: _parsed(v, "exec"), json_schema_input_type=PythonSource)]


class TrainingCheck(CheckBase):
    """Train beside the reference: `setup` builds models, data and optimizers under the check's seed, `step`
    runs `steps` times with `step` bound (0, 1, ...), and after setup and after every step the `watch`
    expressions' values (a module's parameters and buffers, tensors, numbers) are compared with the
    reference's, with the step's loss; the first step and quantity that differ are named, with the cause
    where the numbers show it (gradients accumulating, the update's sign or scale, a parameter that never
    changes, weight decay, a schedule one step off)."""

    SINCE_FORMAT: ClassVar[int] = 2

    kind: Literal["training"]
    setup: Statements = Field(
        description="statements run once in the jail, with torch, nn, F and the answer's names in scope, under "
        "the check's seed: build the model, the data and the optimizer there (data first, then the answer's objects)"
    )
    step: Statements = Field(
        description="statements run once per step with `step` bound to 0, 1, ...; when the last line is an "
        "expression, its value is the step's loss"
    )
    steps: int = Field(3, ge=1, le=50, description="how many times `step` runs")
    watch: Annotated[
        list[PythonSource],
        BeforeValidator(_watch_shorthand, json_schema_input_type=str | list[str]),
        Field(min_length=1, max_length=16),
    ] = Field(
        description="expressions compared after setup and after every step: a module (its parameters and "
        "buffers), a tensor, a number, or lists and dicts of them (`optimizer.param_groups[0]['lr']`)"
    )
    loss: Literal["number", "float", "ignore"] = Field(
        "number",
        description="'number': the step's value (a number or a one-element tensor) is compared with the "
        "reference's when the reference's step returns one; 'float': it must be a Python float (loss.item()); "
        "'ignore': not compared",
    )
    rtol: float = Field(1e-5, ge=0, le=1)
    atol: float = Field(1e-6, ge=0, le=1)
    seed: int = 0


# --- end of training check ---------------------------------------------------------------------------------

Check = Annotated[
    OutputsCheck
    | GradientsCheck
    | StructureCheck
    | TraceCheck
    | ExpressionCheck
    | SourceCheck
    | CustomCheck
    | TrainingCheck,  # training check
    Field(discriminator="kind"),
]
CHECK_KINDS = ("outputs", "gradients", "structure", "trace", "expression", "source", "custom")
CHECK_KINDS += ("training",)  # type: ignore[assignment]  # training check


class Decoy(Strict):
    """A known-wrong answer kept in the pack: it must fail the check it names, proving that check works."""

    id: Slug
    description: str = Field(min_length=1, description="the mistake it makes, as a learner would make it")
    code: PythonSource
    fails: Slug = Field(description="the id of the check this decoy must fail")


# --- questions -------------------------------------------------------------------------------------

Difficulty = Literal["easy", "medium", "hard"]


class QuestionBase(Strict):
    id: Slug
    title: str = Field(min_length=1, max_length=120)
    difficulty: Difficulty
    tags: list[str] = Field(default_factory=list)
    minutes: float = Field(gt=0, le=240, description="estimated minutes to answer")
    prompt: Markdown
    hints: list[Markdown] = Field(default_factory=list, description="revealed one at a time, in this order")
    explanation: Markdown = Field(description="shown after answering: why the answer is what it is")
    points: float = Field(
        1.0,
        ge=0,
        le=1000,
        description="what the question is worth in grade-batch's gradebook totals; partial credit earns "
        "a share of it (default 1)",
    )
    sealed: dict[str, str] = Field(
        default_factory=dict,
        description="student builds: texts that would give the answer away (the explanation, option feedback), "
        "encrypted with a key derived from the correct answer; answering correctly opens them",
    )


class Option(Strict):
    id: OptionId
    text: Markdown
    correct: bool = False
    feedback: Markdown | None = Field(None, description="why this option is right or wrong")


class ChoiceQuestion(QuestionBase):
    kind: Literal["choice"]
    options: list[Option] = Field(min_length=2)
    answer_hash: str | None = Field(None, description="student builds: the hash of the correct option ids")
    select: Literal["one", "many"] | None = Field(
        None, description="'one' (radio) or 'many' (tick all that apply); by default 'many' iff several are correct"
    )
    shuffle: bool = True

    @property
    def correct_ids(self) -> list[str]:
        return [option.id for option in self.options if option.correct]

    @property
    def selects_many(self) -> bool:
        return self.select == "many" if self.select else len(self.correct_ids) > 1


class Tolerance(Strict):
    rtol: float = Field(0.0, ge=0, le=1)
    atol: float = Field(0.0, ge=0, le=1e6)


class PredictQuestion(QuestionBase):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"anyOf": [{"required": ["answer"]}, {"required": ["answer_hashes"]}]},
    )
    kind: Literal["predict"]
    snippet: PythonSource = Field(description="runs as a script; its stdout is the answer")
    answer: str | None = Field(None, min_length=1, description="exactly what the snippet prints")
    accept: list[str] = Field(default_factory=list, description="other spellings accepted as the same answer")
    answer_hashes: list[str] = Field(
        default_factory=list, description="student builds: hashes of the accepted printouts, in canonical form"
    )
    tolerance: Tolerance | None = Field(
        None,
        description="numbers in the printout compare within rtol/atol instead of at four significant digits",
        json_schema_extra=since(2),
    )


class CodeBase(QuestionBase):
    # Editors: a source pack's code question needs its solution; a student build's, its reference facts.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"anyOf": [{"required": ["solution"]}, {"required": ["reference_facts"]}]},
    )
    entry_point: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="the class or function the learner defines"
    )
    entry_point_kind: Literal["class", "function"] = Field(
        "class",
        description="'class': each case constructs the entry point (args/kwargs or build) and calls the result; "
        "'function': each call calls the entry point itself, nothing is constructed",
        json_schema_extra=since(2),
    )
    signature: str = Field(min_length=1, description="how it is called, e.g. ResidualBlock(in_channels, ...)")
    starter: str = Field("", description="the code the editor starts with")
    solution: PythonSource | None = Field(None, description="the reference solution; never shown before an answer")
    reference_facts: str | None = Field(
        None, description="student builds: the reference's facts (JSON), computed by `quizapp build --student`"
    )
    reference_tensors: str | None = Field(
        None, description="student builds: the reference's tensors, safetensors encoded as base64 (no code can run)"
    )
    checks: list[Check] = Field(min_length=1)
    decoys: list[Decoy] = Field(default_factory=list)
    limits: LimitOverrides | None = Field(None, description="overrides the pack's default limits, key by key")

    @model_validator(mode="after")
    def _one_mode_for_a_function(self) -> CodeBase:
        """A function has no train/eval mode: its outputs checks run each call once unless they say otherwise."""
        if self.entry_point_kind == "function":
            checks = [
                check.model_copy(update={"modes": ["eval"]})
                if isinstance(check, OutputsCheck) and "modes" not in check.model_fields_set
                else check
                for check in self.checks
            ]
            object.__setattr__(self, "checks", checks)
        return self


class CodeQuestion(CodeBase):
    kind: Literal["code"]


class FixQuestion(CodeBase):
    kind: Literal["fix"]
    starter: PythonSource = Field(description="the code with defects the learner must fix")
    defects: int | None = Field(None, ge=1, description="how many defects there are, if the prompt says")


class RubricPoint(Strict):
    id: Slug
    text: Markdown
    points: float = Field(1.0, ge=0, le=100)


class ExplainQuestion(QuestionBase):
    kind: Literal["explain"]
    model_answer: Markdown
    rubric: list[RubricPoint] = Field(min_length=1, description="points the learner ticks against their answer")


Question = Annotated[
    ChoiceQuestion | PredictQuestion | CodeQuestion | FixQuestion | ExplainQuestion,
    Field(discriminator="kind"),
]
QUESTION_KINDS = ("choice", "predict", "code", "fix", "explain")
AnyQuestion = ChoiceQuestion | PredictQuestion | CodeQuestion | FixQuestion | ExplainQuestion


class PackHeader(Strict):
    """Everything in a pack but its questions."""

    format: Literal[1, 2] = Field(description="the pack format's version; this loader reads formats 1 and 2")
    id: Slug
    title: str = Field(min_length=1, max_length=120)
    version: Annotated[str, Field(pattern=r"^\d+(\.\d+){0,2}([-+.][0-9A-Za-z.-]+)?$")] = Field(
        description="the pack's own version, e.g. 1.2.0"
    )
    description: Markdown
    authors: list[str] = Field(min_length=1)
    licence: str = Field(min_length=1, description="an SPDX identifier, e.g. CC-BY-4.0")
    tags: list[str] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    build: Literal["source", "student"] = Field(
        "source", description="'student' for packs made by `quizapp build --student`: no solutions, hashed answers"
    )


class Pack(PackHeader):
    """A question pack, format 1 or 2."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="quizapp question pack",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    questions: list[Question] = Field(min_length=1)

    def question(self, question_id: str) -> AnyQuestion:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def limits_for(self, question: CodeBase) -> Limits:
        """The pack's default limits with the question's overrides applied."""
        if question.limits is None:
            return self.defaults.limits
        overrides = question.limits.model_dump(exclude_none=True)
        return self.defaults.limits.model_copy(update=overrides)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of formats 1 and 2, for editors and tools (validation mode: what a YAML file may say).
    Keys that format 2 introduced are marked `x-since-format: 2`."""
    schema = Pack.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://quizapp.invalid/schema/pack-format-2.json"
    return schema
