"""The Slack side of the Directory port: users.info, usergroups.users.list, conversations.info/members."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ports import SlackChannel, SlackUser

# Group membership changes rarely; a short cache keeps permission checks off Slack's rate limits.
_GROUP_TTL_SECONDS = 300.0
# Channel membership decides who may read a private channel's release; a minute keeps a removal effective.
_MEMBERS_TTL_SECONDS = 60.0
_MEMBERS_PAGE = 200
_NOT_FOUND = {"user_not_found", "no_such_subteam", "channel_not_found", "subteam_not_found"}


class SlackDirectory:
    """Looks people, groups and channels up in Slack."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._groups: dict[str, tuple[float, list[str] | None]] = {}
        self._members: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._lock = threading.Lock()

    def user(self, user_id: str) -> SlackUser | None:
        """A user, or None when Slack does not know them."""
        try:
            data = self._client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                return None
            raise
        profile = data.get("profile") or {}
        name = profile.get("display_name") or data.get("real_name") or data.get("name") or user_id
        return SlackUser(
            id=data["id"],
            name=name,
            tz=data.get("tz"),
            deleted=bool(data.get("deleted")),
            is_bot=bool(data.get("is_bot")),
        )

    def usergroup_members(self, group_id: str) -> list[str] | None:
        """Members of a user group (cached briefly), or None when it does not exist."""
        now = time.monotonic()
        with self._lock:
            cached = self._groups.get(group_id)
        if cached and now - cached[0] < _GROUP_TTL_SECONDS:
            return cached[1]
        try:
            members: list[str] | None = list(self._client.usergroups_users_list(usergroup=group_id)["users"])
        except SlackApiError as exc:
            if exc.response.get("error") not in _NOT_FOUND:
                raise
            members = None
        with self._lock:
            self._groups[group_id] = (now, members)
        return members

    def channel(self, channel_id: str) -> SlackChannel | None:
        """A channel as the bot sees it, or None when it is unknown or hidden from the bot."""
        try:
            data = self._client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_FOUND:
                return None
            raise
        return SlackChannel(
            id=data["id"],
            name=data.get("name") or channel_id,
            is_member=bool(data.get("is_member") or data.get("is_im")),
            is_archived=bool(data.get("is_archived")),
            is_private=bool(data.get("is_private")),
        )

    def channel_members(self, channel_id: str) -> frozenset[str] | None:
        """Member ids of a channel (every page, cached briefly), or None when the bot cannot see it."""
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(channel_id)
        if cached and now - cached[0] < _MEMBERS_TTL_SECONDS:
            return cached[1]
        try:
            found: frozenset[str] | None = self._all_members(channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in _NOT_FOUND:
                raise
            found = None
        with self._lock:
            self._members[channel_id] = (now, found)
        return found

    def _all_members(self, channel_id: str) -> frozenset[str]:
        """Every page of conversations.members."""
        members: set[str] = set()
        cursor: str | None = None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            page = self._client.conversations_members(channel=channel_id, limit=_MEMBERS_PAGE, **extra)
            members.update(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return frozenset(members)

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Whether the user is in the channel; False when the bot cannot see the channel."""
        return user_id in (self.channel_members(channel_id) or ())

    def reactions(self, channel_id: str, ts: str) -> list[tuple[str, list[str]]]:
        """Reactions on one message, as (emoji, users); empty when the message is gone."""
        try:
            message = self._client.reactions_get(channel=channel_id, timestamp=ts, full=True)["message"]
        except SlackApiError as exc:
            if exc.response.get("error") in {"message_not_found", "channel_not_found", "no_item_specified"}:
                return []
            raise
        return [(r["name"], list(r.get("users") or [])) for r in message.get("reactions") or []]
