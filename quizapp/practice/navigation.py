"""Moving between questions: next, next unsolved, and continue where the learner left off. Plain Python."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..packs import model
from ..store import Store

Key = tuple[str, str]


def question_order(packs: Mapping[str, model.Pack]) -> list[Key]:
    """Every question, in the home list's order: packs as catalogued, questions as written."""
    return [(pack.id, question.id) for pack in packs.values() for question in pack.questions]


def next_question(store: Store, packs: Mapping[str, model.Pack], current: Key | None, unsolved: bool) -> Key | None:
    """The question after `current` in the list (wrapping round), or the next one not yet solved; None if there
    is none (every other question solved)."""
    order = question_order(packs)
    if not order:
        return None
    start = order.index(current) + 1 if current in order else 0
    statuses = {pack_id: store.statuses(pack_id) for pack_id in packs} if unsolved else {}
    for step in range(len(order)):
        key = order[(start + step) % len(order)]
        if key == current:
            continue
        if unsolved and statuses[key[0]].get(key[1]) == "solved":
            continue
        return key
    return None


def last_touched(store: Store, packs: Mapping[str, model.Pack]) -> Key | None:
    """The question the learner worked on last (the newest draft or attempt), if it is still in a pack."""
    best: tuple[datetime, Key] | None = None
    for pack in packs.values():
        for question_id, draft in store.drafts(pack.id).items():
            if best is None or draft.updated_at > best[0]:
                best = (draft.updated_at, (pack.id, question_id))
        for question in pack.questions:
            attempts = store.attempts(pack.id, question.id, limit=1)
            if attempts and (best is None or attempts[0].created_at > best[0]):
                best = (attempts[0].created_at, (pack.id, question.id))
    if best is None:
        return None
    pack_id, question_id = best[1]
    if pack_id in packs and any(q.id == question_id for q in packs[pack_id].questions):
        return best[1]
    return None
