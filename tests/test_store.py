"""The progress store, on real SQLite files: round trips, durability across a kill -9, status, threads, bad files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quizapp import locations
from quizapp.grading.result import Result
from quizapp.grading.result import TestResult as CheckResult  # not named Test*, so pytest does not collect it
from quizapp.store import SCHEMA_VERSION, Attempt, Draft, Progress, Store, StoreError
from quizapp.store.schema import MIGRATIONS, migrate

REPO = Path(__file__).resolve().parent.parent
PACK = "test-pack"


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "progress.sqlite3") as opened:
        yield opened


def accepted(mode: str = "submit") -> Result:
    return Result(verdict="accepted", tests=[CheckResult(name="outputs", status="pass")], duration_ms=12.5, mode=mode)


def wrong(mode: str = "submit") -> Result:
    return Result(
        verdict="wrong_answer",
        tests=[CheckResult(name="outputs", status="fail", message="expected (2, 4), got (4, 2)")],
        duration_ms=8.0,
        mode=mode,
    )


def full_result() -> Result:
    """A Result using every optional field, so the JSON round trip covers them all."""
    return Result(
        verdict="runtime_error",
        tests=[
            CheckResult(
                name="same outputs",
                status="fail",
                message="shape (2, 3) expected, got (3, 2); max abs error 0.5 at [0, 1]",
                check="same-outputs",
                output="hello\n",
                line=7,
                details={"expected": [2, 3], "got": [3, 2], "max_abs": 0.5, "note": "ünïcode ✓"},
            ),
            CheckResult(name="hidden", status="pass", visible=False, check="same-gradients"),
        ],
        message="Your forward raised before the last check.",
        duration_ms=123.456,
        jail_mode="full",
        mode="submit",
        score=0.5,
        line=7,
        column=12,
        stdout="printed\n",
        stderr="warning\n",
        traceback='  File "answer.py", line 7, in forward\nRuntimeError: boom',
    )


def record(store: Store, question: str, result: Result, mode: str = "submit", answer: str = "x", **kw) -> int:
    return store.record_attempt(
        PACK, question, kind="code", mode=mode, answer=answer, result=result, hints_used=0, **kw
    )


# --- opening, paths, lifecycle -----------------------------------------------------------------------------


def test_default_path_follows_quizapp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "some" / "nested" / "home"
    monkeypatch.setenv("QUIZAPP_HOME", str(home))
    with Store.open_default() as store:
        assert store.path == home / "progress.sqlite3" == locations.data_dir() / "progress.sqlite3"
        store.save_draft(PACK, "q", "text")
    assert (home / "progress.sqlite3").is_file()
    with Store() as again:
        assert again.path == home / "progress.sqlite3"
        assert again.draft(PACK, "q").text == "text"


def test_new_file_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "p.sqlite3"
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"drafts", "attempts", "question_state"} <= tables
    finally:
        db.close()


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    Store(path).close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION


def test_closed_store_raises_store_error_and_close_twice_is_fine(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.sqlite3")
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        store.draft(PACK, "q")


# --- drafts ------------------------------------------------------------------------------------------------


def test_draft_round_trip_and_clear(store: Store) -> None:
    assert store.draft(PACK, "q") is None
    before = datetime.now(UTC)
    store.save_draft(PACK, "q", "import torch\n")
    draft = store.draft(PACK, "q")
    assert isinstance(draft, Draft)
    assert draft.text == "import torch\n"
    assert draft.updated_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= draft.updated_at <= datetime.now(UTC)
    assert store.draft(PACK, "other") is None
    assert store.draft("other-pack", "q") is None

    store.save_draft(PACK, "q", '["a", "c"]')
    assert store.draft(PACK, "q").text == '["a", "c"]'
    assert store.drafts(PACK) == {"q": store.draft(PACK, "q")}

    store.clear_draft(PACK, "q")
    assert store.draft(PACK, "q") is None
    store.clear_draft(PACK, "never-saved")  # harmless


def test_unchanged_draft_is_not_written(store: Store) -> None:
    store.save_draft(PACK, "q", "same")
    first = store.draft(PACK, "q")
    changes = store._db.total_changes
    store.save_draft(PACK, "q", "same")
    assert store._db.total_changes == changes
    assert store.draft(PACK, "q") == first
    store.save_draft(PACK, "q", "different")
    assert store._db.total_changes == changes + 1
    assert store.draft(PACK, "q").updated_at >= first.updated_at


def test_draft_equal_to_starter_is_no_draft(store: Store) -> None:
    store.save_draft(PACK, "q", "class Scale:\n    pass\n", starter="class Scale:\n    pass\n")
    assert store.draft(PACK, "q") is None
    assert store.status(PACK, "q") == "new"
    store.save_draft(PACK, "q", "edited", starter="class Scale:\n    pass\n")
    assert store.draft(PACK, "q").text == "edited"
    store.save_draft(PACK, "q", "class Scale:\n    pass\n", starter="class Scale:\n    pass\n")
    assert store.draft(PACK, "q") is None


def test_draft_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    with Store(path) as store:
        store.save_draft(PACK, "q", "x = 1\n")
        saved = store.draft(PACK, "q")
    with Store(path) as store:
        assert store.draft(PACK, "q") == saved


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from quizapp.grading.result import Result
    from quizapp.store import Store

    store = Store(Path(sys.argv[1]))
    store.save_draft("test-pack", "q", "typed before the crash\\n")
    store.reveal_hint("test-pack", "q")
    store.record_attempt("test-pack", "q", kind="code", mode="run", answer="a", result=Result(verdict="accepted"),
                         hints_used=1)
    print("saved", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_draft_saved_by_a_process_killed_with_sigkill_is_there(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        assert child.stdout.readline().strip() == "saved"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    # The writer never closed its connection: the committed data is still only in the WAL.
    assert path.with_name(path.name + "-wal").stat().st_size > 0
    with Store(path) as store:
        assert store.draft(PACK, "q").text == "typed before the crash\n"
        assert store.hints_revealed(PACK, "q") == 1
        assert [a.mode for a in store.attempts(PACK, "q")] == ["run"]


# --- attempts ----------------------------------------------------------------------------------------------


def test_attempt_round_trip_with_full_result_json(store: Store) -> None:
    result = full_result()
    opened = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    attempt_id = store.record_attempt(
        PACK,
        "scale-module",
        kind="code",
        mode="submit",
        answer="class Scale(nn.Module): ...\n",
        result=result,
        hints_used=2,
        started_at=opened,
        gave_up=True,
    )
    [attempt] = store.attempts(PACK, "scale-module")
    assert isinstance(attempt, Attempt)
    assert attempt.id == attempt_id
    assert (attempt.pack_id, attempt.question_id, attempt.kind, attempt.mode) == (
        PACK,
        "scale-module",
        "code",
        "submit",
    )
    assert attempt.verdict == "runtime_error"
    assert attempt.status == "fail"
    assert attempt.score == 0.5
    assert attempt.duration_ms == pytest.approx(123.456)
    assert attempt.hints_used == 2
    assert attempt.answer == "class Scale(nn.Module): ...\n"
    assert attempt.gave_up is True
    assert attempt.started_at == opened
    assert attempt.created_at.utcoffset() == timedelta(0)
    assert attempt.elapsed == attempt.created_at - opened
    assert attempt.result_json == result.to_json()
    assert attempt.result_json["tests"][0]["details"]["note"] == "ünïcode ✓"
    assert not attempt.accepted and not attempt.solves
    assert store.attempt(attempt_id) == attempt
    assert store.attempt(attempt_id + 1000) is None


def test_attempts_newest_first_with_limit(store: Store) -> None:
    ids = [record(store, "q", wrong(), answer=f"answer {n}") for n in range(5)]
    ids.append(record(store, "q", accepted("run"), mode="run", answer="answer 5"))
    record(store, "other", accepted())
    history = store.attempts(PACK, "q")
    assert [a.id for a in history] == ids[::-1]
    assert [a.answer for a in history] == [f"answer {n}" for n in range(5, -1, -1)]
    assert [a.mode for a in history] == ["run"] + ["submit"] * 5
    assert [a.id for a in store.attempts(PACK, "q", limit=2)] == ids[:-3:-1]
    assert len(store.attempts(PACK, "q", limit=None)) == 6
    assert store.attempts(PACK, "missing") == []
    assert all(a.started_at is None and a.elapsed is None and not a.gave_up for a in history)


def test_naive_started_at_is_taken_as_local_time(store: Store) -> None:
    naive = datetime(2025, 3, 1, 9, 30)
    record(store, "q", wrong(), started_at=naive)
    assert store.attempts(PACK, "q")[0].started_at == naive.astimezone(UTC)


def test_bad_mode_or_hints_are_refused_and_nothing_is_recorded(store: Store) -> None:
    with pytest.raises(ValueError, match="mode"):
        record(store, "q", accepted(), mode="grade")
    with pytest.raises(ValueError, match="hints_used"):
        store.record_attempt(PACK, "q", kind="code", mode="run", answer="", result=wrong(), hints_used=-1)
    assert store.attempts(PACK, "q") == []
    assert store.status(PACK, "q") == "new"


# --- hints and giving up -----------------------------------------------------------------------------------


def test_hints_count_is_monotonic_per_question_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    with Store(path) as store:
        assert store.hints_revealed(PACK, "q") == 0
        assert [store.reveal_hint(PACK, "q") for _ in range(3)] == [1, 2, 3]
        assert store.hints_revealed(PACK, "q") == 3
        assert store.hints_revealed(PACK, "other") == 0
        store.save_draft(PACK, "q", "text")
        store.clear_draft(PACK, "q")  # reset to starter does not hide the hints again
        assert store.hints_revealed(PACK, "q") == 3
    with Store(path) as store:
        assert store.reveal_hint(PACK, "q") == 4
        assert store.status(PACK, "other") == "new"


def test_give_up(store: Store) -> None:
    assert store.gave_up(PACK, "q") is False
    store.reveal_hint(PACK, "q")
    store.give_up(PACK, "q")
    store.give_up(PACK, "q")
    assert store.gave_up(PACK, "q") is True
    assert store.hints_revealed(PACK, "q") == 1
    assert store.gave_up(PACK, "other") is False


def test_showing_the_solution_after_solving_is_not_giving_up(store: Store) -> None:
    record(store, "q", accepted())
    store.give_up(PACK, "q")
    assert store.gave_up(PACK, "q") is False


# --- status and progress -----------------------------------------------------------------------------------


def test_status_new_attempted_solved_only_by_accepted_submit(store: Store) -> None:
    assert store.status(PACK, "q") == "new"
    assert store.statuses(PACK) == {}

    store.save_draft(PACK, "q", "draft")
    assert store.status(PACK, "q") == "attempted"
    store.clear_draft(PACK, "q")
    assert store.status(PACK, "q") == "new"

    record(store, "q", accepted("run"), mode="run")
    assert store.status(PACK, "q") == "attempted"  # an accepted Run is not a solve
    record(store, "q", wrong())
    assert store.status(PACK, "q") == "attempted"
    record(store, "q", accepted())
    assert store.status(PACK, "q") == "solved"
    record(store, "q", wrong())
    assert store.status(PACK, "q") == "solved"  # a later failing Submit does not unsolve it
    assert store.attempts(PACK, "q")[1].solves


def test_statuses_and_progress(store: Store) -> None:
    store.save_draft(PACK, "drafted", "text")
    record(store, "ran", accepted("run"), mode="run")
    record(store, "solved", accepted())
    store.save_draft(PACK, "solved", "still editing")
    store.reveal_hint(PACK, "hinted-only")
    record(store, "elsewhere", accepted())
    store.save_draft("other-pack", "drafted", "text")

    assert store.statuses(PACK) == {
        "drafted": "attempted",
        "ran": "attempted",
        "solved": "solved",
        "elsewhere": "solved",
    }
    assert store.status(PACK, "hinted-only") == "new"

    progress = store.progress(PACK, ["drafted", "ran", "solved", "hinted-only", "untouched", "solved"])
    assert progress == Progress(solved=1, attempted=2, total=5)
    assert progress.new == 2
    assert progress.fraction == pytest.approx(0.2)
    assert store.progress(PACK, []) == Progress(0, 0, 0)
    assert store.progress(PACK, []).fraction == 0.0
    assert store.progress("other-pack", ["drafted", "x"]) == Progress(solved=0, attempted=1, total=2)


# --- threads -----------------------------------------------------------------------------------------------


def test_eight_threads_writing_at_once_lose_nothing(store: Store) -> None:
    threads_count, rounds = 8, 25
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                store.save_draft(PACK, f"q{n}", f"thread {n} round {r}")
                store.reveal_hint(PACK, "shared")
                mode = "submit" if r == rounds - 1 else "run"
                store.record_attempt(
                    PACK, f"q{n}", kind="code", mode=mode, answer=f"{n}/{r}", result=accepted(mode), hints_used=r
                )
                assert store.draft(PACK, f"q{n}").text == f"thread {n} round {r}"
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors

    assert store.hints_revealed(PACK, "shared") == threads_count * rounds
    all_ids = set()
    for n in range(threads_count):
        assert store.draft(PACK, f"q{n}").text == f"thread {n} round {rounds - 1}"
        history = store.attempts(PACK, f"q{n}", limit=None)
        assert [a.answer for a in history] == [f"{n}/{r}" for r in range(rounds - 1, -1, -1)]
        all_ids.update(a.id for a in history)
    assert len(all_ids) == threads_count * rounds
    assert store.progress(PACK, [f"q{n}" for n in range(threads_count)]) == Progress(threads_count, 0, threads_count)


def test_two_stores_on_one_file_write_at_once(tmp_path: Path) -> None:
    """Like the TUI and a `quizapp grade` in another process: two connections, SQLite's locks between them."""
    path = tmp_path / "p.sqlite3"
    stores = [Store(path), Store(path)]
    try:

        def work(store: Store, n: int) -> None:
            for r in range(20):
                store.reveal_hint(PACK, "shared")
                record(store, f"q{n}", wrong(), answer=str(r))

        threads = [threading.Thread(target=work, args=(stores[n % 2], n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert stores[0].hints_revealed(PACK, "shared") == 80
        assert [len(stores[1].attempts(PACK, f"q{n}")) for n in range(4)] == [20] * 4
    finally:
        for store in stores:
            store.close()


# --- files it must not use ---------------------------------------------------------------------------------


def test_file_from_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()

    with pytest.raises(StoreError, match="newer version of quizapp") as caught:
        Store(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before  # not migrated, not even switched to WAL
    assert not path.with_name(path.name + "-wal").exists()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000, bytes(range(256)) * 16],
    ids=["text", "bad-header", "binary"],
)
def test_garbage_file_raises_store_error_naming_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "progress.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert type(caught.value) is StoreError
    message = str(caught.value)
    assert str(path) in message
    assert "Move it aside" in message
    assert path.read_bytes() == content


def test_damage_inside_a_valid_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    with Store(path) as store:
        for n in range(40):
            record(store, f"q{n}", full_result(), answer="x" * 2000)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page:] = b"\xa5" * (len(data) - page)  # keep the header page, wreck every other
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=str(path).replace("\\", "\\\\")):
        with Store(path) as store:
            store.attempts(PACK, "q1")


def test_directory_in_place_of_the_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    path.mkdir()
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert str(path) in str(caught.value)


# --- migrations --------------------------------------------------------------------------------------------


def test_a_later_migration_applies_once_and_a_failing_one_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    with Store(path) as store:
        store.save_draft(PACK, "q", "kept")

    def add_column(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE attempts ADD COLUMN session_id INTEGER")

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    db = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(RuntimeError):
            migrate(db, path, (*MIGRATIONS, add_column, broken))
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0

        assert migrate(db, path, (*MIGRATIONS, add_column)) == SCHEMA_VERSION
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert migrate(db, path, (*MIGRATIONS, add_column)) == SCHEMA_VERSION + 1  # nothing left to do
        assert db.execute("SELECT text FROM drafts").fetchone()[0] == "kept"
    finally:
        db.close()
    with pytest.raises(StoreError, match="newer"):  # this release knows only SCHEMA_VERSION migrations
        Store(path)
