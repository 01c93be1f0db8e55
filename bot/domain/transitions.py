"""The item state machine: which command moves an item from which state to which."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.domain.errors import Conflict
from bot.domain.model import ItemState
from bot.domain.permissions import Action

_S = ItemState


class Move(enum.StrEnum):
    START = "start"
    DONE = "done"
    UNDO = "undo"
    NOT_APPLICABLE = "na"
    BLOCK = "block"
    WAIVE = "waive"


@dataclass(frozen=True, slots=True)
class Rule:
    """Where a move may start from, where it ends, and the permission it needs."""

    sources: frozenset[ItemState]
    target: ItemState
    action: Action


RULES: dict[Move, Rule] = {
    Move.START: Rule(frozenset({_S.OPEN, _S.BLOCKED}), _S.IN_PROGRESS, Action.START),
    Move.DONE: Rule(frozenset({_S.OPEN, _S.IN_PROGRESS, _S.BLOCKED}), _S.DONE, Action.SIGN_OFF),
    Move.UNDO: Rule(
        frozenset({_S.IN_PROGRESS, _S.DONE, _S.BLOCKED, _S.WAIVED, _S.NOT_APPLICABLE}), _S.OPEN, Action.REOPEN
    ),
    Move.NOT_APPLICABLE: Rule(
        frozenset({_S.OPEN, _S.IN_PROGRESS, _S.BLOCKED}), _S.NOT_APPLICABLE, Action.NOT_APPLICABLE
    ),
    Move.BLOCK: Rule(frozenset({_S.OPEN, _S.IN_PROGRESS}), _S.BLOCKED, Action.BLOCK),
    Move.WAIVE: Rule(frozenset({_S.OPEN, _S.IN_PROGRESS, _S.BLOCKED}), _S.WAIVED, Action.WAIVE),
}

STATE_WORDS = {
    _S.OPEN: "open",
    _S.IN_PROGRESS: "in progress",
    _S.DONE: "done",
    _S.BLOCKED: "blocked",
    _S.WAIVED: "waived",
    _S.NOT_APPLICABLE: "not applicable",
}


def next_state(move: Move, current: ItemState, *, title: str) -> ItemState | None:
    """The state after the move; None when the item is already there (a no-op)."""
    rule = RULES[move]
    if current == rule.target:
        return None
    if current not in rule.sources:
        raise Conflict(
            f"{title} is {STATE_WORDS[current]}, so it can't be marked {STATE_WORDS[rule.target]}."
            + (" Use `undo` to reopen it first." if current.is_closed else "")
        )
    return rule.target
