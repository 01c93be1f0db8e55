"""Security promises no other test shows: signatures checked, secrets neither stored nor exposed."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlmodel import SQLModel

from bot.domain.errors import InvalidInput
from bot.sandbox.emulator import SlackEmulator
from bot.slack.seal import Sealer
from tests.e2e.harness import reply_text
from tests.ops.conftest import CHANNEL, MAYA, SIGNING_SECRET, Served

NEXT_YEAR = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 365 * 86400))


def _post(served: Served, body: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        served.base_url + "/slack/events",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _command_body(text: str) -> str:
    return urlencode(
        {"team_id": "T0RELCAPT", "channel_id": CHANNEL, "user_id": MAYA, "command": "/release", "text": text}
    )


def _listing(served: Served) -> str:
    status, reply = served.sender.command(MAYA, CHANNEL, "list")
    assert status == 200
    return reply_text(reply)


def test_a_body_changed_after_signing_is_refused(served: Served) -> None:
    ts = str(int(time.time()))
    signed = _command_body(f'new "Genuine" {NEXT_YEAR} 10:00')
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{signed}".encode(), hashlib.sha256).hexdigest()
    )
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    assert _post(served, _command_body(f'new "Tampered" {NEXT_YEAR} 10:00'), headers) == 401
    assert "Tampered" not in _listing(served)


def test_a_request_without_a_signature_is_refused(served: Served) -> None:
    assert _post(served, _command_body(f'new "Unsigned" {NEXT_YEAR} 10:00'), {}) == 401
    assert "Unsigned" not in _listing(served)


def test_a_signed_request_replayed_after_five_minutes_is_refused(served: Served) -> None:
    ts = str(int(time.time()) - 5 * 60 - 5)
    body = _command_body(f'new "Replayed" {NEXT_YEAR} 10:00')
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    assert _post(served, body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}) == 401
    assert "Replayed" not in _listing(served)


def test_no_column_could_hold_a_credential() -> None:
    suspicious = {
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if any(word in column.name for word in ("token", "secret", "password", "credential"))
    }
    # claim_token is a random value fencing one replica's claim on a delivery, not a Slack credential.
    assert suspicious <= {"delivery.claim_token"}


def test_tokens_never_reach_the_database_or_the_operator_endpoints(
    served: Served, emulator: SlackEmulator, tmp_path: Path
) -> None:
    assert served.sender.command(MAYA, CHANNEL, f'new "Payments 2.4" {NEXT_YEAR} 10:00')[0] == 200
    served.sender.command(MAYA, CHANNEL, "assign 8 <@UANA00001|ana>")
    served.runtime.services.deliveries.run_due()
    served.runtime.bolt.client.users_info(user=MAYA)
    exposed = served.get("/metrics")[1] + served.get("/healthz")[1]

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("rc.db*"))
    assert b"Payments 2.4" in stored  # the scan really sees the data
    for secret in (emulator.workspace.bot_token, SIGNING_SECRET):
        assert secret.encode() not in stored
        assert secret not in exposed


def test_a_sealed_value_that_was_changed_or_sealed_elsewhere_is_refused() -> None:
    ours, theirs = Sealer(SIGNING_SECRET), Sealer("another-deployments-secret")
    value = ours.seal({"item": 8})
    assert ours.unseal(value) == {"item": 8}
    body, _, signature = value.partition(".")
    changed = ours.seal({"item": 9}).partition(".")[0] + "." + signature
    for bad in (changed, theirs.seal({"item": 8}), body, "", None):
        with pytest.raises(InvalidInput, match="not one I made"):
            ours.unseal(bad)
