"""Grading a class: graded, changed, regraded and exported to a gradebook with numeric totals; instructor's marks
fed back; strays reported; interrupted runs say they are partial and resume to the same tables."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from classroom import write_class
from conftest import VALID_PACK

from quizapp import locations
from quizapp.cli import main
from quizapp.grading import batch
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import check_pack_text, load_pack, model

pytestmark = pytest.mark.jail

MODULES = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")

# The conftest pack, with points: the code question is worth 4, the explain question 3, the others 1. (Its trace
# rule `merges_input: mul` is dropped: x * weight joins the input with a parameter, not two paths from the input.)
COURSE_TEXT = (
    VALID_PACK.replace("          - merges_input: mul\n", "")
    .replace(
        "    prompt: Write a module that multiplies its input by a learnt scale.\n",
        "    prompt: Write a module that multiplies its input by a learnt scale.\n    points: 4\n",
    )
    .replace(
        "    prompt: Why wrap evaluation in torch.no_grad()?\n",
        "    prompt: Why wrap evaluation in torch.no_grad()?\n    points: 3\n",
    )
)


def _course(text: str = COURSE_TEXT) -> model.Pack:
    loaded = check_pack_text(text, "course.yaml")
    assert loaded.pack is not None, loaded.problems
    return loaded.pack


COURSE = _course()
SCALE = COURSE.question("scale-module")
FIX = COURSE.question("fix-relu")
assert isinstance(SCALE, model.CodeBase) and isinstance(FIX, model.CodeBase)
LOOP = "while True:\n    pass\n"


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _small_class(folder: Path) -> None:
    """ada: all right; bob: a wrong module (partial credit), a wrong pick; cara: two answers and an explanation."""
    _write(
        folder,
        {
            "ada/pick-activation.txt": "a c",
            "ada/predict-shape.txt": "(2, 4)\n",
            "ada/scale-module.py": SCALE.solution or "",
            "ada/fix-relu.py": FIX.solution or "",
            "ada/why-no-grad.md": "No graph is recorded, so activations are not kept: less memory.",
            "bob/pick-activation.txt": "b",
            "bob/predict-shape.txt": "(4, 2)",
            "bob/scale-module.py": SCALE.decoys[0].code,
            "bob/fix-relu.py": FIX.starter,
            "cara/pick-activation.txt": "a,c",
            "cara/scale-module.py": SCALE.solution or "",
            "cara/why-no-grad.md": "",  # an empty explanation earns nothing and needs no reading
        },
    )


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def grader(judged, tmp_path: Path) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path / "cache"))


def test_a_class_is_graded_changed_regraded_and_exported_with_numeric_totals(tmp_path: Path, grader) -> None:
    folder, out = tmp_path / "class", tmp_path / "grades"
    _small_class(folder)
    first = batch.run_batch(COURSE, folder, out, grader, workers=2)
    assert (first.graded, first.reused, first.interrupted) == (15, 0, False)
    assert first.reasons == {"new": 15}
    tables = batch.write_tables(COURSE, folder, out)

    # The gradebook: points per question (the pack's points, partial credit by check points), then totals.
    with tables.paths["csv"].open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["student_id", *[q.id for q in COURSE.questions], "total", "maximum", "percent", "status"]
    rows = _rows(tables.paths["csv"])
    assert rows["ada"] == {
        "student_id": "ada",
        "pick-activation": "1",
        "predict-shape": "1",
        "scale-module": "4",
        "fix-relu": "1",
        "why-no-grad": "",  # an explanation waits for the instructor's marks
        "total": "7",
        "maximum": "10",
        "percent": "70.0",
        "status": "partial: 1 to review",
    }
    journal = batch.read_journal(out)
    share = journal[("bob", "scale-module")]["result"]["score"]
    assert 0 < share < 1  # the decoy passes some checks: partial credit by check points
    assert rows["bob"]["scale-module"] == f"{round(4 * share, 2):g}"
    assert rows["bob"]["pick-activation"] == "0" and rows["bob"]["predict-shape"] == "0"
    assert rows["cara"]["predict-shape"] == "0" and rows["cara"]["why-no-grad"] == "0"  # missing, and empty
    assert rows["cara"]["status"] == "complete" and rows["cara"]["total"] == "5"
    verdicts = _rows(tables.paths["verdicts"])
    assert verdicts["bob"]["scale-module"] == "wrong_answer" and verdicts["cara"]["predict-shape"] == "missing"
    assert verdicts["ada"]["why-no-grad"] == "to review" and verdicts["ada"]["solved"] == "4"
    document = json.loads(tables.paths["json"].read_text())
    assert document["complete"] is False and document["open"] == {"to review": 1}
    assert {q["id"]: q["points"] for q in document["questions"]}["scale-module"] == 4

    # The instructor marks the explanation in marks.csv; the next run reads it back.
    marks = tables.paths["marks"]
    with marks.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["student_id"] == "ada" and row["question"] == "why-no-grad" and row["max_points"] == "3"
    assert row["answer"] == "No graph is recorded, so activations are not kept: less memory." and row["marks"] == ""
    text = marks.read_text().replace(",3,,", ",3,2.5,")
    marks.write_text(text)
    assert batch.run_batch(COURSE, folder, out, grader).graded == 0
    tables = batch.write_tables(COURSE, folder, out)
    assert tables.complete
    rows = _rows(tables.paths["csv"])
    assert (rows["ada"]["why-no-grad"], rows["ada"]["total"], rows["ada"]["percent"]) == ("2.5", "9.5", "95.0")
    assert rows["ada"]["status"] == "complete"
    assert ",2.5," in tables.paths["marks"].read_text()  # the marks are kept when the file is written again

    # The pack changes: the code question's outputs check gets a new case. Only its answers are graded again.
    changed = _course(
        COURSE_TEXT.replace("              - [2, 3]\n", "              - [2, 3]\n              - [5, 3]\n")
    )
    again = batch.run_batch(changed, folder, out, grader)
    assert (again.graded, again.reused) == (3, 12)
    assert again.reasons == {"question": 3} and again.changed_questions == {"scale-module"}
    assert "3 the question changed in the pack" in again.summary()
    assert "questions changed since the last run: scale-module" in again.summary()
    # Points are presentation, not grading: changing them regrades nothing, and the totals follow.
    repointed = _course(
        COURSE_TEXT.replace("              - [2, 3]\n", "              - [2, 3]\n              - [5, 3]\n").replace(
            "    points: 4\n", "    points: 8\n"
        )
    )
    assert batch.run_batch(repointed, folder, out, grader).graded == 0
    rows = _rows(batch.write_tables(repointed, folder, out).paths["csv"])
    assert (rows["ada"]["scale-module"], rows["ada"]["maximum"]) == ("8", "14")

    # An answer changes: that answer alone; another mode: everything, saying why.
    (folder / "bob" / "pick-activation.txt").write_text("a c")
    one = batch.run_batch(repointed, folder, out, grader)
    assert (one.graded, one.reasons) == (1, {"answer": 1})
    assert _rows(batch.write_tables(repointed, folder, out).paths["verdicts"])["bob"]["pick-activation"] == "accepted"
    run_mode = batch.run_batch(repointed, folder, out, grader, mode="run")
    assert (run_mode.graded, run_mode.reasons) == (15, {"mode": 15})
    # The explanation's answer did not change, so its marks still count.
    assert _rows(batch.write_tables(repointed, folder, out).paths["csv"])["ada"]["why-no-grad"] == "2.5"


def test_a_changed_explanation_needs_marking_again(tmp_path: Path, grader) -> None:
    folder, out = tmp_path / "class", tmp_path / "grades"
    _write(folder, {"ada/why-no-grad.md": "It saves memory."})
    batch.run_batch(COURSE, folder, out, grader)
    marks = batch.write_tables(COURSE, folder, out).paths["marks"]
    marks.write_text(marks.read_text().replace(",3,,", ",3,9,"))  # more than the question is worth
    tables = batch.write_tables(COURSE, folder, out)
    assert tables.marks_problems == ["marks.csv:2: marks 9 is not between 0 and 3"]
    assert ",3,9," in marks.read_text()  # kept as typed, to be corrected
    marks.write_text(marks.read_text().replace(",3,9,", ",3,1,"))
    assert _rows(batch.write_tables(COURSE, folder, out).paths["csv"])["ada"]["why-no-grad"] == "1"
    (folder / "ada" / "why-no-grad.md").write_text("It saves memory and time: no graph is kept.")
    batch.run_batch(COURSE, folder, out, grader)
    tables = batch.write_tables(COURSE, folder, out)
    assert _rows(tables.paths["csv"])["ada"]["why-no-grad"] == "" and tables.open_counts == {"to review": 1}


def test_strays_are_reported_with_their_reason(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    _write(
        folder,
        {
            "ada/week3/scale-module.py": "x = 1\n",
            "ada/scale_module.py": "x = 1\n",
            "ada/notes.txt": "hello",
            "bob/pick-activation.txt": "a",
            "bob/pick-activation.py": "a c",
            "bob/.hidden": "ignored",
            "roster.csv": "ada,bob",
        },
    )
    the_plan = batch.plan(COURSE, folder)
    reasons = {stray.path: stray.reason for stray in the_plan.strays}
    assert reasons == {
        "roster.csv": "not in a student's folder",
        "ada/week3/scale-module.py": "in a sub-folder; move it to ada/ to grade it",
        "ada/scale_module.py": "no question 'scale_module': did you mean 'scale-module'? rename the file to grade it",
        "ada/notes.txt": "no question 'notes' in the pack",
        "bob/pick-activation.py": "one of 2 files answering pick-activation: none graded",
        "bob/pick-activation.txt": "one of 2 files answering pick-activation: none graded",
    }
    (ambiguous,) = [s for s in the_plan.submissions if s.ambiguous]
    assert ambiguous.key == ("bob", "pick-activation") and ambiguous.path is None


def test_the_generated_class_gets_the_expected_verdicts(tmp_path: Path, grader) -> None:
    """The built-in pack's class: right answers in many styles, wrong, hostile, binary and misnamed files."""
    folder, out = tmp_path / "class", tmp_path / "grades"
    expected = write_class(MODULES, folder)
    run = batch.run_batch(MODULES, folder, out, grader, workers=2)
    assert (run.graded, run.reused, run.interrupted) == (len(expected), 0, False)
    tables = batch.write_tables(MODULES, folder, out)
    verdicts = _rows(tables.paths["verdicts"])
    ids = [q.id for q in MODULES.questions]
    assert {(student, qid): row[qid] for student, row in verdicts.items() for qid in ids} == expected
    assert verdicts["ada-0"]["solved"] == "4" and verdicts["mallory"]["solved"] == "0"
    points = _rows(tables.paths["csv"])
    assert points["ada-0"]["total"] == "4" and points["ada-0"]["maximum"] == f"{len(ids)}"
    assert [s.path for s in tables.strays] == ["mallory/notes.txt"]
    resnet_failures = dict(tables.common_failures["resnet-residual-block"])
    assert resnet_failures["The input is added back"] >= 3  # missing skip, ReLU before add, Sequential only

    suites = {s.get("name"): s for s in ElementTree.parse(tables.paths["junit"]).getroot()}
    assert suites["ada-0"].get("failures") == "0" and suites["ada-0"].get("errors") == "0"
    assert suites["eve"].get("errors") == "2"  # time limit, runtime error
    failure = suites["bob-4"].find("testcase[@name='resnet-residual-block']/failure")
    assert failure is not None and "no skip connection" in (failure.text or "") + (failure.get("message") or "")


CONTROL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\n")
ANSI_FORGERY = (
    "import sys\n"
    f"print({CONTROL!r})\n"
    "print('\\x1b[2J\\x1b[H\\x1b[32mscale.py: accepted\\x1b[0m')\n"
    f"raise ValueError({('forged ' + CONTROL + ' accepted')!r})\n"
)


def test_junit_holds_no_character_xml_forbids(tmp_path: Path, grader) -> None:
    folder, out = tmp_path / "class", tmp_path / "grades"
    _write(folder, {"eve/scale-module.py": ANSI_FORGERY, "eve\x1b[31m/fix-relu.py": ANSI_FORGERY})
    batch.run_batch(COURSE, folder, out, grader)
    junit = batch.write_tables(COURSE, folder, out).paths["junit"]
    root = ElementTree.parse(junit).getroot()  # parses: no control character survived
    text = junit.read_text()
    assert "\x1b" not in text and "\x00" not in text and "\\x1b" in text
    error = root.find("testsuite[@name='eve']/testcase[@name='scale-module']/error")
    assert error is not None and error.get("type") == "runtime_error" and "forged" in error.get("message", "")


def _batch_process(pack_file: Path, folder: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "quizapp", "grade-batch", str(pack_file), str(folder), "-o", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_interrupts_stop_at_once_and_the_tables_say_partial_then_resume(
    tmp_path: Path, capsys, commands_on_session_pool
) -> None:
    """The interrupts reach a real process; the resumed run is the same command, main() on the session's pool."""
    pack_file = tmp_path / "course.yaml"
    pack_file.write_text(COURSE_TEXT.replace("    cpu_seconds: 4\n", "    cpu_seconds: 1\n", 1))
    folder = tmp_path / "class"
    _small_class(folder)
    # Two answers that run to their time limit keep the run busy when the interrupts come. One judge worker (-j 1):
    # the process starts a pool of its own, and a second worker would add an import of torch and nothing the
    # interrupts test (answers in flight finish or are abandoned, the ones queued never start).
    _write(folder, {"xavier/scale-module.py": LOOP, "xavier/fix-relu.py": LOOP})
    out = tmp_path / "grades"
    process = _batch_process(pack_file, folder, out, "-j", "1")
    journal = out / batch.JOURNAL
    _wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 3)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    said = []  # the second Ctrl-C once the first is answered, while the run still waits for its answer in flight
    while not any("interrupted: no new answer starts" in line for line in said):
        line = process.stderr.readline()
        assert line, "".join(said)
        said.append(line)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    stderr = "".join(said) + stderr
    assert "Traceback" not in stderr
    assert "interrupted: no new answer starts; waiting for the" in stderr
    assert "stopping now" in stderr
    assert process.returncode == 1
    assert "interrupted after grading" in stdout and "left for the next run" in stdout
    rows = _rows(out / "grades.csv")
    assert any(row["status"].startswith("partial:") and "not graded" in row["status"] for row in rows.values())
    assert json.loads((out / "results.json").read_text())["complete"] is False
    assert "PARTIAL" in (out / "junit.xml").read_text()
    graded_before = len(batch.read_journal(out))

    code = main(["grade-batch", str(pack_file), str(folder), "-o", str(out), "-j", "2"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    total = 4 * 5
    assert f"graded {total - graded_before} answer(s), {graded_before} unchanged since the last run" in stdout
    rows = _rows(out / "grades.csv")
    assert rows["xavier"]["scale-module"] == "0" and rows["xavier"]["status"] == "complete"
    assert rows["ada"]["status"] == "partial: 1 to review"
    verdicts = _rows(out / "verdicts.csv")
    assert (verdicts["xavier"]["scale-module"], verdicts["xavier"]["fix-relu"]) == ("time_limit", "time_limit")
    assert os.path.getsize(out / "junit.xml") > 0


def test_grade_batch_takes_a_pack_file_and_pack_after_the_command(tmp_path: Path, capsys) -> None:
    """The command's arguments, in this process: the class has no code answer, so no judge starts."""
    pack_file = tmp_path / "course.yaml"
    pack_file.write_text(COURSE_TEXT)
    folder = tmp_path / "class"
    _write(folder, {"ada/pick-activation.txt": "a c", "ada/pick_activation.txt": "a", "ada/why-no-grad.md": "memory"})
    assert main(["grade-batch", "test-pack", str(folder), "--pack", str(pack_file)]) == 0
    out = capsys.readouterr().out
    assert "graded 5 answer(s), 0 unchanged since the last run, of 5" in out
    assert "not graded: ada/pick_activation.txt: no question 'pick_activation': did you mean" in out
    assert "to review: 1 explain answer(s): fill in the marks column of" in out
    grades = folder.with_name("class-grades")
    assert _rows(grades / "grades.csv")["ada"]["pick-activation"] == "1"
    assert main(["grade-batch", str(pack_file), str(folder)]) == 0
    assert "graded 0 answer(s), 5 unchanged" in capsys.readouterr().out


class CrashOn(Grader):
    """A grader with a bug that one answer triggers."""

    def grade(self, pack, question, answer, mode="submit", ticked=()):
        if "crash" in answer:
            raise ValueError("a bug of ours")
        return super().grade(pack, question, answer, mode=mode, ticked=ticked)


def test_an_answer_that_crashes_the_grader_gets_its_own_verdict(tmp_path: Path) -> None:
    folder, out = tmp_path / "class", tmp_path / "grades"
    _write(folder, {"ada/pick-activation.txt": "crash", "bob/pick-activation.txt": "a c"})
    run = batch.run_batch(COURSE, folder, out, CrashOn(None))
    assert (run.graded, run.interrupted) == (10, False)
    verdicts = _rows(batch.write_tables(COURSE, folder, out).paths["verdicts"])
    assert (verdicts["ada"]["pick-activation"], verdicts["bob"]["pick-activation"]) == ("internal_error", "accepted")
    entry = batch.read_journal(out)[("ada", "pick-activation")]
    assert entry["result"]["message"] == "grading this answer failed: ValueError: a bug of ours"
