"""What the services need from outside, as Protocols: Slack's directory, the card publisher, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.domain.model import ItemView, ReleaseView


@dataclass(frozen=True, slots=True)
class SlackUser:
    """What Slack's users.info tells about a person."""

    id: str
    name: str
    tz: str | None
    deleted: bool = False
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class SlackChannel:
    """What Slack's conversations.info tells about a channel, from the bot's point of view."""

    id: str
    name: str
    is_member: bool
    is_archived: bool = False
    is_private: bool = False


class Directory(Protocol):
    """Who and where: users, user groups and channels as Slack knows them."""

    def user(self, user_id: str) -> SlackUser | None:
        """A user, or None when Slack does not know them."""
        ...

    def usergroup_members(self, group_id: str) -> list[str] | None:
        """Members of a user group, or None when the group does not exist."""
        ...

    def channel(self, channel_id: str) -> SlackChannel | None:
        """A channel, or None when it does not exist or the bot cannot see it."""
        ...

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Whether the user is in the channel; False when the bot cannot see the channel."""
        ...


class ReactionReader(Protocol):
    """Reads a message's reactions (Slack's reactions.get)."""

    def reactions(self, channel_id: str, ts: str) -> list[tuple[str, list[str]]]:
        """(emoji name, user ids) pairs on one message; empty when the message is gone."""
        ...


class CardPublisher(Protocol):
    """Posts and edits the release card and its item replies; returns message timestamps."""

    def post_card(self, release: ReleaseView, now: datetime) -> str:
        """Post the card message in the release channel."""
        ...

    def update_card(self, release: ReleaseView, ts: str, now: datetime) -> None:
        """Edit the card message in place."""
        ...

    def post_item(self, release: ReleaseView, item: ItemView, card_ts: str, now: datetime) -> str:
        """Post an item as a reply in the card's thread."""
        ...

    def update_item(self, release: ReleaseView, item: ItemView, ts: str, now: datetime) -> None:
        """Edit an item's thread reply in place."""
        ...

    def post_thread_note(self, release: ReleaseView, card_ts: str, text: str, *, first_note: int) -> str:
        """Post a short note (already safe mrkdwn) in the card's thread, tagged with its first note's id."""
        ...

    def find_note(self, release: ReleaseView, card_ts: str, first_note: int) -> str | None:
        """The ts of a note batch an earlier attempt posted, by its first note's id, else None."""
        ...

    def find_card(self, release: ReleaseView) -> str | None:
        """The ts of this release's card if an earlier attempt posted it (by its metadata), else None."""
        ...

    def find_item(self, release: ReleaseView, item: ItemView, card_ts: str) -> str | None:
        """The ts of this item's reply if an earlier attempt posted it, else None."""
        ...


class CardSyncRequests(Protocol):
    """Lets services ask for a card to be republished soon, after their transaction commits."""

    def request(self, release_id: int) -> None:
        """Republish this release's card and changed items soon (coalesced)."""
        ...


class Notices(Protocol):
    """Messages that follow a request, sent after Slack has its acknowledgement."""

    def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
    ) -> object:
        """Tell one person something where they acted."""
        ...

    def thread(self, channel: str, thread_ts: str, text: str, *, blocks: list[dict] | None = None) -> object:
        """Post in a thread."""
        ...

    def close(self) -> None:
        """Flush and stop."""
        ...


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file for one person: its name, its bytes and the line that introduces it."""

    filename: str
    content: bytes
    comment: str


class UploadFailed(Exception):
    """Slack refused or failed a file upload; `error` is Slack's error code or what went wrong."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FileDrops(Protocol):
    """Files sent to a person's DM with the bot, made and uploaded after Slack has its acknowledgement."""

    def send_dm(self, user_id: str, make: Callable[[], OutgoingFile], *, reply_channel: str) -> object:
        """Run `make` off the ack path and upload its file; tell the person in `reply_channel` on failure."""
        ...

    def backlog(self) -> int:
        """Files asked for and not delivered or explained yet."""
        ...

    def close(self) -> None:
        """Finish the files under way, then stop."""
        ...


class Clock(Protocol):
    """The current time; tests and the sandbox move it."""

    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed."""

    channel: str
    ts: str


class DeliveryFailure(Exception):
    """Slack refused or failed a scheduled send; subclasses say what to do next."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class UnknownOutcome(DeliveryFailure):
    """A timeout, 5xx or internal_error: the message may or may not have been posted."""


class Undeliverable(DeliveryFailure):
    """The channel is gone, archived or closed to the bot: retrying will not help; managers must act."""


class RecipientGone(DeliveryFailure):
    """The person no longer exists or is deactivated: skip them and tell the managers."""


class Messenger(Protocol):
    """Posts scheduled messages, tagged so a resend can first look for an earlier attempt."""

    def post(self, recipient: str, message: object, *, delivery_id: int) -> Posted:
        """Render and post a bot.services.results.Outgoing to a channel, or DM it to a user.

        Raises a DeliveryFailure subclass on failure.
        """
        ...

    def find(self, recipient: str, delivery_id: int) -> Posted | None:
        """An earlier post of this delivery in the recipient's recent history, if any."""
        ...


class AfterAcknowledgement(Protocol):
    """Runs listener work after Slack has its 200; failures are told to the person through `answer`."""

    def submit(
        self, work: Callable[[], object], answer: Callable[[str, list], object], *, key: object = None
    ) -> None:
        """Queue work; work with the same key runs in order, one at a time."""
        ...

    def idle(self) -> bool:
        """Nothing queued or running."""
        ...

    def close(self) -> None:
        """Finish what was accepted, then stop."""
        ...
