"""Emoji reactions on an item's thread reply: ✅ signs off, removing it reopens, ⛔ blocks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from sqlalchemy import Engine
from sqlmodel import Session

from bot.domain.model import ItemState, ReleaseState
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import Move
from bot.services.context import RequestContext
from bot.services.items import EvidenceNeeded, ItemService
from bot.services.results import FollowUp, Ignored, ItemChange
from storage import repo
from storage.db import unit_of_work

SIGN_OFF = "sign_off"
BLOCK = "block"
DEFAULT_SIGN_OFF_EMOJI = ("white_check_mark", "heavy_check_mark", "ballot_box_with_check")
DEFAULT_BLOCK_EMOJI = ("no_entry", "no_entry_sign")


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    """The parts of a reaction_added / reaction_removed event that matter here."""

    channel_id: str
    message_ts: str
    reaction: str
    added: bool
    event_ts: str


def base_emoji(name: str) -> str:
    """The emoji without its skin tone: `white_check_mark::skin-tone-3` → `white_check_mark`."""
    return name.split("::", 1)[0]


class ReactionService:
    """Turns reactions into sign-offs and blocks, with the same rules as commands."""

    def __init__(
        self,
        items: ItemService,
        *,
        engine: Engine,
        sign_off_emoji: Collection[str] = DEFAULT_SIGN_OFF_EMOJI,
        block_emoji: Collection[str] = DEFAULT_BLOCK_EMOJI,
    ) -> None:
        self._items = items
        self._engine = engine
        self._kinds = {**{e: BLOCK for e in block_emoji}, **{e: SIGN_OFF for e in sign_off_emoji}}

    def react(self, ctx: RequestContext, event: ReactionEvent) -> ItemChange | Ignored:
        """Apply a reaction if it is one of ours, on an item's reply, by someone who may."""
        kind = self._kinds.get(base_emoji(event.reaction))
        if kind is None:
            return Ignored()
        with unit_of_work(self._engine, write=False) as session:
            found = repo.item_by_message(session=session, channel_id=event.channel_id, ts=event.message_ts)
        if found is None:
            return Ignored()
        release, item = found
        assert item.id is not None
        if not ReleaseState(release.state).is_active:
            state = release.state.replace("_", " ")
            return Ignored(
                notice=f"{escape_mrkdwn(release.name)} is {state}, so reactions no longer change it."
            )

        def newest(session: Session, item_id: int) -> bool:
            # Slack may deliver a removal before the addition it undoes; the later event_ts wins.
            return repo.newer_reaction(
                session=session,
                item_id=item_id,
                user_id=ctx.user_id,
                kind=kind,
                present=event.added,
                event_ts=event.event_ts,
            )

        move = _move_for(kind, event.added, ItemState(item.state))
        if move is None:
            # Nothing to change now, but remember the event so an older one arriving later loses.
            with unit_of_work(self._engine) as session:
                newest(session, item.id)
            return Ignored()

        try:
            change = self._items.transition_item(ctx, item.id, move, guard=newest)
        except EvidenceNeeded:
            target = self._items.describe_item(item.id)
            state = ItemState(item.state)
            return ItemChange(
                target.view,
                item.id,
                item.position,
                item.title,
                state,
                state,
                False,
                follow_up=FollowUp.EVIDENCE,
            )
        if move is Move.BLOCK and change.changed:
            return replace(change, follow_up=FollowUp.BLOCK_REASON)
        return change


def _move_for(kind: str, added: bool, state: ItemState) -> Move | None:
    """What a reaction means for an item in this state; None when it means nothing."""
    if kind == SIGN_OFF:
        if added:
            return Move.DONE
        return Move.UNDO if state is ItemState.DONE else None
    if added:
        return Move.BLOCK
    return Move.UNDO if state is ItemState.BLOCKED else None
