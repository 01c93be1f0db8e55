"""Acknowledge what no listener handles, so Slack does not retry it or disable the app's events."""

from __future__ import annotations

import logging
import re

from slack_bolt import App

log = logging.getLogger(__name__)
_ANYTHING = re.compile(".*")


def register(app: App) -> None:
    """Catch-alls; register them last, since Bolt runs the first listener that matches."""

    @app.event(_ANYTHING)
    def ignore_event(ack, event: dict) -> None:
        ack()
        log.debug("ignored event %s", event.get("type"))

    @app.action(_ANYTHING)
    def ignore_action(ack, action: dict) -> None:
        ack()
        log.info("ignored unknown or stale action %s", action.get("action_id"))

    @app.view(_ANYTHING)
    def ignore_view(ack) -> None:
        ack()
