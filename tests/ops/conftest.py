"""Ops fixtures: the assembled app served over real HTTP in this process, against the Slack emulator."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.sender import SlackSender
from bot.server import create_web_app
from bot.wiring import Runtime
from storage import delivery_repo
from storage.db import unit_of_work
from tests import runtimes

SIGNING_SECRET = "ops-signing-secret-5f3a9c0e7b21d846"
MAYA = "UMAYA0001"
CHANNEL = "CRELEASES"


# The real wiring, its requests signed with the secret the ops sender uses.
make_runtime = partial(runtimes.make_runtime, slack_signing_secret=SIGNING_SECRET)


@dataclass
class Served:
    """A runtime behind uvicorn on a free port, and a sender that signs like Slack."""

    runtime: Runtime
    base_url: str
    sender: SlackSender

    def get(self, path: str) -> tuple[int, str]:
        """GET a path; (status, body text) for any status."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def health(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz as (status, JSON)."""
        status, body = self.get("/healthz")
        return status, json.loads(body)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was (configure_logging replaces its handler)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def serve(
    runtime: Runtime, emulator: SlackEmulator, *, slack_events: bool = True, engine: Engine | None = None
) -> Iterator[Served]:
    """Serve the runtime's web app (on `engine` if given) on a free port until the generator is closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_web_app(
        runtime.bolt,
        engine or runtime.engine,
        runtime.telemetry,
        slack_events=slack_events,
        lanes=runtime.lanes,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    try:
        sender = SlackSender(base + "/slack/events", SIGNING_SECRET, emulator.workspace, emulator)
        yield Served(runtime, base, sender)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def served(emulator: SlackEmulator, tmp_path) -> Iterator[Served]:
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}")
    try:
        yield from serve(runtime, emulator)
    finally:
        runtime.stop()


def add_deliveries(runtime: Runtime, *rows: tuple[str, datetime]) -> None:
    """Insert deliveries as (state, slot), as if planned by a tick."""
    now = datetime.now(UTC)
    planned = [
        {
            "key": f"0:digest:U{n}:{slot.isoformat()}",
            "kind": "digest",
            "recipient": f"U{n:08d}",
            "slot": slot,
            "expires_at": slot + timedelta(days=1),
            "item_ids": "",
            "state": state,
            "created_at": now,
            "updated_at": now,
        }
        for n, (state, slot) in enumerate(rows)
    ]
    with unit_of_work(runtime.engine) as session:
        delivery_repo.insert_planned(session=session, rows=planned)
