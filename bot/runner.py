"""Run the assembled app until asked to stop: uvicorn in HTTP mode, a WebSocket in Socket Mode."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.handoff import SignOffProcess
from bot.server import create_starting_app, create_web_app
from bot.templating.sandbox import TemplateError
from bot.wiring import Runtime, build
from storage.db import make_engine, wait_for_database

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The process cannot start; the message says why."""


def serve_forever(settings: Settings) -> None:
    """Build, start background work, serve Slack, and shut down cleanly on SIGTERM or Ctrl-C."""
    try:
        with _starting(settings):
            _wait_for_database(settings)
            runtime = build(settings)
    except OperationalError as exc:
        raise SystemExit(
            f"release-captain: the database is unreachable ({exc.orig}); check DATABASE_URL."
        ) from None
    except TemplateError as exc:
        # A template in TEMPLATES_DIR that can't be used: refuse to start rather than post something broken.
        raise SystemExit(
            f"release-captain: announcement template {exc}. "
            "Fix it, then check with `release-captain templates check`."
        ) from None
    handoff = _fork_sign_offs(runtime)
    if handoff is not None:
        runtime.telemetry.watch_backlog("sign_offs", handoff.backlog)
        runtime.telemetry.watch_peer("sign_offs", handoff.peer_report)
    runtime.start(tick=True)
    _freeze_startup_objects()
    try:
        if settings.socket_mode:
            _socket_mode(runtime)
        else:
            _http(runtime, handoff)
    finally:
        if handoff is not None:
            handoff.stop()  # after the server: nothing more is handed over, and the child's cards go out
        runtime.stop()
        log.info("stopped")


def _fork_sign_offs(runtime: Runtime) -> SignOffProcess | None:
    """The sign-off process, forked now: built and migrated, no thread running yet (bot/handoff.py)."""
    if not runtime.settings.sign_off_process_enabled:
        return None
    try:
        return SignOffProcess(runtime).start()
    except (RuntimeError, OSError) as exc:
        # Serving matters more than where sign-offs run: the thread pool applies them as it always could.
        log.warning("no sign-off process (%s); reactions and clicks are applied in this process", exc)
        return None


def _freeze_startup_objects() -> None:
    """Move everything start-up allocated out of the garbage collector's sight.

    The imports (SQLAlchemy, Pydantic, Bolt, Jinja2) leave over 100,000 long-lived objects; every
    full collection walked all of them while requests waited, which was most of `/release status`'s p99 at
    20 clients (110-137 ms, 54 ms frozen; bench/README.md). They live as long as the process anyway.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def _starting(settings: Settings) -> Iterator[None]:
    """While the database is awaited and the app built, answer 503 on HOST:PORT.

    /healthz says "starting", and Slack's requests get a 503 so that Slack retries them later: acking
    them now would tell Slack they were handled when nothing could be stored.
    """
    config = uvicorn.Config(
        create_starting_app(),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="starting-http", daemon=True)
    thread.start()
    try:
        yield
    finally:
        # The real server binds the same port next; connections in the short gap are refused (Slack retries).
        server.should_exit = True
        thread.join(timeout=10)


def _wait_for_database(settings: Settings) -> None:
    """Retry connecting with backoff for DATABASE_WAIT_SECONDS; OperationalError when it never answers."""
    engine = make_engine(settings.database_url)

    def retrying(error: OperationalError, delay: float) -> None:
        first_line = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        log.warning("database not ready (%s); retrying in %.1f s", first_line, delay)

    try:
        wait_for_database(engine, seconds=settings.database_wait_seconds, on_retry=retrying)
    finally:
        engine.dispose()


def _http(runtime: Runtime, handoff: SignOffProcess | None) -> None:
    settings = runtime.settings
    config = uvicorn.Config(
        create_web_app(runtime.bolt, runtime.engine, runtime.telemetry, handoff=handoff, lanes=runtime.lanes),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler: same format, same redaction
        access_log=False,
        lifespan="off",
    )
    log.info(
        "serving HTTP on %s:%s (POST /slack/events, GET /healthz, GET /metrics)", settings.host, settings.port
    )
    # uvicorn turns SIGTERM and SIGINT into a graceful shutdown (in-flight requests finish first), then
    # re-raises the signal to whatever handler was there before. Ours only logs, so the process goes on
    # to stop the card worker and close the database instead of dying mid-cleanup.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: log.info("received %s", signal.Signals(signum).name))
    uvicorn.Server(config).run()


def _socket_mode(runtime: Runtime) -> None:
    from bot.observability import ObservedSocketModeHandler

    assert runtime.settings.slack_app_token is not None
    handler = ObservedSocketModeHandler(
        runtime.bolt, runtime.settings.slack_app_token.get_secret_value(), runtime.telemetry, runtime.lanes
    )
    operator = _operator_endpoints(runtime)
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
    operator.should_exit = True


def _operator_endpoints(runtime: Runtime) -> uvicorn.Server:
    """GET /healthz and /metrics on HOST:PORT in Socket Mode, where Slack itself needs no HTTP server."""
    settings = runtime.settings
    config = uvicorn.Config(
        create_web_app(
            runtime.bolt, runtime.engine, runtime.telemetry, slack_events=False, lanes=runtime.lanes
        ),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers; ours above decide when to stop.
    threading.Thread(target=server.run, name="operator-http", daemon=True).start()
    log.info("serving GET /healthz and GET /metrics on %s:%s", settings.host, settings.port)
    return server
