"""The sign-off process of a real serve (bot/handoff.py): it yields the CPU, and lives and dies with serve."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.common import children as _children
from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import BotProcess, item_text, item_ts, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
CHANNEL = "CRELEASES"
# Items that need no evidence, so a ✅ from their owner signs them off.
NO_EVIDENCE = (8, 9, 10, 11)


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _alive(pid: int) -> bool:
    """Not yet a zombie; after SIGKILL the main thread is one while other threads are still dying."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    except OSError:
        return False
    return state != "Z" or threads > 1


def _metrics(bot: BotProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/metrics", timeout=5) as response:
        return response.read().decode()


def _with_release(bot: BotProcess, emulator: SlackEmulator) -> None:
    launch = (datetime.now(UTC) + timedelta(days=12)).strftime("%Y-%m-%d")
    bot.command(MAYA, f'new "Payments 2.4" {launch} 14:00')
    wait_until(lambda: len(emulator.workspace.messages(CHANNEL)) >= 19, what="card and items")
    for position in NO_EVIDENCE:
        bot.command(MAYA, f"assign {position} <@{ANA}|ana>")
    wait_until(lambda: f"<@{ANA}>" in item_text(emulator, NO_EVIDENCE[-1]), what="owners on the card")


def _done(bot: BotProcess, position: int) -> bool:
    return "done (" in reply_text(bot.command(MAYA, f"log {position}"))


def test_reactions_and_clicks_are_applied_by_a_lower_priority_child(serve, emulator: SlackEmulator) -> None:
    bot = serve()
    assert bot.proc is not None
    children = wait_until(lambda: _children(bot.proc.pid), what="the sign-off process")
    assert len(children) == 1
    assert _niceness(children[0]) == 19
    _with_release(bot, emulator)
    status, body = bot.sender.reaction(ANA, CHANNEL, item_ts(emulator, 8), "white_check_mark")
    assert (status, body) == (200, "")
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, 8), what="signed off by the reaction")
    wait_until(lambda: any("now done" in e.text for e in emulator.ephemerals(CHANNEL, ANA)), what="confirmed")
    metrics = _metrics(bot)
    assert 'release_captain_requests_total{kind="event",outcome="handed_off"} 1.0' in metrics
    # The confirmation was the child's Slack call: it reports it (about once a second) to /metrics here.
    child_call = 'release_captain_slack_api_calls_total{method="chat.postEphemeral",process="sign_offs"} 1.0'
    wait_until(lambda: child_call in _metrics(bot), what="the child's Slack calls in /metrics")
    wait_until(
        lambda: 'release_captain_background_jobs{queue="sign_offs"} 0.0' in _metrics(bot),
        what="the sign-off backlog back at zero",
    )


def test_a_forged_reaction_is_refused_and_never_applied(serve, emulator: SlackEmulator) -> None:
    bot = serve()
    _with_release(bot, emulator)
    ts = item_ts(emulator, 8)
    emulator.workspace.add_reaction(CHANNEL, ts, ANA, "white_check_mark")
    event = {"type": "reaction_added", "user": ANA, "reaction": "white_check_mark"}
    event["item"] = {"type": "message", "channel": CHANNEL, "ts": ts}  # type: ignore[assignment]
    assert bot.sender.event(event, secret="not-the-signing-secret")[0] == 401
    assert bot.sender.event(event, timestamp=int(time.time()) - 6 * 60)[0] == 401
    assert 'outcome="handed_off"' not in _metrics(bot)
    assert not _done(bot, 8)


def test_sigterm_applies_every_acknowledged_sign_off_before_serve_exits(
    serve, emulator: SlackEmulator
) -> None:
    bot = serve()
    _with_release(bot, emulator)
    assert bot.proc is not None
    child = _children(bot.proc.pid)[0]
    for position in NO_EVIDENCE:
        assert bot.sender.reaction(ANA, CHANNEL, item_ts(emulator, position), "white_check_mark")[0] == 200
    assert bot.stop() == 0
    assert not _alive(child)
    bot.start()  # only to read the log: everything acknowledged before the SIGTERM was applied
    assert all(_done(bot, position) for position in NO_EVIDENCE)


def test_kill_9_of_serve_takes_the_sign_off_process_with_it(serve, emulator: SlackEmulator) -> None:
    bot = serve()
    assert bot.proc is not None
    child = wait_until(lambda: _children(bot.proc.pid), what="the sign-off process")[0]
    bot.stop(signal.SIGKILL)
    wait_until(lambda: not _alive(child), timeout=5, what="the orphaned sign-off process to die")


def test_when_the_child_is_gone_serve_signs_off_in_process(serve, emulator: SlackEmulator) -> None:
    bot = serve()
    _with_release(bot, emulator)
    assert bot.proc is not None
    child = _children(bot.proc.pid)[0]
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: not _alive(child), timeout=5, what="the sign-off process to die")
    assert bot.sender.reaction(ANA, CHANNEL, item_ts(emulator, 9), "white_check_mark")[0] == 200
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, 9), what="signed off in process")
    assert "sign-off process exited" in bot.log_path.read_text()


def test_without_the_child_sign_offs_run_on_the_request_process(serve, emulator: SlackEmulator) -> None:
    bot = serve(SIGN_OFF_PROCESS="false")
    assert bot.proc is not None
    _with_release(bot, emulator)
    assert _children(bot.proc.pid) == []
    assert bot.sender.reaction(ANA, CHANNEL, item_ts(emulator, 8), "white_check_mark")[0] == 200
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, 8), what="signed off")
    assert 'outcome="handed_off"' not in _metrics(bot)
    assert 'queue="sign_offs"' not in _metrics(bot)
