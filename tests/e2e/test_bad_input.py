"""Bad input over real HTTP: a clear ephemeral answer, never a 5xx, and nothing changed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import BotProcess, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA = "UMAYA0001"
NEXT_MONTH = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")

BAD_COMMANDS = [
    ("", "Release Captain"),  # empty: the help
    ("stauts", "Did you mean"),
    ('new "Payments 2.4 2026-12-10', "quote"),
    ('new "Past" 2020-01-01 10:00', "past"),
    ('new "Feb" 2026-02-30 10:00', "2026-02-30"),
    (f'new "Late" {NEXT_MONTH} 25:00', "25:00"),
    ('new "Far" 10000-01-01 10:00', "10000"),
    ("done 99", "no item 99"),
    ("done d", "matches"),
    ("assign 5 <@UNOPE0001|nobody>", "couldn't find"),
    ("assign 5 <@UGONE0001|gone>", "deactivated"),
    ("assign 5 bob", "mention people"),
    ("assign 5 <!subteam^SNOPE0001|@ghosts>", "user group"),
    ("new " + '"' + "x" * 1000 + '" ' + NEXT_MONTH, "150"),
    ("new " + '"' + "x" * 5000 + '" ' + NEXT_MONTH, "4000"),
    (f'new "Elsewhere" {NEXT_MONTH} 10:00 <#CRANDOM1|random>', "/invite"),
    (f'new "Old" {NEXT_MONTH} 10:00 <#CARCHIVE1|old-stuff>', "archived"),
]


@pytest.fixture
def with_release(bot: BotProcess, emulator: SlackEmulator) -> BotProcess:
    bot.command(MAYA, f'new "Payments 2.4" {NEXT_MONTH} 14:00')
    wait_until(lambda: len(emulator.workspace.messages("CRELEASES")) >= 19, what="the card and its items")
    return bot


def _snapshot(emulator: SlackEmulator) -> list[tuple[str, str, int]]:
    return [(m.ts, m.text, len(m.edits)) for m in emulator.workspace.messages("CRELEASES")]


def test_every_bad_command_gets_a_clear_answer_and_changes_nothing(
    with_release: BotProcess, emulator: SlackEmulator
) -> None:
    bot = with_release
    before = _snapshot(emulator)
    for text, expected in BAD_COMMANDS:
        reply = bot.command(MAYA, text)
        assert reply["response_type"] == "ephemeral", text
        assert expected.lower() in reply_text(reply).lower(), (text[:60], reply_text(reply)[:400])
    time.sleep(1.5)  # give the card worker a chance to (wrongly) publish something
    assert _snapshot(emulator) == before
    assert "Payments 2.4" in reply_text(bot.command(MAYA, "list"))


def test_a_duplicate_active_name_is_refused(with_release: BotProcess) -> None:
    reply = with_release.command(MAYA, f'new "payments 2.4" {NEXT_MONTH} 16:00')
    assert "already an active release called" in reply_text(reply)


def test_mentions_and_links_in_names_are_echoed_inert(bot: BotProcess, emulator: SlackEmulator) -> None:
    reply = bot.command(
        MAYA, f'new "Ship <!channel> <https://evil.example|click> <@U123>" {NEXT_MONTH} 10:00'
    )
    text = reply_text(reply)
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt;" in text
    wait_until(lambda: emulator.workspace.messages("CRELEASES"), what="the card")
    for message in emulator.workspace.messages("CRELEASES"):
        body = str(message.blocks) + message.text
        assert "<!channel>" not in body and "<https://evil" not in body


def test_unicode_names_are_stored_intact(bot: BotProcess) -> None:
    name = "Zahlungen 🚀 2.4 — e\u0301 ‏מהדורה‏"
    bot.command(MAYA, f'new "{name}" {NEXT_MONTH} 10:00')
    assert name in reply_text(bot.command(MAYA, "list"))


def test_forged_and_stale_requests_are_rejected_before_anything_runs(bot: BotProcess) -> None:
    status, _ = bot.sender.command(
        MAYA, "CRELEASES", f'new "Forged" {NEXT_MONTH} 10:00', secret="wrong-secret"
    )
    assert status == 401
    stale = int(time.time()) - 6 * 60
    status, _ = bot.sender.command(MAYA, "CRELEASES", f'new "Stale" {NEXT_MONTH} 10:00', timestamp=stale)
    assert status == 401
    listing = reply_text(bot.command(MAYA, "list"))
    assert "Forged" not in listing and "Stale" not in listing


def test_non_managers_cannot_waive_or_cancel(with_release: BotProcess) -> None:
    bob = "UBOB00001"
    assert "Only" in reply_text(with_release.command(bob, "waive 12 not needed"))
    assert "Only" in reply_text(with_release.command(bob, "cancel"))
    assert "Payments 2.4" in reply_text(with_release.command(bob, "status"))
