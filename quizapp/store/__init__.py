"""The progress store: the learner's drafts, attempts, hints and status per question, mock
interview sessions and reports, and spaced-review cards, in one SQLite file.

Plain Python (standard library sqlite3): no textual, no torch. See progress.py for durability and threading,
schema.py for migrations.
"""

from .errors import StoreError
from .progress import (
    FILENAME,
    Attempt,
    Draft,
    MockReportRecord,
    MockSessionRecord,
    Mode,
    Progress,
    QuestionStatus,
    ReviewCardRecord,
    ReviewChange,
    ReviewLogEntry,
    Store,
    default_path,
)
from .schema import SCHEMA_VERSION

__all__ = [
    "FILENAME",
    "SCHEMA_VERSION",
    "Attempt",
    "Draft",
    "MockReportRecord",
    "MockSessionRecord",
    "Mode",
    "Progress",
    "QuestionStatus",
    "ReviewCardRecord",
    "ReviewChange",
    "ReviewLogEntry",
    "Store",
    "StoreError",
    "default_path",
]
