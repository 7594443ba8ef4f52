"""Find packs: built-in, the user's pack folder, QUIZAPP_PACKS, and paths given on the command line.

Later sources shadow earlier ones: a pack given on the command line with the id of a built-in pack
replaces it (an instructor testing a new version), with a warning that says which file was hidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import locations
from .loader import LoadResult, check_pack_file
from .model import Pack
from .problems import Problem

PACK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Source:
    """Where a pack came from, for `quizapp list` and messages."""

    path: Path
    origin: str  # builtin | user | env | cli


@dataclass
class Catalogue:
    """The packs found, by id, and the problems met on the way."""

    packs: dict[str, Pack] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    results: list[LoadResult] = field(default_factory=list)

    def pack(self, pack_id: str) -> Pack:
        return self.packs[pack_id]


def pack_files(path: Path) -> list[Path]:
    """A file is itself; a folder holds every *.yaml and *.yml file under it, in name order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file())
    return [path]


def default_sources(extra: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    sources: list[tuple[Path, str]] = [(locations.builtin_packs_dir(), "builtin")]
    user = locations.user_packs_dir()
    if user.is_dir():
        sources.append((user, "user"))
    sources.extend((path, "env") for path in locations.extra_pack_paths())
    sources.extend((Path(path), "cli") for path in extra)
    return sources


def discover(extra: Iterable[Path] = (), include_defaults: bool = True) -> Catalogue:
    """Load every pack from the default sources (unless told not to) and from `extra`."""
    roots = default_sources(extra) if include_defaults else [(Path(p), "cli") for p in extra]
    catalogue = Catalogue()
    for root, origin in roots:
        if not root.exists():
            where = {"env": f"listed in {locations.PACKS_VARIABLE}", "cli": "given with --pack"}.get(origin, origin)
            catalogue.problems.append(Problem(str(root), 1, 1, f"no such pack file or folder ({where})"))
            continue
        for file in pack_files(root):
            result = check_pack_file(file)
            catalogue.results.append(result)
            catalogue.problems.extend(result.problems)
            if result.pack is None:
                continue
            pack_id = result.pack.id
            if pack_id in catalogue.sources:
                hidden = catalogue.sources[pack_id].path
                catalogue.problems.append(
                    Problem(str(file), 1, 1, f"pack '{pack_id}' replaces the one in {hidden}", severity="warning")
                )
            catalogue.packs[pack_id] = result.pack
            catalogue.sources[pack_id] = Source(file, origin)
    return catalogue
