"""Request lanes: how many Slack requests run Python at once in one process, first come, first served.

The interpreter lock runs one thread at a time. With a thread per request, twenty requests share it in slices
and in no particular order, and a thread that gave it up for a database call waits to get it back behind every
other one. Every request then finishes about as late as the last. In a lane, a request runs to its end
while the others wait their turn in arrival order, and the event loop still gets the interpreter whenever the
request waits on the database, to read the next requests and write finished answers. Measured at 20 clients
(bench/README.md, "Request lanes"): the p99 of `/release status` went from 45–54 ms to 28–29 ms, and help and
assign got faster too. One lane is the default on SQLite; PostgreSQL requests wait on the network for longer,
and more lanes overlap those waits.

A request waiting on Slack (a modal opened, a name looked up) steps out of its lane and queues for one again
when Slack answers, so a slow Slack API cannot hold every other request up behind it.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Threads, not lanes: a request waiting on Slack keeps its thread but not its lane. As many as Starlette's
# own thread pool would have run at once.
_THREADS = 40


class Lanes:
    """A first-in, first-out semaphore for requests, with the threads that run them.

    The hand-over is direct: a leaving holder passes its lane to the first in the queue instead of putting it
    back, so a newcomer cannot cut in.
    """

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("a process needs at least one request lane")
        self._lock = threading.Lock()
        self._free = count
        self._queue: deque[threading.Lock] = deque()  # one lock per waiter, released to hand it the lane
        self._mine = threading.local()
        # Threads start on first use, so a process forked before that (bot/handoff.py) inherits none.
        self._threads = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="slack-request")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` on a request thread, in a lane; the event loop waits without blocking."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # as Starlette's thread pool does: the thread sees the loop's
        return await loop.run_in_executor(self._threads, lambda: context.run(self._in_lane, fn, args, kwargs))

    def _in_lane(self, fn: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
        with self.held():
            return fn(*args, **kwargs)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run the block in a lane, waiting for one in arrival order; re-entrant within a thread."""
        if self._holding():
            yield
            return
        self._enter()
        try:
            yield
        finally:
            self._leave()

    @contextmanager
    def stepped_out(self) -> Iterator[None]:
        """Give the lane up while the block waits (on Slack); no-op on a thread that holds none."""
        if not self._holding():
            yield
            return
        self._leave()
        try:
            yield
        finally:
            self._enter()

    def waiting(self) -> int:
        """Requests queued for a lane right now (racy by nature: for tests)."""
        return len(self._queue)

    def close(self) -> None:
        """Stop the request threads once the requests they run have finished."""
        self._threads.shutdown(wait=True)

    def _holding(self) -> bool:
        return bool(getattr(self._mine, "holding", False))

    def _enter(self) -> None:
        with self._lock:
            if self._free and not self._queue:
                self._free -= 1
                self._mine.holding = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._queue.append(turn)
        turn.acquire()  # until a leaving holder releases it: the lane is ours
        self._mine.holding = True

    def _leave(self) -> None:
        self._mine.holding = False
        with self._lock:
            if not self._queue:
                self._free += 1
                return
            turn = self._queue.popleft()
        turn.release()
