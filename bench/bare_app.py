"""The floor: a Bolt app whose /release handler only acks, on the same Starlette + uvicorn stack as `serve`.

Run as `python -m bench.bare_app`; it reads the same environment as `serve` (SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET, SLACK_API_URL, HOST, PORT) so both processes are configured alike.
"""

from __future__ import annotations

import os

import uvicorn
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_bare_app(token: str, signing_secret: str, api_url: str) -> App:
    """Bolt at its fastest: ack inside the request, no auth.test at start-up (as bot/app.py configures it)."""
    app = App(
        client=WebClient(token=token, base_url=api_url, timeout=2),
        signing_secret=signing_secret,
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/release")
    def release_command(ack) -> None:
        ack()

    return app


def create_web_app(bolt_app: App) -> Starlette:
    """The same endpoint shape as bot/server.py; /healthz answers without a database."""

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
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    """Serve until SIGTERM, with the uvicorn settings bot/runner.py uses."""
    env = os.environ
    bolt = create_bare_app(env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"], env["SLACK_API_URL"])
    config = uvicorn.Config(
        create_web_app(bolt),
        host=env.get("HOST", "127.0.0.1"),
        port=int(env["PORT"]),
        log_level=env.get("LOG_LEVEL", "INFO").lower(),
        access_log=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
