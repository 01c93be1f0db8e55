"""The database away: at start-up (serve waits, answers 503, acks nothing it cannot store) and restarted
in the middle of a batch (the pass after it is back finishes the work, nothing lost or doubled).

A restart is a TCP proxy in front of PostgreSQL dropping every connection and refusing new ones
(`DatabaseProxy`): the same thing the app sees, without restarting the server other tests share.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import wait_until
from tests.faults.dbproxy import DatabaseProxy
from tests.faults.helpers import (
    CHANNEL,
    MANAGER,
    NOW,
    FastBot,
    announcement,
    deliveries,
    posted,
    scheduler_audit,
    seed,
    seed_announcement,
    states,
)
from tests.faults.ledger import check_deliveries, fault

pytestmark = pytest.mark.e2e


def _health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


@pytest.mark.postgres
def test_serve_waits_for_the_database_and_refuses_slack_until_it_can_store(
    emulator: SlackEmulator, postgres_url: str, tmp_path: Path
) -> None:
    proxy = DatabaseProxy(postgres_url)  # not up yet: the database is not accepting connections
    fault("database unavailable at start-up")
    bot = FastBot(emulator, proxy.url, tmp_path / "serve.log").launch()
    try:
        wait_until(lambda: _health(bot.health_url)[0] == 503, timeout=20, what="serve to answer 503")
        assert _health(bot.health_url)[1] == {"status": "starting", "database": "waiting"}
        status, _ = bot.sender.command(MANAGER, CHANNEL, "help")
        assert status == 503  # Slack retries a 503; an ack would say it was handled
        assert not emulator.calls and not emulator.ephemerals()
        log = tmp_path / "serve.log"
        wait_until(lambda: "database not ready" in log.read_text(), timeout=20, what="a retry to be logged")

        proxy.up()
        wait_until(lambda: _health(bot.health_url)[0] == 200, timeout=30, what="serve to become ready")
        status, reply = bot.sender.command(MANAGER, CHANNEL, "help")  # Slack's retry
        assert status == 200 and reply
    finally:
        bot.stop()
        proxy.down()
    assert "retrying in" in log.read_text()


def test_serve_gives_up_when_the_database_never_comes(emulator: SlackEmulator, tmp_path: Path) -> None:
    bot = FastBot(emulator, f"sqlite:///{tmp_path / 'missing' / 'dir' / 'rc.db'}", tmp_path / "serve.log")
    fault("database unavailable at start-up")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={**bot.env(), "DATABASE_WAIT_SECONDS": "1.5"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "the database is unreachable" in done.stderr and "database not ready" in done.stderr
    assert time.monotonic() - started >= 1.5
    assert not emulator.calls


@pytest.mark.postgres
def test_the_database_restarting_mid_batch_loses_nothing_and_doubles_nothing(
    emulator: SlackEmulator, postgres_url: str, tmp_path: Path
) -> None:
    ids = seed(postgres_url, emulator, digests=80)
    ann_id = seed_announcement(postgres_url, post_at=NOW - timedelta(minutes=5))
    proxy = DatabaseProxy(postgres_url).up()
    emulator.inject("chat.postMessage", "timeout", count=10_000)  # 20 ms per post: time to cut mid-batch
    bot = FastBot(emulator, proxy.url, tmp_path / "serve.log").start()
    try:
        wait_until(lambda: len(posted(emulator)) >= 10, timeout=60, what="the first batch to be sending")
        proxy.down()
        fault("database restart")
        sent_while_down = len(posted(emulator))
        time.sleep(1.5)  # passes fail meanwhile; the interrupted batch's lease runs out
        assert len(posted(emulator)) <= sent_while_down + 1  # at most the post in flight when it went
        proxy.up()
        wait_until(
            lambda: states(postgres_url) == Counter({"sent": 81}), timeout=60, what="the backlog to be sent"
        )
    finally:
        bot.stop()
        proxy.down()

    announce = next(d.id or 0 for d in deliveries(postgres_url).values() if d.kind == "announce")
    check_deliveries(posted(emulator), once=ids | {announce})
    ann = announcement(postgres_url, ann_id)
    assert ann.state == "posted" and ann.posted_ts == deliveries(postgres_url)[announce].message_ts
    assert scheduler_audit(postgres_url) == Counter({"post upcoming": 1})
    assert '"message": "delivery pass failed"' in (tmp_path / "serve.log").read_text()
    # The rows claimed when the database went were taken over as unknown outcomes and looked for first.
    assert emulator.calls_to("conversations.history")


def test_a_database_wait_that_is_not_a_number_is_refused_clearly(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = FastBot(emulator, f"sqlite:///{tmp_path / 'rc.db'}", tmp_path / "serve.log")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={**bot.env(), "DATABASE_WAIT_SECONDS": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "DATABASE_WAIT_SECONDS is invalid" in done.stderr
    assert "set it to a number of seconds, 0 or more" in done.stderr
    assert not (tmp_path / "rc.db").exists()  # refused before touching anything
