"""Catch up on reactions Slack never delivered: re-read item replies and apply what was missed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.domain.errors import UserError
from bot.domain.model import AuditSource, ItemState
from bot.domain.permissions import Actor
from bot.domain.transitions import Move
from bot.ports import ReactionReader
from bot.services.card_sync import POSTING
from bot.services.context import RequestContext
from bot.services.items import ItemService
from bot.services.reactions import SIGN_OFF, base_emoji
from storage import repo
from storage.db import unit_of_work
from storage.tables import ReactionMark

log = logging.getLogger(__name__)

# Re-reading 18 replies is 18 reactions.get calls (tier 3, ~50/min): once per release per interval will do.
MIN_INTERVAL_SECONDS = 300.0


class Reconciler:
    """Compares each item reply's ✅ reactions with what we recorded, and applies missed ones."""

    def __init__(
        self,
        items: ItemService,
        *,
        engine: Engine,
        reader: ReactionReader,
        sign_off_emoji: Collection[str],
        min_interval: float = MIN_INTERVAL_SECONDS,
    ) -> None:
        self._items = items
        self._engine = engine
        self._reader = reader
        self._emoji = frozenset(sign_off_emoji)
        self._min_interval = min_interval
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile")

    def request(self, release_id: int) -> None:
        """Reconcile this release in the background, unless it was done recently."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(release_id, float("-inf")) < self._min_interval:
                return
            self._last[release_id] = now
        self._pool.submit(self._safely, release_id)

    def close(self) -> None:
        """Finish what is running and stop."""
        self._pool.shutdown(wait=True)

    def _safely(self, release_id: int) -> None:
        try:
            self.reconcile(release_id)
        except Exception:
            log.warning("reconciling reactions of release %s failed", release_id, exc_info=True)

    def reconcile(self, release_id: int) -> int:
        """Apply sign-offs whose reaction_added never reached us; returns how many were applied."""
        with unit_of_work(self._engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            if release is None:
                return 0
            items = [
                i
                for i in repo.items_of(session=session, release_id=release_id)
                if i.thread_ts not in (None, POSTING)
            ]
            seen = _seen_marks(session, [i.id or 0 for i in items])
        applied = 0
        for item in items:
            if ItemState(item.state).is_closed or item.id is None or item.thread_ts is None:
                continue
            for user in self._signers(release.channel_id, item.thread_ts):
                if (item.id, user) in seen:
                    continue  # we saw this person's reaction events; trust what they said
                if self._apply(release.channel_id, item.id, user):
                    applied += 1
                    break
        return applied

    def _signers(self, channel: str, ts: str) -> list[str]:
        users: list[str] = []
        for name, reactors in self._reader.reactions(channel, ts):
            if base_emoji(name) in self._emoji:
                users.extend(u for u in reactors if u not in users)
        return users

    def _apply(self, channel: str, item_id: int, user: str) -> bool:
        ctx = RequestContext(actor=Actor(user), channel_id=channel, source=AuditSource.REACTION)

        def remember(session: Session, iid: int) -> bool:
            # Mark it seen now, so a late reaction_removed with an older timestamp loses.
            now_ts = f"{int(time.time())}.000000"
            return repo.newer_reaction(
                session=session, item_id=iid, user_id=user, kind=SIGN_OFF, present=True, event_ts=now_ts
            )

        try:
            change = self._items.transition_item(
                ctx, item_id, Move.DONE, "reconciled from reactions", guard=remember
            )
        except UserError:
            return False  # not allowed, or needs evidence: the reaction event would have been refused too
        return change.changed


def _seen_marks(session: Session, item_ids: list[int]) -> set[tuple[int, str]]:
    """(item, person) pairs whose sign-off reactions we already received."""
    if not item_ids:
        return set()
    stmt = select(ReactionMark.item_id, ReactionMark.user_id).where(
        ReactionMark.kind == SIGN_OFF,
        ReactionMark.item_id.in_(item_ids),  # type: ignore[attr-defined]
    )
    return {(item_id, user_id) for item_id, user_id in session.exec(stmt)}
