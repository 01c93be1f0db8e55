"""Build the Bolt app: listeners, the error handler, and Bolt's fastest acknowledgement mode."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.services.registry import Services
from bot.slack import errors
from bot.slack.listeners import actions, announce, commands, events, fallbacks, home, views
from bot.slack.seal import Sealer


def create_app(
    settings: Settings, services: Services, client: WebClient, *, verified_upstream: bool = False
) -> App:
    """A Bolt App wired to the services; listeners ack with their reply inside the request.

    `verified_upstream`: the requests were verified by the process that received them (bot/handoff.py),
    possibly longer ago than the five minutes Bolt allows a signature's timestamp.
    """
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-needs-no-signing-secret",
        # Answer within the request: Bolt's default polls for the ack every 10 ms (see DESIGN.md).
        process_before_response=True,
        # auth.test runs lazily on the first request instead of blocking start-up on Slack.
        token_verification_enabled=False,
        request_verification_enabled=not (settings.socket_mode or verified_upstream),
    )
    sealer = make_sealer(settings)
    errors.install(app, services.notices)
    commands.register(app, services, sealer)
    events.register(app, services, sealer)
    home.register(app, services, sealer)  # before actions: it takes the sign-off clicks made on Home
    actions.register(app, services, sealer)
    views.register(app, services, sealer)
    announce.register(app, services, sealer)
    fallbacks.register(app)
    return app


def make_sealer(settings: Settings) -> Sealer:
    """The one Sealer of this deployment: the listeners and the card publisher must share its key."""
    # Buttons and modals carry sealed item references; the key never leaves the server.
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    return Sealer(
        signing_secret or (settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "")
    )
