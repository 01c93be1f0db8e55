"""The Slack side of the CardPublisher port: chat.postMessage and chat.update of cards and items."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.domain.model import ItemView, ReleaseState, ReleaseView
from bot.slack import render
from bot.slack.blocks import Block
from bot.slack.item_actions import item_actions
from bot.slack.render_announcements import launch_button
from bot.slack.seal import Sealer

# Marks the bot's own card messages so they can be recognised in channel history.
CARD_EVENT = "release_captain_card"
ITEM_EVENT = "release_captain_item"
NOTE_EVENT = "release_captain_note"


class SlackCardPublisher:
    """Posts and edits the card and its thread replies."""

    def __init__(self, client: WebClient, sealer: Sealer | None = None) -> None:
        self._client = client
        self._sealer = sealer  # None: items are posted without buttons

    def post_card(self, release: ReleaseView, now: datetime) -> str:
        """Post the card message in the release channel."""
        text, blocks = render.card(release, now, actions=self._card_actions(release))
        response = self._client.chat_postMessage(
            channel=release.channel_id,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata={"event_type": CARD_EVENT, "event_payload": {"release_id": release.id}},
        )
        return str(response["ts"])

    def update_card(self, release: ReleaseView, ts: str, now: datetime) -> None:
        """Edit the card in place."""
        text, blocks = render.card(release, now, actions=self._card_actions(release))
        self._client.chat_update(channel=release.channel_id, ts=ts, text=text, blocks=blocks)

    def _card_actions(self, release: ReleaseView) -> list[dict]:
        """A GO release's card offers the launch; the gate is checked again when it is clicked."""
        if release.state is not ReleaseState.GO or self._sealer is None:
            return []
        return [launch_button(self._sealer, release.id)]

    def post_item(self, release: ReleaseView, item: ItemView, card_ts: str, now: datetime) -> str:
        """Post an item as a reply in the card's thread."""
        text, blocks = render.item(release, item, now, actions=self._actions(release, item))
        response = self._client.chat_postMessage(
            channel=release.channel_id,
            thread_ts=card_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata={
                "event_type": ITEM_EVENT,
                "event_payload": {"release_id": release.id, "position": item.position},
            },
        )
        return str(response["ts"])

    def update_item(self, release: ReleaseView, item: ItemView, ts: str, now: datetime) -> None:
        """Edit an item's reply in place."""
        text, blocks = render.item(release, item, now, actions=self._actions(release, item))
        self._client.chat_update(channel=release.channel_id, ts=ts, text=text, blocks=blocks)

    def _actions(self, release: ReleaseView, item: ItemView) -> list[Block]:
        """Buttons for the item's next likely step; none once the release takes no more changes."""
        if self._sealer is None or item.id is None or not release.state.is_active:
            return []
        return [item_actions(self._sealer, item.id, item.state)]

    def post_thread_note(self, release: ReleaseView, card_ts: str, text: str, *, first_note: int) -> str:
        """Post a note in the card's thread, tagged so a crashed attempt can be found again."""
        response = self._client.chat_postMessage(
            channel=release.channel_id,
            thread_ts=card_ts,
            text=text,
            unfurl_links=False,
            metadata={
                "event_type": NOTE_EVENT,
                "event_payload": {"release_id": release.id, "note": first_note},
            },
        )
        return str(response["ts"])

    def find_note(self, release: ReleaseView, card_ts: str, first_note: int) -> str | None:
        """Look through the card's thread for a note batch by its first note's id."""
        replies = self._client.conversations_replies(
            channel=release.channel_id, ts=card_ts, limit=_LOOK_BACK, include_all_metadata=True
        )
        return _find(replies.get("messages"), NOTE_EVENT, lambda p: p.get("note") == first_note)

    def find_card(self, release: ReleaseView) -> str | None:
        """Look through the channel's recent history for this release's card."""
        history = self._client.conversations_history(
            channel=release.channel_id, limit=_LOOK_BACK, include_all_metadata=True
        )
        return _find(history.get("messages"), CARD_EVENT, lambda p: p.get("release_id") == release.id)

    def find_item(self, release: ReleaseView, item: ItemView, card_ts: str) -> str | None:
        """Look through the card's thread for this item's reply."""
        replies = self._client.conversations_replies(
            channel=release.channel_id, ts=card_ts, limit=_LOOK_BACK, include_all_metadata=True
        )
        return _find(
            replies.get("messages"),
            ITEM_EVENT,
            lambda p: p.get("release_id") == release.id and p.get("position") == item.position,
        )


# A crashed attempt is retried within minutes, so its message is among the channel's latest.
_LOOK_BACK = 200


def _find(messages: list[dict] | None, event_type: str, wanted: Callable[[dict], bool]) -> str | None:
    for message in messages or []:
        meta = message.get("metadata") or {}
        if meta.get("event_type") == event_type and wanted(meta.get("event_payload") or {}):
            return str(message["ts"])
    return None
