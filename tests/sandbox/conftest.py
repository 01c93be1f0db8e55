"""Fixtures: a fresh emulator (seeded workspace) per test and a WebClient pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import BOT_TOKEN


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    """A started emulator with the standard demo workspace."""
    with SlackEmulator(timeout_seconds=2.0) as emu:
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    """slack_sdk's client as the bot builds it, with no retry handlers and a short timeout."""
    return WebClient(token=BOT_TOKEN, base_url=emulator.api_url, timeout=5, retry_handlers=[])
