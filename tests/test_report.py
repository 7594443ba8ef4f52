"""Mock interview reports: contents, the comparison with earlier mocks, history, md/json/html and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import VALID_PACK

from quizapp import cli
from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as CheckResult  # not named Test*, so pytest does not collect it
from quizapp.packs import check_pack_text, model
from quizapp.practice import MockConfig, MockSession, list_reports, load_report, render
from quizapp.store import Store

PACK = "test-pack"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# A title with markup in it, to prove the HTML escapes what packs say.
HTML_PACK = VALID_PACK.replace("title: Pick an activation", "title: Pick <b>an</b> activation & more")
assert HTML_PACK != VALID_PACK


def packs(text: str = HTML_PACK) -> dict[str, model.Pack]:
    return {PACK: check_pack_text(text, "test-pack.yaml").pack}


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open_default() as opened:  # the CLI's store: QUIZAPP_HOME is a fresh folder per test
        yield opened


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def first_mock(store: Store) -> MockSession:
    """Choice right, predict wrong: 50%."""
    session = MockSession.start(
        store, MockConfig(packs=(PACK,), count=2, kinds=("choice", "predict"), seed=3), packs(), now=at(0)
    )
    session.submit((PACK, "pick-activation"), Result("accepted", score=1.0), answer="a c", now=at(1))
    session.submit((PACK, "predict-shape"), Result("wrong_answer", message="not what it prints"), now=at(2))
    return session


def second_mock(store: Store) -> MockSession:
    """Fix: 1 of 1 checks; code: 3 of 7 checks; explain: left empty and auto-submitted; hints used; time runs out."""
    pack = packs()[PACK]
    code = pack.question("scale-module")
    assert isinstance(code, model.CodeQuestion)
    checks = [c.id for c in code.checks]
    session = MockSession.start(
        store,
        MockConfig(packs=(PACK,), count=3, kinds=("code", "fix", "explain"), seed=3, hints_allowed=False),
        packs(),
        now=at(60),
    )
    session.enter((PACK, "scale-module"), now=at(60))
    session.save_draft((PACK, "scale-module"), "class Scale: ...", now=at(65))
    tests = [CheckResult(c, "pass" if i < 3 else "fail", check=c, message="<mismatch>") for i, c in enumerate(checks)]
    code_result = Result("wrong_answer", tests=tests, message="outputs differ: <tensor> shapes")
    session.submit((PACK, "scale-module"), code_result, now=at(70))
    session.submit(
        (PACK, "fix-relu"),
        Result("accepted", tests=[CheckResult("relu-values", "pass", check="relu-values")]),
        now=at(75),
    )
    graded: list[str] = []

    def grade(pack_id: str, question_id: str, answer: str) -> Result:
        graded.append(question_id)
        return Result("wrong_answer", message="the answer is empty")

    assert session.expire(grade, now=session.deadline + timedelta(minutes=1))
    assert graded == ["why-no-grad"]
    return session


def test_a_report_holds_the_score_verdicts_points_time_and_hints(store: Store) -> None:
    session = first_mock(store)
    report = load_report(store, session.id)
    assert report is not None and report.id == session.id
    assert report.percent == pytest.approx(50.0)
    lines = {line.question_id: line for line in report.questions}
    assert lines["pick-activation"].verdict == "accepted" and lines["pick-activation"].points == 1.0
    assert lines["predict-shape"].verdict == "wrong_answer" and lines["predict-shape"].points == 0.0
    assert lines["predict-shape"].message == "not what it prints"
    assert not report.ran_out_of_time and report.time_used_seconds == 120
    assert report.comparison.count == 0 and report.comparison.change is None


def test_a_later_report_compares_with_earlier_mocks(store: Store) -> None:
    first = first_mock(store)
    second = second_mock(store)
    report = load_report(store, second.id)
    # code 3/7, fix 1, explain 0: (3/7 + 1 + 0) / 3
    assert report.percent == pytest.approx(100 * (3 / 7 + 1) / 3, abs=0.01)
    assert report.ran_out_of_time and report.finished_at == second.deadline
    lines = {line.question_id: line for line in report.questions}
    assert lines["why-no-grad"].auto_submitted and lines["why-no-grad"].verdict == "wrong_answer"
    assert lines["scale-module"].seconds == 600 and lines["scale-module"].points == pytest.approx(3 / 7, abs=1e-4)
    comparison = report.comparison
    assert comparison.count == 1 and comparison.last == pytest.approx(50.0)
    assert comparison.best == pytest.approx(50.0) and comparison.average == pytest.approx(50.0)
    assert comparison.change == pytest.approx(report.percent - 50.0)
    assert not comparison.new_best
    assert [e.id for e in comparison.previous] == [first.id]
    # History: newest first. The first report keeps its own (empty) comparison.
    assert [r.id for r in list_reports(store)] == [second.id, first.id]
    assert load_report(store, first.id).comparison.count == 0


def test_markdown_export(store: Store) -> None:
    first_mock(store)
    report = load_report(store, second_mock(store).id)
    text = render(report, "md")
    assert f"# Mock interview {report.id}" in text
    assert "## Score: 47.6%" in text
    assert "Compared with your 1 earlier mock: last 50.0% (-2.4 points), best 50.0%, average 50.0%." in text
    assert " | Why no_grad (`test-pack/why-no-grad`) | explain | easy | wrong answer (auto-submitted) | 0.00 |" in text
    assert "| fix | medium | accepted | 1.00 | 0:00 (5 min) | 0 |" in text
    assert "| code | hard | wrong answer | 0.43 | 10:00 (10 min) | 0 |" in text
    assert "time ran out" in text
    assert "## Earlier mocks" in text and "| 2026-03-10 12:02 UTC | 50.0% |" in text


def test_json_export_round_trips(store: Store) -> None:
    report = load_report(store, first_mock(store).id)
    document = json.loads(render(report, "json"))
    assert document["percent"] == 50.0
    assert [q["verdict"] for q in document["questions"]] == [line.verdict for line in report.questions]
    assert document["comparison"]["count"] == 0
    assert document["finished_at"] == "2026-03-10T12:02:00+00:00"


def test_html_export_is_self_contained_and_escaped(store: Store) -> None:
    first_mock(store)
    report = load_report(store, second_mock(store).id)
    first = list_reports(store)[1]
    page = render(first, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Pick &lt;b&gt;an&lt;/b&gt; activation &amp; more" in page
    assert "<b>an</b>" not in page
    assert "Score: <strong>50.0%</strong>" in page
    page = render(report, "html")
    assert "outputs differ: &lt;tensor&gt; shapes" in page and "<tensor>" not in page
    assert "last 50.0% (-2.4 points)" in page
    for external in ("<script", "<link", "src=", "http://", "https://", "@import"):
        assert external not in page
    with pytest.raises(ValueError, match="unknown report format"):
        render(report, "pdf")  # type: ignore[arg-type]


def test_a_new_best_is_called_one(store: Store) -> None:
    first_mock(store)
    session = MockSession.start(
        store, MockConfig(packs=(PACK,), count=1, kinds=("choice",), seed=1), packs(), now=at(200)
    )
    session.submit(0, Result("accepted", score=1.0), now=at(201))
    report = load_report(store, session.id)
    assert report.comparison.new_best and report.comparison.change == pytest.approx(50.0)
    assert "a new best" in render(report, "md")


def test_report_command(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report"]) == 0
    assert capsys.readouterr().out.strip() == "No reports."
    first = first_mock(store)
    second = second_mock(store)
    assert cli.main(["report"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == [second.id, first.id]
    assert "50.0%" in listed[1]

    assert cli.main(["report", first.id]) == 0
    assert "## Score: 50.0%" in capsys.readouterr().out
    assert cli.main(["report", first.id, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first.id
    out = tmp_path / "report.html"
    assert cli.main(["report", second.id, "--format", "html", "-o", str(out)]) == 0
    assert "Mock interview" in out.read_text(encoding="utf-8")
    assert cli.main(["report", "no-such-report"]) == 2
    assert "no report 'no-such-report'" in capsys.readouterr().err


def test_the_report_shows_each_answer_each_checks_message_and_the_reference(store: Store) -> None:
    session = MockSession.start(
        store, MockConfig(packs=(PACK,), count=1, kinds=("predict",), seed=3), packs(), now=at(0)
    )
    wrong = Result("wrong_answer", tests=[CheckResult("printout", "fail", "the shape differs")])
    session.submit((PACK, "predict-shape"), wrong, answer="(4, 2)", now=at(1))
    session.finish(lambda *args: wrong, now=at(2))
    report = load_report(store, session.id)
    assert report is not None
    [line] = report.questions
    assert (line.answer, line.reference) == ("(4, 2)", "(2, 4)")
    assert line.checks == ({"name": "printout", "status": "fail", "message": "the shape differs"},)
    markdown = render(report, "md")
    assert "Your answer:\n\n```text\n(4, 2)\n```" in markdown
    assert "- ✗ printout: the shape differs" in markdown
    assert "Reference:\n\n```text\n(2, 4)\n```" in markdown
    page = render(report, "html")
    assert "<pre>(4, 2)</pre>" in page and "the shape differs" in page and "<pre>(2, 4)</pre>" in page
    # A report saved before these fields existed still loads.
    old = report.to_json()
    for question in old["questions"]:
        del question["answer"], question["checks"], question["reference"]
    from quizapp.practice.report import Report

    assert Report.from_json(old).questions[0].answer == ""
