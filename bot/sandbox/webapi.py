"""Slack Web API method handlers over a `Workspace`, with Slack's validation rules and error codes."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any

from bot.sandbox.apierror import ApiError, flag
from bot.sandbox.blockkit import MESSAGE_BLOCK_LIMIT, block_errors
from bot.sandbox.viewsapi import ViewsApi
from bot.sandbox.workspace import Channel, Ephemeral, Message, Workspace, ts_key

MAX_TEXT = 40_000
_METHOD_NAME = re.compile(r"^[a-zA-Z]+(\.[a-zA-Z]+)+$")


def int_arg(args: dict[str, Any], name: str, default: int) -> int:
    """An integer argument, or `default` when absent or empty."""
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments", [f"[ERROR] {name} must be an integer"]) from None


def page(items: list[Any], args: dict[str, Any], default_limit: int) -> tuple[list[Any], str]:
    """Cursor pagination: returns one page and the next cursor ("" on the last page)."""
    limit = int_arg(args, "limit", default_limit) or default_limit
    start = 0
    if cursor := args.get("cursor"):
        try:
            start = int(base64.b64decode(str(cursor)).decode().removeprefix("offset:"))
        except (ValueError, binascii.Error):
            raise ApiError("invalid_cursor") from None
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor


def window(messages: list[Message], args: dict[str, Any]) -> list[Message]:
    """Keep messages between `oldest` and `latest` (exclusive unless `inclusive`)."""
    inclusive = flag(args, "inclusive")
    oldest = ts_key(str(args.get("oldest") or "0"))
    latest = ts_key(str(args["latest"])) if args.get("latest") else None

    def inside(m: Message) -> bool:
        key = ts_key(m.ts)
        above = key >= oldest if inclusive else key > oldest
        below = latest is None or (key <= latest if inclusive else key < latest)
        return above and below

    return [m for m in messages if inside(m)]


class WebApi(ViewsApi):
    """Dispatches `method` names to `api_<method with dots as underscores>`; callers hold `workspace.lock`."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.ws = workspace
        self.upload_base = ""  # where files.getUploadURLExternal points; the emulator sets its own URL

    def handles(self, method: str) -> bool:
        """True if the method is implemented."""
        return bool(_METHOD_NAME.match(method)) and hasattr(self, "api_" + method.replace(".", "_"))

    def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one method; raises ApiError for Slack-level failures."""
        if not self.handles(method):
            raise ApiError("unknown_method")
        handler = getattr(self, "api_" + method.replace(".", "_"))
        return {"ok": True, **handler(args)}

    # --- lookups shared by the handlers -------------------------------------------------------------------

    def _channel(self, channel_id: Any) -> Channel:
        """A channel the bot can see; private channels it is not in do not exist for it."""
        channel = self.ws.channels.get(str(channel_id or ""))
        if channel is None or (channel.is_private and self.ws.bot_user_id not in channel.members):
            raise ApiError("channel_not_found")
        return channel

    def _target(self, value: Any) -> Channel:
        """Resolve a posting target: channel id, D… id, (#)name, or a user id (meaning the DM with them)."""
        value = str(value or "")
        user = self.ws.users.get(value)
        if user is not None:
            if user.deleted or user.is_bot:
                raise ApiError("channel_not_found")
            return self.ws.channels[self.ws.open_dm(user.id)]
        named = None if value in self.ws.channels else self.ws.channel_by_name(value)
        return self._channel(named.id if named else value)

    def _writable(self, channel: Channel) -> None:
        """Posting needs a live channel the bot is in."""
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.ws.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")

    def _readable(self, channel: Channel) -> None:
        """Reading history needs membership too (public channels included)."""
        if self.ws.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")

    def _message(self, channel: Channel, ts: Any) -> Message:
        """A live message or `message_not_found`."""
        message = self.ws.find_message(channel.id, str(ts or ""))
        if message is None:
            raise ApiError("message_not_found")
        return message

    def _thread_root(self, channel: Channel, thread_ts: Any) -> str | None:
        """The parent ts for a reply; replying to a reply lands in the same thread."""
        if not thread_ts:
            return None
        parent = self.ws.find_message(channel.id, str(thread_ts))
        if parent is None:
            raise ApiError("thread_not_found")
        return parent.thread_ts or parent.ts

    def _content(self, args: dict[str, Any], *, with_metadata: bool = True) -> dict[str, Any]:
        """Validated text/blocks/attachments/metadata of a message."""
        text = args.get("text") or ""
        if len(str(text)) > MAX_TEXT:
            raise ApiError("msg_too_long")
        blocks = self._blocks(args)
        attachments = args.get("attachments")
        if attachments is not None and not isinstance(attachments, list):
            raise ApiError("invalid_attachments")
        if not text and not blocks and not attachments:
            raise ApiError("no_text")
        content: dict[str, Any] = {"text": str(text), "blocks": blocks, "attachments": attachments}
        if with_metadata:
            content["metadata"] = self._metadata(args)
        return content

    @staticmethod
    def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Decoded, validated blocks (50 at most), or None."""
        blocks = args.get("blocks")
        if blocks is None or blocks == "":
            return None
        if not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        if errors := block_errors(blocks, limit=MESSAGE_BLOCK_LIMIT):
            raise ApiError("invalid_blocks", errors)
        return copy.deepcopy(blocks)

    @staticmethod
    def _metadata(args: dict[str, Any]) -> dict[str, Any] | None:
        """Message metadata needs `event_type` and an object `event_payload`."""
        metadata = args.get("metadata")
        if metadata is None or metadata == "":
            return None
        if not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload", {}), dict)
        ):
            raise ApiError("invalid_metadata_format")
        return copy.deepcopy(metadata)

    def render(self, message: Message, *, include_metadata: bool = True) -> dict[str, Any]:
        """A message as history returns it, with thread summary fields on parents."""
        data = message.to_slack(include_metadata=include_metadata)
        replies = [m for m in self.ws.thread(message.channel, message.ts) if m.is_reply]
        if replies and not message.is_reply:
            users = list(dict.fromkeys(m.user for m in replies))
            data.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=replies[-1].ts,
            )
        return data

    # --- auth / chat ------------------------------------------------------------------------------------

    def api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """Identity of the bot token."""
        return {
            "url": f"https://{self.ws.domain}.slack.com/",
            "team": self.ws.team_name,
            "user": self.ws.users[self.ws.bot_user_id].name,
            "team_id": self.ws.team_id,
            "user_id": self.ws.bot_user_id,
            "bot_id": self.ws.bot_id,
            "is_enterprise_install": False,
        }

    def api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        """Post as the bot; a user id as `channel` posts to the DM with that user."""
        channel = self._target(args.get("channel"))
        self._writable(channel)
        content = self._content(args)
        thread_ts = self._thread_root(channel, args.get("thread_ts"))
        broadcast = thread_ts is not None and flag(args, "reply_broadcast")
        message = self.ws.post(
            channel.id,
            self.ws.bot_user_id,
            bot_id=self.ws.bot_id,
            thread_ts=thread_ts,
            reply_broadcast=broadcast,
            **content,
        )
        return {"channel": channel.id, "ts": message.ts, "message": message.to_slack()}

    def api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Edit one of the bot's messages, keeping the previous version in `edits`."""
        channel = self._channel(args.get("channel"))
        message = self._message(channel, args.get("ts"))
        if message.user != self.ws.bot_user_id:
            raise ApiError("cant_update_message")
        content = self._content(args)
        # Slack keeps fields the caller did not send (e.g. blocks on a text-only update).
        changes = {k: v for k, v in content.items() if k in args}
        message.edit(self.ws.next_ts(), **changes)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_slack()}

    def api_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Delete one of the bot's messages."""
        channel = self._channel(args.get("channel"))
        message = self._message(channel, args.get("ts"))
        if message.user != self.ws.bot_user_id:
            raise ApiError("cant_delete_message")
        message.deleted = True
        return {"channel": channel.id, "ts": message.ts}

    def api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Record an ephemeral message for one channel member."""
        channel = self._target(args.get("channel"))
        self._writable(channel)
        user = str(args.get("user") or "")
        if user not in channel.members or user not in self.ws.users:
            raise ApiError("user_not_in_channel")
        content = self._content(args, with_metadata=False)
        ephemeral = Ephemeral(
            channel=channel.id,
            user=user,
            ts=self.ws.next_ts(),
            text=content["text"],
            blocks=content["blocks"],
            thread_ts=args.get("thread_ts") or None,
        )
        self.ws.ephemeral_messages.append(ephemeral)
        return {"message_ts": ephemeral.ts}

    def api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """Permalink of a message (thread form for replies)."""
        channel = self._channel(args.get("channel"))
        message = self._message(channel, args.get("message_ts"))
        return {
            "channel": channel.id,
            "permalink": self.ws.permalink(channel.id, message.ts, message.thread_ts),
        }

    # --- conversations ----------------------------------------------------------------------------------

    def api_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open (or reuse) the bot's DM with one user."""
        if args.get("channel"):
            return {"channel": {"id": self._channel(args["channel"]).id}}
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            # Group DMs are out of scope for the sandbox; fail loudly rather than pretend.
            raise ApiError("not_supported_by_emulator", ["[ERROR] only 1:1 DMs are emulated"])
        user = self.ws.users.get(users[0])
        if user is None:
            raise ApiError("user_not_found")
        if user.deleted:
            raise ApiError("user_disabled")
        already_open = "D" + user.id[1:] in self.ws.channels
        channel = self.ws.channels[self.ws.open_dm(user.id)]
        if not flag(args, "return_im"):
            return {"channel": {"id": channel.id}}
        body: dict[str, Any] = {"channel": channel.to_slack(self.ws.bot_user_id)}
        if already_open:
            body.update(no_op=True, already_open=True)
        return body

    def api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Channel details from the bot's point of view (`is_member`)."""
        channel = self._channel(args.get("channel"))
        return {
            "channel": channel.to_slack(self.ws.bot_user_id, num_members=flag(args, "include_num_members"))
        }

    def api_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        """Add the bot to a public channel."""
        channel = self._channel(args.get("channel"))
        if channel.is_im or channel.is_private:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise ApiError("is_archived")
        body: dict[str, Any] = {}
        if self.ws.bot_user_id in channel.members:
            body = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.members.add(self.ws.bot_user_id)
        return {"channel": channel.to_slack(self.ws.bot_user_id), **body}

    def api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (and broadcast replies), newest first."""
        channel = self._channel(args.get("channel"))
        self._readable(channel)
        top_level = [m for m in self.ws.messages(channel.id) if not m.is_reply or m.reply_broadcast]
        newest_first = list(reversed(window(top_level, args)))
        messages, cursor = page(newest_first, args, default_limit=100)
        metadata = flag(args, "include_all_metadata")
        return {
            "messages": [self.render(m, include_metadata=metadata) for m in messages],
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def api_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first, oldest first."""
        channel = self._channel(args.get("channel"))
        self._readable(channel)
        if not args.get("ts"):
            raise ApiError("thread_not_found")
        root = self._thread_root(channel, args["ts"]) or ""
        thread = window(self.ws.thread(channel.id, root), args)
        messages, cursor = page(thread, args, default_limit=1000)
        metadata = flag(args, "include_all_metadata")
        return {
            "messages": [self.render(m, include_metadata=metadata) for m in messages],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def api_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Member ids of a channel, paginated."""
        channel = self._channel(args.get("channel"))
        members, cursor = page(sorted(channel.members), args, default_limit=100)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    # --- users / user groups ----------------------------------------------------------------------------

    def api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """A user's profile, time zone included."""
        user = self.ws.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        data = user.to_slack()
        if flag(args, "include_locale"):
            data["locale"] = "en-US"
        return {"user": data}

    def api_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        """Find a user by email."""
        email = str(args.get("email") or "").lower()
        user = next((u for u in self.ws.users.values() if u.email.lower() == email and email), None)
        if user is None:
            raise ApiError("users_not_found")
        return {"user": user.to_slack()}

    def api_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """All user groups, with member ids when `include_users`."""
        include_users = flag(args, "include_users")
        return {"usergroups": [g.to_slack(include_users=include_users) for g in self.ws.usergroups.values()]}

    def api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Member ids of one user group."""
        group = self.ws.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group.users)}

    # --- reactions --------------------------------------------------------------------------------------

    def _reaction_target(self, args: dict[str, Any]) -> tuple[Channel, Message]:
        """The channel and message a reactions.* call points at."""
        if not args.get("channel") or not args.get("timestamp"):
            raise ApiError("no_item_specified")
        channel = self._channel(args["channel"])
        return channel, self._message(channel, args["timestamp"])

    def api_reactions_get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A message with its reactions as `[{name, users, count}]`."""
        channel, message = self._reaction_target(args)
        data = self.render(message)
        data["permalink"] = self.ws.permalink(channel.id, message.ts, message.thread_ts)
        return {"type": "message", "channel": channel.id, "message": data}

    def api_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        """React as the bot."""
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise ApiError("invalid_name")
        channel, message = self._reaction_target(args)
        self._writable(channel)
        if not self.ws.add_reaction(channel.id, message.ts, self.ws.bot_user_id, name):
            raise ApiError("already_reacted")
        return {}

    def api_reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        """Remove the bot's reaction."""
        name = str(args.get("name") or "").strip(":")
        channel, message = self._reaction_target(args)
        if not self.ws.remove_reaction(channel.id, message.ts, self.ws.bot_user_id, name):
            raise ApiError("no_reaction")
        return {}

    # --- files ------------------------------------------------------------------------------------------

    def api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        """Announce an upload of `length` bytes; the bytes go to the returned URL."""
        filename = str(args.get("filename") or "")
        if not filename:
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: filename"])
        length = int_arg(args, "length", 0)
        if length <= 0:
            raise ApiError("missing_argument")  # Slack's answer for a missing or zero length
        upload = self.ws.new_upload(filename, length, self.ws.bot_user_id)
        return {"upload_url": self.upload_base + upload.id, "file_id": upload.id}

    def receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        """The bytes POSTed to an upload URL: (HTTP status, text body) as Slack's file edge answers."""
        upload = self.ws.uploads.get(file_id)
        if upload is None or upload.completed:
            return 404, "file not found"
        if len(content) != upload.length:
            return 400, f"length mismatch: announced {upload.length} bytes, received {len(content)}"
        upload.content = content
        return 200, f"OK - {len(content)}"

    def api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        """Finish uploads; with `channel_id` they are shared there as one message (with `initial_comment`)."""
        entries = _json_list(args.get("files"))
        uploads = [self.ws.uploads.get(str(e.get("id") or "")) for e in entries]
        ready = [u for u in uploads if u is not None and u.content is not None and not u.completed]
        if len(ready) != len(entries):
            raise ApiError("file_not_found")
        channel = None
        if args.get("channel_id"):
            if str(args["channel_id"]) in self.ws.users:
                # Slack wants the conversation id (D…), never a user id.
                raise ApiError("invalid_arguments", ["[ERROR] channel_id must be a conversation id"])
            channel = self._channel(args["channel_id"])
            self._writable(channel)
        thread_ts = self._thread_root(channel, args.get("thread_ts")) if channel else None
        for upload, entry in zip(ready, entries, strict=True):
            upload.title = str(entry.get("title") or upload.filename)
            upload.completed = True
        shown = [u.to_slack(self.ws.domain) for u in ready]
        if channel is not None:
            self.ws.post(
                channel.id,
                self.ws.bot_user_id,
                str(args.get("initial_comment") or ""),
                bot_id=self.ws.bot_id,
                thread_ts=thread_ts,
                files=shown,
            )
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shown]}


def _json_list(value: Any) -> list[dict[str, Any]]:
    """The `files` argument: a JSON array (sent as a string in forms) of objects with an `id`."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ApiError("invalid_arguments", ["[ERROR] files must be a JSON array"]) from None
    entries = value if isinstance(value, list) else []
    if not entries or not all(isinstance(e, dict) and e.get("id") for e in entries):
        raise ApiError("invalid_arguments", ["[ERROR] files must be a non-empty array of {id, title}"])
    return entries
