"""The one composition of packs, the progress store and the grader, for the app and the CLI. The judge's pool
starts in the background, so the app's first frame never waits for torch."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import Store
from .store.home_index import (
    PackRows,
    index_key,
    read_catalogue,
    read_index,
    rows_from_packs,
    write_catalogue,
    write_index,
)

if TYPE_CHECKING:  # imported when first used: the app's first frame does not wait for the pack models
    from .grading.grader import Grader
    from .grading.result import Result
    from .packs import Catalogue, model

ONLY_PACKS_VARIABLE = "QUIZAPP_ONLY_PACKS"
WORKERS_VARIABLE = "QUIZAPP_WORKERS"
APP_WORKERS = 2  # one judges while the other prepares the next job's jail, or a job runs in two parts on both cores
MAX_APP_WORKERS = 8


def app_workers() -> int:
    """How many judge workers the app starts: QUIZAPP_WORKERS when it is a whole number from 1 to 8 (1 halves the
    judge's memory, about 280 MiB a worker, and its start-up CPU), otherwise 2."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if value.isdigit() and 1 <= int(value) <= MAX_APP_WORKERS:
        return int(value)
    return APP_WORKERS


class LazyCatalogue:
    """Stands for a Catalogue that discovers its packs on first use: the app draws its first frame, then loads
    them in a worker (`ensure`). Any attribute read before that loads them on the spot, so callers need not
    know."""

    _FIELDS = frozenset({"packs", "sources", "problems", "results"})

    def __init__(self, load: Callable[[], Catalogue]) -> None:  # noqa: D107  (no dataclass fields set yet)
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_loading", threading.Lock())
        object.__setattr__(self, "_loaded", False)

    @property
    def loaded(self) -> bool:
        return object.__getattribute__(self, "_loaded")

    def ensure(self) -> None:
        with object.__getattribute__(self, "_loading"):
            if object.__getattribute__(self, "_loaded"):
                return
            found = object.__getattribute__(self, "_load")()
            for name in ("packs", "sources", "problems", "results"):  # the fields of a Catalogue
                object.__setattr__(self, name, getattr(found, name))
            object.__setattr__(self, "_loaded", True)

    def __getattribute__(self, name: str) -> Any:
        if name in LazyCatalogue._FIELDS and not object.__getattribute__(self, "_loaded"):
            object.__getattribute__(self, "ensure")()
        return object.__getattribute__(
            self, name
        )  # ':'-separated pack files or folders used instead of every default source


@dataclass
class Services:
    catalogue: Catalogue
    store: Store
    pool_factory: Callable[[], Any] | None = None
    _pool: Any = None
    _grader: Grader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    pool_error: str = ""
    owns_pool: bool = True  # False when the caller shares a pool it will close itself (tests)
    index_roots: list[Path] | None = None  # where the packs come from, in order: keys the home index (None: none)
    _index_rows: list[PackRows] | None = None
    _index_read: bool = False

    @classmethod
    def default(cls, extra_packs: list[Path] | None = None, lazy: bool = False) -> Services:
        """The learner's packs, store and judge. Raises StoreError (its message fit to show) when the progress
        database cannot be used. `lazy`: the packs are discovered on first use (the app's first frame does not
        wait for them)."""

        def start_pool() -> Any:
            from .judge.pool import Pool

            return Pool(size=app_workers(), hide=extra)  # packs given with --pack (the usual places are always hidden)

        store = Store.open_default()
        extra = extra_packs or []
        roots = catalogue_roots(extra)
        catalogue = LazyCatalogue(lambda: cached_catalogue(roots, extra)) if lazy else default_catalogue(extra)
        return cls(catalogue, store, start_pool, index_roots=roots)

    def catalogue_ready(self) -> bool:
        return not isinstance(self.catalogue, LazyCatalogue) or self.catalogue.loaded

    def home_rows(self) -> list[PackRows] | None:
        """The home screen's rows: the loaded packs' once they are loaded; before that the home index's when it
        matches the pack files on disk; otherwise None (the packs must be loaded first). Never blocks on the
        packs."""
        if self.catalogue_ready():
            return rows_from_packs(self.catalogue.packs.values())
        if not self._index_read and self.index_roots is not None:
            self._index_rows = read_index(index_key(self.index_roots))
            self._index_read = True
        return self._index_rows

    def load_catalogue(self) -> bool:
        """Load the packs (blocking: call from a worker) and bring the home index up to date. True when their rows
        differ from what `home_rows` gave before (so a screen showing those must refresh)."""
        key = index_key(self.index_roots) if self.index_roots is not None else None
        shown = self._index_rows
        if isinstance(self.catalogue, LazyCatalogue):
            self.catalogue.ensure()
        rows = rows_from_packs(self.catalogue.packs.values())
        if key is not None and rows != shown and index_key(self.index_roots or []) == key:  # unchanged meanwhile
            write_index(key, rows)
        return rows != shown

    def start_judge(self) -> None:
        """Start the pool's workers (they import torch in their own processes); returns at once."""
        with self._lock:
            if self._pool is None and self.pool_factory is not None and not self.pool_error:
                try:
                    self._pool = self.pool_factory()
                except Exception as error:  # the app keeps working for every kind but code
                    self.pool_error = f"{type(error).__name__}: {error}"

    def judge_state(self) -> tuple[str, str]:
        """('starting' | 'warm' | 'unavailable', jail mode or reason)."""
        if self.pool_error:
            return "unavailable", self.pool_error
        pool = self._pool
        if pool is None:
            return "starting", ""
        if not getattr(pool, "warm", False):
            return "starting", ""
        return "warm", getattr(pool, "jail_mode", "")

    @property
    def judge(self) -> Any:
        """The judge's pool, started if needed; None when it could not start (pool_error says why)."""
        self.start_judge()
        return self._pool

    @property
    def grader(self) -> Grader:
        from .grading.grader import Grader, ReferenceCache

        with self._lock:
            if self._grader is None:
                self._grader = Grader(self._pool, ReferenceCache.default())
            elif self._grader.runner is None and self._pool is not None:
                self._grader.runner = self._pool
            return self._grader

    def grade(
        self, pack: model.Pack, question: model.AnyQuestion, answer: str, mode: str, ticked: list[str] | None = None
    ) -> Result:
        """Blocking: call from a worker thread, never from the UI thread."""
        from .grading.result import Result
        from .packs import model

        if isinstance(question, model.CodeBase):
            self.start_judge()
            if self._pool is None:
                return Result("internal_error", message=f"the judge could not start: {self.pool_error}")
        return self.grader.grade(pack, question, answer, mode=mode, ticked=ticked or ())

    def close(self, wait: float | None = None) -> None:
        """Close the store and the pool. With `wait`, give the pool that many seconds to stop its workers politely
        (a worker still importing torch answers late) and go on: a worker also stops by itself when this process
        ends and its pipe closes, and the pool's exit finalizer kills any left at a normal interpreter exit, so
        quitting the app never waits on the judge. With `wait=0` (the app's quit, which then ends its process
        without exit handlers) the workers are killed at once: a worker still warming up would otherwise go on
        importing torch for seconds after the app has gone."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None and self.owns_pool:
                if wait is None:
                    pool.close()
                elif wait <= 0:
                    pool.terminate()
                else:
                    closer = threading.Thread(target=pool.close, name="pool-close", daemon=True)
                    closer.start()
                    closer.join(wait)
        finally:
            self.store.close()


def catalogue_roots(extra_packs: list[Path]) -> list[Path]:
    """The files and folders `default_catalogue` reads, in its order (quizapp.packs.discovery's sources)."""
    from . import locations

    only = os.environ.get(ONLY_PACKS_VARIABLE, "")
    if only:
        return [*(Path(part) for part in only.split(os.pathsep) if part), *extra_packs]
    user = locations.user_packs_dir()
    return [
        locations.builtin_packs_dir(),
        *([user] if user.is_dir() else []),
        *locations.extra_pack_paths(),
        *(Path(path) for path in extra_packs),
    ]


def cached_catalogue(roots: list[Path], extra_packs: list[Path]) -> Catalogue:
    """`default_catalogue`, from the cache in the data directory when it was written from exactly these pack files
    and this pack reader (quizapp.store.home_index); otherwise loaded in full, and cached if it loaded cleanly."""
    key = index_key(roots)
    cached = read_catalogue(key)
    if cached is not None:
        return cached
    catalogue = default_catalogue(extra_packs)
    if index_key(roots) == key:  # no pack file changed while it loaded
        write_catalogue(key, catalogue)
    return catalogue


def default_catalogue(extra_packs: list[Path]) -> Catalogue:
    """Every default source and `extra_packs`; only the packs listed in QUIZAPP_ONLY_PACKS when it is set (tests
    and screenshots use it to stay independent of the built-in packs' contents)."""
    from .packs import discover

    only = os.environ.get(ONLY_PACKS_VARIABLE, "")
    if only:
        paths = [Path(part) for part in only.split(os.pathsep) if part]
        return discover([*paths, *extra_packs], include_defaults=False)
    return discover(extra_packs)
