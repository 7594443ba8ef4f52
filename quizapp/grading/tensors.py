"""Tensors on the host, without numpy or torch: decoded from the safetensors bytes a job sends, and compared.

The process that grades never imports numpy (16 MB, and a second copy of what the judge's workers already
have): it needs only a handful of operations, and they are here, on `array`, `struct` and plain floats.

- decoding every dtype the protocol carries (quizapp.judge.protocol): integers, bool, float16/32/64, bfloat16
  (the upper half of a float32), float8 e4m3fn (a table) and e5m2 (the upper half of a float16), complex64
  and complex128. Values are Python floats (float64, as numpy's `astype(float64)` gave), ints, or complex.
- `close`: numpy's `isclose(..., equal_nan=True).all()`, to the bit: |a - b| <= atol + rtol * |b| where b is
  finite, or a == b (equal infinities), or both NaN.
- `mismatch`: the statistics a message names: how many values differ, the first that is not finite where the
  reference's is, the largest absolute difference (NaN counted as infinite) and where it is, in C order.

Speed is in the common cases. A right answer computed the way the reference computes it is often
bit-identical: equal bytes are equal tensors, with no loop over the values. Otherwise the values are compared
a block at a time, skipping blocks whose bytes are equal, and a yes-or-no question stops at the first value
that is not close; the full statistics are computed only for the tensor a message names.
"""

from __future__ import annotations

import array
import cmath
import math
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..judge.protocol import SAFETENSORS_TORCH_NAMES

# safetensors code -> (array typecode or struct format, bytes per value). array's typecodes are the machine's
# sizes: q/Q and d are 8 bytes, f, i and I 4, h and H 2 on every platform CPython supports.
_LAYOUT: dict[str, tuple[str, int]] = {
    "BOOL": ("B", 1),
    "U8": ("B", 1),
    "I8": ("b", 1),
    "I16": ("h", 2),
    "U16": ("H", 2),
    "I32": ("i", 4),
    "U32": ("I", 4),
    "I64": ("q", 8),
    "U64": ("Q", 8),
    "F16": ("e", 2),  # no array typecode: read with struct
    "BF16": ("f", 2),  # widened to float32 bytes first
    "F32": ("f", 4),
    "F64": ("d", 8),
    "F8_E4M3": ("B", 1),  # through a table
    "F8_E5M2": ("e", 1),  # widened to float16 bytes first
    "C64": ("f", 8),  # (real, imaginary) pairs
    "C128": ("d", 16),
}
assert set(_LAYOUT) == set(SAFETENSORS_TORCH_NAMES)
_SWAP = sys.byteorder == "big"  # safetensors is little-endian
# The dtype of the values once decoded, as numpy named it: bfloat16 and float8 come out as float32.
_VALUE_DTYPES = {"BF16": "float32", "F8_E4M3": "float32", "F8_E5M2": "float32"}
_FLOATING = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"}
REAL_FLOATING = frozenset(_FLOATING)  # the codes of real floating dtypes
_COMPLEX = {"C64", "C128"}
_BLOCK = 256  # values per block when skipping equal bytes


def item_size(code: str) -> int:
    """Bytes per value of a safetensors dtype code ('F32' -> 4); KeyError for an unknown code."""
    return _LAYOUT[code][1]


def _e4m3fn(byte: int) -> float:
    """float8 e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinity, NaN at S.1111.111."""
    sign = -1.0 if byte & 0x80 else 1.0
    exponent, mantissa = (byte >> 3) & 0xF, byte & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * (mantissa / 8) * 2.0**-6
    return sign * (1 + mantissa / 8) * 2.0 ** (exponent - 7)


_E4M3FN = tuple(_e4m3fn(byte) for byte in range(256))


class Tensor:
    """One tensor from a job: its dtype (torch's name), shape, and raw bytes; the values are decoded on first use.

    Two tensors are equal when they are the same tensor: the same dtype, shape and bytes."""

    __slots__ = ("_values", "code", "raw", "shape", "size")

    def __init__(self, code: str, shape: Iterable[int], raw: bytes | bytearray | memoryview):
        self.code = code
        self.shape = tuple(shape)
        self.size = math.prod(self.shape)
        self.raw = bytes(raw)  # a copy: comparing bytes objects is one memcmp, comparing memoryviews is not
        if len(self.raw) != self.size * item_size(code):
            raise ValueError(f"{len(self.raw)} bytes do not hold {self.size} values of {code}")
        self._values: Sequence[Any] | None = None

    @property
    def dtype(self) -> str:
        """torch's name of the dtype the job sent: 'bfloat16', 'float32', ..."""
        return SAFETENSORS_TORCH_NAMES[self.code]

    @property
    def value_dtype(self) -> str:
        """The dtype of the decoded values, as numpy names it (float32 for bfloat16 and float8)."""
        return _VALUE_DTYPES.get(self.code, self.dtype)

    @property
    def is_complex(self) -> bool:
        return self.code in _COMPLEX

    @property
    def values(self) -> Sequence[Any]:
        """Every value in C order: floats for floating dtypes, complex, ints (0 and 1 for bool)."""
        if self._values is None:
            self._values = _decode(self.code, self.raw, self.size)
        return self._values

    def floats(self) -> list[float]:
        """Every value as a float64, as numpy's astype(float64) gives it (the real part of a complex)."""
        if self.is_complex:
            return [value.real for value in self.values]
        return [float(value) for value in self.values]

    def tolist(self) -> Any:
        """Nested lists, as numpy's tolist: floats, ints, complex, and True/False for bool."""
        values: Sequence[Any] = self.values
        if self.code == "BOOL":
            values = [bool(value) for value in values]
        return _nest(values, self.shape)

    def any(self) -> bool:
        """Whether any value is nonzero (NaN is nonzero, -0.0 is zero)."""
        if self.code in _FLOATING or self.is_complex:
            return any(value != 0 for value in self.values)
        return any(self.raw)  # an integer or bool is zero exactly when its bytes are

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return NotImplemented
        return self.code == other.code and self.shape == other.shape and self.raw == other.raw

    def __hash__(self) -> int:
        return hash((self.code, self.shape, bytes(self.raw)))

    def __repr__(self) -> str:
        return f"Tensor({self.dtype}, shape={self.shape})"


def _decode(code: str, raw: bytes | bytearray, size: int) -> Sequence[Any]:
    form, _ = _LAYOUT[code]
    if code == "F8_E4M3":
        return [_E4M3FN[byte] for byte in raw]
    if code == "BF16":  # each value is the upper two bytes of a little-endian float32
        wide = bytearray(4 * size)
        wide[2::4], wide[3::4] = raw[0::2], raw[1::2]
        raw = wide
    elif code == "F8_E5M2":  # each value is the upper byte of a little-endian float16
        wide = bytearray(2 * size)
        wide[1::2] = raw
        raw = wide
    if form == "e":
        halves: Sequence[float] = struct.unpack(f"<{size}e", raw)
        return halves
    values = array.array(form, raw)
    if _SWAP:
        values.byteswap()
    if code in _COMPLEX:
        return [complex(real, imaginary) for real, imaginary in zip(values[0::2], values[1::2], strict=True)]
    return values


def _nest(values: Sequence[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    step = math.prod(shape[1:])
    return [_nest(values[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index in `shape` of the flat position `flat` (C order), as numpy's unravel_index."""
    index = []
    for extent in reversed(shape):
        flat, position = divmod(flat, extent) if extent else (flat, 0)
        index.append(position)
    return tuple(reversed(index))


# --- comparing --------------------------------------------------------------------------------------------


def _numbers(tensor: Tensor) -> Sequence[Any]:
    """The values as numpy compared them: floats (ints and bools widened to float64), or complex."""
    if tensor.code in _FLOATING or tensor.is_complex:
        return tensor.values
    return [float(value) for value in tensor.values]


def _is_close(x: Any, y: Any, rtol: float, atol: float) -> bool:
    """numpy's isclose for two values, equal_nan=True."""
    if x == y:
        return True
    if isinstance(x, complex) or isinstance(y, complex):
        return (abs(x - y) <= atol + rtol * abs(y) and cmath.isfinite(y)) or (cmath.isnan(x) and cmath.isnan(y))
    return (abs(x - y) <= atol + rtol * abs(y) and math.isfinite(y)) or (x != x and y != y)


def _blocks(got: Tensor, want: Tensor) -> Iterable[tuple[int, int]]:
    """(start, end) value ranges whose bytes differ, or the whole range when the layouts differ."""
    if got.code != want.code:
        yield 0, got.size
        return
    item = item_size(got.code)
    for start in range(0, got.size, _BLOCK):
        end = min(start + _BLOCK, got.size)
        if got.raw[start * item : end * item] != want.raw[start * item : end * item]:
            yield start, end


def close(got: Tensor, want: Tensor, rtol: float, atol: float) -> bool:
    """numpy's `isclose(got, want, rtol, atol, equal_nan=True).all()` on two tensors of one shape, stopping at
    the first value that is not close; equal bytes of one dtype are close without a look at the values."""
    if got.shape != want.shape:
        raise ValueError(f"shapes {got.shape} and {want.shape} differ")
    if got.code == want.code and got.raw == want.raw:
        return True
    mine, theirs = _numbers(got), _numbers(want)
    complex_values = got.is_complex or want.is_complex
    for start, end in _blocks(got, want):
        for x, y in zip(mine[start:end], theirs[start:end], strict=True):
            if x != y and (complex_values or not abs(x - y) <= atol + rtol * abs(y) or y - y != 0):
                if not _is_close(x, y, rtol, atol):
                    return False
    return True


@dataclass(frozen=True)
class Mismatch:
    """How two tensors of one shape differ, as a message names it."""

    wrong: int  # values not close
    size: int
    not_finite: int  # of them, values not finite where the reference's are
    first_not_finite: tuple[int, ...] | None  # the first such value's index (C order), its value and the reference's
    got: Any
    want: Any
    worst: tuple[int, ...]  # where |got - want| is largest (NaN counted as infinite; the first such, in C order)
    largest: float


def mismatch(got: Tensor, want: Tensor, rtol: float, atol: float) -> Mismatch | None:
    """None when every value is close (as `close`); otherwise the differences' statistics, from every value."""
    if close(got, want, rtol, atol):
        return None
    mine, theirs = _numbers(got), _numbers(want)
    if got.is_complex or want.is_complex:
        wrong, not_finite, first, worst, largest = _complex_statistics(mine, theirs, rtol, atol)
    else:
        wrong, not_finite, first, worst, largest = _statistics(mine, theirs, rtol, atol)
    return Mismatch(
        wrong=wrong,
        size=got.size,
        not_finite=not_finite,
        first_not_finite=unravel(first, got.shape) if first is not None else None,
        got=mine[first] if first is not None else None,
        want=theirs[first] if first is not None else None,
        worst=unravel(worst, got.shape),
        largest=largest,
    )


_Statistics = tuple[int, int, "int | None", int, float]


def _statistics(mine: Sequence[float], theirs: Sequence[float], rtol: float, atol: float) -> _Statistics:
    """(values not close, of them not finite where the reference's are, the first such, where |got - want| is
    largest, that largest) for real values, in one pass written for speed: no call per value."""
    wrong = not_finite = 0
    first: int | None = None
    worst, largest = 0, -1.0
    inf = math.inf
    for position, x, y in zip(range(len(mine)), mine, theirs, strict=True):
        if x == y:
            if x - x == 0:
                continue  # equal and finite: close, and a difference of 0 is never the largest (some value differs)
            difference = abs(x - y)  # equal infinities: NaN, which numpy's argmax saw as infinite
            if difference != difference:
                difference = inf
            if difference > largest:
                worst, largest = position, difference
            continue
        difference = abs(x - y)
        if difference != difference:
            difference = inf
        if difference > largest:
            worst, largest = position, difference
        if (difference <= atol + rtol * abs(y) and y - y == 0) or (x != x and y != y):
            continue  # close: within the tolerance of a finite reference, or both NaN
        wrong += 1
        if x - x != 0 and y - y == 0:  # not finite where the reference's is
            not_finite += 1
            if first is None:
                first = position
    return wrong, not_finite, first, worst, largest


def _complex_statistics(mine: Sequence[Any], theirs: Sequence[Any], rtol: float, atol: float) -> _Statistics:
    wrong = not_finite = 0
    first: int | None = None
    worst, largest = 0, -1.0
    for position, (x, y) in enumerate(zip(mine, theirs, strict=True)):
        difference = abs(x - y)
        if difference != difference:
            difference = math.inf
        if difference > largest:
            worst, largest = position, difference
        if _is_close(x, y, rtol, atol):
            continue
        wrong += 1
        if not cmath.isfinite(x) and cmath.isfinite(y):
            not_finite += 1
            if first is None:
                first = position
    return wrong, not_finite, first, worst, largest


# --- float64 vectors: the training check's arithmetic ------------------------------------------------------


@dataclass(frozen=True)
class Floats:
    """A float64 array: its shape and its values in C order (what numpy's asarray(..., float64) held)."""

    shape: tuple[int, ...]
    values: list[float]

    @classmethod
    def of(cls, value: Any) -> Floats:
        """A tensor's values, or a number as a 0-d array."""
        if isinstance(value, Tensor):
            return cls(value.shape, value.floats())
        if isinstance(value, Floats):
            return value
        return cls((), [float(value)])

    @property
    def size(self) -> int:
        return len(self.values)

    def __sub__(self, other: Floats) -> Floats:
        return Floats(self.shape, [a - b for a, b in zip(self.values, other.values, strict=True)])

    def __add__(self, other: Floats) -> Floats:
        return Floats(self.shape, [a + b for a, b in zip(self.values, other.values, strict=True)])

    def scaled(self, factor: float) -> Floats:
        return Floats(self.shape, [factor * a for a in self.values])

    def dot(self, other: Floats) -> float:
        """The sum of the products, rounded once (math.fsum), where numpy summed pairwise."""
        products = [a * b for a, b in zip(self.values, other.values, strict=True)]
        try:
            return math.fsum(products)
        except (ValueError, OverflowError):  # inf - inf (NaN in numpy), or partial sums past the largest float
            return sum(products)

    def abs_max(self) -> float:
        """The largest |value| (0.0 for none), NaN when any value is NaN, as numpy's max propagates it."""
        largest = 0.0
        for value in self.values:
            if value != value:
                return math.nan
            if abs(value) > largest:
                largest = abs(value)
        return largest

    def any(self) -> bool:
        return any(value != 0 for value in self.values)

    def all_finite(self) -> bool:
        return all(math.isfinite(value) for value in self.values)


def allclose(got: Floats, want: Floats, rtol: float, atol: float) -> bool:
    """numpy's allclose (NaN is never close); the shapes must be equal."""
    return all(
        x == y or (abs(x - y) <= atol + rtol * abs(y) and math.isfinite(y))
        for x, y in zip(got.values, want.values, strict=True)
    )


def median(values: Sequence[float]) -> float:
    """numpy's median: the mean of the two middle values for an even count; NaN when any value is NaN."""
    if any(value != value for value in values):
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
