"""Practice beyond single questions: timed mock interviews and their reports, and spaced review (FSRS).

Plain Python: no textual, no torch. The store (quizapp/store) persists; this package decides.

- mock.py: `MockConfig`, `draw`, `MockSession` (start, enter/leave, save_draft, use_hint, submit, expire,
  finish, remaining, editable), `resume`, `active_session`, `score`.
- report.py: `Report`, `build_report`, `load_report`, `list_reports`, `render(report, 'md' | 'json' | 'html')`.
- review.py: `record_outcome`, `due`, `rating_for`.
"""

from .mock import MockConfig, MockError, MockQuestion, MockSession, active_session, draw, resume, score
from .report import Report, list_reports, load_report, render
from .review import DueCard, due, record_outcome
from .scoring import Score

__all__ = [
    "DueCard",
    "MockConfig",
    "MockError",
    "MockQuestion",
    "MockSession",
    "Report",
    "Score",
    "active_session",
    "draw",
    "due",
    "list_reports",
    "load_report",
    "record_outcome",
    "render",
    "resume",
    "score",
]
