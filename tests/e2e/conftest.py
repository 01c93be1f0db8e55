"""E2E fixtures: an emulator and a serve process per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def serve(emulator: SlackEmulator, database_url: str, tmp_path: Path):
    """A serve process, started by the test with the settings it wants."""
    started: list[BotProcess] = []

    def start(**env: str) -> BotProcess:
        process = BotProcess(emulator, database_url, tmp_path / f"serve-{len(started)}.log")
        base = process.env
        process.env = lambda: {**base(), **env}  # type: ignore[method-assign]
        started.append(process.start())
        return process

    yield start
    for process in started:
        if process.proc is not None:
            process.stop()
