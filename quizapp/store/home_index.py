"""The rows the home screen needs (each pack's questions: id, title, kind, level, minutes, tags), cached on disk so
the app's first frame needs no YAML parse and no pack model; and, beside them, the packs themselves as JSON, so the
full load after the first frame validates JSON (pydantic's core, about 10 ms for the built-in packs) instead of
parsing and checking YAML (about 200 ms).

The cache is keyed by everything the rows are derived from: the pack sources the app looks in, every pack file's
path, size, modification time and content checksum (CRC-32: zlib's, already loaded with Textual, where hashlib's
import and a BLAKE2 of the built-in packs cost the first frame about 5 ms), and the code that reads packs (quizapp's
version and the pack loader's source files). Any difference means no rows from the cache, so an edited, added or
removed pack shows on the next start; the packs are loaded in full after the first frame anyway, and their rows
replace the cached ones if they differ (the cache is then rewritten).

Plain Python: no pack model is imported here but by the catalogue's cache, when it is read or written; rows are
read from any objects with the pack model's attributes.

The cached packs go through the pack model's validation again when read (a damaged or edited cache is refused, never
trusted), and only a catalogue that loaded without a single problem is cached: warnings and errors always come from
a full load, with their places in the files.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import __version__, locations

if TYPE_CHECKING:
    from ..packs import Catalogue

INDEX_FORMAT = 2  # 2: CRC-32 checksums of the pack files in the key
INDEX_FILENAME = "home-index.json"
CATALOGUE_FILENAME = "catalogue.json"
PACK_SUFFIXES = (".yaml", ".yml")  # as quizapp.packs.discovery finds pack files in a folder


# Named tuples, not frozen dataclasses: defining one costs a fifth as much, before the first frame.
class QuestionRow(NamedTuple):
    id: str
    title: str
    kind: str
    difficulty: str
    minutes: float
    tags: tuple[str, ...]


class PackRows(NamedTuple):
    id: str
    questions: tuple[QuestionRow, ...]


def rows_from_packs(packs: Iterable[Any]) -> list[PackRows]:
    """The rows of loaded packs (quizapp.packs.model.Pack or anything with its attributes), in their order."""
    return [
        PackRows(
            str(pack.id),
            tuple(
                QuestionRow(q.id, q.title, q.kind, q.difficulty, float(q.minutes), tuple(q.tags))
                for q in pack.questions
            ),
        )
        for pack in packs
    ]


def pack_files(root: Path) -> list[Path]:
    """A file is itself; a folder holds every *.yaml and *.yml file under it (quizapp.packs.discovery's rule)."""
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file())
    return [root]


def _file_stamp(path: Path) -> list[Any]:
    try:
        status = path.stat()
        checksum = f"{zlib.crc32(path.read_bytes()):08x}"
    except OSError as error:
        return [str(path), "unreadable", type(error).__name__]
    return [str(path), status.st_size, status.st_mtime_ns, checksum]


def _code_stamp() -> list[Any]:
    """quizapp's version and the pack reader's source files: a new loader may read the same file differently."""
    packs_code = Path(__file__).resolve().parent.parent / "packs"
    files = sorted(packs_code.glob("*.py"))
    return [__version__, INDEX_FORMAT, *([p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files)]


def index_key(roots: Sequence[Path]) -> list[Any]:
    """What the rows are derived from: the roots in order, each root's pack files, and the code that reads them."""
    return [
        _code_stamp(),
        [[str(root), root.exists(), [_file_stamp(f) for f in pack_files(root)]] for root in roots],
    ]


def index_path() -> Path:
    return locations.cache_dir() / INDEX_FILENAME


def read_index(key: list[Any], path: Path | None = None) -> list[PackRows] | None:
    """The cached rows for exactly this key, or None (no cache, another key, or a damaged file)."""
    path = path or index_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("key") != json.loads(json.dumps(key)):
            return None
        return [PackRows(pack["id"], tuple(_row(*q) for q in pack["questions"])) for pack in document["packs"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _row(question_id: str, title: str, kind: str, difficulty: str, minutes: float, tags: list[str]) -> QuestionRow:
    return QuestionRow(question_id, title, kind, difficulty, float(minutes), tuple(tags))


def write_index(key: list[Any], packs: Sequence[PackRows], path: Path | None = None) -> None:
    """Replace the cache atomically (a reader sees the old file or the new one). A failure only costs speed."""
    document = {
        "key": key,
        "packs": [
            {"id": p.id, "questions": [[q.id, q.title, q.kind, q.difficulty, q.minutes, list(q.tags)] for q in qs]}
            for p, qs in ((p, p.questions) for p in packs)
        ],
    }
    _write_json(path or index_path(), document)


def catalogue_path() -> Path:
    return locations.cache_dir() / CATALOGUE_FILENAME


def read_catalogue(key: list[Any], path: Path | None = None) -> Catalogue | None:
    """The packs cached for exactly this key, validated again by the pack model; None when there are none, the key
    differs, or anything in the file does not validate."""
    from ..packs import Catalogue, model
    from ..packs.discovery import Source
    from ..packs.loader import LoadResult

    path = path or catalogue_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("key") != json.loads(json.dumps(key)):
            return None
        catalogue = Catalogue()
        for entry in document["packs"]:
            pack = model.Pack.model_validate_json(entry["pack"])  # pydantic's ValidationError is a ValueError
            catalogue.packs[pack.id] = pack
            catalogue.sources[pack.id] = Source(Path(entry["source"]), entry["origin"])
            catalogue.results.append(LoadResult(entry["file"], pack, []))
        return catalogue
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_catalogue(key: list[Any], catalogue: Catalogue, path: Path | None = None) -> bool:
    """Cache a catalogue that loaded without a single problem (anything else is loaded in full each time, so its
    messages keep their places in the files). True when written."""
    if catalogue.problems or any(r.pack is None or r.problems for r in catalogue.results):
        return False
    files = {r.pack.id: r.file for r in catalogue.results if r.pack is not None}
    document = {
        "key": key,
        "packs": [
            {
                "file": files[pack_id],
                "source": str(catalogue.sources[pack_id].path),
                "origin": catalogue.sources[pack_id].origin,
                "pack": pack.model_dump_json(by_alias=True),
            }
            for pack_id, pack in catalogue.packs.items()
        ],
    }
    return _write_json(path or catalogue_path(), document)


def _write_json(path: Path, document: dict[str, Any]) -> bool:
    """Replace `path` atomically (a reader sees the old file or the new one). A failure only costs speed."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return False
    return True
