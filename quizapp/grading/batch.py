"""Grade a class: a folder per student, a file per question, graded in parallel over the judge's pool.

Every graded answer is appended to a journal (`results.jsonl`) as soon as it is known, with the hash of
the file it graded; a run that is interrupted and started again grades only what the journal lacks or
what changed since. The tables (CSV, JSON, JUnit XML) and the summary are always written from the journal,
so an interrupted-and-resumed batch gives the same tables as an uninterrupted one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..packs import model
from .grader import Grader
from .result import Result

JOURNAL = "results.jsonl"


@dataclass(frozen=True)
class Submission:
    student: str
    question_id: str
    path: Path | None  # None: the student did not submit this question

    @property
    def key(self) -> tuple[str, str]:
        return self.student, self.question_id


@dataclass
class Plan:
    submissions: list[Submission]
    students: list[str]
    strays: list[Path] = field(default_factory=list)  # files that answer no question of the pack


def plan(pack: model.Pack, folder: Path) -> Plan:
    """Every (student, question) pair: a student is a sub-folder; an answer is a file named by the question's
    id with any extension (`resnet-residual-block.py`, `net-defects.txt`)."""
    ids = [q.id for q in pack.questions]
    students = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    submissions: list[Submission] = []
    strays: list[Path] = []
    for student in students:
        files: dict[str, Path] = {}
        for path in sorted((folder / student).iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            question_id = path.name.split(".", 1)[0]
            if question_id in ids and question_id not in files:
                files[question_id] = path
            else:
                strays.append(path)
        submissions.extend(Submission(student, qid, files.get(qid)) for qid in ids)
    return Plan(submissions, students, strays)


def file_digest(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else "missing"


def read_journal(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest entry per (student, question); a torn last line (an interrupted write) is ignored."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    journal = out / JOURNAL
    if not journal.exists():
        return entries
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        entries[(entry["student"], entry["question"])] = entry
    return entries


def grade_one(grader: Grader, pack: model.Pack, submission: Submission, mode: str) -> Result | None:
    """The answer's Result, or None when the student submitted nothing for this question."""
    question = pack.question(submission.question_id)
    if submission.path is None:
        return None
    try:
        text = submission.path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return Result("syntax_error", message=f"{submission.path.name} is not UTF-8 text (is it a binary file?)")
    except OSError as error:
        return Result("internal_error", message=f"cannot read {submission.path}: {error.strerror or error}")
    if "\x00" in text:
        return Result("syntax_error", message=f"{submission.path.name} holds NUL bytes: it is not a text file")
    return grader.grade(pack, question, text, mode=mode)


@dataclass
class BatchRun:
    graded: int = 0
    reused: int = 0
    total: int = 0
    interrupted: bool = False


def run_batch(
    pack: model.Pack,
    folder: Path,
    out: Path,
    grader: Grader,
    *,
    workers: int = 2,
    mode: str = "submit",
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> BatchRun:
    """Grade what the journal does not already hold; append each result to it as it comes."""
    out.mkdir(parents=True, exist_ok=True)
    the_plan = plan(pack, folder)
    done = read_journal(out)
    todo: list[tuple[Submission, str]] = []
    for submission in the_plan.submissions:
        digest = file_digest(submission.path)
        previous = done.get(submission.key)
        if previous is None or previous.get("sha256") != digest:
            todo.append((submission, digest))
    run = BatchRun(reused=len(the_plan.submissions) - len(todo), total=len(the_plan.submissions))
    lock = threading.Lock()
    if progress:
        progress(run.reused, run.total)
    with (out / JOURNAL).open("a", encoding="utf-8") as journal, ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {}
        for submission, digest in todo:
            futures[executor.submit(grade_one, grader, pack, submission, mode)] = (submission, digest)
        try:
            for future in as_completed(futures):
                submission, digest = futures[future]
                if stop is not None and stop.is_set():
                    raise KeyboardInterrupt
                _record(journal, lock, run, submission, digest, future.result())
                if progress:
                    progress(run.reused + run.graded, run.total)
        except KeyboardInterrupt:
            # Keep what is graded; answers not started yet are dropped, the next run grades them.
            run.interrupted = True
            for other in futures:
                other.cancel()
    return run


def _record(
    journal: Any, lock: threading.Lock, run: BatchRun, submission: Submission, digest: str, result: Result | None
) -> None:
    """One graded answer, appended to the journal and flushed at once."""
    entry = {
        "student": submission.student,
        "question": submission.question_id,
        "file": submission.path.name if submission.path else None,
        "sha256": digest,
        "result": result.to_json() if result is not None else None,
    }
    with lock:
        journal.write(json.dumps(entry) + "\n")
        journal.flush()
        run.graded += 1


# --- tables, from the journal -----------------------------------------------------------------------------


def write_tables(pack: model.Pack, folder: Path, out: Path) -> dict[str, Path]:
    the_plan = plan(pack, folder)
    entries = read_journal(out)
    ids = [q.id for q in pack.questions]
    rows = []
    for student in the_plan.students:
        cells = {qid: entries.get((student, qid)) for qid in ids}
        rows.append((student, cells))
    paths = {"csv": out / "grades.csv", "json": out / "results.json", "junit": out / "junit.xml"}
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *ids, "solved", "score"])
        for student, cells in rows:
            verdicts = [_cell(cell) for cell in cells.values()]
            solved = sum(1 for v in verdicts if v == "accepted")
            score = sum(_score(cell) for cell in cells.values())
            writer.writerow([student, *verdicts, solved, f"{score:.2f}"])
    document = {
        "pack": pack.id,
        "version": pack.version,
        "students": [
            {"student": student, "answers": [cell for cell in cells.values() if cell is not None]}
            for student, cells in rows
        ],
        "strays": [str(p.relative_to(folder)) for p in the_plan.strays],
        "common_failures": common_failures(pack, entries.values()),
    }
    paths["json"].write_text(json.dumps(document, indent=2), encoding="utf-8")
    _write_junit(paths["junit"], pack, rows)
    return paths


def _cell(entry: dict[str, Any] | None) -> str:
    """What the table shows for one answer: its verdict, 'missing', or 'not graded' (an interrupted run)."""
    if entry is None:
        return "not graded"
    if entry.get("result") is None:
        return "missing"
    return str(entry["result"].get("verdict", "?"))


def _score(entry: dict[str, Any] | None) -> float:
    """Points for one answer: its score (checks passed, or rubric points) where there is one, else 1 or 0."""
    if not entry or entry.get("result") is None:
        return 0.0
    result = entry["result"]
    if result.get("verdict") == "accepted":
        return 1.0
    score = result.get("score")
    return float(score) if isinstance(score, int | float) else 0.0


def common_failures(pack: model.Pack, entries: Iterable[dict[str, Any]], top: int = 3) -> dict[str, list[Any]]:
    """Per question, the checks (or verdicts) most often not passed, with how many answers."""
    counters: dict[str, Counter[str]] = {q.id: Counter() for q in pack.questions}
    for entry in entries:
        result = entry.get("result")
        if result is None or result.get("verdict") == "accepted":  # missing answers are not failures of a check
            continue
        failing = [t["name"] for t in result.get("tests", []) if t.get("status") != "pass"]
        reasons = failing or [result.get("verdict", "?")]
        counters[entry["question"]].update(set(reasons))
    return {qid: counter.most_common(top) for qid, counter in counters.items() if counter}


def _write_junit(path: Path, pack: model.Pack, rows: list[tuple[str, dict[str, Any]]]) -> None:
    suites = ElementTree.Element("testsuites", name=pack.id)
    for student, cells in rows:
        suite = ElementTree.SubElement(suites, "testsuite", name=student, tests=str(len(cells)))
        failures = errors = skipped = 0
        for question_id, entry in cells.items():
            case = ElementTree.SubElement(suite, "testcase", classname=f"{pack.id}.{student}", name=question_id)
            verdict = _cell(entry)
            result = (entry or {}).get("result") or {}
            case.set("time", f"{result.get('duration_ms', 0) / 1000:.3f}")
            if verdict == "accepted":
                continue
            if verdict in ("missing", "not graded"):
                skipped += 1
                ElementTree.SubElement(case, "skipped", message=f"{verdict}: no answer was graded")
                continue
            failing = [f"{t['name']}: {t.get('message', '')}" for t in result.get("tests", []) if t["status"] != "pass"]
            text = "\n".join(failing) or result.get("message", "")
            if verdict == "wrong_answer":
                failures += 1
                node = ElementTree.SubElement(case, "failure", type=verdict, message=result.get("message", "")[:500])
            else:
                errors += 1
                node = ElementTree.SubElement(case, "error", type=verdict, message=result.get("message", "")[:500])
            node.text = text
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    ElementTree.indent(suites)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
