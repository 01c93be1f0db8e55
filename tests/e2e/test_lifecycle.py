"""A release's life through a real serve process, real HTTP and Slack-signed requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import SIGNING_SECRET, BotProcess, message_text, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
CHANNEL = "CRELEASES"


def _launch_day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def _card(emulator: SlackEmulator):
    tops = [m for m in emulator.workspace.messages(CHANNEL) if not m.is_reply and m.user == "UBOT00001"]
    return tops[0] if tops else None


def _items(emulator: SlackEmulator, card_ts: str) -> list:
    return [m for m in emulator.workspace.thread(CHANNEL, card_ts) if m.ts != card_ts and m.metadata]


def _item_message(emulator: SlackEmulator, position: int):
    card = _card(emulator)
    for message in _items(emulator, card.ts):
        if message.metadata["event_payload"]["position"] == position:
            return message
    return None


def _status_lines(bot: BotProcess) -> str:
    reply = bot.command(MAYA, "status")
    # The countdown moves with the clock; everything after it must be identical.
    return "\n".join(line for line in reply_text(reply).splitlines() if "Launches" not in line)


def test_create_assign_start_done_block_reschedule_status_restart(
    bot: BotProcess, emulator: SlackEmulator
) -> None:
    reply = bot.command(MAYA, f'new "Payments 2.4" {_launch_day(14)} 14:00')
    assert "Created *Payments 2.4*" in reply_text(reply)
    assert reply["response_type"] == "ephemeral"

    card = wait_until(lambda: _card(emulator), what="the release card")
    wait_until(lambda: len(_items(emulator, card.ts)) == 18, what="18 item replies in the card's thread")
    assert "Payments 2.4" in message_text(card)
    assert "0 of 18 done" in message_text(card)
    first = _item_message(emulator, 1)
    assert "1. Code Review and Approval" in message_text(first)
    assert "<!date^" in message_text(first)

    reply = bot.command(MAYA, "assign 5 <@UANA00001|ana> <!subteam^S0QA00001|@qa-team>")
    assert "Assigned <@UANA00001>, <!subteam^S0QA00001>" in reply_text(reply)
    wait_until(
        lambda: "<@UANA00001>" in message_text(_item_message(emulator, 5)), what="item 5 to show its owner"
    )

    assert "in progress" in reply_text(bot.command(ANA, "start 5"))
    reply = bot.command(ANA, "done database backup-2026-12-08")
    assert "→ *done*" in reply_text(reply)
    wait_until(lambda: "done by <@UANA00001>" in message_text(_item_message(emulator, 5)), what="item 5 done")
    assert "backup-2026-12-08" in message_text(_item_message(emulator, 5))

    # Bob owns nothing and manages nothing: refused, nothing changes.
    reply = bot.command(BOB, "block 3 not my call")
    assert "Only the item's owners or the release managers" in reply_text(reply)

    reply = bot.command(MAYA, 'block 3 "pen-test" report pending from vendor')
    assert "→ *blocked*" in reply_text(reply)
    wait_until(lambda: "Blocked:" in message_text(_card(emulator)), what="the card to list the blocker")
    assert "1 of 18 done" in message_text(_card(emulator))

    reply = bot.command(MAYA, f"reschedule {_launch_day(3)} 09:00")
    assert "Moved *Payments 2.4*" in reply_text(reply)
    wait_until(
        lambda: any("moved the launch" in m.text for m in emulator.workspace.thread(CHANNEL, card.ts)),
        what="the reschedule note in the card's thread",
    )
    note = next(m for m in emulator.workspace.thread(CHANNEL, card.ts) if "moved the launch" in m.text)
    assert "now overdue" in note.text  # code review (-5d) is overdue once launch is 3 days away

    before = _status_lines(bot)
    assert "Database Backup" in before and "pen-test" in before
    bot.restart()
    assert _status_lines(bot) == before

    log = reply_text(bot.command(MAYA, "log 5"))
    assert "done" in log and "<@UANA00001>" in log


def test_changes_within_a_second_coalesce_into_one_card_update(
    bot: BotProcess, emulator: SlackEmulator
) -> None:
    bot.command(MAYA, f'new "Mobile 7.1" {_launch_day(20)} 10:00')
    card = wait_until(lambda: _card(emulator), what="the card")
    wait_until(lambda: len(_items(emulator, card.ts)) == 18, what="item replies")
    emulator.reset_calls()
    for position in range(1, 7):
        bot.command(MAYA, f"assign {position} <@UANA00001|ana>")
    wait_until(
        lambda: all("<@UANA00001>" in message_text(_item_message(emulator, p)) for p in range(1, 7)),
        what="six items to show their owner",
    )
    card_updates = [c for c in emulator.calls_to("chat.update") if c.args.get("ts") == card.ts]
    assert 1 <= len(card_updates) <= 3, len(card_updates)


def test_tokens_and_secrets_never_reach_the_log(emulator: SlackEmulator, tmp_path) -> None:
    log_path = tmp_path / "debug.log"
    bot = BotProcess(emulator, f"sqlite:///{tmp_path / 'rc.db'}", log_path, log_level="DEBUG").start()
    try:
        bot.command(MAYA, f'new "Secrets" {_launch_day(10)} 10:00')
        wait_until(lambda: _card(emulator), what="the card")
        bot.command(MAYA, "status")
    finally:
        bot.stop()
    log = log_path.read_text()
    assert "chat.postMessage" in log  # the log did record the Slack calls, with their headers redacted
    assert "(redacted)" in log
    assert emulator.workspace.bot_token not in log
    assert SIGNING_SECRET not in log
