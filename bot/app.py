"""Build the Bolt app: listeners, the error handler, and Bolt's fastest acknowledgement mode."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.services.registry import Services
from bot.slack import errors
from bot.slack.listeners import commands, events, fallbacks
from bot.slack.seal import Sealer


def create_app(settings: Settings, services: Services, client: WebClient) -> App:
    """A Bolt App wired to the services; listeners ack with their reply inside the request."""
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-needs-no-signing-secret",
        # Answer within the request: Bolt's default polls for the ack every 10 ms (see DESIGN.md).
        process_before_response=True,
        # auth.test runs lazily on the first request instead of blocking start-up on Slack.
        token_verification_enabled=False,
        request_verification_enabled=not settings.socket_mode,
    )
    # Buttons and modals carry sealed item references; the key never leaves the server.
    sealer = Sealer(
        signing_secret or (settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "")
    )
    errors.install(app, services.notices)
    commands.register(app, services)
    events.register(app, services, sealer)
    fallbacks.register(app)
    return app
