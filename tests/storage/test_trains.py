"""Release trains over one database shared by two replicas: each launch becomes exactly one release.

Two runtimes built by `bot.wiring.build` on the same database (SQLite file or PostgreSQL) run the
scheduler's train pass at the same instant; a crash between creating a release and moving the train's
mark is repaired without a second release; a train whose channel the bot cannot post in is retried on
the next pass without holding up the others.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.local import SandboxClock
from bot.wiring import Runtime
from storage.db import unit_of_work
from storage.tables import AuditEvent, Release, Train
from tests.storage.conftest import two_replicas

MAYA = "UMAYA0001"
NOW = datetime.now(UTC).replace(microsecond=0)
# The first Monday 09:00 UTC after NOW: a weekly train's first launch.
ANCHOR = datetime.combine(
    (NOW + timedelta(days=(0 - NOW.weekday()) % 7 or 7)).date(), datetime.min.time(), UTC
) + timedelta(hours=9)


@pytest.fixture
def replicas(emulator: SlackEmulator, database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two replicas at the same instant: NOW."""
    with two_replicas(emulator, database_url, clock=SandboxClock(NOW)) as pair:
        yield pair


def add_train(runtime: Runtime, name: str, channel: str = "CRELEASES") -> int:
    """A weekly train whose first two launches are within its two-week lead window at NOW."""
    with unit_of_work(runtime.engine) as session:
        train = Train(
            name=name,
            name_key=name.casefold(),
            channel_id=channel,
            rule="every 1 week on mon at 09:00",
            anchor_at=ANCHOR,
            timezone="UTC",
            template="go-live",
            created_by=MAYA,
            created_at=NOW,
        )
        session.add(train)
        session.flush()
        assert train.id is not None
        return train.id


def plan_together(replicas: tuple[Runtime, Runtime]) -> list[int]:
    """Both replicas' train passes, started at the same moment; how many releases each created."""
    barrier = threading.Barrier(len(replicas))
    created: list[int] = [0] * len(replicas)
    failures: list[BaseException] = []

    def run(index: int, runtime: Runtime) -> None:
        try:
            barrier.wait(timeout=10)
            created[index] = runtime.services.trains.plan_due(NOW)
        except BaseException as exc:  # surfaced in the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return created


def train_releases(runtime: Runtime) -> list[tuple[int | None, datetime]]:
    with unit_of_work(runtime.engine, write=False) as session:
        stmt = select(Release).where(col(Release.train_id).is_not(None))
        return sorted((r.train_id, r.launch_at) for r in session.exec(stmt))


def audit_actions(runtime: Runtime, action: str) -> int:
    with unit_of_work(runtime.engine, write=False) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def mark_of(runtime: Runtime, train_id: int) -> datetime | None:
    with unit_of_work(runtime.engine, write=False) as session:
        train = session.get(Train, train_id)
        assert train is not None
        return train.last_launch_at


def test_two_replicas_planning_at_once_create_each_release_once(replicas) -> None:
    first, _ = replicas
    mobile, web = add_train(first, "Mobile"), add_train(first, "Web")
    week = timedelta(days=7)

    created = plan_together(replicas)
    created += plan_together(replicas)  # and again: everything due exists already

    expected = sorted((t, at) for t in (mobile, web) for at in (ANCHOR, ANCHOR + week))
    assert train_releases(first) == expected
    assert sum(created) == 4
    assert audit_actions(first, "create") == 4
    assert audit_actions(first, "train release") == 4  # each train's mark moved once per launch
    assert mark_of(first, mobile) == mark_of(first, web) == ANCHOR + week


def test_a_crash_before_the_mark_moved_is_repaired_without_a_second_release(replicas) -> None:
    first, second = replicas
    mobile = add_train(first, "Mobile")
    assert first.services.trains.plan_due(NOW) == 2
    # As if the process died after inserting the second release but before moving the train's mark.
    with unit_of_work(first.engine) as session:
        train = session.get(Train, mobile)
        assert train is not None
        train.last_launch_at = ANCHOR
        session.add(train)

    assert second.services.trains.plan_due(NOW) == 0
    assert train_releases(first) == [(mobile, ANCHOR), (mobile, ANCHOR + timedelta(days=7))]
    assert mark_of(first, mobile) == ANCHOR + timedelta(days=7)


def test_a_train_that_cannot_post_is_retried_without_holding_up_the_others(
    replicas, emulator: SlackEmulator
) -> None:
    first, _ = replicas
    stranded = add_train(first, "Stranded", channel="CRANDOM1")  # the bot is not a member there
    mobile = add_train(first, "Mobile")

    assert first.services.trains.plan_due(NOW) == 2
    assert {t for t, _ in train_releases(first)} == {mobile}
    assert mark_of(first, stranded) is None

    emulator.workspace.channels["CRANDOM1"].members.add(emulator.workspace.bot_user_id)
    assert first.services.trains.plan_due(NOW) == 2
    assert [at for t, at in train_releases(first) if t == stranded] == [ANCHOR, ANCHOR + timedelta(days=7)]
