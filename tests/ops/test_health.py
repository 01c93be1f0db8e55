"""GET /healthz: ok, degraded (Slack failing, deliveries lagging) with HTTP 200, 503 without a database."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.observability import app_version
from bot.sandbox.emulator import SlackEmulator
from storage.db import make_engine
from tests.ops.conftest import MAYA, Served, add_deliveries, serve


def test_a_fresh_deployment_is_ok_and_says_its_version(served: Served) -> None:
    status, body = served.health()
    assert status == 200
    assert body["status"] == "ok"
    assert body["version"] == app_version() != "unknown"
    assert body["database"] == "ok"
    assert body["slack"]["status"] == "unknown"  # no call yet: nothing to judge by
    assert body["deliveries"] == {"status": "ok", "oldest_due_seconds": None}


def test_slack_failing_is_degraded_but_still_200_and_recovers(
    served: Served, emulator: SlackEmulator
) -> None:
    client = served.runtime.bolt.client
    emulator.pause("refuse")
    with contextlib.suppress(OSError):
        client.users_info(user=MAYA)
    calls_before = len(emulator.calls)
    status, body = served.health()
    assert status == 200
    assert body["status"] == "degraded"
    assert body["slack"]["status"] == "failing"
    assert body["slack"]["last_error"].startswith("users.info: ")
    emulator.resume()
    assert len(emulator.calls) == calls_before, "a health check must not call Slack itself"

    client.users_info(user=MAYA)
    status, body = served.health()
    assert (status, body["status"], body["slack"]["status"]) == (200, "ok", "ok")


def test_a_revoked_token_is_failing_but_an_unknown_user_is_not(
    served: Served, emulator: SlackEmulator
) -> None:
    client = served.runtime.bolt.client
    try:
        client.users_info(user="UNOBODY01")
    except SlackApiError as exc:
        assert exc.response["error"] == "user_not_found"
    assert served.health()[1]["slack"]["status"] == "ok"  # Slack answered; the user just isn't there

    emulator.inject("users.info", "server_error", status=503)
    with contextlib.suppress(SlackApiError):
        client.users_info(user=MAYA)
    assert served.health()[1]["slack"]["status"] == "failing"


def test_a_delivery_waiting_past_five_minutes_is_degraded(served: Served) -> None:
    now = datetime.now(UTC)
    add_deliveries(
        served.runtime, ("pending", now - timedelta(minutes=3)), ("sent", now - timedelta(hours=1))
    )
    status, body = served.health()
    assert (status, body["status"], body["deliveries"]["status"]) == (200, "ok", "ok")
    assert 170 <= body["deliveries"]["oldest_due_seconds"] <= 400

    add_deliveries(served.runtime, ("sending", now - timedelta(minutes=10)))
    status, body = served.health()
    assert (status, body["status"], body["deliveries"]["status"]) == (200, "degraded", "lagging")
    assert body["deliveries"]["oldest_due_seconds"] >= 600


def test_a_future_delivery_is_not_lagging(served: Served) -> None:
    add_deliveries(served.runtime, ("pending", datetime.now(UTC) + timedelta(hours=2)))
    assert served.health()[1]["deliveries"] == {"status": "ok", "oldest_due_seconds": None}


def test_an_unreachable_database_is_503(served: Served, emulator: SlackEmulator, tmp_path) -> None:
    unreachable = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'rc.db'}")
    endpoints = serve(served.runtime, emulator, engine=unreachable)
    try:
        status, body = next(endpoints).health()
    finally:
        endpoints.close()
    assert status == 503
    assert body == {"status": "unavailable", "version": app_version(), "database": "unreachable"}
