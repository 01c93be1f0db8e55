"""Rendered `/release status` replies, reused while neither the release nor the minute changes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from bot.domain.model import ReleaseView
from bot.slack import render
from bot.slack.blocks import Block


class StatusReplies:
    """An LRU of rendered status replies keyed by the exact view object and the minute.

    The services' view cache hands out one ReleaseView object per (release, version), so the object
    itself says "nothing changed"; the minute covers what depends on the clock (countdown, overdue).
    Entries hold their view, so its identity cannot be reused while cached.
    """

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._replies: OrderedDict[tuple[int, int, str], tuple[ReleaseView, tuple[str, list[Block]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def render(self, view: ReleaseView, now: datetime) -> tuple[str, list[Block]]:
        """The status reply for this view at this minute."""
        key = (view.id, id(view), now.strftime("%Y%m%d%H%M"))
        with self._lock:
            hit = self._replies.get(key)
            if hit is not None:
                self._replies.move_to_end(key)
                return hit[1]
        reply = render.status(view, now)
        with self._lock:
            self._replies[key] = (view, reply)
            while len(self._replies) > self._size:
                self._replies.popitem(last=False)
        return reply
