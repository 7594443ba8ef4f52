"""Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer recomposes (every key a new widget, each restyled) after every change of the screen's bindings:
each focus change, each `refresh_bindings`. Opening a question sent about twenty such signals, and rebuilding
the footer that often was the largest single cost of opening it. Here a signal schedules at most one rebuild
per refresh, and the rebuild happens only when the keys on offer (key, label, enabled) differ from those shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import NoScreen
from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class KeysFooter(Footer):
    def __init__(self, at_once: bool = False) -> None:
        """`at_once`: the keys are composed with the footer, from the screen's bindings as they are then (its
        screen must be able to say which work before it is mounted), instead of after the first refresh: the
        screen's first layout then has them. Textual's Footer waits, which costs a second layout and paint."""
        super().__init__(compact=True)
        self._shown: tuple[tuple[str, str, bool], ...] | None = None
        self._pending = False
        if at_once:
            self.set_reactive(Footer._bindings_ready, True)

    def compose(self):  # type: ignore[no-untyped-def]
        if self._bindings_ready:
            self._shown = self._offered()
        for key in super().compose():
            # Compact from the start: Footer binds each key's `compact` to its own, whose watcher then adds the class
            # after the key was styled, and every key is styled again.
            key.set_class(self.compact, "-compact", update=False)
            yield key

    def _offered(self) -> tuple[tuple[str, str, bool], ...]:
        bindings = self.screen.active_bindings
        palette = bindings.get(self.app.COMMAND_PALETTE_BINDING)
        shown = [(key, b.description, enabled) for key, (_, b, enabled, _) in bindings.items() if b.show]
        if palette is not None:
            shown.append((self.app.COMMAND_PALETTE_BINDING, "palette", palette[2]))
        return tuple(shown)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._pending:
            return
        if self.is_attached and screen is self.screen:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        try:
            offered = self._offered()
        except NoScreen:  # its screen closed meanwhile
            return
        if offered != self._shown:
            self._shown = offered
            await self.recompose()
