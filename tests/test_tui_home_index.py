"""The home index: the home screen's rows cached on disk so the first frame needs no YAML parse. It must never show
stale rows: any change to a pack file, the pack sources or the pack reader's code refuses the cache."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from quizapp.packs.discovery import default_sources
from quizapp.services import Services, catalogue_roots
from quizapp.store import home_index
from quizapp.tui.app import QuizApp
from quizapp.tui.widgets.question_list import QuestionList

FIXTURE = Path(__file__).parent / "packs" / "tui-fixture.yaml"
FIRST_TITLE = "Module, Sequential, ModuleList"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture pack, the only pack the services see."""
    folder = tmp_path / "packs"
    folder.mkdir()
    copy = folder / "course.yaml"
    shutil.copy(FIXTURE, copy)
    monkeypatch.setenv("QUIZAPP_ONLY_PACKS", str(folder))
    return copy


def start() -> Services:
    return Services.default([], lazy=True)


def titles(rows: list[home_index.PackRows] | None) -> list[str]:
    assert rows is not None
    return [q.title for pack in rows for q in pack.questions]


def test_rows_come_from_the_index_after_one_load_without_loading_the_packs(pack: Path) -> None:
    first = start()
    assert first.home_rows() is None  # no index yet: the packs must load first
    assert first.load_catalogue() is True
    loaded = titles(first.home_rows())
    assert loaded[0] == FIRST_TITLE and len(loaded) > 5
    first.close()

    second = start()
    assert titles(second.home_rows()) == loaded
    assert not second.catalogue_ready()  # the rows came from the index, not from parsing YAML
    assert second.load_catalogue() is False  # the packs agree with the index: nothing to redraw
    second.close()


def test_an_edited_pack_shows_its_change_on_the_next_start(pack: Path) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    pack.write_text(pack.read_text().replace(f"title: {FIRST_TITLE}", "title: Renamed on disk"))

    services = start()
    assert services.home_rows() is None  # the index no longer matches the file: refused, not shown stale
    assert services.load_catalogue() is True
    assert titles(services.home_rows())[0] == "Renamed on disk"
    services.close()
    assert titles(start().home_rows())[0] == "Renamed on disk"  # and the index was rewritten


def test_an_edit_of_the_same_size_with_the_old_mtime_is_still_seen(pack: Path) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    stat = pack.stat()
    text = pack.read_text()
    edited = text.replace(f"title: {FIRST_TITLE}", f"title: {FIRST_TITLE[::-1]}")
    assert len(edited) == len(text)
    pack.write_text(edited)
    os.utime(pack, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as a copy that keeps times would leave it

    assert start().home_rows() is None


def test_a_pack_added_to_a_folder_or_removed_refuses_the_index(pack: Path) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    other = pack.with_name("other.yml")
    other.write_text(pack.read_text().replace("id: tui-fixture", "id: other-pack"))
    assert start().home_rows() is None

    services = start()
    services.load_catalogue()
    assert [p.id for p in services.home_rows() or []] == ["tui-fixture", "other-pack"]  # course.yaml, other.yml
    services.close()
    other.unlink()
    assert start().home_rows() is None


def test_a_damaged_or_foreign_index_is_ignored(pack: Path) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    path = home_index.index_path()
    path.write_text("{not json")
    assert start().home_rows() is None
    path.write_text(json.dumps({"key": "another", "packs": []}))
    assert start().home_rows() is None


def test_a_change_to_the_pack_reader_refuses_the_index(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    monkeypatch.setattr(home_index, "__version__", "99.0.0")
    assert start().home_rows() is None


def test_the_index_reads_the_same_sources_as_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUIZAPP_ONLY_PACKS", raising=False)
    (Path(os.environ["QUIZAPP_HOME"]) / "packs").mkdir(parents=True)
    listed = tmp_path / "listed.yaml"
    monkeypatch.setenv("QUIZAPP_PACKS", f"{listed}{os.pathsep}{tmp_path / 'missing'}")
    extra = [tmp_path / "extra"]
    assert catalogue_roots(extra) == [path for path, _ in default_sources(extra)]


async def _first_titles(app: QuizApp) -> tuple[list[str], list[str]]:
    """The table's titles as soon as the app is up (the packs held back from loading), then once they have loaded."""
    services = app.services
    gate = threading.Event()
    load = services.load_catalogue

    def held_back() -> bool:
        gate.wait(60)
        return load()

    services.load_catalogue = held_back  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#questions", QuestionList)
        early = [table.row(i)[4] for i in range(table.row_count)]
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#questions", QuestionList)
        late = [table.row(i)[4] for i in range(table.row_count)]
        await pilot.press("ctrl+q")
    return early, late


def test_the_app_shows_an_edited_title_on_its_next_start(pack: Path) -> None:
    early, late = asyncio.run(_first_titles(QuizApp(services=start())))
    assert late[0] == FIRST_TITLE
    pack.write_text(pack.read_text().replace(f"title: {FIRST_TITLE}", "title: Edited between two starts"))
    early, late = asyncio.run(_first_titles(QuizApp(services=start())))
    assert late[0] == "Edited between two starts"
    assert FIRST_TITLE not in early + late


def test_the_first_frame_has_the_rows_and_the_loaded_packs_correct_a_wrong_index(pack: Path) -> None:
    services = start()
    services.load_catalogue()
    services.close()
    path = home_index.index_path()
    document = json.loads(path.read_text())
    document["packs"][0]["questions"][0][1] = "A title the pack does not have"  # the same key, other rows
    path.write_text(json.dumps(document))

    early, late = asyncio.run(_first_titles(QuizApp(services=start())))
    assert early[0] == "A title the pack does not have"  # drawn from the index, before any YAML was parsed
    assert late[0] == FIRST_TITLE  # then replaced by what the pack really says
    assert titles(start().home_rows())[0] == FIRST_TITLE  # and the index is right again


# --- the packs themselves, cached as JSON for the full load after the first frame -------------------------------


def full_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the full loads (YAML parsed and checked) the services make from now on."""
    import quizapp.services as services_module

    calls: list[int] = []
    full = services_module.default_catalogue

    def counted(extra: list[Path]):  # type: ignore[no-untyped-def]
        calls.append(1)
        return full(extra)

    monkeypatch.setattr(services_module, "default_catalogue", counted)
    return calls


def test_the_packs_come_from_their_cache_on_the_next_start_equal_to_a_full_load(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quizapp.packs import discover

    loads = full_loads(monkeypatch)
    first = start()
    first.load_catalogue()
    first.close()
    assert loads == [1] and home_index.catalogue_path().is_file()

    second = start()
    second.load_catalogue()
    assert loads == [1], "the second start validated the cached JSON instead of parsing the YAML"
    fresh = discover([pack], include_defaults=False)
    assert second.catalogue.packs == fresh.packs
    assert list(second.catalogue.packs) == list(fresh.packs)
    assert second.catalogue.sources["tui-fixture"].path == pack
    second.close()


def test_an_edited_pack_is_loaded_in_full_not_from_the_cache(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = full_loads(monkeypatch)
    services = start()
    services.load_catalogue()
    services.close()
    pack.write_text(pack.read_text().replace(f"title: {FIRST_TITLE}", "title: Renamed on disk"))

    services = start()
    services.load_catalogue()
    assert loads == [1, 1]
    assert services.catalogue.packs["tui-fixture"].questions[0].title == "Renamed on disk"
    services.close()


def test_a_cache_that_does_not_validate_is_refused(pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = full_loads(monkeypatch)
    services = start()
    services.load_catalogue()
    services.close()
    path = home_index.catalogue_path()
    document = json.loads(path.read_text())
    pack_json = json.loads(document["packs"][0]["pack"])
    pack_json["questions"][0]["kind"] = "nonsense"  # the key still matches: only validation can tell
    document["packs"][0]["pack"] = json.dumps(pack_json)
    path.write_text(json.dumps(document))

    services = start()
    services.load_catalogue()
    assert loads == [1, 1]
    assert services.catalogue.packs["tui-fixture"].questions[0].kind == "choice"
    services.close()


def test_a_catalogue_with_problems_is_never_cached(pack: Path) -> None:
    twin = pack.with_name("twin.yaml")
    twin.write_text(pack.read_text())  # the same pack id twice: discovery reports it
    services = start()
    services.load_catalogue()
    assert services.catalogue.problems
    services.close()
    assert not home_index.catalogue_path().exists()


def test_the_list_and_its_menus_arrive_when_the_fallback_timer_started_the_preparation(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine the preparation's fallback timer can fire before the home screen's first frame: the home
    screen's callbacks, given later, must still fill the list (no index yet: it says "loading") and build the menus."""
    from textual.widgets import Select

    from quizapp.tui.screens.home import HomeScreen, MenuFace

    first_frame = HomeScreen._first_frame_drawn

    def after_the_fallback(self: HomeScreen) -> None:
        self.app.prepare()  # what the fallback timer calls, with no callbacks  # type: ignore[attr-defined]
        first_frame(self)

    monkeypatch.setattr(HomeScreen, "_first_frame_drawn", after_the_fallback)

    async def run() -> tuple[list[str], list[str], int]:
        app = QuizApp(services=start())
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(500):  # at most 10 s: what a loaded machine may need; ends as soon as the menus are in
                await pilot.pause(0.02)
                if not app.screen.query(MenuFace):
                    break
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.screen.query_one("#questions", QuestionList)
            shown = [table.row(i)[4] for i in range(table.row_count)]
            menus = [select.id or "" for select in app.screen.query(Select)]
            faces = len(app.screen.query(MenuFace))
            await pilot.press("ctrl+q")
        return shown, menus, faces

    shown, menus, faces = asyncio.run(run())
    assert shown and shown[0] == FIRST_TITLE
    assert menus == ["pack", "tag", "difficulty", "status"] and faces == 0
