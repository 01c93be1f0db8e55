"""A background thread that publishes cards soon after changes, at most once a second per release."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.coalescing import Coalescer
from bot.services.card_sync import CardSync


class CardWorker(Coalescer[int]):
    """Coalesces publish requests per release and sweeps for changes it was not told about."""

    def __init__(
        self,
        sync: CardSync,
        *,
        min_interval: float = 1.0,
        sweep_seconds: float = 5.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            name="card-worker", min_interval=min_interval, sweep_seconds=sweep_seconds, time_fn=time_fn
        )
        self._sync = sync

    def request(self, release_id: int) -> None:
        """Publish this release soon; requests inside one interval become one publish."""
        self._schedule(release_id)

    def _run_key(self, key: int) -> None:
        self._sync.sync(key)

    def _sweep(self) -> None:
        # Cards changed by another replica, or left behind by a crash, are found here.
        for release_id in self._sync.pending():
            self.request(release_id)
