"""One error handler: UserErrors become ephemeral replies, surprises get a reference id and a log line."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltRequest

from bot.config import load_settings
from bot.domain.errors import NotFound
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import build

SECRET = "unit-signing-secret"


@pytest.fixture
def runtime(tmp_path):
    with SlackEmulator() as emulator:
        emulator.start()
        settings = load_settings(
            slack_bot_token=emulator.workspace.bot_token,
            slack_signing_secret=SECRET,
            slack_api_url=emulator.api_url,
            database_url=f"sqlite:///{tmp_path / 'rc.db'}",
            _env_file=None,
        )
        runtime = build(settings)
        yield runtime
        runtime.stop()


def _command(runtime, text: str) -> tuple[int, dict]:
    body = urlencode(
        {
            "team_id": "T0RELCAPT",
            "channel_id": "CRELEASES",
            "user_id": "UMAYA0001",
            "command": "/release",
            "text": text,
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "1.2.3",
        }
    )
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    request = BoltRequest(
        body=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature,
        },
    )
    response = runtime.bolt.dispatch(request)
    return response.status, json.loads(response.body)


def test_a_user_error_is_an_ephemeral_reply_with_status_200(runtime, monkeypatch) -> None:
    def missing(*_args, **_kwargs):
        raise NotFound("There is no active release in this channel.")

    monkeypatch.setattr(runtime.services.releases, "status", missing)
    status, reply = _command(runtime, "status")
    assert status == 200
    assert reply["response_type"] == "ephemeral"
    assert "There is no active release in this channel." in reply["text"]


def test_an_unexpected_error_gets_a_reference_id_and_a_logged_traceback(runtime, monkeypatch, caplog) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(runtime.services.releases, "status", broken)
    with caplog.at_level(logging.ERROR):
        status, reply = _command(runtime, "status")
    assert status == 200  # never a 5xx: Slack would retry a request that fails the same way
    assert "database on fire" not in reply["text"]  # internals stay in the log
    reference = reply["text"].split("reference `")[1].split("`")[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "database on fire" in str(logged[0].exc_info[1])
