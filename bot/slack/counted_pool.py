"""A thread pool that knows how much of its work is unfinished: the backlog gauges in /metrics read it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class CountedPool:
    """`ThreadPoolExecutor` plus a count of the jobs submitted and not finished (queued or running)."""

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._unfinished = 0

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn`; raises RuntimeError (and counts nothing) once the pool is shut down."""
        with self._lock:
            self._unfinished += 1
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except RuntimeError:
            with self._lock:
                self._unfinished -= 1
            raise
        future.add_done_callback(self._finished)
        return future

    def backlog(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return self._unfinished

    def shutdown(self) -> None:
        """Finish every job accepted, then stop."""
        self._pool.shutdown(wait=True)

    def _finished(self, _future: Future[T]) -> None:
        with self._lock:
            self._unfinished -= 1
