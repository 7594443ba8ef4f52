"""A score that means what it says: checks that only say how an answer must not be written (source rules, trace
rules forbidding an op) earn their points only beside a check of what the answer does, so an untouched starter
scores 0, not the points of the rules it cannot break."""

from __future__ import annotations

from quizapp.grading.checks import restricts_only, score
from quizapp.packs.loader import check_pack_text

PACK = """\
format: 2
id: scores
title: Scores
version: "1.0.0"
description: Checks of what an answer does and of how it is written.
authors: [Test]
licence: CC-BY-4.0
questions:
  - id: softmax
    kind: code
    title: Softmax
    difficulty: easy
    minutes: 1
    prompt: Write softmax(x, dim).
    explanation: exp over sum.
    entry_point: softmax
    entry_point_kind: function
    signature: softmax(x, dim)
    solution: |
      def softmax(x, dim):
          e = (x - x.amax(dim, keepdim=True)).exp()
          return e / e.sum(dim, keepdim=True)
    checks:
      - id: outputs
        kind: outputs
        points: 2
        cases: [{calls: [{args: [{shape: [2, 3]}, -1]}]}]
      - id: gradients
        kind: gradients
        cases: [{calls: [{args: [{shape: [2, 3]}, -1]}]}]
      - id: no-library
        kind: source
        rules: [{forbid_names: [torch.softmax]}]
      - id: no-softmax-op
        kind: trace
        cases: [{calls: [{args: [{shape: [2, 3]}, -1]}]}]
        rules: [{op: softmax, count: {max: 0}}]
      - id: uses-exp
        kind: trace
        cases: [{calls: [{args: [{shape: [2, 3]}, -1]}]}]
        rules: [{op: exp, count: {min: 1}}]
"""


def _checks():
    loaded = check_pack_text(PACK)
    assert loaded.pack is not None, loaded.problems
    return list(loaded.pack.question("softmax").checks)


def test_which_checks_only_restrict() -> None:
    assert [restricts_only(c) for c in _checks()] == [False, False, True, True, False]


def test_a_starter_that_breaks_no_rule_scores_nothing() -> None:
    checks = _checks()
    assert score(checks, [False, False, True, True, False]) == 0.0


def test_rules_count_beside_any_check_of_what_the_answer_does() -> None:
    checks = _checks()  # points: 2 + 1 + 1 + 1 + 1 = 6
    assert score(checks, [False, True, True, True, False]) == 3 / 6
    assert score(checks, [False, False, True, True, True]) == 3 / 6  # the positive trace rule is behaviour
    assert score(checks, [True, True, True, True, True]) == 1.0
    assert score(checks, [True, True, False, True, True]) == 5 / 6


def test_a_question_of_rules_alone_scores_them() -> None:
    rules_only = [c for c in _checks() if restricts_only(c)]
    assert score(rules_only, [True, False]) == 0.5
