"""Acting as Slack towards the bot: signed slash commands, event callbacks and interactivity payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from bot.sandbox.workspace import Channel, User, Workspace

if TYPE_CHECKING:
    from bot.sandbox.emulator import SlackEmulator

VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack but still sent in every payload


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: "v0=" + hex HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _decode(data: bytes, content_type: str | None) -> Any:
    """JSON bodies as objects, anything else as text ("" for an empty ack)."""
    text = data.decode("utf-8", errors="replace")
    if "json" in (content_type or "") or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _find_element(blocks: list[dict[str, Any]] | None, action_id: str) -> tuple[dict[str, Any], str | None]:
    """The interactive element with `action_id` and its block_id ({} and None if absent)."""
    for block in blocks or []:
        candidates = [*block.get("elements", []), block.get("accessory") or {}, block.get("element") or {}]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, block.get("block_id")
    return {}, None


def _action(element: dict[str, Any], action_id: str, block_id: str, value: str) -> dict[str, Any]:
    """One `actions[]` entry shaped by the element type (buttons carry `value`, selects an option)."""
    kind = element.get("type", "button")
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": kind}
    action["action_ts"] = f"{time.time():.6f}"
    if kind in ("static_select", "overflow", "radio_buttons"):
        options = element.get("options", [])
        option = next((o for o in options if o.get("value") == value), {"value": value})
        action["selected_option"] = option
    elif kind == "users_select":
        action["selected_user"] = value
    else:
        action["value"] = value
        if "text" in element:
            action["text"] = element["text"]
    return action


def _state_values(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Accept Slack's `state.values` shape, or plain strings as plain_text_input values."""
    return {
        block_id: {
            action_id: v if isinstance(v, dict) else {"type": "plain_text_input", "value": v}
            for action_id, v in actions.items()
        }
        for block_id, actions in values.items()
    }


class SlackSender:
    """Sends signed requests to the bot's HTTP endpoint, as Slack does; each returns (status, body)."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        workspace: Workspace,
        emulator: SlackEmulator | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.ws = workspace
        self.emulator = emulator
        self.timeout = timeout

    # --- low level --------------------------------------------------------------------------------------

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """POST a signed body; `timestamp`/`secret` overrides make deliberately bad signatures."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        request_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret if secret is not None else self.signing_secret, ts, body),
            **(headers or {}),
        }
        request = Request(self.bot_url, data=body.encode(), headers=request_headers, method="POST")
        try:
            with urlopen(request, timeout=self.timeout) as response:
                return response.status, _decode(response.read(), response.headers.get("Content-Type"))
        except HTTPError as exc:
            return exc.code, _decode(exc.read(), exc.headers.get("Content-Type"))

    def _user(self, user_id: str) -> User:
        """A known user or ValueError (a typo in a test should fail loudly)."""
        user = self.ws.users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id!r}")
        return user

    def _channel_name(self, channel_id: str) -> str:
        """The `channel_name` Slack sends: the name, or "directmessage" for DMs."""
        channel: Channel | None = self.ws.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id!r}")
        return "directmessage" if channel.is_im else channel.name

    def _response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A live response_url from the emulator, or a placeholder without one."""
        if self.emulator is None:
            return f"https://hooks.slack.com/commands/{self.ws.team_id}/0/{secrets.token_hex(12)}"
        return self.emulator.new_response_url(channel_id, user_id, message_ts)

    def _trigger_id(self, user_id: str) -> str:
        """A trigger_id tied to the user when an emulator is present."""
        if self.emulator is None:
            return f"{int(time.time())}.0.{secrets.token_hex(16)}"
        return self.emulator.new_trigger_id(user_id)

    def _user_ref(self, user: User) -> dict[str, Any]:
        """The `user` object of interactivity payloads."""
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def _team_ref(self) -> dict[str, Any]:
        """The `team` object of interactivity payloads."""
        return {"id": self.ws.team_id, "domain": self.ws.domain}

    # --- slash commands ---------------------------------------------------------------------------------

    def command(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/release",
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """Invoke a slash command with a form body shaped like Slack's."""
        user = self._user(user_id)
        fields = [
            ("token", VERIFICATION_TOKEN),
            # A Slack Connect member's command carries their own organisation's team.
            ("team_id", user.team_id),
            ("team_domain", self.ws.domain),
            ("channel_id", channel_id),
            ("channel_name", self._channel_name(channel_id)),
            ("user_id", user.id),
            ("user_name", user.name),
            ("command", command),
            ("text", text),
            ("api_app_id", self.ws.app_id),
            ("is_enterprise_install", "false"),
            ("response_url", self._response_url(channel_id, user.id)),
            ("trigger_id", self._trigger_id(user.id)),
        ]
        body = urlencode(fields)
        return self.post(body, "application/x-www-form-urlencoded", timestamp=timestamp, secret=secret)

    # --- events -----------------------------------------------------------------------------------------

    def event(
        self,
        event: dict[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """Deliver an `event_callback`; pass the same `event_id` with `retry_num` to simulate a redelivery."""
        event = {**event}
        event.setdefault("event_ts", self.ws.next_ts())
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.ws.team_id,
            "api_app_id": self.ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.ws.team_id,
                    "user_id": self.ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope)
        return self.post(body, "application/json", headers=headers, timestamp=timestamp, secret=secret)

    def reaction(self, user: str, channel: str, ts: str, name: str, added: bool = True) -> tuple[int, Any]:
        """A user (un)reacts: update the workspace like Slack, then send reaction_added/removed."""
        with self.ws.lock:
            message = self.ws.find_message(channel, ts)
            if message is None:
                raise ValueError(f"no message {ts} in {channel}")
            change = self.ws.add_reaction if added else self.ws.remove_reaction
            if not change(channel, ts, user, name):
                raise ValueError(f"{user} {'already has' if added else 'has no'} :{name}: on {ts}")
            item_user = message.user
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
        }
        return self.event(event)

    def app_home_opened(self, user_id: str, tab: str = "home") -> tuple[int, Any]:
        """The user opens the app's Home (or Messages) tab."""
        channel = self.ws.open_dm(self._user(user_id).id)
        return self.event({"type": "app_home_opened", "user": user_id, "channel": channel, "tab": tab})

    # --- interactivity ----------------------------------------------------------------------------------

    def action(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str,
        block_id: str | None = None,
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """Click an element of a channel or ephemeral message: a `block_actions` payload, form-encoded."""
        user = self._user(user_id)
        with self.ws.lock:
            message = self.ws.find_message(channel_id, message_ts)
            ephemeral = next((e for e in self.ws.ephemerals(channel_id, user_id) if e.ts == message_ts), None)
            if message is None and ephemeral is None:
                raise ValueError(f"no message {message_ts} in {channel_id} visible to {user_id}")
            blocks = message.blocks if message is not None else ephemeral.blocks  # type: ignore[union-attr]
            element, found_block_id = _find_element(blocks, action_id)
            rendered = message.to_slack() if message is not None else None
        container = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": message is None,
        }
        payload = self._block_actions(
            user, container, _action(element, action_id, block_id or found_block_id or "", value)
        )
        payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
        payload["response_url"] = self._response_url(channel_id, user.id, message_ts)
        if rendered is not None:
            payload["message"] = rendered  # Slack omits the message for ephemeral containers
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def home_action(
        self,
        user_id: str,
        action_id: str,
        value: str,
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """Click an element of the user's App Home tab: a `block_actions` payload from a view container."""
        user = self._user(user_id)
        with self.ws.lock:
            view = self.ws.home_views.get(user.id)
            if view is None:
                raise ValueError(f"{user_id} has no Home tab published")
            view = copy.deepcopy(view)
        element, block_id = _find_element(view.get("blocks") or [], action_id)
        # Slack sends no channel and no response_url for clicks on a view.
        container = {"type": "view", "view_id": view.get("id", "")}
        payload = self._block_actions(user, container, _action(element, action_id, block_id or "", value))
        payload["view"] = view
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def _block_actions(self, user: User, container: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
        """What every `block_actions` payload carries, whatever was clicked."""
        return {
            "type": "block_actions",
            "user": self._user_ref(user),
            "api_app_id": self.ws.app_id,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self._trigger_id(user.id),
            "team": self._team_ref(),
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [action],
        }

    def view_submission(
        self,
        user_id: str,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]],
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        """Submit a modal (e.g. one from `emulator.modal_stack(user)`) with `state.values`."""
        user = self._user(user_id)
        view_id = view.get("id") or "V" + secrets.token_hex(5).upper()
        submitted = {
            "id": view_id,
            "team_id": self.ws.team_id,
            "type": "modal",
            "private_metadata": "",
            "callback_id": "",
            "hash": f"{int(time.time())}.{secrets.token_urlsafe(6)}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.ws.app_id,
            "bot_id": self.ws.bot_id,
            **view,
            "state": {"values": _state_values(values)},
        }
        payload = {
            "type": "view_submission",
            "team": self._team_ref(),
            "user": self._user_ref(user),
            "api_app_id": self.ws.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger_id(user.id),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def _interactive(
        self, payload: dict[str, Any], *, timestamp: int | str | None, secret: str | None
    ) -> tuple[int, Any]:
        """Interactivity payloads travel as a form with one `payload=<json>` field."""
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", timestamp=timestamp, secret=secret)
