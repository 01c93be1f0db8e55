"""In-memory Slack workspace that backs the emulator: users, channels, user groups, messages and views."""

from __future__ import annotations

import copy
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TEAM_ID = "T0RELCAPT"
BOT_TOKEN = "xoxb-sandbox-token"

# Slack shows a long-form label that depends on daylight saving; zoneinfo only has abbreviations.
# The offsets are the standard-time fallback for machines without a tz database.
_TZ_TABLE: dict[str, tuple[str, str, int]] = {
    "Europe/Berlin": ("Central European Time", "Central European Summer Time", 3600),
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time", -18000),
    "Europe/Lisbon": ("Western European Time", "Western European Summer Time", 0),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time", -28800),
    "Pacific/Auckland": ("New Zealand Standard Time", "New Zealand Daylight Time", 43200),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time", 19800),
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time", 0),
}


def tz_fields(tz: str, now: datetime | None = None) -> tuple[str, int]:
    """Return Slack's (`tz_label`, `tz_offset` seconds) for an IANA zone at `now`."""
    standard, daylight, fallback = _TZ_TABLE.get(tz, (tz, tz, 0))
    try:
        local = (now or datetime.now(UTC)).astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return standard, fallback
    offset = local.utcoffset()
    in_dst = bool(local.dst())
    return (daylight if in_dst else standard), int(offset.total_seconds()) if offset else fallback


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack ts strings; floats lose the microsecond digits."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6] or 0)


@dataclass
class User:
    """A workspace member (human or bot)."""

    id: str
    name: str
    real_name: str
    tz: str
    tz_label: str
    tz_offset: int
    deleted: bool = False
    is_bot: bool = False
    is_admin: bool = False
    team_id: str = TEAM_ID
    email: str = ""

    def to_slack(self) -> dict[str, Any]:
        """Render as a `users.info` user object."""
        profile = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "email": self.email,
            "team": self.team_id,
        }
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz_label,
            "tz_offset": self.tz_offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
        }


@dataclass
class Channel:
    """A conversation: public or private channel, or a 1:1 DM (`is_im`)."""

    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    is_im: bool = False
    is_private: bool = False

    def to_slack(self, bot_user_id: str, *, num_members: bool = False) -> dict[str, Any]:
        """Render as a `conversations.info` channel object, from the bot's point of view."""
        if self.is_im:
            other = next((m for m in sorted(self.members) if m != bot_user_id), bot_user_id)
            data: dict[str, Any] = {"id": self.id, "is_im": True, "user": other, "is_open": True}
        else:
            data = {
                "id": self.id,
                "name": self.name,
                "name_normalized": self.name,
                "is_channel": not self.is_private,
                "is_group": self.is_private,
                "is_im": False,
                "is_mpim": False,
                "is_private": self.is_private,
                "is_archived": self.is_archived,
                "is_general": False,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "is_member": bot_user_id in self.members,
                "context_team_id": TEAM_ID,
            }
        data["created"] = 1_700_000_000
        if num_members:
            data["num_members"] = len(self.members)
        return data


@dataclass
class UserGroup:
    """A user group (`@handle`)."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)

    def to_slack(self, *, include_users: bool = False) -> dict[str, Any]:
        """Render as a `usergroups.list` entry."""
        data: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": self.name,
            "description": "",
            "handle": self.handle,
            "is_external": False,
            "date_delete": 0,
            "auto_type": None,
            "user_count": len(self.users),
        }
        if include_users:
            data["users"] = list(self.users)
        return data


@dataclass
class Message:
    """A channel message; `edits` keeps the previous versions, oldest first."""

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    bot_id: str | None = None
    attachments: list[dict[str, Any]] | None = None
    reply_broadcast: bool = False
    files: list[dict[str, Any]] | None = None  # shared files, as files.completeUploadExternal posts them

    @property
    def is_reply(self) -> bool:
        """True for a threaded reply (not the parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def edit(self, edited_ts: str, **changes: Any) -> None:
        """Apply `changes`, keeping the current version in `edits`."""
        previous = {k: copy.deepcopy(getattr(self, k)) for k in ("text", "blocks", "attachments", "metadata")}
        self.edits.append({**previous, "edited_ts": edited_ts})
        for name, value in changes.items():
            setattr(self, name, value)

    def reaction_list(self) -> list[dict[str, Any]]:
        """Reactions as Slack returns them: `[{name, users, count}]`."""
        return [{"name": n, "users": list(u), "count": len(u)} for n, u in self.reactions.items() if u]

    def to_slack(self, *, include_metadata: bool = True) -> dict[str, Any]:
        """Render as a message object of `conversations.history`."""
        data: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        data["team"] = TEAM_ID
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = "A0RELCAPT"
        if self.blocks is not None:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments:
            data["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.reply_broadcast:
            data["subtype"] = "thread_broadcast"
        if self.metadata is not None and include_metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.edits:
            data["edited"] = {"user": self.user, "ts": self.edits[-1]["edited_ts"]}
        if reactions := self.reaction_list():
            data["reactions"] = reactions
        if self.files:
            data["files"] = copy.deepcopy(self.files)
            data["upload"] = True
        return data


@dataclass
class Upload:
    """A file: announced by files.getUploadURLExternal, its bytes POSTed, then shared (or kept private)."""

    id: str
    filename: str
    length: int
    user: str
    created: int
    content: bytes | None = None  # None until the bytes arrive at the upload URL
    title: str = ""
    completed: bool = False

    def to_slack(self, domain: str) -> dict[str, Any]:
        """Render as a file object, as files.completeUploadExternal and message `files` show it."""
        extension = self.filename.rpartition(".")[2].lower() if "." in self.filename else ""
        private = f"https://files.slack.com/files-pri/{TEAM_ID}-{self.id}/{self.filename}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": mimetypes.guess_type(self.filename)[0] or "application/octet-stream",
            "filetype": extension or "binary",
            "user": self.user,
            "mode": "hosted",
            "size": len(self.content or b""),
            "url_private": private,
            "url_private_download": private.replace(f"/{self.filename}", f"/download/{self.filename}"),
            "permalink": f"https://{domain}.slack.com/files/{self.user}/{self.id}/{self.filename}",
        }


@dataclass
class Ephemeral:
    """An ephemeral message seen only by `user`, from chat.postEphemeral or a response_url."""

    channel: str
    user: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"
    deleted: bool = False


@dataclass
class Workspace:
    """All mutable Slack state; every mutation goes through `lock` so HTTP threads can share it."""

    team_id: str = TEAM_ID
    team_name: str = "Acme"
    domain: str = "acme"
    bot_token: str = BOT_TOKEN
    bot_user_id: str = "UBOT00001"
    bot_id: str = "B0RELCAPT"
    app_id: str = "A0RELCAPT"
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, UserGroup] = field(default_factory=dict)
    channel_messages: dict[str, list[Message]] = field(default_factory=dict)
    ephemeral_messages: list[Ephemeral] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    modal_stacks: dict[str, list[str]] = field(default_factory=dict)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)  # by file id; keeps the bytes for tests
    clock: Callable[[], float] = field(default=time.time, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _last_micros: int = field(default=0, init=False, repr=False)

    @classmethod
    def seeded(cls) -> Workspace:
        """The standard demo workspace: team Acme, six humans across the date line, four channels."""
        ws = cls()
        ws.add_user(
            User(ws.bot_user_id, "release-captain", "Release Captain", "UTC", *tz_fields("UTC"), is_bot=True)
        )
        humans = [
            ("UMAYA0001", "maya", "Maya Schmidt", "Europe/Berlin", True),
            ("ULEE00001", "lee", "Lee Park", "America/New_York", False),
            ("UANA00001", "ana", "Ana Costa", "Europe/Lisbon", False),
            ("UBOB00001", "bob", "Bob Miller", "America/Los_Angeles", False),
            ("UDANA0001", "dana", "Dana Ngata", "Pacific/Auckland", False),
            ("URAVI0001", "ravi", "Ravi Iyer", "Asia/Kolkata", False),
        ]
        for uid, name, real, tz, admin in humans:
            ws.add_user(User(uid, name, real, tz, *tz_fields(tz), is_admin=admin))
        ws.add_user(User("UGONE0001", "gone", "Gone Away", "UTC", *tz_fields("UTC"), deleted=True))
        everyone = {uid for uid, *_ in humans} | {ws.bot_user_id}
        ws.add_channel(Channel("CRELEASES", "releases", set(everyone)))
        ws.add_channel(Channel("CANNOUNCE", "announcements", set(everyone)))
        ws.add_channel(Channel("CRANDOM1", "random", {uid for uid, *_ in humans}))
        ws.add_channel(Channel("CARCHIVE1", "old-stuff", set(everyone), is_archived=True))
        ws.usergroups["S0QA00001"] = UserGroup("S0QA00001", "qa-team", "QA Team", ["UANA00001", "UBOB00001"])
        return ws

    def add_user(self, user: User) -> User:
        """Register a user; the email defaults to name@domain.example."""
        with self.lock:
            user.email = user.email or f"{user.name}@{self.domain}.example"
            self.users[user.id] = user
            return user

    def add_channel(self, channel: Channel) -> Channel:
        """Register a channel with an empty message list."""
        with self.lock:
            self.channels[channel.id] = channel
            self.channel_messages.setdefault(channel.id, [])
            return channel

    def next_ts(self) -> str:
        """A unique, strictly increasing Slack ts ("1700000000.000100") based on `clock`."""
        with self.lock:
            micros = int(self.clock() * 1_000_000)
            self._last_micros = max(micros, self._last_micros + 1)
            return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"

    def user_by_name(self, name: str) -> User | None:
        """Find a user by handle (with or without a leading @)."""
        with self.lock:
            return next((u for u in self.users.values() if u.name == name.lstrip("@")), None)

    def channel_by_name(self, name: str) -> Channel | None:
        """Find a non-DM channel by name (with or without a leading #)."""
        with self.lock:
            wanted = name.lstrip("#")
            return next((c for c in self.channels.values() if c.name == wanted and not c.is_im), None)

    def messages(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """All messages of a channel (replies included) in ts order."""
        with self.lock:
            return [m for m in self.channel_messages.get(channel, []) if include_deleted or not m.deleted]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent and its replies, oldest first."""
        with self.lock:
            return [m for m in self.messages(channel) if m.ts == ts or m.thread_ts == ts]

    def find_message(self, channel: str, ts: str) -> Message | None:
        """The live (not deleted) message with this ts, if any."""
        with self.lock:
            return next((m for m in self.messages(channel) if m.ts == ts), None)

    def post(self, channel: str, user: str, text: str = "", **fields: Any) -> Message:
        """Append a message as `user` (no validation: this is the workspace acting, not the API)."""
        with self.lock:
            message = Message(channel=channel, ts=self.next_ts(), user=user, text=text, **fields)
            self.channel_messages.setdefault(channel, []).append(message)
            return message

    def add_reaction(self, channel: str, ts: str, user: str, name: str) -> bool:
        """Add `user`'s reaction; False if the message is missing or already has it."""
        with self.lock:
            message = self.find_message(channel, ts)
            if message is None or user in message.reactions.get(name, []):
                return False
            message.reactions.setdefault(name, []).append(user)
            return True

    def remove_reaction(self, channel: str, ts: str, user: str, name: str) -> bool:
        """Remove `user`'s reaction; False if there was none."""
        with self.lock:
            message = self.find_message(channel, ts)
            if message is None or user not in message.reactions.get(name, []):
                return False
            message.reactions[name].remove(user)
            if not message.reactions[name]:
                del message.reactions[name]
            return True

    def open_dm(self, user_id: str) -> str:
        """The D… id of the bot's DM with `user_id`, created on first use."""
        with self.lock:
            channel_id = "D" + user_id[1:]
            if channel_id not in self.channels:
                self.add_channel(Channel(channel_id, user_id, {self.bot_user_id, user_id}, is_im=True))
            return channel_id

    def new_upload(self, filename: str, length: int, user: str) -> Upload:
        """Announce a file that `length` bytes will be POSTed for; F… ids count up."""
        with self.lock:
            upload = Upload(f"F{len(self.uploads) + 1:08d}", filename, length, user, int(self.clock()))
            self.uploads[upload.id] = upload
            return upload

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file id, or None when nothing arrived."""
        with self.lock:
            upload = self.uploads.get(file_id)
            return upload.content if upload else None

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        """Live ephemeral messages, optionally filtered by channel and recipient."""
        with self.lock:
            return [
                e
                for e in self.ephemeral_messages
                if not e.deleted and channel in (None, e.channel) and user in (None, e.user)
            ]

    def permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str:
        """Slack's permalink format, with the thread query for replies."""
        link = f"https://{self.domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link
