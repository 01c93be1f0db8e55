"""HTTP mode: POST /slack/events for everything Slack sends, GET /healthz for load balancers."""

from __future__ import annotations

from slack_bolt import App, BoltRequest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage.db import ping


def create_web_app(bolt_app: App, engine: Engine) -> Starlette:
    """An ASGI app; Bolt's sync dispatch runs on the thread pool so requests don't queue behind each other."""

    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        bolt_request = BoltRequest(
            body=body,
            query=request.url.query,
            headers={k: v for k, v in request.headers.items()},
        )
        result = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return Response(
            status_code=result.status,
            content=result.body,
            headers=result.first_headers_without_set_cookie(),
        )

    async def healthz(_request: Request) -> Response:
        ok = await run_in_threadpool(ping, engine)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"},
            status_code=200 if ok else 503,
        )

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
