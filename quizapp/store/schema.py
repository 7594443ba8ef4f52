"""The progress database's schema: an ordered list of migrations, versioned with `PRAGMA user_version`.

`user_version` is the number of migrations applied: 0 for a new file, `SCHEMA_VERSION` when up to date.
Migration *n* (1-based) is `MIGRATIONS[n - 1]`; it turns a version n-1 file into a version n file. To change
the schema, append a migration; never edit one that has shipped, since files in learners' homes were made by it.

All pending migrations run in one `BEGIN IMMEDIATE` transaction together with the `user_version` bump, so a file
is always at one known version: a crash mid-migration leaves it at the old version, and two processes opening
an old file at once migrate it once (the second re-reads the version after taking the write lock).

A file whose version is higher than `SCHEMA_VERSION` was written by a newer quizapp: it is refused with a
StoreError before anything is written to it, so going back to an older release never clobbers newer data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import StoreError

Migration = Callable[[sqlite3.Connection], None]


def _run(db: sqlite3.Connection, statements: Sequence[str]) -> None:
    # Statement by statement: executescript() would COMMIT the migration's transaction first.
    for statement in statements:
        db.execute(statement)


def _v1_create_tables(db: sqlite3.Connection) -> None:
    """Drafts, attempts and per-question state (hints revealed, gave up)."""
    _run(
        db,
        [
            # The learner's current text per question; one row per question, replaced on every save.
            """
            CREATE TABLE drafts (
                pack_id     TEXT NOT NULL,
                question_id TEXT NOT NULL,
                text        TEXT NOT NULL,
                updated_at  TEXT NOT NULL,  -- UTC, ISO 8601
                PRIMARY KEY (pack_id, question_id)
            )
            """,
            # Every Run and Submit, never updated. AUTOINCREMENT: ids are never reused, so a history view
            # or a diff can refer to an attempt by id even after others are deleted.
            """
            CREATE TABLE attempts (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                pack_id     TEXT NOT NULL,
                question_id TEXT NOT NULL,
                kind        TEXT NOT NULL,
                mode        TEXT NOT NULL CHECK (mode IN ('run', 'submit')),
                answer      TEXT NOT NULL,
                verdict     TEXT NOT NULL,
                status      TEXT NOT NULL,
                score       REAL,
                result_json TEXT NOT NULL,
                duration_ms REAL NOT NULL,
                hints_used  INTEGER NOT NULL CHECK (hints_used >= 0),
                started_at  TEXT,           -- when the learner opened the question; UTC, ISO 8601
                created_at  TEXT NOT NULL,  -- UTC, ISO 8601
                gave_up     INTEGER NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1))
            )
            """,
            "CREATE INDEX attempts_by_question ON attempts (pack_id, question_id, id)",
            """
            CREATE INDEX attempts_accepted_submits ON attempts (pack_id, question_id)
                WHERE mode = 'submit' AND verdict = 'accepted'
            """,
            # What the learner asked for on a question, beyond their answers.
            """
            CREATE TABLE question_state (
                pack_id        TEXT NOT NULL,
                question_id    TEXT NOT NULL,
                hints_revealed INTEGER NOT NULL DEFAULT 0 CHECK (hints_revealed >= 0),
                gave_up_at     TEXT,           -- first time the solution was shown before a pass; NULL if never
                updated_at     TEXT NOT NULL,
                PRIMARY KEY (pack_id, question_id)
            )
            """,
        ],
    )


def _v2_practice_tables(db: sqlite3.Connection) -> None:
    """Mock-interview sessions, their reports, and spaced-review cards with their review log.

    The store only persists these; quizapp/practice decides what goes in them. A session's and a report's
    content is JSON (their shape belongs to practice/); the columns beside it are what queries sort and filter on.
    """
    _run(
        db,
        [
            # One row per mock interview, rewritten on every change (draft, hint, submit, time accounting).
            """
            CREATE TABLE mock_sessions (
                id          TEXT PRIMARY KEY,
                started_at  TEXT NOT NULL,  -- UTC, ISO 8601
                deadline    TEXT NOT NULL,  -- UTC: the clock is always computed from this, never counted down
                finished_at TEXT,           -- NULL while the session runs
                reviewed_at TEXT,           -- when its outcomes were fed to spaced review; NULL until then
                state_json  TEXT NOT NULL,
                updated_at  TEXT NOT NULL
            )
            """,
            "CREATE INDEX mock_sessions_unfinished ON mock_sessions (started_at) WHERE finished_at IS NULL",
            # The report of a finished session, made once and kept as it was (later mocks do not rewrite it).
            """
            CREATE TABLE mock_reports (
                id          TEXT PRIMARY KEY,
                session_id  TEXT NOT NULL UNIQUE,
                finished_at TEXT NOT NULL,  -- UTC; history is listed newest first by this
                score       REAL NOT NULL,  -- percent, 0-100
                report_json TEXT NOT NULL,
                created_at  TEXT NOT NULL
            )
            """,
            "CREATE INDEX mock_reports_by_time ON mock_reports (finished_at)",
            # One card per question ever answered: the scheduler's own serialisation (JSON, never pickle).
            """
            CREATE TABLE review_cards (
                pack_id     TEXT NOT NULL,
                question_id TEXT NOT NULL,
                card_json   TEXT NOT NULL,
                due         TEXT NOT NULL,  -- UTC, copied out of card_json for sorting
                reviews     INTEGER NOT NULL DEFAULT 0,
                updated_at  TEXT NOT NULL,
                PRIMARY KEY (pack_id, question_id)
            )
            """,
            "CREATE INDEX review_cards_by_due ON review_cards (due)",
            # Every review, never updated. `source` names where an outcome came from when it must count once
            # (a finished mock's question); a second review with the same source is ignored.
            """
            CREATE TABLE review_log (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                pack_id     TEXT NOT NULL,
                question_id TEXT NOT NULL,
                rating      INTEGER NOT NULL,
                reviewed_at TEXT NOT NULL,  -- UTC
                source      TEXT UNIQUE,
                log_json    TEXT NOT NULL
            )
            """,
            "CREATE INDEX review_log_by_question ON review_log (pack_id, question_id, id)",
        ],
    )


MIGRATIONS: tuple[Migration, ...] = (_v1_create_tables, _v2_practice_tables)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The file's `user_version`. Reading it is the first thing done with a file, and it fails on a non-database."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(version: int, path: Path, known: int = SCHEMA_VERSION) -> None:
    """Raise StoreError if the file was written by a newer quizapp than this one (which knows `known` versions)."""
    if version > known:
        raise StoreError(
            f"The progress database {path} was written by a newer version of quizapp "
            f"(schema version {version}; this version knows up to {known}). "
            "It was left untouched: upgrade quizapp to use it, or set QUIZAPP_HOME to another folder."
        )


def migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the file up to `len(migrations)` and return the version it had before.

    `db` must be in autocommit mode (`isolation_level=None`); sqlite3 errors propagate to the caller, which turns
    them into StoreErrors.
    """
    before = schema_version(db)
    refuse_newer(before, path, len(migrations))
    if before >= len(migrations):
        return before
    db.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(db)  # another process may have migrated while we waited for the lock
        refuse_newer(version, path, len(migrations))
        for number in range(version + 1, len(migrations) + 1):
            migrations[number - 1](db)
            # PRAGMA takes no parameters; `number` is an int we computed.
            db.execute(f"PRAGMA user_version = {int(number)}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return before
