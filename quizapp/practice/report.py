"""The report of a finished mock interview: the score, each question's verdict, points, time and hints, and how
it compares with the learner's earlier mocks. Plain Python: no textual, no torch.

A report is made once, when its session finishes, and kept in the store as it was then: a later mock does not
rewrite an earlier report's comparison. Its id is the session's id. `render(report, format)` exports it as
Markdown, JSON or one self-contained HTML file (inline styles, no scripts, no external assets; every text from
packs or answers is escaped with `html.escape`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from statistics import fmean
from typing import TYPE_CHECKING, Any, Literal

from ..store import Store
from .reference import plural
from .scoring import total_percent

if TYPE_CHECKING:
    from .mock import MockSession

Format = Literal["md", "json", "html"]
FORMATS: tuple[str, ...] = ("md", "json", "html")
EARLIER_SHOWN = 10  # earlier mocks listed in a report; best and average count them all
NOT_SUBMITTED = "not_submitted"


@dataclass(frozen=True)
class QuestionLine:
    """One question's row in a report."""

    number: int  # 1-based, in the order of the interview
    pack_id: str
    question_id: str
    title: str
    kind: str
    difficulty: str
    verdict: str  # the Result's verdict, or 'not_submitted'
    points: float  # earned, 0..worth
    seconds: float  # time spent on it
    minutes: float  # the question's estimate
    hints_used: int
    auto_submitted: bool  # handed in as it stood when the session ended
    message: str = ""
    answer: str = ""  # the text handed in
    checks: tuple[dict[str, str], ...] = ()  # each check's name, status and message, in the pack's order
    reference: str = ""  # the reference answer (solution, printout, correct options, model answer)
    worth: float = 1.0  # the question's points (reports made before questions had points: 1)


@dataclass(frozen=True)
class EarlierMock:
    id: str
    finished_at: datetime
    percent: float


@dataclass(frozen=True)
class Comparison:
    """This mock against the learner's earlier finished mocks (all of them for best and average)."""

    count: int  # earlier finished mocks
    previous: tuple[EarlierMock, ...]  # the most recent ones, newest first, at most EARLIER_SHOWN
    best: float | None
    average: float | None
    last: float | None
    change: float | None  # this score minus the last one, in percentage points
    new_best: bool


@dataclass(frozen=True)
class Report:
    id: str
    session_id: str
    started_at: datetime
    finished_at: datetime
    deadline: datetime
    time_limit_seconds: float
    time_used_seconds: float
    ran_out_of_time: bool
    percent: float
    questions: tuple[QuestionLine, ...]
    comparison: Comparison
    settings: dict[str, Any]  # the mock's configuration: packs, kinds, difficulties, hints_allowed, seed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_at", "finished_at", "deadline"):
            data[key] = getattr(self, key).isoformat()
        for earlier in data["comparison"]["previous"]:
            earlier["finished_at"] = earlier["finished_at"].isoformat()
        data["percent"] = round(self.percent, 2)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        comparison = dict(data["comparison"])
        comparison["previous"] = tuple(
            EarlierMock(e["id"], datetime.fromisoformat(e["finished_at"]), float(e["percent"]))
            for e in comparison["previous"]
        )
        return cls(
            id=data["id"],
            session_id=data["session_id"],
            started_at=datetime.fromisoformat(data["started_at"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            deadline=datetime.fromisoformat(data["deadline"]),
            time_limit_seconds=float(data["time_limit_seconds"]),
            time_used_seconds=float(data["time_used_seconds"]),
            ran_out_of_time=bool(data["ran_out_of_time"]),
            percent=float(data["percent"]),
            questions=tuple(
                QuestionLine(**{**line, "checks": tuple(line.get("checks", ()))}) for line in data["questions"]
            ),
            comparison=Comparison(**comparison),
            settings=dict(data["settings"]),
        )


# --- making, keeping and finding reports ------------------------------------------------------------------


def build_report(store: Store, session: MockSession) -> Report:
    """The report of a finished session, compared with the reports of mocks finished before it."""
    if session.finished_at is None:
        raise ValueError("a report needs a finished mock interview")
    lines = tuple(
        QuestionLine(
            number=number,
            pack_id=item.pack_id,
            question_id=item.question_id,
            title=item.title,
            kind=item.kind,
            difficulty=item.difficulty,
            verdict=item.verdict or NOT_SUBMITTED,
            points=round(item.points, 4),
            seconds=round(item.seconds, 1),
            minutes=item.minutes,
            hints_used=item.hints_used,
            auto_submitted=item.auto_submitted,
            message=(item.result or {}).get("message", ""),
            answer=item.answer if item.answer is not None else "",
            checks=tuple(
                {
                    "name": str(t.get("name", "")),
                    "status": str(t.get("status", "")),
                    "message": str(t.get("message", "")),
                }
                for t in (item.result or {}).get("tests", [])
            ),
            reference=item.reference,
            worth=item.worth,
        )
        for number, item in enumerate(session.questions, start=1)
    )
    percent = total_percent([line.points for line in lines], [line.worth for line in lines])
    earlier = [r for r in store.mock_reports(before=session.finished_at) if r.session_id != session.id]
    end = min(session.finished_at, session.deadline)
    return Report(
        id=session.id,
        session_id=session.id,
        started_at=session.started_at,
        finished_at=session.finished_at,
        deadline=session.deadline,
        time_limit_seconds=session.total_seconds,
        time_used_seconds=max(0.0, (end - session.started_at).total_seconds()),
        ran_out_of_time=session.finished_at >= session.deadline,
        percent=percent,
        questions=lines,
        comparison=compare(percent, [(r.id, r.finished_at, r.score) for r in earlier]),
        settings={key: value for key, value in session.config.to_json().items() if key != "count"},
    )


def compare(percent: float, earlier: Sequence[tuple[str, datetime, float]]) -> Comparison:
    """A score against earlier ones, given newest first as (id, finished_at, percent)."""
    scores = [score for _, _, score in earlier]
    last = scores[0] if scores else None
    return Comparison(
        count=len(scores),
        previous=tuple(EarlierMock(i, when, score) for i, when, score in earlier[:EARLIER_SHOWN]),
        best=max(scores) if scores else None,
        average=fmean(scores) if scores else None,
        last=last,
        change=None if last is None else percent - last,
        new_best=bool(scores) and percent > max(scores),
    )


def save_report(store: Store, report: Report) -> bool:
    """Keep a report (once per session: False if the session already had one)."""
    return store.save_mock_report(
        report.id,
        session_id=report.session_id,
        finished_at=report.finished_at,
        score=report.percent,
        report=report.to_json(),
    )


def load_report(store: Store, report_id: str) -> Report | None:
    record = store.mock_report(report_id)
    return None if record is None else Report.from_json(record.report)


def list_reports(store: Store, limit: int | None = None) -> list[Report]:
    """The learner's reports, newest first."""
    return [Report.from_json(record.report) for record in store.mock_reports(limit=limit)]


# --- rendering ----------------------------------------------------------------------------------------------


def render(report: Report, format: Format = "md") -> str:  # noqa: A002  (the name the callers use)
    """The report as Markdown ('md'), JSON ('json') or one self-contained HTML file ('html')."""
    if format == "md":
        return _markdown(report)
    if format == "json":
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    if format == "html":
        return _html(report)
    raise ValueError(f"unknown report format {format!r}: use one of {', '.join(FORMATS)}")


VERDICT_WORDS = {
    "accepted": "accepted",
    "wrong_answer": "wrong answer",
    "runtime_error": "runtime error",
    "syntax_error": "syntax error",
    "time_limit": "time limit",
    "memory_limit": "memory limit",
    "output_limit": "output limit",
    "internal_error": "internal error",
    NOT_SUBMITTED: "not submitted",
}


def verdict_words(line: QuestionLine) -> str:
    words = VERDICT_WORDS.get(line.verdict, line.verdict.replace("_", " "))
    return f"{words} (auto-submitted)" if line.auto_submitted else words


def duration(seconds: float) -> str:
    """12:05 for minutes and seconds, 1:02:05 past an hour."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def summary_line(report: Report) -> str:
    """One line: when, how many questions, the time used, and whether time ran out."""
    ran_out = ", time ran out" if report.ran_out_of_time else ""
    return (
        f"Finished {_when(report.finished_at)} · {plural(len(report.questions), 'question')} · "
        f"{duration(report.time_used_seconds)} of {duration(report.time_limit_seconds)} used{ran_out}"
    )


def comparison_text(report: Report) -> str:
    """The comparison with earlier mocks, as a sentence."""
    comparison = report.comparison
    if not comparison.count:
        return "Your first mock interview: nothing to compare with yet."
    assert comparison.last is not None and comparison.change is not None
    assert comparison.best is not None and comparison.average is not None
    change = f"{comparison.change:+.1f} points"
    best = "a new best" if comparison.new_best else f"best {comparison.best:.1f}%"
    return (
        f"Compared with your {plural(comparison.count, 'earlier mock')}: last {comparison.last:.1f}% ({change}), "
        f"{best}, average {comparison.average:.1f}%."
    )


CHECK_MARKS = {"pass": "✓", "fail": "✗", "error": "!"}


def _fenced(text: str, kind: str) -> str:
    language = "python" if kind in ("code", "fix") else "text"
    fence = "````" if "```" in text else "```"
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def weighted(report: Report) -> bool:
    """Whether the questions are worth different points (then each line says what its question was worth)."""
    return any(line.worth != 1 for line in report.questions)


def points_text(line: QuestionLine, weighted: bool) -> str:
    """A table cell: '0.50', or what the answer earned of what the question is worth ('4.50/6') when weighted."""
    return f"{line.points:.2f}/{line.worth:g}" if weighted else f"{line.points:.2f}"


def points_sentence(line: QuestionLine, weighted: bool) -> str:
    if not weighted:
        return f"{line.points:.2f} points"
    return f"{line.points:.2f} of {line.worth:g} {'point' if line.worth == 1 else 'points'}"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    weights = weighted(report)
    lines = [
        f"# Mock interview {report.id}",
        "",
        summary_line(report),
        "",
        f"## Score: {report.percent:.1f}%",
        "",
        comparison_text(report),
        "",
        "| # | Question | Kind | Difficulty | Verdict | Points | Time (estimate) | Hints |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for line in report.questions:
        lines.append(
            f"| {line.number} | {_md_cell(line.title)} (`{line.pack_id}/{line.question_id}`) | {line.kind} | "
            f"{line.difficulty} | {verdict_words(line)} | {points_text(line, weights)} | "
            f"{duration(line.seconds)} ({line.minutes:g} min) | {line.hints_used} |"
        )
    for line in report.questions:
        worth = points_sentence(line, weights)
        lines += ["", f"## {line.number}. {line.title}", "", f"**{verdict_words(line)}**, {worth}."]
        if line.message:
            lines += ["", line.message]
        lines += ["", "Your answer:", "", _fenced(line.answer or "(nothing)", line.kind)]
        if line.checks:
            lines += [""] + [
                f"- {CHECK_MARKS.get(c['status'], '?')} {c['name']}" + (f": {c['message']}" if c["message"] else "")
                for c in line.checks
            ]
        if line.reference:
            lines += ["", "Reference:", "", _fenced(line.reference, line.kind)]
    if report.comparison.previous:
        lines += ["", "## Earlier mocks", "", "| Finished | Score |", "|---|---|"]
        lines += [f"| {_when(e.finished_at)} | {e.percent:.1f}% |" for e in report.comparison.previous]
    return "\n".join(lines) + "\n"


SHORT_VERDICT = {
    "accepted": "accepted",
    "wrong_answer": "wrong",
    "runtime_error": "error",
    "syntax_error": "syntax",
    "time_limit": "too slow",
    "memory_limit": "memory",
    "output_limit": "output",
    "internal_error": "not graded",
    NOT_SUBMITTED: "not submitted",
}


def screen_markdown(report: Report) -> str:
    """The report for an 80-column screen: a narrow table, then each question in full (answer, checks,
    reference)."""
    weights = weighted(report)
    full = _markdown(report)
    table_start = full.index("| # |")
    table_end = full.index("\n\n", table_start)
    rows = ["| # | Question | Verdict | Points | Time |", "|--:|---|---|--:|--:|"]
    for line in report.questions:
        title = line.title if len(line.title) <= 34 else line.title[:33] + "…"
        verdict = SHORT_VERDICT.get(line.verdict, line.verdict.replace("_", " "))
        verdict += " (auto)" if line.auto_submitted else ""
        points = points_text(line, weights)
        rows.append(f"| {line.number} | {_md_cell(title)} | {verdict} | {points} | {duration(line.seconds)} |")
    return full[:table_start] + "\n".join(rows) + full[table_end:]


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
.accepted { color: #1a7f37; }
.failed { color: #b42318; }
code { font-size: 0.9em; }
.score { font-size: 1.6rem; }
"""


def _html(report: Report) -> str:
    weights = weighted(report)

    def esc(value: object) -> str:
        return html.escape(str(value), quote=True)

    rows = []
    for line in report.questions:
        css = "accepted" if line.verdict == "accepted" else "failed"
        message = f"<br><small>{esc(line.message)}</small>" if line.message and line.verdict != "accepted" else ""
        rows.append(
            "<tr>"
            f'<td class="num">{line.number}</td>'
            f"<td>{esc(line.title)}<br><code>{esc(line.pack_id)}/{esc(line.question_id)}</code></td>"
            f"<td>{esc(line.kind)}</td><td>{esc(line.difficulty)}</td>"
            f'<td class="{css}">{esc(verdict_words(line))}{message}</td>'
            f'<td class="num">{points_text(line, weights)}</td>'
            f'<td class="num">{esc(duration(line.seconds))} ({line.minutes:g} min)</td>'
            f'<td class="num">{line.hints_used}</td>'
            "</tr>"
        )
    details = []
    for line in report.questions:
        checks = "".join(
            f"<li>{esc(CHECK_MARKS.get(c['status'], '?'))} {esc(c['name'])}"
            + (f": {esc(c['message'])}" if c["message"] else "")
            + "</li>"
            for c in line.checks
        )
        details.append(
            f"<h2>{line.number}. {esc(line.title)}</h2>\n"
            f"<p>{esc(verdict_words(line))}, {points_sentence(line, weights)}</p>\n"
            f"<p>Your answer:</p><pre>{esc(line.answer or '(nothing)')}</pre>\n"
            + (f"<ul>{checks}</ul>\n" if checks else "")
            + (f"<p>Reference:</p><pre>{esc(line.reference)}</pre>\n" if line.reference else "")
        )
    earlier = ""
    if report.comparison.previous:
        earlier_rows = "".join(
            f'<tr><td>{esc(_when(e.finished_at))}</td><td class="num">{e.percent:.1f}%</td></tr>'
            for e in report.comparison.previous
        )
        earlier = (
            "<h2>Earlier mocks</h2>\n<table><thead><tr><th>Finished</th><th>Score</th></tr></thead>"
            f"<tbody>{earlier_rows}</tbody></table>\n"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Mock interview {esc(report.id)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>Mock interview {esc(report.id)}</h1>\n"
        f"<p>{esc(summary_line(report))}</p>\n"
        f'<p class="score">Score: <strong>{report.percent:.1f}%</strong></p>\n'
        f"<p>{esc(comparison_text(report))}</p>\n"
        "<table><thead><tr><th>#</th><th>Question</th><th>Kind</th><th>Difficulty</th><th>Verdict</th>"
        "<th>Points</th><th>Time (estimate)</th><th>Hints</th></tr></thead>\n"
        f"<tbody>{''.join(rows)}</tbody></table>\n"
        f"{''.join(details)}"
        f"{earlier}"
        "</body>\n</html>\n"
    )
