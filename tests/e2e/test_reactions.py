"""Sign-off by reaction through a real serve process: owners count, others are told, retries act once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import BotProcess, item_text, item_ts, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA, BOB, LEE, DANA, RAVI = "UMAYA0001", "UANA00001", "UBOB00001", "ULEE00001", "UDANA0001", "URAVI0001"
CHANNEL = "CRELEASES"
DEPENDENCY_CHECK, DATABASE_BACKUP = 8, 5  # no evidence needed / evidence needed


@pytest.fixture
def release(bot: BotProcess, emulator: SlackEmulator) -> BotProcess:
    launch = (datetime.now(UTC) + timedelta(days=12)).strftime("%Y-%m-%d")
    bot.command(MAYA, f'new "Payments 2.4" {launch} 14:00')
    wait_until(lambda: len(emulator.workspace.messages(CHANNEL)) >= 19, what="card and items")
    bot.command(MAYA, f"assign {DEPENDENCY_CHECK} <@{ANA}|ana>")
    bot.command(MAYA, f"assign {DATABASE_BACKUP} <@{ANA}|ana>")
    wait_until(lambda: f"<@{ANA}>" in item_text(emulator, DEPENDENCY_CHECK), what="owner on the card")
    return bot


def _applied(bot: BotProcess, position: int, action: str) -> int:
    log = reply_text(bot.command(MAYA, f"log {position}"))
    return sum(1 for line in log.splitlines() if f" {action} (" in line and "[" not in line)


def test_an_owners_check_mark_signs_off_and_removing_it_reopens(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    status, _ = release.sender.reaction(ANA, CHANNEL, ts, "white_check_mark")
    assert status == 200
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, DEPENDENCY_CHECK), what="signed off")
    wait_until(
        lambda: any("now done" in e.text for e in emulator.ephemerals(CHANNEL, ANA)), what="confirmation"
    )
    release.sender.reaction(ANA, CHANNEL, ts, "white_check_mark", added=False)
    wait_until(lambda: "⬜ open" in item_text(emulator, DEPENDENCY_CHECK), what="reopened")


def test_skin_tones_count_and_other_emoji_do_nothing(release: BotProcess, emulator: SlackEmulator) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    release.sender.reaction(ANA, CHANNEL, ts, "tada")
    release.sender.reaction(ANA, CHANNEL, ts, "heavy_check_mark::skin-tone-4")
    wait_until(lambda: "done by <@UANA00001>" in item_text(emulator, DEPENDENCY_CHECK), what="signed off")
    assert _applied(release, DEPENDENCY_CHECK, "done") == 1


def test_a_non_owner_is_told_who_can_sign_and_nothing_changes(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    before = item_text(emulator, DEPENDENCY_CHECK)
    release.sender.reaction(BOB, CHANNEL, ts, "white_check_mark")
    notice = wait_until(lambda: emulator.ephemerals(CHANNEL, BOB), what="an ephemeral for bob")
    assert "Only the item's owners or the release managers" in notice[0].text
    assert "<@UANA00001>" in notice[0].text
    assert item_text(emulator, DEPENDENCY_CHECK) == before
    assert "denied" in reply_text(release.command(MAYA, f"log {DEPENDENCY_CHECK}"))


def test_an_item_needing_evidence_asks_for_it_in_the_thread(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    ts = item_ts(emulator, DATABASE_BACKUP)
    release.sender.reaction(ANA, CHANNEL, ts, "white_check_mark")
    card_ts = emulator.workspace.find_message(CHANNEL, ts).thread_ts
    prompt = wait_until(
        lambda: [m for m in emulator.workspace.thread(CHANNEL, card_ts) if "needs evidence" in m.text],
        what="the evidence prompt",
    )
    assert any(e.get("type") == "actions" for e in prompt[0].blocks)
    assert "⬜ open" in item_text(emulator, DATABASE_BACKUP)


def test_a_no_entry_reaction_blocks_and_asks_why(release: BotProcess, emulator: SlackEmulator) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    release.sender.reaction(ANA, CHANNEL, ts, "no_entry")
    wait_until(lambda: "⛔ blocked" in item_text(emulator, DEPENDENCY_CHECK), what="blocked")
    card_ts = emulator.workspace.find_message(CHANNEL, ts).thread_ts
    wait_until(
        lambda: any("What is blocking it?" in m.text for m in emulator.workspace.thread(CHANNEL, card_ts)),
        what="the reason prompt",
    )


def test_the_same_event_four_times_two_at_once_is_one_transition(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    emulator.workspace.add_reaction(CHANNEL, ts, ANA, "white_check_mark")
    event = {
        "type": "reaction_added",
        "user": ANA,
        "reaction": "white_check_mark",
        "item_user": "UBOT00001",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": emulator.workspace.next_ts(),
    }
    send = lambda retry: release.sender.event(event, event_id="EvSAME00001", retry_num=retry)  # noqa: E731
    both = [threading.Thread(target=send, args=(None,)), threading.Thread(target=send, args=(1,))]
    for t in both:
        t.start()
    for t in both:
        t.join()
    assert send(2)[0] == 200 and send(3)[0] == 200
    wait_until(lambda: "done by" in item_text(emulator, DEPENDENCY_CHECK), what="signed off")
    assert _applied(release, DEPENDENCY_CHECK, "done") == 1
    confirmations = [e for e in emulator.ephemerals(CHANNEL, ANA) if "now done" in e.text]
    assert len(confirmations) == 1


def test_ten_concurrent_reactions_make_one_transition(release: BotProcess, emulator: SlackEmulator) -> None:
    owners = [ANA, BOB, LEE, DANA, RAVI]
    release.command(MAYA, f"assign {DEPENDENCY_CHECK} " + " ".join(f"<@{u}|x>" for u in owners))
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    reactors = [(u, e) for u in [*owners, MAYA] for e in ("white_check_mark", "heavy_check_mark")][:10]
    threads = [
        threading.Thread(target=release.sender.reaction, args=(user, CHANNEL, ts, emoji))
        for user, emoji in reactors
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: "done by" in item_text(emulator, DEPENDENCY_CHECK), what="signed off")
    assert _applied(release, DEPENDENCY_CHECK, "done") == 1
    wait_until(lambda: any("now done" in e.text for e in emulator.ephemerals(CHANNEL)), what="a confirmation")
    confirmations = [e for e in emulator.ephemerals(CHANNEL) if "now done" in e.text]
    assert len(confirmations) == 1


def test_a_removal_that_overtakes_its_addition_wins(release: BotProcess, emulator: SlackEmulator) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    added_ts, removed_ts = emulator.workspace.next_ts(), emulator.workspace.next_ts()
    base = {
        "user": ANA,
        "reaction": "white_check_mark",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
    }
    release.sender.event({**base, "type": "reaction_removed", "event_ts": removed_ts})
    release.sender.event({**base, "type": "reaction_added", "event_ts": added_ts})
    release.command(MAYA, "status")
    assert "⬜ open" in item_text(emulator, DEPENDENCY_CHECK)
    assert _applied(release, DEPENDENCY_CHECK, "done") == 0


def test_reactions_on_a_cancelled_release_change_nothing(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    release.command(MAYA, "cancel")
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    release.sender.reaction(ANA, CHANNEL, ts, "white_check_mark")
    notice = wait_until(lambda: emulator.ephemerals(CHANNEL, ANA), what="a notice")
    assert "cancelled" in notice[-1].text
    assert _applied(release, DEPENDENCY_CHECK, "done") == 0


def test_reactions_elsewhere_are_acknowledged_and_ignored(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    other = emulator.workspace.post(CHANNEL, ANA, "lunch?")
    status, _ = release.sender.reaction(BOB, CHANNEL, other.ts, "white_check_mark")
    assert status == 200
    assert not emulator.ephemerals(CHANNEL, BOB)


def test_a_reaction_slack_never_delivered_is_applied_when_status_is_asked(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    emulator.workspace.add_reaction(CHANNEL, ts, ANA, "white_check_mark")  # no event sent: it was lost
    emulator.workspace.add_reaction(
        CHANNEL, item_ts(emulator, 9), BOB, "white_check_mark"
    )  # bob owns nothing
    release.command(MAYA, "status")
    wait_until(
        lambda: "done by <@UANA00001>" in item_text(emulator, DEPENDENCY_CHECK),
        what="the reconciled sign-off",
    )
    assert "reconciled" in reply_text(release.command(MAYA, f"log {DEPENDENCY_CHECK}"))
    assert "⬜ open" in item_text(emulator, 9)


def test_an_item_every_owner_signs_is_done_when_the_last_one_signs(
    release: BotProcess, emulator: SlackEmulator
) -> None:
    live_date = 17  # the template says every owner signs the live deployment date
    release.command(MAYA, f"assign {live_date} <@{ANA}|ana> <@{BOB}|bob>")
    reply = reply_text(release.command(ANA, f"done {live_date}"))
    assert "still waiting for <@UBOB00001>" in reply
    wait_until(
        lambda: "Signed so far: <@UANA00001>" in item_text(emulator, live_date), what="ana's signature"
    )
    assert "⬜ open" in item_text(emulator, live_date)
    release.sender.reaction(BOB, CHANNEL, item_ts(emulator, live_date), "white_check_mark")
    wait_until(
        lambda: "done by <@UBOB00001>" in item_text(emulator, live_date), what="done by the last signer"
    )


def test_the_bots_own_reactions_change_nothing(release: BotProcess, emulator: SlackEmulator) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    status, _ = release.sender.reaction("UBOT00001", CHANNEL, ts, "white_check_mark")
    assert status == 200
    release.command(MAYA, "status")
    assert "⬜ open" in item_text(emulator, DEPENDENCY_CHECK)
    assert _applied(release, DEPENDENCY_CHECK, "done") == 0
    assert not emulator.ephemerals(CHANNEL, "UBOT00001")


def test_an_event_redelivered_after_a_restart_acts_once(release: BotProcess, emulator: SlackEmulator) -> None:
    ts = item_ts(emulator, DEPENDENCY_CHECK)
    emulator.workspace.add_reaction(CHANNEL, ts, ANA, "white_check_mark")
    event = {
        "type": "reaction_added",
        "user": ANA,
        "reaction": "white_check_mark",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": emulator.workspace.next_ts(),
    }
    assert release.sender.event(event, event_id="EvRESTART01")[0] == 200
    wait_until(lambda: "done by" in item_text(emulator, DEPENDENCY_CHECK), what="signed off")
    release.command(ANA, f"undo {DEPENDENCY_CHECK}")  # reopened on purpose: a replay must not sign it again
    release.restart()
    assert release.sender.event(event, event_id="EvRESTART01", retry_num=1)[0] == 200
    release.command(MAYA, "status")
    assert _applied(release, DEPENDENCY_CHECK, "done") == 1
    assert _applied(release, DEPENDENCY_CHECK, "undo") == 1
