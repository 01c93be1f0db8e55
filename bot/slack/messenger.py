"""The Slack side of the Messenger port: DMs and channel posts with metadata, paced, errors classified."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.ports import Posted, RecipientGone, Undeliverable, UnknownOutcome
from bot.slack.render_deliveries import render_outgoing
from bot.slack.seal import Sealer

DELIVERY_EVENT = "release_captain_delivery"
# Slack allows about one message per second per channel; bursts beyond that get 429s.
CHANNEL_PACE_SECONDS = 1.0
# How far back to look for an earlier attempt before resending (messages, newest first).
HISTORY_LIMIT = 100

_UNDELIVERABLE = {
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "restricted_action",
    "channel_is_archived",
}
# Not `account_inactive`: with a bot token Slack sends it when the app's own workspace or bot user is gone,
# an auth failure like `token_revoked` that must go dead and be seen, not cancel deliveries quietly.
_GONE = {"user_not_found", "cannot_dm_bot", "user_disabled", "user_not_visible"}
_UNKNOWN = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class SlackMessenger:
    """Posts scheduled messages; 429s are waited out by the client's retry handler, not as failures."""

    def __init__(
        self,
        client: WebClient,
        *,
        sealer: Sealer | None = None,
        pace: float = CHANNEL_PACE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._sealer = sealer
        self._pace = pace
        self._sleep = sleep
        self._clock = clock
        self._last_post: dict[str, float] = {}
        self._dms: dict[str, str] = {}
        self._lock = threading.Lock()

    def post(self, recipient: str, message: object, *, delivery_id: int) -> Posted:
        """Render and post to a channel, or to the DM with a user; failures are classified for the caller."""
        text, blocks = render_outgoing(message, self._sealer)  # type: ignore[arg-type]
        channel = self._channel_for(recipient)
        self._wait_turn(channel)
        response = self._call(
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                metadata={"event_type": DELIVERY_EVENT, "event_payload": {"delivery": delivery_id}},
            )
        )
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    def find(self, recipient: str, delivery_id: int) -> Posted | None:
        """Look for an earlier post of this delivery (its metadata) among the channel's recent messages."""
        channel = self._channel_for(recipient)
        history = self._call(
            lambda: self._client.conversations_history(
                channel=channel, limit=HISTORY_LIMIT, include_all_metadata=True
            )
        )
        for message in history.get("messages") or []:
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == DELIVERY_EVENT
                and (meta.get("event_payload") or {}).get("delivery") == delivery_id
            ):
                return Posted(channel=channel, ts=str(message["ts"]))
        return None

    def _channel_for(self, recipient: str) -> str:
        if not recipient.startswith(("U", "W")):
            return recipient
        with self._lock:
            known = self._dms.get(recipient)
        if known:
            return known
        response = self._call(lambda: self._client.conversations_open(users=recipient))
        channel = str(response["channel"]["id"])
        with self._lock:
            self._dms[recipient] = channel
        return channel

    def _wait_turn(self, channel: str) -> None:
        """Keep posts to one channel about a second apart, in the order they were asked for."""
        with self._lock:
            now = self._clock()
            turn = max(now, self._last_post.get(channel, float("-inf")) + self._pace)
            self._last_post[channel] = turn
        if turn > now:
            self._sleep(turn - now)

    @staticmethod
    def _call(fn: Callable[[], object]) -> dict:
        try:
            return fn()  # type: ignore[return-value]
        except SlackApiError as exc:
            status = exc.response.status_code
            # A 5xx body is a text page that slack_sdk turns into a long "non-JSON" error: name the status.
            error = f"http_{status}" if status >= 500 else str(exc.response.get("error") or f"http_{status}")
            if error in _UNDELIVERABLE:
                raise Undeliverable(error) from exc
            if error in _GONE:
                raise RecipientGone(error) from exc
            if error in _UNKNOWN or error == "ratelimited" or status >= 500:
                raise UnknownOutcome(error) from exc
            # invalid_auth, token_revoked, invalid_blocks…: retrying cannot help; operators must look.
            raise Undeliverable(error) from exc
        except (SlackRequestError, OSError, TimeoutError) as exc:
            raise UnknownOutcome(type(exc).__name__) from exc
