"""Grade a class: a folder per student, a file per question, graded in parallel over the judge's pool.

Every graded answer is appended to a journal (`results.jsonl`) as soon as it is known, keyed on what decides
its verdict: the hash of the answer file, the hash of the question's content in the pack and the mode. A new
run grades what the journal lacks or what changed since (the answer, the question's checks, the mode) and says
which and why. The tables are always written from the journal, so an interrupted-and-resumed batch gives the
same tables as an uninterrupted one, and an interrupted one says inside each file that it is partial.

Tables, for a gradebook: `grades.csv` (points per question, partial credit by check points, the question's
`points` from the pack, then total, maximum and percent), `verdicts.csv` (the verdict words), `results.json`
(everything, check by check) and `junit.xml`. Explain answers need a person: they are listed with their text in
`marks.csv`, whose `marks` column the instructor fills in; the next run reads it back into the tables.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..packs import model
from .grader import Grader
from .result import Result

JOURNAL = "results.jsonl"
MARKS = "marks.csv"
# Fields that change how a question looks, not how an answer to it is graded: editing them regrades nothing.
_PRESENTATION = {"title", "difficulty", "tags", "minutes", "prompt", "hints", "explanation", "points"}


def question_hash(question: model.AnyQuestion) -> str:
    """The hash of what decides a verdict on this question: everything but its presentation."""
    data = question.model_dump_json(exclude=_PRESENTATION)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# --- what to grade ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    student: str
    question_id: str
    path: Path | None  # None: the student did not submit this question (or submitted it ambiguously)
    ambiguous: tuple[str, ...] = ()  # several files answer this question: none is graded

    @property
    def key(self) -> tuple[str, str]:
        return self.student, self.question_id


@dataclass(frozen=True)
class Stray:
    """A file that is not graded, and why."""

    path: str  # relative to the submissions folder
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class Plan:
    submissions: list[Submission]
    students: list[str]
    strays: list[Stray] = field(default_factory=list)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def plan(pack: model.Pack, folder: Path) -> Plan:
    """Every (student, question) pair: a student is a sub-folder; an answer is a file directly in it, named by the
    question's id with any extension (`resnet-residual-block.py`, `net-defects.txt`). Everything else is a
    stray with its reason: files in sub-folders, several files for one question, names that are no question's."""
    ids = [q.id for q in pack.questions]
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    students = [p.name for p in entries if p.is_dir() and not p.is_symlink()]
    strays = [Stray(p.name, "not in a student's folder") for p in entries if p.is_file() and not p.is_symlink()]
    strays += [Stray(p.name, _LINKED) for p in entries if p.is_symlink()]
    by_normal = {_normal(i): i for i in ids}
    submissions: list[Submission] = []
    for student in students:
        found: dict[str, list[Path]] = {}
        for path in sorted((folder / student).rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts):
                continue
            if path.is_symlink():  # a link is not an answer: it may lead to any file the instructor can read
                strays.append(Stray(relative.as_posix(), _LINKED))
                continue
            if not path.is_file():
                continue
            stem = path.name.split(".", 1)[0]
            if path.parent != folder / student:
                hint = f"; move it to {student}/ to grade it" if stem in ids else ""
                strays.append(Stray(relative.as_posix(), f"in a sub-folder{hint}"))
            elif stem in ids:
                found.setdefault(stem, []).append(path)
            else:
                strays.append(Stray(relative.as_posix(), _misnamed(stem, ids, by_normal)))
        for question_id in ids:
            files = found.get(question_id, [])
            if len(files) > 1:
                names = tuple(f.name for f in files)
                for name in names:
                    strays.append(
                        Stray(f"{student}/{name}", f"one of {len(names)} files answering {question_id}: none graded")
                    )
                submissions.append(Submission(student, question_id, None, names))
            else:
                submissions.append(Submission(student, question_id, files[0] if files else None))
    return Plan(submissions, students, strays)


_LINKED = "a symbolic link: not followed (copy the file itself into the student's folder to grade it)"


def _misnamed(stem: str, ids: list[str], by_normal: dict[str, str]) -> str:
    guess = by_normal.get(_normal(stem)) or next(iter(difflib.get_close_matches(stem, ids, n=1, cutoff=0.7)), None)
    if guess:
        return f"no question '{stem}': did you mean '{guess}'? rename the file to grade it"
    return f"no question '{stem}' in the pack"


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
            entries[(entry["student"], entry["question"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def read_answer(path: Path) -> str | Result:
    """The answer's text, or the Result for a file that cannot be an answer."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark is not part of the answer
    except UnicodeDecodeError:
        return Result("syntax_error", message=f"{path.name} is not UTF-8 text (is it a binary file?)")
    except OSError as error:
        return Result("internal_error", message=f"cannot read {path}: {error.strerror or error}")
    if "\x00" in text:
        return Result("syntax_error", message=f"{path.name} holds NUL bytes: it is not a text file")
    return text


def grade_one(grader: Grader, pack: model.Pack, submission: Submission, mode: str) -> Result | None:
    """The answer's Result, or None when the student submitted nothing for this question."""
    question = pack.question(submission.question_id)
    if submission.path is None:
        return None
    text = read_answer(submission.path)
    if isinstance(text, Result):
        return text
    return grader.grade(pack, question, text, mode=mode)


# --- running --------------------------------------------------------------------------------------------

REASONS = {
    "new": "not graded before",
    "answer": "the answer changed",
    "question": "the question changed in the pack",
    "mode": "graded in another mode before",
}


@dataclass
class BatchRun:
    graded: int = 0
    reused: int = 0
    total: int = 0
    interrupted: bool = False
    reasons: Counter[str] = field(default_factory=Counter)  # why answers were (re)graded, by REASONS key
    changed_questions: set[str] = field(default_factory=set)  # questions whose answers were regraded for it
    in_flight: int = 0  # answers being graded right now (for an interrupt's message)
    left: int = 0  # answers an interrupt left for the next run (not started, or dropped while being graded)

    def summary(self) -> str:
        verb = "interrupted after grading" if self.interrupted else "graded"
        line = f"{verb} {self.graded} answer(s), {self.reused} unchanged since the last run, of {self.total}"
        why = [f"{count} {REASONS[reason]}" for reason, count in self.reasons.most_common() if count]
        if why:
            line += "\n  graded because: " + "; ".join(why)
        if self.changed_questions:
            line += f"\n  questions changed since the last run: {', '.join(sorted(self.changed_questions))}"
        if self.interrupted:
            line += f"\n  {self.left} answer(s) left for the next run: the same command grades them"
        return line


def _why(previous: dict[str, Any] | None, digest: str, qhash: str, mode: str) -> str | None:
    """Why an answer must be graded again, or None when the journal's verdict still holds."""
    if previous is None:
        return "new"
    if previous.get("sha256") != digest:
        return "answer"
    if previous.get("question_hash") != qhash:
        return "question"
    if previous.get("mode", "submit") != mode:
        return "mode"
    return None


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
    abandon: threading.Event | None = None,
    run: BatchRun | None = None,
) -> BatchRun:
    """Grade what the journal does not already hold; append each result to it as it comes.

    `stop` set: no new answer starts, those being graded are waited for and kept. `abandon` set: stop waiting
    at once; answers still being graded are dropped (the next run grades them). A KeyboardInterrupt abandons.
    """
    out.mkdir(parents=True, exist_ok=True)
    the_plan = plan(pack, folder)
    done = read_journal(out)
    hashes = {q.id: question_hash(q) for q in pack.questions}
    run = run if run is not None else BatchRun()
    todo: list[tuple[Submission, str, str]] = []
    for submission in the_plan.submissions:
        digest = "ambiguous" if submission.ambiguous else file_digest(submission.path)
        why = _why(done.get(submission.key), digest, hashes[submission.question_id], mode)
        if why is not None:
            todo.append((submission, digest, why))
    run.total = len(the_plan.submissions)
    run.reused = run.total - len(todo)
    if progress:
        progress(run.reused, run.total)
    lock = threading.Lock()
    stop = stop or threading.Event()
    abandon = abandon or threading.Event()

    def task(submission: Submission) -> Result | None:
        with lock:
            run.in_flight += 1
        try:
            return grade_one(grader, pack, submission, mode)
        except Exception as error:  # one answer owns one verdict: a crash of ours never stops the class
            return crashed(error)
        finally:
            with lock:
                run.in_flight -= 1

    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade-batch")
    futures: dict[Future[Result | None], tuple[Submission, str, str]] = {
        executor.submit(task, submission): (submission, digest, why) for submission, digest, why in todo
    }
    pending = set(futures)
    try:
        with (out / JOURNAL).open("a", encoding="utf-8") as journal:
            while pending and not abandon.is_set():
                if stop.is_set():
                    pending = {f for f in pending if not f.cancel()}
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future.cancelled():
                        continue
                    submission, digest, why = futures[future]
                    entry: dict[str, Any] = {
                        "student": submission.student,
                        "question": submission.question_id,
                        "file": submission.path.name if submission.path else None,
                        "sha256": digest,
                        "question_hash": hashes[submission.question_id],
                        "mode": mode,
                        "result": _result_json(future.result()),
                    }
                    if submission.ambiguous:
                        entry["files"] = list(submission.ambiguous)
                    journal.write(json.dumps(entry) + "\n")
                    journal.flush()
                    run.graded += 1
                    run.reasons[why] += 1  # why the answers graded were graded (not those left by an interrupt)
                    if why == "question":
                        run.changed_questions.add(submission.question_id)
                    if progress:
                        progress(run.reused + run.graded, run.total)
    except KeyboardInterrupt:
        abandon.set()
    finally:
        executor.shutdown(wait=not abandon.is_set(), cancel_futures=True)
    run.left = run.total - run.reused - run.graded
    run.interrupted = run.left > 0
    return run


def crashed(error: Exception) -> Result:
    """The verdict for an answer whose grading raised: our fault (or the pack's), never the learner's."""
    return Result("internal_error", message=f"grading this answer failed: {type(error).__name__}: {error}")


def _result_json(result: Result | None) -> dict[str, Any] | None:
    return result.to_json() if result is not None else None


# --- marks entered by the instructor ----------------------------------------------------------------------


def _needs_marking(question: model.AnyQuestion, entry: dict[str, Any] | None) -> bool:
    """Explain answers are read by a person, never given credit unread: any answer with text waits for the
    instructor's marks (an empty one keeps its verdict and no points)."""
    if not isinstance(question, model.ExplainQuestion) or not entry or entry.get("result") is None:
        return False
    return bool((entry.get("answer_text") or "").strip())


@dataclass
class Marks:
    """The instructor's marks from marks.csv, for the answer they read (its hash): {(student, question):
    (sha256, points)}; problems name the row."""

    points: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    entered: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # as typed, kept when rewritten
    problems: list[str] = field(default_factory=list)


def read_marks(pack: model.Pack, out: Path) -> Marks:
    marks = Marks()
    path = out / MARKS
    if not path.exists():
        return marks
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            text = (row.get("marks") or "").strip()
            if not text:
                continue
            student, question_id = row.get("student_id", ""), row.get("question", "")
            marks.entered[(student, question_id)] = (row.get("answer_sha256", ""), text)
            try:
                question = pack.question(question_id)
                value = float(text)
            except KeyError:
                marks.problems.append(f"{MARKS}:{number}: no question '{question_id}' in {pack.id}")
                continue
            except ValueError:
                marks.problems.append(f"{MARKS}:{number}: marks '{text}' is not a number")
                continue
            if not 0 <= value <= question.points:
                marks.problems.append(f"{MARKS}:{number}: marks {text} is not between 0 and {question.points:g}")
                continue
            marks.points[(student, question_id)] = (row.get("answer_sha256", ""), value)
    return marks


# --- tables, from the journal -----------------------------------------------------------------------------


@dataclass
class Cell:
    """One answer in the tables: its verdict word, the points it earned (None: not known yet) and its entry."""

    verdict: str
    points: float | None
    entry: dict[str, Any] | None = None
    open: str = ""  # why the cell is not final: 'not graded', 'to review', 'ambiguous'


def _cell(
    question: model.AnyQuestion,
    submission: Submission,
    entry: dict[str, Any] | None,
    qhash: str,
    marks: Marks,
) -> Cell:
    if submission.ambiguous:
        return Cell(f"ambiguous: {len(submission.ambiguous)} files", None, entry, "ambiguous")
    if entry is None or entry.get("question_hash") != qhash or entry.get("sha256") != file_digest(submission.path):
        return Cell("not graded", None, None, "not graded")
    result = entry.get("result")
    if result is None:
        return Cell("missing", 0.0, entry)
    if _needs_marking(question, entry):
        marked = marks.points.get((submission.student, question.id))
        if marked is not None and marked[0] == entry["sha256"]:
            return Cell("marked", marked[1], entry)
        return Cell("to review", None, entry, "to review")
    if result.get("verdict") == "accepted":
        return Cell("accepted", question.points, entry)
    score = result.get("score")  # partial credit: the share of check points earned
    share = float(score) if isinstance(score, int | float) else 0.0
    return Cell(str(result.get("verdict", "?")), question.points * share, entry)


def _number(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


@dataclass
class Tables:
    paths: dict[str, Path]
    complete: bool
    open_counts: Counter[str]
    strays: list[Stray]
    marks_problems: list[str]
    common_failures: dict[str, list[Any]]


def write_tables(pack: model.Pack, folder: Path, out: Path) -> Tables:
    """Write every table from the journal and the instructor's marks; say inside each file when it is partial."""
    the_plan = plan(pack, folder)
    entries = read_journal(out)
    _attach_answer_texts(pack, the_plan, entries)
    marks = read_marks(pack, out)
    hashes = {q.id: question_hash(q) for q in pack.questions}
    questions = {q.id: q for q in pack.questions}
    rows: dict[str, dict[str, Cell]] = {student: {} for student in the_plan.students}
    for submission in the_plan.submissions:
        question = questions[submission.question_id]
        entry = entries.get(submission.key)
        rows[submission.student][question.id] = _cell(question, submission, entry, hashes[question.id], marks)
    open_counts: Counter[str] = Counter(cell.open for cells in rows.values() for cell in cells.values() if cell.open)
    complete = not open_counts
    maximum = sum(q.points for q in pack.questions)
    ids = list(questions)
    paths = {
        "csv": out / "grades.csv",
        "verdicts": out / "verdicts.csv",
        "marks": out / MARKS,
        "json": out / "results.json",
        "junit": out / "junit.xml",
    }

    strays_of = Counter(stray.path.split("/", 1)[0] for stray in the_plan.strays if "/" in stray.path)

    def status(student: str, cells: dict[str, Cell]) -> str:
        counts = Counter(cell.open for cell in cells.values() if cell.open)
        text = "partial: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) if counts else "complete"
        if strays_of[student]:
            text += f"; {strays_of[student]} file(s) not graded (see results.json)"
        return text

    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["student_id", *ids, "total", "maximum", "percent", "status"])
        for student, cells in rows.items():
            total = sum(cell.points or 0.0 for cell in cells.values())
            percent = 100 * total / maximum if maximum else 0.0
            writer.writerow(
                [
                    student,
                    *(_number(cells[q].points) for q in ids),
                    _number(total),
                    _number(maximum),
                    f"{percent:.1f}",
                    status(student, cells),
                ]
            )
    with paths["verdicts"].open("w", newline="", encoding="utf-8") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["student_id", *ids, "solved", "status"])
        for student, cells in rows.items():
            solved = sum(1 for cell in cells.values() if cell.verdict == "accepted")
            writer.writerow([student, *(cells[q].verdict for q in ids), solved, status(student, cells)])
    _write_marks(paths["marks"], pack, rows, marks)
    failures = common_failures(pack, (e for e in entries.values() if e.get("question") in questions))
    document = {
        "pack": pack.id,
        "version": pack.version,
        "complete": complete,
        "open": dict(open_counts),
        "questions": [{"id": q.id, "kind": q.kind, "points": q.points} for q in pack.questions],
        "maximum": maximum,
        "students": [
            {
                "student": student,
                "total": round(sum(c.points or 0.0 for c in cells.values()), 4),
                "status": status(student, cells),
                "answers": [
                    {**cell.entry, "points": cell.points, "cell": cell.verdict}
                    for cell in cells.values()
                    if cell.entry is not None
                ],
            }
            for student, cells in rows.items()
        ],
        "strays": [stray.to_json() for stray in the_plan.strays],
        "marks_problems": marks.problems,
        "common_failures": failures,
    }
    paths["json"].write_text(json.dumps(document, indent=2), encoding="utf-8")
    _write_junit(paths["junit"], pack, rows, complete)
    return Tables(paths, complete, open_counts, the_plan.strays, marks.problems, failures)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def table_text(value: Any) -> Any:
    """A cell as a spreadsheet may safely open it: text that a spreadsheet would take for a formula (= + - @,
    a tab or a carriage return first: CSV injection from a student's answer or folder name) gets a leading
    apostrophe, numbers stay numbers, and bytes that are not UTF-8 (a folder name decoded with
    surrogateescape) are written as backslash escapes instead of stopping the run."""
    if not isinstance(value, str):
        return value
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.startswith(_FORMULA):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


class _SafeWriter:
    """csv.writer whose every cell goes through table_text."""

    def __init__(self, handle: Any) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([table_text(cell) for cell in row])


def _attach_answer_texts(pack: model.Pack, the_plan: Plan, entries: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Explain answers carry their text into the tables, for the instructor to read."""
    explain = {q.id for q in pack.questions if isinstance(q, model.ExplainQuestion)}
    for submission in the_plan.submissions:
        entry = entries.get(submission.key)
        if submission.question_id in explain and entry is not None and submission.path is not None:
            text = read_answer(submission.path)
            entry["answer_text"] = text if isinstance(text, str) else None


def _write_marks(path: Path, pack: model.Pack, rows: dict[str, dict[str, Cell]], marks: Marks) -> None:
    """marks.csv: every explain answer with its text; the instructor's marks kept for answers still the same."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = _SafeWriter(handle)
        writer.writerow(["student_id", "question", "max_points", "marks", "answer_sha256", "answer"])
        for student, cells in rows.items():
            for question in pack.questions:
                cell = cells[question.id]
                if not _needs_marking(question, cell.entry) or cell.entry is None:
                    continue
                digest = cell.entry["sha256"]
                kept = marks.entered.get((student, question.id))
                given = kept[1] if kept and kept[0] == digest else ""
                writer.writerow(
                    [student, question.id, _number(question.points), given, digest, cell.entry["answer_text"]]
                )


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


_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: control characters (ESC, NUL, ...) and lone surrogates shown as \\xNN escapes."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _write_junit(path: Path, pack: model.Pack, rows: dict[str, dict[str, Cell]], complete: bool) -> None:
    suites = ElementTree.Element("testsuites", name=pack.id)
    if not complete:
        suites.append(ElementTree.Comment(" PARTIAL: some answers are not graded or not marked yet "))
        suites.set("partial", "true")
    for student, cells in rows.items():
        suite = ElementTree.SubElement(suites, "testsuite", name=xml_text(student), tests=str(len(cells)))
        failures = errors = skipped = 0
        for question_id, cell in cells.items():
            case = ElementTree.SubElement(
                suite, "testcase", classname=xml_text(f"{pack.id}.{student}"), name=question_id
            )
            result = (cell.entry or {}).get("result") or {}
            case.set("time", f"{result.get('duration_ms', 0) / 1000:.3f}")
            if cell.verdict in ("accepted", "marked"):
                continue
            if cell.verdict == "missing" or cell.open:
                skipped += 1
                ElementTree.SubElement(case, "skipped", message=xml_text(f"{cell.verdict}: no verdict for this answer"))
                continue
            failing = [f"{t['name']}: {t.get('message', '')}" for t in result.get("tests", []) if t["status"] != "pass"]
            text = "\n".join(failing) or result.get("message", "")
            tag = "failure" if cell.verdict == "wrong_answer" else "error"
            if tag == "failure":
                failures += 1
            else:
                errors += 1
            node = ElementTree.SubElement(
                case, tag, type=cell.verdict, message=xml_text(str(result.get("message", ""))[:500])
            )
            node.text = xml_text(text)
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    ElementTree.indent(suites)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
