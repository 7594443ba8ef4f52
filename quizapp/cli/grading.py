"""Commands that grade: `grade` (answer files, concurrently over the pool, printed in input order) and
`grade-batch` (a class, into gradebook tables)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..grading import batch
from ..packs import model
from .common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    CommandError,
    Context,
    find_question,
    judge_services,
    pack_from_file_or_id,
)
from .render import render_result, terminal_safe


def read_answer_file(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8-sig")  # a Windows editor's byte-order mark is not the answer
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {name}: {getattr(error, 'strerror', None) or error}") from None


def grade(context: Context) -> int:
    args = context.args
    pack, question = find_question(context.catalogue, args.target)
    answers, unreadable = [], []
    for name in args.files:
        try:
            answers.append((name, read_answer_file(name)))
        except CommandError as error:  # the others are still graded; the command ends as a usage error
            unreadable.append(str(error))
    if not answers:
        raise CommandError("; ".join(unreadable))
    for problem in unreadable:
        print(f"quizapp: {problem} (the other files are graded)", file=sys.stderr, flush=True)
    is_code = isinstance(question, model.CodeBase)
    workers = min(args.jobs, len(answers)) if is_code else 1
    all_passed = True
    with judge_services(context.catalogue, workers) as services:
        if is_code:
            services.start_judge()
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")

        def grade_one(text: str) -> Any:
            try:
                return services.grade(pack, question, text, args.mode)
            except Exception as error:  # this file's verdict; the next file is still graded
                return batch.crashed(error)

        futures: list[Future[Any]] = [executor.submit(grade_one, text) for _, text in answers]
        try:
            for (name, _), future in zip(answers, futures, strict=True):  # input order, each as soon as it can be
                result = future.result()
                all_passed = all_passed and result.passed
                if args.json:
                    print(json.dumps(result.to_json(file=name)), flush=True)
                else:
                    print(render_result(name, result), flush=True)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
    if unreadable:
        return EXIT_USAGE
    return EXIT_OK if all_passed else EXIT_PROBLEMS


class Interrupts:
    """Ctrl-C during a batch: the first says at once what happens and lets the answers being graded finish; the
    second stops without waiting. Either way the tables are written, marked partial."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.stop = threading.Event()
        self.abandon = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _say(self, text: str) -> None:
        os.write(sys.stderr.fileno(), text.encode())  # at once, whatever the progress bar is doing

    def _handle(self, signum: int, frame: object) -> None:
        if not self.stop.is_set():
            self.stop.set()
            self._say(
                f"\nquizapp: interrupted: no new answer starts; waiting for the {self.run.in_flight} being graded "
                "(up to their time limit), then writing the tables. Ctrl-C again to stop now.\n"
            )
        elif not self.abandon.is_set():
            self.abandon.set()
            self._say("\nquizapp: stopping now: answers being graded are left for the next run; writing the tables\n")


def grade_batch(context: Context) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    args = context.args
    pack = pack_from_file_or_id(context.catalogue, args.pack)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder of student folders")
    out = Path(args.output) if args.output else folder.with_name(folder.name + "-grades")
    the_plan = batch.plan(pack, folder)
    needs_judge = any(s.path and isinstance(pack.question(s.question_id), model.CodeBase) for s in the_plan.submissions)
    run = batch.BatchRun()
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("answers"), TimeRemainingColumn())
    # Throughput, not latency: jobs come back to back, so the pool does not prepare the next one (see Pool).
    with (
        Interrupts(run) as interrupts,
        judge_services(context.catalogue, args.jobs, prefork=False, hide=_named_file(args.pack)) as services,
    ):
        if needs_judge:
            services.start_judge()
        with Progress(*columns, transient=True, console=_stderr_console()) as bar:
            task = bar.add_task("grading", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            batch.run_batch(
                pack,
                folder,
                out,
                services.grader,
                workers=max(1, args.jobs),
                mode=args.mode,
                progress=advance,
                stop=interrupts.stop,
                abandon=interrupts.abandon,
                run=run,
            )
    tables = batch.write_tables(pack, folder, out)
    print(run.summary())
    for stray in tables.strays:
        print(f"not graded: {terminal_safe(stray.path)}: {stray.reason}")
    for problem in tables.marks_problems:
        print(f"ignored: {problem}")
    if tables.open_counts.get("to review"):
        print(
            f"to review: {tables.open_counts['to review']} explain answer(s): fill in the marks column of "
            f"{tables.paths['marks']} and run the same command again"
        )
    for question_id, failures in tables.common_failures.items():
        listed = "; ".join(f"{name} ({count})" for name, count in failures)
        print(f"  {question_id}: {listed}")
    state = (
        "" if tables.complete else " (partial: " + ", ".join(f"{n} {k}" for k, n in tables.open_counts.items()) + ")"
    )
    print(f"tables{state}: {', '.join(str(p) for p in tables.paths.values())}")
    return EXIT_PROBLEMS if run.interrupted else EXIT_OK


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _named_file(target: str) -> list[Path]:
    """A pack named by its file rather than its id: the jail must hide it too."""
    path = Path(target)
    return [path] if path.is_file() else []
