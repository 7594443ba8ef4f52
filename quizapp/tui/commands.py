"""The command palette: every question by name, and the current screen's actions."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class QuestionCommands(Provider):
    def _entries(self) -> list[tuple[str, str, str, str]]:
        services = self.app.services  # type: ignore[attr-defined]
        entries = []
        for pack in services.catalogue.packs.values():
            for question in pack.questions:
                label = f"Open: {question.title}"
                help_text = f"{pack.id}/{question.id} · {question.kind} · {question.difficulty}"
                entries.append((label, help_text, pack.id, question.id))
        return entries

    async def discover(self) -> Hits:
        for label, help_text, pack_id, question_id in self._entries()[:12]:
            yield DiscoveryHit(label, partial(self.app.open_question, pack_id, question_id), help=help_text)  # type: ignore[attr-defined]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, help_text, pack_id, question_id in self._entries():
            score = max(matcher.match(label), matcher.match(help_text))
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(self.app.open_question, pack_id, question_id),  # type: ignore[attr-defined]
                    help=help_text,
                )


class ScreenActions(Provider):
    """The current screen's own actions (Run, Submit, Hint, ...), by the names the footer shows."""

    def _actions(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        found = []
        for binding in getattr(screen, "BINDINGS", []):
            key, action, description = binding.key, binding.action, binding.description  # type: ignore[union-attr]
            if description:
                found.append((description, key, action))
        return found

    async def discover(self) -> Hits:
        for description, key, action in self._actions():
            yield DiscoveryHit(description, partial(self.screen.run_action, action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, key, action in self._actions():
            score = matcher.match(description)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(description), partial(self.screen.run_action, action), help=f"key: {key}"
                )
