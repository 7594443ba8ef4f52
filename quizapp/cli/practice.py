"""Commands that serve the learner: the app itself, mock interviews, spaced review, mock reports."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import EXIT_OK, CommandError, Context


def app(context: Context) -> int:
    from ..tui.app import run

    run(context.extra_packs)
    return EXIT_OK


def report(context: Context) -> int:
    from ..practice import report as reports
    from ..store import Store

    args = context.args
    with Store.open_default() as store:
        if args.report_id is None:
            found = reports.list_reports(store)
            print("\n".join(f"{r.id}  {r.percent:5.1f}%  {reports.summary_line(r)}" for r in found) or "No reports.")
            return EXIT_OK
        chosen = reports.load_report(store, args.report_id)
    if chosen is None:
        raise CommandError(f"no report {args.report_id!r}; 'quizapp report' lists them")
    text = reports.render(chosen, args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot write {args.output}: {error.strerror or error}") from None
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def mock(context: Context) -> int:
    from ..practice import MockConfig, MockError

    args = context.args

    def listed(text: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip()) or default

    catalogue = context.catalogue
    try:
        config = MockConfig(
            packs=listed(args.packs_for_mock, tuple(catalogue.packs)),
            count=args.count,
            kinds=listed(args.kinds, ("choice", "predict", "code", "fix", "explain")),
            difficulties=listed(args.difficulty, ("easy", "medium", "hard")),
            total_seconds=args.minutes * 60 if args.minutes else None,
            hints_allowed=args.hints,
            **({"seed": args.seed} if args.seed is not None else {}),
        )
    except MockError as error:
        raise CommandError(str(error)) from None
    unknown = [p for p in config.packs if p not in catalogue.packs]
    if unknown:
        raise CommandError(f"no pack {', '.join(unknown)} (known: {', '.join(catalogue.packs)})")
    from ..tui.app import run

    run(context.extra_packs, mock=config)
    return EXIT_OK


def review(context: Context) -> int:
    if not context.args.list:
        from ..tui.app import run

        run(review=True)
        return EXIT_OK
    from ..practice import review as reviews
    from ..store import Store

    with Store.open_default() as store:
        cards = reviews.due(store)
    print(
        "\n".join(f"{c.pack_id}/{c.question_id}  due {c.due.astimezone():%Y-%m-%d %H:%M}" for c in cards)
        or "Nothing due today."
    )
    return EXIT_OK
