"""E2E fixtures: an emulator and a serve process per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import BotProcess


@pytest.fixture
def bot(emulator: SlackEmulator, database_url: str, tmp_path) -> Iterator[BotProcess]:
    process = BotProcess(emulator, database_url, tmp_path / "serve.log").start()
    try:
        yield process
    finally:
        if process.proc is not None:
            process.stop()
