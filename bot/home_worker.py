"""A background thread that keeps people's App Home current: at most one publish per person a second."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from bot.coalescing import Coalescer

# A pending job: ("user", user id) publishes one Home; ("release", id) finds whose Home a change concerns.
_Job = tuple[str, str]
_USER, _RELEASE = "user", "release"


class HomeWorker(Coalescer[_Job]):
    """Coalesces Home refreshes per person, off the request path, and paces them."""

    def __init__(
        self,
        publish: Callable[[str], None],
        audience: Callable[[int], Iterable[str]],
        *,
        min_interval: float = 1.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="home-worker", min_interval=min_interval, time_fn=time_fn)
        self._publish = publish
        self._audience = audience

    def request(self, user_id: str) -> None:
        """Publish this person's Home soon; requests inside one interval become one publish."""
        self._schedule((_USER, user_id))

    def release_changed(self, release_id: int) -> None:
        """A release changed: refresh the Home of everyone it concerns who has opened Home."""
        self._schedule((_RELEASE, str(release_id)))

    def _run_key(self, key: _Job) -> None:
        kind, value = key
        if kind == _RELEASE:
            for user_id in self._audience(int(value)):
                self.request(user_id)
        else:
            self._publish(value)
