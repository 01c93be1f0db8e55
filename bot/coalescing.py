"""One background thread that runs keyed jobs soon, but each key at most once per interval.

Cards and App Home are views of the database: ten changes in a second need one publish, not ten, and never
on the request path. A key requested while it ran less than an interval ago waits out the rest of the
interval, and every request made in the meantime joins that one run.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)

# Beyond this many remembered run times, forget the ones too old to delay anything.
_FORGET_AFTER = 1000
_IDLE_WAIT = 60.0  # seconds to sleep when nothing is pending and there is no sweep (a request wakes it)


class _Sweep:
    """The periodic sweep, queued like a key."""


SWEEP = _Sweep()


class Coalescer(ABC, Generic[Key]):
    """Subclasses say what a run of a key does (`_run_key`) and, optionally, what a sweep finds."""

    def __init__(
        self,
        *,
        name: str,
        min_interval: float = 1.0,
        sweep_seconds: float | None = None,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._min_interval = min_interval
        self._sweep_seconds = sweep_seconds
        self._time = time_fn
        self._cond = threading.Condition()
        self._pending: dict[Key, float] = {}  # key -> earliest time to run it
        self._last: dict[Key, float] = {}  # key -> when its last run started
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- what subclasses provide -------------------------------------------------------------------

    @abstractmethod
    def _run_key(self, key: Key) -> None:
        """Do the work for one key (publish one card, one Home)."""

    def _sweep(self) -> None:
        """Every `sweep_seconds`: find work nobody asked for (a change another replica made)."""

    # ---- the public surface ------------------------------------------------------------------------

    def start(self, *, sweep: bool = True) -> None:
        """Start the thread (idempotent); `sweep=False` runs only the keys it is asked for."""
        if not sweep:
            self._sweep_seconds = None
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the run in progress and stop; what is pending is dropped (the views catch up later)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """Nothing pending and nothing in flight (for tests and the sandbox)."""
        return self.backlog() == 0

    def backlog(self) -> int:
        """Keys waiting to run, plus the one running (a gauge in /metrics)."""
        with self._cond:
            return len(self._pending) + (1 if self._busy else 0)

    def _schedule(self, key: Key) -> None:
        """Run `key` soon; requests inside one interval become one run."""
        with self._cond:
            due = max(self._time(), self._last.get(key, float("-inf")) + self._min_interval)
            self._pending[key] = min(self._pending.get(key, due), due)
            self._cond.notify()

    # ---- the thread --------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_sweep = self._time() if self._sweep_seconds is not None else None
        while True:
            with self._cond:
                job = self._next_due(next_sweep)
                if self._stopping:
                    return
                if job is None:
                    continue
                self._busy = True
            try:
                if job is SWEEP:
                    assert self._sweep_seconds is not None
                    next_sweep = self._time() + self._sweep_seconds
                    self._sweep()
                else:
                    self._run_key(job)  # type: ignore[arg-type]
            except Exception:
                log.exception("%s: %s failed", self._name, "sweep" if job is SWEEP else repr(job))
            finally:
                with self._cond:
                    self._busy = False

    def _next_due(self, next_sweep: float | None) -> Key | _Sweep | None:
        """Wait (holding the condition) for the next due key, or the sweep; None to loop again."""
        if self._stopping:
            return None
        now = self._time()
        due = [(at, key) for key, at in self._pending.items() if at <= now]
        if due:
            key = min(due, key=lambda pair: pair[0])[1]
            del self._pending[key]
            # Its last run started less than an interval ago (another request came in since): wait.
            earliest = self._last.get(key, float("-inf")) + self._min_interval
            if earliest > now:
                self._pending[key] = earliest
                return None
            self._last[key] = now
            if len(self._last) > _FORGET_AFTER:
                horizon = now - self._min_interval
                self._last = {k: at for k, at in self._last.items() if at > horizon}
            return key
        if next_sweep is not None and now >= next_sweep:
            return SWEEP
        wake = min([next_sweep if next_sweep is not None else now + _IDLE_WAIT, *self._pending.values()])
        self._cond.wait(timeout=max(0.0, wake - now))
        return None
