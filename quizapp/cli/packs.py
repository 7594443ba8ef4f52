"""Commands that serve pack authors and tools: list, show, schema, new, validate, build."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..packs import json_schema, model
from ..packs.discovery import pack_files
from ..packs.loader import LoadResult, check_pack_file, check_pack_text
from .common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    CommandError,
    Context,
    broken_note,
    find_pack,
    find_question,
    judge_services,
    pack_from_file_or_id,
)
from .render import render_question


def list_packs(context: Context) -> int:
    catalogue = context.catalogue
    if context.args.json:
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
                        "points": q.points,
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
            print(f"{pack.id}  {pack.title}  (v{pack.version}, {len(pack.questions)} questions, {origin})")
            width = max(len(q.id) for q in pack.questions)
            for q in pack.questions:
                minutes = f"{q.minutes:g} min"
                print(f"  {q.id:<{width}}  {q.kind:<7}  {q.difficulty:<6}  {minutes:>7}  {q.title}")
    broken_note(catalogue, sys.stderr)
    return EXIT_OK


def show(context: Context) -> int:
    target: str = context.args.target
    pack_id, _, question_id = target.partition("/")
    if not question_id:
        pack = find_pack(context.catalogue, pack_id)
        ids = ", ".join(q.id for q in pack.questions)
        print(f"{pack.title} (v{pack.version})\n\n{pack.description.rstrip()}\n\nQuestions: {ids}")
        return EXIT_OK
    _, question = find_question(context.catalogue, target)
    print(render_question(question, context.args.solution))
    return EXIT_OK


def schema(context: Context) -> int:
    json.dump(json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def new(context: Context) -> int:
    from ..packs import scaffold

    args = context.args
    if args.what == "pack":
        kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
        unknown = [k for k in kinds if k not in scaffold.KINDS]
        if unknown:
            raise CommandError(f"unknown kind(s) {', '.join(unknown)}: use {', '.join(scaffold.KINDS)}")
        named = Path(args.pack_id)
        if args.output is None and named.suffix.lower() in (".yaml", ".yml"):
            # `quizapp new pack week5.yaml`: the user named the file; the id is its stem
            pack_id, path = scaffold.slug(named.stem), named
        else:
            pack_id = scaffold.slug(args.pack_id)
            path = Path(args.output or f"{pack_id}.yaml")
        if path.exists():
            raise CommandError(f"{path} exists; choose another name with -o")
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
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
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
        raise CommandError(
            f"{path} left unchanged: the new question would not load",
            EXIT_PROBLEMS,
            details=[str(p) for p in result.errors],
        )
    path.write_text(updated, encoding="utf-8")
    print(f"added question '{question_id}' ({args.kind}) to {path}; then run: quizapp validate {path}")
    return EXIT_OK


def build(context: Context) -> int:
    from ..grading.student import student_yaml

    args = context.args
    pack = pack_from_file_or_id(context.catalogue, args.pack)
    if pack.build == "student":
        raise CommandError(f"{args.pack} is already a student build")
    named = [Path(args.pack)] if Path(args.pack).is_file() else []
    with judge_services(context.catalogue, hide=named) as services:
        if any(isinstance(q, model.CodeBase) for q in pack.questions):
            services.start_judge()  # the references' facts are computed in the jail
        text = student_yaml(pack, services.grader)
    out = Path(args.output)
    out.write_text(text, encoding="utf-8")
    check = check_pack_file(out)
    if check.pack is None:  # our fault: say so rather than hand students a broken file
        raise CommandError(f"the student build {out} does not load", EXIT_PROBLEMS, [str(p) for p in check.errors])
    size = out.stat().st_size / 1024
    print(f"wrote {out} ({size:.0f} KB): {len(pack.questions)} question(s), no solutions, hashed answers")
    return EXIT_OK


def _prove_all(context: Context, loaded: list[LoadResult]) -> dict[str, Any]:
    """Run every loaded pack's references, decoys and snippets through one pool."""
    from ..grading.proving import prove

    with judge_services(context.catalogue, hide=[result.file for result in loaded]) as services:
        runner = services.judge  # started first, so the grader uses it
        return {result.file: prove(result, services.grader, runner) for result in loaded}


def validate(context: Context) -> int:
    args = context.args
    if args.paths:
        files: list[Path] = []
        missing = [raw for raw in args.paths if not Path(raw).exists()]
        if missing:
            raise CommandError("; ".join(f"no such file or folder: {raw}" for raw in missing))
        for raw in args.paths:
            files.extend(pack_files(Path(raw)))
        if not files:
            raise CommandError(f"no pack files (*.yaml, *.yml) in {', '.join(args.paths)}", EXIT_PROBLEMS)
        results = [check_pack_file(file) for file in files]
        problems = [p for r in results for p in r.problems]
    else:
        results = context.catalogue.results
        problems = list(context.catalogue.problems)
    proved = ""
    loaded = [r for r in results if r.pack is not None]
    if not args.no_run and loaded:
        proofs = _prove_all(context, loaded)
        problems.extend(p for proof in proofs.values() for p in proof.problems)
        references = sum(p.references for p in proofs.values())
        decoys = sum(p.decoys for p in proofs.values())
        snippets = sum(p.snippets for p in proofs.values())
        proved = f"; ran {references} reference(s), {decoys} decoy(s), {snippets} snippet(s)"
    errors = [p for p in problems if p.severity == "error"]
    if args.json:
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
        # a pack is valid when it loads and nothing in its file is an error (its proofs included)
        failing = {p.file for p in errors}
        packs = sum(1 for r in results if r.pack is not None and r.file not in failing)
        summary = f"{len(results)} file(s), {packs} valid pack(s){proved}, {len(errors)} error(s)"
        warnings = len(problems) - len(errors)
        if warnings:
            summary += f", {warnings} warning(s)"
        print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK
