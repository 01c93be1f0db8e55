"""HTTP: POST /slack/events for everything Slack sends; GET /healthz and /metrics for operators."""

from __future__ import annotations

import time

from slack_bolt import App, BoltRequest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.handoff import SignOffProcess
from bot.lanes import Lanes
from bot.observability import Telemetry, check_health, observed_dispatch

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_web_app(
    bolt_app: App,
    engine: Engine,
    telemetry: Telemetry | None = None,
    *,
    slack_events: bool = True,
    handoff: SignOffProcess | None = None,
    lanes: Lanes,
) -> Starlette:
    """An ASGI app; Bolt's sync dispatch runs on the request threads, in lanes (bot/lanes.py).

    `slack_events=False` serves only the operator endpoints (Socket Mode gets Slack's requests elsewhere).
    `handoff` takes reactions and sign-off clicks to the sign-off process (bot/handoff.py).
    """
    telemetry = telemetry or Telemetry(engine)

    async def events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        started = time.perf_counter()  # timed from here, as observed_dispatch times Bolt's part
        kind = handoff.take(body, request.url.query, request.headers) if handoff is not None else None
        if kind is not None:
            telemetry.observe_request(kind, "handed_off", time.perf_counter() - started)
            return Response(status_code=200)
        bolt_request = BoltRequest(
            body=body,
            query=request.url.query,
            headers={k: v for k, v in request.headers.items()},
        )
        result = await lanes.run(observed_dispatch, bolt_app, bolt_request, telemetry)
        return Response(
            status_code=result.status,
            content=result.body,
            headers=result.first_headers_without_set_cookie(),
        )

    async def healthz(_request: Request) -> Response:
        health = await run_in_threadpool(check_health, engine, telemetry)
        return JSONResponse(health.body, status_code=health.status_code)

    async def metrics(_request: Request) -> Response:
        # The delivery gauge reads the database, so the exposition is built off the event loop.
        content = await run_in_threadpool(telemetry.exposition)
        return Response(content, media_type=METRICS_CONTENT_TYPE)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
    if slack_events:
        routes.append(Route("/slack/events", events, methods=["POST"]))
    return Starlette(routes=routes)


def create_starting_app() -> Starlette:
    """What HOST:PORT answers before the database is ready: 503 everywhere, so Slack retries later."""

    async def starting(_request: Request) -> Response:
        return JSONResponse({"status": "starting", "database": "waiting"}, status_code=503)

    async def not_yet(_request: Request) -> Response:
        # Bolt would ack; a 503 makes Slack send the request again once serve can store what it asks.
        return Response("starting: not ready to handle Slack requests yet", status_code=503)

    return Starlette(
        routes=[
            Route("/healthz", starting, methods=["GET"]),
            Route("/metrics", starting, methods=["GET"]),
            Route("/slack/events", not_yet, methods=["POST"]),
        ]
    )
