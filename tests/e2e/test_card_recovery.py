"""A card or item reply posted by an attempt that died before saving its ts is found, not posted again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient

from bot.config import load_settings
from bot.domain.model import AuditSource
from bot.domain.permissions import Actor
from bot.sandbox.emulator import SlackEmulator
from bot.services.card_sync import POSTING
from bot.services.context import RequestContext
from bot.services.views import load_release_view
from bot.slack.publisher import SlackCardPublisher
from bot.wiring import Runtime, build
from storage import repo
from storage.db import unit_of_work

pytestmark = pytest.mark.e2e

CHANNEL = "CRELEASES"
LAUNCH = datetime(2027, 3, 11, 13, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database_url: str) -> Iterator[tuple[Runtime, SlackEmulator]]:
    with SlackEmulator() as emulator:
        emulator.start()
        settings = load_settings(
            slack_bot_token=emulator.workspace.bot_token,
            slack_signing_secret="s",
            slack_api_url=emulator.api_url,
            database_url=database_url,
            _env_file=None,
        )
        runtime = build(settings)
        yield runtime, emulator
        runtime.stop()


def test_a_card_and_a_reply_posted_before_a_crash_are_adopted(runtime: tuple[Runtime, SlackEmulator]) -> None:
    rt, emulator = runtime
    ctx = RequestContext(actor=Actor("UMAYA0001"), channel_id=CHANNEL, source=AuditSource.COMMAND)
    view = rt.services.releases.create_at(
        ctx, name="Payments 2.4", launch_at=LAUNCH, tz="UTC", channel_id=CHANNEL, template=None, managers=()
    )
    # An earlier attempt posted the card and item 1's reply, then died before recording either ts.
    publisher = SlackCardPublisher(WebClient(token=emulator.workspace.bot_token, base_url=emulator.api_url))
    with unit_of_work(rt.engine) as session:
        release = repo.get_release(session=session, release_id=view.id)
        full = load_release_view(session=session, release=release)
    card_ts = publisher.post_card(full, LAUNCH)
    publisher.post_item(full, full.items[0], card_ts, LAUNCH)
    with unit_of_work(rt.engine) as session:
        first = repo.items_of(session=session, release_id=view.id)[0]
        repo.record_message_ts(
            session=session, release_id=view.id, card_ts=POSTING, item_ts={first.id: POSTING}
        )

    assert rt.services.card_sync.sync(view.id)

    top = [m for m in emulator.workspace.messages(CHANNEL) if not m.is_reply]
    assert [m.ts for m in top] == [card_ts]
    replies = [m for m in emulator.workspace.thread(CHANNEL, card_ts) if m.ts != card_ts]
    positions = sorted(m.metadata["event_payload"]["position"] for m in replies)
    assert positions == list(range(1, 19))  # item 1 once (adopted), the rest posted now
    with unit_of_work(rt.engine, write=False) as session:
        assert repo.get_release(session=session, release_id=view.id).card_ts == card_ts
        assert POSTING not in {i.thread_ts for i in repo.items_of(session=session, release_id=view.id)}


def test_a_thread_note_posted_before_a_crash_is_not_posted_again(
    runtime: tuple[Runtime, SlackEmulator],
) -> None:
    rt, emulator = runtime
    ctx = RequestContext(actor=Actor("UMAYA0001"), channel_id=CHANNEL, source=AuditSource.COMMAND)
    view = rt.services.releases.create_at(
        ctx, name="Payments 2.4", launch_at=LAUNCH, tz="UTC", channel_id=CHANNEL, template=None, managers=()
    )
    assert rt.services.card_sync.sync(view.id)
    with unit_of_work(rt.engine) as session:
        release = repo.get_release(session=session, release_id=view.id)
        repo.add_card_note(session=session, release_id=view.id, text="<@UANA00001> signed off 5.", now=LAUNCH)
        repo.touch_card(session=session, release_id=view.id, now=LAUNCH)
    with unit_of_work(rt.engine) as session:
        note = repo.pending_card_notes(session=session, release_id=view.id)[0]
        full = load_release_view(session=session, release=release)
        repo.mark_card_note_posted(session=session, note_id=note.id, ts=POSTING)
    publisher = SlackCardPublisher(WebClient(token=emulator.workspace.bot_token, base_url=emulator.api_url))
    posted = publisher.post_thread_note(full, release.card_ts, note.text, first_note=note.id)  # then a crash

    assert rt.services.card_sync.sync(view.id)

    notes = [m for m in emulator.workspace.thread(CHANNEL, release.card_ts) if "signed off 5" in m.text]
    assert [m.ts for m in notes] == [posted]
    with unit_of_work(rt.engine, write=False) as session:
        assert repo.pending_card_notes(session=session, release_id=view.id) == []
