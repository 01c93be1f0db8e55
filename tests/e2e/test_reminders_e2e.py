"""Reminders end to end: serve answers Slack, `release-captain tick` sends the digests, people act on them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.emulator import SlackEmulator
from bot.slack.ids import ActionId
from tests.e2e.harness import BotProcess, item_text, message_text, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA = "UMAYA0001", "UANA00001"
CHANNEL = "CRELEASES"
BERLIN = ZoneInfo("Europe/Berlin")


def _tick(bot: BotProcess, at: datetime) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "tick", "--at", at.isoformat()],
        env=bot.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _dm(emulator: SlackEmulator, user: str) -> list:
    channel = emulator.workspace.open_dm(user)
    return [m for m in emulator.workspace.messages(channel) if m.user == "UBOT00001"]


def _element(message, action_id: str, label: str | None = None, nth: int = 0) -> dict:
    """The nth element with this action id (the nth item of a digest), or one of its options by label."""
    found = [
        e for b in message.blocks or [] for e in b.get("elements", []) if e.get("action_id") == action_id
    ]
    for element in found[nth : nth + 1]:
        if label is None:
            return element
        for option in element.get("options", []):
            if option["text"]["text"] == label:
                return {**element, "value": option["value"]}
    raise AssertionError(f"no {action_id} {label or ''} in {message_text(message)}")


def test_a_digest_is_sent_once_and_its_buttons_sign_off_and_snooze(
    bot: BotProcess, emulator: SlackEmulator
) -> None:
    day = (datetime.now(BERLIN) + timedelta(days=10)).date()
    launch = datetime(day.year, day.month, day.day, 14, 0, tzinfo=BERLIN)
    bot.command(MAYA, f'new "Payments 2.4" {day.isoformat()} 14:00')
    wait_until(lambda: item_text(emulator, 18), what="the item replies")
    bot.command(MAYA, f"assign 8 <@{ANA}|ana>")
    bot.command(MAYA, f"assign 9 <@{ANA}|ana>")
    # Ana works every hour of every day, so her reminders land exactly at the due time.
    assert "mon, tue, wed, thu, fri, sat, sun" in reply_text(bot.command(ANA, "prefs days mon-sun"))
    assert "00:00–23:59" in reply_text(bot.command(ANA, "prefs hours 00:00-23:59"))

    # The upcoming-release announcement is due at the same moment; this test is about digests alone.
    assert "withdrawn" in reply_text(bot.command(MAYA, "announce remove upcoming"))
    assert "withdrawn" in reply_text(bot.command(MAYA, "announce remove go-live"))
    due = (launch - timedelta(days=2)).astimezone(UTC)  # items 8 and 9 are due two days before launch
    _tick(bot, due - timedelta(minutes=1))
    out = _tick(bot, due + timedelta(minutes=1))
    assert "sent 1" in out, out
    assert "sent 0" in _tick(bot, due + timedelta(minutes=1))  # the same instant again: nothing new
    digest = _dm(emulator, ANA)
    assert len(digest) == 1 and "2 release items" in digest[0].text

    dm = emulator.workspace.open_dm(ANA)
    sign_off = _element(digest[0], ActionId.ITEM_SIGN_OFF)
    status, _ = bot.sender.action(ANA, dm, digest[0].ts, ActionId.ITEM_SIGN_OFF, sign_off["value"])
    assert status == 200
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, 8), what="item 8 signed off from the DM")

    snooze = _element(digest[0], ActionId.DIGEST_SNOOZE, "Snooze until launch", nth=1)  # item 9
    bot.sender.action(ANA, dm, digest[0].ts, ActionId.DIGEST_SNOOZE, snooze["value"])
    wait_until(
        lambda: any("No reminders about 9." in e.text for e in emulator.ephemerals(dm, ANA)), what="snoozed"
    )

    # A day later item 9 is overdue, but snoozed until launch; item 8 is done: no DM for Ana. It is also
    # T-24h, so the readiness summary goes to the channel.
    assert "sent 1" in _tick(bot, due + timedelta(days=1, minutes=1))
    assert len(_dm(emulator, ANA)) == 1
    assert any("Readiness" in m.text for m in emulator.workspace.messages(CHANNEL))


def test_summary_and_prefs_commands(bot: BotProcess, emulator: SlackEmulator) -> None:
    day = (datetime.now(BERLIN) + timedelta(days=10)).date()
    bot.command(MAYA, f'new "Payments 2.4" {day.isoformat()} 14:00')
    summary = reply_text(bot.command(MAYA, "summary"))
    assert "Readiness" in summary and "Recommendation" in summary and "AT RISK" in summary  # all unowned
    before = reply_text(bot.command(ANA, "prefs"))
    for bad, words in (
        ("prefs hours 25:00-26:00", "out of range"),
        ("prefs tz Mars/Olympus", "time zone"),
        ("prefs days someday", "not a day"),
        ("prefs hours 17:00-09:00", "start before"),
    ):
        assert words in reply_text(bot.command(ANA, bad)), bad
    assert reply_text(bot.command(ANA, "prefs")) == before
    assert "Europe/Lisbon (from Slack)" in before
    assert "America/New_York (set here" in reply_text(bot.command(ANA, "prefs tz america/new_york"))
    assert "muted" in reply_text(bot.command(ANA, "prefs mute"))
