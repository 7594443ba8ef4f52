"""The learner's progress in one SQLite file: drafts, attempts, hints revealed, gave-up marks, and derived status.

Plain Python and the standard library's sqlite3: usable from the TUI, the CLI and tests without a screen.

Durability. Every write is its own committed transaction (`BEGIN IMMEDIATE` ... `COMMIT`), the file is in WAL
journal mode, and `synchronous=NORMAL`:

- An app crash, `kill -9`, or a closed terminal loses nothing that was committed. In WAL mode a COMMIT appends
  the transaction's pages to the `-wal` file with write() before returning, so once `save_draft` returns the data
  is in the operating system's page cache, which survives the death of the process; the next open reads the
  WAL (and checkpoints it into the main file). So a crash loses at most the text typed since the last save, a few
  seconds' worth.
- A power cut or an OS crash can lose the transactions committed since the last fsync. With `synchronous=NORMAL`
  SQLite fsyncs the WAL only at checkpoints (by default every ~1000 pages) rather than on every commit, so the
  last few saves and attempts may roll back, but the file stays consistent (never corrupt): WAL frames carry
  checksums and a torn tail is ignored. `synchronous=FULL` would fsync on every draft save, every few seconds,
  costing battery and latency on laptops to protect a few seconds of typing against a power cut.

Thread safety. The TUI saves drafts from its UI thread while worker threads record attempts, so a Store is safe to
share between threads: it holds one connection (`check_same_thread=False`) and every method runs under one lock.
A connection is not safe for concurrent use (two threads' statements would interleave inside one transaction),
and the lock makes each method's transaction atomic. Each write takes about a millisecond, so the UI never waits
noticeably; a connection per thread would add lock contention on the file and SQLITE_BUSY handling for no gain.
Other processes (a `quizapp grade` while the TUI runs) are handled by SQLite's file locking and a busy timeout.

Timestamps are UTC, stored as ISO 8601 text with microseconds and `+00:00` (so they sort as text) and returned as
timezone-aware datetimes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, get_args

from .. import locations
from .errors import StoreError
from .schema import migrate, refuse_newer, schema_version

if TYPE_CHECKING:  # imported where used: the app's first frame needs none of them
    from ..grading.result import Result
    from .records import (
        Attempt,
        Draft,
        MockReportRecord,
        MockSessionRecord,
        ReviewCardRecord,
        ReviewChange,
        ReviewLogEntry,
    )

FILENAME = "progress.sqlite3"
BUSY_TIMEOUT_SECONDS = 5.0

Mode = Literal["run", "submit"]
QuestionStatus = Literal["new", "attempted", "solved"]
MODES: tuple[str, ...] = get_args(Mode)


def default_path() -> Path:
    """Where the progress database lives: `progress.sqlite3` in the data directory (moved by QUIZAPP_HOME)."""
    return locations.data_dir() / FILENAME


@dataclass(frozen=True)
class Progress:
    """How far the learner is through a set of questions. `attempted` excludes the solved ones."""

    solved: int
    attempted: int
    total: int

    @property
    def new(self) -> int:
        return self.total - self.solved - self.attempted

    @property
    def fraction(self) -> float:
        """Solved / total, 0.0 for an empty set."""
        return self.solved / self.total if self.total else 0.0


def _now() -> str:
    return _timestamp(datetime.now(UTC))


def _timestamp(moment: datetime) -> str:
    """UTC ISO 8601 text. A naive datetime is taken as local time, as `datetime.now()` gives it."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_ATTEMPT_COLUMNS = (
    "id, pack_id, question_id, kind, mode, verdict, status, score, duration_ms, hints_used, answer, "
    "created_at, started_at, gave_up, result_json"
)


# Primary SQLite result codes (exc.sqlite_errorcode & 0xFF) that need their own advice.
_CORRUPT, _NOTADB = 11, 26
_BUSY, _LOCKED = 5, 6
_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN = 3, 8, 10, 13, 14


class Store:
    """The progress store. Open one per app (`Store.open_default()`), share it between threads, close it on exit.

    Every method either returns or raises StoreError with a message fit to show the learner; raw sqlite3 errors
    never escape. Use as a context manager to close it.
    """

    path: Path

    def __init__(self, path: Path | str | None = None) -> None:
        """Open (creating if needed) the database at `path`, default `default_path()`, and apply migrations.

        Raises StoreError if the file is not a usable database, was written by a newer quizapp, or cannot be
        created.
        """
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._db = self._open()

    @classmethod
    def open_default(cls) -> Store:
        """The learner's store, at `default_path()`."""
        return cls()

    # --- lifecycle ----------------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder {self.path.parent} for the progress database: {exc.strerror or exc}. "
                "Check its permissions, or set QUIZAPP_HOME to a folder you can write."
            ) from exc
        try:
            db = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit: transactions are explicit, see _write
                check_same_thread=False,  # shared between threads under self._lock
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            db.row_factory = sqlite3.Row
            # Read the version before writing anything: this is what fails on a file that is not a database,
            # and a file from a newer quizapp must not even be switched to WAL.
            refuse_newer(schema_version(db), self.path)
            db.execute("PRAGMA journal_mode = WAL")  # may stay 'delete' on filesystems without shared memory
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db, self.path)
        except BaseException as exc:
            db.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from exc
            raise
        return db

    def close(self) -> None:
        """Close the database (checkpointing the WAL into the main file). Closing twice is harmless."""
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                with suppress(sqlite3.Error):
                    db.close()

    @property
    def closed(self) -> bool:
        return self._db is None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}{', closed' if self.closed else ''})"

    # --- plumbing -----------------------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """A StoreError naming the file and what to do, for a sqlite3 error."""
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        text = str(exc)
        if code in (_CORRUPT, _NOTADB) or "not a database" in text or "malformed" in text:
            return StoreError(
                f"The progress database {self.path} is damaged or is not a quizapp database ({text}). "
                f"Move it aside (for example rename it to {self.path.name}.broken) and quizapp will start a new "
                "one; your earlier drafts and history stay in the moved file."
            )
        if code in (_BUSY, _LOCKED):
            return StoreError(
                f"The progress database {self.path} is busy ({text}): another quizapp may be holding it. "
                "Close the other one or try again in a moment."
            )
        if code in (_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN):
            return StoreError(
                f"Cannot use the progress database {self.path} ({text}). Check that the file and its folder are "
                "writable and the disk is not full, or set QUIZAPP_HOME to another folder."
            )
        return StoreError(f"The progress database {self.path} failed: {text}.")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"The progress database {self.path} is closed.")
        return self._db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, for statements that only read (each SELECT sees one snapshot)."""
        with self._lock:
            db = self._connection()
            try:
                yield db
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction, under the lock. IMMEDIATE: take the write lock up front, so a read-then-write
        never fails half-way on another process's write; rolled back on any exception."""
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise

    @property
    def schema_version(self) -> int:
        """The file's schema version (`PRAGMA user_version`)."""
        with self._read() as db:
            return schema_version(db)

    # --- drafts -------------------------------------------------------------------------------------------

    def save_draft(self, pack_id: str, question_id: str, text: str, *, starter: str | None = None) -> None:
        """Save the learner's current text for a question, committed before returning.

        Nothing is written (and `updated_at` is kept) if the text is unchanged, so calling this every few seconds
        is cheap. Pass the question's `starter`: a text equal to it is no draft at all (it is cleared), so merely
        opening and leaving a question does not mark it attempted.
        """
        if starter is not None and text == starter:
            self.clear_draft(pack_id, question_id)
            return
        with self._lock:
            current = self.draft(pack_id, question_id)
            if current is not None and current.text == text:
                return
            with self._write() as db:
                # The WHERE keeps the no-write-if-unchanged promise against another process's save, too.
                db.execute(
                    """
                    INSERT INTO drafts (pack_id, question_id, text, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (pack_id, question_id) DO UPDATE
                        SET text = excluded.text, updated_at = excluded.updated_at
                        WHERE drafts.text IS NOT excluded.text
                    """,
                    (pack_id, question_id, text, _now()),
                )

    def draft(self, pack_id: str, question_id: str) -> Draft | None:
        """The saved text for a question, or None if there is none (show the starter)."""
        with self._read() as db:
            row = db.execute(
                "SELECT text, updated_at FROM drafts WHERE pack_id = ? AND question_id = ?", (pack_id, question_id)
            ).fetchone()
        from .records import Draft

        return None if row is None else Draft(row["text"], datetime.fromisoformat(row["updated_at"]))

    def clear_draft(self, pack_id: str, question_id: str) -> None:
        """Forget the draft (reset to starter). Attempts, hints and gave-up marks stay."""
        with self._write() as db:
            db.execute("DELETE FROM drafts WHERE pack_id = ? AND question_id = ?", (pack_id, question_id))

    def drafts(self, pack_id: str) -> dict[str, Draft]:
        """Every saved draft in a pack, by question id."""
        from .records import Draft

        with self._read() as db:
            rows = db.execute("SELECT question_id, text, updated_at FROM drafts WHERE pack_id = ?", (pack_id,))
            return {row["question_id"]: Draft(row["text"], datetime.fromisoformat(row["updated_at"])) for row in rows}

    # --- attempts -----------------------------------------------------------------------------------------

    def record_attempt(
        self,
        pack_id: str,
        question_id: str,
        *,
        kind: str,
        mode: str,
        answer: str,
        result: Result,
        hints_used: int,
        started_at: datetime | None = None,
        gave_up: bool = False,
    ) -> int:
        """Record a Run or Submit with its full Result, committed before returning; returns the attempt's id.

        `mode` is 'run' or 'submit' (only an accepted Submit solves a question); `hints_used` is the number of
        hints revealed when the answer was graded; `started_at` is when the learner opened the question (a naive
        datetime is taken as local time); `gave_up` says the solution had been shown.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be 'run' or 'submit', not {mode!r}")
        if isinstance(hints_used, bool) or not isinstance(hints_used, int) or hints_used < 0:
            raise ValueError(f"hints_used must be a whole number >= 0, not {hints_used!r}")
        # default=str: an odd value in a check's details must not cost the learner their attempt.
        result_json = json.dumps(result.to_json(), ensure_ascii=False, default=str)
        with self._write() as db:
            cursor = db.execute(
                """
                INSERT INTO attempts (pack_id, question_id, kind, mode, answer, verdict, status, score,
                                      result_json, duration_ms, hints_used, started_at, created_at, gave_up)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    pack_id,
                    question_id,
                    kind,
                    mode,
                    answer,
                    result.verdict,
                    result.status,
                    result.score,
                    result_json,
                    float(result.duration_ms),
                    hints_used,
                    None if started_at is None else _timestamp(started_at),
                    _now(),
                    int(bool(gave_up)),
                ),
            )
            attempt_id = cursor.lastrowid
        assert attempt_id is not None
        return attempt_id

    def attempts(self, pack_id: str, question_id: str, limit: int | None = 100) -> list[Attempt]:
        """A question's attempts, newest first (by recording order, whatever the clock did); None = all."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE pack_id = ? AND question_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (pack_id, question_id, -1 if limit is None else max(limit, 0)),
            ).fetchall()
        if not rows:  # nothing to make: the records module is not imported (the app asks for running mocks at start)
            return []
        from .records import attempt_from_row

        return [attempt_from_row(row) for row in rows]

    def attempt(self, attempt_id: int) -> Attempt | None:
        """One attempt by id (for diffing two attempts), or None."""
        with self._read() as db:
            row = db.execute(f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        from .records import attempt_from_row

        return None if row is None else attempt_from_row(row)

    # --- hints and giving up ------------------------------------------------------------------------------

    def reveal_hint(self, pack_id: str, question_id: str) -> int:
        """Count one more hint revealed and return the new count. The count only grows (it is never reset, not
        even by clear_draft); the front end shows the first `count` hints and stops offering at the last one."""
        with self._write() as db:
            rows = db.execute(
                """
                INSERT INTO question_state (pack_id, question_id, hints_revealed, updated_at) VALUES (?, ?, 1, ?)
                ON CONFLICT (pack_id, question_id) DO UPDATE
                    SET hints_revealed = hints_revealed + 1, updated_at = excluded.updated_at
                RETURNING hints_revealed
                """,
                (pack_id, question_id, _now()),
            ).fetchall()  # step the statement to its end before COMMIT
            return int(rows[0][0])

    def hints_revealed(self, pack_id: str, question_id: str) -> int:
        """How many hints the learner has revealed on a question (0 if none)."""
        with self._read() as db:
            row = db.execute(
                "SELECT hints_revealed FROM question_state WHERE pack_id = ? AND question_id = ?",
                (pack_id, question_id),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def give_up(self, pack_id: str, question_id: str) -> None:
        """Mark that the solution was shown on request before the question was solved.

        The first time is kept. Once the question is solved, showing the solution is not giving up, so this does
        nothing then.
        """
        with self._write() as db:
            if self._solved(db, pack_id, question_id):
                return
            now = _now()
            db.execute(
                """
                INSERT INTO question_state (pack_id, question_id, gave_up_at, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (pack_id, question_id) DO UPDATE
                    SET gave_up_at = coalesce(gave_up_at, excluded.gave_up_at), updated_at = excluded.updated_at
                """,
                (pack_id, question_id, now, now),
            )

    def gave_up(self, pack_id: str, question_id: str) -> bool:
        """Whether the learner asked for the solution before solving the question."""
        with self._read() as db:
            row = db.execute(
                "SELECT gave_up_at FROM question_state WHERE pack_id = ? AND question_id = ?", (pack_id, question_id)
            ).fetchone()
        return row is not None and row[0] is not None

    # --- status and progress ------------------------------------------------------------------------------

    @staticmethod
    def _solved(db: sqlite3.Connection, pack_id: str, question_id: str) -> bool:
        row = db.execute(
            """
            SELECT 1 FROM attempts
            WHERE pack_id = ? AND question_id = ? AND mode = 'submit' AND verdict = 'accepted' AND gave_up = 0 LIMIT 1
            """,
            (pack_id, question_id),
        ).fetchone()
        return row is not None

    def status(self, pack_id: str, question_id: str) -> QuestionStatus:
        """'solved' if some Submit was accepted before the solution was shown; 'attempted' if there is a draft or
        any attempt; else 'new'.

        Hints revealed and gave-up marks alone leave a question 'new'.
        """
        with self._read() as db:
            row = db.execute(
                """
                SELECT
                    EXISTS (SELECT 1 FROM attempts WHERE pack_id = :p AND question_id = :q
                            AND mode = 'submit' AND verdict = 'accepted' AND gave_up = 0),
                    EXISTS (SELECT 1 FROM attempts WHERE pack_id = :p AND question_id = :q)
                    OR EXISTS (SELECT 1 FROM drafts WHERE pack_id = :p AND question_id = :q)
                """,
                {"p": pack_id, "q": question_id},
            ).fetchone()
        if row[0]:
            return "solved"
        return "attempted" if row[1] else "new"

    def statuses(self, pack_id: str) -> dict[str, QuestionStatus]:
        """Status of every question in a pack that has a draft or an attempt; a question absent is 'new'."""
        with self._read() as db:
            rows = db.execute(
                """
                SELECT question_id, max(solved) AS solved FROM (
                    SELECT question_id, max(mode = 'submit' AND verdict = 'accepted' AND gave_up = 0) AS solved
                        FROM attempts WHERE pack_id = :p GROUP BY question_id
                    UNION ALL
                    SELECT question_id, 0 FROM drafts WHERE pack_id = :p
                ) GROUP BY question_id
                """,
                {"p": pack_id},
            ).fetchall()
        return {row["question_id"]: ("solved" if row["solved"] else "attempted") for row in rows}

    def progress(self, pack_id: str, question_ids: Iterable[str]) -> Progress:
        """Solved, attempted (not solved) and total over the given questions (a pack's current question list:
        records of questions no longer in it are not counted). Repeated ids count once."""
        wanted = set(question_ids)
        statuses = self.statuses(pack_id)
        solved = sum(1 for question_id in wanted if statuses.get(question_id) == "solved")
        attempted = sum(1 for question_id in wanted if statuses.get(question_id) == "attempted")
        return Progress(solved=solved, attempted=attempted, total=len(wanted))

    # --- mock interviews ----------------------------------------------------------------------------------
    # The store persists; quizapp/practice decides. A session's state and a report are JSON whose shape belongs
    # to practice/; only the columns that queries sort and filter on are kept beside it.

    def save_mock_session(
        self,
        session_id: str,
        *,
        started_at: datetime,
        deadline: datetime,
        finished_at: datetime | None,
        state: dict[str, Any],
    ) -> None:
        """Create or replace a mock session's row, committed before returning."""
        state_json = json.dumps(state, ensure_ascii=False, default=str)
        with self._write() as db:
            db.execute(
                """
                INSERT INTO mock_sessions (id, started_at, deadline, finished_at, state_json, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    started_at = excluded.started_at, deadline = excluded.deadline,
                    finished_at = excluded.finished_at, state_json = excluded.state_json,
                    updated_at = excluded.updated_at
                """,
                (
                    session_id,
                    _timestamp(started_at),
                    _timestamp(deadline),
                    None if finished_at is None else _timestamp(finished_at),
                    state_json,
                    _now(),
                ),
            )

    def mock_session(self, session_id: str) -> MockSessionRecord | None:
        """One mock session by id, or None."""
        with self._read() as db:
            row = db.execute(f"SELECT {_MOCK_COLUMNS} FROM mock_sessions WHERE id = ?", (session_id,)).fetchone()
        from .records import mock_session_from_row

        return None if row is None else mock_session_from_row(row)

    def mock_sessions(
        self, *, finished: bool | None = None, reviewed: bool | None = None, limit: int | None = None
    ) -> list[MockSessionRecord]:
        """Mock sessions, newest started first. `finished` True/False keeps only finished/unfinished ones;
        `reviewed` True/False only those whose outcomes were / were not yet fed to spaced review."""
        conditions = []
        if finished is not None:
            conditions.append(f"finished_at IS {'NOT ' if finished else ''}NULL")
        if reviewed is not None:
            conditions.append(f"reviewed_at IS {'NOT ' if reviewed else ''}NULL")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_MOCK_COLUMNS} FROM mock_sessions {where} ORDER BY started_at DESC, id DESC LIMIT ?",
                (-1 if limit is None else max(limit, 0),),
            ).fetchall()
        if not rows:  # nothing to make: the records module is not imported (the app asks for running mocks at start)
            return []
        from .records import mock_session_from_row

        return [mock_session_from_row(row) for row in rows]

    def mark_mock_reviewed(self, session_id: str, when: datetime | None = None) -> None:
        """Note that a finished session's outcomes were fed to spaced review (the first time is kept)."""
        stamp = _now() if when is None else _timestamp(when)
        with self._write() as db:
            db.execute(
                "UPDATE mock_sessions SET reviewed_at = coalesce(reviewed_at, ?) WHERE id = ?", (stamp, session_id)
            )

    def save_mock_report(
        self, report_id: str, *, session_id: str, finished_at: datetime, score: float, report: dict[str, Any]
    ) -> bool:
        """Keep a finished session's report. A report is made once: if the session already has one, nothing is
        written and False is returned."""
        report_json = json.dumps(report, ensure_ascii=False, default=str)
        with self._write() as db:
            cursor = db.execute(
                """
                INSERT INTO mock_reports (id, session_id, finished_at, score, report_json, created_at)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """,
                (report_id, session_id, _timestamp(finished_at), float(score), report_json, _now()),
            )
            return cursor.rowcount > 0

    def mock_report(self, report_id: str) -> MockReportRecord | None:
        """One report by its id, or None."""
        with self._read() as db:
            row = db.execute(f"SELECT {_REPORT_COLUMNS} FROM mock_reports WHERE id = ?", (report_id,)).fetchone()
        from .records import mock_report_from_row

        return None if row is None else mock_report_from_row(row)

    def mock_reports(self, *, before: datetime | None = None, limit: int | None = None) -> list[MockReportRecord]:
        """Reports, newest finished first; `before` keeps those finished strictly before that moment."""
        sql = f"SELECT {_REPORT_COLUMNS} FROM mock_reports"
        params: list[Any] = []
        if before is not None:
            sql += " WHERE finished_at < ?"
            params.append(_timestamp(before))
        sql += " ORDER BY finished_at DESC, id DESC LIMIT ?"
        params.append(-1 if limit is None else max(limit, 0))
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        if not rows:  # nothing to make: the records module is not imported (the app asks for running mocks at start)
            return []
        from .records import mock_report_from_row

        return [mock_report_from_row(row) for row in rows]

    # --- review cards -------------------------------------------------------------------------------------

    def review_card(self, pack_id: str, question_id: str) -> ReviewCardRecord | None:
        """A question's review card, or None if it was never reviewed."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {_CARD_COLUMNS} FROM review_cards WHERE pack_id = ? AND question_id = ?",
                (pack_id, question_id),
            ).fetchone()
        from .records import review_card_from_row

        return None if row is None else review_card_from_row(row)

    def review_cards(self, *, due_by: datetime | None = None) -> list[ReviewCardRecord]:
        """Review cards, earliest due first; `due_by` keeps those due at or before that moment."""
        sql = f"SELECT {_CARD_COLUMNS} FROM review_cards"
        params: list[Any] = []
        if due_by is not None:
            sql += " WHERE due <= ?"
            params.append(_timestamp(due_by))
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY due, pack_id, question_id", params).fetchall()
        if not rows:  # nothing to make: the records module is not imported (the app asks for running mocks at start)
            return []
        from .records import review_card_from_row

        return [review_card_from_row(row) for row in rows]

    def update_review_card(
        self,
        pack_id: str,
        question_id: str,
        change: Callable[[dict[str, Any] | None], ReviewChange],
        *,
        source: str | None = None,
    ) -> ReviewCardRecord | None:
        """Read-modify-write a question's card in one committed transaction.

        `change` gets the stored card (its JSON dict, or None for a new card) and returns the new card with its
        review's log entry; it runs inside the transaction (under the file's write lock), so two processes
        reviewing the same question cannot lose each other's update. With `source`, a review from that source
        counts once: if one was already logged, nothing changes and None is returned.
        """
        with self._write() as db:
            if source is not None:
                seen = db.execute("SELECT 1 FROM review_log WHERE source = ?", (source,)).fetchone()
                if seen is not None:
                    return None
            row = db.execute(
                "SELECT card_json, reviews FROM review_cards WHERE pack_id = ? AND question_id = ?",
                (pack_id, question_id),
            ).fetchone()
            current = None if row is None else json.loads(row["card_json"])
            reviews = (0 if row is None else int(row["reviews"])) + 1
            new = change(current)
            card_json = json.dumps(new.card, ensure_ascii=False)
            now = _now()
            db.execute(
                """
                INSERT INTO review_cards (pack_id, question_id, card_json, due, reviews, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (pack_id, question_id) DO UPDATE SET
                    card_json = excluded.card_json, due = excluded.due, reviews = excluded.reviews,
                    updated_at = excluded.updated_at
                """,
                (pack_id, question_id, card_json, _timestamp(new.due), reviews, now),
            )
            db.execute(
                """
                INSERT INTO review_log (pack_id, question_id, rating, reviewed_at, source, log_json)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                (
                    pack_id,
                    question_id,
                    int(new.rating),
                    _timestamp(new.reviewed_at),
                    source,
                    json.dumps(new.log, ensure_ascii=False, default=str),
                ),
            )
        from .records import ReviewCardRecord

        return ReviewCardRecord(pack_id, question_id, new.card, new.due.astimezone(UTC), reviews)

    def review_log(self, pack_id: str, question_id: str) -> list[ReviewLogEntry]:
        """A question's reviews, oldest first."""
        from .records import ReviewLogEntry

        with self._read() as db:
            rows = db.execute(
                """
                SELECT rating, reviewed_at, source, log_json FROM review_log
                WHERE pack_id = ? AND question_id = ? ORDER BY id
                """,
                (pack_id, question_id),
            ).fetchall()
        return [
            ReviewLogEntry(
                rating=int(row["rating"]),
                reviewed_at=datetime.fromisoformat(row["reviewed_at"]),
                source=row["source"],
                log=json.loads(row["log_json"]),
            )
            for row in rows
        ]


_MOCK_COLUMNS = "id, started_at, deadline, finished_at, reviewed_at, updated_at, state_json"
_REPORT_COLUMNS = "id, session_id, finished_at, score, created_at, report_json"
_CARD_COLUMNS = "pack_id, question_id, card_json, due, reviews"
