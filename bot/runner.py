"""Run the assembled app until asked to stop: uvicorn in HTTP mode, a WebSocket in Socket Mode."""

from __future__ import annotations

import logging
import signal
import threading

import uvicorn
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.server import create_web_app
from bot.wiring import Runtime, build

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The process cannot start; the message says why."""


def serve_forever(settings: Settings) -> None:
    """Build, start background work, serve Slack, and shut down cleanly on SIGTERM or Ctrl-C."""
    try:
        runtime = build(settings)
    except OperationalError as exc:
        raise SystemExit(
            f"release-captain: the database is unreachable ({exc.orig}); check DATABASE_URL."
        ) from None
    runtime.start(tick=True)
    try:
        if settings.socket_mode:
            _socket_mode(runtime)
        else:
            _http(runtime)
    finally:
        runtime.stop()
        log.info("stopped")


def _http(runtime: Runtime) -> None:
    settings = runtime.settings
    config = uvicorn.Config(
        create_web_app(runtime.bolt, runtime.engine),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="off",
    )
    log.info("serving HTTP on %s:%s (POST /slack/events, GET /healthz)", settings.host, settings.port)
    # uvicorn turns SIGTERM and SIGINT into a graceful shutdown (in-flight requests finish first), then
    # re-raises the signal to whatever handler was there before. Ours only logs, so the process goes on
    # to stop the card worker and close the database instead of dying mid-cleanup.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: log.info("received %s", signal.Signals(signum).name))
    uvicorn.Server(config).run()


def _socket_mode(runtime: Runtime) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert runtime.settings.slack_app_token is not None
    handler = SocketModeHandler(runtime.bolt, runtime.settings.slack_app_token.get_secret_value())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        handler.connect()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        raise SystemExit(
            f"release-captain: Slack refused the Socket Mode connection ({error}); check SLACK_APP_TOKEN "
            "(an app-level token with connections:write) and that Socket Mode is on for the app."
        ) from None
    log.info("connected to Slack in Socket Mode")
    stop.wait()
    handler.close()
