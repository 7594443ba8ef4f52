"""The facts a jailed run sends back, checked before anything is judged. Plain Python: no torch.

The learner's code runs in the interpreter that collects the facts, so it can rewrite anything there: the
payload's list of checks, the probes' tables, even the result frame. Nothing the run reports is trusted:

- the host derives, from the pack, the complete set of facts each check needs (case x mode x input), and a
  missing, extra, duplicate or malformed entry fails that check, never passes it;
- every entry is validated against a strict schema (pydantic models that forbid unknown keys);
- the work is bounded by the pack: a result list longer than the pack asked for is refused before it is
  read, values deeper or larger than a probe can produce are refused, tensors are decoded only when a
  judge asks for one.

Tensors arrive as safetensors bytes. They are read here, without torch or numpy, for every dtype a forward may
return (bfloat16, float8 and complex too): the header is checked whole, and each tensor becomes a
grading.tensors.Tensor when a judge first asks for it.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..judge.protocol import SAFETENSORS_TORCH_NAMES
from ..packs import model
from .tensors import Tensor, item_size

# Bounds no honest probe reaches: values a probe sends are cut at MAX_VALUE_ITEMS (probes.to_plain).
MAX_VALUE_ITEMS = 20_000
MAX_VALUE_DEPTH = 64
MAX_PARAMETERS = 10_000
MAX_TRACE_OPS = 4_000
MAX_TENSORS = 100_000
FLOAT_MARKER = "__float__"  # probes.to_plain sends NaN and infinities as {"__float__": "nan"}: JSON has none


class FactsRefused(Exception):
    """The run's facts are not what was asked: missing, extra, duplicated or malformed."""


# --- tensors -----------------------------------------------------------------------------------------------

# torch's names for each safetensors dtype, as probes' summaries spell them (one table, the judge's)
TORCH_NAMES = SAFETENSORS_TORCH_NAMES


class TensorStore(Mapping[str, Tensor]):
    """The tensors of one run, from safetensors bytes; each is decoded when first asked for.

    The header is checked whole before anything is decoded: known dtypes, shapes that match their byte
    ranges, ranges inside the blob. Anything else refuses the whole blob (FactsRefused).
    """

    def __init__(self, blob: bytes | memoryview = b""):
        self._blob = memoryview(blob)
        self._entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        self._decoded: dict[str, Tensor] = {}
        if len(self._blob):
            self._parse()

    def _parse(self) -> None:
        if len(self._blob) < 8:
            raise FactsRefused("the tensors are truncated")
        (header_len,) = struct.unpack("<Q", self._blob[:8])
        if header_len > len(self._blob) - 8 or header_len > 64 << 20:
            raise FactsRefused("the tensors' header is larger than the tensors")
        try:
            header = json.loads(bytes(self._blob[8 : 8 + header_len]))
        except (ValueError, RecursionError):
            raise FactsRefused("the tensors' header is not JSON") from None
        if not isinstance(header, dict) or len(header) > MAX_TENSORS:
            raise FactsRefused("the tensors' header is not a table of tensors")
        start = 8 + header_len
        size = len(self._blob) - start
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
                valid = (
                    dtype in TORCH_NAMES
                    and isinstance(shape, list)
                    and len(shape) <= 16
                    and all(type(d) is int and d >= 0 for d in shape)
                    and type(begin) is int
                    and type(end) is int
                    and 0 <= begin <= end <= size
                )
            except (KeyError, TypeError, ValueError):
                valid = False
            if not valid:
                raise FactsRefused(f"tensor {name[:60]!r} is malformed")
            item = item_size(dtype)
            if math.prod(shape) * item != end - begin:
                raise FactsRefused(f"tensor {name[:60]!r} does not hold its shape's values")
            self._entries[name] = (dtype, tuple(shape), start + begin, start + end)

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._decoded:
            dtype, shape, begin, end = self._entries[key]
            self._decoded[key] = Tensor(dtype, shape, self._blob[begin:end])
        return self._decoded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def dtype(self, key: str) -> str:
        """torch's name of a tensor's dtype: 'bfloat16', 'float32', ..."""
        return TORCH_NAMES[self._entries[key][0]]

    def shape(self, key: str) -> tuple[int, ...]:
        return self._entries[key][1]


# --- the schema of each probe's facts ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    line: int | None = None
    function: str = Field("", max_length=500)
    text: str = Field("", max_length=2000)


class RunningModule(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    path: str = Field("", max_length=500)
    repr: str = Field("", max_length=500)
    input_shape: list[int] | None = Field(None, max_length=16)


class ErrorFacts(BaseModel):
    """An exception in the learner's code. Lenient about extra keys: an error never passes a check."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: str = Field(max_length=200)
    message: str = Field("", max_length=4000)
    frames: list[Frame] = Field(default_factory=list, max_length=64)
    note: str | None = Field(None, max_length=500)
    memory: bool | None = None
    module: RunningModule | None = None


class TensorSummary(_Strict):
    shape: list[int] | None = Field(None, max_length=16)
    dtype: str | None = Field(None, max_length=40)
    type: str | None = Field(None, max_length=200)


class Held(_Strict):
    attribute: str = Field(max_length=500)
    container: str = Field(max_length=100)
    modules: list[str] = Field(max_length=20)


class ModuleOutput(_Strict):
    """One module's output during forward, in execution order (a located numeric difference)."""

    path: str = Field(max_length=500)
    type: str = Field(max_length=200)
    repr: str = Field("", max_length=500)
    tensor: str | None = Field(None, max_length=300)
    shape: list[int] | None = Field(None, max_length=16)
    line: int | None = None


class OutputElement(_Strict):
    """One element of a tuple, list or dict output: a tensor (sent as data) or a plain value."""

    path: str = Field(max_length=300)
    shape: list[int] | None = Field(None, max_length=16)
    dtype: str | None = Field(None, max_length=40)
    type: str | None = Field(None, max_length=200)
    tensor: str | None = Field(None, max_length=300)
    value: bool | int | float | str | None = None


MAX_STATE_BUFFERS = 64  # the running statistics a run reports at most (the probes' own MAX_STATE_BUFFERS)


class BufferSample(_Strict):
    """A buffer of the answer's own classes before forward ran, sampled (a constant that differs is named)."""

    path: str = Field(max_length=500)
    shape: list[int] = Field(max_length=16)
    dtype: str = Field(max_length=40)
    tensor: str = Field(max_length=300)


class ConstantSample(_Strict):
    """A constant forward combined with what flows from its input (a mask, a table), sampled where they met."""

    shape: list[int] = Field(max_length=16)
    dtype: str = Field(max_length=40)
    tensor: str = Field(max_length=300)
    line: int | None = None


MAX_OUTPUT_PARTS = 64


class OutputEntry(_Strict):
    case: int
    mode: Literal["train", "eval"] | None = None
    input: int | None = None
    construct_error: ErrorFacts | None = None
    error: ErrorFacts | None = None
    output: TensorSummary | None = None
    elements: list[OutputElement] | None = Field(None, max_length=MAX_OUTPUT_PARTS)
    random: bool | None = None
    modules: list[ModuleOutput] | None = Field(None, max_length=400)
    ops: dict[str, int] | None = Field(None, max_length=200)
    dims: dict[str, Annotated[list[Annotated[int, Field(ge=-64, le=-1)]], Field(max_length=20)]] | None = Field(
        None, max_length=8
    )
    idle: list[str] | None = Field(None, max_length=20)
    buffers: list[BufferSample] | None = Field(None, max_length=16)
    constants: list[ConstantSample] | None = Field(None, max_length=16)
    last: str | None = Field(None, max_length=200)
    returns_input: bool | None = None
    state: list[BufferSample] | None = Field(None, max_length=MAX_STATE_BUFFERS)  # after a train-mode run


class ParameterInfo(_Strict):
    path: str = Field(max_length=500)
    shape: list[int] = Field(max_length=16)
    count: int


Rank = Annotated[list[Annotated[int, Field(ge=0, le=10_000)]], Field(min_length=2, max_length=2)]


class OutputsFacts(_Strict):
    results: list[OutputEntry]
    unregistered: dict[str, list[Held]] = Field(default_factory=dict)
    parameters: dict[str, list[ParameterInfo]] = Field(default_factory=dict)
    ranks: dict[str, dict[str, Rank]] = Field(default_factory=dict)  # case -> tied module path -> [group, rank]


class ParameterGrad(_Strict):
    role: str = Field(max_length=300)
    path: str = Field(max_length=500)
    shape: list[int] = Field(max_length=16)
    grad: str | None = Field(max_length=300)


class GradientEntry(_Strict):
    case: int
    mode: Literal["train", "eval"] | None = None
    input: int | None = None
    construct_error: ErrorFacts | None = None
    error: ErrorFacts | None = None
    output: TensorSummary | None = None
    input_grad: str | None = Field(None, max_length=300)
    input_grads: dict[str, str | None] | None = Field(None, max_length=64)
    detached: bool | None = None
    parameters: list[ParameterGrad] | None = Field(None, max_length=MAX_PARAMETERS)


class GradientsFacts(_Strict):
    results: list[GradientEntry]
    ranks: dict[str, dict[str, Rank]] = Field(default_factory=dict)


class TreeNode(_Strict):
    path: str = Field(max_length=500)
    type: str = Field(max_length=500)


class SharedModule(_Strict):
    path: str = Field(max_length=500)
    same_as: str = Field(max_length=500)


class StructureEntry(_Strict):
    case: int
    construct_error: ErrorFacts | None = None
    not_a_module: str | None = Field(None, max_length=200)
    modules: dict[str, int] | None = None
    param_count: int | None = None
    unregistered: list[Held] | None = Field(None, max_length=100)
    tree: list[TreeNode] | None = Field(None, max_length=200)
    parameters: list[ParameterInfo] | None = Field(None, max_length=MAX_PARAMETERS)
    shared: list[SharedModule] | None = Field(None, max_length=50)
    state_dict: list[Annotated[str, Field(max_length=500)]] | None = Field(None, max_length=MAX_PARAMETERS)


class StructureFacts(_Strict):
    results: list[StructureEntry]


class TracedOp(_Strict):
    op: str = Field(max_length=200)
    tensors: int
    from_input: int
    dim: int | None = Field(None, ge=-64, le=-1)  # the dim a softmax ran over, from the end


class TraceEntry(_Strict):
    case: int
    input: int | None = None
    construct_error: ErrorFacts | None = None
    error: ErrorFacts | None = None
    ops: list[TracedOp] | None = Field(None, max_length=MAX_TRACE_OPS)
    last: str | None = Field(None, max_length=200)
    returns_input: bool | None = None


class TraceFacts(_Strict):
    results: list[TraceEntry]


class ExpressionValue(_Strict):
    error: ErrorFacts | None = None
    value: Any = None


class ExpressionFacts(_Strict):
    setup_error: ErrorFacts | None = None
    values: list[ExpressionValue] | None = None


class CustomFacts(_Strict):
    error: ErrorFacts | None = None
    value: Any = None


class ProbeFailed(_Strict):
    probe_failed: ErrorFacts


_SCHEMAS: dict[str, type[_Strict]] = {
    "outputs": OutputsFacts,
    "gradients": GradientsFacts,
    "structure": StructureFacts,
    "trace": TraceFacts,
    "expression": ExpressionFacts,
    "custom": CustomFacts,
}


class DefinitionFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ok: bool
    missing: str | None = Field(None, max_length=300)
    defined: list[str] | None = Field(None, max_length=100)
    syntax: dict[str, Any] | None = None
    exception: ErrorFacts | None = None


# --- the expected set -------------------------------------------------------------------------------------


def probed(check: Any) -> bool:
    """Whether a check needs facts from the jail (source rules are judged on the text alone)."""
    return check.kind in _SCHEMAS or check.kind == "training"  # training check: grading/training.py


def _runs_per_case(check: Any, case: model.Case) -> list[tuple[str | None, int]]:
    """The (mode, input) runs the pack asks for on one case."""
    calls = len(case.all_calls())
    if check.kind in ("outputs", "gradients"):
        return [(mode, index) for mode in check.modes for index in range(calls)]
    if check.kind == "trace":
        return [(None, index) for index in range(calls)]
    return [(None, 0)]  # structure: one entry per case


def expected_entries(check: Any) -> int:
    """The most result entries the check's probe can honestly send."""
    return sum(max(1, len(_runs_per_case(check, case))) for case in check.cases)


def validate(check: Any, facts: Any, tensors: TensorStore) -> dict[str, Any]:
    """The check's facts, validated against the pack: exactly the entries it asked for, each well formed.

    Raises FactsRefused with what is wrong, in words for the learner."""
    if not isinstance(facts, dict) or not facts:
        raise FactsRefused("no facts at all")
    if set(facts) == {"probe_failed"}:
        return _model(ProbeFailed, facts)
    if check.kind == "training":  # training check: its facts are checked in grading/training.py
        from .training import validate_facts

        return validate_facts(check, facts, tensors)
    schema = _SCHEMAS[check.kind]
    results = facts.get("results")
    if "results" in facts and (not isinstance(results, list) or len(results) > expected_entries(check)):
        raise FactsRefused("more results than the check asked for")  # refused before anything is read
    data = _model(schema, facts)
    if check.kind in ("outputs", "gradients", "trace", "structure"):
        _complete(check, data["results"])
    if check.kind == "outputs":
        _output_tensors(check, data, tensors)
    elif check.kind == "gradients":
        _gradient_tensors(check, data, tensors)
    elif check.kind == "trace":
        for entry in data["results"]:
            _one_of(entry, ("construct_error", "error", "ops"), allow_pairs={("error", "ops")})
    elif check.kind == "structure":
        for entry in data["results"]:
            _one_of(entry, ("construct_error", "not_a_module", "modules"))
            if "modules" in entry and entry.get("param_count") is None:
                raise FactsRefused(f"case {entry['case']} has no parameter count")
            if "modules" in entry and check.state_dict_keys is not None and entry.get("state_dict") is None:
                raise FactsRefused(f"case {entry['case']} reports no state_dict keys")
    elif check.kind == "expression":
        _one_of(data, ("setup_error", "values"))
        if "values" in data:
            if len(data["values"]) != len(check.expressions):
                raise FactsRefused(f"{len(data['values'])} values for {len(check.expressions)} expressions")
            for value in data["values"]:
                _one_of(value, ("error", "value"))
                if "value" in value:
                    value["value"] = plain_value(value["value"])
    elif check.kind == "custom":
        _one_of(data, ("error", "value"))
        if "value" in data:
            data["value"] = plain_value(data["value"])
    return data


def _model(schema: type[BaseModel], facts: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.model_validate(facts).model_dump(exclude_unset=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the facts"
        raise FactsRefused(f"{where}: {first['msg']}") from None
    except RecursionError:
        raise FactsRefused("the facts are nested too deeply") from None


def _one_of(entry: dict[str, Any], keys: tuple[str, ...], allow_pairs: set[tuple[str, str]] = frozenset()) -> None:  # type: ignore[assignment]
    present = tuple(key for key in keys if key in entry and (entry[key] is not None or key == "value"))
    if len(present) == 1 or present in allow_pairs:
        return
    raise FactsRefused(f"an entry holds {' and '.join(present) or 'none'} of {', '.join(keys)}")


def _complete(check: Any, results: list[dict[str, Any]]) -> None:
    """Every case: one construction error, or exactly the (mode, input) runs asked for. Nothing else."""
    by_case: dict[int, list[dict[str, Any]]] = {}
    for entry in results:
        if not 0 <= entry["case"] < len(check.cases):
            raise FactsRefused(f"a result names case {entry['case']}, which the check does not have")
        by_case.setdefault(entry["case"], []).append(entry)
    for index, case in enumerate(check.cases):
        entries = by_case.get(index, [])
        if any("construct_error" in entry and entry["construct_error"] is not None for entry in entries):
            if len(entries) != 1:
                raise FactsRefused(f"case {index} reports a construction error and other results")
            continue
        wanted = _runs_per_case(check, case)
        got = [(entry.get("mode"), entry.get("input") if check.kind != "structure" else 0) for entry in entries]
        if len(got) != len(set(got)):
            raise FactsRefused(f"case {index} reports a run twice")
        missing = [run for run in wanted if run not in got]
        if missing:
            mode, input_index = missing[0]
            what = f"{mode} mode, input {input_index}" if mode else f"input {input_index}"
            raise FactsRefused(f"no result for case {index} ({what})")
        if len(got) != len(wanted):
            raise FactsRefused(f"case {index} reports runs that were not asked for")


def _output_tensors(check: Any, data: dict[str, Any], tensors: TensorStore) -> None:
    for entry in data["results"]:
        if entry.get("construct_error") is not None:
            continue
        _one_of(entry, ("error", "output"))
        key = f"{check.id}/{entry['case']}/{entry['mode']}/{entry['input']}"
        output = entry.get("output")
        if output is not None and output.get("shape") is not None:
            _tensor_matches(tensors, key, output["shape"], output.get("dtype"))
            if entry.get("elements") is not None:
                raise FactsRefused("a tensor output reports elements")
        _elements(entry.get("elements") or [], key, tensors)
        for module in entry.get("modules") or []:
            if module.get("tensor") is not None:
                name = module["tensor"]
                if not name.startswith(key + "/") or name not in tensors:
                    raise FactsRefused(f"module output {name[:60]!r} is not among the tensors")
        for index, buffer in enumerate(entry.get("buffers") or []):
            if buffer["tensor"] != f"{key}/b{index}" or buffer["tensor"] not in tensors:
                raise FactsRefused(f"buffer sample {buffer['tensor'][:60]!r} is not among the tensors")
        for index, buffer in enumerate(entry.get("state") or []):
            if buffer["tensor"] != f"{key}/s{index}" or entry.get("mode") != "train" or entry.get("input") != 0:
                raise FactsRefused(f"running statistics {buffer['tensor'][:60]!r} are filed under another name")
            _tensor_matches(tensors, buffer["tensor"], buffer["shape"], buffer["dtype"])
        for index, constant in enumerate(entry.get("constants") or []):
            if constant["tensor"] != f"{key}/c{index}" or constant["tensor"] not in tensors:
                raise FactsRefused(f"constant sample {constant['tensor'][:60]!r} is not among the tensors")
    for case in [*data.get("unregistered", {}), *data.get("parameters", {})]:
        if not case.isdigit() or int(case) >= len(check.cases):
            raise FactsRefused(f"unregistered modules reported for case {case[:20]!r}, which does not exist")


def _elements(elements: list[dict[str, Any]], key: str, tensors: TensorStore) -> None:
    """Each element is a tensor filed under its own name with its reported shape, or a plain value."""
    paths = [element["path"] for element in elements]
    if len(paths) != len(set(paths)):
        raise FactsRefused("an output reports an element twice")
    for index, element in enumerate(elements):
        if element.get("tensor") is not None:
            if element["tensor"] != f"{key}/o{index}" or element.get("shape") is None:
                raise FactsRefused("an output element is filed under another name")
            _tensor_matches(tensors, element["tensor"], element["shape"], element.get("dtype"))
        elif element.get("shape") is not None:
            raise FactsRefused("an output element has a shape and no tensor")


def _gradient_tensors(check: Any, data: dict[str, Any], tensors: TensorStore) -> None:
    for entry in data["results"]:
        if entry.get("construct_error") is not None:
            continue
        _one_of(entry, ("error", "output"))
        if entry.get("error") is not None:
            continue
        key = f"{check.id}/{entry['case']}/{entry['mode']}/{entry['input']}"
        if "input" in check.wrt:
            if "input_grad" not in entry:
                raise FactsRefused(f"no input gradient reported for case {entry['case']}")
            call = check.cases[entry["case"]].all_calls()[entry["input"]]
            arguments = call.tensors()
            if entry["input_grad"] is not None:
                if entry["input_grad"] != f"{key}/input" or not arguments:
                    raise FactsRefused("the input gradient is filed under another run's name")
                _tensor_matches(tensors, entry["input_grad"], arguments[0][1].tensor_shape(), None)
            # every other floating tensor argument that requires grad, by position or keyword: no more, no less
            wanted = {str(name): spec for name, spec in arguments[1:] if spec.floating and spec.requires_grad}
            reported = entry.get("input_grads") or {}
            if set(reported) != set(wanted):
                raise FactsRefused("the gradients of the call's tensor arguments are not the ones asked for")
            for name, grad in reported.items():
                if grad is not None:
                    if grad != f"{key}/input/{name}":
                        raise FactsRefused("an argument's gradient is filed under another name")
                    _tensor_matches(tensors, grad, wanted[name].tensor_shape(), None)
        if "parameters" in check.wrt:
            # a function, not a module, has no parameters: none reported is none to compare (the reference's
            # parameters, if it has any, then find no match and the check fails)
            for parameter in entry.get("parameters") or []:
                if parameter["grad"] is not None:
                    if not parameter["grad"].startswith(f"{key}/param"):
                        raise FactsRefused("a parameter gradient is filed under another run's name")
                    _tensor_matches(tensors, parameter["grad"], parameter["shape"], None)


def _tensor_matches(tensors: TensorStore, key: str, shape: list[int], dtype: str | None) -> None:
    if key not in tensors:
        raise FactsRefused(f"tensor {key!r} is missing")
    if list(tensors.shape(key)) != list(shape):
        raise FactsRefused(f"tensor {key!r} does not have the shape reported for it")
    if dtype is not None and tensors.dtype(key) != dtype and not _sent_as_wider(dtype, tensors.dtype(key)):
        raise FactsRefused(f"tensor {key!r} does not have the dtype reported for it")


def _sent_as_wider(reported: str, sent: str) -> bool:
    """Probes send dtypes safetensors lacks (float8 variants, complex32, ...) widened to float32/complex64."""
    return reported not in TORCH_NAMES.values() and sent in ("float32", "float64", "complex64", "complex128")


def validate_definition(facts: Any) -> dict[str, Any]:
    if not isinstance(facts, dict) or "definition" not in facts:
        raise FactsRefused("the run reported no definition of the answer")
    return _model(DefinitionFacts, facts["definition"])


def plain_value(value: Any) -> Any:
    """A probe's JSON value as Python: {"__float__": "nan"} back to a float; bounded in size and depth."""
    items = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        items += 1
        if items > MAX_VALUE_ITEMS or depth > MAX_VALUE_DEPTH:
            raise FactsRefused("a value is larger or deeper than any probe sends")
        if isinstance(current, list):
            stack.extend((item, depth + 1) for item in current)
        elif isinstance(current, dict):
            stack.extend((item, depth + 1) for item in current.values())
    return _floats(value)


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {FLOAT_MARKER} and value[FLOAT_MARKER] in ("nan", "inf", "-inf"):
            return float(value[FLOAT_MARKER])
        return {key: _floats(item) for key, item in value.items()}
    return value
