"""Storage helpers: two replicas' worth of services sharing one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.ports import Clock
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime
from tests.runtimes import make_runtime


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
