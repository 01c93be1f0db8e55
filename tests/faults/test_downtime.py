"""The whole bot down across due times: a send whose useful window outlasts the outage goes out late, once;
one whose window closed is recorded as expired, never posted, and the channel hears once what was missed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.domain.model import AuditSource, Owner, OwnerKind
from bot.domain.permissions import Actor
from bot.sandbox.emulator import SlackEmulator
from bot.services.context import RequestContext
from bot.wiring import Runtime
from tests.faults.helpers import deliveries, posted, scheduler_audit
from tests.faults.ledger import check_deliveries, fault
from tests.runtimes import MovableClock, make_runtime

pytestmark = pytest.mark.e2e

MAYA, ANA = "UMAYA0001", "UANA00001"
CHANNEL = "CRELEASES"
LAUNCH = datetime(2027, 3, 11, 13, 0, tzinfo=UTC)  # a Thursday
DEPENDENCY_CHECK, CONFIGURATION = 8, 9  # due Tuesday 13:00 UTC, two days before launch
MONDAY_6, MONDAY_11 = datetime(2027, 3, 8, 6, 0, tzinfo=UTC), datetime(2027, 3, 8, 11, 0, tzinfo=UTC)
WEDNESDAY_15 = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def runtime(emulator: SlackEmulator, database_url: str) -> Iterator[Runtime]:
    runtime = make_runtime(emulator, database_url, clock=MovableClock(MONDAY_6))
    yield runtime
    runtime.stop()


def _release(runtime: Runtime) -> None:
    ctx = RequestContext(actor=Actor(MAYA, "T0RELCAPT"), channel_id=CHANNEL, source=AuditSource.COMMAND)
    runtime.services.releases.create_at(
        ctx,
        name="Payments 2.4",
        launch_at=LAUNCH,
        tz="UTC",
        channel_id=CHANNEL,
        template=None,
        managers=(),
    )
    for position in (DEPENDENCY_CHECK, CONFIGURATION):
        runtime.services.items.assign(ctx, None, str(position), [Owner(OwnerKind.USER, ANA)])


def _digests_to_ana(database_url: str) -> list[tuple[str, str | None]]:
    rows = sorted(deliveries(database_url).values(), key=lambda d: d.slot)
    return [(d.state, d.reason) for d in rows if d.kind == "digest" and d.recipient == ANA]


def test_down_shorter_then_longer_than_the_useful_window(
    runtime: Runtime, emulator: SlackEmulator, database_url: str
) -> None:
    _release(runtime)
    audit_before = scheduler_audit(database_url)
    deliveries_service = runtime.services.deliveries
    deliveries_service.run_due(MONDAY_6)

    # Down 06:00 → 11:00: Monday's 09:00 heads-up is useful until Tuesday's due reminder, so it goes late.
    fault("bot down (within the window)")
    report = deliveries_service.run_due(MONDAY_11)
    assert report.missed == 0
    assert _digests_to_ana(database_url) == [("sent", None)]

    # Down Monday 11:00 → Wednesday 15:00: Tuesday's due reminder was useful until Wednesday 09:00 only.
    fault("bot down (past the window)")
    report = deliveries_service.run_due(WEDNESDAY_15)
    assert report.missed >= 1
    deliveries_service.run_due(WEDNESDAY_15.replace(minute=1))  # the missed notice goes out
    assert _digests_to_ana(database_url) == [
        ("sent", None),  # Monday's heads-up
        ("expired", "missed while the bot was down"),  # Tuesday's due reminder
        ("sent", None),  # Wednesday's overdue reminder, still useful
    ]

    rows = deliveries(database_url)
    by_state = Counter(d.state for d in rows.values())
    assert set(by_state) <= {"sent", "expired", "cancelled"}, by_state
    sent = {i for i, d in rows.items() if d.state == "sent"}
    expired = {i for i, d in rows.items() if d.state == "expired"}
    assert all(rows[i].reason == "missed while the bot was down" for i in expired)
    check_deliveries(posted(emulator), once=sent, never=expired)
    notices = [d for d in rows.values() if d.kind == "missed_notice"]
    assert [(n.state, n.recipient) for n in notices] == [("sent", CHANNEL)]
    texts = [m.text for m in emulator.workspace.messages(CHANNEL) if "offline" in m.text]
    assert len(texts) == 1, texts
    # Announcement bookkeeping the passes did (a draft held at its time, say) is audited once each.
    audited = scheduler_audit(database_url) - audit_before
    assert all(n == 1 for n in audited.values()), audited
