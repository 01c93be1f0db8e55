"""A prepared read: one statement outside a transaction, same rows and errors as SQLAlchemy, no leaks."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import col, select

from storage import repo
from storage.db import unit_of_work
from storage.prepared_read import PreparedRead
from storage.tables import Release
from tests.storage.conftest import NOW, release_row


def _add(engine, name: str, channel: str, state: str = "planning", days: int = 9) -> int:
    release = release_row(name, channel, state, days=days, timezone="UTC")
    with unit_of_work(engine) as session:
        repo.add_release(session=session, release=release, managers=["U1"], items=[])
        assert release.id is not None
        return release.id


def test_it_returns_what_the_orm_query_returns_in_the_same_order(engine) -> None:
    later = _add(engine, "Later", "C1", days=20)
    sooner = _add(engine, "Sooner", "C1", days=3)
    _add(engine, "Launched", "C1", state="launched")
    _add(engine, "Elsewhere", "C2")
    with unit_of_work(engine, write=False) as session:
        expected = [
            (r.id, r.card_version) for r in repo.active_releases_in_channel(session=session, channel_id="C1")
        ]
    assert repo.active_release_versions_in_channel(engine=engine, channel_id="C1") == expected
    assert [release_id for release_id, _ in expected] == [sooner, later]
    assert repo.active_release_versions_in_channel(engine=engine, channel_id="C9") == []


def test_it_runs_one_statement_and_sees_the_latest_commit(engine) -> None:
    release_id = _add(engine, "Payments 2.4", "C1")
    seen: list[str] = []
    outside: list[bool] = []

    def record(conn, _cursor, statement: str, *_rest) -> None:
        seen.append(statement)
        driver = conn.connection.dbapi_connection
        # SQLite: no transaction open; psycopg: autocommit, so it sends no BEGIN of its own.
        outside.append(not driver.in_transaction if engine.dialect.name == "sqlite" else driver.autocommit)

    event.listen(engine, "before_cursor_execute", record)
    try:
        before = repo.active_release_versions_in_channel(engine=engine, channel_id="C1")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT"), seen  # no BEGIN around it
    assert outside == [True]
    with unit_of_work(engine) as session:
        repo.touch_card(session=session, release_id=release_id, now=NOW)
    assert repo.active_release_versions_in_channel(engine=engine, channel_id="C1") == [
        (release_id, before[0][1] + 1)
    ]


def test_the_connection_goes_back_to_the_pool_ready_for_a_transaction(engine) -> None:
    """On PostgreSQL the read borrows a connection in autocommit; a unit of work after it still rolls back."""
    release_id = _add(engine, "Payments 2.4", "C1")
    engine.dispose()  # one connection in the pool from here on: the read's is the next one handed out
    before = repo.active_release_versions_in_channel(engine=engine, channel_id="C1")
    with pytest.raises(RuntimeError), unit_of_work(engine) as session:
        repo.touch_card(session=session, release_id=release_id, now=NOW)
        raise RuntimeError("the change must not stay")
    assert repo.active_release_versions_in_channel(engine=engine, channel_id="C1") == before
    with engine.connect() as conn:  # and nothing was left open on SQLite either
        if engine.dialect.name == "sqlite":
            assert not conn.connection.dbapi_connection.in_transaction
        conn.execute(text("SELECT 1"))


def test_database_errors_arrive_as_sqlalchemy_errors(engine) -> None:
    """Callers catch SQLAlchemy's exception types (bot/runner.py); the driver's own must not leak past."""
    broken = PreparedRead(select(col(Release.id)).where(col(Release.id) == 1))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE release RENAME TO release_gone"))
    with pytest.raises((OperationalError, ProgrammingError)):
        broken.rows(engine)
