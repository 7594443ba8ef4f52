"""What a jailed child does with a code answer: run it and collect facts for the checks. Worker side: torch.

The child never sees what it is judged on: the payload carries the checks' *probes* (cases, modes, seeds,
expressions to evaluate, setup code), not expected values, counts or messages. The grader compares the
facts from the learner's run with the facts from the reference's run, outside the jail.

Canonical initialisation makes learner and reference comparable whatever their attribute names and
registration order, while same-shaped layers keep distinct values (so sharing one layer, or swapping two,
changes the output): each parameter's values come from its *role*, the shapes of its module's parameters and
the module's rank among the modules of those shapes, ranked by where forward uses them (the lineage of ops
that led to the first use, then where the output goes, then the order of use; see "canonical initialisation by
role"). Buffers that training sets are set from (module type, local name, shape); constant buffers are kept.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import inspect
import io
import itertools
import json
import linecache
import math
import os
import random
import sys
import traceback
import types
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from .protocol import is_out_of_memory

ANSWER_FILE = "answer.py"
MAX_TRACE_OPS = 4000
MAX_VALUE_ITEMS = 10_000


def run(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The task the judge's child runs: payload {code, entry_point, checks: [probe specs], watch: [names]}.

    `watch`: the names a source rule forbids. While the answer is defined and probed, a call of one of them
    made from the answer's code (answer.py anywhere in the calling stack) is recorded, however the answer
    reached it (an alias, getattr with a computed name, importlib): the facts' `called`."""
    watch = Watch(payload.get("watch")) if payload.get("watch") else None
    if watch is not None:
        watch.start()
    try:
        facts, tensors = _run(payload)
    finally:
        if watch is not None:
            watch.stop()
    if watch is not None and facts.get("definition") == {"ok": True}:
        answer = sys.modules.get("answer")
        watch.scan(getattr(answer, "__dict__", None))
        facts["called"] = sorted(watch.hits)
    return facts, tensors


def _run(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}
    if payload.get("part"):  # a later part of a split job: the answer's own printout is the first part's
        with contextlib.redirect_stdout(_DISCARD), contextlib.redirect_stderr(_DISCARD):
            namespace, error = define(payload["code"])
    else:
        namespace, error = define(payload["code"])
    if error is not None:
        return {"definition": error}, tensors
    entry_point = payload.get("entry_point")
    facts: dict[str, Any] = {"definition": {"ok": True}, "checks": {}}
    if entry_point and entry_point not in namespace:
        facts["definition"] = {"ok": False, "missing": entry_point, "defined": _public_names(namespace)}
        return facts, tensors
    function = payload.get("entry_point_kind") == "function"
    for spec in payload.get("checks", []):
        try:
            seed_for_check(spec)
            spec = {**spec, "function": function}  # the entry point is called, not constructed
            probe = _PROBES[spec["kind"]]
            facts["checks"][spec["id"]] = probe(spec, namespace, entry_point, tensors, f"{spec['id']}/")
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the answer may have broken torch or these probes
            if is_out_of_memory(exc) or (isinstance(exc, WarmUpStopped) and _warm_up_stop is not None):
                raise  # (the second: a prepared chain's warm-up, stopped for its job)
            facts["checks"][spec["id"]] = {"probe_failed": _exception_facts(exc)}
    return facts, tensors


# Where a name a rule forbids may live, in the usual spellings (nn.X, F.X, a bare X).
_WATCH_PREFIXES = (
    "",
    "torch.",
    "torch.nn.",
    "torch.nn.functional.",
    "torch.nn.init.",
    "torch.func.",
    "torch.autograd.",
)
_WATCH_SPELLINGS = {"nn.": "torch.nn.", "F.": "torch.nn.functional."}
MAX_WATCH_DEPTH = 64  # frames looked through for answer.py above a watched call


class Watch:
    """Calls of forbidden names made from the answer's code, seen by a profile function (sys.setprofile):
    Python functions by their code object (a class by its own __init__ and forward), C functions by identity,
    and modules by their source files. Only names that resolve to something already importable count; the
    others are left to the static reading of the source (quizapp/grading/checks.py)."""

    def __init__(self, names: Any) -> None:
        # each target with every name that reached it (nn.Sequential, torch.nn.Sequential and Sequential alike)
        self.codes: dict[Any, tuple[str, ...]] = {}
        self.builtins: dict[int, tuple[Any, tuple[str, ...]]] = {}
        self.files: dict[str, tuple[str, ...]] = {}
        self.classes: dict[type, tuple[str, ...]] = {}
        self.hits: set[str] = set()
        self._file_cache: dict[str, tuple[str, ...] | None] = {}
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and len(name) <= 200:
                self._add(name)

    def _add(self, name: str) -> None:
        spelled = next(
            (long + name[len(short) :] for short, long in _WATCH_SPELLINGS.items() if name.startswith(short)), name
        )
        for prefix in _WATCH_PREFIXES:
            target = _resolve(prefix + spelled)
            if target is None:
                origin = _module_origin(prefix + spelled)  # a module not imported yet: its files, found unimported
                if origin is not None:
                    self.files[origin] = (*self.files.get(origin, ()), name)
                    return
                continue
            if isinstance(target, types.ModuleType):
                origin = _file_prefix(getattr(target, "__file__", None))
                if origin:
                    self.files[origin] = (*self.files.get(origin, ()), name)
            elif isinstance(target, type):
                self.classes[target] = (*self.classes.get(target, ()), name)
                for attribute in ("__init__", "forward"):
                    function = target.__dict__.get(attribute)
                    if isinstance(function, types.FunctionType):
                        self.codes[function.__code__] = (*self.codes.get(function.__code__, ()), name)
            elif isinstance(target, types.FunctionType):
                self.codes[target.__code__] = (*self.codes.get(target.__code__, ()), name)
            elif callable(target):
                self.builtins[id(target)] = (target, (*self.builtins.get(id(target), (None, ()))[1], name))
            return

    def scan(self, namespace: Any) -> None:
        """What the answer's module holds at the end: a forbidden object itself as one of its names (the entry
        point `MySequential = nn.Sequential`, run by the probes, never from answer.py), or a class of its own
        deriving from a forbidden class."""
        values = list(namespace.values()) if isinstance(namespace, dict) else []
        for value in values[:10_000]:
            try:
                if isinstance(value, type):
                    for target, names in self.classes.items():
                        if issubclass(value, target):
                            self.hits.update(names)
                elif isinstance(value, types.FunctionType) and value.__code__ in self.codes:
                    self.hits.update(self.codes[value.__code__])
                elif isinstance(value, types.ModuleType):
                    names = self._in_files(str(getattr(value, "__file__", None) or ""))
                    if names:
                        self.hits.update(names)
                else:
                    entry = self.builtins.get(id(value))
                    if entry is not None and entry[0] is value:
                        self.hits.update(entry[1])
            except Exception:  # a class of the answer's whose metaclass refuses the question: nothing learned
                continue

    def start(self) -> None:
        sys.setprofile(self._profile)

    def stop(self) -> None:
        sys.setprofile(None)

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            names = self.codes.get(code)
            if names is None and self.files:
                names = self._in_files(code.co_filename)
            caller = frame.f_back
        elif event == "c_call":
            entry = self.builtins.get(id(arg))
            names = entry[1] if entry is not None and entry[0] is arg else None
            caller = frame
        else:
            return
        if names is None or names[0] in self.hits:
            return
        if event == "call":
            try:  # a forbidden class's own method run for a class of the answer's: a subclass of it
                derived = getattr(type(frame.f_locals.get("self")), "__module__", None) == "answer"
            except Exception:  # a metaclass of the answer's that refuses the question: the stack decides
                derived = False
            if derived:
                self.hits.update(names)
                return
        depth = 0
        while caller is not None and depth < MAX_WATCH_DEPTH:
            if caller.f_code.co_filename == ANSWER_FILE:
                self.hits.update(names)
                return
            caller, depth = caller.f_back, depth + 1

    def _in_files(self, filename: str) -> tuple[str, ...] | None:
        try:
            return self._file_cache[filename]
        except KeyError:
            found = next((name for prefix, name in self.files.items() if filename.startswith(prefix)), None)
            if len(self._file_cache) < 100_000:
                self._file_cache[filename] = found
            return found


def _file_prefix(origin: Any) -> str | None:
    """A module's source file, or its package's folder (every file under it)."""
    if not isinstance(origin, str) or not origin:
        return None
    return os.path.dirname(origin) + os.sep if os.path.basename(origin) == "__init__.py" else origin


def _module_origin(dotted: str) -> str | None:
    """The files of a module that is not imported yet, from its spec (finding a spec imports nothing but the
    parents, which must be imported already)."""
    parent = dotted.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    try:
        import importlib.util

        spec = importlib.util.find_spec(dotted)
    except (ImportError, ValueError, AttributeError):
        return None
    return _file_prefix(spec.origin) if spec is not None else None


def _resolve(dotted: str) -> Any:
    """The object a dotted name names, from modules already imported (never importing one)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        target: Any = module
        for attribute in parts[cut:]:
            target = getattr(target, attribute, None)
            if target is None:
                return None
        return target
    return None


class WarmUpStopped(Exception):
    """A prepared chain's warm-up stops: its job has arrived (see warm_up)."""


# While a prepared chain warms up: True once its job is waiting. Asked between the runs of the outputs probe
# and before each op of a traced run, so a job that arrives mid-warm-up waits for one untraced forward at most
# (a traced one, role discovery's or the observed run, took up to 3 ms). None in a job.
_warm_up_stop: Callable[[], bool] | None = None


def _stop_point() -> None:
    if _warm_up_stop is not None and _warm_up_stop():
        raise WarmUpStopped


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


_DISCARD = _Discard()


def seed_for_check(spec: dict[str, Any]) -> int:
    """Seed every random generator (Python's, torch's CPU generator, NumPy's) from the check alone, before it
    runs: what a check draws (a dropout mask) does not depend on the checks run before it in the same job,
    so a check's facts are the same whether the job ran every check or only some of them (a job split
    across workers, pool.py; Run's visible checks), and the same for an answer and the reference."""
    text = json.dumps(spec, sort_keys=True, default=str).encode()
    seed = int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1
    random.seed(seed)
    torch.default_generator.manual_seed(seed)  # torch.manual_seed less its accelerators' queue (1 ms a job)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(Exception):
            numpy.random.seed(seed % (1 << 32))
    return seed


# --- defining the answer -------------------------------------------------------------------------------


def define(code: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Execute the answer as module `answer`; its tracebacks name answer.py with the editor's line numbers.

    The module is in sys.modules while the job runs, as an imported module would be: `@dataclass`, pickling
    and `typing.get_type_hints` look their class's module up there."""
    module = types.ModuleType("answer")
    module.__file__ = ANSWER_FILE
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["answer"] = module
    namespace: dict[str, Any] = module.__dict__
    lines = code.splitlines(keepends=True)
    linecache.cache[ANSWER_FILE] = (len(code), None, lines, ANSWER_FILE)
    try:
        compiled = compile(code, ANSWER_FILE, "exec")
    except SyntaxError as exc:
        return namespace, {"ok": False, "syntax": {"line": exc.lineno, "column": exc.offset, "message": exc.msg}}
    try:
        exec(compiled, namespace)
    except SystemExit as exc:
        return namespace, {"ok": False, "exception": _exception_facts(exc, "the answer called exit()")}
    except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
        if is_out_of_memory(exc):
            raise  # the job's outcome is memory_limit, not a fact about the answer
        return namespace, {"ok": False, "exception": _exception_facts(exc)}
    return namespace, None


def _public_names(namespace: dict[str, Any]) -> list[str]:
    return sorted(name for name in namespace if not name.startswith("_") and name not in _SCOPE_NAMES)[:50]


_SCOPE_NAMES = {"torch", "nn", "F"}


def _scope(namespace: dict[str, Any]) -> dict[str, Any]:
    return {"torch": torch, "nn": nn, "F": F, **namespace}


def type_name(value: Any) -> str:
    """The name of a value's class as facts say it: at most 200 characters (an answer names its classes)."""
    return str(type(value).__name__)[:200]


def _exception_facts(exc: BaseException, note: str | None = None) -> dict[str, Any]:
    """The exception as facts: type, message, and the frames of the learner's own file only."""
    frames = [
        {"line": frame.lineno, "function": str(frame.name)[:200], "text": (frame.line or "").strip()[:500]}
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == ANSWER_FILE
    ]
    try:
        message = str(exc)
    except BaseException:  # the learner's exception's __str__ raises (anything): still the learner's error
        message = f"<{type_name(exc)} whose message cannot be printed>"
    if len(message) > 2000:
        message = message[:2000] + " ..."
    facts: dict[str, Any] = {"type": type_name(exc), "message": message, "frames": frames[-8:]}
    if is_out_of_memory(exc):  # measured: an allocation was refused (see protocol.is_out_of_memory)
        facts["memory"] = True
    if note:
        facts["note"] = note
    return facts


# --- building and initialising -------------------------------------------------------------------------


def build(
    case: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    fast: bool = False,
    function: bool = False,
    seed: int = 0,
    case_index: int = 0,
) -> Any:
    """Construct the case's object; with `fast`, skip default initialisation (canonical init follows). A
    function entry point is not constructed: the calls call it. A case's `dtype` casts a built module. A
    case's `init` (format 2) gives the constructor's arguments as a call, tensors made from the seed."""
    with default_init_skipped() if fast else contextlib.nullcontext():
        if case.get("build"):
            built = eval(compile(case["build"], "<case>", "eval"), _scope(namespace))
        elif function:
            return namespace[entry_point]
        elif case.get("init"):
            built = Arguments(case["init"], seed, case_index, "init").call(namespace[entry_point])
        else:
            built = namespace[entry_point](*case.get("args", []), **case.get("kwargs", {}))
    if case.get("dtype") and isinstance(built, nn.Module):
        built = built.to(getattr(torch, case["dtype"]))
    return built


@functools.lru_cache(maxsize=4096, typed=True)
def _stable_seed(*parts: object) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def canonical_init(module: nn.Module, seed: int) -> None:
    """Set every parameter and buffer from (module type, local name, shape), whatever the module's layout."""
    with torch.no_grad():
        for sub in module.modules():
            kind = type(sub).__name__
            for name, tensor in [*sub.named_parameters(recurse=False), *sub.named_buffers(recurse=False)]:
                if tensor is None or not tensor.is_floating_point() or _is_lazy(tensor):
                    continue
                generator = torch.Generator().manual_seed(_stable_seed(seed, kind, name, tuple(tensor.shape)))
                if "var" in name or (tensor.dim() <= 1 and name == "weight"):
                    # running variances stay positive; norm layers' scales sit around one
                    tensor.uniform_(0.5, 1.5, generator=generator)
                else:
                    fan_in = math.prod(tensor.shape[1:]) if tensor.dim() > 1 else max(tensor.numel(), 1)
                    bound = 1 / math.sqrt(fan_in)
                    tensor.uniform_(-bound, bound, generator=generator)


_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "trunc_normal_",
    "orthogonal_",
    "eye_",
    "dirac_",
)


@contextmanager
def default_init_skipped() -> Iterator[None]:
    """While building for probes that canonically initialise, skip PyTorch's default initialisation: it is
    overwritten anyway, and for large layers it costs most of a job."""
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)}

    def keep(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return tensor

    for name in saved:
        setattr(nn.init, name, keep)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def set_training(module: Any, training: bool) -> None:
    """module.train(training). A tree of modules that leave train() and __setattr__ to nn.Module gets each
    module's flag set directly: torch's walk sets it through nn.Module.__setattr__ on every module, and a
    job switches modes about 26 times (3% of a ResNet job)."""
    if not isinstance(module, nn.Module):
        return
    modules = []
    stack = [module]
    seen: set[int] = set()
    while stack:
        sub = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        kind = type(sub)
        if (
            kind.train is not _TRAIN
            or kind.__setattr__ is not _SETATTR
            or kind.children is not _CHILDREN
            or kind.named_children is not _NAMED_CHILDREN
            or "training" not in sub.__dict__
            or "train" in sub.__dict__  # an instance's own train (a frozen BatchNorm), which torch's walk calls
            or type(training) is not bool
        ):
            module.train(training)
            return
        modules.append(sub)
        stack.extend(child for child in sub._modules.values() if child is not None)
    for sub in modules:
        sub.__dict__["training"] = training


_TRAIN, _SETATTR, _CHILDREN, _NAMED_CHILDREN = (
    nn.Module.train,
    nn.Module.__setattr__,
    nn.Module.children,
    nn.Module.named_children,
)


def _is_lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedTensorMixin)


def make_input(spec: dict[str, Any], seed: int) -> torch.Tensor:
    """A call's input tensor, a function of its spec and seed. The first one made of each (spec, seed) is kept
    and later calls get a copy: a job makes the same inputs for each mode and check (a ResNet job makes 22,
    about 4% of it, drawing each from a new generator), and a copy is fresh for an answer that changes its
    input in place."""
    if spec.get("values") is not None:
        return _make_input(spec, seed)
    try:
        key = (seed, _spec_key(spec))
        made = _INPUTS.get(key)
    except (TypeError, ValueError, KeyError):  # a malformed spec: made (and refused) as before
        return _make_input(spec, seed)
    if made is None:
        made = _make_input(spec, seed)
        size = made.numel() * made.element_size()
        if _INPUT_BYTES[0] + size > MAX_KEPT_INPUT_BYTES:
            return made
        _INPUTS[key] = made
        _INPUT_BYTES[0] += size
    return made.clone()


def _spec_key(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What _make_input reads of a spec without `values`: its shape, dtype and bounds. A shape of anything but
    ints is no key (TypeError): such a spec is made, or refused, as it is."""
    shape = tuple(spec["shape"])
    if not all(type(n) is int for n in shape):
        raise TypeError("not a shape of ints")
    return (shape, spec.get("dtype"), _typed(spec.get("low")), _typed(spec.get("high")))


def _typed(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


MAX_KEPT_INPUT_BYTES = 16 << 20  # at most, as for the canonical values (apply_plan)
_INPUTS: dict[tuple[int, tuple[Any, ...]], torch.Tensor] = {}
_INPUT_BYTES = [0]


def _make_input(spec: dict[str, Any], seed: int) -> torch.Tensor:
    dtype = getattr(torch, spec.get("dtype") or "float32")
    if spec.get("values") is not None:
        return torch.tensor(spec["values"], dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    shape = tuple(spec["shape"])
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator) > 0.5
    low, high = spec.get("low"), spec.get("high")
    if not dtype.is_floating_point:
        lo = int(low if low is not None else 0)
        hi = int(high if high is not None else 10)
        return torch.randint(lo, max(hi, lo + 1), shape, generator=generator, dtype=dtype)
    if low is not None or high is not None:
        lo = float(low if low is not None else 0.0)
        hi = float(high if high is not None else 1.0)
        values = lo + (hi - lo) * torch.rand(shape, generator=generator, dtype=torch.float64)
    else:
        values = torch.randn(shape, generator=generator, dtype=torch.float64)
    return values.to(dtype)


# --- calls: the arguments of each call --------------------------------------------------------------------


def case_calls(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A case's calls as {args, kwargs}: its `calls`, or one call of one tensor per entry of `inputs`."""
    if case.get("calls"):
        return list(case["calls"])
    return [{"args": [spec], "kwargs": {}} for spec in case.get("inputs", [])]


def _is_tensor_spec(value: Any) -> bool:
    return isinstance(value, dict) and ("shape" in value or "values" in value)


class Arguments:
    """One call's arguments, made fresh: `args`, `kwargs`, and `tensors`, the distinct tensor arguments as
    (name, tensor, spec), name being the position ('0') or the keyword. The first tensor is made from the seed
    format 1 gave a call's one input; `{same_as: k}` passes the very tensor of argument k."""

    def __init__(self, call: dict[str, Any], seed: int, case_index: int, call_index: int):
        self.tensors: list[tuple[str, torch.Tensor, dict[str, Any]]] = []
        named: dict[str, torch.Tensor] = {}
        raw = [(str(i), value) for i, value in enumerate(call.get("args", []))]
        raw += [(str(key), value) for key, value in call.get("kwargs", {}).items()]
        for name, value in raw:
            if _is_tensor_spec(value):
                parts: tuple[Any, ...] = (seed, "input", case_index, call_index)
                if self.tensors:
                    parts = (*parts, name)
                tensor = make_input(value, _stable_seed(*parts))
                named[name] = tensor
                self.tensors.append((name, tensor, value))

        def resolve(name: str, value: Any) -> Any:
            if _is_tensor_spec(value):
                return named[name]
            if isinstance(value, dict) and set(value) == {"same_as"}:
                return named[str(value["same_as"])]
            return copy.deepcopy(value)  # a plain value, fresh for each call

        self.args = [resolve(str(i), value) for i, value in enumerate(call.get("args", []))]
        self.kwargs = {str(k): resolve(str(k), value) for k, value in call.get("kwargs", {}).items()}

    @property
    def first(self) -> torch.Tensor | None:
        return self.tensors[0][1] if self.tensors else None

    def call(self, target: Any) -> Any:
        return target(*self.args, **self.kwargs)


MAX_OUTPUT_PARTS = 64


def output_parts(output: Any) -> list[tuple[str, Any]] | None:
    """A tuple, list or dict output as (path, element) pairs, expanding one level of nesting (`[1][0]`,
    `['cache']['k']`); None for any other output."""
    items = _items(output)
    if items is None:
        return None
    parts: list[tuple[str, Any]] = []
    for path, value in items:
        inner = _items(value)
        if inner is None:
            parts.append((path, value))
        else:
            parts.extend((path + inner_path, item) for inner_path, item in inner)
    return parts[:MAX_OUTPUT_PARTS]


def _items(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, torch.Tensor):
        return None
    if isinstance(value, tuple | list):
        return [(f"[{index}]", item) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return [(f"[{str(key)!r}]", item) for key, item in value.items()]
    return None


def _output_facts(output: Any, key: str, entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """The output as facts: a tensor as before (format 1); a tuple, list or dict also as its elements."""
    entry["output"] = _tensor_summary(output)
    if isinstance(output, torch.Tensor):
        tensors[key] = sendable(output)
        return
    parts = output_parts(output)
    if parts is None:
        return
    elements = []
    for index, (path, value) in enumerate(parts):
        element: dict[str, Any] = {"path": path, **_tensor_summary(value)}
        if isinstance(value, torch.Tensor):
            name = f"{key}/o{index}"
            tensors[name] = sendable(value)
            element["tensor"] = name
        elif isinstance(value, float) and not math.isfinite(value):
            element["value"] = repr(value)  # JSON has no NaN: the word, compared as a word
        elif value is None or isinstance(value, bool | int | float):
            element["value"] = value
        elif isinstance(value, str):
            element["value"] = value[:200]
        elements.append(element)
    entry["elements"] = elements


# --- reviewer's context for an exception: which module was running ---------------------------------------


def _running(root: Any, exc: BaseException) -> tuple[nn.Module, Any] | None:
    """The innermost module of root's tree that was being called when `exc` was raised, with the shape of the
    first argument it was given: read from the exception's traceback, after the fact. (Two global module
    hooks kept a stack of the running modules before: every module call of every run paid for them, about
    6% of a ResNet job, for the runs that raise.) A module being called has a frame of nn.Module's call in
    the traceback (its arguments as given, even when binding them to forward failed or a pre-hook raised),
    and one of its forward once that runs (a forward called directly has only this one); `self` is bound
    to the module in both. Only frames whose first argument is `self` are looked into: reading the locals of
    a running frame (ours, holding `exc`) would tie the exception to itself and keep the run's tensors alive."""
    if not isinstance(root, nn.Module):
        return None
    inside: set[int] | None = None
    found: tuple[nn.Module, Any] | None = None
    tb = exc.__traceback__
    tb = tb.tb_next if tb is not None else None  # the first frame is _run_guarded's own
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
        code = frame.f_code
        if not code.co_argcount or code.co_varnames[0] != "self":
            continue
        owner = frame.f_locals.get("self")
        if not isinstance(owner, nn.Module):
            continue
        calling = code in _CALL_CODES
        if not calling and code is not _forward_code(type(owner)):
            continue
        if inside is None:
            try:
                inside = {id(m) for m in root.modules()}
            except Exception:  # noqa: BLE001 - the answer may have broken its own tree
                return None
        if id(owner) not in inside:
            continue
        if calling or found is None or found[0] is not owner:  # a forward keeps the shape its call was given
            found = (owner, _first_argument_shape(frame))
    return found


_CALL_CODES = {nn.Module._call_impl.__code__, nn.Module._wrapped_call_impl.__code__}


def _forward_code(cls: type) -> Any:
    """The code object of a module class's forward (decorators unwrapped); None if it has none."""
    try:
        forward = inspect.unwrap(cls.forward)  # type: ignore[attr-defined]
        return getattr(forward, "__code__", None)
    except Exception:  # noqa: BLE001 - a class of the learner's may make forward anything
        return None


def _first_argument_shape(frame: Any) -> Any:
    """The shape of the first argument after self of a forward frame (the first of *args if that is all)."""
    code = frame.f_code
    names = code.co_varnames
    if code.co_argcount >= 2:
        value = frame.f_locals.get(names[1])
    elif code.co_flags & inspect.CO_VARARGS:
        rest = frame.f_locals.get(names[code.co_argcount + code.co_kwonlyargcount])
        value = rest[0] if isinstance(rest, tuple) and rest else None
    else:
        value = None
    return value.shape if isinstance(value, torch.Tensor) else None


def running_module(root: nn.Module, running: tuple[nn.Module, Any]) -> dict[str, Any]:
    """A running module as facts: its path in root's tree, its short repr and the shape it was given."""
    module, shape = running
    path = next((name for name, m in root.named_modules() if m is module), "?")
    return {"path": path, "repr": _short_repr(module), "input_shape": list(shape) if shape is not None else None}


def _short_repr(module: nn.Module) -> str:
    extra = module.extra_repr()
    text = f"{type(module).__name__}({extra})"
    return text if len(text) <= 120 else text[:117] + "..."


def _run_guarded(action: Callable[[], Any], root: Any) -> tuple[Any, dict[str, Any] | None]:
    """Run learner code; an exception becomes facts, with the module that was running when it happened."""
    try:
        return action(), None
    except SystemExit as exc:
        return None, _exception_facts(exc, "the answer called exit() while being probed")
    except BaseException as exc:  # noqa: BLE001
        if is_out_of_memory(exc) or (isinstance(exc, WarmUpStopped) and _warm_up_stop is not None):
            raise  # (the second: a prepared chain's warm-up, stopped within a run, for its job)
        facts = _exception_facts(exc)
        try:
            running = _running(root, exc)
        except Exception:  # noqa: BLE001 - the context is a courtesy: never let it cost the facts
            running = None
        if running is not None and running[0] is not root:  # a submodule raised, not the answer's own forward
            described = running_module(root, running)
            if described["path"]:
                facts["module"] = described
        return None, facts


# --- probes by check kind --------------------------------------------------------------------------------


_SAFETENSORS_DTYPES = {
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    *(
        getattr(torch, name)
        for name in ("uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2")
        if hasattr(torch, name)
    ),
}


def sendable(tensor: torch.Tensor) -> torch.Tensor:
    """A plain, dense, contiguous tensor that safetensors can write; dtypes it lacks are widened (the summary
    keeps the real dtype name)."""
    value = tensor.detach()
    if type(value) is not torch.Tensor:
        value = value.as_subclass(torch.Tensor)
    if value.layout != torch.strided:
        value = value.to_dense()
    if value.dtype not in _SAFETENSORS_DTYPES:
        value = value.to(torch.complex64 if value.is_complex() else torch.float32)
    return value.contiguous()


def _tensor_summary(value: Any) -> dict[str, Any]:
    if isinstance(value, torch.Tensor):
        return {"shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")}
    return {"type": type_name(value)}


def _built_cases(
    spec: dict[str, Any], namespace: dict[str, Any], entry_point: str | None, results: list[dict[str, Any]]
) -> Iterator[tuple[int, dict[str, Any], Any]]:
    """Each case of a check with the object it builds; a case whose construction raises is recorded in
    `results` as a construct_error and skipped."""
    function = bool(spec.get("function"))
    seed = spec.get("seed", 0)
    for case_index, case in enumerate(spec["cases"]):
        module, error = _run_guarded(
            lambda case=case, index=case_index: build(
                case, namespace, entry_point, fast=True, function=function, seed=seed, case_index=index
            ),
            None,
        )
        if error is not None:
            results.append({"case": case_index, "construct_error": error})
            continue
        yield case_index, case, module


def probe_outputs(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    """For each case, mode and input: the output tensor (sent as data), or the exception.

    A second train-mode run of the first case's first input, under another random state, says whether forward
    is random. With `observe` (the reference always; an answer when its outputs differ), the first input of each
    case in its first mode is also *observed*, so the grader can say where an output goes wrong: a sample of
    each leaf module's output in execution order (with the answer's line that called it), registered modules
    that never ran, the ops forward ran and which made the result.

    Each case runs under one pairing of its same-shaped layers, fixed before it runs: discovery's own, or the
    ranks the host gives by module path (`ranks`, only ever in a reference's job: the role search runs the
    reference under other pairings, never the answer; see quizapp/grading/roles.py)."""
    seed = spec.get("seed", 0)
    observe = bool(spec.get("observe"))
    modes = spec.get("modes", ["train", "eval"])
    ranks: dict[str, dict[str, list[int]]] = {}  # case -> tied module path -> [group, rank] of its values
    results: list[dict[str, Any]] = []
    unregistered: dict[str, list[dict[str, Any]]] = {}
    parameters: dict[str, list[dict[str, Any]]] = {}
    for case_index, case, module in _built_cases(spec, namespace, entry_point, results):
        if isinstance(module, nn.Module) and (held := _unregistered(module)):
            unregistered[str(case_index)] = held  # canonical init cannot reach these: say so with any difference
        if isinstance(module, nn.Module):
            parameters[str(case_index)] = _parameter_list(module)
        calls = case_calls(case)
        _stop_point()
        plan = case_plan(module, spec, case, case_index, ranks)
        for mode in modes:
            for call_index, call in enumerate(calls):
                _stop_point()
                key = f"{prefix}{case_index}/{mode}/{call_index}"
                entry: dict[str, Any] = {"case": case_index, "mode": mode, "input": call_index}
                if isinstance(module, nn.Module):
                    apply_plan(plan)
                    set_training(module, mode == "train")
                arguments = Arguments(call, seed, case_index, call_index)
                observed = observe and call_index == 0 and mode == modes[0]
                with torch.no_grad():
                    if observed:
                        output, error = _observed_run(module, arguments, key, entry, tensors)
                    else:
                        output, error = _run_guarded(lambda a=arguments, m=module: a.call(m), module)
                if error is not None:
                    entry["error"] = error
                else:
                    _output_facts(output, key, entry, tensors)
                    if call_index == 0 and mode == "train" and isinstance(module, nn.Module):
                        if state := _running_statistics(module, plan, key, tensors):
                            entry["state"] = state
                    if case_index == 0 and call_index == 0 and mode == "train" and _has_tensors(entry):
                        _stop_point()
                        entry["random"] = _is_random(module, arguments, output, seed, plan)
                results.append(entry)
    facts = {"results": results, "unregistered": unregistered, "parameters": parameters}
    return {**facts, "ranks": ranks} if ranks else facts


MAX_STATE_BUFFERS = 64  # what the host accepts (grading/facts.py MAX_STATE_BUFFERS)
MAX_STATE_ELEMENTS = 1 << 16


def _running_statistics(
    module: nn.Module, plan: Plan, key: str, tensors: dict[str, torch.Tensor]
) -> list[dict[str, Any]]:
    """The running statistics a training-mode forward left (the state buffers the plan set before it, named
    `running_*`, as torch's norm layers and most hand-written ones name them), each sent as a tensor: the
    host compares them with the reference's, so a momentum or a variance's bias correction that differs is
    seen although the outputs agree (each run starts from the plan's values)."""
    found: list[dict[str, Any]] = []
    paths: dict[int, str] | None = None
    for owner, name, is_parameter, *_ in plan:
        if is_parameter or not str(name).startswith("running_") or len(found) >= MAX_STATE_BUFFERS:
            continue
        tensor = owner._buffers.get(name)
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            continue
        if tensor.numel() > MAX_STATE_ELEMENTS:
            continue
        if paths is None:
            paths = {id(sub): path for path, sub in _walk(module)}
        where = paths.get(id(owner), "?")
        tensor_key = f"{key}/s{len(found)}"
        tensors[tensor_key] = sendable(tensor.detach().clone())
        found.append(
            {
                "path": f"{where}.{name}" if where else str(name),
                "shape": list(tensor.shape),
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "tensor": tensor_key,
            }
        )
    return found


def _parameter_list(module: nn.Module) -> list[dict[str, Any]]:
    return [
        {"path": path, "shape": list(p.shape), "count": p.numel()}
        for path, p in list(module.named_parameters())[:2000]
        if p.requires_grad and not _is_lazy(p)
    ]


MAX_OBSERVED_MODULES = 64
OBSERVED_SAMPLES = 256  # values of each module's output, evenly spaced: enough to tell where outputs part


def _observed_run(
    module: Any, arguments: Arguments, key: str, entry: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> tuple[Any, dict[str, Any] | None]:
    """One forward with its leaf modules' outputs recorded and its ops traced (see probe_outputs)."""
    seen: list[dict[str, Any]] = []
    ran: set[int] = set()
    handles = []
    if isinstance(module, nn.Module):
        names = {id(m): name for name, m in module.named_modules()}
        leaves = [m for m in module.modules() if not any(True for _ in m.children()) and m is not module]

        def record(sub: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            ran.add(id(sub))
            if len(seen) >= MAX_OBSERVED_MODULES:
                return
            fact: dict[str, Any] = {
                "path": names.get(id(sub), "?"),
                "type": type_name(sub),
                "repr": _short_repr(sub),
            }
            line = _answer_line()
            if line is not None:
                fact["line"] = line
            if isinstance(output, torch.Tensor):
                with torch._C.DisableTorchFunction():  # our sample is not an op of the answer's
                    if output.is_floating_point():
                        name = f"{key}/m{len(seen)}"
                        tensors[name] = sendable(_sampled(output))
                        fact["tensor"] = name
                        fact["shape"] = list(output.shape)
            seen.append(fact)

        for leaf in leaves:
            handles.append(leaf.register_forward_hook(record))
        entry["buffers"] = _constant_buffers(module, key, tensors)
    tracer = _Tracer([tensor for _, tensor, _ in arguments.tensors])
    tracer.watch_constants(
        {id(b) for m in leaves for b in m.buffers(recurse=False) if type(m).__module__.startswith("torch.")}
        if isinstance(module, nn.Module)
        else set()
    )

    def traced() -> Any:
        with tracer:
            return arguments.call(module)

    try:
        output, error = _run_guarded(traced, module)
    finally:
        for handle in handles:
            handle.remove()
    entry["modules"] = seen
    # Only the ops on what flows from the input: a constant (a RoPE or sinusoidal table, a mask) can be made in
    # __init__ or in forward, so the ops that make it say nothing about the answer's maths.
    on_input = [op for op in tracer.ops if op["from_input"]]
    if tracer.constants:
        entry["constants"] = _sampled_constants(tracer.constants, key, tensors)
    entry["ops"] = _op_counts(on_input)
    dims = _op_dims(on_input)
    if dims:
        entry["dims"] = dims
    if isinstance(module, nn.Module):
        entry["idle"] = [
            names[id(m)]
            for m in leaves
            if id(m) not in ran and _own_parameters(m) and not any(id(p) in tracer.operands for p in _own_parameters(m))
        ][:20]
    if error is None:
        entry.update(_result_facts(output, arguments, tracer))
    return output, error


def _sample_index(numel: int) -> torch.Tensor:
    """Where an observed module's output is sampled: OBSERVED_SAMPLES positions evenly spaced (made once per size)."""
    index = _SAMPLE_INDEX.get(numel)
    if index is None:
        index = torch.linspace(0, max(numel - 1, 0), min(numel, OBSERVED_SAMPLES)).long()
        if len(_SAMPLE_INDEX) < 1024:
            _SAMPLE_INDEX[numel] = index
    return index


_SAMPLE_INDEX: dict[int, torch.Tensor] = {}


def _sampled(tensor: torch.Tensor) -> torch.Tensor:
    """A tensor's values at _sample_index's positions, as float32: what an observed run reports of a module's
    output, a buffer or a constant. Call with torch functions disabled (our sample is not an op of the answer's)."""
    flat = tensor.detach().reshape(-1)
    return torch.index_select(flat, 0, _sample_index(flat.numel())).float()  # a copy (9 us as flat[index].clone())


MAX_OBSERVED_BUFFERS = 16
MAX_OBSERVED_CONSTANTS = 16


def _sampled_constants(
    constants: list[tuple[torch.Tensor, list[int], str, int | None]], key: str, tensors: dict[str, torch.Tensor]
) -> list[dict[str, Any]]:
    """The constants a forward combined with its input (_Tracer.watch_constants), filed as tensors, with the
    answer's line where each met the input."""
    found: list[dict[str, Any]] = []
    for sample, shape, dtype, line in constants:
        name = f"{key}/c{len(found)}"
        tensors[name] = sendable(sample)
        fact: dict[str, Any] = {"shape": shape, "dtype": dtype, "tensor": name}
        if line is not None:
            fact["line"] = line
        found.append(fact)
    return found


def _constant_buffers(module: nn.Module, key: str, tensors: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    """The buffers the answer's own classes hold before forward runs (a mask, a frequency table, a positional
    encoding), sampled as module outputs are, so the host can name a constant that differs from the reference's.
    torch's own modules' buffers (running statistics, set canonically) are left out."""
    found: list[dict[str, Any]] = []
    for path, sub in module.named_modules():
        if type(sub).__module__.startswith("torch."):
            continue
        for name, buffer in _own_named_buffers(sub):
            if len(found) >= MAX_OBSERVED_BUFFERS:
                return found
            if not isinstance(buffer, torch.Tensor) or buffer.is_complex() or _is_lazy(buffer):
                continue
            tensor_name = f"{key}/b{len(found)}"
            with torch._C.DisableTorchFunction():  # our sample is not an op of the answer's
                tensors[tensor_name] = sendable(_sampled(buffer))
            found.append(
                {
                    "path": f"{path}.{name}" if path else name,
                    "shape": list(buffer.shape),
                    "dtype": str(buffer.dtype).removeprefix("torch."),
                    "tensor": tensor_name,
                }
            )
    return found


def _result_facts(output: Any, arguments: Arguments, tracer: _Tracer) -> dict[str, Any]:
    """Which op made the result (the first tensor element of a tuple's), and whether it is an input itself."""
    result = output
    if not isinstance(output, torch.Tensor):
        parts = output_parts(output) or []
        result = next((value for _, value in parts if isinstance(value, torch.Tensor)), None)
    if not isinstance(result, torch.Tensor):
        return {}
    return {
        "last": tracer.producer_of(result),
        "returns_input": any(result is tensor for _, tensor, _ in arguments.tensors),
    }


def _op_dims(ops: list[dict[str, Any]]) -> dict[str, list[int]]:
    """The dims, from the end, that each op of _DIM_OPS ran over, in order (at most 20 per op)."""
    dims: dict[str, list[int]] = {}
    for op in ops:
        if op.get("dim") is not None and len(dims.setdefault(op["op"], [])) < 20:
            dims[op["op"]].append(op["dim"])
    return dims


def _op_counts(ops: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in ops:
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return dict(list(counts.items())[:200])


def _answer_line() -> int | None:
    """The line of answer.py whose call is running now (the innermost frame of the learner's file)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == ANSWER_FILE:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _is_random(module: Any, arguments: Arguments, output: Any, seed: int, plan: Plan) -> bool:
    """Whether a second train-mode run under another random state gives another output."""
    state = torch.random.get_rng_state()
    try:
        # the CPU generator, which get/set_rng_state save and restore (torch.manual_seed also queues each
        # absent accelerator's seeding with a stack trace: 1 ms of every job)
        torch.default_generator.manual_seed(_stable_seed(seed, "second run"))
        apply_plan(plan)
        with torch.no_grad():
            again, error = _run_guarded(lambda: arguments.call(module), module)
    finally:
        torch.random.set_rng_state(state)
    if error is not None:
        return False
    first = [output] if isinstance(output, torch.Tensor) else [v for _, v in output_parts(output) or []]
    second = [again] if isinstance(again, torch.Tensor) else [v for _, v in output_parts(again) or []]
    if len(first) != len(second):
        return True
    for a, b in zip(first, second, strict=True):
        if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor):
            return True
        if isinstance(a, torch.Tensor) and not _identical(a, b):
            return True
    return False


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same values, NaN where NaN (a fully masked attention row is NaN in every run)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0))) and bool(
            torch.equal(a.isnan(), b.isnan())
        )
    return bool(torch.equal(a, b))


def _has_tensors(entry: dict[str, Any]) -> bool:
    return "shape" in entry["output"] or any("tensor" in element for element in entry.get("elements", []))


def probe_gradients(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    """Gradients of sum(output * w), w a fixed random tensor, with respect to the input and the parameters.

    Parameters are identified by (module type, local name, shape), the same key as canonical
    initialisation, so the grader can pair them with the reference's whatever the attribute names.
    """
    seed = spec.get("seed", 0)
    wrt = spec.get("wrt", ["input", "parameters"])
    ranks: dict[str, dict[str, list[int]]] = {}  # case -> tied module path -> [group, rank] of its values
    results: list[dict[str, Any]] = []
    for case_index, case, module in _built_cases(spec, namespace, entry_point, results):
        calls = case_calls(case)
        plan = case_plan(module, spec, case, case_index, ranks)
        for mode in spec.get("modes", ["train"]):
            for call_index, call in enumerate(calls):
                key = f"{prefix}{case_index}/{mode}/{call_index}"
                entry: dict[str, Any] = {"case": case_index, "mode": mode, "input": call_index}
                if isinstance(module, nn.Module):
                    apply_plan(plan)
                    set_training(module, mode == "train")
                    module.zero_grad(set_to_none=True)
                arguments = Arguments(call, seed, case_index, call_index)
                for _, tensor, tensor_spec in arguments.tensors:
                    tensor.requires_grad_(tensor_spec.get("requires_grad", True) and tensor.is_floating_point())

                spy = _DetachSpy()

                def backward(
                    arguments: Arguments = arguments, module: Any = module, case_index: int = case_index, spy: Any = spy
                ) -> Any:
                    with spy:
                        output = arguments.call(module)
                    total = _projection(output, seed, case_index)
                    # An output cut from the graph (`return out.detach()`) is not the learner's crash: nothing
                    # reaches the inputs or the parameters, and the host says so against the reference.
                    if total is not None and total.requires_grad:
                        total.backward()
                    return output

                output, error = _run_guarded(backward, module)
                if error is not None:
                    entry["error"] = error
                    results.append(entry)
                    continue
                entry["output"] = _tensor_summary(output)
                entry["detached"] = spy.detached
                if "input" in wrt:
                    _input_grads(arguments, key, entry, tensors)
                if "parameters" in wrt:  # a function (a `build` lambda) has no parameters: an empty list
                    is_module = isinstance(module, nn.Module)
                    entry["parameters"] = _parameter_grads(module, key, tensors) if is_module else []
                results.append(entry)
    return {"results": results, "ranks": ranks} if ranks else {"results": results}


def _projection(output: Any, seed: int, case_index: int) -> torch.Tensor | None:
    """sum(output * w), w a fixed random tensor; for a tuple, list or dict, the sum over its floating tensor
    elements that are part of the graph, each with its own w. None when nothing carries a gradient."""
    parts = output_parts(output)
    if parts is None:  # a tensor, or what format 1 took for one (a float raises as it always did)
        generator = torch.Generator().manual_seed(_stable_seed(seed, "projection", case_index))
        weights = torch.randn(output.shape, generator=generator, dtype=torch.float64).to(output.dtype)
        return (output * weights).sum()
    total = None
    for path, value in parts:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or not value.requires_grad:
            continue
        generator = torch.Generator().manual_seed(_stable_seed(seed, "projection", case_index, path))
        weights = torch.randn(value.shape, generator=generator, dtype=torch.float64).to(value.dtype)
        term = (value * weights).sum().double()
        total = term if total is None else total + term
    return total


def _input_grads(arguments: Arguments, key: str, entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """The first tensor argument's gradient as `input_grad` (as in format 1); every other floating tensor
    argument that requires grad in `input_grads`, by position or keyword."""
    first = arguments.first
    if first is None or first.grad is None:
        entry["input_grad"] = None
    else:
        tensors[f"{key}/input"] = sendable(first.grad)
        entry["input_grad"] = f"{key}/input"
    others: dict[str, str | None] = {}
    for name, tensor, _ in arguments.tensors[1:]:
        if not tensor.requires_grad:
            continue
        if tensor.grad is None:
            others[name] = None
        else:
            tensors[f"{key}/input/{name}"] = sendable(tensor.grad)
            others[name] = f"{key}/input/{name}"
    if others:
        entry["input_grads"] = others


class _DetachSpy(TorchFunctionMode):
    """Notes whether forward detached a tensor from the graph (detach(), detach_(), .data is not seen)."""

    def __init__(self) -> None:
        super().__init__()
        self.detached = False

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if getattr(func, "__name__", "") in ("detach", "detach_"):
            self.detached = True
        return func(*args, **(kwargs or {}))


def _parameter_grads(module: nn.Module, key: str, tensors: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    grads: list[dict[str, Any]] = []
    seen: set[int] = set()
    for path, sub in module.named_modules():
        for name, parameter in _own_named_parameters(sub):
            if id(parameter) in seen or not parameter.requires_grad:
                continue
            seen.add(id(parameter))
            role = f"{type(sub).__name__}.{name}"
            entry = {"role": role, "path": f"{path}.{name}" if path else name, "shape": list(parameter.shape)}
            if parameter.grad is not None:
                tensor_key = f"{key}/param{len(grads)}"
                tensors[tensor_key] = sendable(parameter.grad)
                entry["grad"] = tensor_key
            else:
                entry["grad"] = None
            grads.append(entry)
    return grads


def probe_structure(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    """For each case: module type counts, trainable parameter count, modules held outside registration."""
    results: list[dict[str, Any]] = []
    for case_index, _case, module in _built_cases(spec, namespace, entry_point, results):
        if not isinstance(module, nn.Module):
            results.append({"case": case_index, "not_a_module": type_name(module)})
            continue
        counts: dict[str, int] = {}
        for sub in module.modules():
            key = _type_key(type(sub))
            counts[key] = counts.get(key, 0) + 1
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad and not _is_lazy(p))
        results.append(
            {
                "case": case_index,
                "modules": counts,
                "param_count": trainable,
                "parameters": _parameter_list(module),
                "shared": _shared(module),
                "state_dict": [str(name) for name in module.state_dict()][:10_000],
                "unregistered": _unregistered(module),
                "tree": [
                    {"path": path or "(root)", "type": _short_repr(sub)}
                    for path, sub in list(module.named_modules())[:60]
                ],
            }
        )
    return {"results": results}


def _type_key(cls: type) -> str:
    """The name a structure check counts a module under: its class's name, except that a class of the answer's
    own named like one of torch.nn's (a `BatchNorm2d` of its own that normalises nothing) is not counted as
    torch's: it is counted as "<name> (the answer's own class)". A subclass of torch's class counts as it."""
    name = str(cls.__name__)[:200]
    torch_class = vars(nn).get(name)
    if isinstance(torch_class, type) and issubclass(torch_class, nn.Module):
        try:
            if not issubclass(cls, torch_class):
                return f"{name} (the answer's own class)"
        except Exception:  # a metaclass of the answer's that refuses the question
            return f"{name} (the answer's own class)"
    return str(name)


def _shared(root: nn.Module) -> list[dict[str, str]]:
    """Modules with parameters registered under more than one name: one set of weights used as several."""
    first: dict[int, str] = {}
    shared: list[dict[str, str]] = []
    for path, sub in root.named_modules(remove_duplicate=False):
        if not _own_parameters(sub):
            continue
        if id(sub) in first:
            shared.append({"path": path, "same_as": first[id(sub)]})
        else:
            first[id(sub)] = path
    return shared[:50]


def _held_outside(
    root: nn.Module, walked: list[tuple[str, nn.Module]] | None = None
) -> list[tuple[str, str, list[nn.Module]]]:
    """(attribute path, container type, modules) for modules kept in plain lists, tuples, sets or dicts and
    not also registered (by assignment, add_module or a ModuleList elsewhere in the tree). `walked`: the
    tree's _walk, when the caller has it already."""
    walked = walked if walked is not None else _walk(root)
    registered = {id(m) for _, m in walked}
    found = []
    for path, module in walked:
        for name, value in vars(module).items():
            if name.startswith("_") or not isinstance(value, list | tuple | dict | set):
                continue
            items = value.values() if isinstance(value, dict) else value
            held = [item for item in items if isinstance(item, nn.Module) and id(item) not in registered]
            if held:
                found.append((f"{path}.{name}" if path else name, type_name(value), held))
    return found


def _walk(root: nn.Module) -> list[tuple[str, nn.Module]]:
    """root.named_modules() as a list, walked here when every module leaves named_modules, __hash__ and __eq__
    to nn.Module (torch's generator recurses through a call per module: a job walks trees often)."""
    found: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()
    stack: list[tuple[str, nn.Module]] = [("", root)]
    while stack:
        path, module = stack.pop()
        kind = type(module)
        if kind.named_modules is not _NAMED_MODULES or kind.__hash__ is not _HASH or kind.__eq__ is not _EQ:
            return list(root.named_modules())
        if id(module) in seen:
            continue
        seen.add(id(module))
        found.append((path, module))
        children = [
            (f"{path}.{name}" if path else name, child) for name, child in module._modules.items() if child is not None
        ]
        stack.extend(reversed(children))
    return found


_NAMED_MODULES, _HASH, _EQ = nn.Module.named_modules, nn.Module.__hash__, nn.Module.__eq__


def _unregistered(root: nn.Module) -> list[dict[str, Any]]:
    """Modules kept outside registration: invisible to parameters(), to() and state_dict()."""
    return [
        {"attribute": where, "container": container, "modules": [type_name(m) for m in held][:20]}
        for where, container, held in _held_outside(root)
    ]


# --- canonical initialisation by role ------------------------------------------------------------------------
#
# Learner and reference get the same values for the same role, whatever the names and registration order.
# A parameter's role is (the shapes of its module's parameters, its module's rank among the modules of those
# shapes, its index in the module). Ranks follow, in order: the ops that led *upstream* to the module's first
# use (so a defect further on leaves the roles before it alone, and the first layer that differs is the right
# one to name), then what happens to its output *downstream* (the joins it flows into on its way to forward's
# result, with the operand position: q, k and v come alike from the input, but q enters `q @ k^T` first, k
# second, v enters `weights @ v` second), then the time of first use, then registration order. Where that
# ordering still differs from the reference's (a real tie, or the same maths written with other joins), the host
# searches on the trusted side (quizapp/grading/roles.py): the answer runs once, under discovery's own pairing,
# and the *reference* runs under a bounded set of other pairings (`probe_roles`, then `case_plan` with ranks by
# module path); nothing of the reference enters the answer's jail, and the answer never runs under a choice.
#
# Buffers: the ones a train-mode forward changes are state that training sets (BatchNorm's running statistics):
# they are set from (module type, local name, shape) like a parameter without a role. Every other buffer is a
# constant the module computed in __init__ (RoPE's inv_freq, a causal mask, a sinusoidal table): it keeps its
# value, which is part of the answer.

Roles = dict[int, tuple[Any, ...]]
PlanEntry = tuple[nn.Module, str, bool, int, float, float]  # (owner, local name, is a parameter, seed, low, high)
Plan = list[PlanEntry]
MAX_ROLE_ASSIGNMENTS = 24  # assignments the host may ask for, the first being discovery's own
_ALL_PERMUTATIONS_UP_TO = 5  # larger groups try single swaps only


def initialise(module: Any, seed: int, roles: Roles | None = None, state: set[int] | None = None) -> None:
    """Canonical initialisation of the module and of any module it keeps outside registration, so every value
    is defined by the seed (default initialisation is skipped while building: nothing else would set them).

    With `roles` (from discover_roles), each parameter's values come from its role instead of its module's
    type and name. `state` holds the ids of the buffers to set (the state buffers discover finds); None sets
    every float buffer."""
    apply_plan(init_plan(module, seed, roles, state))


def init_plan(module: Any, seed: int, roles: Roles | None = None, state: set[int] | None = None) -> Plan:
    """What initialise does, worked out once per built object: (owner, name, is a parameter, seed, low, high).

    Entries name the tensor by its owner and local name, so a buffer that forward reassigns
    (`self.running_mean = ...`) is still the one set before the next run."""
    return _plan_from(_plan_slots(module, state), seed, roles or {})


# (owner, local name, index among the owner's parameters then buffers, is a parameter, the tensor)
_Slot = tuple[nn.Module, str, int, bool, torch.Tensor]


def _plan_slots(module: Any, state: set[int] | None, modules: list[nn.Module] | None = None) -> list[_Slot]:
    """The tensors a plan sets, found once per built object (the role search plans many assignments).
    `modules`: the object's _every_module, when the caller has walked it already."""
    if not isinstance(module, nn.Module):
        return []
    slots: list[_Slot] = []
    for sub in modules if modules is not None else _every_module(module):
        parameters = _by_shape(_own_named_parameters(sub), lambda item: item[1])
        buffers = [(n, b) for n, b in _own_named_buffers(sub) if state is None or id(b) in state]
        for index, (name, tensor) in enumerate([*parameters, *buffers]):
            if tensor is None or not tensor.is_floating_point() or _is_lazy(tensor):
                continue
            slots.append((sub, name, index, index < len(parameters), tensor))
    return slots


def _state_slots(slots: list[_Slot], state: set[int] | None) -> list[_Slot]:
    """The slots a plan sets: every parameter, and the buffers in `state` (every float buffer for None)."""
    return [slot for slot in slots if slot[3] or state is None or id(slot[4]) in state]


def _plan_from(slots: list[_Slot], seed: int, roles: Roles) -> Plan:
    plan: Plan = []
    for owner, name, index, is_parameter, tensor in slots:
        role = roles.get(id(tensor)) if is_parameter else None
        if role is not None:
            signature, rank, scale_like = role
            tensor_seed = _stable_seed(seed, "role", signature, rank, index)
        else:
            tensor_seed = _stable_seed(seed, type(owner).__name__, name, tuple(tensor.shape))
            # running variances stay positive; norm layers' scales sit around one
            scale_like = "var" in name or (tensor.dim() <= 1 and name == "weight")
        if scale_like:
            low, high = 0.5, 1.5
        else:
            fan_in = math.prod(tensor.shape[1:]) if tensor.dim() > 1 else max(tensor.numel(), 1)
            high = 1 / math.sqrt(fan_in)
            low = -high
        plan.append((owner, name, is_parameter, tensor_seed, low, high))
    return plan


def apply_plan(plan: Plan, draft: bool = False) -> None:
    """Give each tensor of the plan its canonical values. A job applies the same plans over and over (before
    every run of every case: a ResNet job about 200 tensors); seeding a generator and drawing the values cost
    about 35 us a tensor, a copy of the values drawn the first time about 2 us, and the values are the same
    (a function of the seed, bounds, dtype and shape), so the first draw of a contiguous tensor is kept.

    `draft`: values only for a run whose outputs are never compared (role discovery's, which looks at the ops
    forward runs and the buffers it changes). A tensor too large to keep (over MAX_DRAWN_ELEMENTS: a
    51-million-parameter Linear takes 0.25 s to draw, 5 ns a value) gets its first DRAFT_PERIOD values
    drawn and repeated, one copy over its memory, still a function of the plan alone; the others are drawn
    as always, since the same values serve the runs that follow."""
    generator = None
    with torch.no_grad():
        for owner, name, is_parameter, tensor_seed, low, high in plan:
            tensor = (owner._parameters if is_parameter else owner._buffers).get(name)
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or _is_lazy(tensor):
                continue
            if draft and tensor.numel() > MAX_DRAWN_ELEMENTS and tensor.is_contiguous():
                generator = generator or torch.Generator()
                _tiled_fill(tensor, low, high, generator.manual_seed(tensor_seed))
                continue
            key = (tensor_seed, low, high, tensor.dtype, tuple(tensor.shape))
            contiguous = tensor.is_contiguous()
            drawn = _DRAWN.get(key) if contiguous else None
            if drawn is not None:
                tensor.copy_(drawn)
                continue
            generator = generator or torch.Generator()
            tensor.uniform_(low, high, generator=generator.manual_seed(tensor_seed))
            if contiguous and _DRAWN_ELEMENTS[0] + tensor.numel() <= MAX_DRAWN_ELEMENTS:
                _DRAWN[key] = torch.Tensor.clone(tensor.detach())
                _DRAWN_ELEMENTS[0] += tensor.numel()


DRAFT_PERIOD = 1 << 16


def _tiled_fill(tensor: torch.Tensor, low: float, high: float, generator: torch.Generator) -> None:
    """Fill a contiguous tensor with DRAFT_PERIOD values drawn from `generator`, repeated."""
    flat = tensor.view(-1)
    period = min(DRAFT_PERIOD, flat.numel())
    block = torch.empty(period, dtype=tensor.dtype).uniform_(low, high, generator=generator)
    whole = flat.numel() // period
    flat[: whole * period].view(whole, period).copy_(block.expand(whole, period))
    flat[whole * period :].copy_(block[: flat.numel() - whole * period])


# Canonical values drawn so far (apply_plan), by (seed, low, high, dtype, shape): at most 16 MB of float32 in a
# job, so that keeping them never costs an answer its memory allowance.
MAX_DRAWN_ELEMENTS = 1 << 22
_DRAWN: dict[tuple[Any, ...], torch.Tensor] = {}
_DRAWN_ELEMENTS = [0]


def _by_shape(items: list[Any], tensor_of: Callable[[Any], torch.Tensor]) -> list[Any]:
    """A module's own parameters in a canonical order: by shape, then as registered. Canonical values and roles
    follow it, so a module that registers `bias` before `weight` gets the values of one that does not; only
    parameters of one shape keep the order the class gives them."""
    return sorted(items, key=lambda item: tuple(tensor_of(item).shape) if tensor_of(item) is not None else ())


def _own_named_parameters(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """module.named_parameters(recurse=False), read straight from the module's table unless its class lists
    them its own way: torch's generic walk costs ten times as much, and the role machinery asks for them often."""
    if type(module).named_parameters is not _NAMED_PARAMETERS:
        return list(module.named_parameters(recurse=False))
    return _unique(module._parameters.items())


def _own_parameters(module: nn.Module) -> list[torch.Tensor]:
    """module.parameters(recurse=False), as _own_named_parameters reads them."""
    if type(module).parameters is not _PARAMETERS:
        return list(module.parameters(recurse=False))
    return [parameter for _, parameter in _own_named_parameters(module)]


def _own_named_buffers(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """module.named_buffers(recurse=False), as _own_named_parameters reads parameters."""
    if type(module).named_buffers is not _NAMED_BUFFERS:
        return list(module.named_buffers(recurse=False))
    return _unique(module._buffers.items())


def _unique(items: Any) -> list[tuple[str, torch.Tensor]]:
    """What torch's walk yields from a module's own table: each tensor once, under its first name, None left out."""
    seen: set[int] = set()
    found = []
    for name, tensor in items:
        if tensor is not None and id(tensor) not in seen:
            seen.add(id(tensor))
            found.append((name, tensor))
    return found


_NAMED_PARAMETERS, _PARAMETERS, _NAMED_BUFFERS = (
    nn.Module.named_parameters,
    nn.Module.parameters,
    nn.Module.named_buffers,
)


def _every_module(module: nn.Module) -> list[nn.Module]:
    """Every module of the tree, registered or kept in plain containers, each once (registered first)."""
    seen: set[int] = set()
    walked = _walk(module)  # module.modules(), with the paths _held_outside needs: the tree is walked once
    extra = [sub for _, _, held in _held_outside(module, walked) for top in held for sub in top.modules()]
    found = []
    for sub in [*(sub for _, sub in walked), *extra]:
        if id(sub) not in seen:
            seen.add(id(sub))
            found.append(sub)
    return found


def _units(module: nn.Module, modules: list[nn.Module] | None = None) -> list[nn.Module]:
    """The modules that hold parameters directly, registered or kept in plain containers, each once."""
    walked = modules if modules is not None else _every_module(module)
    return [sub for sub in walked if _own_parameters(sub)]


def _float_buffers(
    module: nn.Module, modules: list[nn.Module] | None = None
) -> list[tuple[nn.Module, str, torch.Tensor]]:
    found = []
    for sub in modules if modules is not None else _every_module(module):
        for name, tensor in _own_named_buffers(sub):
            if tensor is not None and tensor.is_floating_point() and not _is_lazy(tensor):
                found.append((sub, name, tensor))
    return found


_COMPARED_BUFFER = 1 << 20  # elements


def _train_forward(
    module: nn.Module,
    call: Callable[[], Any],
    buffers: list[tuple[nn.Module, str, torch.Tensor]],
    tracer: TorchFunctionMode | None,
) -> tuple[Any, dict[str, Any] | None, set[int] | None]:
    """One train-mode forward made by `call`, under `tracer` if any: (result, error, the ids of the float
    `buffers` it changed, None when it raised). Nothing of it stays: the module's mode and the random state are
    put back (a dropout here must not shift the probes' own random draws)."""
    # BatchNorm's kernel updates its running statistics without bumping their version counter: compare values
    # too, for buffers of a size worth copying (a larger one that changes is seen by its version or identity).
    before = [
        (owner, name, tensor, tensor._version, tensor.clone() if tensor.numel() <= _COMPARED_BUFFER else None)
        for owner, name, tensor in buffers
    ]

    def traced() -> Any:
        with tracer if tracer is not None else contextlib.nullcontext():
            return call()

    training = module.training
    random_state = torch.random.get_rng_state()
    try:
        set_training(module, True)
        with torch.no_grad():
            result, error = _run_guarded(traced, None)  # only whether it raised matters here
    finally:
        set_training(module, training)
        torch.random.set_rng_state(random_state)
    if error is not None:
        return None, error, None
    state: set[int] = set()
    for owner, name, tensor, version, saved in before:
        now = owner._buffers.get(name)
        if now is not tensor or tensor._version != version or (saved is not None and not torch.equal(saved, tensor)):
            state.add(id(tensor))
            if isinstance(now, torch.Tensor):
                state.add(id(now))
    return result, None, state


_TRANSPARENT = {"view", "reshape", "flatten", "contiguous", "clone", "squeeze", "unsqueeze", "to", "type", "float"}
_COMMUTATIVE = {"add", "mul", "maximum", "minimum"}
_MATMUL = {"matmul", "bmm", "mm", "einsum"}


class _RoleTracer(TorchFunctionMode):
    """Records forward as a graph for role discovery.

    Upstream, every tensor gets a *lineage*: a hash of the ops and operands that produced it, with parameters
    known only by their shape. Downstream, every op whose result depends on two or more values that are not
    constants (a *join*: matmul, linear with its weight, add, cat, ...) is an edge from each such operand, with
    the operand's position; `downstream` then gives each parameter the set of joins on its way to the result.
    Constants are buffers and what forward builds from nothing (a mask from torch.ones); anything else that
    forward did not make (the call's inputs, whatever their number) is a value."""

    def __init__(self, parameters: dict[int, torch.Tensor], constants: set[int]):
        super().__init__()
        self.parameters = parameters
        self.constants = set(constants)
        self.lineage: dict[int, str] = {}
        self.node: dict[int, int] = {}  # id(tensor) -> its current node (an in-place op makes a new one)
        self.edges: list[list[tuple[str, int, int, bool]]] = []  # node -> (op, position, result node, is a join)
        self.param_node: dict[int, int] = {}
        self.keep: list[torch.Tensor] = []  # ids stay unique while the graph is in use
        self.first_use: dict[int, tuple[str, int]] = {}
        self.time = 0

    def _lineage(self, tensor: torch.Tensor) -> str:
        if id(tensor) in self.parameters:
            return f"param{tuple(tensor.shape)}"
        return self.lineage.get(id(tensor)) or "const"  # not its shape: a table broadcast as (1, T, D) or (T, D)

    def _node_of(self, tensor: torch.Tensor) -> int | None:
        """The node of a value, made on first sight for parameters and inputs; None for a constant."""
        key = id(tensor)
        if key in self.node:
            return self.node[key]
        if key in self.constants:
            return None
        self.node[key] = len(self.edges)
        self.edges.append([])
        self.keep.append(tensor)
        if key in self.parameters:
            self.param_node[key] = self.node[key]
        else:
            self.lineage[key] = "input"
        return self.node[key]

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if _warm_up_stop is not None:  # a chain warming up stops at the next op when its job arrives
            _stop_point()
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = normalise_op(func)
        if name is None:
            return result
        operands = _tensors_in(args, kwargs)
        outputs = _tensors_in((result,))
        if not outputs:
            return result
        if name in ("clamp", "clamp_min") and _clamps_at_zero(args, kwargs):
            name = "relu"
        if name in _MATMUL:
            name = "matmul"
        values = [(position, self._node_of(a)) for position, a in enumerate(operands)]
        values = [(position, node) for position, node in values if node is not None]
        if not values:  # built from constants only (or from nothing): a constant
            for out in outputs:
                self.node.pop(id(out), None)
                self.constants.add(id(out))
                self.keep.append(out)
            return result
        if name in _TRANSPARENT:
            key = self._lineage(operands[0])
        else:
            parts = [self._lineage(a) for a in operands]
            if name in _COMMUTATIVE:
                parts.sort()
            key = zlib.crc32(f"{name}({','.join(parts)})".encode()).to_bytes(4, "big").hex()
        for operand in operands:
            if id(operand) in self.parameters and id(operand) not in self.first_use:
                self.first_use[id(operand)] = (key, self.time)
        self.time += 1
        join = len(values) >= 2
        made = []
        for out in outputs:
            self.constants.discard(id(out))
            self.node[id(out)] = len(self.edges)
            made.append(len(self.edges))
            self.edges.append([])
            self.keep.append(out)
            self.lineage[id(out)] = key
        for position, node in values:
            for out_node in made:
                self.edges[node].append((name, 0 if name in _COMMUTATIVE else position, out_node, join))
        return result

    def downstream(self, result: Any) -> dict[int, int]:
        """Each parameter's downstream signature (a hash): the joins on the way from it to forward's result."""
        ends = {self.node[id(t)] for t in _tensors_in((result,)) if id(t) in self.node}
        signature: list[frozenset[Any]] = [frozenset()] * len(self.edges)
        digest: list[int] = [0] * len(self.edges)
        for node in range(len(self.edges) - 1, -1, -1):  # a result's node always comes after its operands'
            parts: set[Any] = {("result",)} if node in ends else set()
            for name, position, out_node, join in self.edges[node]:
                if join:
                    parts.add((name, position, digest[out_node]))
                else:
                    parts |= signature[out_node]
            signature[node] = frozenset(parts)
            digest[node] = zlib.crc32(repr(sorted(map(repr, parts))).encode())
        return {key: digest[node] for key, node in self.param_node.items()}


def discover_roles(module: Any, first_call: Callable[[], Any]) -> Roles:
    """Each parameter's role: (signature of its module's parameter shapes, rank among the modules of that
    signature, whether it is a norm's scale), from one forward made by `first_call`. See the section's note."""
    return discover(module, first_call, all_orders=False)[0][0]


def discover_role_orders(module: Any, first_call: Callable[[], Any]) -> list[Roles]:
    """discover_roles' roles first, then the roles of other orderings of the same facts, for the role search:
    by the time of first use (modules fed the same value ranked by where their output goes), which is robust
    where the reference computes something earlier in another way; and by where the output goes alone."""
    return discover(module, first_call)[0]


def discover(
    module: Any, first_call: Callable[[], Any], all_orders: bool = True, modules: list[nn.Module] | None = None
) -> tuple[list[Roles], set[int] | None]:
    """The roles (discover_role_orders; the first ordering only unless `all_orders`) and the state buffers of a
    built object, from one train-mode forward made by `first_call`, traced when two of its modules share
    parameter shapes. The state buffers are the float buffers that forward changes, in place or by reassignment
    (BatchNorm's running statistics, a from-scratch EMA): state that training sets, given canonical values
    before each run; the rest are constants computed in __init__ and keep their values (RoPE's inv_freq). A
    forward that raises in training (BatchNorm given a batch of one) tells no state (None: every float buffer
    is set) and is traced again in eval mode for the roles, as far as it runs. `modules`: the object's
    _every_module, if walked already."""
    if not isinstance(module, nn.Module):
        return [{}], set()
    modules = modules if modules is not None else _every_module(module)
    units = _units(module, modules)
    buffers = _float_buffers(module, modules)
    owned = [_by_shape(_own_parameters(unit), lambda p: p) for unit in units]
    signatures = [tuple(tuple(p.shape) for p in own) for own in owned]
    if len(set(signatures)) == len(signatures):  # no two alike: every layer is alone in its role
        alone: Roles = {
            id(p): (shapes, 0, index == 0 and all(len(s) <= 1 for s in shapes))
            for own, shapes in zip(owned, signatures, strict=True)
            for index, p in enumerate(own)
        }
        return [alone], (_train_forward(module, first_call, buffers, None)[2] if buffers else set())
    parameters = {id(p): p for own in owned for p in own}
    constants = {id(b) for _, _, b in buffers} | {id(b) for b in module.buffers()}
    tracer = _RoleTracer(parameters, constants)
    result, error, state = _train_forward(module, first_call, buffers, tracer)
    if error is not None:
        tracer = _RoleTracer(parameters, constants)
        training = module.training

        def traced() -> Any:
            with tracer:
                return first_call()

        try:
            with torch.no_grad():
                module.eval()
                result, error = _run_guarded(traced, None)
        finally:
            module.train(training)
    if not buffers:
        state = set()
    downstream = tracer.downstream(result) if error is None else {}
    facts: list[tuple[tuple[Any, ...], int, nn.Module, tuple[str, int] | None, tuple[int, ...]]] = []
    for order, unit in enumerate(units):
        own = owned[order]
        uses = [tracer.first_use[id(p)] for p in own if id(p) in tracer.first_use]
        first = min(uses, key=lambda use: use[1]) if uses else None
        facts.append((signatures[order], order, unit, first, tuple(downstream.get(id(p), 0) for p in own)))
    fed_at: dict[tuple[Any, str], int] = {}  # (signature, lineage of the first use) -> its earliest time
    for shapes, _, _, first, _ in facts:
        if first is not None:
            key = (shapes, first[0])
            fed_at[key] = min(fed_at.get(key, first[1]), first[1])

    def by_lineage(shapes: Any, order: int, first: Any, below: Any) -> tuple[Any, ...]:
        return (0, first[0], below, first[1]) if first else (1, "", (), order)

    def by_time(shapes: Any, order: int, first: Any, below: Any) -> tuple[Any, ...]:
        return (0, fed_at[(shapes, first[0])], below, first[1]) if first else (1, 0, (), order)

    def by_destination(shapes: Any, order: int, first: Any, below: Any) -> tuple[Any, ...]:
        return (0, below, first[1]) if first else (1, (), order)

    orders = []
    for sort_key in (by_lineage, by_time, by_destination) if all_orders else (by_lineage,):
        groups: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], int]]] = {}
        for shapes, order, _unit, first, below in facts:
            groups.setdefault(shapes, []).append((sort_key(shapes, order, first, below), order))
        roles: Roles = {}
        for shapes, members in groups.items():
            members.sort()
            scale_like = all(len(shape) <= 1 for shape in shapes)
            for rank, (_, order) in enumerate(members):
                for index, parameter in enumerate(owned[order]):
                    roles[id(parameter)] = (shapes, rank, scale_like and index == 0)
        orders.append(roles)
    return orders, state


def _group_sizes(roles: Roles) -> dict[tuple[Any, ...], int]:
    """How many modules share each shape signature, from the ranks the roles give them."""
    sizes: dict[tuple[Any, ...], int] = {}
    for signature, rank, _ in roles.values():
        sizes[signature] = max(sizes.get(signature, 0), rank + 1)
    return sizes


def role_assignments(orders: list[Roles], limit: int = MAX_ROLE_ASSIGNMENTS) -> list[Roles]:
    """The assignments the role search tries, in a fixed order, at most `limit`: discover_role_orders' orderings
    (discovery's own first), then the other assignments of ranks within each group of same-shaped modules,
    fewest modules moved first. The host asks for the k-th by index."""
    roles = orders[0]
    sizes = _group_sizes(roles)
    tied = sorted((signature for signature, size in sizes.items() if size > 1), key=repr)
    choices = [_group_permutations(sizes[signature]) for signature in tied]
    combos: list[tuple[tuple[int, ...], ...]] = []
    most = sum(len(options[-1][1]) for options in choices)
    for moved in range(most + 1):
        _combos_moving(choices, moved, (), combos, limit)
        if len(combos) >= limit:
            break
    assignments: list[Roles] = []
    seen: set[tuple[Any, ...]] = set()
    permuted = (
        {
            key: (signature, mapping[signature][rank] if signature in mapping else rank, scale_like)
            for key, (signature, rank, scale_like) in roles.items()
        }
        for mapping in (dict(zip(tied, combo, strict=True)) for combo in combos)
    )
    for candidate in itertools.chain(orders, permuted):
        fingerprint = tuple(sorted((key, rank) for key, (_, rank, _) in candidate.items()))
        if fingerprint not in seen:
            seen.add(fingerprint)
            assignments.append(candidate)
        if len(assignments) >= limit:
            break
    return assignments or [roles]


def _group_permutations(size: int) -> list[tuple[int, tuple[int, ...]]]:
    """(modules moved, permutation) for one group, identity first, fewest moved first."""
    identity = tuple(range(size))
    if size <= _ALL_PERMUTATIONS_UP_TO:
        perms = list(itertools.permutations(identity))
    else:
        perms = [identity]
        for i, j in itertools.combinations(identity, 2):
            swapped = list(identity)
            swapped[i], swapped[j] = j, i
            perms.append(tuple(swapped))
    scored = [(sum(1 for i, p in enumerate(perm) if i != p), perm) for perm in perms]
    return sorted(scored)


def _combos_moving(
    choices: list[list[tuple[int, tuple[int, ...]]]],
    moved: int,
    prefix: tuple[tuple[int, ...], ...],
    out: list[tuple[tuple[int, ...], ...]],
    limit: int,
) -> None:
    """Append to `out` every combination of one permutation per group moving exactly `moved` modules."""
    if len(out) >= limit:
        return
    if len(prefix) == len(choices):
        if moved == 0:
            out.append(prefix)
        return
    for count, perm in choices[len(prefix)]:
        if count > moved:
            break
        _combos_moving(choices, moved - count, (*prefix, perm), out, limit)
        if len(out) >= limit:
            return


def first_call(module: Any, case: dict[str, Any], seed: int, case_index: int) -> Callable[[], Any] | None:
    """The case's first call, ready to run: what role discovery and the buffer test watch. The one place that
    says how a case is called for them (the first call, with all its arguments; None when the case makes no call)."""
    calls = case_calls(case)
    if not calls:
        return None
    arguments = Arguments(calls[0], seed, case_index, 0)
    return lambda: arguments.call(module)


def _case_discovery(
    module: Any, seed: int, call: Callable[[], Any] | None, all_orders: bool = False
) -> tuple[list[Roles], list[_Slot]]:
    """A case's role orderings (discover) and the tensors its plans set (every parameter, the state buffers),
    from the case's first call, walking the object's modules once. Parameters get their values by type and
    name first (buffers keep theirs until we know which are state), so the forward runs on defined values."""
    if call is None or not isinstance(module, nn.Module):
        return [{}], _plan_slots(module, None)
    modules = _every_module(module)
    slots = _plan_slots(module, None, modules)
    apply_plan(_plan_from(_state_slots(slots, set()), seed, {}), draft=True)
    orders, state = discover(module, call, all_orders=all_orders, modules=modules)
    return orders, _state_slots(slots, state)


SEARCH_ELEMENTS = 500_000  # output values a role search sends at most (2 MB of float32), whatever the answer


def probe_roles(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    """The role search, run on the reference's code only: for each case, the output of its first input in
    `mode` under each assignment of role_assignments (0 to `count` - 1) with its tied modules' ranks by path,
    for the host to compare with an answer's one run. Bounded by the count and by SEARCH_ELEMENTS, never by
    time, so it is deterministic."""
    seed = spec.get("seed", 0)
    count = min(int(spec.get("count", MAX_ROLE_ASSIGNMENTS)), MAX_ROLE_ASSIGNMENTS)
    mode = spec.get("mode", "eval")
    results: list[dict[str, Any]] = []
    assignments: dict[str, int] = {}
    budget = SEARCH_ELEMENTS
    for case_index, case, module in _built_cases(spec, namespace, entry_point, results):
        call = first_call(module, case, seed, case_index)
        if call is None or not isinstance(module, nn.Module):
            continue
        orders, slots = _case_discovery(module, seed, call, all_orders=True)
        options = role_assignments(orders, count)
        assignments[str(case_index)] = len(options)
        module.train(mode == "train")
        for assignment in range(len(options)):
            apply_plan(_plan_from(slots, seed, options[assignment]))
            with torch.no_grad():
                output, error = _run_guarded(call, None)  # no module context: an error here only means no match
            entry, budget = _search_entry(
                module, case_index, assignment, options[assignment], output, error, prefix, tensors, budget
            )
            results.append(entry)
            if budget <= 0:
                break
    return {"results": results, "assignments": assignments}


def _search_entry(
    module: nn.Module,
    case_index: int,
    assignment: int,
    roles: Roles,
    output: Any,
    error: dict[str, Any] | None,
    prefix: str,
    tensors: dict[str, torch.Tensor],
    budget: int,
) -> tuple[dict[str, Any], int]:
    """One run of the role search as facts (its output sent while the budget lasts), and the budget left."""
    entry: dict[str, Any] = {"case": case_index, "assignment": assignment, "ranks": _tied_ranks(module, roles)}
    if error is None and isinstance(output, torch.Tensor) and output.numel() <= budget:
        budget -= output.numel()
        tensors[f"{prefix}{case_index}/{assignment}"] = sendable(output)
        entry["output"] = _tensor_summary(output)
    elif error is None and (parts := output_parts(output)) is not None:
        # a tuple, list or dict output (attention's output and weights): its tensors, by element index
        sent = [(i, v) for i, (_, v) in enumerate(parts) if isinstance(v, torch.Tensor)]
        size = sum(v.numel() for _, v in sent)
        if size <= budget:
            budget -= size
            for index, value in sent:
                tensors[f"{prefix}{case_index}/{assignment}/o{index}"] = sendable(value)
            entry["output"] = _tensor_summary(output)
            entry["elements"] = [index for index, _ in sent]
    return entry, budget


def _tied_units(module: Any, roles: Roles) -> dict[str, tuple[int, int, list[int]]]:
    """Module path -> (group, rank, its parameters' role keys) for the registered modules whose parameter
    shapes another module shares: the ones a role search moves. `group` numbers the tied shape signatures in
    a fixed order, so an answer and the reference number them alike; a path names a module the same way in
    every case built alike, whatever the call."""
    sizes = _group_sizes(roles)
    groups = {
        signature: index for index, signature in enumerate(sorted((s for s, n in sizes.items() if n > 1), key=repr))
    }
    tied: dict[str, tuple[int, int, list[int]]] = {}
    for path, sub in module.named_modules():
        keys = [id(p) for p in _own_parameters(sub) if id(p) in roles]
        if keys and roles[keys[0]][0] in groups:
            tied[path] = (groups[roles[keys[0]][0]], roles[keys[0]][1], keys)
    return tied


def _tied_ranks(module: Any, roles: Roles) -> dict[str, list[int]]:
    """What a run reports of its tied modules: module path -> [group, rank]."""
    return {path: [group, rank] for path, (group, rank, _) in _tied_units(module, roles).items()}


def _with_ranks(module: Any, roles: Roles, ranks: Any) -> Roles:
    """`roles` with the ranks the host found by module path (from a search on a case built the same way, for
    another call); unchanged unless every tied module is given a rank and, group by group, the ranks are a
    permutation of the ones discovery gave."""
    if not isinstance(ranks, dict):
        return roles
    tied = _tied_units(module, roles)
    moved = dict(roles)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for path, (group, rank, keys) in tied.items():
        given = ranks.get(path)
        if type(given) is not int:
            return roles
        for key in keys:
            signature, _, scale_like = roles[key]
            moved[key] = (signature, given, scale_like)
        before, after = groups.setdefault(group, ([], []))
        before.append(rank)
        after.append(given)
    if any(sorted(before) != sorted(after) for before, after in groups.values()):
        return roles
    return moved


def case_plan(
    module: Any, spec: dict[str, Any], case: dict[str, Any], case_index: int, ranks: dict[str, Any] | None = None
) -> Plan:
    """The initialisation plan of a case's object: by role, under discovery's own pairing of its same-shaped
    modules, or under the one the host gives by module path (`spec["ranks"]`: a reference run under a pairing
    by the role search). `ranks`, if given, receives the case's tied modules' (group, rank) as planned."""
    seed = spec.get("seed", 0)
    orders, slots = _case_discovery(module, seed, first_call(module, case, seed, case_index))
    roles = orders[0]
    given = (spec.get("ranks") or {}).get(str(case_index)) if isinstance(spec.get("ranks"), dict) else None
    if given is not None and isinstance(module, nn.Module):
        roles = _with_ranks(module, roles, given)
    if ranks is not None and isinstance(module, nn.Module) and (tied := _tied_ranks(module, roles)):
        ranks[str(case_index)] = tied  # the host pairs the answer's modules with the reference's by it
    return _plan_from(slots, seed, roles)


class _Tracer(TorchFunctionMode):
    """Records each torch op forward runs, and which tensor operands derive from the forward's input."""

    def __init__(self, sources: torch.Tensor | list[torch.Tensor]):
        super().__init__()
        sources = [sources] if isinstance(sources, torch.Tensor) else sources
        self.tainted: dict[int, torch.Tensor] = {id(source): source for source in sources}
        self.producer: dict[int, tuple[torch.Tensor, str]] = {}  # the tensor is kept: an id is not reused
        self.ops: list[dict[str, Any]] = []
        self.operands: set[int] = set()  # ids of every tensor an op used: parameters used functionally too
        self.depth = 0  # > 0 while a traced call runs: what reaches the dispatcher then was seen here
        # With a list: each constant the input's values meet (a mask, a table), sampled once (watch_constants).
        self.constants: list[tuple[torch.Tensor, list[int], str, int | None]] | None = None
        # Ids seen, each with its tensor held: a freed intermediate's id can be another tensor's later, and
        # skipping that one would make the constants depend on where the allocator put things.
        self._constant_ids: dict[int, Any] = {}

    def watch_constants(self, exclude: set[int]) -> None:
        """Also keep the constants forward combines with what flows from the input: tensors that derive neither
        from the input nor are parameters (buffers, tables and masks built in forward), sampled where they first
        meet it, before forward can change them. `exclude`: ids not to keep (torch's own modules' buffers)."""
        self.constants = []
        self._constant_ids = dict.fromkeys(exclude)  # buffers alive for the whole run
        self._learned: dict[int, torch.Tensor] = {}  # what ops made from parameters alone

    def _constants(self, operands: list[torch.Tensor]) -> None:
        assert self.constants is not None
        for tensor in operands:
            key = id(tensor)
            if key in self.tainted or key in self._constant_ids or key in self._learned:
                continue
            if isinstance(tensor, nn.Parameter):
                continue
            self._constant_ids[key] = tensor
            if len(self.constants) < MAX_OBSERVED_CONSTANTS and tensor.numel() >= 2 and not tensor.is_complex():
                with torch._C.DisableTorchFunction():  # our sample is not an op of the answer's
                    sample = _sampled(tensor)
                dtype = str(tensor.dtype).removeprefix("torch.")
                self.constants.append((sample, list(tensor.shape), dtype, _answer_line()))

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if _warm_up_stop is not None:  # a chain warming up stops at the next op when its job arrives
            _stop_point()
        kwargs = kwargs or {}
        self.depth += 1
        try:
            result = func(*args, **kwargs)
        finally:
            self.depth -= 1
        outputs = _tensors_in((result,))
        if not outputs:
            return result
        operands = _tensors_in(args, kwargs)
        self.operands.update(id(a) for a in operands)
        from_input = sum(1 for a in operands if id(a) in self.tainted)
        if from_input:  # values flow through every op, detach() included: taint follows them
            for out in outputs:
                self.tainted[id(out)] = out
            if from_input < len(operands) and self.constants is not None:
                self._constants(operands)
        elif self.constants is not None and any(
            isinstance(a, nn.Parameter) or id(a) in self._learned for a in operands
        ):  # weight.T, a scaled weight: learned values, not a constant
            for out in outputs:
                self._learned[id(out)] = out
        name = normalise_op(func)
        if not any(a.is_floating_point() or a.is_complex() for a in operands):
            name = None  # bookkeeping on integer tensors (BatchNorm's num_batches_tracked += 1), not the answer's maths
        if name in ("clamp", "clamp_min") and _clamps_at_zero(args, kwargs):
            name = "relu"  # x.clamp(min=0) is a ReLU
        if name is None or len(self.ops) >= MAX_TRACE_OPS:
            return result
        op = {"op": name, "tensors": len(operands), "from_input": from_input}
        if name in _DIM_OPS:
            op["dim"] = _dim_from_end(args, kwargs)
        self.ops.append(op)
        for out in outputs:
            self.producer[id(out)] = (out, name)
        return result

    def producer_of(self, tensor: Any) -> str | None:
        """The op that made this tensor, if a traced op did."""
        made = self.producer.get(id(tensor))
        return made[1] if made is not None and made[0] is tensor else None


# Ops whose dim says what they compute: a softmax over the keys or over the queries is the same op.
_DIM_OPS = {"softmax", "log_softmax"}


def _dim_from_end(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The dim an op runs over, counted from the end (-1: the last), so layouts of other ranks compare."""
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    source = args[0] if args else kwargs.get("input")
    if not isinstance(dim, int) or isinstance(dim, bool) or not isinstance(source, torch.Tensor) or source.ndim == 0:
        return None
    return dim - source.ndim if dim >= 0 else dim


class _Unseen(TorchDispatchMode):
    """The ops that reach torch's dispatcher while no traced call runs: ops an answer ran with torch's function
    hooks switched off (`torch._C.DisableTorchFunction()`, the tracer's mode popped), which the tracer cannot
    see. In plain code every op reaches the dispatcher inside a traced call (factories, autograd Functions and
    modules included), so this list is empty; a trace rule counts what it holds, so `softmax` run that way is
    still a softmax. (An answer that also hides from the dispatcher's Python key is out of its reach.)"""

    def __init__(self, tracer: _Tracer):
        super().__init__()
        self.tracer = tracer
        self.ops: list[str] = []

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No: __torch_dispatch__ below keeps TorchDispatchMode's guard (torch.compile must never trace into a
        mode's frame) without its cost. The default wraps the method so that its first call imports
        torch._dynamo, about 800 modules and 2 s of CPU in every worker's warm-up, for a guard that matters
        only while something is being compiled, which needs torch._dynamo loaded already."""
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if "torch._dynamo" in sys.modules:
            return _dispatch_outside_dynamo()(self, func, types, args, kwargs)
        return self._record(func, args, kwargs)

    def _record(self, func, args, kwargs):  # type: ignore[no-untyped-def]
        if self.tracer.depth == 0 and len(self.ops) < MAX_TRACE_OPS:
            name = normalise_op(func)
            if name is not None:
                self.ops.append("scaled_dot_product_attention" if name.startswith("scaled_dot_product") else name)
        return func(*args, **(kwargs or {}))


@functools.cache
def _dispatch_outside_dynamo() -> Callable[..., Any]:
    """_Unseen's recording, never traced by torch.compile (what TorchDispatchMode does for a mode by default)."""
    import torch._dynamo

    def dispatch(mode: _Unseen, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return mode._record(func, args, kwargs)

    disabled: Callable[..., Any] = torch._dynamo.disable(dispatch, recursive=True)
    return disabled


def _clamps_at_zero(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    low = kwargs.get("min", args[1] if len(args) > 1 else None)
    high = kwargs.get("max", args[2] if len(args) > 2 else None)
    return isinstance(low, int | float) and low == 0 and high is None


def _tensors_in(args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any] | None = None) -> list[torch.Tensor]:
    """The tensors among an op's arguments (or results), nested lists and tuples included, in order."""
    found: list[torch.Tensor] = []
    _collect_tensors(args, found)
    if kwargs:
        _collect_tensors(kwargs.values(), found)
    return found


def _collect_tensors(values: Any, found: list[torch.Tensor]) -> None:
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, list | tuple):
            _collect_tensors(value, found)


_SKIP_OPS = {
    "size",
    "dim",
    "numel",
    "shape",
    "get",
    "__get__",
    "is_floating_point",
    "__len__",
    "__bool__",
    "__index__",
    "item",
    "tolist",
    "detach",
    "requires_grad_",
    "__format__",
    "__repr__",
    "__setstate__",
}
_ALIASES = {
    "iadd": "add",
    "radd": "add",
    "isub": "sub",
    "rsub": "sub",
    "imul": "mul",
    "rmul": "mul",
    "itruediv": "div",
    "truediv": "div",
    "rtruediv": "div",
    "matmul": "matmul",
    "rmatmul": "matmul",
    "relu6": "relu6",
    "conv2d": "conv2d",
}


def normalise_op(func: Any) -> str | None:
    """F.relu, torch.relu, Tensor.relu_ and nn.ReLU all trace as 'relu'; +, torch.add, add_ and += as 'add'; an
    operator called by its overload (`torch.ops.aten._softmax.default`) as its packet ('softmax')."""
    if isinstance(func, torch._ops.OpOverload):
        func = func.overloadpacket
    try:
        return _OP_NAMES[func]
    except Exception:  # not seen yet, or not hashable
        pass
    name = getattr(func, "__name__", None) or str(func)
    bare = name.strip("_")
    if bare in _SKIP_OPS or name in _SKIP_OPS:
        normal = None
    else:
        if bare.endswith("_") and not bare.endswith("__"):
            bare = bare.rstrip("_")
        normal = _ALIASES.get(bare, bare)
    with contextlib.suppress(Exception):
        if len(_OP_NAMES) < 10_000:
            _OP_NAMES[func] = normal
    return normal


_OP_NAMES: dict[Any, str | None] = {}  # func -> its name in traces, worked out once per function


def probe_trace(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    seed = spec.get("seed", 0)
    results: list[dict[str, Any]] = []
    for case_index, case, module in _built_cases(spec, namespace, entry_point, results):
        if isinstance(module, nn.Module):
            initialise(module, seed)
            module.eval()
        for call_index, call in enumerate(case_calls(case)):
            arguments = Arguments(call, seed, case_index, call_index)
            tracer = _Tracer([tensor for _, tensor, _ in arguments.tensors])
            unseen = _Unseen(tracer) if spec.get("counts") else contextlib.nullcontext()

            def traced(
                arguments: Arguments = arguments,
                tracer: _Tracer = tracer,
                unseen: Any = unseen,
                module: Any = module,
            ) -> Any:
                with torch.no_grad(), tracer, unseen:
                    return arguments.call(module)

            output, error = _run_guarded(traced, module)
            if isinstance(unseen, _Unseen):
                room = max(MAX_TRACE_OPS - len(tracer.ops), 0)
                tracer.ops.extend({"op": name, "tensors": 0, "from_input": 0} for name in unseen.ops[:room])
            entry: dict[str, Any] = {"case": case_index, "input": call_index, "ops": tracer.ops}
            if error is not None:
                entry["error"] = error
            else:
                facts = _result_facts(output, arguments, tracer)
                entry["last"] = facts.get("last")
                entry["returns_input"] = facts.get("returns_input", False)
            results.append(entry)
    return {"results": results}


def to_plain(value: Any, budget: list[int] | None = None) -> Any:
    """A JSON-compatible copy of a value: tensors and sizes become lists, unknown objects their repr."""
    budget = budget if budget is not None else [MAX_VALUE_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        return "..."
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):  # JSON has no NaN or infinity: the grader turns the marker back into a float
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.Size):
        return list(value)
    if isinstance(value, torch.Tensor):
        return {"tensor": to_plain(value.detach().tolist(), budget), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, list | tuple):
        return [to_plain(item, budget) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item, budget) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_plain(item, budget) for item in value), key=repr)
    return {"repr": repr(value)[:500]}


def probe_expression(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    scope = _scope(namespace)
    if spec.get("setup"):
        _, error = _run_guarded(lambda: exec(compile(spec["setup"], "<setup>", "exec"), scope), None)
        if error is not None:
            return {"setup_error": error}
    values: list[dict[str, Any]] = []
    for expr in spec["expressions"]:
        value, error = _run_guarded(lambda expr=expr: eval(compile(expr, "<expression>", "eval"), scope), None)
        values.append({"error": error} if error is not None else {"value": to_plain(value)})
    return {"values": values}


def probe_custom(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    scope: dict[str, Any] = {"torch": torch, "nn": nn, "F": F, "__name__": "probe"}
    exec(compile(spec["probe"], "<probe>", "exec"), scope)
    value, error = _run_guarded(lambda: scope["probe"](dict(_scope(namespace))), None)
    return {"error": error} if error is not None else {"value": to_plain(value)}


_PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "outputs": probe_outputs,
    "gradients": probe_gradients,
    "structure": probe_structure,
    "trace": probe_trace,
    "expression": probe_expression,
    "custom": probe_custom,
    "roles": probe_roles,  # the host's role search (quizapp/grading/roles.py), not a check kind of packs
}


# --- training check: its probe is quizapp/judge/training.py ---------------------------------------------------
def probe_training(
    spec: dict[str, Any],
    namespace: dict[str, Any],
    entry_point: str | None,
    tensors: dict[str, torch.Tensor],
    prefix: str,
) -> dict[str, Any]:
    from .training import probe

    return probe(spec, namespace, tensors, prefix)


_PROBES["training"] = probe_training
# --- end of training check ------------------------------------------------------------------------------------


def run_snippet(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A predict question's snippet, run as a script; its printout is the job's stdout."""
    _, error = define(payload["code"])
    sys.stdout.flush()
    return ({"ok": True} if error is None else {"definition": error}), {}


_WARM_UP_CODE = """
import torch
from torch import nn
from torch.nn import functional as F


class WarmUp(nn.Module):
    def __init__(self, channels, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        self.skip = nn.Sequential(nn.Conv2d(channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels))
        self.head = nn.Linear(channels, channels)

    def forward(self, x):
        out = F.relu(self.norm(self.conv(x)))
        out = out + self.skip(x)
        out = torch.relu(out)
        return self.head(out.mean((2, 3)))
"""


def warm_up(stop: Callable[[], bool] = lambda: False, passes: int = 2, chain: bool = False) -> None:
    """Run every probe `passes` times on our own small model, in the worker before it forks any job; in each
    prepared chain (`chain`), the observed outputs probe once.

    Lazy initialisation in torch (dispatch tables, kernels, the autograd engine, allocator pools) then
    happens once in the server, shared copy-on-write, instead of in every job: a forked ResNet job goes
    from about 50 ms to about 30 ms. Nothing from any pack is involved. The probes run as a job asks for
    them (outputs observed; a trace counting unseen ops), so the
    pages and caches of those paths are warm too. In a prepared chain, `stop` says a job is waiting: the
    warm-up ends at the next step, between two runs of the probe (discovery, each forward): the probe took
    about 15 ms of CPU whole, and a job sent back to back often found its chain inside it. One pass is enough
    there: a second made the job no faster (measured: a
    forked child's ResNet probes, the median of 8, within a millisecond), and cost each chain about 30 ms
    of CPU, which jobs sent back to back compete with. Nor is every probe: in forked children of a warm worker
    (medians of 30, CPU), a ResNet job took 60.0 ms with no warm-up, 50.8 after every probe (31.7 ms of
    warm-up) and 52.4 after the observed outputs probe alone (15.5 ms): that probe is most of a job's work
    and the longer part of a split one, and half the warm-up leaves more of two cores to the job that runs
    beside a chain being prepared.
    """
    case = {"args": [4], "kwargs": {"stride": 2}, "inputs": [{"shape": [2, 4, 6, 6]}]}
    outputs = {"id": "o", "kind": "outputs", "cases": [case], "modes": ["train", "eval"], "seed": 0}
    checks = [
        {**outputs, "observe": True},
        {"id": "g", "kind": "gradients", "cases": [case], "modes": ["train"], "seed": 0},
        {"id": "s", "kind": "structure", "cases": [case]},
        {"id": "t", "kind": "trace", "cases": [case], "seed": 0, "counts": True},
        {"id": "e", "kind": "expression", "setup": "m = WarmUp(4)", "expressions": ["len(list(m.children()))"]},
    ]
    if chain:
        checks = checks[:1]
    tensors: dict[str, torch.Tensor] = {}
    global _warm_up_stop
    _warm_up_stop = stop if chain else None
    try:
        for _ in range(passes):
            for check in checks:  # one probe at a time, so a waiting job waits for one step at most
                if stop():
                    raise WarmUpStopped
                _, tensors = run({"code": _WARM_UP_CODE, "entry_point": "WarmUp", "checks": [check]})
    except WarmUpStopped:
        linecache.cache.pop(ANSWER_FILE, None)
        sys.modules.pop("answer", None)
        return
    finally:
        _warm_up_stop = None
    try:
        from safetensors.torch import save

        save({key: value.contiguous() for key, value in tensors.items()})
    except ImportError:
        pass
    linecache.cache.pop(ANSWER_FILE, None)
    sys.modules.pop("answer", None)
