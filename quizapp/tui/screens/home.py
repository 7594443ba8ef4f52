"""Home: every pack's questions with their status, filtered by text, pack, tag, difficulty and status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from ..widgets.question_list import QuestionList
from ..widgets.status import StatusLine

if TYPE_CHECKING:
    from ...store.home_index import PackRows

STATUS_MARK = {"new": "·", "attempted": "◐", "solved": "✓"}
DIFFICULTIES = ("easy", "medium", "hard")
# The filter menus: id, prompt, the fixed choices (the packs' and tags' come from the rows) and their width (also in
# quizapp.tcss, for the Selects).
MENUS = (
    ("pack", "any pack", (), 20),
    ("tag", "any tag", (), 15),
    ("difficulty", "any level", DIFFICULTIES, 15),
    ("status", "any status", tuple(STATUS_MARK), 15),
)
# The list's columns: label and width (the title takes the rest of the line).
COLUMNS = (("", 1), ("kind", 7), ("level", 6), ("min", 3), ("question", 0))
HEADER_ICON = "⭘"  # Textual's Header's (HeaderIcon.icon)


class FilterInput(Input):
    """The list's filter. Enter gives the keys to the list at once, not when the screen handles the filter's
    Submitted message: an Enter typed right behind it ("/resnet", Enter, Enter, delivered together on a busy
    machine) reached the filter again and was lost, where it must open the highlighted question."""

    async def action_submit(self) -> None:
        await super().action_submit()
        questions = self.screen.query(QuestionList)
        if questions:
            self.screen.set_focus(questions.first())

class MenuFace(Static):
    """The filter menus' closed faces, all four in one widget, drawn in the first frame as the Selects draw them; the
    real Selects replace it right after. A Select is a handful of widgets and an overlay list: four of them cost the
    first frame about a tenth of a second, and even four faces of one widget each cost it 1.5%."""

    def __init__(self) -> None:
        super().__init__(id="menu-faces", markup=False)
        self.styles.width = sum(width for *_, width in MENUS)

    def render(self) -> str:
        return "".join(f"{prompt:<{width - 2}}▼ " for _, prompt, _, width in MENUS)


class HeaderFace(Static):
    """Textual's Header as its first frame draws it (the icon, the title centred between the icon's 8 cells and the
    clock's 10), in one widget instead of four; the real Header replaces it with the menus, once the app has prepared
    (nothing on screen changes; until then a click on it does nothing). Its import, stylesheet and four widgets cost
    the first frame about 3% of its CPU, and right after it they would take that from the preparation."""

    ICON_WIDTH = 8  # HeaderIcon's width, with its padding of 1 either side of the icon
    CLOCK_WIDTH = 10  # HeaderClockSpace's

    def render(self) -> Content:
        app = self.app
        screen = self.screen
        title = app.format_title(
            screen.title if screen.title is not None else app.title,
            screen.sub_title if screen.sub_title is not None else app.sub_title,
        )
        middle = max(self.size.width - self.ICON_WIDTH - self.CLOCK_WIDTH, 0)
        title = title.truncate(middle, ellipsis=True)
        left = (middle - title.cell_length) // 2
        icon = Content(f" {HEADER_ICON}").pad_right(max(self.ICON_WIDTH - 2, 0))
        return Content.assemble(icon, title.pad_left(left))


class FooterFace(Static):
    """The footer's place in the first frame: an empty line in the footer's colours, which is what Textual's Footer
    shows there too (it composes its keys only after its first refresh). The real footer (KeysFooter) replaces it
    right after the first frame: its import, its stylesheet and its first composition cost the first frame about
    a twelfth of its CPU, for a line that stayed empty."""


class HomeScreen(Screen[None]):
    # The list has the focus from the start. Textual would focus the first focusable widget, the filter, and the
    # list's focus in on_mount comes after: a focus change (the footer's keys change with it) on the way to the
    # first frame, and a footer without the screen's letter keys (the filter takes letters) until then.
    AUTO_FOCUS = "#questions"
    BINDINGS = [
        # Priority: run in order with the keys typed after it. Textual runs other bindings once the key has bubbled
        # up from the focused widget, by when the next keys ("resnet") may already have gone to the table.
        Binding("slash", "focus_filter", "Filter", priority=True),
        Binding("c", "continue", "Continue"),
        Binding("n", "next_unsolved", "Next unsolved"),
        Binding("m", "app.mock", "Mock"),
        Binding("r", "app.review", "Review"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield HeaderFace()
        with Horizontal(id="filters"):
            yield FilterInput(placeholder="/ search", id="filter", compact=True)
            yield MenuFace()
        yield QuestionList(COLUMNS, id="questions")
        yield StatusLine(id="status-line")
        yield FooterFace()

    _menu_choices: dict[str, tuple[str, ...]] = {menu_id: choices for menu_id, _, choices, _ in MENUS}

    def _rows(self) -> list[PackRows]:
        return self.app.services.home_rows() or []  # type: ignore[attr-defined]

    _left = False  # True once another screen has covered this one: its return refreshes the statuses

    def on_mount(self) -> None:
        self.query_one(QuestionList).focus()
        services = self.app.services  # type: ignore[attr-defined]
        if services.home_rows() is not None:  # the packs, or the home index: the first frame has the list
            self._packs_loaded(changed=True)
        else:
            self.query_one(StatusLine).context = "loading the question packs…"

    _drawn = False  # the screen has been painted on the terminal once

    def _compositor_refresh(self) -> None:
        """Textual renders a screen after each layout even while the app holds its paints in a batch (the app's
        start-up, the menus being built), and throws the render away: nothing is displayed in a batch. The paint
        after the batch renders what changed, so the render inside it, a tenth of the first frame's work, is
        skipped.

        The first paint outside a batch is the first frame: what comes after it (`_first_frame_drawn`) starts from
        here. The app's start-up batch lasts until its own mount has returned, after this screen has mounted and
        refreshed (inside the batch): waiting for a refresh (`call_after_refresh`) started the preparation's thread
        and the footer before anything was on the terminal, and the first frame waited for both."""
        if self.app._batch_count:
            return
        super()._compositor_refresh()
        if not self._drawn and self.is_current:
            self._drawn = True
            self.call_later(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        """What opening a question needs, in one thread, at once: the packs, then the question screen's modules and
        its highlighting (`QuizApp.prepare`). The main thread stays free meanwhile (an Enter pressed now opens the
        question as soon as its pack is loaded); the menus, which nobody can use in the first second, come after."""
        self.call_later(self._show_footer)
        self.app.prepare(self._packs_loaded, self._build_menus)  # type: ignore[attr-defined]
        # The row under the cursor since the first frame: its screen is built as soon as the preparation allows.
        self.app.prebuild_question(self.query_one(QuestionList).cursor_key)  # type: ignore[attr-defined]

    async def _show_footer(self) -> None:
        """The footer's keys in place of its face, composed once from the screen's bindings, in one paint."""
        from ..widgets.footer import KeysFooter

        faces = list(self.query(FooterFace))
        if not faces:
            return
        with self.app.batch_update():
            await self.mount(KeysFooter(at_once=True), after=faces[0])
            await self.query(FooterFace).remove()

    async def _show_header(self) -> None:
        """Textual's Header in place of its face (it draws the same cells, and adds the icon's and the title's
        clicks)."""
        from textual.widgets import Header

        faces = list(self.query(HeaderFace))
        if faces:
            await self.mount(Header(), before=faces[0])
            await self.query(HeaderFace).remove()

    async def _build_menus(self) -> None:
        """The four filter menus in place of their faces, with the real Header, in one paint (each is in place before
        its face goes). A Select is a handful of widgets and an overlay list: built in the first frame they cost it
        about a tenth of a second, and built while the packs load they slowed the packs down as much."""
        faces = list(self.query(MenuFace))
        if not faces:
            return
        if not self.is_current:  # a question is open: not while the learner is there (see on_screen_resume)
            self._menus_waiting = True
            return
        self._menus_waiting = False
        filters = self.query_one("#filters")
        with self.app.batch_update():
            await self._show_header()
            selects = [
                Select([(c, c) for c in self._menu_choices.get(menu_id, ())], prompt=prompt, id=menu_id, compact=True)
                for menu_id, prompt, _, _ in MENUS
            ]
            await filters.mount_all(selects, after=faces[0])
            await self.query(MenuFace).remove()

    def _packs_loaded(self, changed: bool) -> None:
        if not changed:  # the home index had these rows: nothing to redraw
            return
        rows = self._rows()
        tags = sorted({tag for pack in rows for q in pack.questions for tag in q.tags}, key=str.lower)
        self._set_options("#pack", [pack.id for pack in rows])
        self._set_options("#tag", tags)
        self.refill()

    def _set_options(self, selector: str, values: list[str]) -> None:
        self._menu_choices = {**self._menu_choices, selector.removeprefix("#"): tuple(values)}
        for select in self.query(selector).results(Select):  # none yet in the first frame: made with these
            chosen = select.value
            select.set_options([(value, value) for value in values])
            if isinstance(chosen, str) and chosen in values:  # a refresh keeps the learner's filter
                select.value = chosen

    def on_screen_suspend(self) -> None:
        self._left = True

    _menus_waiting = False  # the menus were due while another screen covered this one: built on its return

    def on_screen_resume(self) -> None:
        # Not on the first show: on_mount has just filled the list.
        if self._left and self.app.services.home_rows() is not None:  # type: ignore[attr-defined]
            self.refill()
        if self._left:  # the row under the cursor gets its screen built again, ahead of the next Enter
            self.app.prebuild_question(self.query_one(QuestionList).cursor_key, restart=True)  # type: ignore[attr-defined]
        if self._menus_waiting:
            self.call_after_refresh(self._build_menus)  # after the list is back on screen

    def refill(self) -> None:
        """Rebuild the table from the packs, the store's statuses and the filters; keep the cursor's row."""
        from ...store import StoreError

        try:
            self._refill()
        except StoreError as error:
            self.notify(str(error), severity="error", timeout=15)

    def _refill(self) -> None:
        table = self.query_one(QuestionList)
        store = self.app.services.store  # type: ignore[attr-defined]
        shown: list[tuple[str, tuple[str, ...]]] = []
        words = self.query_one("#filter", Input).value.lower().split()
        tag = self._selected("#tag")
        difficulty = self._selected("#difficulty")
        wanted_status = self._selected("#status")
        wanted_pack = self._selected("#pack")
        rows = self._rows()
        summaries = []
        solved = total = 0
        for pack in rows:
            statuses = store.statuses(pack.id)
            progress = store.progress(pack.id, [q.id for q in pack.questions])
            summaries.append(f"{pack.id} {progress.solved}/{progress.total} solved")
            solved, total = solved + progress.solved, total + progress.total
            if wanted_pack and pack.id != wanted_pack:
                continue
            for question in pack.questions:
                status = statuses.get(question.id, "new")
                haystack = " ".join([question.title, question.id, pack.id, question.kind, *question.tags]).lower()
                if any(word not in haystack for word in words):
                    continue
                if tag and tag not in question.tags:
                    continue
                if difficulty and question.difficulty != difficulty:
                    continue
                if wanted_status and status != wanted_status:
                    continue
                minutes = f"{question.minutes:g}"
                cells = (STATUS_MARK[status], question.kind, question.difficulty, minutes, question.title)
                shown.append((f"{pack.id}/{question.id}", cells))
        table.set_rows(shown, keep=table.cursor_key)
        # One line at 80 columns, whatever the number of packs: the chosen pack's progress, or the sum of all.
        if wanted_pack:
            summaries = [s for s in summaries if s.startswith(f"{wanted_pack} ")]
        elif len(rows) > 1:
            summaries = [f"{solved}/{total} solved in {len(rows)} packs"]
        self.query_one(StatusLine).context = " · ".join(summaries) + f" · {table.row_count} shown"

    def _selected(self, selector: str) -> str | None:
        for select in self.query(selector).results(Select):
            return select.value if isinstance(select.value, str) else None
        return None

    @on(Input.Changed, "#filter")
    @on(Select.Changed)
    def _filters_changed(self) -> None:
        if self.app.services.home_rows() is not None:  # type: ignore[attr-defined]
            self.refill()
            # A new filter: its first match, where Enter should lead (the cursor stayed at its old index, so
            # Enter after "residual" opened the last match: a new user's report).
            table = self.query_one(QuestionList)
            if table.row_count:
                table.cursor_row = 0

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(QuestionList).focus()

    @on(QuestionList.Highlighted)
    def _highlighted(self, event: QuestionList.Highlighted) -> None:
        self.app.prebuild_question(event.key)  # type: ignore[attr-defined]

    @on(QuestionList.Selected)
    def _open(self, event: QuestionList.Selected) -> None:
        pack_id, _, question_id = event.key.partition("/")
        self.app.open_question(pack_id, question_id)  # type: ignore[attr-defined]

    def action_continue(self) -> None:
        self.app.continue_last()  # type: ignore[attr-defined]

    def action_next_unsolved(self) -> None:
        key = self.query_one(QuestionList).cursor_key
        current = key.partition("/")[::2] if key else None
        self.app.open_next(*(current or (None, None)), unsolved=True)  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_filter" and isinstance(self.focused, Input):
            return False  # typing in the filter: '/' is a character there
        return True

    def action_focus_filter(self) -> None:
        # At once, not after the next refresh: the keys typed right after '/' belong to the filter (a late focus
        # let 'r' of "resnet" open the review).
        self.set_focus(self.query_one("#filter", Input))

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        for select in self.query(Select):
            select.clear()
        self.query_one(QuestionList).focus()
