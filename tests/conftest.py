"""Shared fixtures: a database URL for SQLite and, when reachable (always in CI), PostgreSQL; an emulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.sandbox.emulator import SlackEmulator
from storage.db import normalise_url

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_or_skip() -> str:
    engine = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        message = (
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set TEST_POSTGRES_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must run the PostgreSQL tests")
        pytest.skip(message + " or start it to run these tests")
    finally:
        engine.dispose()
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = _postgres_or_skip()
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The same test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'release-captain.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    """A started Slack emulator with the standard workspace (sandbox/ and faults/ use their own timeouts)."""
    emulator = SlackEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()
