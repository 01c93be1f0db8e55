"""Storage helpers: two replicas' worth of services sharing one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event

from bot.ports import Clock
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime
from storage.db import make_engine
from storage.migrate import upgrade
from storage.tables import Release
from tests.runtimes import make_runtime

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str):
    """A migrated engine on the test's database, disposed afterwards."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def release_row(
    name: str = "Payments 2.4",
    channel: str = "C1",
    state: str = "planning",
    *,
    days: int = 9,
    timezone: str = "Europe/Berlin",
) -> Release:
    """A release row launching `days` after NOW, not yet added to a session."""
    return Release(
        name=name,
        name_key=name.casefold(),
        channel_id=channel,
        launch_at=NOW + timedelta(days=days),
        timezone=timezone,
        state=state,
        template="go-live",
        created_by="U1",
        created_at=NOW,
        updated_at=NOW,
    )


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs, in order (SQLite's BEGIN included)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_rest) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def two_replicas(
    emulator: SlackEmulator, database_url: str, *, clock: Clock | None = None
) -> Iterator[tuple[Runtime, Runtime]]:
    """Two processes' worth of services on one database (migrated once); background workers not started."""
    first = make_runtime(emulator, database_url, clock=clock)
    second = make_runtime(emulator, database_url, clock=clock, migrate=False)
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()
