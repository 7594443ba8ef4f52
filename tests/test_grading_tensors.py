"""The host's tensors (quizapp/grading/tensors.py): decoding every dtype of the wire, and comparing with numpy's
semantics, against values worked out by hand. No torch here; numpy only as the reference of the last tests."""

from __future__ import annotations

import json
import math
import random
import struct

import pytest

from quizapp.grading import tensors
from quizapp.grading.checks import compare_arrays
from quizapp.grading.facts import TensorStore
from quizapp.grading.tensors import Floats, Tensor, allclose, close, median, mismatch

NAN, INF = math.nan, math.inf


def f32(*values: float, shape: tuple[int, ...] | None = None) -> Tensor:
    return Tensor("F32", (len(values),) if shape is None else shape, struct.pack(f"<{len(values)}f", *values))


def f64(*values: float) -> Tensor:
    return Tensor("F64", (len(values),), struct.pack(f"<{len(values)}d", *values))


def c64(*values: complex) -> Tensor:
    flat = [part for value in values for part in (value.real, value.imag)]
    return Tensor("C64", (len(values),), struct.pack(f"<{len(flat)}f", *flat))


def same_float(a: float, b: float) -> bool:
    """Equal bit for bit, NaN equal to NaN and -0.0 apart from 0.0."""
    return struct.pack("<d", a) == struct.pack("<d", b) or (a != a and b != b)


# --- decoding ---------------------------------------------------------------------------------------------


def test_float32_keeps_negative_zero_infinities_nan_and_subnormals() -> None:
    raw = struct.pack("<5I", 0x3F800000, 0x80000000, 0x7F800000, 0x7FC00000, 0x00000001)
    values = Tensor("F32", (5,), raw).tolist()
    assert values[0] == 1.0
    assert values[1] == 0.0 and math.copysign(1, values[1]) == -1  # -0.0
    assert values[2] == INF and values[3] != values[3]
    assert values[4] == 2.0**-149  # the smallest float32 subnormal


def test_bfloat16_is_the_upper_half_of_a_float32() -> None:
    raw = struct.pack("<7H", 0x3F80, 0xC000, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x0001)
    tensor = Tensor("BF16", (7,), raw)
    values = tensor.tolist()
    assert values[:4] == [1.0, -2.0, INF, -INF]
    assert values[4] != values[4]
    assert same_float(values[5], -0.0)
    assert values[6] == 2.0**-133  # bf16 subnormal: 2**-126 * 2**-7
    assert tensor.dtype == "bfloat16" and tensor.value_dtype == "float32"


def test_float8_e4m3fn_by_hand() -> None:
    raw = bytes([0x38, 0xB8, 0x01, 0x7E, 0x7F, 0xFF, 0x80, 0x08])
    values = Tensor("F8_E4M3", (8,), raw).tolist()
    assert values[0] == 1.0 and values[1] == -1.0  # exponent 7 (the bias), mantissa 0
    assert values[2] == 2.0**-9  # subnormal: (1/8) * 2**-6
    assert values[3] == 448.0  # the largest: 1.75 * 2**8; e4m3fn has no infinity
    assert values[4] != values[4] and values[5] != values[5]  # S.1111.111 is NaN, both signs
    assert same_float(values[6], -0.0)
    assert values[7] == 2.0**-6  # the smallest normal


def test_float8_e5m2_is_the_upper_byte_of_a_float16() -> None:
    raw = bytes([0x3C, 0x7C, 0xFC, 0x7D, 0x01, 0x7B, 0x80])
    values = Tensor("F8_E5M2", (7,), raw).tolist()
    assert values[:3] == [1.0, INF, -INF]
    assert values[3] != values[3]
    assert values[4] == 2.0**-16  # subnormal: float16 0x0100 = (256/1024) * 2**-14
    assert values[5] == 57344.0  # the largest: 1.75 * 2**15
    assert same_float(values[6], -0.0)


def test_float16_and_float64_subnormals() -> None:
    assert Tensor("F16", (3,), struct.pack("<3H", 0x3C00, 0x0001, 0xFC00)).tolist() == [1.0, 2.0**-24, -INF]
    assert f64(5e-324, -1.5).tolist() == [5e-324, -1.5]


def test_integers_bool_and_complex() -> None:
    assert Tensor("I64", (2,), struct.pack("<2q", -(2**63), 7)).tolist() == [-(2**63), 7]
    assert Tensor("U64", (1,), struct.pack("<Q", 2**64 - 1)).tolist() == [2**64 - 1]
    assert Tensor("I8", (2,), bytes([0x80, 0x7F])).tolist() == [-128, 127]
    assert Tensor("U16", (1,), struct.pack("<H", 65535)).tolist() == [65535]
    assert Tensor("I32", (1,), struct.pack("<i", -5)).tolist() == [-5]
    assert Tensor("BOOL", (3,), bytes([1, 0, 1])).tolist() == [True, False, True]
    assert c64(1 - 1j, 2.5j).tolist() == [1 - 1j, 2.5j]
    pairs = Tensor("C128", (1,), struct.pack("<2d", NAN, -0.0)).tolist()[0]
    assert pairs.real != pairs.real and same_float(pairs.imag, -0.0)


def test_shapes_nest_in_c_order() -> None:
    tensor = f32(*range(6), shape=(2, 3))
    assert tensor.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert tensor.size == 6 and tensor.shape == (2, 3)
    assert f32(4.0, shape=()).tolist() == 4.0  # a 0-d tensor is its value
    assert Tensor("F32", (2, 0), b"").tolist() == [[], []]
    assert tensors.unravel(5, (2, 3)) == (1, 2) and tensors.unravel(0, ()) == ()


def test_a_tensor_whose_bytes_do_not_hold_its_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="do not hold"):
        Tensor("F32", (2,), b"\x00" * 4)


def test_the_store_hands_out_tensors_decoded_once() -> None:
    header = {
        "x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
        "m": {"dtype": "BOOL", "shape": [1], "data_offsets": [4, 5]},
    }
    head = json.dumps(header).encode()
    store = TensorStore(struct.pack("<Q", len(head)) + head + struct.pack("<2H", 0x3F80, 0x4040) + b"\x01")
    assert store["x"].tolist() == [1.0, 3.0] and store.dtype("x") == "bfloat16" and store.shape("x") == (2,)
    assert store["x"] is store["x"]
    assert store["m"].tolist() == [True]


def test_equal_tensors_are_the_same_dtype_shape_and_bytes() -> None:
    assert f32(1.0, NAN) == f32(1.0, NAN)  # the same bytes, NaN included
    assert f32(0.0) != f32(-0.0)
    assert f32(1.0) != f64(1.0)
    assert f32(1.0, 2.0) != f32(1.0, 2.0, shape=(2, 1))
    assert len({f32(1.0), f32(1.0)}) == 1


def test_any_counts_nan_as_nonzero_and_negative_zero_as_zero() -> None:
    assert not f32(0.0, -0.0).any()
    assert f32(0.0, NAN).any()
    assert c64(0j, 1j).any() and not c64(0j).any()
    assert Tensor("I64", (2,), struct.pack("<2q", 0, 2)).any()
    assert not Tensor("BOOL", (2,), bytes(2)).any()


# --- closeness: numpy's isclose(equal_nan=True) ------------------------------------------------------------


def test_identical_bytes_are_close_nan_included() -> None:
    assert close(f32(NAN, INF, -0.0), f32(NAN, INF, -0.0), 0.0, 0.0)


def test_nan_is_close_to_nan_of_another_payload() -> None:
    got = Tensor("F32", (1,), struct.pack("<I", 0x7FC00000))
    want = Tensor("F32", (1,), struct.pack("<I", 0xFFC00001))
    assert got != want and close(got, want, 0.0, 0.0)


def test_infinities_are_close_only_to_themselves() -> None:
    assert close(f32(INF, -INF), f32(INF, -INF), 0.0, 0.0)
    assert not close(f32(INF), f32(-INF), 1.0, 1.0)
    assert not close(f32(INF), f32(3e38), 1.0, 1.0)  # got overflowed
    assert not close(f32(3e38), f32(INF), 10.0, 10.0)  # the reference is not finite: no tolerance reaches it
    assert not close(f32(1.0), f32(NAN), 10.0, 10.0) and not close(f32(NAN), f32(1.0), 10.0, 10.0)


def test_the_tolerance_is_relative_to_the_reference() -> None:
    # |got - want| <= atol + rtol * |want|: asymmetric, as numpy's isclose
    assert close(f32(1.0), f32(2.0), 0.5, 0.0)  # 1 <= 0.5 * 2
    assert not close(f32(2.0), f32(1.0), 0.5, 0.0)  # 1 > 0.5 * 1
    assert close(f32(1.5), f32(1.0), 0.0, 0.5)  # 0.5 <= 0.5: the bound is inclusive
    assert close(f32(0.0), f32(-0.0), 0.0, 0.0)  # other bytes, equal values


def test_subnormals_differ_by_their_own_size() -> None:
    tiny = 2.0**-149
    assert not close(f32(tiny), f32(0.0), 0.0, 0.0)
    assert close(f32(tiny), f32(0.0), 0.0, 2.0**-148)
    assert not close(f32(2 * tiny), f32(tiny), 0.5, 0.0)  # tiny > 0.5 * tiny
    assert close(f32(2 * tiny), f32(tiny), 1.0, 0.0)


def test_complex_values_are_close_by_their_modulus() -> None:
    assert close(c64(3 + 4j), c64(0j), 0.0, 5.0)  # |3+4j| = 5
    assert not close(c64(3 + 4j), c64(0j), 0.0, 4.5)
    assert close(c64(complex(NAN, 0)), c64(complex(0, NAN)), 0.0, 0.0)  # NaN in either part is NaN
    assert not close(c64(complex(INF, 0)), c64(complex(1, 0)), 1.0, 1.0)


def test_integers_and_bfloat16_compare_by_value() -> None:
    ints = Tensor("I64", (2,), struct.pack("<2q", 1, 3))
    assert close(ints, Tensor("I64", (2,), struct.pack("<2q", 1, 2)), 0.0, 1.0)
    assert not close(ints, Tensor("I64", (2,), struct.pack("<2q", 1, 2)), 0.0, 0.5)
    assert close(Tensor("BF16", (1,), struct.pack("<H", 0x3F80)), f32(1.0), 0.0, 0.0)


def test_one_differing_value_among_equal_blocks_is_found() -> None:
    values = [float(i) for i in range(1000)]
    changed = list(values)
    changed[700] += 0.5
    assert not close(f32(*changed), f32(*values), 0.0, 0.25)
    found = mismatch(f32(*changed), f32(*values), 0.0, 0.25)
    assert found is not None and found.wrong == 1 and found.worst == (700,) and found.largest == 0.5


# --- the statistics a message names ---------------------------------------------------------------------------


def test_mismatch_counts_and_locates_the_largest_difference() -> None:
    found = mismatch(f32(1.0, 2.0, 3.0, 4.0, shape=(2, 2)), f32(1.0, 2.5, 3.0, 10.0, shape=(2, 2)), 0.0, 0.1)
    assert found is not None
    assert (found.wrong, found.size, found.worst, found.largest) == (2, 4, (1, 1), 6.0)
    assert found.first_not_finite is None and found.not_finite == 0


def test_mismatch_names_the_first_value_not_finite_where_the_reference_is() -> None:
    found = mismatch(f32(1.0, INF, NAN, NAN), f32(1.0, 2.0, 3.0, NAN), 0.0, 0.0)
    assert found is not None
    assert (found.wrong, found.not_finite, found.first_not_finite, found.got, found.want) == (2, 2, (1,), INF, 2.0)


def test_nan_differences_count_as_infinite_and_the_first_largest_wins() -> None:
    # numpy's argmax over |got - want| with NaN made infinite: the first such position, even a close one
    found = mismatch(f32(NAN, 1.0, 5.0), f32(NAN, 2.0, 1.0), 0.0, 0.0)
    assert found is not None and found.wrong == 2 and found.worst == (0,) and found.largest == INF
    found = mismatch(f32(1.0, 5.0, 9.0), f32(1.0, 1.0, 5.0), 0.0, 0.0)
    assert found is not None and found.worst == (1,) and found.largest == 4.0


def test_compare_arrays_messages() -> None:
    assert compare_arrays(f32(1.0, 2.0), f32(1.0, 2.0), 0.0, 0.0) is None
    assert compare_arrays(f32(1.0, 2.0), f32(1.0, 2.0, 3.0), 0.0, 0.0) == "shape (2,), expected (3,)"
    bf16 = Tensor("BF16", (1,), struct.pack("<H", 0x3F80))
    assert compare_arrays(bf16, f32(1.0), 0.0, 0.0, "bfloat16", "float32") == "dtype bfloat16, expected float32"
    assert compare_arrays(bf16, f32(1.0), 0.0, 0.0) is None  # without torch's names: both decode to float32
    assert compare_arrays(f32(1.0, 2.0, 4.0), f32(1.0, 2.5, 3.0), 1e-5, 1e-8) == (
        "max abs error 1 at [2] (2 of 3 values differ)"
    )
    assert compare_arrays(f32(1.0, INF, 3.0), f32(1.0, 2.0, 3.0), 1e-5, 1e-8) == (
        "1 value(s) not finite where the reference's are: inf at [1], expected 2 (1 of 3 values differ)"
    )
    assert compare_arrays(c64(1 + 2j, complex(NAN, 1)), c64(1 + 2j, 1j), 1e-5, 1e-8) == (
        "1 value(s) not finite where the reference's are: nan+1j at [1], expected 0+1j (1 of 2 values differ)"
    )
    assert compare_arrays(Tensor("F32", (0, 3), b""), Tensor("F32", (0, 3), b""), 0.0, 0.0) is None


# --- float64 arithmetic of the training check -------------------------------------------------------------------


def test_floats_helpers() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0 and median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert math.isnan(median([1.0, NAN, 2.0]))
    assert Floats((2,), [1.0, -3.0]).abs_max() == 3.0 and Floats((0,), []).abs_max() == 0.0
    assert math.isnan(Floats((2,), [NAN, 5.0]).abs_max())
    assert not allclose(Floats((1,), [NAN]), Floats((1,), [NAN]), 1.0, 1.0)  # allclose: NaN is never close
    assert allclose(Floats((1,), [INF]), Floats((1,), [INF]), 0.0, 0.0)
    assert Floats((2,), [1.0, 2.0]).dot(Floats((2,), [3.0, 4.0])) == 11.0
    assert math.isnan(Floats((2,), [INF, INF]).dot(Floats((2,), [1.0, -1.0])))  # inf - inf
    assert Floats((3,), [1e16, 1.0, -1e16]).dot(Floats((3,), [1.0, 1.0, 1.0])) == 1.0  # rounded once
    assert Floats((2,), [1.0, 2.0]) + Floats((2,), [0.5, 0.5]) == Floats((2,), [1.5, 2.5])
    assert Floats.of(f32(1.5, shape=(1, 1))) == Floats((1, 1), [1.5]) and Floats.of(2.0) == Floats((), [2.0])
    assert Floats.of(c64(1 + 2j)).values == [1.0]  # the real part, as numpy's astype(float64)


# --- against numpy itself, on random values with every special value -----------------------------------------


SPECIAL = [0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 2.0**-149, 1e-6, 3.4e38]


def _draw(rng: random.Random, count: int) -> list[float]:
    return [rng.choice(SPECIAL) if rng.random() < 0.3 else rng.gauss(0.0, 2.0) for _ in range(count)]


@pytest.mark.parametrize("seed", range(40))
def test_close_and_mismatch_agree_with_numpy(seed: int) -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(seed)
    shape = rng.choice([(7,), (3, 4), (2, 3, 5), (300,)])
    count = math.prod(shape)
    want = _draw(rng, count)
    got = [w if rng.random() < 0.6 else v for w, v in zip(want, _draw(rng, count), strict=True)]
    rtol, atol = rng.choice([(1e-5, 1e-8), (1e-3, 1e-3), (0.0, 0.0)])
    a = np.array(got, dtype=np.float32).reshape(shape)
    b = np.array(want, dtype=np.float32).reshape(shape)
    mine, theirs = Tensor("F32", shape, a.tobytes()), Tensor("F32", shape, b.tobytes())
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    isclose = np.isclose(wide_a, wide_b, rtol=rtol, atol=atol, equal_nan=True)
    assert close(mine, theirs, rtol, atol) == bool(isclose.all())
    found = mismatch(mine, theirs, rtol, atol)
    if isclose.all():
        assert found is None
        return
    assert found is not None and found.wrong == int((~isclose).sum())
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(wide_a - wide_b)
    difference = np.where(np.isnan(difference), np.inf, difference)
    worst = np.unravel_index(int(np.argmax(difference)), shape)
    assert found.worst == tuple(int(i) for i in worst) and found.largest == float(difference[worst])
    odd = ~isclose & ~np.isfinite(wide_a) & np.isfinite(wide_b)
    assert found.not_finite == int(odd.sum())
    if odd.any():
        first = np.unravel_index(int(np.argmax(odd)), shape)
        assert found.first_not_finite == tuple(int(i) for i in first)


def _numpy_compare_arrays(np, got, want, rtol: float, atol: float) -> str | None:
    """The grader's comparison as it was written with numpy (before quizapp/grading/tensors.py), dtypes equal."""
    if got.shape != want.shape:
        return "shape"
    if got.size == 0:
        return None
    wide = np.complex128 if np.iscomplexobj(got) or np.iscomplexobj(want) else np.float64
    a, b = got.astype(wide), want.astype(wide)
    isclose = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if bool(isclose.all()):
        return None
    wrong = int((~isclose).sum())
    odd = ~isclose & ~np.isfinite(a) & np.isfinite(b)

    def plain(value) -> str:
        number = complex(value)
        return f"{number.real:.4g}" if number.imag == 0 else f"{number.real:.4g}{number.imag:+.4g}j"

    if bool(odd.any()):
        first = np.unravel_index(int(np.argmax(odd)), a.shape)
        where = "[" + ", ".join(str(int(i)) for i in first) + "]"
        return (
            f"{int(odd.sum())} value(s) not finite where the reference's are: {plain(a[first])} at "
            f"{where}, expected {plain(b[first])} ({wrong} of {a.size} values differ)"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(a - b)
    difference = np.where(np.isnan(difference), np.inf, difference)
    worst = np.unravel_index(int(np.argmax(difference)), a.shape)
    where = "[" + ", ".join(str(int(i)) for i in worst) + "]"
    return f"max abs error {float(difference[worst]):.3g} at {where} ({wrong} of {a.size} values differ)"


@pytest.mark.parametrize("seed", range(60))
def test_compare_arrays_says_what_the_numpy_grader_said(seed: int) -> None:
    """Every dtype family the wire carries: the message word for word, on random values with special ones."""
    np = pytest.importorskip("numpy")
    rng = random.Random(1000 + seed)
    code = ["F32", "F64", "F16", "C64", "C128", "I64", "I32", "U8", "BOOL"][seed % 9]
    shape = rng.choice([(5,), (2, 3), (3, 1, 4), (260,)])
    count = math.prod(shape)
    dtype = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "C64": "<c8", "C128": "<c16", "I64": "<i8", "I32": "<i4"}
    dtype.update({"U8": "u1", "BOOL": "?"})
    if code in ("C64", "C128"):
        want = np.array([complex(*_draw(rng, 2)) for _ in range(count)])
        got = np.array([w if rng.random() < 0.5 else complex(*_draw(rng, 2)) for w in want])
    elif code in ("I64", "I32", "U8", "BOOL"):
        top = 2 if code == "BOOL" else 200
        want = np.array([rng.randrange(top) for _ in range(count)])
        got = np.array([w if rng.random() < 0.7 else rng.randrange(top) for w in want])
    else:
        want = np.array(_draw(rng, count))
        got = np.array([w if rng.random() < 0.6 else v for w, v in zip(want, _draw(rng, count), strict=True)])
    with np.errstate(over="ignore", invalid="ignore"):
        a = got.astype(dtype[code]).reshape(shape)
        b = want.astype(dtype[code]).reshape(shape)
    rtol, atol = rng.choice([(1e-5, 1e-8), (1e-2, 1e-3), (0.0, 0.0), (0.0, 5.0)])
    mine = compare_arrays(Tensor(code, shape, a.tobytes()), Tensor(code, shape, b.tobytes()), rtol, atol)
    assert mine == _numpy_compare_arrays(np, a, b, rtol, atol)


def test_the_training_checks_arithmetic_by_hand() -> None:
    from quizapp.grading.training import _follows, _same, _scalar_multiple

    x = Floats((4,), [1.0, -2.0, 0.5, 4.0])
    assert _scalar_multiple(x.scaled(-2.0), x) == -2.0
    assert _scalar_multiple(Floats((4,), [1.0, -2.0, 0.5, 5.0]), x) is None  # not one factor everywhere
    assert _scalar_multiple(x, Floats((4,), [0.0] * 4)) is None  # nothing to be a multiple of
    assert _scalar_multiple(Floats((4,), [NAN, 1.0, 1.0, 1.0]), x) is None
    assert _same(x, x.scaled(1 + 1e-6)) and not _same(x, x.scaled(1.01))
    assert not _same(Floats((1,), [NAN]), Floats((1,), [NAN]))
    weights = Floats((5,), [1.0, -2.0, 3.0, 0.5, -1.0])
    assert _follows(weights.scaled(0.01), weights)  # a share of each weight: weight decay
    assert not _follows(Floats((5,), [0.01, 0.01, 0.01, 0.01, 0.01]), weights)


def test_every_dtype_the_protocol_carries_decodes() -> None:
    from quizapp.judge.protocol import SAFETENSORS_TORCH_NAMES

    for code, torch_name in SAFETENSORS_TORCH_NAMES.items():
        tensor = Tensor(code, (2, 1), bytes(2 * tensors.item_size(code)))
        assert tensor.dtype == torch_name
        assert tensor.tolist() in ([[0], [0]], [[False], [False]]), code  # 0 == 0.0 == 0j
        assert close(tensor, tensor, 0.0, 0.0) and not tensor.any()


def test_only_the_finding_shown_computes_its_difference() -> None:
    """A wrong answer differs in most runs of a check: the statistics are computed for the headline only."""
    from quizapp.grading.checks import DIFFERENCE, Finding, _first

    computed: list[str] = []

    def difference(text: str):
        return lambda: computed.append(text) or text

    lead = Finding("fail", f"output differs for case 0: {DIFFERENCE}", rank=4, detail=difference("max abs error 1"))
    other = Finding("fail", f"output differs for case 1: {DIFFERENCE}", rank=4, detail=difference("max abs error 2"))
    chosen = _first([lead, other], 2)
    assert chosen is not None and computed == []
    assert chosen.resolved().message == "output differs for case 0: max abs error 1 (and 1 more of 2 runs)"
    assert computed == ["max abs error 1"]
    assert Finding("fail", "no tensors here").resolved().message == "no tensors here"
