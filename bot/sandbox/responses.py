"""response_url endpoints: 5 uses within 30 minutes, ephemeral by default, able to replace the original."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.apierror import flag
from bot.sandbox.blockkit import MESSAGE_BLOCK_LIMIT, block_errors
from bot.sandbox.workspace import Ephemeral, Workspace

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


@dataclass
class ResponseUrl:
    """One minted response_url and what it may act on."""

    id: str
    channel: str
    user: str
    message_ts: str | None
    created: float
    uses: int = 0
    last_ephemeral_ts: str | None = None


class ResponseUrls:
    """Mints response URLs and applies what the bot POSTs to them; callers hold `workspace.lock`."""

    def __init__(self, workspace: Workspace, time_fn: Callable[[], float]) -> None:
        self.ws = workspace
        self.time_fn = time_fn
        self.urls: dict[str, ResponseUrl] = {}

    def create(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """Mint an id; `message_ts` is the message an interaction came from (for replace/delete_original)."""
        url_id = secrets.token_urlsafe(12)
        self.urls[url_id] = ResponseUrl(url_id, channel, user, message_ts, self.time_fn())
        return url_id

    def post(self, url_id: str, payload: Any) -> tuple[int, dict[str, Any]]:
        """Apply one POST; returns (HTTP status, JSON body)."""
        url = self.urls.get(url_id)
        if url is None:
            return 404, {"ok": False, "error": "no_active_url"}
        if self.time_fn() - url.created > LIFETIME_SECONDS:
            return 404, {"ok": False, "error": "expired_url"}
        if url.uses >= MAX_USES:
            return 404, {"ok": False, "error": "used_url"}
        url.uses += 1
        if not isinstance(payload, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        if flag(payload, "delete_original"):
            self._delete_original(url)
            return 200, {"ok": True}
        if problem := self._content_problem(payload):
            return 400, problem
        self._deliver(url, payload)
        return 200, {"ok": True}

    @staticmethod
    def _content_problem(payload: dict[str, Any]) -> dict[str, Any] | None:
        """Same content rules as chat.postMessage."""
        blocks = payload.get("blocks")
        if blocks is not None and (errors := block_errors(blocks, limit=MESSAGE_BLOCK_LIMIT)):
            return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": errors}}
        if not payload.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        return None

    def _deliver(self, url: ResponseUrl, payload: dict[str, Any]) -> None:
        """Replace the original, post in channel, or send an ephemeral message."""
        text, blocks = str(payload.get("text") or ""), payload.get("blocks")
        if flag(payload, "replace_original") and self._replace_original(url, text, blocks):
            return
        if payload.get("response_type") == "in_channel":
            thread_ts = payload.get("thread_ts")
            parent = self.ws.find_message(url.channel, thread_ts) if thread_ts else None
            self.ws.post(
                url.channel,
                self.ws.bot_user_id,
                text,
                blocks=blocks,
                bot_id=self.ws.bot_id,
                thread_ts=(parent.thread_ts or parent.ts) if parent else None,
            )
            return
        ephemeral = Ephemeral(
            url.channel,
            url.user,
            self.ws.next_ts(),
            text,
            blocks,
            payload.get("thread_ts"),
            via="response_url",
        )
        self.ws.ephemeral_messages.append(ephemeral)
        url.last_ephemeral_ts = ephemeral.ts

    def _original_ephemeral(self, url: ResponseUrl) -> Ephemeral | None:
        """The ephemeral message this URL may replace: the clicked one, else its own last reply."""
        wanted = {url.message_ts, url.last_ephemeral_ts} - {None}
        return next(
            (e for e in reversed(self.ws.ephemerals(url.channel, url.user)) if e.ts in wanted),
            None,
        )

    def _replace_original(self, url: ResponseUrl, text: str, blocks: Any) -> bool:
        """Edit the original message in place; False when there is nothing to replace."""
        message = self.ws.find_message(url.channel, url.message_ts) if url.message_ts else None
        if message is not None:
            message.edit(self.ws.next_ts(), text=text, blocks=blocks)
            return True
        ephemeral = self._original_ephemeral(url)
        if ephemeral is None:
            return False
        ephemeral.text, ephemeral.blocks = text, blocks
        return True

    def _delete_original(self, url: ResponseUrl) -> None:
        """Delete the original channel message or ephemeral message, if any."""
        message = self.ws.find_message(url.channel, url.message_ts) if url.message_ts else None
        if message is not None:
            message.deleted = True
        elif (ephemeral := self._original_ephemeral(url)) is not None:
            ephemeral.deleted = True
