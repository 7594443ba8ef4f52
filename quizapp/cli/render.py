"""Text for a terminal: results, questions and problems. Anything an answer printed or raised is shown with its
control characters escaped, so learner output can never move the cursor, recolour or redraw the screen."""

from __future__ import annotations

import re

from ..grading.result import Result
from ..packs import model

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that reorder a line.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with every character that could act on a terminal shown as an escape: ESC as \\x1b."""
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def render_result(name: str, result: Result) -> str:
    """A result for a terminal: the verdict, then each check with a mark and its message."""
    safe = terminal_safe
    jail = f", jail: {result.jail_mode}" if result.jail_mode else ""
    lines = [f"{safe(name)}: {result.verdict} ({result.duration_ms:.0f} ms{jail})"]
    if result.message and (not result.tests or result.verdict not in ("wrong_answer", "runtime_error")):
        lines.append(f"  {safe(result.message)}")
    for test in result.tests:
        mark = {"pass": "✓", "fail": "✗", "error": "!"}[test.status]
        hidden = " (hidden)" if not test.visible else ""
        text = f": {test.message}" if test.message and test.status != "pass" else ""
        lines.append(safe(f"  {mark} {test.name}{hidden}{text}"))
    if result.stdout.strip():
        lines.append("  printed:")
        printed = result.stdout.split("\n")  # not splitlines(): it would take \r, \v, \f, \x1c-\x1e as line breaks
        while printed and not printed[-1].strip(" \t"):
            printed.pop()
        lines.extend(f"    {safe(line)}" for line in printed[:20])
    if result.score is not None and result.verdict != "accepted":
        lines.append(f"  score: {result.score:.0%}")
    return "\n".join(lines)


def render_question(question: model.AnyQuestion, with_solution: bool = False) -> str:
    """A question as plain text: what the learner is asked, and with `with_solution` what is expected."""
    lines = [
        f"# {question.title}",
        f"{question.kind} · {question.difficulty} · about {question.minutes:g} min"
        + (f" · {question.points:g} points" if question.points != 1 else "")
        + (f" · {', '.join(question.tags)}" if question.tags else ""),
        "",
        question.prompt.rstrip(),
        "",
    ]
    if isinstance(question, model.ChoiceQuestion):
        how = "Select all that apply" if question.selects_many else "Select one"
        lines.append(f"{how}:")
        for option in question.options:
            mark = ("[x] " if option.correct else "[ ] ") if with_solution else ""
            lines.append(f"  {option.id}) {mark}{option.text.strip()}")
            if with_solution and option.feedback:
                lines.append(f"       {option.feedback.strip()}")
    elif isinstance(question, model.PredictQuestion):
        lines += ["```python", question.snippet.rstrip(), "```"]
        if with_solution:
            lines += ["", "It prints:", (question.answer or "(hashed in this student build)").rstrip()]
    elif isinstance(question, model.CodeBase):
        lines += [f"Define: {question.signature}", "", "Starter:", "```python", question.starter.rstrip(), "```"]
        visible = [c for c in question.checks if c.visible]
        lines.append(f"Checks: {len(visible)} run by Run, {len(question.checks)} by Submit")
        if with_solution:
            solution = question.solution.rstrip() if question.solution else "(not part of this student build)"
            lines += ["", "Reference solution:", "```python", solution, "```"]
    elif isinstance(question, model.ExplainQuestion) and with_solution:
        lines += ["Model answer:", question.model_answer.rstrip(), "", "Rubric:"]
        lines += [f"  - {point.text.strip()}" for point in question.rubric]
    if question.hints:
        lines += ["", f"{len(question.hints)} hint(s) available."]
    if with_solution:
        lines += ["", "Explanation:", question.explanation.rstrip()]
    return "\n".join(lines)
