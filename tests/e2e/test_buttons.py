"""Item buttons and modals through a real serve process: clicks, forms, refusals and forged values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.sandbox.emulator import SlackEmulator
from bot.slack.ids import ActionId, ViewId
from bot.slack.seal import Sealer
from tests.e2e.harness import SIGNING_SECRET, BotProcess, message_text, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
CHANNEL = "CRELEASES"
BOT_USER = "UBOT00001"


def _launch_day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def _cards(emulator: SlackEmulator) -> list:
    return [m for m in emulator.workspace.messages(CHANNEL) if not m.is_reply and m.user == BOT_USER]


def _item_message(emulator: SlackEmulator, position: int):
    cards = _cards(emulator)
    for message in emulator.workspace.thread(CHANNEL, cards[0].ts) if cards else []:
        if message.metadata and message.metadata["event_payload"].get("position") == position:
            return message
    return None


def _release(bot: BotProcess, emulator: SlackEmulator, name: str = "Payments 2.4") -> None:
    """Create a release and wait until all 18 item replies are in the card's thread."""
    assert "Created" in reply_text(bot.command(MAYA, f'new "{name}" {_launch_day(14)} 14:00'))
    wait_until(lambda: _item_message(emulator, 18), what="18 item replies")


def _element(message: Any, action_id: str) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} on {message_text(message)!r}")


def _click(bot: BotProcess, emulator: SlackEmulator, user: str, position: int, action: ActionId) -> Any:
    message = _item_message(emulator, position)
    status, body = bot.sender.action(user, CHANNEL, message.ts, action, _element(message, action)["value"])
    assert status == 200, (status, body)
    return body


def _choose(bot: BotProcess, emulator: SlackEmulator, user: str, position: int, label: str) -> None:
    message = _item_message(emulator, position)
    options = _element(message, ActionId.ITEM_MORE)["options"]
    value = next(o["value"] for o in options if o["text"]["text"] == label)
    status, body = bot.sender.action(user, CHANNEL, message.ts, ActionId.ITEM_MORE, value)
    assert status == 200, (status, body)


def _told(emulator: SlackEmulator, user: str, words: str) -> bool:
    return any(words in (e.text or "") + str(e.blocks) for e in emulator.ephemerals(CHANNEL, user))


def _modal(emulator: SlackEmulator, user: str, callback: ViewId) -> dict[str, Any]:
    stack = wait_until(lambda: emulator.modal_stack(user), what=f"a modal for {user}")
    assert stack[-1]["callback_id"] == callback, stack[-1]["callback_id"]
    return stack[-1]


def _submit(bot: BotProcess, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
    status, body = bot.sender.view_submission(user, view, values)
    assert status == 200, (status, body)
    return body


def _state(emulator: SlackEmulator, position: int) -> str:
    return message_text(_item_message(emulator, position))


def test_owner_signs_off_with_a_button_and_others_are_refused(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    first = _item_message(emulator, 8)
    kinds = [e["type"] for b in first.blocks if b["type"] == "actions" for e in b["elements"]]
    assert kinds == ["button", "button", "overflow"]  # Sign off, Block, ⋯: three visible elements
    bot.command(MAYA, "assign 8 <@UANA00001|ana>")
    wait_until(lambda: "<@UANA00001>" in _state(emulator, 8), what="item 8 to show its owner")

    _click(bot, emulator, BOB, 8, ActionId.ITEM_SIGN_OFF)
    wait_until(
        lambda: _told(emulator, BOB, "Only the item's owners or the release managers"),
        what="the reply to the click",
    )
    assert "⬜ open" in _state(emulator, 8)

    _click(bot, emulator, ANA, 8, ActionId.ITEM_SIGN_OFF)
    wait_until(lambda: "done by <@UANA00001>" in _state(emulator, 8), what="item 8 to be done")
    wait_until(lambda: _told(emulator, ANA, "open → *done*"), what="Ana's confirmation")
    kinds = [
        e["type"] for b in _item_message(emulator, 8).blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert kinds == ["overflow"]  # closed: only Assign / Reopen remain

    # A value we sealed for an item that does not exist, and one we never sealed: friendly, 200.
    message = _item_message(emulator, 9)
    stale = Sealer(SIGNING_SECRET).seal({"item": 987654})
    assert bot.sender.action(ANA, CHANNEL, message.ts, ActionId.ITEM_SIGN_OFF, stale)[0] == 200
    wait_until(lambda: _told(emulator, ANA, "no longer exists"), what="the reply to the click")
    forged = "eyJpdGVtIjo5fQ.0000000000000000"
    assert bot.sender.action(ANA, CHANNEL, message.ts, ActionId.ITEM_BLOCK, forged)[0] == 200
    wait_until(lambda: _told(emulator, ANA, "not one I made"), what="the reply to the click")
    assert "⬜ open" in _state(emulator, 9)


def test_sign_off_asks_for_evidence_in_a_modal(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    bot.command(MAYA, "assign 5 <@UANA00001|ana>")
    _click(bot, emulator, ANA, 5, ActionId.ITEM_SIGN_OFF)
    view = _modal(emulator, ANA, ViewId.EVIDENCE)
    assert "Database Backup" in str(view["blocks"])
    assert "⬜ open" in _state(emulator, 5)

    assert not _submit(bot, ANA, view, {"evidence": {"evidence": "backup-2026-12-08-1600"}})
    wait_until(lambda: "evidence: backup-2026-12-08-1600" in _state(emulator, 5), what="item 5 done")
    assert "done by <@UANA00001>" in _state(emulator, 5)

    # A ✅ reaction on an evidence item gets a prompt whose button opens the same form.
    item = _item_message(emulator, 6)
    bot.sender.reaction(MAYA, CHANNEL, item.ts, "white_check_mark")
    prompt = wait_until(
        lambda: next(
            (m for m in emulator.workspace.thread(CHANNEL, item.thread_ts) if "needs evidence" in m.text),
            None,
        ),
        what="the evidence prompt",
    )
    value = _element(prompt, ActionId.ASK_EVIDENCE)["value"]
    assert bot.sender.action(MAYA, CHANNEL, prompt.ts, ActionId.ASK_EVIDENCE, value)[0] == 200
    view = _modal(emulator, MAYA, ViewId.EVIDENCE)
    assert "Data Migration Plan" in str(view["blocks"])
    assert not _submit(bot, MAYA, view, {"evidence": {"evidence": "https://wiki.example/migration"}})
    wait_until(lambda: "done by <@UMAYA0001>" in _state(emulator, 6), what="item 6 done")


def test_block_modal_checks_its_field_and_applies_once(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    _click(bot, emulator, MAYA, 3, ActionId.ITEM_BLOCK)
    view = _modal(emulator, MAYA, ViewId.BLOCK_REASON)

    for reason, words in (("   ", "empty"), ("x" * 10_000, "10000 characters")):
        body = _submit(bot, MAYA, view, {"reason": {"reason": reason}})
        assert body["response_action"] == "errors", body
        assert words in body["errors"]["reason"], body
    tampered = {**view, "private_metadata": view["private_metadata"][:-4] + "AAAA"}
    body = _submit(bot, MAYA, tampered, {"reason": {"reason": "pen-test report pending"}})
    assert "expired or was changed" in body["errors"]["reason"], body
    assert "⬜ open" in _state(emulator, 3)

    for _ in range(2):  # a double submit: the second finds the item blocked already
        assert not _submit(bot, MAYA, view, {"reason": {"reason": "pen-test report pending"}})
    wait_until(lambda: "pen-test report pending" in _state(emulator, 3), what="item 3 blocked")
    log = reply_text(bot.command(MAYA, "log 3"))
    assert log.count("(open → blocked)") == 1, log


def test_manager_waives_from_the_menu_and_an_owner_may_not(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    _choose(bot, emulator, MAYA, 12, "Assign…")
    view = _modal(emulator, MAYA, ViewId.ASSIGN)
    body = _submit(
        bot, MAYA, view, {"owners": {"owners": {"type": "multi_users_select", "selected_users": []}}}
    )
    assert "Pick at least one person" in body["errors"]["owners"], body
    body = _submit(
        bot, MAYA, view, {"owners": {"owners": {"type": "multi_users_select", "selected_users": [ANA]}}}
    )
    assert not body
    wait_until(lambda: "<@UANA00001>" in _state(emulator, 12), what="item 12 to show its owner")
    _choose(bot, emulator, ANA, 12, "Assign…")  # owners may not assign
    wait_until(lambda: _told(emulator, ANA, "Only the release managers"), what="the reply to the click")

    _choose(bot, emulator, ANA, 12, "Waive…")
    wait_until(lambda: _told(emulator, ANA, "Only the release managers"), what="the reply to the click")
    assert not emulator.modal_stack(ANA)

    _choose(bot, emulator, MAYA, 12, "Waive…")
    view = _modal(emulator, MAYA, ViewId.WAIVE_REASON)
    assert not _submit(bot, MAYA, view, {"reason": {"reason": "docs video after launch"}})
    wait_until(lambda: "waived: “docs video after launch”" in _state(emulator, 12), what="item 12 waived")

    _choose(bot, emulator, ANA, 12, "Reopen")
    wait_until(lambda: "⬜ open" in _state(emulator, 12), what="item 12 reopened")

    bot.command(MAYA, "cancel")
    _click(bot, emulator, ANA, 12, ActionId.ITEM_SIGN_OFF)
    wait_until(
        lambda: _told(emulator, ANA, "is cancelled; it takes no changes"), what="the reply to the click"
    )


def test_release_new_without_arguments_opens_a_form(bot: BotProcess, emulator: SlackEmulator):
    status, body = bot.sender.command(MAYA, CHANNEL, "new")
    assert status == 200 and not body, body
    view = _modal(emulator, MAYA, ViewId.NEW_RELEASE)

    def values(day: str) -> dict[str, Any]:
        return {
            "name": {"name": "Mobile 7.1"},
            "date": {"date": {"type": "datepicker", "selected_date": day}},
            "time": {"time": {"type": "timepicker", "selected_time": "14:00"}},
            "channel": {"channel": {"type": "conversations_select", "selected_conversation": CHANNEL}},
            "template": {"template": {"type": "static_select", "selected_option": {"value": "go-live"}}},
            "managers": {"managers": {"type": "multi_users_select", "selected_users": ["ULEE00001"]}},
        }

    body = _submit(bot, MAYA, view, values(_launch_day(-1)))
    assert "in the past" in body["errors"]["date"], body
    assert not _cards(emulator)

    assert not _submit(bot, MAYA, view, values(_launch_day(10)))
    card = wait_until(lambda: _cards(emulator), what="the new release's card")[0]
    assert "Mobile 7.1" in message_text(card) and "<@ULEE00001>" in message_text(card)
    wait_until(lambda: _told(emulator, MAYA, "Created *Mobile 7.1*"), what="Maya's confirmation")

    body = _submit(bot, MAYA, view, values(_launch_day(10)))  # submitted twice: one release
    assert "already an active release" in body["errors"]["name"], body
    assert len(_cards(emulator)) == 1


def test_the_reason_asked_for_after_a_no_entry_reaction_is_stored(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    item = _item_message(emulator, 3)
    bot.sender.reaction(MAYA, CHANNEL, item.ts, "no_entry")
    prompt = wait_until(
        lambda: [
            m for m in emulator.workspace.thread(CHANNEL, item.thread_ts) if "What is blocking it?" in m.text
        ],
        what="the reason prompt",
    )[0]
    value = _element(prompt, ActionId.ASK_BLOCK_REASON)["value"]
    status, _ = bot.sender.action(MAYA, CHANNEL, prompt.ts, ActionId.ASK_BLOCK_REASON, value)
    assert status == 200
    view = _modal(emulator, MAYA, ViewId.BLOCK_REASON)
    assert not _submit(bot, MAYA, view, {"reason": {"reason": "vendor report late"}})
    wait_until(lambda: "vendor report late" in message_text(_item_message(emulator, 3)), what="the reason")
    assert "vendor report late" in reply_text(bot.command(MAYA, "status"))


def test_cancelling_a_release_takes_the_buttons_off_its_items(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    bot.command(MAYA, "cancel")
    wait_until(
        lambda: not any(b.get("type") == "actions" for b in _item_message(emulator, 1).blocks),
        what="item replies without buttons",
    )
