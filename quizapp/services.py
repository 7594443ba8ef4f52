"""The one composition of packs, the progress store and the grader, for the app and the CLI. The judge's pool
starts in the background, so the app's first frame never waits for torch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .grading.grader import Grader, ReferenceCache
from .grading.result import Result
from .packs import Catalogue, discover, model
from .store import Store


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

    @classmethod
    def default(cls, extra_packs: list[Path] | None = None) -> Services:
        def start_pool() -> Any:
            from .judge.pool import Pool

            return Pool(size=2)

        return cls(discover(extra_packs or []), Store.open_default(), start_pool)

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
        if isinstance(question, model.CodeBase):
            self.start_judge()
            if self._pool is None:
                return Result("internal_error", message=f"the judge could not start: {self.pool_error}")
        return self.grader.grade(pack, question, answer, mode=mode, ticked=ticked or ())

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self.owns_pool:
            pool.close()
        self.store.close()
