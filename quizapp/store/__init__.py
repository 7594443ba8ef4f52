"""The progress store: the learner's drafts, attempts, hints and status per question, in one SQLite file.

Plain Python (standard library sqlite3): no textual, no torch. See progress.py for durability and threading,
schema.py for migrations.
"""

from .errors import StoreError
from .progress import FILENAME, Attempt, Draft, Mode, Progress, QuestionStatus, Store, default_path
from .schema import SCHEMA_VERSION

__all__ = [
    "FILENAME",
    "SCHEMA_VERSION",
    "Attempt",
    "Draft",
    "Mode",
    "Progress",
    "QuestionStatus",
    "Store",
    "StoreError",
    "default_path",
]
