"""The `quizapp` command, in-process through main() and, where it matters, as a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import VALID_PACK, VALID_PACK_ID, VALID_QUESTION_IDS, write_pack

from quizapp.cli import main
from quizapp.packs import discover, json_schema

BROKEN_PACK = VALID_PACK.replace("    difficulty: medium\n    minutes: 2\n", "    difficulty: medum\n    minutes: 2\n")
BROKEN_PACK = BROKEN_PACK.replace("      - id: c\n", "      - id: a\n")
# Where the two mistakes are: the duplicate option id 'a' (line 31) and 'medum' (line 37).
BROKEN_PROBLEMS = [
    (31, 13, "questions[0].options[2].id", "duplicate option id 'a' (first at line 25)"),
    (37, 17, "questions[1].difficulty", "expected 'easy', 'medium' or 'hard', got 'medum': did you mean 'medium'?"),
]
PROBLEM_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning): (?P<rest>.*)$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv) in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m quizapp ARGV` in a fresh interpreter, with this test's environment (QUIZAPP_HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "quizapp", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict]:
    code, out, _ = run(capsys, *argv, "list", "--json")
    assert code == 0
    return {entry["id"]: entry for entry in json.loads(out)}


def shadow_packs(folder: Path) -> tuple[Path, Path]:
    """Two valid packs with the same id and different titles."""
    first = write_pack(
        folder / "first",
        VALID_PACK.replace("id: test-pack\ntitle: Test pack\n", "id: shadow-pack\ntitle: First shadow\n"),
    )
    second = write_pack(
        folder / "second",
        VALID_PACK.replace("id: test-pack\ntitle: Test pack\n", "id: shadow-pack\ntitle: Second shadow\n"),
    )
    return first, second


# --- validate -------------------------------------------------------------------------------------------


def test_validate_clean_pack_exits_0(capsys, valid_pack_file: Path):
    code, out, err = run(capsys, "validate", "--no-run", str(valid_pack_file))
    assert code == 0
    assert out == ""
    assert err.strip() == "1 file(s), 1 valid pack(s), 0 error(s)"


def test_validate_broken_pack_exits_1_with_located_lines(capsys, tmp_path: Path):
    path = write_pack(tmp_path, BROKEN_PACK, "broken.yaml")
    code, out, err = run(capsys, "validate", "--no-run", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines == [
        f"{path}:{line}:{column}: error: {where}: {message}" for line, column, where, message in BROKEN_PROBLEMS
    ]
    for line in lines:
        match = PROBLEM_LINE.match(line)
        assert match and match["file"] == str(path) and match["severity"] == "error"
    assert err.strip() == "1 file(s), 0 valid pack(s), 2 error(s)"


def test_validate_folder_checks_every_yaml_file(capsys, tmp_path: Path):
    write_pack(tmp_path / "packs", VALID_PACK, "a-good.yaml")
    broken = write_pack(tmp_path / "packs" / "nested", BROKEN_PACK, "b-broken.yml")
    (tmp_path / "packs" / "notes.txt").write_text("not a pack")
    code, out, err = run(capsys, "validate", "--no-run", str(tmp_path / "packs"))
    assert code == 1
    assert [line.split(": error:")[0] for line in out.splitlines()] == [f"{broken}:31:13", f"{broken}:37:17"]
    assert err.strip() == "2 file(s), 1 valid pack(s), 2 error(s)"


def test_validate_missing_path_exits_2(capsys, tmp_path: Path, valid_pack_file: Path):
    missing = tmp_path / "nope.yaml"
    code, out, err = run(capsys, "validate", "--no-run", str(valid_pack_file), str(missing))
    assert code == 2
    assert out == ""
    assert f"quizapp: no such file or folder: {missing}" in err


def test_validate_folder_without_packs_exits_1(capsys, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "validate", "--no-run", str(tmp_path / "empty"))
    assert code == 1
    assert "no pack files (*.yaml, *.yml)" in err


def test_validate_json_for_a_broken_pack(capsys, tmp_path: Path):
    path = write_pack(tmp_path, BROKEN_PACK, "broken.yaml")
    code, out, _ = run(capsys, "validate", "--no-run", "--json", str(path))
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    (entry,) = document["files"]
    assert entry["file"] == str(path)
    assert entry["pack"] is None
    assert [(p["file"], p["line"], p["column"], p["path"], p["severity"], p["message"]) for p in entry["problems"]] == [
        (str(path), line, column, where, "error", message) for line, column, where, message in BROKEN_PROBLEMS
    ]


def test_validate_json_for_a_clean_pack(capsys, valid_pack_file: Path):
    code, out, _ = run(capsys, "validate", "--no-run", "--json", str(valid_pack_file))
    assert code == 0
    assert json.loads(out) == {
        "ok": True,
        "problems": [],
        "files": [{"file": str(valid_pack_file), "pack": VALID_PACK_ID, "problems": []}],
    }


def test_validate_subprocess_broken_and_missing(tmp_path: Path):
    path = write_pack(tmp_path, BROKEN_PACK, "broken.yaml")
    broken = run_subprocess("validate", "--no-run", str(path))
    assert broken.returncode == 1, broken.stderr
    assert "Traceback" not in broken.stderr
    assert broken.stdout.splitlines()[1] == (
        f"{path}:37:17: error: questions[1].difficulty: "
        "expected 'easy', 'medium' or 'hard', got 'medum': did you mean 'medium'?"
    )
    missing = run_subprocess("validate", "--no-run", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2
    assert f"no such file or folder: {tmp_path / 'missing.yaml'}" in missing.stderr


def test_validate_subprocess_json(tmp_path: Path, valid_pack_file: Path):
    result = run_subprocess("validate", "--no-run", "--json", str(valid_pack_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["pack"] == VALID_PACK_ID


def test_validate_known_packs_with_a_missing_pack_path_fails(capsys, tmp_path: Path):
    missing = tmp_path / "missing.yaml"
    code, out, err = run(capsys, "--pack", str(missing), "validate", "--no-run")
    assert code != 0
    assert str(missing) in out + err


# --- list -----------------------------------------------------------------------------------------------


def test_list_shows_a_pack_given_with_pack(capsys, valid_pack_file: Path):
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "list")
    assert code == 0
    lines = out.splitlines()
    assert "test-pack  Test pack  (v1.2.0, 5 questions, cli)" in lines
    start = lines.index("test-pack  Test pack  (v1.2.0, 5 questions, cli)")
    assert [line.split()[0] for line in lines[start + 1 : start + 6]] == VALID_QUESTION_IDS
    assert lines[start + 1].split()[:4] == ["pick-activation", "choice", "easy", "1"]
    assert lines[start + 3].split()[:4] == ["scale-module", "code", "hard", "10"]
    assert "could not be loaded" not in err


def test_list_json_shows_a_pack_given_with_pack(capsys, valid_pack_file: Path):
    entry = listed(capsys, "--pack", str(valid_pack_file))[VALID_PACK_ID]
    assert entry["title"] == "Test pack"
    assert entry["version"] == "1.2.0"
    assert entry["file"] == str(valid_pack_file)
    assert entry["origin"] == "cli"
    assert [q["id"] for q in entry["questions"]] == VALID_QUESTION_IDS
    assert [q["kind"] for q in entry["questions"]] == ["choice", "predict", "code", "fix", "explain"]
    assert entry["questions"][0] == {
        "id": "pick-activation",
        "kind": "choice",
        "title": "Pick an activation",
        "difficulty": "easy",
        "minutes": 1,
        "points": 1,  # the default: a question is worth one point unless the pack says otherwise
        "tags": ["basics"],
    }


def test_list_a_folder_given_with_pack(capsys, valid_pack_file: Path):
    entry = listed(capsys, "--pack", str(valid_pack_file.parent))[VALID_PACK_ID]
    assert entry["file"] == str(valid_pack_file)


def test_list_json_shows_packs_from_quizapp_packs(capsys, monkeypatch, tmp_path: Path):
    one = write_pack(tmp_path / "one", VALID_PACK.replace("id: test-pack\n", "id: env-one\n"))
    two = write_pack(tmp_path / "two", VALID_PACK.replace("id: test-pack\n", "id: env-two\n"))
    monkeypatch.setenv("QUIZAPP_PACKS", f"{one}{os.pathsep}{two.parent}")
    packs = listed(capsys)
    assert packs["env-one"]["origin"] == "env"
    assert packs["env-one"]["file"] == str(one)
    assert packs["env-two"]["origin"] == "env"
    assert packs["env-two"]["file"] == str(two)
    _, out, _ = run(capsys, "list")
    assert "env-one  Test pack  (v1.2.0, 5 questions, env)" in out.splitlines()


def test_list_subprocess_with_quizapp_packs(valid_pack_file: Path):
    result = run_subprocess("list", "--json", env={"QUIZAPP_PACKS": str(valid_pack_file)})
    assert result.returncode == 0, result.stderr
    packs = {entry["id"]: entry for entry in json.loads(result.stdout)}
    assert packs[VALID_PACK_ID]["origin"] == "env"
    assert packs[VALID_PACK_ID]["file"] == str(valid_pack_file)


def test_pack_in_quizapp_home_is_a_user_pack(capsys, quizapp_home: Path):
    path = write_pack(quizapp_home / "packs", VALID_PACK.replace("id: test-pack\n", "id: my-own\n"), "mine.yml")
    entry = listed(capsys)["my-own"]
    assert entry["origin"] == "user"
    assert entry["file"] == str(path)
    catalogue = discover()
    assert catalogue.sources["my-own"].origin == "user"


def test_packs_outside_quizapp_home_are_not_user_packs(capsys, tmp_path: Path):
    write_pack(tmp_path / "elsewhere" / "packs", VALID_PACK.replace("id: test-pack\n", "id: not-mine\n"))
    assert "not-mine" not in listed(capsys)


def test_list_notes_a_broken_pack_on_stderr(capsys, tmp_path: Path):
    path = write_pack(tmp_path, BROKEN_PACK, "broken.yaml")
    code, out, err = run(capsys, "--pack", str(path), "list")
    assert code == 0
    assert "test-pack" not in out
    assert f"could not be loaded: {path}" in err
    assert "run 'quizapp validate'" in err


def test_list_notes_a_missing_pack_path(capsys, tmp_path: Path):
    missing = tmp_path / "gone.yaml"
    code, _, err = run(capsys, "--pack", str(missing), "list")
    assert code == 0
    assert f"quizapp: error: {missing}: no such pack file or folder (given with --pack)" in err


# --- shadowing --------------------------------------------------------------------------------------------


def test_later_pack_with_the_same_id_shadows_with_a_warning(capsys, tmp_path: Path):
    first, second = shadow_packs(tmp_path)
    entry = listed(capsys, "--pack", str(first), "--pack", str(second))["shadow-pack"]
    assert entry["title"] == "Second shadow"
    assert entry["file"] == str(second)
    catalogue = discover([first, second])
    assert catalogue.pack("shadow-pack").title == "Second shadow"
    warnings = [p for p in catalogue.problems if p.severity == "warning"]
    assert [(w.file, w.message) for w in warnings] == [(str(second), f"pack 'shadow-pack' replaces the one in {first}")]
    assert str(warnings[0]) == f"{second}:1:1: warning: pack 'shadow-pack' replaces the one in {first}"


def test_command_line_shadows_quizapp_packs_which_shadows_user_packs(
    capsys, monkeypatch, tmp_path: Path, quizapp_home: Path
):
    user = write_pack(quizapp_home / "packs", VALID_PACK.replace("title: Test pack\n", "title: From user\n"))
    env = write_pack(tmp_path / "env", VALID_PACK.replace("title: Test pack\n", "title: From env\n"))
    cli = write_pack(tmp_path / "cli", VALID_PACK.replace("title: Test pack\n", "title: From cli\n"))
    monkeypatch.setenv("QUIZAPP_PACKS", str(env))
    assert listed(capsys)[VALID_PACK_ID]["title"] == "From env"
    entry = listed(capsys, "--pack", str(cli))[VALID_PACK_ID]
    assert (entry["title"], entry["origin"]) == ("From cli", "cli")
    catalogue = discover([cli])
    assert [p.message for p in catalogue.problems if p.severity == "warning"] == [
        f"pack 'test-pack' replaces the one in {user}",
        f"pack 'test-pack' replaces the one in {env}",
    ]


def test_cli_shows_the_shadowing_warning(capsys, tmp_path: Path):
    first, second = shadow_packs(tmp_path)
    _, out, err = run(capsys, "--pack", str(first), "--pack", str(second), "list")
    assert f"replaces the one in {first}" in out + err


# --- show -----------------------------------------------------------------------------------------------


def show(capsys, pack_file: Path, target: str, *extra: str) -> str:
    code, out, err = run(capsys, "--pack", str(pack_file), "show", target, *extra)
    assert code == 0, err
    return out


def test_show_code_question_prints_the_prompt_not_the_solution(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack/scale-module")
    lines = out.splitlines()
    assert lines[0] == "# A scaling module"
    assert lines[1] == "code · hard · about 10 min"
    assert "Write a module that multiplies its input by a learnt scale." in lines
    assert "Define: Scale(features)" in lines
    assert "class Scale:\n    pass" in out  # the starter
    assert "Checks: 6 run by Run, 7 by Submit" in lines
    assert "Reference solution:" not in out
    assert "self.weight = nn.Parameter" not in out
    assert "One parameter, one multiplication." not in out  # the explanation


def test_show_solution_prints_the_solution(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack/scale-module", "--solution")
    assert "Reference solution:" in out
    assert "        self.weight = nn.Parameter(torch.ones(features))" in out
    assert "return x * self.weight" in out
    assert "Explanation:\nOne parameter, one multiplication." in out
    assert "return x + self.weight" not in out  # decoys stay hidden


def test_show_choice_marks_answers_only_with_solution(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack/pick-activation")
    assert "Which of these are activation functions?" in out
    assert "Select all that apply:" in out
    assert "  a) nn.ReLU" in out.splitlines()
    assert "[x]" not in out
    assert "ReLU is an activation." not in out
    assert "1 hint(s) available." in out
    out = show(capsys, valid_pack_file, "test-pack/pick-activation", "--solution")
    assert ["  a) [x] nn.ReLU", "       ReLU is an activation.", "  b) [ ] nn.Linear", "  c) [x] nn.GELU"] == [
        line for line in out.splitlines() if line.startswith("  ")
    ]


def test_show_predict_hides_the_answer(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack/predict-shape")
    assert "print(tuple((torch.ones(2, 3) @ torch.ones(3, 4)).shape))" in out
    assert "It prints:" not in out
    assert "(2, 4)" not in out
    out = show(capsys, valid_pack_file, "test-pack/predict-shape", "--solution")
    assert "It prints:\n(2, 4)" in out


def test_show_explain_hides_the_model_answer(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack/why-no-grad")
    assert "Why wrap evaluation in torch.no_grad()?" in out
    assert "No graph is recorded" not in out
    out = show(capsys, valid_pack_file, "test-pack/why-no-grad", "--solution")
    assert "Model answer:\nNo graph is recorded" in out
    assert "  - No autograd graph is built." in out.splitlines()


def test_show_unknown_pack_exits_2_with_known_ids(capsys, valid_pack_file: Path):
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "show", "no-such-pack/pick-activation")
    assert code == 2
    assert out == ""
    match = re.search(r"quizapp: no pack 'no-such-pack' \(known packs: (.*)\)", err)
    assert match, err
    assert VALID_PACK_ID in match[1].split(", ")


def test_show_unknown_question_exits_2_with_known_ids(capsys, valid_pack_file: Path):
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "show", "test-pack/no-such-question")
    assert code == 2
    assert out == ""
    assert err.startswith("quizapp: pack 'test-pack' has no question 'no-such-question'")
    match = re.search(r"(?i)its questions: (.*)$", err.strip())
    assert match, err
    assert match[1].split(", ") == VALID_QUESTION_IDS


def test_show_misspelt_question_suggests_the_close_one(capsys, valid_pack_file: Path):
    code, _, err = run(capsys, "--pack", str(valid_pack_file), "show", "test-pack/fix-reul")
    assert code == 2
    assert "'test-pack/fix-relu'" in err


def test_show_pack_alone_prints_its_summary(capsys, valid_pack_file: Path):
    out = show(capsys, valid_pack_file, "test-pack")
    assert "Test pack (v1.2.0)" in out
    assert "A small pack for the tests." in out
    assert ", ".join(VALID_QUESTION_IDS) in out


def test_show_subprocess(valid_pack_file: Path):
    result = run_subprocess("--pack", str(valid_pack_file), "show", "test-pack/fix-relu")
    assert result.returncode == 0, result.stderr
    assert "return torch.sigmoid(x)" in result.stdout  # the starter
    assert "return torch.relu(x)" not in result.stdout
    unknown = run_subprocess("--pack", str(valid_pack_file), "show", "test-pack/nope")
    assert unknown.returncode == 2
    assert "questions: pick-activation, predict-shape" in unknown.stderr.lower()


# --- schema, help ----------------------------------------------------------------------------------------


def test_schema_prints_the_json_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema == json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "quizapp question pack"
    assert "questions" in schema["required"]


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == "quizapp 0.1.0"


def test_help_does_not_import_torch_importtime():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "quizapp", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: quizapp" in result.stdout
    modules = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "quizapp.cli" in modules  # the check below sees real module names
    assert [m for m in modules if m == "torch" or m.startswith("torch.")] == []


def test_help_does_not_import_torch_sys_modules():
    code = (
        "import sys\n"
        "from quizapp.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print('torch' in sys.modules, 'quizapp.cli' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False True"


# --- grade --------------------------------------------------------------------------------------------------

RELU_RIGHT = "import torch\n\n\ndef act(x):\n    return torch.relu(x)\n"
RELU_WRONG = "import torch\n\n\ndef act(x):\n    return torch.sigmoid(x)\n"
# An answer that prints every C0 control character and tries to redraw the terminal into a fake verdict.
FORGERY = (
    "import torch\n"
    f"print({''.join(chr(c) for c in range(0x20))!r})\n"
    "print('\\x1b[2J\\x1b[H\\x1b[32manswer.py: accepted\\x1b[0m\\r')\n\n\n"
    "def act(x):\n    return torch.sigmoid(x)\n"
)


@pytest.mark.jail
def test_grade_several_files_in_input_order_and_escapes_learner_output(
    capsys, tmp_path: Path, valid_pack_file: Path, commands_on_session_pool
):
    files = []
    for index, text in enumerate([RELU_WRONG, RELU_RIGHT, FORGERY, RELU_RIGHT]):
        path = tmp_path / f"answer-{index}.py"
        path.write_text(text)
        files.append(str(path))
    # In this process on the session's pool: the command graded end to end in a real process is the closed-pipe
    # test below, whose pool is the command's own.
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "grade", f"{VALID_PACK_ID}/fix-relu", *files, "--json")
    assert code == 1, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["file"] for line in lines] == files
    assert [line["verdict"] for line in lines] == ["wrong_answer", "accepted", "wrong_answer", "accepted"]
    assert "\\u001b[2J" in out and "\x1b" not in out  # the forger's escape sequence is data in the JSON, not sent raw

    code, out, _ = run(capsys, "grade", f"{VALID_PACK_ID}/fix-relu", files[2], "--pack", str(valid_pack_file))
    assert code == 1
    assert out.startswith(f"{files[2]}: wrong_answer (")
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in out), repr(out)  # no control character but these
    assert "\\x1b[2J\\x1b[H\\x1b[32manswer.py: accepted\\x1b[0m\\x0d" in out  # shown, harmless
    assert "\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\t" in out and "\\x0b\\x0c\\x0d\\x0e" in out


@pytest.mark.jail
def test_grade_into_a_closed_pipe_ends_without_a_traceback(tmp_path: Path, valid_pack_file: Path):
    files = []
    for index in range(6):
        path = tmp_path / f"answer-{index}.py"
        # the later answers take a second, so their lines come after the reader has gone (a fast judge could
        # otherwise write every line into the pipe before it closes, and nothing would be refused)
        path.write_text(RELU_RIGHT if index == 0 else "import time\ntime.sleep(1)\n" + RELU_RIGHT)
        files.append(str(path))
    command = ["--pack", str(valid_pack_file), "grade", f"{VALID_PACK_ID}/fix-relu", *files, "-j", "1"]
    process = subprocess.Popen(  # the command graded end to end in a process of its own, on a pool of its own
        [sys.executable, "-m", "quizapp", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # as `| head -1` does: read one line, then go away
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=120)
    assert first.startswith(f"{files[0]}: accepted")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert process.returncode == 1


def test_grade_jobs_must_be_a_positive_number(capsys, valid_pack_file: Path):
    for jobs in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as caught:
            main(["--pack", str(valid_pack_file), "grade", f"{VALID_PACK_ID}/fix-relu", "a.py", "-j", jobs])
        assert caught.value.code == 2
        assert f"argument -j/--jobs: expected a whole number of at least 1, got '{jobs}'" in capsys.readouterr().err


def test_grade_a_choice_answer_with_a_byte_order_mark(capsys, tmp_path: Path, valid_pack_file: Path):
    answer = tmp_path / "pick.txt"
    answer.write_bytes("\ufeffa c\n".encode())
    code, out, _ = run(capsys, "--pack", str(valid_pack_file), "grade", f"{VALID_PACK_ID}/pick-activation", str(answer))
    assert code == 0 and f"{answer}: accepted" in out


def test_grade_grades_the_files_it_can_read_and_exits_2_for_the_ones_it_cannot(
    capsys, tmp_path: Path, valid_pack_file: Path
):
    """One missing file among several used to stop the command before any was graded (a new user's report)."""
    right, wrong = tmp_path / "right.txt", tmp_path / "wrong.txt"
    right.write_text("a c\n")
    wrong.write_text("b\n")
    missing = tmp_path / "missing.txt"
    target = f"{VALID_PACK_ID}/pick-activation"
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "grade", target, str(right), str(missing), str(wrong))
    assert code == 2  # a usage error, once the others are graded
    assert f"{right}: accepted" in out and f"{wrong}: wrong_answer" in out
    assert out.index(str(right)) < out.index(str(wrong))
    assert f"cannot read {missing}" in err and "the other files are graded" in err
    code, out, err = run(capsys, "--pack", str(valid_pack_file), "grade", target, str(missing))
    assert code == 2 and out == "" and f"cannot read {missing}" in err  # nothing to grade: one message


def test_grade_unknown_question_exits_2_with_one_message(capsys, valid_pack_file: Path):
    code, out, err = run(capsys, "grade", f"{VALID_PACK_ID}/pick-activaton", "x.py", "--pack", str(valid_pack_file))
    assert code == 2 and out == ""
    assert err == (
        f"quizapp: pack '{VALID_PACK_ID}' has no question 'pick-activaton'. Did you mean "
        f"'{VALID_PACK_ID}/pick-activation'? Its questions: {', '.join(VALID_QUESTION_IDS)}\n"
    )


def test_a_broken_progress_store_is_one_message(capsys, quizapp_home: Path):
    from quizapp.store.progress import default_path

    default_path().parent.mkdir(parents=True, exist_ok=True)
    default_path().write_bytes(b"this is not a database" * 100)
    code, out, err = run(capsys, "report")
    assert code == 2 and out == ""
    assert err.startswith("quizapp: ") and "Traceback" not in err and str(default_path()) in err


def test_every_command_is_in_the_dispatch_table():
    from quizapp.cli import COMMANDS, build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subparsers.choices) | {None} == set(COMMANDS)
