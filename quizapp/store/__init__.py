"""The progress store: the learner's drafts, attempts, hints and status per question, mock
interview sessions and reports, and spaced-review cards, in one SQLite file.

Plain Python (standard library sqlite3): no textual, no torch. See progress.py for durability and threading,
schema.py for migrations, records.py for the records it returns (imported on first use: the app's first frame
needs none of them).
"""

from typing import TYPE_CHECKING, Any

from .errors import StoreError
from .progress import FILENAME, Mode, Progress, QuestionStatus, Store, default_path
from .schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from .records import (
        Attempt,
        Draft,
        MockReportRecord,
        MockSessionRecord,
        ReviewCardRecord,
        ReviewChange,
        ReviewLogEntry,
    )

_RECORDS = frozenset(
    {"Attempt", "Draft", "MockReportRecord", "MockSessionRecord", "ReviewCardRecord", "ReviewChange", "ReviewLogEntry"}
)


def __getattr__(name: str) -> Any:
    if name in _RECORDS:
        from . import records

        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
