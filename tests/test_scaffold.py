"""quizapp new: scaffolds that are working examples, proven in the judge as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from quizapp.cli import main
from quizapp.packs import check_pack_file, check_pack_text, scaffold


def test_a_new_pack_with_every_kind_proves_itself_in_the_judge(
    tmp_path: Path, capsys, commands_on_session_pool
) -> None:
    path = tmp_path / "course.yaml"
    assert main(["new", "pack", "ML Course!", "-o", str(path), "--kinds", ",".join(scaffold.KINDS)]) == 0
    assert "quizapp validate" in capsys.readouterr().out
    loaded = check_pack_file(path)
    assert loaded.problems == [] and loaded.pack is not None
    assert loaded.pack.id == "ml-course"
    assert sorted(q.kind for q in loaded.pack.questions) == sorted(
        k.replace("function", "code") for k in scaffold.KINDS
    )
    code = main(["validate", str(path)])  # on the session's judge pool
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out == ""  # no problem lines: no errors, and no unproven check either
    assert err.strip() == "1 file(s), 1 valid pack(s); ran 3 reference(s), 6 decoy(s), 1 snippet(s), 0 error(s)"
    # A pack that loads but whose proof fails (its predict answer is not what the snippet prints) is not valid.
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('answer: "tensor([0., 2.])"', 'answer: "tensor([0., 3.])"', 1), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().startswith("1 file(s), 0 valid pack(s);") and "1 error(s)" in err, err


def test_new_question_appends_with_a_fresh_id_and_keeps_the_pack_valid(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pack.yaml"
    assert main(["new", "pack", "p", "-o", str(path)]) == 0
    for kind in ("choice", "choice", "predict"):
        assert main(["new", "question", kind, "--pack", str(path)]) == 0
    pack = check_pack_file(path).pack
    assert pack is not None
    assert [q.id for q in pack.questions] == [
        "my-first-code-question",
        "my-choice-question",
        "my-choice-question-2",
        "my-predict-question",
    ]
    out = capsys.readouterr().out
    assert "added question 'my-choice-question-2' (choice)" in out


def test_new_question_refuses_a_duplicate_id_and_leaves_the_file_alone(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pack.yaml"
    main(["new", "pack", "p", "-o", str(path)])
    before = path.read_text()
    assert main(["new", "question", "code", "--pack", str(path), "--id", "my-first-code-question"]) == 1
    assert path.read_text() == before
    err = capsys.readouterr().err
    assert "duplicate question id 'my-first-code-question'" in err
    assert "left unchanged" in err


def test_new_question_without_a_pack_prints_it(capsys) -> None:
    assert main(["new", "question", "explain", "--id", "why-modulelist"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("  - id: why-modulelist\n    kind: explain\n")


def test_new_pack_never_overwrites(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("mine")
    assert main(["new", "pack", "p", "-o", str(path)]) == 2
    assert path.read_text() == "mine"
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("kinds", ["code,quiz", "nope"])
def test_new_pack_rejects_unknown_kinds(tmp_path: Path, capsys, kinds: str) -> None:
    assert main(["new", "pack", "p", "-o", str(tmp_path / "p.yaml"), "--kinds", kinds]) == 2
    assert "unknown kind" in capsys.readouterr().err


def test_the_function_scaffold_calls_a_function_with_several_arguments() -> None:
    text = scaffold.pack_text("p", "P", "p.yaml", ("function",))
    loaded = check_pack_text(text)
    assert loaded.problems == [] and loaded.pack is not None
    question = loaded.pack.questions[0]
    assert question.entry_point_kind == "function"
    call = question.checks[0].cases[0].calls[0]
    assert [type(a).__name__ for a in call.args] == ["TensorSpec", "TensorSpec", "int"]
    assert call.args[1].dtype == "bool" and question.checks[0].cases[0].calls[1].kwargs == {"dim": 0}


def test_adding_a_function_question_to_a_format_1_pack_makes_it_format_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "old.yaml"
    old = scaffold.pack_text("old", "Old", "old.yaml").replace("format: 2\n", "format: 1  # as written in 2025\n")
    path.write_text(old)
    assert check_pack_file(path).pack is not None
    assert main(["new", "question", "function", "--pack", str(path)]) == 0
    text = path.read_text()
    assert "\nformat: 2\n" in text and "format: 1" not in text
    assert text.replace("format: 2\n", "format: 1  # as written in 2025\n", 1).startswith(old)
    pack = check_pack_file(path).pack
    assert pack is not None and [q.id for q in pack.questions] == ["my-first-code-question", "my-function-question"]
    # a question format 1 can say leaves the format alone
    other = tmp_path / "other.yaml"
    other.write_text(old)
    assert main(["new", "question", "choice", "--pack", str(other)]) == 0
    assert "format: 1  # as written in 2025" in other.read_text()


def test_the_command_line_offers_every_scaffold_kind() -> None:
    """The CLI keeps its own copy of the kinds (importing quizapp.packs would slow the app's first frame)."""
    from quizapp import cli

    assert cli.SCAFFOLD_KINDS == scaffold.KINDS


def test_new_pack_named_as_a_file_writes_that_file_with_its_stem_as_id(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "pack", "week5.yaml"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["week5.yaml"]
    assert "wrote week5.yaml" in capsys.readouterr().out
    pack = check_pack_file(tmp_path / "week5.yaml").pack
    assert pack is not None and pack.id == "week5"
    assert main(["new", "pack", "Week 6"]) == 0  # a plain id still names the file after it
    assert (tmp_path / "week-6.yaml").exists()
