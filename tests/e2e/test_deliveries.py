"""Scheduled sends through the real engine and the emulator over HTTP: each once, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.model import AuditSource, Owner, OwnerKind
from bot.domain.permissions import Actor
from bot.domain.transitions import Move
from bot.sandbox.emulator import SlackEmulator
from bot.services.context import RequestContext
from bot.slack.messenger import DELIVERY_EVENT
from bot.wiring import Runtime
from storage import delivery_repo
from storage.db import unit_of_work
from tests.runtimes import MovableClock, make_runtime

pytestmark = pytest.mark.e2e

MAYA, ANA = "UMAYA0001", "UANA00001"
CHANNEL = "CRELEASES"
# A Monday, far enough ahead that the release is in the future whenever the suite runs... until 2027.
T0 = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
LAUNCH = datetime(2027, 3, 11, 13, 0, tzinfo=UTC)  # Thursday 14:00 in Berlin
DEPENDENCY_CHECK, CONFIGURATION = 8, 9  # both due two days before launch, no evidence needed


@pytest.fixture
def runtime(emulator: SlackEmulator, database_url: str) -> Iterator[Runtime]:
    runtime = make_runtime(emulator, database_url, clock=MovableClock(T0))
    yield runtime
    runtime.stop()


def _ctx(user: str = MAYA) -> RequestContext:
    return RequestContext(actor=Actor(user, "T0RELCAPT"), channel_id=CHANNEL, source=AuditSource.COMMAND)


def _release(runtime: Runtime, channel: str = CHANNEL) -> int:
    releases = runtime.services.releases
    view = releases.create_at(
        _ctx(),
        name="Payments 2.4",
        launch_at=LAUNCH,
        tz="Europe/Berlin",
        channel_id=channel,
        template=None,
        managers=(),
    )
    for position in (DEPENDENCY_CHECK, CONFIGURATION):
        runtime.services.items.assign(_ctx(), None, str(position), [Owner(OwnerKind.USER, ANA)])
    return view.id


def _dms(emulator: SlackEmulator, user: str) -> list:
    channel = emulator.workspace.open_dm(user)
    return [m for m in emulator.workspace.messages(channel) if m.user == "UBOT00001"]


def _deliveries(emulator: SlackEmulator) -> Counter[int]:
    """How many times each delivery id reached Slack, from the metadata on every bot message."""
    seen: Counter[int] = Counter()
    for channel in emulator.workspace.channels:
        for message in emulator.workspace.messages(channel):
            meta = message.metadata or {}
            if meta.get("event_type") == DELIVERY_EVENT:
                seen[meta["event_payload"]["delivery"]] += 1
    return seen


def _tick_hourly(runtime: Runtime, start: datetime, end: datetime, on_hour=None) -> None:
    at = start
    while at <= end:
        runtime.services.deliveries.run_due(at)
        if on_hour:
            on_hour(at)
        at += timedelta(hours=1)


def test_a_release_life_sends_each_reminder_and_summary_once(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)

    def sign_off_item_8(at: datetime) -> None:
        if at == datetime(2027, 3, 9, 15, 0, tzinfo=UTC):
            runtime.services.items.transition(_ctx(ANA), None, str(DEPENDENCY_CHECK), Move.DONE)

    _tick_hourly(
        runtime, datetime(2027, 3, 8, 0, 0, tzinfo=UTC), LAUNCH - timedelta(hours=1), sign_off_item_8
    )

    dms = [m.text for m in _dms(emulator, ANA)]
    # Heads-up Monday 09:00, due Tuesday 13:00, overdue Wednesday and Thursday 09:00 (Lisbon = UTC in March).
    assert len(dms) == 4, dms
    assert all("2 release items" in text for text in dms[:2]), dms
    assert all("1 release item" in text for text in dms[2:]), dms  # item 8 was signed off on Tuesday
    channel_posts = [
        m.text
        for m in emulator.workspace.messages(CHANNEL)
        if m.metadata and m.metadata.get("event_type") == DELIVERY_EVENT
    ]
    assert len(channel_posts) == 2 and "Readiness" in channel_posts[0] and "Final call" in channel_posts[1]
    assert set(_deliveries(emulator).values()) == {1}

    # The same instant again sends nothing new.
    before = sum(_deliveries(emulator).values())
    report = runtime.services.deliveries.run_due(LAUNCH - timedelta(hours=1))
    assert report.sent == 0 and sum(_deliveries(emulator).values()) == before


def test_a_429_is_waited_out_before_calling_that_channel_again(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)
    runtime.services.deliveries.run_due(datetime(2027, 3, 8, 8, 0, tzinfo=UTC))
    emulator.inject("chat.postMessage", "ratelimited", count=1, retry_after=2)
    runtime.services.deliveries.run_due(datetime(2027, 3, 8, 9, 0, tzinfo=UTC))
    posts = emulator.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 2.0
    assert len(_dms(emulator, ANA)) == 1


def test_slack_unreachable_then_back_sends_the_backlog_once(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)
    deliveries = runtime.services.deliveries
    deliveries.run_due(datetime(2027, 3, 8, 8, 0, tzinfo=UTC))
    emulator.pause()
    report = deliveries.run_due(datetime(2027, 3, 8, 9, 0, tzinfo=UTC))
    assert report.retrying == 1 and report.sent == 0
    emulator.resume()
    report = deliveries.run_due(datetime(2027, 3, 8, 9, 5, tzinfo=UTC))  # after the first backoff
    assert report.sent == 1
    assert len(_dms(emulator, ANA)) == 1
    assert emulator.calls_to("conversations.history"), "a retry after an unknown outcome looks first"


def test_an_internal_error_that_did_post_is_found_not_resent(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)
    deliveries = runtime.services.deliveries
    deliveries.run_due(datetime(2027, 3, 8, 8, 0, tzinfo=UTC))
    emulator.inject("chat.postMessage", "internal_error", count=1)  # posts, then answers with an error
    assert deliveries.run_due(datetime(2027, 3, 8, 9, 0, tzinfo=UTC)).retrying == 1
    report = deliveries.run_due(datetime(2027, 3, 8, 9, 5, tzinfo=UTC))
    assert report.sent == 1
    assert len(_dms(emulator, ANA)) == 1
    assert set(_deliveries(emulator).values()) == {1}


def test_a_channel_the_bot_left_kills_the_row_and_tells_the_managers(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)
    emulator.workspace.channels[CHANNEL].members.discard("UBOT00001")
    runtime.services.deliveries.run_due(LAUNCH - timedelta(hours=25))
    runtime.services.deliveries.run_due(LAUNCH - timedelta(hours=24))
    with unit_of_work(runtime.engine, write=False) as session:
        dead = delivery_repo.by_state(session=session, states=[delivery_repo.DEAD])
    assert [(d.kind, d.reason) for d in dead] == [("summary", "not_in_channel")]
    runtime.services.deliveries.run_due(LAUNCH - timedelta(hours=24) + timedelta(minutes=1))
    # (Maya also hears about the announcements waiting for her approval; this is about the summary.)
    told = [m.text for m in _dms(emulator, MAYA) if "announcement" not in m.text]
    assert len(told) == 1 and "/invite" in told[0]


def test_down_across_due_times_yields_one_missed_notice(runtime: Runtime, emulator: SlackEmulator) -> None:
    _release(runtime)
    deliveries = runtime.services.deliveries
    deliveries.run_due(datetime(2027, 3, 8, 6, 0, tzinfo=UTC))
    # Down from Monday 06:00 to Wednesday 15:00: Monday's heads-up and Tuesday's due reminder are stale now.
    report = deliveries.run_due(datetime(2027, 3, 10, 15, 0, tzinfo=UTC))
    assert report.missed >= 2
    deliveries.run_due(datetime(2027, 3, 10, 15, 1, tzinfo=UTC))
    notices = [m.text for m in emulator.workspace.messages(CHANNEL) if "I was offline" in m.text]
    assert len(notices) == 1, notices
    assert "reminder" in notices[0]


def test_the_ticker_runs_passes_on_its_own(runtime: Runtime) -> None:
    calls: list[float] = []
    from bot.scheduler import Ticker

    ticker = Ticker(lambda: calls.append(time.monotonic()), seconds=0.2)
    ticker.start()
    time.sleep(1.1)
    ticker.stop()
    assert 3 <= len(calls) <= 7


def test_a_release_can_have_its_own_summary_times(runtime: Runtime, emulator: SlackEmulator) -> None:
    from bot.domain.errors import InvalidInput, PermissionDenied

    _release(runtime)
    releases = runtime.services.releases
    assert releases.configure(_ctx(), None, "summary", "72h, 2h") == "3d,2h"
    assert releases.configure(_ctx(), None, "final-call", "off") == "off"
    with pytest.raises(InvalidInput):
        releases.configure(_ctx(), None, "summary", "soon")
    with pytest.raises(PermissionDenied):
        releases.configure(_ctx(ANA), None, "summary", "1h")
    deliveries = runtime.services.deliveries
    deliveries.run_due(LAUNCH - timedelta(days=4))
    for hours_before in (72, 24, 2, 1):
        deliveries.run_due(LAUNCH - timedelta(hours=hours_before) + timedelta(minutes=1))
    posts = [
        m.text
        for m in emulator.workspace.messages(CHANNEL)
        if m.metadata and m.metadata.get("event_type") == DELIVERY_EVENT
    ]
    assert len([p for p in posts if "Readiness" in p]) == 2, posts  # 72h and 2h only
    assert not [p for p in posts if "Final call" in p], posts


def test_a_release_with_its_own_ladder_still_makes_one_digest_per_slot(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    first = _release(runtime)
    releases = runtime.services.releases
    second = releases.create_at(
        _ctx(),
        name="Mobile 7.1",
        launch_at=LAUNCH,
        tz="Europe/Berlin",
        channel_id=CHANNEL,
        template=None,
        managers=(),
    )
    runtime.services.items.assign(_ctx(), "Mobile 7.1", str(DEPENDENCY_CHECK), [Owner(OwnerKind.USER, ANA)])
    assert releases.configure(_ctx(), "Mobile 7.1", "overdue", "once") == "once"
    assert releases.configure(_ctx(), "Payments 2.4", "heads-up", "0") == "0 working days"
    assert first != second.id
    _tick_hourly(runtime, datetime(2027, 3, 8, 0, 0, tzinfo=UTC), LAUNCH - timedelta(hours=1))
    dms = [m.text for m in _dms(emulator, ANA)]
    # Monday: only Mobile's heads-up (Payments has none). Tuesday: one digest with all three items due.
    # Wednesday: overdue for all three (Mobile's first and only). Thursday: Payments' two only.
    assert ["1 release item" in dms[0], "3 release items" in dms[1], "3 release items" in dms[2]] == [
        True
    ] * 3, dms
    assert "2 release items" in dms[3] and len(dms) == 4, dms


def test_an_outage_across_several_sends_then_recovery_sends_the_backlog_in_due_order_once(
    runtime: Runtime, emulator: SlackEmulator
) -> None:
    _release(runtime)
    deliveries = runtime.services.deliveries
    deliveries.run_due(datetime(2027, 3, 8, 8, 0, tzinfo=UTC))
    emulator.pause()
    # Slack unreachable from Monday's heads-up through Tuesday's due reminder: every attempt fails.
    for at in (datetime(2027, 3, 8, 9, 0, tzinfo=UTC), datetime(2027, 3, 9, 13, 0, tzinfo=UTC)):
        assert deliveries.run_due(at).sent == 0
    emulator.resume()
    report = deliveries.run_due(datetime(2027, 3, 9, 13, 5, tzinfo=UTC))
    assert report.sent >= 2, report  # Ana's heads-up and due digests (and any escalation to Maya)
    with unit_of_work(runtime.engine, write=False) as session:
        sent = sorted(
            delivery_repo.by_state(session=session, states=[delivery_repo.SENT]), key=lambda d: d.slot
        )
    posted = [c.args["metadata"] for c in emulator.calls_to("chat.postMessage") if c.ok]
    order = [m["event_payload"]["delivery"] if isinstance(m, dict) else None for m in posted]
    assert order == [d.id for d in sent]  # oldest slot first
    assert set(_deliveries(emulator).values()) == {1}
