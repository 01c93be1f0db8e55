"""One error handler for every listener: friendly replies for UserErrors, a reference id for the rest."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt import App, BoltResponse

from bot.domain.errors import UserError
from bot.ports import Notices
from bot.slack import replies

log = logging.getLogger(__name__)


def install(app: App, notices: Notices) -> None:
    """Register the handler; no listener catches exceptions itself."""

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond=None) -> BoltResponse:
        if isinstance(error, UserError):
            text, blocks = replies.error_reply(error.message, error.hint)
        else:
            reference = secrets.token_hex(4)
            log.error("unexpected error (reference %s)", reference, exc_info=error)
            text, blocks = replies.error_reply(
                f"Something went wrong on my side (reference `{reference}`). Nothing was changed "
                "unless the reply said so; please try again or tell your Release Captain operator."
            )
        if body.get("command"):
            # Slash commands take the reply in the HTTP response itself: one round trip, no response_url.
            payload = {"response_type": "ephemeral", "text": text, "blocks": blocks}
            return BoltResponse(
                status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
            )
        event = body.get("event") or {}
        if event.get("user") and (event.get("item") or {}).get("channel"):
            # Events have no response_url: answer the person ephemerally where they reacted.
            notices.ephemeral(
                event["item"]["channel"],
                event["user"],
                text,
                blocks=blocks,
                thread_ts=event["item"].get("ts"),
            )
            return BoltResponse(status=200, body="")
        if respond is not None:
            try:
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
            except Exception:
                log.exception("could not deliver an error reply through response_url")
        # Always 200: a 5xx would make Slack retry a request that will fail the same way.
        return BoltResponse(status=200, body="")
