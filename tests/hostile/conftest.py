"""The hostile suite reports how many requests it tried and the slowest answer."""

from __future__ import annotations

from tests.hostile.probe import TALLY


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the numbers the hardening issue asks for, when any hostile request ran."""
    if TALLY.tried:
        terminalreporter.write_line(
            f"hostile inputs tried: {TALLY.tried} ({TALLY.refused} refused); "
            f"slowest answer {TALLY.slowest * 1000:.0f} ms ({TALLY.slowest_label[:80]!r})"
        )
