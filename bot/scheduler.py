"""APScheduler 3 as a ticker only: one in-memory job runs the delivery pass; the schedule is in the DB."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class Ticker:
    """Calls `tick` every `seconds`; never twice at once, never replaying missed runs one by one."""

    def __init__(self, tick: Callable[[], object], *, seconds: float) -> None:
        self._tick = tick
        self._scheduler = BackgroundScheduler(timezone="UTC")
        # coalesce + max_instances=1: a slow pass is never overlapped or queued up behind itself;
        # misfire_grace_time=None: a late run still runs (the pass itself catches up from the database).
        self._scheduler.add_job(
            self._safely,
            "interval",
            seconds=seconds,
            id="deliveries",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def also(self, job: Callable[[], object], *, seconds: float, name: str) -> None:
        """Run another housekeeping job every `seconds`, guarded like the delivery pass."""

        def safely() -> None:
            try:
                job()
            except Exception:
                log.exception("%s failed", name)

        self._scheduler.add_job(
            safely,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        """Start ticking in a background thread."""
        self._scheduler.start()

    def stop(self) -> None:
        """Stop, letting a running pass finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def _safely(self) -> None:
        try:
            self._tick()
        except Exception:
            # The next tick retries from the database; one bad pass must not stop the ticker.
            log.exception("delivery pass failed")
