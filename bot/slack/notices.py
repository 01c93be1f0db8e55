"""Short messages that follow a request (confirmations, prompts), sent off the acknowledgement path."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

from slack_sdk import WebClient

from bot.slack.counted_pool import CountedPool

log = logging.getLogger(__name__)


class Notices:
    """Sends ephemerals and thread prompts on a small pool so Slack gets its 200 first."""

    def __init__(self, client: WebClient, *, workers: int = 2) -> None:
        self._client = client
        self._pool = CountedPool(workers, "notices")

    def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> Future[None]:
        """Tell one person something, in the channel where they acted."""
        return self._submit(
            "chat_postEphemeral",
            channel=channel,
            user=user,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
        )

    def thread(
        self, channel: str, thread_ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> Future[None]:
        """Post a message in a thread (e.g. asking the reactor for a reason)."""
        return self._submit(
            "chat_postMessage", channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
        )

    def close(self) -> None:
        """Send what is queued, then stop."""
        self._pool.shutdown()

    def backlog(self) -> int:
        """Messages queued or being sent (a gauge in /metrics)."""
        return self._pool.backlog()

    def _submit(self, method: str, **kwargs: Any) -> Future[None]:
        return self._pool.submit(self._send, method, **kwargs)

    def _send(self, method: str, **kwargs: Any) -> None:
        args = {k: v for k, v in kwargs.items() if v is not None}
        try:
            getattr(self._client, method)(**args)
        except Exception:
            # A lost confirmation is not worth failing anything for; the card shows the truth.
            log.warning("could not send %s to %s", method, kwargs.get("channel"), exc_info=True)
