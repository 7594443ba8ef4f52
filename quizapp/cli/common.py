"""What every command shares: exit codes, the errors that become one line on stderr, finding packs and questions."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..packs import Catalogue, Problem, discover, model
from ..packs.loader import check_pack_file

if TYPE_CHECKING:
    from ..services import Services

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A message for the user, and the exit code (usage or pack errors by default). main() prints it."""

    def __init__(self, message: str, code: int = EXIT_USAGE, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or []


@dataclass
class Context:
    """A command's arguments and the packs it sees (discovered once, on first use)."""

    args: argparse.Namespace
    extra_packs: list[Path] = field(default_factory=list)
    _catalogue: Catalogue | None = None

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = discover(self.extra_packs)
        return self._catalogue


def broken_note(catalogue: Catalogue, out: TextIO) -> None:
    """What went wrong while finding packs, in a few lines: broken files by name, then missing paths and
    packs that replaced others (problems that belong to no file's load result)."""
    broken = [r.file for r in catalogue.results if r.pack is None]
    if broken:
        print(f"quizapp: {len(broken)} pack file(s) could not be loaded: {', '.join(broken)}", file=out)
        print("quizapp: run 'quizapp validate' to see why", file=out)
    for problem in catalogue_only_problems(catalogue):
        print(f"quizapp: {problem.severity}: {problem.file}: {problem.message}", file=out)


def catalogue_only_problems(catalogue: Catalogue) -> list[Problem]:
    per_file = {id(p) for r in catalogue.results for p in r.problems}
    return [p for p in catalogue.problems if id(p) not in per_file]


def find_pack(catalogue: Catalogue, pack_id: str) -> model.Pack:
    pack = catalogue.packs.get(pack_id)
    if pack is None:
        broken_note(catalogue, sys.stderr)
        raise CommandError(f"no pack '{pack_id}' (known packs: {', '.join(catalogue.packs) or 'none'})")
    return pack


def find_question(catalogue: Catalogue, target: str) -> tuple[model.Pack, model.AnyQuestion]:
    """The pack and question named PACK/QUESTION; a CommandError saying what exists otherwise."""
    pack_id, _, question_id = target.partition("/")
    pack = find_pack(catalogue, pack_id)
    ids = [q.id for q in pack.questions]
    if not question_id:
        raise CommandError(f"name a question: {pack_id}/QUESTION; its questions: {', '.join(ids)}")
    try:
        return pack, pack.question(question_id)
    except KeyError:
        close = difflib.get_close_matches(question_id, ids, n=1)
        guess = f" Did you mean '{pack_id}/{close[0]}'?" if close else ""
        raise CommandError(
            f"pack '{pack_id}' has no question '{question_id}'.{guess} Its questions: {', '.join(ids)}"
        ) from None


def pack_from_file_or_id(catalogue: Catalogue, name: str) -> model.Pack:
    """A pack given as a file (loaded and checked) or as the id of a known pack."""
    source = Path(name)
    if source.is_file():
        loaded = check_pack_file(source)
        if loaded.pack is None:
            raise CommandError(f"{name} does not load", details=[str(p) for p in loaded.errors])
        return loaded.pack
    if name in catalogue.packs:
        return catalogue.packs[name]
    known = ", ".join(catalogue.packs) or "none"
    raise CommandError(f"no pack file or pack id '{name}' (known packs: {known})")


@contextlib.contextmanager
def judge_services(
    catalogue: Catalogue, workers: int = 2, *, prefork: bool = True, hide: Iterable[str | Path] = ()
) -> Iterator[Services]:
    """The app's composition of pool and grader for a command that grades: the pool starts on first need and
    closes on leaving. Commands keep no progress, so the store is an in-memory one. The jail hides every pack
    file the catalogue knows (those given with --pack included) and `hide`: a pack file named on the command
    line that is not in the catalogue."""
    from ..services import Services
    from ..store import Store

    hidden = [*(source.path for source in catalogue.sources.values()), *hide]

    def start_pool() -> object:
        from ..judge.pool import Pool

        return Pool(size=max(1, workers), prefork=prefork, hide=hidden)

    services = Services(catalogue, Store(":memory:"), start_pool)
    try:
        yield services
    finally:
        # The command's work is done (or given up): its workers hold nothing of it, and asked politely a worker
        # answers only after its deferred training warm-up, which starts after its first job (0.9 s more for
        # every `quizapp grade`). Killed at once instead.
        services.close(wait=0)
