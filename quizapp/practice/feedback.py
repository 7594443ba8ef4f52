"""Feedback on a wrong predict answer that helps the second try without giving the printout away.

Each typed line is marked as matching a line of the printout or not (a line diff against what was typed, the
expected text never shown), and a near miss is named when the values say so: the shape transposed, the right
shape with some numbers wrong, one number wrong, the right numbers in another shape. The comparison itself is
the grader's (grading/answers.py); this only explains a miss. Plain Python.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from ..grading.answers import printed_values


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for part in value for item in _flatten(part)]
    return [value]


def _shape(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _is_shape(value: Any) -> bool:
    """A flat list of whole numbers, as a printed size or shape."""
    return isinstance(value, list) and all(isinstance(v, float) and v.is_integer() for v in value)


def _transpose(value: list[Any]) -> list[Any]:
    return [list(row) for row in zip(*value, strict=True)]


def line_marks(typed: str, expected: str) -> list[tuple[bool, str]]:
    """Each typed line (blank lines dropped) with whether it matches a line of the printout, in order."""
    mine = [" ".join(line.split()) for line in typed.strip().splitlines() if line.strip()]
    theirs = [" ".join(line.split()) for line in expected.strip().splitlines() if line.strip()]
    matcher = difflib.SequenceMatcher(a=mine, b=theirs, autojunk=False)
    matched = {i for block in matcher.get_matching_blocks() for i in range(block.a, block.a + block.size)}
    return [(index in matched, line) for index, line in enumerate(mine)]


def _same(a: object, b: object) -> bool:
    """Two printed values alike: nan is nan, as a printout shows it (nan != nan as floats)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def near_miss(typed: str, expected: str) -> str:
    """One sentence naming how close a wrong printout is, or '' when nothing specific can be said."""
    mine, theirs = printed_values(typed), printed_values(expected)
    if mine is None or theirs is None or not mine or not theirs:
        return ""
    left, right = (mine[0], theirs[0]) if len(mine) == len(theirs) == 1 else (mine, theirs)
    shape_left, shape_right = _shape(left), _shape(right)
    flat_left, flat_right = _flatten(left), _flatten(right)
    numbers = all(isinstance(v, float) for v in flat_left + flat_right)
    sizes = "Size(" in expected or expected.strip().startswith("(")
    if shape_left != shape_right:
        if len(shape_left) == 2 and shape_left == shape_right[::-1] and _transpose(left) == right:
            return "Near miss: the values are right but the shape is transposed."
        if len(flat_left) == len(flat_right) and sorted(map(str, flat_left)) == sorted(map(str, flat_right)):
            return "Near miss: the right values, in another shape."
        if numbers and len(shape_left) == 2 and shape_left == shape_right[::-1]:
            return "Near miss: the shape is transposed, and some values differ too."
        if sizes and _is_shape(left) and _is_shape(right) and len(flat_left) == len(flat_right):
            right_count = sum(1 for a, b in zip(flat_left, flat_right, strict=True) if a == b)
            return f"Near miss: {right_count} of {len(flat_left)} sizes are right."
        return "The shape differs from what the snippet prints."
    wrong = sum(1 for a, b in zip(flat_left, flat_right, strict=True) if not _same(a, b))
    if len(shape_left) == 2 and wrong and _transpose(left) == right:
        return "Near miss: the values are transposed (rows and columns swapped)."
    if sizes and _is_shape(left) and _is_shape(right) and wrong:
        if len(left) > 1 and left == right[::-1]:
            return "Near miss: the right sizes in reverse order: the shape is transposed."
        return f"Near miss: {len(left) - wrong} of {len(left)} sizes are right." if wrong < len(left) else ""
    if wrong == 1 and len(flat_left) > 1:
        return "Near miss: the shape is right and one value differs."
    if wrong and wrong < len(flat_left):
        return f"Near miss: the shape is right; {wrong} of {len(flat_left)} values differ."
    if wrong:
        return "The shape is right, but every value differs." if len(flat_left) > 1 else ""
    return ""


def predict_feedback(typed: str, expected: str | None) -> str:
    """The feedback text for a wrong predict answer ('' when the printout is unknown, as in a student build)."""
    if not expected or not typed.strip():
        return ""
    marks = line_marks(typed, expected)
    parts = []
    if len(marks) > 1 or (marks and len(expected.strip().splitlines()) > 1):
        right = sum(1 for ok, _ in marks if ok)
        total = len([line for line in expected.strip().splitlines() if line.strip()])
        lines = "\n".join(f"{'✓' if ok else '✗'} {line}" for ok, line in marks)
        parts.append(f"{right} of your {len(marks)} lines match a line of the printout (it has {total}):\n{lines}")
    miss = near_miss(typed, expected)
    if miss:
        parts.append(miss)
    return "\n".join(parts)
