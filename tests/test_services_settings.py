"""The app's judge settings below the TUI: QUIZAPP_WORKERS sets how many workers the app's pool starts."""

from __future__ import annotations

from typing import Any

import pytest

import quizapp.judge.pool as pool_module
from quizapp import services


@pytest.mark.parametrize(
    ("value", "workers"),
    [(None, 2), ("1", 1), (" 3 ", 3), ("8", 8), ("0", 2), ("9", 2), ("-1", 2), ("two", 2), ("1.5", 2), ("", 2)],
)
def test_the_number_of_workers_comes_from_quizapp_workers_when_it_is_a_whole_number_from_1_to_8(
    monkeypatch: pytest.MonkeyPatch, value: str | None, workers: int
) -> None:
    if value is None:
        monkeypatch.delenv(services.WORKERS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(services.WORKERS_VARIABLE, value)
    assert services.app_workers() == workers


def test_the_apps_pool_is_started_with_that_many_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict[str, Any]] = []

    class Recorded:
        def __init__(self, **options: Any) -> None:
            started.append(options)

    monkeypatch.setattr(pool_module, "Pool", Recorded)
    monkeypatch.setenv(services.WORKERS_VARIABLE, "1")
    app_services = services.Services.default(lazy=True)
    try:
        assert app_services.pool_factory is not None
        app_services.pool_factory()
    finally:
        app_services.store.close()
    assert [options["size"] for options in started] == [1]
