"""Slack failing in every way it fails: 429 storms, 5xx, timeouts, unreachable for minutes, slower than a
lease, and the app's token revoked. Each test checks Slack's messages, every row's end and the audit."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox.emulator import SlackEmulator
from bot.services.deliveries import MAX_ATTEMPTS
from storage.tables import Delivery
from tests.e2e.harness import wait_until
from tests.faults.helpers import (
    NOW,
    FastBot,
    deliveries,
    delivery_service,
    env,
    posted,
    scheduler_audit,
    seed,
    states,
    tick,
)
from tests.faults.ledger import check_deliveries, fault

pytestmark = pytest.mark.e2e


def _slot_order(rows: dict[int, Delivery]) -> list[int]:
    return [d.id or 0 for d in sorted(rows.values(), key=lambda d: (d.slot, d.id))]


def test_a_429_storm_is_waited_out_in_slot_order_and_sends_each_once(
    emulator: SlackEmulator, database_url: str
) -> None:
    ids = seed(database_url, emulator, summaries=12)
    emulator.inject("chat.postMessage", "ratelimited", count=2, retry_after=1)
    report = delivery_service(emulator, database_url).run_due(NOW)

    assert (report.sent, report.retrying, report.dead) == (12, 0, 0)
    check_deliveries(posted(emulator), once=ids)
    rows = deliveries(database_url)
    assert Counter(d.state for d in rows.values()) == Counter({"sent": 12})
    calls = emulator.calls_to("chat.postMessage")
    assert [c.status for c in calls[:3]] == [429, 429, 200]
    # Retry-After (1 s) was waited out before each next try.
    assert all(later.at - earlier.at >= 0.95 for earlier, later in itertools.pairwise(calls[:3]))
    delivered = [c.args["metadata"]["event_payload"]["delivery"] for c in calls if c.ok]
    assert delivered == _slot_order(rows)  # the storm kept the order
    assert scheduler_audit(database_url) == Counter()


def test_5xx_and_timeouts_are_retried_and_what_took_effect_is_found_not_resent(
    emulator: SlackEmulator, database_url: str
) -> None:
    ids = seed(database_url, emulator, summaries=8)
    emulator.timeout_seconds = 0.8  # longer than the client's timeout: the post happens, no answer comes
    emulator.inject("chat.postMessage", "server_error", count=2, status=500)
    emulator.inject("chat.postMessage", "server_error", count=1, status=503)
    emulator.inject("chat.postMessage", "internal_error")  # posted, then "internal_error"
    emulator.inject("chat.postMessage", "timeout", count=2)
    service = delivery_service(emulator, database_url, timeout=0.5)
    for minutes in range(0, 40, 6):  # past every backoff
        service.run_due(NOW + timedelta(minutes=minutes))

    check_deliveries(posted(emulator), once=ids)
    rows = deliveries(database_url)
    assert Counter(d.state for d in rows.values()) == Counter({"sent": 8})
    assert emulator.fired == Counter({"server_error": 3, "internal_error": 1, "timeout": 2})
    # The three sends that took effect without an answer were found by their metadata.
    found = [c for c in emulator.calls_to("conversations.history") if c.ok]
    assert len(found) >= 3
    assert scheduler_audit(database_url) == Counter()


def test_a_send_slack_keeps_failing_is_retried_while_useful_then_dead_with_its_reason(
    emulator: SlackEmulator, database_url: str
) -> None:
    ids = seed(database_url, emulator, summaries=1)
    emulator.inject("chat.postMessage", "server_error", count=1000)
    service = delivery_service(emulator, database_url)
    for minutes in range(0, 60, 10):
        service.run_due(NOW + timedelta(minutes=minutes))
    (row,) = (deliveries(database_url)[i] for i in ids)
    # More than MAX_ATTEMPTS, still pending: its window (until launch or a day) is open.
    assert (row.state, row.reason, row.attempts) == ("pending", "http_500", MAX_ATTEMPTS + 1)

    service.run_due(row.expires_at + timedelta(minutes=1))
    row = deliveries(database_url)[row.id or 0]
    assert (row.state, row.reason) == ("dead", f"gave up after {MAX_ATTEMPTS + 2} attempts: http_500")
    check_deliveries(posted(emulator), once=(), never=ids)
    assert scheduler_audit(database_url) == Counter()


def test_slack_unreachable_for_ten_minutes_loses_nothing_and_sends_each_once(
    emulator: SlackEmulator, database_url: str
) -> None:
    ids = seed(database_url, emulator, digests=6, summaries=4)
    service = delivery_service(emulator, database_url)
    # Ten minutes of passes every 30 s (the planning instant moves; the wall clock need not): the port
    # refuses connections for six, then accepts and hangs up for four.
    emulator.pause("refuse")
    fault("slack unreachable (refused)")
    for step in range(20):
        if step == 12:
            emulator.resume()
            emulator.pause("drop")
            fault("slack unreachable (dropped)")
        assert service.run_due(NOW + timedelta(seconds=30 * step)).sent == 0
    assert states(database_url) == Counter({"pending": 10})
    emulator.resume()
    service.run_due(NOW + timedelta(minutes=15))

    check_deliveries(posted(emulator), once=ids)
    rows = deliveries(database_url)
    assert Counter(d.state for d in rows.values()) == Counter({"sent": 10})
    # Backoff kept the attempts few: about one per doubling of the outage, not one per pass.
    assert max(d.attempts for d in rows.values()) <= 8
    assert scheduler_audit(database_url) == Counter()


@pytest.mark.parametrize("slowness", ["slow answer", "429 storm"])
def test_a_send_slower_than_the_lease_is_not_taken_over_by_another_replica(
    emulator: SlackEmulator, database_url: str, tmp_path: Path, slowness: str
) -> None:
    ids = seed(database_url, emulator, summaries=3)
    if slowness == "slow answer":
        emulator.timeout_seconds = 3  # posted at once, answered after the 2 s lease ran out
        emulator.inject("chat.postMessage", "timeout")
    else:
        emulator.inject("chat.postMessage", "ratelimited", retry_after=3)  # waited out, then posted
    first = tick(emulator, database_url, tmp_path / "a.log")
    wait_until(lambda: emulator.calls_to("chat.postMessage"), timeout=30, what="the first post")
    time.sleep(2.5)  # the batch's original lease has run out; only renewal keeps it
    second = tick(emulator, database_url, tmp_path / "b.log")
    fault("concurrent replicas")
    assert first.wait(timeout=60) == 0, (tmp_path / "a.log").read_text()[-2000:]
    assert second.wait(timeout=60) == 0, (tmp_path / "b.log").read_text()[-2000:]

    check_deliveries(posted(emulator), once=ids)
    assert states(database_url) == Counter({"sent": 3})
    assert "claim lost" not in (tmp_path / "a.log").read_text()
    assert scheduler_audit(database_url) == Counter()


@pytest.mark.parametrize("error", ["token_revoked", "invalid_auth", "account_inactive"])
def test_a_revoked_token_kills_deliveries_with_a_clear_reason_and_no_retry_storm(
    emulator: SlackEmulator, database_url: str, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    ids = seed(database_url, emulator, digests=60, summaries=5)
    emulator.revoke(error)
    fault(error)
    service = delivery_service(emulator, database_url)
    with caplog.at_level(logging.ERROR, logger="bot.services.deliveries"):
        passes = [service.run_due(NOW + timedelta(minutes=n)) for n in range(3)]

    # One refused call per pass: the first send of a pass hears it, the rest of its batch is not tried.
    assert len(emulator.calls) == 3 and all(c.error == error for c in emulator.calls)
    first = passes[0]
    assert (first.dead, first.sent) == (50, 0)
    rows = deliveries(database_url)
    reason = f"Slack refused the app's token ({error}); reinstall it or fix SLACK_BOT_TOKEN"
    assert {rows[i].state for i in ids} == {"dead"} and {rows[i].reason for i in ids} == {reason}
    # The managers' notes about the failed summaries are rows too: dead for the same reason, not lost.
    notes = [d for d in rows.values() if d.kind == "problem"]
    assert notes and {(d.state, d.reason) for d in notes} == {("dead", reason)}
    assert sum(p.dead for p in passes) == len(ids) + len(notes)
    check_deliveries(posted(emulator), once=(), never=ids)
    assert scheduler_audit(database_url) == Counter()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 3 and all(reason in line and "--failed" in line for line in logged)


def test_a_revoked_token_shows_on_healthz_and_in_deliveries_failed(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rc.db'}"
    ids = seed(url, emulator, summaries=2)
    emulator.revoke("token_revoked")
    fault("token_revoked")
    bot = FastBot(emulator, url, tmp_path / "serve.log").start()
    try:
        health = wait_until(lambda: _degraded(bot.health_url), timeout=20, what="/healthz to degrade")
        wait_until(lambda: _all_dead(url, ids), timeout=20, what="the summaries to go dead")
    finally:
        bot.stop()
    assert health["slack"]["status"] == "failing" and "token_revoked" in health["slack"]["last_error"]
    assert "Slack refused the app's token (token_revoked)" in (tmp_path / "serve.log").read_text()
    check_deliveries(posted(emulator), once=(), never=ids)
    listed = subprocess.run(
        [sys.executable, "-m", "bot", "deliveries", "--failed"],
        env=env(emulator, url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert all(f"{i}\tdead\tsummary" in listed for i in ids) and "token_revoked" in listed


def _all_dead(url: str, ids: set[int]) -> bool:
    rows = deliveries(url)
    return all(rows[i].state == "dead" for i in ids)


def _degraded(health_url: str) -> dict | None:
    with urllib.request.urlopen(health_url, timeout=2) as response:
        body = json.loads(response.read())
    return body if body["status"] == "degraded" else None
