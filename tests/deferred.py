"""Deferred: a module imported on its first use, for test files that run worker-side code (torch) in process."""

from __future__ import annotations

import importlib
from typing import Any


class Deferred:
    """A module imported on its first use: collecting a test file, which every test process does, then imports
    neither torch nor the worker side (conftest.py runs such files' tests in one process, TORCH_IN_PROCESS)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # pytest's collector looks for __test__ and the like on every module global
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self._name), attribute)
