"""Publishing the release card and its item replies: claimed, idempotent, and resumable after a crash."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from bot.ports import CardPublisher, Clock
from bot.services.views import release_view
from storage import repo
from storage.db import unit_of_work
from storage.tables import CardNote

log = logging.getLogger(__name__)

# Long enough for a card and 18 replies at Slack's pace; a crashed syncer's lease expires after it.
LEASE = timedelta(seconds=60)
# Stored as a ts while a post is in flight; found after a crash, it means "look before posting again".
POSTING = repo.POSTING
# After a failed publish, wait this long before the next attempt (the lease is simply kept).
RETRY_AFTER = timedelta(seconds=15)


class CardSync:
    """Brings a release's Slack messages up to date with the database."""

    def __init__(self, *, engine: Engine, publisher: CardPublisher, clock: Clock) -> None:
        self._engine = engine
        self._publisher = publisher
        self._clock = clock
        # App Home hook: told the release id after every successful publish (set by bot.wiring).
        self.on_published: Callable[[int], None] | None = None

    def pending(self) -> list[int]:
        """Releases with unpublished changes that no syncer holds."""
        with unit_of_work(self._engine, write=False) as session:
            return repo.releases_needing_card_sync(session=session, now=self._clock.now())

    def sync(self, release_id: int) -> bool:
        """Publish what changed; False when another syncer holds the release or Slack failed."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            if not repo.claim_card(session=session, release_id=release_id, now=now, lease=LEASE):
                return False
        progress = _Progress()
        try:
            self._publish(release_id, progress)
        except Exception:
            log.exception("publishing the card of release %s failed; will retry", release_id)
            self._record(release_id, progress, failed=True)
            return False
        self._record(release_id, progress, failed=False)
        if self.on_published is not None:  # App Home hook: the release changed, refresh whom it concerns
            self.on_published(release_id)
        return True

    def _publish(self, release_id: int, progress: _Progress) -> None:
        now = self._clock.now()
        with unit_of_work(self._engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            if release is None:
                return
            items = repo.items_of(session=session, release_id=release_id)
            owners = repo.owners_of(session=session, release_id=release_id)
            managers = repo.roles_of(session=session, release_id=release_id)
            notes = repo.pending_card_notes(session=session, release_id=release_id)
            signoffs = repo.signoffs_by_item(session=session, release_id=release_id)
        view = release_view(release, items, owners, managers, signoffs)
        progress.card_version = release.card_version
        progress.card_ts = release.card_ts
        if release.card_ts in (None, POSTING):
            # POSTING means an earlier attempt may have posted the card and died before saving its ts.
            found = self._publisher.find_card(view) if release.card_ts == POSTING else None
            if found is None:
                self._remember(release_id, card_ts=POSTING)
                progress.card_ts = POSTING  # if the post fails, the marker must survive the final record
                found = self._publisher.post_card(view, now)
            progress.card_ts = found
            self._remember(release_id, card_ts=progress.card_ts)
        elif release.card_version > release.card_synced_version:
            self._publisher.update_card(view, release.card_ts, now)
        by_position = {i.position: i for i in view.items}
        for row in items:
            if row.version <= row.synced_version and row.thread_ts is not None:
                continue
            item = by_position[row.position]
            if row.thread_ts in (None, POSTING):
                found = self._publisher.find_item(view, item, progress.card_ts) if row.thread_ts else None
                if found is None:
                    self._remember(release_id, item_ts={row.id or 0: POSTING})
                    found = self._publisher.post_item(view, item, progress.card_ts, now)
                ts = found
                self._remember(release_id, item_ts={row.id or 0: ts})
            else:
                self._publisher.update_item(view, item, row.thread_ts, now)
                ts = row.thread_ts
            progress.items[row.id or 0] = (row.version, ts)
        # Changes that land together become one thread message, so the channel is told without a flood.
        fresh = [n for n in notes if n.posted_ts is None]
        in_flight = [n for n in notes if n.posted_ts == POSTING]
        if in_flight:
            # A batch was being posted when an attempt died: adopt it if it reached Slack, else post it again.
            found = self._publisher.find_note(view, progress.card_ts, in_flight[0].id or 0)
            if found is None:
                fresh = in_flight + fresh
            else:
                self._mark_notes(in_flight, found)
        for batch in _batches(fresh):
            self._mark_notes(batch, POSTING)
            text = "\n".join(n.text for n in batch)
            ts = self._publisher.post_thread_note(view, progress.card_ts, text, first_note=batch[0].id or 0)
            self._mark_notes(batch, ts)
        progress.complete = True

    def _mark_notes(self, notes: list[CardNote], ts: str) -> None:
        with unit_of_work(self._engine) as session:
            for note in notes:
                repo.mark_card_note_posted(session=session, note_id=note.id or 0, ts=ts)

    def _remember(
        self, release_id: int, *, card_ts: str | None = None, item_ts: dict[int, str] | None = None
    ) -> None:
        """Save a new message's ts at once: a crash must not re-post it, and reactions on it must find it."""
        with unit_of_work(self._engine) as session:
            repo.record_message_ts(
                session=session, release_id=release_id, card_ts=card_ts, item_ts=item_ts or {}
            )

    def _record(self, release_id: int, progress: _Progress, *, failed: bool) -> None:
        """Save what reached Slack, even after a failure, so nothing is posted twice.

        Items first, then the release (which frees the lease), in two transactions: a lock order that cannot
        deadlock with a sign-off or an assignment (storage/repo.py, `record_items_synced`). Dying in
        between leaves the lease to expire and the card to be published again, which edits in place.
        """
        if progress.items:
            with unit_of_work(self._engine) as session:
                repo.record_items_synced(session=session, item_versions=progress.items)
        with unit_of_work(self._engine) as session:
            version = progress.card_version if progress.complete else None
            repo.finish_card_sync(
                session=session,
                release_id=release_id,
                card_ts=progress.card_ts,
                card_version=version,
                lease_until=self._clock.now() + RETRY_AFTER if failed else None,
            )


class _Progress:
    """What one publishing pass got into Slack so far."""

    def __init__(self) -> None:
        self.card_ts: str | None = None
        self.card_version = 0
        self.items: dict[int, tuple[int, str]] = {}
        self.complete = False


# Well under Slack's 40,000-character text limit, and short enough to read.
_NOTE_BATCH_CHARS = 3500


def _batches(notes: list[CardNote]) -> list[list[CardNote]]:
    """Group pending notes, in order, into messages of bounded size."""
    batches: list[list[CardNote]] = []
    size = 0
    for note in notes:
        if not batches or size + len(note.text) > _NOTE_BATCH_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(note)
        size += len(note.text) + 1
    return batches
