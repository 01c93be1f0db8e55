"""Recording a card publish takes its locks in an order that cannot deadlock with a change to an item.

A sign-off or an assignment updates the item row, then the release row (`touch_card`). The syncer used to
record a publish by updating the release, then the item rows, in one transaction: with the two interleaved,
PostgreSQL found a deadlock and killed one of them, sometimes the person's request (seen in CI as "unexpected
error" on an assign). The release's own serve processes (request and sign-off) and replicas all sync cards,
so this is not rare.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.domain.permissions import Actor
from bot.domain.when import parse_when
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import TEAM_ID
from bot.services.card_sync import _Progress
from bot.services.context import RequestContext
from storage import repo
from storage.db import unit_of_work
from storage.tables import ChecklistItem
from tests.runtimes import make_runtime

pytestmark = pytest.mark.postgres


def test_a_publish_recorded_while_an_item_changes_waits_instead_of_deadlocking(
    emulator: SlackEmulator, postgres_url: str
) -> None:
    rt = make_runtime(emulator, postgres_url)
    try:
        ctx = RequestContext(actor=Actor("UMAYA0001", TEAM_ID), channel_id="CRELEASES")
        release_id = rt.services.releases.create(
            ctx, name="Payments 2.4", when=parse_when("+14d"), channel_id=None, template=None
        ).id
        with unit_of_work(rt.engine, write=False) as session:
            items = repo.items_of(session=session, release_id=release_id)
        progress = _Progress()
        progress.card_ts, progress.card_version, progress.complete = "1700000000.000100", 1, True
        progress.items = {item.id or 0: (1, f"1700000000.{item.id:06d}") for item in items}
        failures: list[BaseException] = []

        def record() -> None:
            try:
                rt.services.card_sync._record(release_id, progress, failed=False)
            except BaseException as exc:  # whatever went wrong, the test reports it
                failures.append(exc)

        syncer = threading.Thread(target=record)
        # An item change in flight: the item is locked, the release not yet.
        with unit_of_work(rt.engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(ChecklistItem).where(col(ChecklistItem.id) == items[3].id).values(version=5)
            )
            session.flush()
            syncer.start()
            syncer.join(timeout=1.5)  # time to reach the locked item (and to hold the rest)
            assert syncer.is_alive(), "the syncer should be waiting for the locked item"
            # With the old order the syncer held the release here, and this would deadlock.
            repo.touch_card(session=session, release_id=release_id, now=rt.services.clock.now())
        syncer.join(timeout=10)
        assert not syncer.is_alive() and not failures, failures
        with unit_of_work(rt.engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            synced = {i.id: i.synced_version for i in repo.items_of(session=session, release_id=release_id)}
        assert release is not None and release.card_synced_version == 1 and release.card_lease_until is None
        assert set(synced.values()) == {1}
    finally:
        rt.stop()
