"""Load: signed slash commands built up front, sent over keep-alive connections from client threads."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bench.common import CHANNEL, MANAGER, SIGNING_SECRET
from bot.sandbox.sender import SlackSender, sign
from bot.sandbox.workspace import Workspace
from bot.slack.ids import ActionId
from bot.slack.seal import Sealer

SIGN_OFF_EMOJI = "white_check_mark"

Request = tuple[bytes, dict[str, str]]


class _Recorder(SlackSender):
    """SlackSender that signs and returns the request instead of sending it."""

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> tuple[int, Any]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret or self.signing_secret, ts, body),
            **(headers or {}),
        }
        return 0, (body.encode(), signed)


def slash_commands(workspace: Workspace, text: str, count: int, channel: str = CHANNEL) -> list[Request]:
    """`count` distinct signed `/release <text>` requests; their response_urls are never used."""
    recorder = _Recorder("http://unused/", SIGNING_SECRET, workspace)
    return [recorder.command(MANAGER, channel, text)[1] for _ in range(count)]


def reaction(workspace: Workspace, channel: str, reply_ts: str, *, added: bool, event_ts: str) -> Request:
    """The manager's ✅ added to (a sign-off) or removed from (a reopening) an item's reply, as an event."""
    recorder = _Recorder("http://unused/", SIGNING_SECRET, workspace)
    event = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": MANAGER,
        "reaction": SIGN_OFF_EMOJI,
        "item_user": workspace.bot_user_id,
        "item": {"type": "message", "channel": channel, "ts": reply_ts},
        "event_ts": event_ts,
    }
    return recorder.event(event)[1]


def sign_off_click(workspace: Workspace, channel: str, reply_ts: str, item_id: int) -> Request:
    """The manager clicking an item reply's "Sign off" button: a block_actions payload like Slack's."""
    user = workspace.users[MANAGER]
    value = Sealer(SIGNING_SECRET).seal({"item": item_id})  # the app seals with its signing secret
    payload = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "api_app_id": workspace.app_id,
        "container": {
            "type": "message",
            "message_ts": reply_ts,
            "thread_ts": reply_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{time.time():.6f}.bench",
        "team": {"id": workspace.team_id, "domain": workspace.domain},
        "channel": {"id": channel},
        "state": {"values": {}},
        "response_url": "http://unused/",
        "actions": [
            {
                "action_id": ActionId.ITEM_SIGN_OFF.value,
                "block_id": "item",
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    recorder = _Recorder("http://unused/", SIGNING_SECRET, workspace)
    body = urlencode({"payload": json.dumps(payload)})
    return recorder.post(body, "application/x-www-form-urlencoded")[1]


@dataclass(slots=True)
class Run:
    """Latencies of a load run (ms), its wall time, and what the server spent on it."""

    latencies_ms: list[float]
    seconds: float
    sent: int = 0  # every request, the untimed ones that undo a write included
    server_cpu_seconds: float = 0.0  # the server's CPU time over the run (set by whoever can see it)

    def extend(self, other: Run) -> None:
        """Add another run's samples and time (rounds of the same target)."""
        self.latencies_ms += other.latencies_ms
        self.seconds += other.seconds
        self.sent += other.sent
        self.server_cpu_seconds += other.server_cpu_seconds

    @property
    def server_cpu_ms(self) -> float:
        """The server's CPU time per request sent, in ms: what a request costs, whatever it waited for."""
        return self.server_cpu_seconds * 1000 / self.sent if self.sent else 0.0

    @property
    def throughput(self) -> float:
        """Requests per second over the whole run."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def first_reply(port: int, request: Request) -> tuple[int, Any]:
    """Send one request and decode the reply (to check we measure the path we think we do)."""
    conn = _connect(port)
    try:
        status, data = _send(conn, request)
    finally:
        conn.close()
    return status, json.loads(data) if data.startswith(b"{") else data.decode()


def run_clients(port: int, per_client: list[list[Request]], *, timed_every: int = 1) -> Run:
    """One thread and one keep-alive connection per client, all released together; raises on any non-200.

    With `timed_every=2` only requests 0, 2, 4, … of each client are kept: the others put the state back
    (reopen what was just signed off) so that every timed request does the real work again.
    """
    conns = [_connect(port) for _ in per_client]  # connection set-up is not what we measure
    results: list[list[float]] = [[] for _ in per_client]
    errors: list[str] = []
    start = threading.Barrier(len(per_client) + 1)

    def client(index: int) -> None:
        conn, out = conns[index], results[index]
        start.wait()
        for n, request in enumerate(per_client[index]):
            t0 = time.perf_counter()
            status, _body = _send(conn, request)
            if n % timed_every == 0:
                out.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                errors.append(f"HTTP {status}")
                return

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(per_client))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    for conn in conns:
        conn.close()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return Run([ms for out in results for ms in out], seconds, sent=sum(map(len, per_client)))


def _connect(port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    assert conn.sock is not None
    # One request is one small write, but rule out Nagle + delayed-ACK stalls anyway.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _send(conn: http.client.HTTPConnection, request: Request) -> tuple[int, bytes]:
    body, headers = request
    conn.request("POST", "/slack/events", body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()
