"""The fault suite's tally: faults injected, deliveries checked, duplicates and losses found.

Faults count when they take effect (the emulator's `fired`; `fault` for kills, cuts and outages); Slack's
side is checked through `check_deliveries`. The totals are printed at the end of the run (conftest.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.sandbox.emulator import SlackEmulator


@dataclass
class Ledger:
    """Running totals for one pytest session."""

    faults: Counter[str] = field(default_factory=Counter)
    deliveries_checked: int = 0
    duplicates: int = 0
    losses: int = 0

    def summary(self) -> str:
        """One paragraph for the terminal."""
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        return (
            f"faults injected: {sum(self.faults.values())} ({kinds or 'none'}); "
            f"deliveries checked: {self.deliveries_checked}; "
            f"duplicates found: {self.duplicates}; losses found: {self.losses}"
        )


LEDGER = Ledger()


def fault(kind: str, count: int = 1) -> None:
    """Count a fault injected outside the emulator (a kill -9, a database cut, Slack paused)."""
    LEDGER.faults[kind] += count


def count_fired(emulator: SlackEmulator) -> None:
    """Add the emulator's faults that took effect (not merely armed) to the totals."""
    LEDGER.faults.update(emulator.fired)


def check_deliveries(posted: Counter[int], *, once: Iterable[int], never: Iterable[int] = ()) -> None:
    """Slack received each of `once` exactly once, none of `never`, and no delivery nobody expected."""
    once, never = set(once), set(never)
    duplicates = {d: n for d, n in posted.items() if n > 1}
    losses = once - set(posted)
    LEDGER.deliveries_checked += len(once | never)
    LEDGER.duplicates += sum(n - 1 for n in duplicates.values())
    LEDGER.losses += len(losses)
    assert not duplicates, f"posted more than once: {duplicates}"
    assert not losses, f"never posted: {sorted(losses)}"
    assert not set(posted) & never, f"posted though they should not be: {sorted(set(posted) & never)}"
    assert set(posted) <= once, f"unexpected deliveries: {sorted(set(posted) - once)}"
