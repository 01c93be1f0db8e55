"""In-process runtimes for tests: the real wiring (`bot.wiring.build`), pointed at the Slack emulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.config import load_settings
from bot.ports import Clock
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime, build


class MovableClock:
    """The services' clock, set by the test (`clock.at = …`)."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


def make_runtime(
    emulator: SlackEmulator,
    database_url: str,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    **settings: Any,
) -> Runtime:
    """Services on `database_url` talking to the emulator; no pacing between posts, time stands still.

    `settings` override the defaults (e.g. `slack_signing_secret=…`, `tick_seconds=0.1`); background
    workers are not started. A second runtime on the same database passes `migrate=False`, like a replica.
    """
    values: dict[str, Any] = {
        "slack_bot_token": emulator.workspace.bot_token,
        "slack_signing_secret": "s",
        "slack_api_url": emulator.api_url,
        "database_url": database_url,
        "channel_pace_seconds": 0,
        **settings,
    }
    config = load_settings(_env_file=None, **values)
    return build(config, clock=clock or MovableClock(datetime.now(UTC)), migrate=migrate)
