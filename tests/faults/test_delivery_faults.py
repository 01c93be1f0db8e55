"""Exactly once under kill -9 and several replicas: Slack's messages, the rows' ends and the audit agree."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import wait_until
from tests.faults.helpers import (
    CHANNEL,
    NOW,
    announcement,
    deliveries,
    posted,
    scheduler_audit,
    seed,
    seed_announcement,
    states,
    tick,
)
from tests.faults.ledger import check_deliveries, fault

pytestmark = pytest.mark.e2e

LEASE_RUNS_OUT = 2.5  # seconds: the helpers' lease is 2 s, renewed only while its process lives


def _kill(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    fault("kill -9")


def _finish(emulator: SlackEmulator, database_url: str, log: Path) -> None:
    """After the dead process's lease ran out, one more pass must finish the work."""
    time.sleep(LEASE_RUNS_OUT)
    emulator.clear_faults()
    second = tick(emulator, database_url, log)
    assert second.wait(timeout=120) == 0, log.read_text()[-2000:]


def _announcement_delivery(database_url: str) -> int:
    return next(d.id or 0 for d in deliveries(database_url).values() if d.kind == "announce")


def test_kill_9_in_the_middle_of_300_dms_then_restart_sends_each_once(
    emulator: SlackEmulator, database_url: str, tmp_path: Path
) -> None:
    ids = seed(database_url, emulator, digests=300)
    # Each post is held 20 ms after it took effect, so a kill lands between "Slack has it" and "recorded".
    emulator.inject("chat.postMessage", "timeout", count=10_000)
    first = tick(emulator, database_url, tmp_path / "tick.log")
    wait_until(
        lambda: len(emulator.calls_to("chat.postMessage")) >= 60, timeout=60, what="the batch to start"
    )
    _kill(first)
    assert 0 < len(posted(emulator)) < 300
    _finish(emulator, database_url, tmp_path / "tick.log")
    check_deliveries(posted(emulator), once=ids)
    assert states(database_url) == Counter({"sent": 300})
    assert scheduler_audit(database_url) == Counter()  # reminders leave no audit rows
    # The rows the dead process had claimed were taken over as unknown outcomes, and looked for first.
    assert emulator.calls_to("conversations.history")


def test_kill_9_after_the_claim_before_any_post_sends_each_once_and_posts_the_announcement_once(
    emulator: SlackEmulator, database_url: str, tmp_path: Path
) -> None:
    ids = seed(database_url, emulator, digests=5)
    ann_id = seed_announcement(database_url, post_at=NOW)
    # The first DM's conversations.open hangs: the whole batch is claimed and nothing is posted yet.
    emulator.timeout_seconds = 30
    emulator.inject("conversations.open", "timeout")
    first = tick(emulator, database_url, tmp_path / "tick.log")
    wait_until(lambda: emulator.calls_to("conversations.open"), timeout=30, what="the first DM to open")
    _kill(first)
    assert not posted(emulator)
    assert states(database_url) == Counter({"sending": 6})
    _finish(emulator, database_url, tmp_path / "tick.log")

    announce = _announcement_delivery(database_url)
    check_deliveries(posted(emulator), once=ids | {announce})
    rows = deliveries(database_url)
    assert Counter(d.state for d in rows.values()) == Counter({"sent": 6})
    assert all(d.unknown_outcome is False and d.message_ts for d in rows.values())
    ann = announcement(database_url, ann_id)
    assert (ann.state, ann.posted_ts) == ("posted", rows[announce].message_ts)
    assert scheduler_audit(database_url) == Counter({"post upcoming": 1})


def test_kill_9_after_slack_took_the_announcement_before_it_was_recorded_posts_it_once(
    emulator: SlackEmulator, database_url: str, tmp_path: Path
) -> None:
    ids = seed(database_url, emulator, digests=3)
    # An hour before the digests' slot: the announcement is the batch's first send.
    ann_id = seed_announcement(database_url, post_at=NOW - timedelta(hours=1))
    emulator.timeout_seconds = 30
    emulator.inject("chat.postMessage", "timeout")  # posted, then the answer is held
    first = tick(emulator, database_url, tmp_path / "tick.log")
    wait_until(lambda: posted(emulator), timeout=30, what="the announcement to reach Slack")
    _kill(first)
    announce = _announcement_delivery(database_url)
    assert posted(emulator) == Counter({announce: 1})
    assert announcement(database_url, ann_id).state == "approved"  # Slack has it; the database does not
    _finish(emulator, database_url, tmp_path / "tick.log")

    check_deliveries(posted(emulator), once=ids | {announce})
    rows = deliveries(database_url)
    assert Counter(d.state for d in rows.values()) == Counter({"sent": 4})
    ann = announcement(database_url, ann_id)
    assert (ann.state, ann.posted_channel, ann.posted_ts) == ("posted", CHANNEL, rows[announce].message_ts)
    assert scheduler_audit(database_url) == Counter({"post upcoming": 1})
    # Every row of the dead process's batch was an unknown outcome; the announcement's was found, not resent.
    assert CHANNEL in {c.args["channel"] for c in emulator.calls_to("conversations.history")}


@pytest.mark.postgres
def test_three_replicas_ticking_over_1000_rows_send_each_once(
    emulator: SlackEmulator, postgres_url: str, tmp_path: Path
) -> None:
    ids = seed(postgres_url, emulator, summaries=1000)
    replicas = [tick(emulator, postgres_url, tmp_path / f"tick{n}.log") for n in range(3)]
    fault("concurrent replicas", 3)
    for replica in replicas:
        assert replica.wait(timeout=180) == 0
    check_deliveries(posted(emulator), once=ids)
    assert states(postgres_url) == Counter({"sent": 1000})
    assert scheduler_audit(postgres_url) == Counter()
