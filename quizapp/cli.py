"""The `quizapp` command. Thin: it parses arguments and calls the layers below.

Exit codes: 0 success, 1 the thing checked has problems, 2 usage or pack errors.
Nothing here imports torch or textual at module level, so `quizapp --help` is instant.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .packs import Catalogue, Problem, discover, json_schema, model
from .packs.discovery import pack_files
from .packs.loader import check_pack_file, check_pack_text

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", help="list packs and their questions")
    listing.add_argument("--json", action="store_true", help="one JSON document, for tools")

    show = commands.add_parser("show", help="show a question as a learner sees it")
    show.add_argument("target", metavar="PACK/QUESTION", help="a question, or a pack alone for its summary")
    show.add_argument("--solution", action="store_true", help="also show answers, solutions and explanations")

    commands.add_parser("schema", help="print the JSON Schema of pack format 1, for YAML editors")

    new = commands.add_parser("new", help="start a pack or a question from a commented, working example")
    new_kinds = new.add_subparsers(dest="what", metavar="pack|question", required=True)
    new_pack = new_kinds.add_parser("pack", help="write a new pack file with one example question")
    new_pack.add_argument("pack_id", nargs="?", default="my-pack", metavar="ID")
    new_pack.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: ID.yaml)")
    new_pack.add_argument("--title", default="", help="the pack's title")
    new_pack.add_argument(
        "--kinds",
        default="code",
        help="example questions to include, comma separated (code,fix,choice,predict,explain)",
    )
    new_question = new_kinds.add_parser("question", help="print a question of KIND, or add it to a pack file")
    new_question.add_argument("kind", choices=("code", "fix", "choice", "predict", "explain"))
    new_question.add_argument("--pack", dest="pack_file", metavar="FILE", help="append it to this pack file")
    new_question.add_argument("--id", dest="question_id", help="the question's id")

    build = commands.add_parser(
        "build", help="write a student build of a pack: no solutions, hashed answers, graded like the source"
    )
    build.add_argument("pack", metavar="PACK", help="a pack id, or a pack file")
    build.add_argument("--student", action="store_true", required=True, help="a student build (the only kind)")
    build.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write the student pack")

    batch = commands.add_parser(
        "grade-batch",
        help="grade a class: a folder per student, a file per question (named by its id)",
        description="Grade SUBMISSIONS/<student>/<question-id>.<ext> for every student and question of PACK, "
        "in parallel over the judge, and write grades.csv, results.json and junit.xml. Resumable: a results "
        "journal in the output folder is kept, and a new run grades only what is missing or changed.",
    )
    batch.add_argument("pack_id", metavar="PACK")
    batch.add_argument("folder", metavar="SUBMISSIONS")
    batch.add_argument("-o", "--output", metavar="DIR", help="where the tables go (default: SUBMISSIONS-grades)")
    batch.add_argument("-j", "--jobs", type=int, default=2, help="judge workers (default 2, one per core)")
    batch.add_argument("--mode", choices=("run", "submit"), default="submit")

    grade = commands.add_parser(
        "grade",
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

    validate = commands.add_parser(
        "validate", help="check pack files; exit 0 when clean, 1 with problems (file:line:col: message)"
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
        "mock", help="start a timed mock interview in the app", description="Start the app on a new mock interview."
    )
    mock.add_argument("--packs", default="", help="pack ids, comma separated (default: every pack)")
    mock.add_argument("-n", "--count", type=int, default=3, help="how many questions (default 3)")
    mock.add_argument("--kinds", default="", help="question kinds, comma separated (default: all)")
    mock.add_argument("--difficulty", default="", help="levels, comma separated: easy,medium,hard (default: all)")
    mock.add_argument("--minutes", type=float, help="total time (default: the questions' estimates)")
    mock.add_argument("--hints", action="store_true", help="allow hints")
    mock.add_argument("--seed", type=int, help="a seed for a repeatable draw")

    review = commands.add_parser("review", help="spaced review of answered questions")
    review.add_argument("--list", action="store_true", help="print the questions due for review today")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    extra = [Path(p) for p in args.packs]
    if args.command is None:
        return _start_app(extra)
    if args.command == "schema":
        json.dump(json_schema(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if args.command == "validate":
        return _validate(args.paths, extra, args.json, run=not args.no_run)
    if args.command == "new":
        return _new(args)
    if args.command == "mock":
        return _mock(args, extra)
    if args.command in ("report", "review"):
        return _report(args) if args.command == "report" else _review(args)
    catalogue = discover(extra)
    if args.command == "grade":
        return _grade(catalogue, args)
    if args.command == "grade-batch":
        return _grade_batch(catalogue, args)
    if args.command == "build":
        return _build(catalogue, args)
    if args.command == "list":
        return _list(catalogue, args.json)
    if args.command == "show":
        return _show(catalogue, args.target, args.solution)
    raise AssertionError(args.command)


def _start_app(extra: list[Path]) -> int:
    from .tui.app import run

    run(extra)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from .practice import report
    from .store import Store, StoreError

    try:
        with Store.open_default() as store:
            if args.report_id is None:
                reports = report.list_reports(store)
                print(
                    "\n".join(f"{r.id}  {r.percent:5.1f}%  {report.summary_line(r)}" for r in reports) or "No reports."
                )
                return EXIT_OK
            found = report.load_report(store, args.report_id)
    except StoreError as error:
        print(f"quizapp: {error}", file=sys.stderr)
        return EXIT_USAGE
    if found is None:
        print(f"quizapp: no report {args.report_id!r}; 'quizapp report' lists them", file=sys.stderr)
        return EXIT_USAGE
    text = report.render(found, args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"quizapp: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _mock(args: argparse.Namespace, extra: list[Path]) -> int:
    from .practice import MockConfig, MockError

    def listed(text: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip()) or default

    catalogue = discover(extra)
    try:
        config = MockConfig(
            packs=listed(args.packs, tuple(catalogue.packs)),
            count=args.count,
            kinds=listed(args.kinds, ("choice", "predict", "code", "fix", "explain")),
            difficulties=listed(args.difficulty, ("easy", "medium", "hard")),
            total_seconds=args.minutes * 60 if args.minutes else None,
            hints_allowed=args.hints,
            **({"seed": args.seed} if args.seed is not None else {}),
        )
    except MockError as error:
        print(f"quizapp: {error}", file=sys.stderr)
        return EXIT_USAGE
    unknown = [p for p in config.packs if p not in catalogue.packs]
    if unknown:
        print(f"quizapp: no pack {', '.join(unknown)} (known: {', '.join(catalogue.packs)})", file=sys.stderr)
        return EXIT_USAGE
    from .tui.app import run

    run(extra, mock=config)
    return EXIT_OK


def _review(args: argparse.Namespace) -> int:
    if not args.list:
        from .tui.app import run

        run(review=True)
        return EXIT_OK
    from .practice import review
    from .store import Store, StoreError

    try:
        with Store.open_default() as store:
            cards = review.due(store)
    except StoreError as error:
        print(f"quizapp: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        "\n".join(f"{c.pack_id}/{c.question_id}  due {c.due.astimezone():%Y-%m-%d %H:%M}" for c in cards)
        or "Nothing due today."
    )
    return EXIT_OK


def _broken_note(catalogue: Catalogue, out: TextIO) -> None:
    """What went wrong while finding packs, in a few lines: broken files by name, then missing paths and
    packs that replaced others (problems that belong to no file's load result)."""
    broken = [r.file for r in catalogue.results if r.pack is None]
    if broken:
        names = ", ".join(broken)
        print(f"quizapp: {len(broken)} pack file(s) could not be loaded: {names}", file=out)
        print("quizapp: run 'quizapp validate' to see why", file=out)
    for problem in _catalogue_only_problems(catalogue):
        print(f"quizapp: {problem.severity}: {problem.file}: {problem.message}", file=out)


def _catalogue_only_problems(catalogue: Catalogue) -> list[Problem]:
    per_file = {id(p) for r in catalogue.results for p in r.problems}
    return [p for p in catalogue.problems if id(p) not in per_file]


def _list(catalogue: Catalogue, as_json: bool) -> int:
    if as_json:
        document = [
            {
                "id": pack.id,
                "title": pack.title,
                "version": pack.version,
                "file": str(catalogue.sources[pack.id].path),
                "origin": catalogue.sources[pack.id].origin,
                "questions": [
                    {
                        "id": q.id,
                        "kind": q.kind,
                        "title": q.title,
                        "difficulty": q.difficulty,
                        "minutes": q.minutes,
                        "tags": q.tags,
                    }
                    for q in pack.questions
                ],
            }
            for pack in catalogue.packs.values()
        ]
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if not catalogue.packs:
            print("No packs found.")
        for pack in catalogue.packs.values():
            origin = catalogue.sources[pack.id].origin
            count = len(pack.questions)
            print(f"{pack.id}  {pack.title}  (v{pack.version}, {count} questions, {origin})")
            width = max(len(q.id) for q in pack.questions)
            for q in pack.questions:
                minutes = f"{q.minutes:g} min"
                print(f"  {q.id:<{width}}  {q.kind:<7}  {q.difficulty:<6}  {minutes:>7}  {q.title}")
    _broken_note(catalogue, sys.stderr)
    return EXIT_OK


def _find(catalogue: Catalogue, target: str, need_question: bool = True) -> tuple[Any, Any]:
    """(pack, question) for PACK/QUESTION, or None where not found, after saying why on stderr."""
    pack_id, _, question_id = target.partition("/")
    pack = catalogue.packs.get(pack_id)
    if pack is None:
        known = ", ".join(catalogue.packs) or "none"
        print(f"quizapp: no pack '{pack_id}' (known packs: {known})", file=sys.stderr)
        _broken_note(catalogue, sys.stderr)
        return None, None
    ids = [q.id for q in pack.questions]
    if not question_id:
        if need_question:
            print(f"quizapp: name a question: {pack_id}/QUESTION; its questions: {', '.join(ids)}", file=sys.stderr)
        return pack, None
    try:
        return pack, pack.question(question_id)
    except KeyError:
        close = difflib.get_close_matches(question_id, ids, n=1)
        guess = f" Did you mean '{pack_id}/{close[0]}'?" if close else ""
        print(
            f"quizapp: pack '{pack_id}' has no question '{question_id}'.{guess} Its questions: {', '.join(ids)}",
            file=sys.stderr,
        )
        return None, None


def _show(catalogue: Catalogue, target: str, with_solution: bool) -> int:
    pack, question = _find(catalogue, target, need_question=False)
    if pack is None:
        return EXIT_USAGE
    if question is None:
        if "/" in target and target.partition("/")[2]:
            return EXIT_USAGE
        ids = ", ".join(q.id for q in pack.questions)
        print(f"{pack.title} (v{pack.version})\n\n{pack.description.rstrip()}\n\nQuestions: {ids}")
        return EXIT_OK
    print(render_question(question, with_solution))
    return EXIT_OK


def _new(args: argparse.Namespace) -> int:
    from .packs import scaffold

    if args.what == "pack":
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        unknown = [k for k in kinds if k not in scaffold.KINDS]
        if unknown:
            print(f"quizapp: unknown kind(s) {', '.join(unknown)}: use {', '.join(scaffold.KINDS)}", file=sys.stderr)
            return EXIT_USAGE
        pack_id = scaffold.slug(args.pack_id)
        path = Path(args.output or f"{pack_id}.yaml")
        if path.exists():
            print(f"quizapp: {path} exists; choose another name with -o", file=sys.stderr)
            return EXIT_USAGE
        title = args.title or pack_id.replace("-", " ").capitalize()
        path.write_text(scaffold.pack_text(pack_id, title, str(path), kinds))
        print(f"wrote {path}: edit it, then run: quizapp validate {path}")
        return EXIT_OK
    if not args.pack_file:
        print(scaffold.question_text(args.kind, args.question_id or f"my-{args.kind}-question"), end="")
        return EXIT_OK
    path = Path(args.pack_file)
    try:
        original = path.read_text(encoding="utf-8")
    except OSError as error:
        print(f"quizapp: cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    before = check_pack_file(path)
    taken = {q.id for q in before.pack.questions} if before.pack else set()
    question_id = args.question_id or f"my-{args.kind}-question"
    if not args.question_id:
        number = 2
        while question_id in taken:
            question_id, number = f"my-{args.kind}-question-{number}", number + 1
    updated = scaffold.append_question(original, args.kind, question_id)
    result = check_pack_text(updated, str(path))
    if result.errors and not before.errors:
        for problem in result.errors:
            print(problem, file=sys.stderr)
        print(f"quizapp: {path} left unchanged: the new question would not load", file=sys.stderr)
        return EXIT_PROBLEMS
    path.write_text(updated, encoding="utf-8")
    print(f"added question '{question_id}' ({args.kind}) to {path}; then run: quizapp validate {path}")
    return EXIT_OK


def _build(catalogue: Catalogue, args: argparse.Namespace) -> int:
    source = Path(args.pack)
    if source.is_file():
        loaded = check_pack_file(source)
        if loaded.pack is None:
            for problem in loaded.errors:
                print(problem, file=sys.stderr)
            return EXIT_USAGE
        pack = loaded.pack
    elif args.pack in catalogue.packs:
        pack = catalogue.packs[args.pack]
    else:
        print(f"quizapp: no pack file or pack id '{args.pack}'", file=sys.stderr)
        return EXIT_USAGE
    if pack.build == "student":
        print(f"quizapp: {args.pack} is already a student build", file=sys.stderr)
        return EXIT_USAGE
    from .grading.grader import Grader, ReferenceCache
    from .grading.student import student_yaml
    from .judge.pool import Pool

    with Pool(size=2) as pool:
        text = student_yaml(pack, Grader(pool, ReferenceCache.default()))
    out = Path(args.output)
    out.write_text(text, encoding="utf-8")
    check = check_pack_file(out)
    if check.pack is None:  # our fault: say so rather than hand students a broken file
        for problem in check.errors:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
    size = out.stat().st_size / 1024
    print(f"wrote {out} ({size:.0f} KB): {len(pack.questions)} question(s), no solutions, hashed answers")
    return EXIT_OK


def _grade_batch(catalogue: Catalogue, args: argparse.Namespace) -> int:
    pack = catalogue.packs.get(args.pack_id)
    if pack is None:
        print(
            f"quizapp: no pack '{args.pack_id}' (known packs: {', '.join(catalogue.packs) or 'none'})", file=sys.stderr
        )
        return EXIT_USAGE
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"quizapp: {folder} is not a folder of student folders", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.output) if args.output else folder.with_name(folder.name + "-grades")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .grading import batch
    from .grading.grader import Grader, ReferenceCache

    needs_judge = any(isinstance(q, model.CodeBase) for q in pack.questions)
    pool = None
    if needs_judge:
        from .judge.pool import Pool

        pool = Pool(size=max(1, args.jobs), prefork=False)  # throughput, not latency: see Pool
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("answers"), TimeRemainingColumn())
    try:
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("grading", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            grader = Grader(pool, ReferenceCache.default())
            run = batch.run_batch(
                pack, folder, out, grader, workers=max(1, args.jobs), mode=args.mode, progress=advance
            )
    finally:
        if pool is not None:
            pool.close()
    paths = batch.write_tables(pack, folder, out)
    verb = "interrupted after grading" if run.interrupted else "graded"
    print(f"{verb} {run.graded} answer(s), {run.reused} unchanged since the last run, of {run.total}")
    document = json.loads(paths["json"].read_text())
    if document["strays"]:
        print(f"not graded (no such question in {pack.id}): {', '.join(document['strays'])}")
    for question_id, failures in document["common_failures"].items():
        listed = "; ".join(f"{name} ({count})" for name, count in failures)
        print(f"  {question_id}: {listed}")
    print(f"tables: {paths['csv']}, {paths['json']}, {paths['junit']}")
    return EXIT_PROBLEMS if run.interrupted else EXIT_OK


def _grade(catalogue: Catalogue, args: argparse.Namespace) -> int:
    pack, question = _find(catalogue, args.target)
    if question is None:
        return EXIT_USAGE
    answers: list[tuple[str, str]] = []
    for name in args.files:
        try:
            answers.append((name, Path(name).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            print(f"quizapp: cannot read {name}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
            return EXIT_USAGE
    from .grading.grader import Grader, ReferenceCache

    pool = None
    if isinstance(question, model.CodeBase):
        from .judge.pool import Pool

        pool = Pool(size=min(2, len(answers)))
    try:
        grader = Grader(pool, ReferenceCache.default())
        all_passed = True
        for name, text in answers:
            result = grader.grade(pack, question, text, mode=args.mode)
            all_passed = all_passed and result.passed
            if args.json:
                print(json.dumps(result.to_json(file=name)), flush=True)
            else:
                print(render_result(name, result), flush=True)
    finally:
        if pool is not None:
            pool.close()
    return EXIT_OK if all_passed else EXIT_PROBLEMS


def _prove_all(loaded: list[Any]) -> dict[str, Any]:
    """Run every loaded pack's references, decoys and snippets through one pool."""
    from .grading.grader import Grader, ReferenceCache
    from .grading.proving import prove
    from .judge.pool import Pool

    with Pool(size=2) as pool:
        grader = Grader(pool, ReferenceCache.default())
        return {result.file: prove(result, grader, pool) for result in loaded}


def render_result(name: str, result: Any) -> str:
    """A result for a terminal: the verdict, then each check with a mark and its message."""
    jail = f", jail: {result.jail_mode}" if result.jail_mode else ""
    lines = [f"{name}: {result.verdict} ({result.duration_ms:.0f} ms{jail})"]
    if result.message and (not result.tests or result.verdict not in ("wrong_answer", "runtime_error")):
        lines.append(f"  {result.message}")
    for test in result.tests:
        mark = {"pass": "✓", "fail": "✗", "error": "!"}[test.status]
        hidden = " (hidden)" if not test.visible else ""
        text = f": {test.message}" if test.message and test.status != "pass" else ""
        lines.append(f"  {mark} {test.name}{hidden}{text}")
    if result.stdout.strip():
        lines.append("  printed:")
        lines.extend(f"    {line}" for line in result.stdout.rstrip().splitlines()[:20])
    if result.score is not None and result.verdict != "accepted":
        lines.append(f"  score: {result.score:.0%}")
    return "\n".join(lines)


def render_question(question: model.AnyQuestion, with_solution: bool = False) -> str:
    """A question as plain text: what the learner is asked, and with `with_solution` what is expected."""
    lines = [
        f"# {question.title}",
        f"{question.kind} · {question.difficulty} · about {question.minutes:g} min"
        + (f" · {', '.join(question.tags)}" if question.tags else ""),
        "",
        question.prompt.rstrip(),
        "",
    ]
    if isinstance(question, model.ChoiceQuestion):
        how = "Select all that apply" if question.selects_many else "Select one"
        lines.append(f"{how}:")
        for option in question.options:
            mark = ("[x] " if option.correct else "[ ] ") if with_solution else ""
            lines.append(f"  {option.id}) {mark}{option.text.strip()}")
            if with_solution and option.feedback:
                lines.append(f"       {option.feedback.strip()}")
    elif isinstance(question, model.PredictQuestion):
        lines += ["```python", question.snippet.rstrip(), "```"]
        if with_solution:
            lines += ["", "It prints:", (question.answer or "(hashed in this student build)").rstrip()]
    elif isinstance(question, model.CodeBase):
        lines += [f"Define: {question.signature}", "", "Starter:", "```python", question.starter.rstrip(), "```"]
        visible = [c for c in question.checks if c.visible]
        lines.append(f"Checks: {len(visible)} run by Run, {len(question.checks)} by Submit")
        if with_solution:
            solution = question.solution.rstrip() if question.solution else "(not part of this student build)"
            lines += ["", "Reference solution:", "```python", solution, "```"]
    elif isinstance(question, model.ExplainQuestion) and with_solution:
        lines += ["Model answer:", question.model_answer.rstrip(), "", "Rubric:"]
        lines += [f"  - {point.text.strip()}" for point in question.rubric]
    if question.hints:
        lines += ["", f"{len(question.hints)} hint(s) available."]
    if with_solution:
        lines += ["", "Explanation:", question.explanation.rstrip()]
    return "\n".join(lines)


def _validate(paths: list[str], extra: list[Path], as_json: bool, run: bool = True) -> int:
    if paths:
        files: list[Path] = []
        missing: list[str] = []
        for raw in paths:
            path = Path(raw)
            if not path.exists():
                missing.append(raw)
            else:
                files.extend(pack_files(path))
        if missing:
            for raw in missing:
                print(f"quizapp: no such file or folder: {raw}", file=sys.stderr)
            return EXIT_USAGE
        if not files:
            print(f"quizapp: no pack files (*.yaml, *.yml) in {', '.join(paths)}", file=sys.stderr)
            return EXIT_PROBLEMS
        results = [check_pack_file(file) for file in files]
        problems = [p for r in results for p in r.problems]
    else:
        catalogue = discover(extra)
        results = catalogue.results
        problems = catalogue.problems
    proved = ""
    loaded = [r for r in results if r.pack is not None]
    if run and loaded:
        problems = list(problems)
        proofs = _prove_all(loaded)
        problems.extend(p for proof in proofs.values() for p in proof.problems)
        references = sum(p.references for p in proofs.values())
        decoys = sum(p.decoys for p in proofs.values())
        snippets = sum(p.snippets for p in proofs.values())
        proved = f"; ran {references} reference(s), {decoys} decoy(s), {snippets} snippet(s)"
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        document = {
            "ok": not errors,
            "problems": [p.to_json() for p in problems],
            "files": [
                {"file": r.file, "pack": r.pack.id if r.pack else None, "problems": [p.to_json() for p in r.problems]}
                for r in results
            ],
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for problem in problems:
            print(problem)
        packs = sum(1 for r in results if r.pack is not None)
        summary = f"{len(results)} file(s), {packs} valid pack(s){proved}, {len(errors)} error(s)"
        warnings = len(problems) - len(errors)
        if warnings:
            summary += f", {warnings} warning(s)"
        print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK
