"""The JSON Schema that `quizapp schema` prints agrees with the loader on what a pack may say."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import VALID_PACK

from quizapp.packs import check_pack_text, json_schema

ROOT = Path(__file__).resolve().parent.parent
REPO_PACKS = sorted((ROOT / "questions").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def messages(validator: jsonschema.Draft202012Validator, data: object) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


def test_schema_is_draft_2020_12():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator
    assert schema["additionalProperties"] is False


def test_schema_accepts_the_valid_pack(validator):
    data = yaml.safe_load(VALID_PACK)
    assert messages(validator, data) == []
    # and it uses the shorthands the schema must allow: a shape list and a plain count
    code = data["questions"][2]
    assert code["checks"][0]["cases"][0]["inputs"][0] == [2, 3]
    assert code["checks"][2]["modules"]["Scale"] == 1


def test_schema_rejects_an_unknown_top_level_key(validator):
    data = yaml.safe_load(VALID_PACK)
    data["titel"] = "typo"
    errors = list(validator.iter_errors(data))
    assert len(errors) == 1
    assert errors[0].validator == "additionalProperties"
    assert "'titel'" in errors[0].message


def test_schema_rejects_an_unknown_key_in_a_question(validator):
    data = yaml.safe_load(VALID_PACK)
    data["questions"][0]["promt"] = data["questions"][0].pop("prompt")
    errors = list(validator.iter_errors(data))
    assert errors, "a question with 'promt' passed the schema"
    assert list(errors[0].absolute_path) == ["questions", 0]


def test_schema_rejects_a_check_of_unknown_kind(validator):
    data = yaml.safe_load(VALID_PACK)
    data["questions"][2]["checks"][1]["kind"] = "gradient"
    errors = list(validator.iter_errors(data))
    assert errors, "a check of kind 'gradient' passed the schema"
    assert list(errors[0].absolute_path)[:2] == ["questions", 2]


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("format 3", lambda d: d.__setitem__("format", 3)),
        ("a bad slug", lambda d: d.__setitem__("id", "Test Pack")),
        ("a numeric version", lambda d: d.__setitem__("version", 1.2)),
        ("no questions", lambda d: d.__setitem__("questions", [])),
        ("bad difficulty", lambda d: d["questions"][1].__setitem__("difficulty", "medum")),
        ("unknown question kind", lambda d: d["questions"][4].__setitem__("kind", "essay")),
        ("missing solution", lambda d: d["questions"][3].pop("solution")),
        ("a limit out of range", lambda d: d["defaults"]["limits"].__setitem__("cpu_seconds", 100)),
    ],
)
def test_schema_rejects_what_the_loader_rejects(validator, where, change):
    data = yaml.safe_load(VALID_PACK)
    change(data)
    assert messages(validator, data), f"the schema accepted {where}"
    assert check_pack_text(yaml.safe_dump(data, sort_keys=False)).pack is None, f"the loader accepted {where}"


def test_schema_does_not_change_the_data(validator):
    data = yaml.safe_load(VALID_PACK)
    before = copy.deepcopy(data)
    validator.validate(data)
    assert data == before


def test_schema_accepts_an_integer_option_id_like_the_loader(validator):
    text = VALID_PACK.replace("      - id: b\n", "      - id: 2\n")
    assert check_pack_text(text).pack is not None
    assert messages(validator, yaml.safe_load(text)) == []


@pytest.mark.skipif(not REPO_PACKS, reason="no questions/*.yaml in the repository yet")
@pytest.mark.parametrize("path", REPO_PACKS, ids=[p.name for p in REPO_PACKS])
def test_repository_packs_satisfy_the_schema(validator, path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


FORMAT_2_PACK = ROOT / "tests" / "packs" / "format2-canon.yaml"


def test_schema_accepts_the_format_2_pack(validator):
    data = yaml.safe_load(FORMAT_2_PACK.read_text(encoding="utf-8"))
    assert messages(validator, data) == []


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("a misspelt key in a tensor argument", lambda args: args[0].__setitem__("dtyp", "float64")),
        ("a tensor with shape and values", lambda args: args[0].__setitem__("values", [1.0])),
        ("same_as with extra keys", lambda args: args.append({"same_as": 0, "also": 1})),
    ],
)
def test_schema_rejects_a_broken_call_like_the_loader(validator, where, change):
    data = yaml.safe_load(FORMAT_2_PACK.read_text(encoding="utf-8"))
    change(data["questions"][1]["checks"][0]["cases"][0]["calls"][0]["args"])
    assert messages(validator, data), f"the schema accepted {where}"
    assert check_pack_text(yaml.safe_dump(data, sort_keys=False)).pack is None, f"the loader accepted {where}"
