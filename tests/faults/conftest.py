"""Fault-suite fixtures, and the totals printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.faults.ledger import LEDGER, count_fired


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    """An emulator whose "timeout" fault holds an answer 20 ms after the call took effect."""
    with SlackEmulator(timeout_seconds=0.02) as emulator:
        yield emulator
        count_fired(emulator)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The numbers for the closing note: faults injected, deliveries checked, duplicates and losses."""
    if LEDGER.deliveries_checked or LEDGER.faults:
        terminalreporter.write_sep("-", "fault injection")
        terminalreporter.write_line(LEDGER.summary())
