"""Grading a class: the expected table, every output format, and resuming an interrupted batch."""

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

from classroom import write_class

from quizapp import locations
from quizapp.grading import batch
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

PACK = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")


def _table(path: Path) -> dict[tuple[str, str], str]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    ids = [q.id for q in PACK.questions]
    return {(row["student"], qid): row[qid] for row in rows for qid in ids}


def test_a_class_is_graded_to_the_expected_table(tmp_path: Path, judge_pool) -> None:
    folder = tmp_path / "class"
    expected = write_class(PACK, folder)
    out = tmp_path / "grades"
    grader = Grader(judge_pool, ReferenceCache(tmp_path / "cache"))
    run = batch.run_batch(PACK, folder, out, grader, workers=2)
    assert (run.graded, run.reused, run.interrupted) == (len(expected), 0, False)
    paths = batch.write_tables(PACK, folder, out)

    assert _table(paths["csv"]) == expected
    with paths["csv"].open() as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["ada-0"]["solved"] == "4" and rows["ada-0"]["score"] == "4.00"
    assert rows["mallory"]["solved"] == "0"

    document = json.loads(paths["json"].read_text())
    assert document["strays"] == ["mallory/notes.txt"]
    resnet_failures = dict(document["common_failures"]["resnet-residual-block"])
    assert resnet_failures["The input is added back"] >= 3  # missing skip, ReLU before add, Sequential only
    assert "module-sequential-modulelist" not in document["common_failures"]  # missing answers are not failures
    bob = next(s for s in document["students"] if s["student"] == "bob-4")
    (resnet,) = [a for a in bob["answers"] if a["question"] == "resnet-residual-block"]
    assert resnet["file"] == "resnet-residual-block.py" and len(resnet["sha256"]) == 64
    assert resnet["result"]["tests"]  # full results, check by check

    suites = {s.get("name"): s for s in ElementTree.parse(paths["junit"]).getroot()}
    assert suites["ada-0"].get("failures") == "0" and suites["ada-0"].get("errors") == "0"
    assert suites["eve"].get("errors") == "2"  # time limit, runtime error
    assert int(suites["eve"].get("skipped")) == len(PACK.questions) - 2
    failure = suites["bob-4"].find("testcase[@name='resnet-residual-block']/failure")
    assert failure is not None and "no skip connection" in (failure.text or "") + (failure.get("message") or "")


def test_a_changed_answer_is_graded_again_and_nothing_else(tmp_path: Path, judge_pool) -> None:
    folder = tmp_path / "class"
    write_class(PACK, folder, hostile=False)
    out = tmp_path / "grades"
    grader = Grader(judge_pool, ReferenceCache(tmp_path / "cache"))
    first = batch.run_batch(PACK, folder, out, grader)
    (folder / "bob-0" / "net-defects.txt").write_text("view bn2 fc1")
    again = batch.run_batch(PACK, folder, out, grader)
    assert (again.graded, again.reused) == (1, first.graded - 1)
    assert _table(batch.write_tables(PACK, folder, out)["csv"])[("bob-0", "net-defects")] == "accepted"


def _grade_batch(folder: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "quizapp", "grade-batch", "torch-modules", str(folder), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_an_interrupted_batch_resumes_to_the_same_tables(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    write_class(PACK, folder, hostile=False)
    whole = _grade_batch(folder, tmp_path / "whole")
    out, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err

    interrupted = _grade_batch(folder, tmp_path / "resumed")
    journal = tmp_path / "resumed" / batch.JOURNAL
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # interrupt once some, but not all, answers are in the journal
        if journal.exists() and len(journal.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    interrupted.send_signal(signal.SIGINT)
    _, err = interrupted.communicate(timeout=120)
    done_before = len(journal.read_text().splitlines())
    assert "Traceback" not in err
    total = sum(1 for p in folder.iterdir()) * len(PACK.questions)
    if done_before < total:  # the usual case; on a very fast machine the batch may finish first
        assert interrupted.returncode == 1

    resumed = _grade_batch(folder, tmp_path / "resumed")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"{total - done_before} answer(s), {done_before} unchanged" in out
    assert (tmp_path / "resumed" / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()

    def verdicts(path: Path) -> list[tuple[str, str, str | None]]:
        students = json.loads(path.read_text())["students"]
        return sorted(
            (s["student"], a["question"], a["result"] and a["result"]["verdict"])
            for s in students
            for a in s["answers"]
        )

    assert verdicts(tmp_path / "resumed" / "results.json") == verdicts(tmp_path / "whole" / "results.json")
    assert os.path.getsize(tmp_path / "resumed" / "junit.xml") > 0
