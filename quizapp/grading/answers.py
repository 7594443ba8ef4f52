"""Choice, predict and explain answers, graded in the calling process: no torch, no judge.

A predict answer is accepted in the usual spellings of the same printout: the tensor repr or nested
lists with the same values and shape, `torch.Size([3, 8])` or `[3, 8]`, any line breaks and spacing.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from typing import Any

from ..packs import model
from . import sealing
from .result import Result, TestResult, Verdict


def grade_choice(question: model.ChoiceQuestion, selected: Iterable[str], pack_id: str = "") -> Result:
    chosen = [s.strip() for s in selected if s.strip()]
    known = {option.id: option for option in question.options}
    unknown = [s for s in chosen if s not in known]
    if unknown:
        return Result(
            "wrong_answer",
            message=f"no option {', '.join(repr(u) for u in unknown)}: the options are {', '.join(known)}",
        )
    if not chosen:
        return Result("wrong_answer", message="no option selected", score=0.0)
    if question.answer_hash:  # a student build: only the hash of the right selection is known
        key = sealing.answer_key(pack_id, question.id, sealing.canonical_choice(chosen))
        if sealing.key_hash(key) != question.answer_hash:
            return Result("wrong_answer", message="not the right selection", score=0.0)
        return Result("accepted", score=1.0, revealed=sealing.unseal_all(key, question.sealed))
    correct = set(question.correct_ids)
    picked = set(chosen)
    if not question.selects_many and len(picked) > 1:
        return Result("wrong_answer", message="select exactly one option", score=0.0)
    # Only the learner's own picks are judged in the tests: naming the correct options they missed would make
    # the second try trivial. The full answer comes with the solution.
    tests = []
    for option in question.options:
        if option.id in picked:
            what = "correct" if option.correct else "not correct"
            message = f"{option.id}: {what}" + (f". {option.feedback.strip()}" if option.feedback else "")
            tests.append(TestResult(f"option {option.id}", "pass" if option.correct else "fail", message))
    verdict: Verdict = "accepted" if picked == correct else "wrong_answer"
    message = ""
    missed = len(correct - picked)
    if verdict == "wrong_answer" and question.selects_many and missed:
        message = f"{missed} correct option{'' if missed == 1 else 's'} not selected"
    score = choice_score(correct, picked, len(question.options), question.selects_many)
    return Result(verdict, tests=tests, message=message, score=score)


def choice_score(correct: set[str], picked: set[str], total: int, selects_many: bool) -> float:
    """A single-select answer scores 0 or 1. A tick-all answer scores the share of correct options picked minus
    the share of wrong options picked, never below 0: ticking every option earns nothing, and random ticking
    earns nothing on average."""
    if not selects_many:
        return 1.0 if picked == correct else 0.0
    wrong_options = total - len(correct)
    found = len(picked & correct) / len(correct) if correct else 1.0
    mistaken = len(picked - correct) / wrong_options if wrong_options else 0.0
    return max(0.0, found - mistaken)


def grade_predict(question: model.PredictQuestion, printed: str, pack_id: str = "") -> Result:
    if not printed.strip():
        return Result("wrong_answer", message="the answer is empty: type what the snippet prints")
    if question.answer_hashes:  # a student build: compare canonical forms by their hashes
        key = sealing.answer_key(pack_id, question.id, sealing.canonical_printout(printed))
        if sealing.key_hash(key) in question.answer_hashes:
            return Result(
                "accepted",
                tests=[TestResult("printout", "pass", "matches what the snippet prints")],
                revealed=sealing.unseal_all(key, question.sealed),
            )
        return Result(
            "wrong_answer",
            tests=[TestResult("printout", "fail", "not what the snippet prints")],
            message="not what the snippet prints",
        )
    tolerance = question.tolerance
    for expected in [question.answer or "", *question.accept]:
        if same_printout(printed, expected) or (
            tolerance is not None and close_printout(printed, expected, tolerance.rtol, tolerance.atol)
        ):
            return Result("accepted", tests=[TestResult("printout", "pass", "matches what the snippet prints")])
    return Result(
        "wrong_answer",
        tests=[TestResult("printout", "fail", "not what the snippet prints")],
        message="not what the snippet prints",
    )


EXPLAIN_PASS_SCORE = 0.5  # an explanation passes when the learner ticks at least half the rubric's points


def grade_explain(question: model.ExplainQuestion, text: str, ticked: Iterable[str] = ()) -> Result:
    """An explanation is graded by the learner against the rubric: the score is the points they tick."""
    if not text.strip():
        return Result("wrong_answer", message="the answer is empty")
    ticks = set(ticked)
    total = sum(point.points for point in question.rubric)
    earned = sum(point.points for point in question.rubric if point.id in ticks)
    tests = [
        TestResult(point.id, "pass" if point.id in ticks else "fail", point.text.strip()) for point in question.rubric
    ]
    if not total:
        return Result("accepted", tests=tests)
    score = earned / total
    if score >= EXPLAIN_PASS_SCORE:
        return Result("accepted", tests=tests, score=score)
    made = sum(1 for point in question.rubric if point.id in ticks)
    message = (
        f"your answer made {made} of {len(question.rubric)} rubric points ({score:.0%}); "
        f"at least {EXPLAIN_PASS_SCORE:.0%} of the points pass"
    )
    return Result("wrong_answer", tests=tests, message=message, score=score)


# --- printouts -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\[|\]|\(|\)|,|[^\s\[\](),]+")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|nan)$")
_WRAPPERS = ("tensor", "torch.Size", "Parameter", "Parameter containing:")


def same_printout(given: str, expected: str) -> bool:
    """The same printout: the same words, or the same canonical form (sealing.canonical_printout): the values at
    four significant digits, magnitudes below 1e-5 as zero, and the same dtype, grad_fn and requires_grad. A
    student build compares hashes of that same form, so a pack and its build accept exactly the same answers."""
    if _words(given) == _words(expected):
        return True
    if printed_values(given) is None or printed_values(expected) is None:
        return False
    return sealing.canonical_printout(given) == sealing.canonical_printout(expected)


def close_printout(given: str, expected: str, rtol: float, atol: float) -> bool:
    """The same printout with its numbers within rtol/atol of the expected ones (a predict question's
    `tolerance`): the same shape of values, the same words, the same dtype, grad_fn and requires_grad."""
    got, want = printed_values(given), printed_values(expected)
    if got is None or want is None or printed_tags(given) != printed_tags(expected):
        return False
    return _close(got, want, rtol, atol)


def _close(got: Any, want: Any, rtol: float, atol: float) -> bool:
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_close(a, b, rtol, atol) for a, b in zip(got, want, strict=True))
    if isinstance(got, float) and isinstance(want, float):
        if math.isnan(got) or math.isnan(want):
            return math.isnan(got) and math.isnan(want)
        return math.isclose(got, want, rel_tol=rtol, abs_tol=atol) or abs(got - want) <= atol + rtol * abs(want)
    return bool(got == want)


_TAG = re.compile(r"\b(dtype|device|grad_fn|requires_grad|size|layout)=(<\w+>|\([^)]*\)|'[^']*'|[^,()\[\]\s]+)")
# What torch does not print because it is the default: writing it out says the same thing.
_DEFAULT_TAGS = frozenset(
    {
        "dtype=torch.float32",
        "dtype=torch.int64",
        "dtype=torch.bool",
        "requires_grad=False",
        "device=cpu",
        "device='cpu'",
        "layout=torch.strided",
    }
)


def printed_tags(text: str) -> list[str]:
    """What a printout states besides its values, in order: `dtype=torch.float64`, `grad_fn=<AddBackward0>`,
    `requires_grad=True`, ...; the defaults torch leaves out are left out."""
    tags = [key + "=" + "".join(value.split()) for key, value in _TAG.findall(text)]
    return [tag for tag in tags if tag not in _DEFAULT_TAGS]


def _words(text: str) -> list[str]:
    return text.split()


def printed_values(text: str) -> list[Any] | None:
    """A printout as a list of values: numbers, words, and nested lists for tensors, sizes and lists."""
    cleaned = re.sub(r"Parameter containing:\s*", "", text)
    cleaned = re.sub(r",\s*(dtype|device|grad_fn|requires_grad|size|layout)=[^,()\[\]]*(\([^)]*\))?", "", cleaned)
    cleaned = re.sub(r"grad_fn=<\w+>", "", cleaned)
    tokens = _TOKEN.findall(cleaned)
    values: list[Any] = []
    position = 0
    try:
        while position < len(tokens):
            value, position = _value(tokens, position)
            values.append(value)
    except (ValueError, IndexError, SyntaxError, RecursionError):  # nested deeper than any printout is
        return None
    return values


def _value(tokens: list[str], position: int) -> tuple[Any, int]:
    token = tokens[position]
    if token in ("tensor", "torch.Size", "Size") and position + 1 < len(tokens) and tokens[position + 1] == "(":
        inner, position = _value(tokens, position + 2)
        while tokens[position] == ",":  # leftover keyword arguments already stripped; skip stray commas
            position += 1
        if tokens[position] != ")":
            raise ValueError("unclosed call")
        return inner, position + 1
    if token in ("[", "("):
        closing = "]" if token == "[" else ")"
        items: list[Any] = []
        position += 1
        while tokens[position] != closing:
            if tokens[position] == ",":
                position += 1
                continue
            item, position = _value(tokens, position)
            items.append(item)
        return items, position + 1
    if _NUMBER.match(token):
        return float(token), position + 1
    if token in ("True", "False"):
        return token == "True", position + 1
    if token in ("]", ")", ","):
        raise ValueError("unexpected " + token)
    return ast.literal_eval(repr(token)), position + 1
