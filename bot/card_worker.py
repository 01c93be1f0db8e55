"""A background thread that publishes cards soon after changes, at most once a second per release."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.services.card_sync import CardSync

log = logging.getLogger(__name__)


class CardWorker:
    """Coalesces publish requests per release and sweeps for changes it was not told about."""

    def __init__(
        self,
        sync: CardSync,
        *,
        min_interval: float = 1.0,
        sweep_seconds: float = 5.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sync = sync
        self._min_interval = min_interval
        self._sweep_seconds = sweep_seconds
        self._time = time_fn
        self._cond = threading.Condition()
        self._pending: dict[int, float] = {}  # release id -> earliest time to publish
        self._last: dict[int, float] = {}  # release id -> when its last publish started
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self, release_id: int) -> None:
        """Publish this release soon; requests inside one interval become one publish."""
        with self._cond:
            due = max(self._time(), self._last.get(release_id, float("-inf")) + self._min_interval)
            self._pending[release_id] = min(self._pending.get(release_id, due), due)
            self._cond.notify()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="card-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the publish in progress and stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """Nothing pending and nothing in flight (for tests and the sandbox)."""
        with self._cond:
            return not self._pending and not self._busy

    def _run(self) -> None:
        next_sweep = self._time()
        while True:
            with self._cond:
                release_id = self._next_due(next_sweep)
                if self._stopping:
                    return
                if release_id is None:
                    continue
                self._busy = True
            try:
                if release_id == _SWEEP:
                    next_sweep = self._time() + self._sweep_seconds
                    for rid in self._sync.pending():
                        self.request(rid)
                else:
                    self._sync.sync(release_id)
            except Exception:
                log.exception("card worker pass failed")
            finally:
                with self._cond:
                    self._busy = False

    def _next_due(self, next_sweep: float) -> int | None:
        """Wait (holding the condition) for the next due release, or the sweep; None to loop again."""
        now = self._time()
        if self._stopping:
            return None
        due = [(at, rid) for rid, at in self._pending.items() if at <= now]
        if due:
            _, rid = min(due)
            del self._pending[rid]
            # A publish started less than an interval ago: wait, so changes coalesce.
            earliest = self._last.get(rid, float("-inf")) + self._min_interval
            if earliest > now:
                self._pending[rid] = earliest
                return None
            self._last[rid] = now
            return rid
        if now >= next_sweep:
            return _SWEEP
        wake = min([next_sweep, *self._pending.values()])
        self._cond.wait(timeout=max(0.0, wake - now))
        return None


_SWEEP = -1
