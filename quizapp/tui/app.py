"""The App: screens, bindings, themes and wiring. Nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.notifications import Notify
from textual.timer import Timer
from textual.widget import Widget

from ..services import Services
from ..store import StoreError
from .commands import QuestionCommands, ScreenActions
from .screens.home import HomeScreen

if TYPE_CHECKING:  # the practice package (and the pack models) load after the first frame
    from ..practice import MockConfig, MockSession
    from .screens.question import QuestionScreen

PREPARE_FALLBACK_SECONDS = 1.0  # the preparation starts by then even if the home screen never drew (tests, a mock)
PREPARED_RETRY_SECONDS = 0.3  # work after the preparation waits this long at a time for an opening question
# The judge's workers import torch, CPU-bound on every core: they start just after the first question has been
# drawn, or this long after the preparation ended, whichever comes first, so that neither the preparation nor a
# question opened during it competes with them.
JUDGE_IDLE_SECONDS = 3.0
JUDGE_AFTER_OPEN_SECONDS = 0.5  # and this long after a question is on screen
# The highlighted question's screen is built ahead of time once the cursor has rested on its row this long (and the
# app has prepared, and the list is on screen): an Enter then only shows it.
PREBUILD_IDLE_SECONDS = 0.4
OPEN_BATCH_SECONDS = 1.0  # a question screen is painted by then even if it never said it was ready
# The rules of every screen but the question list, added to the stylesheet after the first frame (load_screen_styles).
SCREEN_STYLES = Path(__file__).with_name("screens.tcss")


class QuizApp(App[None]):
    TITLE = "quizapp"
    SUB_TITLE = "PyTorch interview practice"
    CSS_PATH = "quizapp.tcss"
    COMMANDS = App.COMMANDS | {QuestionCommands, ScreenActions}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        services: Services | None = None,
        extra_packs: list[Path] | None = None,
        mock: MockConfig | None = None,
        review: bool = False,
    ) -> None:
        super().__init__()
        self._packs_listeners: list[Callable[[bool], object]] = []  # prepare's packs_loaded callbacks, still to call
        self._after_prepare: list[Callable[[], object]] = []  # prepare's `then` callbacks, still to call
        self.services = services or Services.default(extra_packs)
        self.start_with_mock = mock
        self.start_with_review = review

    def on_notify(self, event: Notify) -> None:
        """After Textual's own handler has shown the toast: a repaint of the screen once the toast has gone.
        Textual (8.2) removes an expired toast without repainting the cells it covered: a "Solved." toast
        stayed on screen until a resize (a new user's report, reproduced in tmux at 80x24). A handler of the
        Notify message, so it runs on the app's loop whichever thread called notify."""
        self.set_timer(event.notification.timeout + 0.3, self._repaint_after_toast)

    def _repaint_after_toast(self) -> None:
        try:
            self.screen.refresh(repaint=True, layout=True)
        except Exception:  # no screen (quitting): nothing to repaint
            pass

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        # The home screen starts the preparation after its first frame; this starts it if that frame never came.
        self.set_timer(PREPARE_FALLBACK_SECONDS, self.prepare)
        try:
            running = self.services.store.mock_sessions(finished=False, limit=1)  # cheap: no practice import
            if not (running or self.start_with_mock or self.start_with_review):
                return
            from ..practice.mock import active_session

            session = active_session(self.services.store)
        except StoreError as error:
            self.notify(str(error), severity="error", timeout=15)
            return
        if session is not None:  # a mock interview was running when the app stopped: its clock went on
            from .screens.mock import MockOverviewScreen

            self.push_screen(MockOverviewScreen(session))
            # After the overview's first paint: a toast's time counts from the notify, and on a loaded machine
            # the overview could take most of it to appear.
            self.call_after_refresh(self.notify, "Your mock interview is resumed; its clock kept running.", timeout=4)
        elif self.start_with_mock is not None:
            self.start_mock(self.start_with_mock)
        elif self.start_with_review:
            self.action_review()

    _screen_styles_loaded = False

    def load_screen_styles(self) -> None:
        """Add the other screens' rules (screens.tcss) to the stylesheet, once, and parse them: after the first frame
        (the preparation), or before the first screen other than the list is pushed, whichever comes first. Parsing
        them before the first frame was a sixth of its stylesheet work, for screens not yet shown. They come after
        quizapp.tcss, in the same order as when both were one file."""
        if self._screen_styles_loaded:
            return
        self._screen_styles_loaded = True
        self.stylesheet.read(SCREEN_STYLES)
        self.stylesheet.parse()  # only the new source: Textual keeps the others' parsed rules

    def push_screen(self, screen, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        if not isinstance(screen, HomeScreen):
            self.load_screen_styles()
        return super().push_screen(screen, *args, **kwargs)

    _prepare_started = False
    _prepare_done = False  # `_prepared` has run: what comes after the preparation has been called
    _packs_changed: bool | None = None  # what the preparation's load of the packs said (None: not loaded by it yet)
    _opening = 0  # question screens being opened (QuizApp.push_question) and not yet painted

    def prepare(
        self,
        packs_loaded: Callable[[bool], object] | None = None,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Once, right after the first frame (the home screen calls this): in one thread, load the packs, import the
        question screen's modules (`import_question_screen`), have the highlighted row's screen built ahead
        (`prebuild_question`, on the UI thread, while this thread waits), then compile the other kinds'
        highlighting (`warm_up`), so that a question opened from the list waits on nothing but its own screen.

        `packs_loaded(changed)` runs on the UI thread as soon as the packs are in; `then` (the home screen's menus),
        the collection and the freeze come after the whole preparation, and never while a question is opening.
        Callbacks given after the preparation has started (the home screen's first frame came after the fallback
        timer, on a loaded machine) still run: `packs_loaded` at once if the packs are already in, `then` after the
        preparation, or at once if it is over."""
        if packs_loaded is not None:
            if self._packs_changed is not None:
                packs_loaded(self._packs_changed)
            else:
                self._packs_listeners.append(packs_loaded)
        if then is not None:
            if self._prepare_done:
                self.call_later(then)
            else:
                self._after_prepare.append(then)
        if self._prepare_started:
            return
        self._prepare_started = True
        services = self.services

        def prepare_in_thread() -> None:
            try:
                if not services.catalogue_ready():
                    changed = services.load_catalogue()
                    self.call_from_thread(self._packs_in, changed)
                    if changed:  # the list is redrawn (the very first start draws it only now): before the rest
                        self.call_from_thread(self._next_paint)
            finally:
                self._wait_for_openings()
                import_question_screen()
                self.call_from_thread(self._allow_prebuild)
                self._wait_for_openings()  # and for that prebuild
                warm_up()
                self.call_from_thread(self._prepared)

        self.run_worker(prepare_in_thread, thread=True, group="prepare", exit_on_error=False)

    def _packs_in(self, changed: bool) -> None:
        """On the UI thread, once the preparation has loaded the packs: tell whoever asked (the home screen)."""
        self._packs_changed = changed
        listeners, self._packs_listeners = self._packs_listeners, []
        for listener in listeners:
            listener(changed)

    async def _next_paint(self) -> None:
        """Return once the current screen has been refreshed (for a thread that must not compete with that paint)."""
        painted = asyncio.Event()
        self.screen.call_after_refresh(painted.set)
        with contextlib.suppress(TimeoutError):  # a screen that never refreshes holds nothing up for long
            await asyncio.wait_for(painted.wait(), OPEN_BATCH_SECONDS)

    _acting_after_packs = 0  # actions (an Enter on the list) waiting for the packs, or running once they are in

    def _wait_for_openings(self, timeout: float = OPEN_BATCH_SECONDS * 5) -> None:
        """In the preparation's thread: wait while a question asked for before the packs were in is opening. It
        imports what it needs itself; the rest of the warm-up (the other kinds' highlighting, other screens) would
        only take the CPU from it."""
        deadline = time.monotonic() + timeout
        while (self._acting_after_packs or self._opening or self._prebuilding) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _prepared(self) -> None:
        """After the preparation, when no question is opening: what was to come after it (`prepare`'s `then`), then
        collect and move the objects made so
        far (the packs, Textual, the imported modules), which live as long as the app, out of the cyclic garbage
        collector's reach. A full collection walked them all, about a tenth of a second, at moments the learner
        waited for (a collection started while a screen opened). Never while a question is opening: the collection
        holds the interpreter meanwhile."""
        if self._opening:
            self.set_timer(PREPARED_RETRY_SECONDS, self._prepared)
            return
        self.load_screen_styles()
        self._prepare_done = True
        after, self._after_prepare = self._after_prepare, []
        for then in after:
            self.call_later(then)
        self.call_later(self._freeze)
        self.set_timer(JUDGE_IDLE_SECONDS, self.start_judge_in_background)

    def _freeze(self) -> None:
        if self._opening:
            self.set_timer(PREPARED_RETRY_SECONDS, self._freeze)
            return
        gc.collect()
        gc.freeze()

    # --- the highlighted question, built ahead of time ---------------------------------------------------------

    _prebuild_allowed = False  # the packs and the question screen's modules are in (the preparation says so)
    _prebuilding = False
    _highlighted: str | None = None  # "pack/question" under the list's cursor
    _highlighted_at = 0.0  # when the cursor came to it (monotonic)
    _prebuild_timer: Timer | None = None
    _prebuilt: QuestionScreen | None = None  # built (or being built) for _prebuilt_key, not yet shown
    _prebuilt_key: str | None = None
    _prebuilt_state: tuple[object, ...] | None = None

    def prebuild_question(self, key: str | None, *, restart: bool = False) -> None:
        """The list's cursor rests on `key`: once it has rested PREBUILD_IDLE_SECONDS, the app has prepared and the
        list is still on screen, compose, style and lay out that question's screen out of sight, so that Enter only
        shows it (`open_question`). A screen built for another row is dropped."""
        # The cursor rests from now when it moved (or came to the list's first row as the list appeared, which the
        # home screen says at its first frame), or when the list is back on screen (restart).
        if key != self._highlighted or restart:
            self._highlighted_at = time.monotonic()
        self._highlighted = key
        if self._prebuild_timer is not None:
            self._prebuild_timer.stop()
            self._prebuild_timer = None
        if key != self._prebuilt_key:
            self._discard_prebuilt()
        if key is None or not self._prebuild_allowed:
            return  # the preparation asks again (`_allow_prebuild`)
        rested = time.monotonic() - self._highlighted_at
        if rested >= PREBUILD_IDLE_SECONDS:
            self._start_prebuild(key)
        else:
            self._prebuild_timer = self.set_timer(PREBUILD_IDLE_SECONDS - rested, lambda: self._start_prebuild(key))

    def _allow_prebuild(self) -> None:
        """From the preparation, once the packs and the question screen's modules are in: the highlighted row's
        screen can be built (at once if the cursor has rested on it; the preparation waits for it)."""
        self._prebuild_allowed = True
        if self._highlighted is not None:
            self.prebuild_question(self._highlighted)

    def _start_prebuild(self, key: str) -> None:
        self._prebuild_timer = None
        if key != self._highlighted or key == self._prebuilt_key:
            return
        stack = self.screen_stack
        if self._exit or self._opening or self._acting_after_packs or not (stack and isinstance(stack[-1], HomeScreen)):
            return  # quitting, busy, or the list is covered (its return asks again)
        if not self.services.catalogue_ready():
            return
        self._prebuilding = True
        self.run_worker(self._prebuild(key), group="prebuild", exit_on_error=False)

    async def _prebuild(self, key: str) -> None:
        try:
            await self._build_ahead(key)
        finally:
            self._prebuilding = False

    async def _build_ahead(self, key: str) -> None:
        from .screens.question import QuestionScreen

        self.load_screen_styles()
        pack_id, _, question_id = key.partition("/")
        pack = self.services.catalogue.packs.get(pack_id)
        if pack is None:
            return
        try:
            question = pack.question(question_id)
            screen = QuestionScreen(pack, question, store=self.services.store)
            state = self._opening_state(screen)
        except Exception:  # a question that cannot be built ahead is built on Enter, which says why
            return
        self._discard_prebuilt()
        if self._exit:
            return
        self._prebuilt, self._prebuilt_key, self._prebuilt_state = screen, key, state
        _, mounted = self._get_screen(screen)  # registered: composed, mounted and styled, not shown
        await mounted
        # Lay it out at the terminal's size until it settles (a layout resizes widgets, which may ask for another).
        for _ in range(3):
            if self._prebuilt is not screen:
                return  # shown or dropped meanwhile
            await settled([screen, *screen.walk_children()], OPEN_BATCH_SECONDS)
            if self._prebuilt is not screen:
                return
            if screen.outer_size == self.size and not screen._layout_required:
                break
            screen._refresh_layout(self.size)
            screen._layout_required = False

    def _opening_state(self, screen: QuestionScreen) -> tuple[object, ...]:
        """What a screen built ahead must still match when it is shown, besides its pack and question objects
        (`_take_prebuilt` checks those against the packs loaded now): the theme and the sheet's state in the store
        (draft, hints, last result, solved, given up)."""
        return (self.theme, screen.sheet.opening_state())  # type: ignore[union-attr]

    def _take_prebuilt(self, key: str) -> QuestionScreen | None:
        """The screen built ahead for `key` if it is still exactly what opening it now would build, else None (and
        whatever was built is dropped)."""
        screen, state = self._prebuilt, self._prebuilt_state
        if screen is None or key != self._prebuilt_key:
            self._discard_prebuilt()
            return None
        self._prebuilt = self._prebuilt_key = self._prebuilt_state = None
        pack_id, _, question_id = key.partition("/")
        pack = self.services.catalogue.packs.get(pack_id)
        fresh = (
            pack is screen.pack
            and pack.question(question_id) is screen.question
            and screen.is_running
            and self._opening_state(screen) == state
        )
        if not fresh:
            self._drop(screen)
            return None
        return screen

    def _discard_prebuilt(self) -> None:
        screen = self._prebuilt
        self._prebuilt = self._prebuilt_key = self._prebuilt_state = None
        if screen is not None:
            self._drop(screen)

    def _drop(self, screen: QuestionScreen) -> None:
        """Remove a screen built ahead and not shown, once it has mounted: removed while it composes, its children
        would be gone before its on_mount ran."""

        async def remove_when_mounted() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(screen._mounted_event.wait(), OPEN_BATCH_SECONDS * 5)
            if screen.is_attached and screen not in self.screen_stack:
                await screen.remove()

        if screen.is_attached and screen not in self.screen_stack:
            self.run_worker(remove_when_mounted(), group="prebuild-drop", exit_on_error=False)

    def push_question(self, screen: QuestionScreen) -> None:
        """Show a question screen in one layout and one paint.

        Textual lays a new screen out and paints it again each time one of its parts settles (the Markdown blocks,
        the results, the footer, each widget's first refresh, which it reports when it next goes idle): seven or
        more layouts and paints for one question, most of the time it took to open. A batch holds them until the
        screen has been resumed and every one of its widgets has handled what it was sent (`settled`), so it is
        laid out and painted whole; a timer ends the batch in any case. The cyclic garbage collector waits too:
        opening a screen allocates enough to start several collections, each of which walks the objects that
        the packs and Textual keep."""
        batch = self.batch_update()
        batch.__enter__()
        self._opening += 1
        collecting = gc.isenabled()
        gc.disable()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._opening -= 1
            batch.__exit__(None, None, None)
            if collecting:
                gc.enable()
            if screen.is_attached:
                screen.refresh()  # the paint the batch held back
                # The judge's start (torch imports on every core) waits until the question is on screen.
                screen.call_after_refresh(self.set_timer, JUDGE_AFTER_OPEN_SECONDS, self.start_judge_in_background)

        resumed = asyncio.Event()
        screen.when_drawn = resumed.set

        async def release_when_settled() -> None:
            try:
                await asyncio.wait_for(resumed.wait(), OPEN_BATCH_SECONDS)
                for _ in range(2):  # a widget reports its layout when it goes idle: the screen handles those next
                    await settled([screen, *screen.walk_children()], OPEN_BATCH_SECONDS)
            except TimeoutError:
                pass
            finally:
                release()

        self.push_screen(screen)
        self.run_worker(release_when_settled(), group="open-question", exit_on_error=False)

    _judge_requested = False

    def start_judge_in_background(self) -> None:
        """Start the judge's workers, once; returns at once (a Run or Submit before they are warm waits in its own
        worker, never in the UI)."""
        if self._judge_requested:
            return
        self._judge_requested = True
        self.run_worker(self.services.start_judge, thread=True, group="judge-start", exit_on_error=False)

    # --- mock interviews and review ------------------------------------------------------------------

    def action_mock(self) -> None:
        from ..practice.mock import active_session
        from .screens.mock import MockOverviewScreen, MockSetupScreen

        if not self.when_packs_loaded(self.action_mock):
            return
        session = active_session(self.services.store)
        if session is not None:
            self.push_screen(MockOverviewScreen(session))
        else:
            self.push_screen(MockSetupScreen())

    def action_review(self) -> None:
        from .screens.review import ReviewScreen

        if not self.when_packs_loaded(self.action_review):
            return
        self.push_screen(ReviewScreen())

    def start_mock(self, config: MockConfig) -> None:
        from ..practice.mock import MockError, MockSession
        from .screens.mock import MockOverviewScreen

        try:
            session = MockSession.start(self.services.store, config, self.services.catalogue.packs)
        except MockError as error:
            self.notify(str(error), severity="error", timeout=6)
            return
        self.go_home()
        self.push_screen(MockOverviewScreen(session))

    def open_mock_question(self, session: MockSession, index: int) -> None:
        from .screens.question import QuestionScreen

        item = session.questions[index]
        pack = self.services.catalogue.packs[item.pack_id]
        self.push_question(QuestionScreen(pack, pack.question(item.question_id), mock=session, index=index))

    def show_mock_report(self, report_id: str) -> None:
        from .screens.mock import MockReportScreen

        self.go_home()
        self.push_screen(MockReportScreen(report_id))

    def go_home(self) -> None:
        while len(self.screen_stack) > 2:  # the default screen, then home
            self.pop_screen()

    async def action_quit(self) -> None:
        self.save_drafts()
        self.exit()

    def save_drafts(self) -> None:
        """Save every open question's draft while its widgets still exist (on_unmount is too late)."""
        for screen in self.screen_stack:
            save = getattr(screen, "save_draft", None)
            if callable(save):
                save()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def when_packs_loaded(self, action: Callable[..., object], *args: object) -> bool:
        """True when the packs are loaded. Otherwise False, and `action(*args)` is called again once they are (they
        load in a worker after the first frame, which the home index drew): the UI never waits for them."""
        if self.services.catalogue_ready():
            return True

        def act() -> None:
            try:
                action(*args)  # opening a question: counted in _opening from here until it is painted
            finally:
                self._acting_after_packs -= 1

        def gave_up() -> None:
            self._acting_after_packs -= 1

        def wait_then_act() -> None:
            try:
                self.services.catalogue.ensure()  # returns when the preparation has loaded them
            except BaseException:
                self.call_from_thread(gave_up)
                raise
            self.call_from_thread(act)

        self._acting_after_packs += 1
        self.run_worker(wait_then_act, thread=True, group="packs-wait", exit_on_error=False)
        return False

    def open_question(self, pack_id: str, question_id: str, review: bool = False) -> None:
        from .screens.question import QuestionScreen

        if not self.when_packs_loaded(self.open_question, pack_id, question_id, review):
            return
        self.save_drafts()  # a screen opened now reads the latest text from the store
        current = self.screen
        if isinstance(current, QuestionScreen) and (current.pack.id, current.question.id) == (pack_id, question_id):
            return  # already open: keep the editor as it is
        if isinstance(current, QuestionScreen) and current.mock is None and not current.review:
            # Another question from the command palette: in place of this one, as ctrl+n does, so that escape
            # still goes back to the list (it went back to the question the palette was opened on).
            current.save_draft()
            self.pop_screen()
        prebuilt = None if review else self._take_prebuilt(f"{pack_id}/{question_id}")
        if prebuilt is not None:
            self.push_question(prebuilt)
            return
        pack = self.services.catalogue.packs[pack_id]
        question = pack.question(question_id)
        self.push_question(QuestionScreen(pack, question, review=review, store=self.services.store))

    def open_next(self, pack_id: str | None, question_id: str | None, unsolved: bool) -> None:
        """The question after this one in the list (or the next not yet solved), in place of the open one."""
        from ..practice.navigation import next_question

        if not self.when_packs_loaded(self.open_next, pack_id, question_id, unsolved):
            return
        current = (pack_id, question_id) if pack_id and question_id else None
        found = next_question(self.services.store, self.services.catalogue.packs, current, unsolved)  # type: ignore[arg-type]
        if found is None:
            self.notify("Every other question is solved." if unsolved else "No other question.")
            return
        self.open_question(*found)  # in place of the open question (open_question saves its draft, pops it)

    def continue_last(self) -> None:
        from ..practice.navigation import last_touched

        if not self.when_packs_loaded(self.continue_last):
            return
        found = last_touched(self.services.store, self.services.catalogue.packs)
        if found is None:
            self.notify("Nothing to continue yet: open a question with Enter.")
            return
        self.open_question(*found)

    def on_unmount(self) -> None:
        self.services.close(wait=0)  # the judge is asked to stop; quitting does not wait for it
        gc.unfreeze()  # what the warm-up froze can be collected again (an app run inside a longer process: tests)


async def settled(nodes: list[Widget], timeout: float) -> None:
    """Return once each of `nodes` has handled every message it had been sent when this was called (as Textual's
    pilot waits for a screen); TimeoutError after `timeout` seconds."""
    waiting = [node for node in nodes if node.is_running]
    if not waiting:
        return
    left = len(waiting)
    done = asyncio.Event()

    def handled() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.set()

    for node in waiting:
        if not node.call_later(handled):
            handled()
    await asyncio.wait_for(done.wait(), timeout)


def import_question_screen() -> None:
    """After the first frame and the packs (in the preparation's thread): import what opening a question needs."""
    from .screens import question  # noqa: F401


def warm_up() -> None:
    """After the highlighted question's screen is built ahead (in the preparation's thread): import the other
    screens' modules, compile the editor's Python highlighting (tree-sitter) and the prompt's (pygments compiles a
    lexer's rules on its first use: a predict question's snippet paid it), so that any question opens as fast as
    the one built ahead."""
    from .screens import history, question  # noqa: F401
    from .screens.help import HelpScreen  # noqa: F401
    from .widgets.editor import PythonEditor
    from .widgets.prompt import CodeFence

    PythonEditor.highlight_query("python")
    CodeFence.highlight("x = 1", "python")


def run(extra_packs: list[Path] | None = None, mock: MockConfig | None = None, review: bool = False) -> None:
    """Start the app. A progress database that cannot be used is reported in one message, never a traceback.

    Quitting returns the terminal at once: when the app has stopped, every draft is saved and the store closed
    (see `QuizApp.action_quit` and `on_unmount`), so the process ends there instead of waiting for background
    threads whose work nobody will see (the packs still loading, the judge's workers still importing torch, a
    grade in flight). The judge's workers notice their closed pipe and stop on their own, cleaning up."""
    import os
    import sys

    try:
        services = Services.default(extra_packs, lazy=True)
    except StoreError as error:
        print(f"quizapp: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app = QuizApp(services=services, mock=mock, review=review)
    # Our own loop, run to the app's end only: asyncio.run() would then wait for every thread worker to finish.
    app.run(loop=asyncio.new_event_loop())
    services.close(wait=0)  # already done when the app unmounted; harmless twice, and sure
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)
