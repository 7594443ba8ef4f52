"""The reference answer of a question as text, for reports and the solution pane: plain Python."""

from __future__ import annotations

from ..packs import model


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 defect', '3 defects' (or the given plural)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def letter(index: int) -> str:
    """a, b, ... z, then aa, ab: the letter of the option shown at `index` (0-based)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def reference_answer(question: model.AnyQuestion) -> str:
    """The solution (code, fix), the printout (predict), the correct options (choice), the model answer
    (explain); '' when a student build leaves it out."""
    if isinstance(question, model.CodeBase):
        return (question.solution or "").rstrip()
    if isinstance(question, model.PredictQuestion):
        return (question.answer or "").rstrip()
    if isinstance(question, model.ChoiceQuestion):
        return "\n".join(f"{o.id}: {' '.join(o.text.split())}" for o in question.options if o.correct)
    return question.model_answer.strip()
