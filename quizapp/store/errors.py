"""The one exception the store raises: the app shows its message to the learner as it is."""

from __future__ import annotations


class StoreError(Exception):
    """The progress database cannot be used: corrupt, written by a newer quizapp, busy, unwritable, or closed.

    The message names the file and says what to do; it never carries a raw sqlite3 traceback (the original
    error is kept as `__cause__` for logs).
    """
