"""Storage helpers: two replicas' worth of services sharing one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.config import load_settings
from bot.ports import Clock
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime, build


@contextmanager
def two_replicas(
    emulator: SlackEmulator, database_url: str, *, clock: Clock | None = None
) -> Iterator[tuple[Runtime, Runtime]]:
    """Two processes' worth of services on one database (migrated once); background workers not started."""
    settings = load_settings(
        _env_file=None,
        slack_bot_token=emulator.workspace.bot_token,
        slack_signing_secret="s",
        slack_api_url=emulator.api_url,
        database_url=database_url,
    )
    first = build(settings, clock=clock)
    second = build(settings, clock=clock, migrate=False)
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()
