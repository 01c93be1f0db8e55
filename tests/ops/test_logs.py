"""Logs: JSON or text lines, request and delivery ids on every line, and no secret in any of them."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.config import SettingsError, configure_logging, load_settings
from bot.logsetup import REDACTED, RedactingFilter, Redactor, configure, current_context, log_context
from bot.sandbox.emulator import SlackEmulator
from bot.slack.messenger import DELIVERY_EVENT
from tests.ops.conftest import CHANNEL, MAYA, SIGNING_SECRET, make_runtime, serve
from tests.runtimes import MovableClock

ANA = "UANA00001"
APP_TOKEN = "xapp-1-A0RELCAPT-4242-0123456789abcdef0123456789abcdef"
T0 = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)  # a Monday; the release launches ten days later


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_a_json_line_has_time_level_logger_message_and_context(restore_logging) -> None:
    stream = io.StringIO()
    configure(level="INFO", log_format="json", stream=stream)
    with log_context(request_id="Ev123"), log_context(delivery_id=7):
        assert current_context() == {"request_id": "Ev123", "delivery_id": 7}
        logging.getLogger("release_captain.test").info("sent %s", "digest", extra={"channel": "C1"})
    logging.getLogger("release_captain.test").warning("after")

    first, second = _lines(stream)
    assert first["level"] == "INFO" and first["logger"] == "release_captain.test"
    assert first["message"] == "sent digest"
    assert (first["request_id"], first["delivery_id"], first["channel"]) == ("Ev123", 7, "C1")
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert "request_id" not in second  # the context ended with its block


def test_a_text_line_carries_the_context_as_key_value(restore_logging) -> None:
    stream = io.StringIO()
    configure(level="INFO", log_format="text", stream=stream)
    with log_context(request_id="1.2.3"):
        logging.getLogger("rc").info("hello")
    assert stream.getvalue().rstrip().endswith("INFO rc hello request_id=1.2.3")


def test_auto_is_json_when_nobody_is_watching(restore_logging) -> None:
    stream = io.StringIO()  # not a terminal, like a container's stderr
    configure(level="INFO", log_format="auto", stream=stream)
    logging.getLogger("rc").info("hello")
    assert _lines(stream)[0]["message"] == "hello"


def test_tokens_and_the_signing_secret_are_redacted_everywhere(restore_logging) -> None:
    stream = io.StringIO()
    configure(level="DEBUG", log_format="json", secrets=[SIGNING_SECRET], stream=stream)
    log = logging.getLogger("rc")
    bot_token = "xoxb-1111-2222-AbCdEfGh"
    log.info("token %s and %s", bot_token, APP_TOKEN)
    log.info("user token xoxp-1-2-3 in the message itself")
    log.info("secret in an extra", extra={"header": f"v0={SIGNING_SECRET}"})
    try:
        raise RuntimeError(f"Slack said no to {bot_token} signed with {SIGNING_SECRET}")
    except RuntimeError:
        log.exception("failed")

    text = stream.getvalue()
    for secret in (bot_token, APP_TOKEN, "xoxp-1-2-3", SIGNING_SECRET):
        assert secret not in text
    lines = _lines(stream)
    assert lines[0]["message"] == f"token xoxb-{REDACTED} and xapp-{REDACTED}"
    assert lines[2]["header"] == f"v0={REDACTED}"
    assert "RuntimeError: Slack said no to xoxb-" in lines[3]["exception"]


def test_a_malformed_log_call_is_written_as_given_instead_of_raising() -> None:
    record = logging.LogRecord("rc", logging.INFO, __file__, 1, "%s and %s", ("xoxb-9-9-secret",), None)
    assert RedactingFilter(Redactor()).filter(record)
    assert record.getMessage() == f"%s and %s ('xoxb-{REDACTED}',)"


def test_a_command_and_a_delivery_at_debug_log_no_secret(
    emulator: SlackEmulator, tmp_path, restore_logging, monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "")  # HTTP mode, whatever the environment says
    clock = MovableClock(T0)
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}", clock=clock, log_level="DEBUG")
    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        # The same call `release-captain serve` makes, with the app token configured too.
        settings = runtime.settings.model_copy(
            update={"slack_app_token": SecretStr(APP_TOKEN), "log_format": "json"}
        )
        configure_logging(settings)
    endpoints = serve(runtime, emulator)
    try:
        served = next(endpoints)
        reply = served.sender.command(MAYA, CHANNEL, 'new "Payments 2.4" 2027-03-11 14:00')
        assert reply[0] == 200, reply
        served.sender.command(MAYA, CHANNEL, f"assign 8 <@{ANA}|ana>")
        at = datetime(2027, 3, 8, 0, 0, tzinfo=UTC)
        while at < datetime(2027, 3, 9, 12, 0, tzinfo=UTC):
            runtime.services.deliveries.run_due(at)
            at += timedelta(hours=1)
    finally:
        endpoints.close()
        runtime.stop()
    delivered = [
        c
        for c in emulator.calls_to("chat.postMessage")
        if DELIVERY_EVENT in json.dumps(c.args.get("metadata"))
    ]
    assert delivered, "a reminder should have been sent"

    text = stream.getvalue()
    for secret in (emulator.workspace.bot_token, APP_TOKEN, SIGNING_SECRET):
        assert secret not in text
    lines = _lines(stream)
    # The debug output was really captured: slack_sdk's request lines, each tagged with what caused it.
    sdk = [line for line in lines if line["logger"].startswith("slack_sdk")]
    assert any(line.get("request_id") and "users.info" in line["message"] for line in sdk)
    assert any(line.get("delivery_id") and "chat.postMessage" in line["message"] for line in sdk)


def test_unknown_log_formats_and_negative_retention_are_refused_clearly() -> None:
    with pytest.raises(SettingsError, match="LOG_FORMAT is invalid"):
        load_settings(log_format="xml", _env_file=None)
    with pytest.raises(SettingsError, match="RETENTION_DAYS is invalid"):
        load_settings(retention_days=-1, _env_file=None)
    assert load_settings(log_format="JSON", _env_file=None).log_format == "json"
