"""The documentation's examples and files stay true."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest

from quizapp.packs import check_pack_text, json_schema, model

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "pack-format.md"


def _example_pack_text(format_line: str) -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    examples = [block for block in blocks if block.startswith(format_line + "\n")]
    assert len(examples) == 1, f"docs/pack-format.md should hold exactly one complete example with {format_line}"
    return examples[0]


def format_2_example() -> str:
    return _example_pack_text("format: 2")


def test_the_complete_example_is_valid_and_covers_every_kind() -> None:
    result = check_pack_text(_example_pack_text("format: 1"), "docs/pack-format.md")
    assert result.problems == []
    assert result.pack is not None
    assert {q.kind for q in result.pack.questions} == set(model.QUESTION_KINDS)
    code = result.pack.question("double-layer")
    assert isinstance(code, model.CodeQuestion)
    assert {c.kind for c in code.checks} == _check_kinds(since=1)
    assert result.pack.limits_for(code).cpu_seconds == 2
    assert result.pack.limits_for(code).memory_mb == 768
    assert code.points == 3 and result.pack.question("sequential-forward").points == 1


def _check_kinds(since: int) -> set[str]:
    """The check kinds a format introduced (format 1's, format 2's), from the models' own marks."""
    union = typing.get_args(model.Check)[0]
    return {
        typing.get_args(cls.model_fields["kind"].annotation)[0]
        for cls in typing.get_args(union)
        if cls.SINCE_FORMAT == since
    }


def _used_keys(value: object) -> set[tuple[type, str]]:
    """(model, key) for every key the pack sets, walking the validated models."""
    found: set[tuple[type, str]] = set()
    if isinstance(value, model.Strict):
        for name in value.model_fields_set:
            found.add((type(value), name))
            found |= _used_keys(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _used_keys(item)
    elif isinstance(value, dict):
        for item in value.values():
            found |= _used_keys(item)
    return found


def _format_2_keys() -> set[tuple[type, str]]:
    """Every key format 2 introduced, from the model's own marks."""
    keys = set()
    for owner in model.Strict.__subclasses__() + [
        sub for cls in model.Strict.__subclasses__() for sub in cls.__subclasses__()
    ]:
        for name in owner.model_fields:
            if model.field_since(owner, name) == 2:
                keys.add((owner, name))
    return keys


def test_the_format_2_example_is_valid_and_shows_every_key_format_2_added() -> None:
    result = check_pack_text(format_2_example(), "docs/pack-format.md")
    assert result.problems == []
    assert result.pack is not None and result.pack.format == 2
    used = _used_keys(result.pack)
    # format 2's new check kinds are whole classes of format 2 (SINCE_FORMAT), documented by kind
    expected = {key for key in _format_2_keys() if key[0].SINCE_FORMAT == 1}
    shown = {(owner, name) for owner, name in expected for cls, key in used if key == name and issubclass(cls, owner)}
    assert {f"{owner.__name__}.{name}" for owner, name in expected - shown} == set(), "not shown in the example"
    attention = result.pack.question("masked-attention")
    assert isinstance(attention, model.CodeQuestion) and attention.entry_point_kind == "function"
    calls = attention.checks[0].cases[0].calls
    assert isinstance(calls[0].args[1], model.SameAs) and calls[0].kwargs["mask"].dtype == "bool"
    # a case's dtype reaches its tensors
    assert attention.checks[0].cases[1].calls[0].args[0].dtype == "float64"


def test_the_format_2_example_says_format_2_for_a_reason() -> None:
    """The same pack as format 1 names the keys that need format 2, each where it is written."""
    text = format_2_example().replace("format: 2\n", "format: 1\n", 1)
    result = check_pack_text(text, "example.yaml")
    assert result.pack is None
    messages = {p.message for p in result.errors}
    assert all("needs 'format: 2'" in m for m in messages), messages
    for key in ("entry_point_kind", "calls", "output_names", "dtype", "state_dict_keys", "applies_to", "tolerance"):
        assert f"'{key}' needs 'format: 2' at the top of the pack (this pack says format 1)" in messages, key


def test_the_schema_file_in_docs_is_current() -> None:
    kept = json.loads((ROOT / "docs" / "pack-format-2.schema.json").read_text())
    assert kept == json_schema(), "run: quizapp schema > docs/pack-format-2.schema.json"


def test_every_check_kind_and_question_kind_is_documented() -> None:
    text = DOC.read_text()
    for kind in (*model.CHECK_KINDS, *model.QUESTION_KINDS):
        assert f"`{kind}`" in text, kind


@pytest.mark.jail
def test_the_format_2_example_proves_in_the_judge(judged, tmp_path: Path) -> None:
    """Every reference of the format-2 example passes its checks and every decoy fails the check it names."""
    from quizapp.grading.grader import Grader, ReferenceCache
    from quizapp.grading.proving import prove

    loaded = check_pack_text(format_2_example(), "docs/pack-format.md")
    proof = prove(loaded, Grader(judged, ReferenceCache(tmp_path / "cache")), judged)
    assert [p for p in proof.problems if p.severity == "error"] == []
    assert [p.message for p in proof.problems] == []  # no unproven check either
    assert (proof.references, proof.decoys, proof.snippets) == (3, 9, 1)


def test_the_training_example_is_valid_and_uses_the_training_check() -> None:
    text = (ROOT / "docs" / "pack-format.md").read_text()
    examples = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("# a complete pack")]
    assert len(examples) == 1, "docs/pack-format.md should hold one complete example with training checks"
    result = check_pack_text(examples[0], "docs/pack-format.md")
    assert result.problems == []
    assert result.pack is not None
    kinds = {c.kind for q in result.pack.questions for c in getattr(q, "checks", [])}
    assert kinds == {"training"}
