"""The `quizapp` command. Thin: it parses arguments, looks the command up in one table and calls the layers below.

Commands are grouped by what they serve: packs.py (authors and tools), grading.py (grade, grade-batch),
practice.py (the app, mocks, review, reports); render.py turns results and questions into text. main() is the one
place where a command's error (CommandError, a pack that does not load, an unusable progress store, a closed
pipe) becomes a message and an exit code: 0 success, 1 the thing checked has problems, 2 usage or pack errors.
Nothing here imports torch or textual at module level, so `quizapp --help` is instant; `quizapp` alone starts the
app without argparse (its import and this parser cost the app's first frame about a hundredth of a second).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

from .. import __version__

# `quizapp new question`'s kinds. A copy of quizapp.packs.scaffold.KINDS (a test keeps them equal): importing
# quizapp.packs loads the pack models, which the app's first frame must not wait for.
SCAFFOLD_KINDS = ("code", "function", "fix", "choice", "predict", "explain")

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "COMMANDS",
    "build_parser",
    "main",
    "render_question",
    "render_result",
]

# The dispatch table: a command's name and the function that runs it, as "module:function" in this package.
# Imported when the command runs: the app's first frame waits for no pack model or grader it does not use.
COMMANDS: dict[str | None, str] = {
    None: "practice:app",
    "list": "packs:list_packs",
    "show": "packs:show",
    "schema": "packs:schema",
    "new": "packs:new",
    "validate": "packs:validate",
    "build": "packs:build",
    "grade": "grading:grade",
    "grade-batch": "grading:grade_batch",
    "mock": "practice:mock",
    "review": "practice:review",
    "report": "practice:report",
}
_REEXPORTED = {
    "EXIT_OK": "common",
    "EXIT_PROBLEMS": "common",
    "EXIT_USAGE": "common",
    "render_question": "render",
    "render_result": "render",
}


def __getattr__(name: str) -> Any:
    if name in _REEXPORTED:
        return getattr(importlib.import_module(f".{_REEXPORTED[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (how many workers)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="quizapp",
        description="Practise PyTorch interview questions. With no command, starts the app.",
    )
    parser.add_argument("--version", action="version", version=f"quizapp {__version__}")
    parser.add_argument(
        "-p",
        "--pack",
        dest="packs",
        action="append",
        default=[],
        metavar="PATH",
        help="also load packs from this file or folder (repeatable); QUIZAPP_PACKS lists more",
    )
    # `--pack` is accepted after the command too (`quizapp grade-batch --pack course.yaml ...`).
    with_packs = argparse.ArgumentParser(add_help=False)
    with_packs.add_argument(
        "-p",
        "--pack",
        dest="packs_after",
        action="append",
        default=[],
        metavar="PATH",
        help="also load packs from this file or folder (repeatable)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", parents=[with_packs], help="list packs and their questions")
    listing.add_argument("--json", action="store_true", help="one JSON document, for tools")

    show = commands.add_parser("show", parents=[with_packs], help="show a question as a learner sees it")
    show.add_argument("target", metavar="PACK/QUESTION", help="a question, or a pack alone for its summary")
    show.add_argument("--solution", action="store_true", help="also show answers, solutions and explanations")

    commands.add_parser("schema", help="print the JSON Schema of the pack format (formats 1 and 2), for YAML editors")

    new = commands.add_parser("new", help="start a pack or a question from a commented, working example")
    new_kinds = new.add_subparsers(dest="what", metavar="pack|question", required=True)
    new_pack = new_kinds.add_parser("pack", help="write a new pack file with one example question")
    new_pack.add_argument("pack_id", nargs="?", default="my-pack", metavar="ID")
    new_pack.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: ID.yaml)")
    new_pack.add_argument("--title", default="", help="the pack's title")
    new_pack.add_argument(
        "--kinds",
        default="code",
        help=f"example questions to include, comma separated ({','.join(SCAFFOLD_KINDS)})",
    )
    new_question = new_kinds.add_parser("question", help="print a question of KIND, or add it to a pack file")
    new_question.add_argument("kind", choices=SCAFFOLD_KINDS)
    new_question.add_argument("--pack", dest="pack_file", metavar="FILE", help="append it to this pack file")
    new_question.add_argument("--id", dest="question_id", help="the question's id")

    build = commands.add_parser(
        "build",
        parents=[with_packs],
        help="write a student build of a pack: no solutions, hashed answers, graded like the source",
    )
    build.add_argument("pack", metavar="PACK", help="a pack id, or a pack file")
    build.add_argument("--student", action="store_true", required=True, help="a student build (the only kind)")
    build.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write the student pack")

    batch = commands.add_parser(
        "grade-batch",
        parents=[with_packs],
        help="grade a class: a folder per student, a file per question (named by its id)",
        description="Grade SUBMISSIONS/<student>/<question-id>.<ext> for every student and question of PACK, "
        "in parallel over the judge, and write grades.csv (points per question, total, maximum, percent), "
        "verdicts.csv, marks.csv (explain answers to mark by hand: fill in its marks column and run again), "
        "results.json and junit.xml. Resumable: a results journal in the output folder is kept, and a new run "
        "grades only what is missing or changed (the answer, the question in the pack, or the mode). The first "
        "Ctrl-C lets the answers being graded finish, a second stops at once; the tables say they are partial.",
    )
    batch.add_argument("pack", metavar="PACK", help="a pack id, or a pack file")
    batch.add_argument("folder", metavar="SUBMISSIONS")
    batch.add_argument("-o", "--output", metavar="DIR", help="where the tables go (default: SUBMISSIONS-grades)")
    batch.add_argument("-j", "--jobs", type=positive, default=2, help="judge workers (default 2, one per core)")
    batch.add_argument("--mode", choices=("run", "submit"), default="submit")

    grade = commands.add_parser(
        "grade",
        parents=[with_packs],
        help="grade answer files: source code, a printout, or option ids; exit 0 when all pass",
        description="Grade each FILE as an answer to PACK/QUESTION: source code for code and fix questions, "
        "the printed text for predict questions, option ids for choice questions. Exit 0 when every file "
        "passed, 1 when any did not, 2 for a usage or pack error.",
    )
    grade.add_argument("target", metavar="PACK/QUESTION")
    grade.add_argument("files", nargs="+", metavar="FILE")
    grade.add_argument("--json", action="store_true", help="one JSON object per file per line")
    grade.add_argument(
        "--mode", choices=("run", "submit"), default="submit", help="run: visible checks only; submit: all"
    )
    grade.add_argument(
        "-j", "--jobs", type=positive, default=2, help="judge workers for code (default 2, at most one per file)"
    )

    validate = commands.add_parser(
        "validate",
        parents=[with_packs],
        help="check pack files; exit 0 when clean, 1 with problems (file:line:col: message)",
    )
    validate.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every known pack)")
    validate.add_argument("--json", action="store_true", help="problems as JSON, for tools")
    validate.add_argument(
        "--no-run",
        action="store_true",
        help="check the files only: do not run references, decoys and snippets in the judge",
    )

    report = commands.add_parser("report", help="export a mock interview's report; with no ID, list them")
    report.add_argument("report_id", nargs="?", metavar="ID", help="a report's id (default: list reports)")
    report.add_argument("--format", choices=("md", "json", "html"), default="md", help="default: md")
    report.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of stdout")
    mock = commands.add_parser(
        "mock",
        parents=[with_packs],
        help="start a timed mock interview in the app",
        description="Start the app on a new mock interview.",
    )
    mock.add_argument(
        "--packs", dest="packs_for_mock", default="", help="pack ids, comma separated (default: every pack)"
    )
    mock.add_argument("-n", "--count", type=int, default=3, help="how many questions (default 3)")
    mock.add_argument("--kinds", default="", help="question kinds, comma separated (default: all)")
    mock.add_argument("--difficulty", default="", help="levels, comma separated: easy,medium,hard (default: all)")
    mock.add_argument("--minutes", type=float, help="total time (default: the questions' estimates)")
    mock.add_argument("--hints", action="store_true", help="allow hints")
    mock.add_argument("--seed", type=int, help="a seed for a repeatable draw")

    review = commands.add_parser("review", parents=[with_packs], help="spaced review of answered questions")
    review.add_argument("--list", action="store_true", help="print the questions due for review today")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:  # the app, as the parser would say (no command, no packs): its first frame waits for no parser
        return start_app([])
    args = build_parser().parse_args(arguments)
    extra_packs = [Path(p) for p in [*args.packs, *getattr(args, "packs_after", [])]]
    if args.command is None:
        return start_app(extra_packs)
    from ..packs import PackError
    from ..store.errors import StoreError
    from .common import EXIT_PROBLEMS, EXIT_USAGE, CommandError, Context

    module, _, function = COMMANDS[args.command].partition(":")
    command = getattr(importlib.import_module(f".{module}", __name__), function)
    context = Context(args, extra_packs)
    try:
        return command(context)
    except CommandError as error:
        print(f"quizapp: {error}", file=sys.stderr)
        for line in error.details:
            print(line, file=sys.stderr)
        return error.code
    except PackError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `quizapp grade ... | head`: the reader has gone, and so has our output
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_PROBLEMS
    except StoreError as error:  # the progress database cannot be used: its message says which and what to do
        print(f"quizapp: {error}", file=sys.stderr)
        return EXIT_USAGE


def start_app(extra_packs: list[Path]) -> int:
    """The app reports its own errors, and its first frame waits for no pack model."""
    from ..tui.app import run

    run(extra_packs)
    return 0
