"""A background thread that keeps people's App Home current: at most one publish per person a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

# A pending job: ("user", user id) publishes one Home; ("release", id) finds whose Home a change concerns.
_Job = tuple[str, str]
_USER, _RELEASE = "user", "release"
# Beyond this many remembered publish times, forget the ones too old to delay anything.
_FORGET_AFTER = 1000


class HomeWorker:
    """Coalesces Home refreshes per person, off the request path, and paces them."""

    def __init__(
        self,
        publish: Callable[[str], None],
        audience: Callable[[int], Iterable[str]],
        *,
        min_interval: float = 1.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._audience = audience
        self._min_interval = min_interval
        self._time = time_fn
        self._cond = threading.Condition()
        self._pending: dict[_Job, float] = {}  # job -> earliest time to run it
        self._last: dict[_Job, float] = {}  # job -> when it last started
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self, user_id: str) -> None:
        """Publish this person's Home soon; requests inside one interval become one publish."""
        self._add((_USER, user_id))

    def release_changed(self, release_id: int) -> None:
        """A release changed: refresh the Home of everyone it concerns who has opened Home."""
        self._add((_RELEASE, str(release_id)))

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="home-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the publish in progress and stop; what is still pending is dropped (Home is a view)."""
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

    def _add(self, job: _Job) -> None:
        with self._cond:
            due = max(self._time(), self._last.get(job, float("-inf")) + self._min_interval)
            self._pending[job] = min(self._pending.get(job, due), due)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next_due()
                if self._stopping:
                    return
                if job is None:
                    continue
                self._busy = True
            try:
                kind, key = job
                if kind == _RELEASE:
                    for user_id in self._audience(int(key)):
                        self.request(user_id)
                else:
                    self._publish(key)
            except Exception:
                log.exception("refreshing App Home (%s %s) failed", *job)
            finally:
                with self._cond:
                    self._busy = False

    def _next_due(self) -> _Job | None:
        """Wait (holding the condition) for the next due job; None to loop again."""
        if self._stopping:
            return None
        now = self._time()
        due = [(at, job) for job, at in self._pending.items() if at <= now]
        if not due:
            wake = min(self._pending.values(), default=now + 60.0)
            self._cond.wait(timeout=max(0.0, wake - now))
            return None
        _, job = min(due)
        del self._pending[job]
        self._last[job] = now
        if len(self._last) > _FORGET_AFTER:
            horizon = now - self._min_interval
            self._last = {j: at for j, at in self._last.items() if at > horizon}
        return job
