"""The Slack-level error every Web API handler raises, and argument coercion shared by them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Slack-level failure: answered as HTTP 200 `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []

    def to_response(self) -> dict[str, Any]:
        """The JSON body Slack would send."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


def flag(args: dict[str, Any], name: str) -> bool:
    """Slack booleans arrive as true/"true"/"1" (slack_sdk sends "1")."""
    return str(args.get(name, "")).lower() in ("1", "true")
