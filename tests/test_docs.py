"""The documentation's examples and files stay true."""

from __future__ import annotations

import json
import re
from pathlib import Path

from quizapp.packs import check_pack_text, json_schema, model

ROOT = Path(__file__).resolve().parent.parent


def _example_pack_text() -> str:
    text = (ROOT / "docs" / "pack-format.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    examples = [block for block in blocks if block.startswith("format: 1")]
    assert len(examples) == 1, "docs/pack-format.md should hold exactly one complete example pack"
    return examples[0]


def test_the_complete_example_is_valid_and_covers_every_kind() -> None:
    result = check_pack_text(_example_pack_text(), "docs/pack-format.md")
    assert result.problems == []
    assert result.pack is not None
    assert {q.kind for q in result.pack.questions} == set(model.QUESTION_KINDS)
    code = result.pack.question("double-layer")
    assert isinstance(code, model.CodeQuestion)
    assert {c.kind for c in code.checks} == set(model.CHECK_KINDS) - {"training"}  # training: its own example
    assert result.pack.limits_for(code).cpu_seconds == 2
    assert result.pack.limits_for(code).memory_mb == 768
    assert code.points == 3 and result.pack.question("sequential-forward").points == 1


def test_the_schema_file_in_docs_is_current() -> None:
    kept = json.loads((ROOT / "docs" / "pack-format-1.schema.json").read_text())
    assert kept == json_schema(), "run: quizapp schema > docs/pack-format-1.schema.json"


def test_every_check_kind_and_question_kind_is_documented() -> None:
    text = (ROOT / "docs" / "pack-format.md").read_text()
    for kind in (*model.CHECK_KINDS, *model.QUESTION_KINDS):
        assert f"`{kind}`" in text, kind


def test_the_training_example_is_valid_and_uses_the_training_check() -> None:
    text = (ROOT / "docs" / "pack-format.md").read_text()
    examples = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("# a complete pack")]
    assert len(examples) == 1, "docs/pack-format.md should hold one complete example with training checks"
    result = check_pack_text(examples[0], "docs/pack-format.md")
    assert result.problems == []
    assert result.pack is not None
    kinds = {c.kind for q in result.pack.questions for c in getattr(q, "checks", [])}
    assert kinds == {"training"}
