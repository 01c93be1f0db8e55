"""App Home and the preferences modal through a real serve process and the Slack emulator."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.config import load_settings
from bot.domain.permissions import Actor
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.sender import VERIFICATION_TOKEN
from bot.services.context import RequestContext
from bot.slack.home import mine_reply
from bot.slack.ids import ActionId, ViewId
from bot.wiring import build
from tests.e2e.harness import SIGNING_SECRET, BotProcess, message_text, reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
QA_TEAM = "S0QA00001"  # Ana and Bob
CHANNEL = "CRELEASES"
BOT_USER = "UBOT00001"
HOME_BLOCK_LIMIT = 100


def _launch_day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def _item_message(emulator: SlackEmulator, position: int):
    cards = [m for m in emulator.workspace.messages(CHANNEL) if not m.is_reply and m.user == BOT_USER]
    for message in emulator.workspace.thread(CHANNEL, cards[0].ts) if cards else []:
        if message.metadata and message.metadata["event_payload"].get("position") == position:
            return message
    return None


def _release(bot: BotProcess, emulator: SlackEmulator, *, items: int = 18, template: str = "") -> None:
    """Maya creates a release; wait until every item reply is in the card's thread."""
    text = f'new "Payments 2.4" {_launch_day(14)} 14:00{f" template {template}" if template else ""}'
    assert "Created" in reply_text(bot.command(MAYA, text))
    wait_until(lambda: _item_message(emulator, items), what=f"{items} item replies")


def _home_text(emulator: SlackEmulator, user: str) -> str:
    view = emulator.home_view(user) or {}
    return "\n".join(
        (b.get("text") or {}).get("text", "")
        + "".join(e.get("text", "") for e in b.get("elements", []) if isinstance(e.get("text"), str))
        for b in view.get("blocks", [])
    )


def _listed(emulator: SlackEmulator, user: str) -> list[int]:
    """Item numbers on the person's Home, in order."""
    return [int(n) for n in re.findall(r"^\*(\d+)\. ", _home_text(emulator, user), flags=re.M)]


def _home_button(emulator: SlackEmulator, user: str, action: ActionId, position: int | None = None) -> dict:
    for block in (emulator.home_view(user) or {}).get("blocks", []):
        text = (block.get("text") or {}).get("text", "")
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("action_id") != action.value:
                continue
            if position is None or text.startswith(f"*{position}. "):
                return element
    raise AssertionError(f"no {action} for item {position} on {user}'s Home:\n{_home_text(emulator, user)}")


def _click_home(bot: BotProcess, emulator: SlackEmulator, user: str, element: dict[str, Any]) -> None:
    """A click on the person's Home tab, shaped like Slack's: a view container, no channel."""
    view = emulator.home_view(user)
    assert view is not None
    _click(bot, emulator, user, element, {"type": "view", "view_id": view["id"]}, view=view)


def _click(
    bot: BotProcess,
    emulator: SlackEmulator,
    user: str,
    element: dict[str, Any],
    container: dict[str, Any],
    **extra: Any,
) -> None:
    """A block_actions payload for one button, signed and sent as Slack sends it."""
    ws = emulator.workspace
    person = ws.users[user]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": person.name, "name": person.name, "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": emulator.new_trigger_id(user),
        "team": {"id": ws.team_id, "domain": ws.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [
            {
                "action_id": element["action_id"],
                "block_id": "b",
                "type": "button",
                "value": element["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
        **extra,
    }
    body = urlencode({"payload": json.dumps(payload)})
    status, answer = bot.sender.post(body, "application/x-www-form-urlencoded")
    assert status == 200, (status, answer)


def _open_home(bot: BotProcess, emulator: SlackEmulator, user: str) -> None:
    assert bot.sender.app_home_opened(user)[0] == 200
    wait_until(lambda: emulator.home_view(user), what=f"{user}'s Home")


def _publishes(emulator: SlackEmulator, user: str) -> int:
    return sum(1 for c in emulator.calls_to("views.publish") if c.args.get("user_id") == user)


def test_each_person_sees_their_own_items_and_home_follows_changes(bot: BotProcess, emulator: SlackEmulator):
    _release(bot, emulator)
    _open_home(bot, emulator, ANA)
    _open_home(bot, emulator, BOB)
    assert "Nothing needs you" in _home_text(emulator, BOB)

    bot.command(MAYA, "assign 8 <@UANA00001|ana>")
    wait_until(lambda: _listed(emulator, ANA) == [8], what="item 8 on Ana's Home")
    assert "Payments 2.4* in <#CRELEASES>" in _home_text(emulator, ANA)  # upcoming in her channel
    assert _listed(emulator, BOB) == [] and _publishes(emulator, BOB) == 1  # not his: not republished
    assert emulator.home_view(MAYA) is None  # Maya never opened Home: nothing is published for her

    _open_home(bot, emulator, MAYA)
    wait_until(lambda: "Releases you manage (1)" in _home_text(emulator, MAYA), what="Maya's releases")
    assert re.search(r"Payments 2\.4\* in <#CRELEASES> · launch <!date\^\d+\^", _home_text(emulator, MAYA))

    bot.command(MAYA, f"assign 9 <!subteam^{QA_TEAM}|@qa-team>")  # owned through a user group
    wait_until(lambda: _listed(emulator, BOB) == [9], what="item 9 on Bob's Home")
    wait_until(lambda: _listed(emulator, ANA) == [8, 9], what="items 8 and 9 on Ana's Home, due order")

    _click_home(bot, emulator, BOB, _home_button(emulator, BOB, ActionId.ITEM_SIGN_OFF, 9))
    wait_until(lambda: "done by <@UBOB00001>" in message_text(_item_message(emulator, 9)), what="item 9 done")
    wait_until(lambda: "Nothing needs you" in _home_text(emulator, BOB), what="Bob's Home refreshed")
    wait_until(lambda: _listed(emulator, ANA) == [8], what="Ana's Home refreshed")

    # A button for someone else's item (Ana's Home, clicked as Bob): refused in a modal, nothing changes.
    _click_home(bot, emulator, BOB, _home_button(emulator, ANA, ActionId.ITEM_SIGN_OFF, 8))
    refusal = wait_until(lambda: emulator.modal_stack(BOB), what="a refusal for Bob")[-1]
    assert "Only the item's owners or the release managers" in json.dumps(refusal["blocks"])
    assert "⬜ open" in message_text(_item_message(emulator, 8))


def test_sign_off_from_home_asks_for_evidence_when_the_item_needs_it(
    bot: BotProcess, emulator: SlackEmulator
):
    _release(bot, emulator)
    _open_home(bot, emulator, ANA)
    bot.command(MAYA, "assign 5 <@UANA00001|ana>")  # Database Backup: evidence required
    wait_until(lambda: _listed(emulator, ANA) == [5], what="item 5 on Ana's Home")
    _click_home(bot, emulator, ANA, _home_button(emulator, ANA, ActionId.ITEM_SIGN_OFF, 5))
    modal = wait_until(lambda: emulator.modal_stack(ANA), what="the evidence form")[-1]
    assert modal["callback_id"] == ViewId.EVIDENCE
    status, _ = bot.sender.view_submission(ANA, modal, {"evidence": {"evidence": "backup-2026-12-08"}})
    assert status == 200
    wait_until(lambda: "backup-2026-12-08" in message_text(_item_message(emulator, 5)), what="item 5 done")
    wait_until(lambda: _listed(emulator, ANA) == [], what="Ana's Home without item 5")


@pytest.fixture
def big_bot(emulator: SlackEmulator, database_url: str, tmp_path: Path, monkeypatch) -> Iterator[BotProcess]:
    """A serve process that knows a 90-item checklist (three pages of Home at 40 items a page)."""
    templates = tmp_path / "templates"
    templates.mkdir()
    items = "".join(
        f"  - key: item_{n}\n    section: Big\n    title: Check {n:03d} {'&' * 40}\n    due: -{95 - n}h\n"
        for n in range(1, 91)
    )
    (templates / "big.yml").write_text(f"name: big\ntitle: Big\nversion: 1\nitems:\n{items}")
    monkeypatch.setenv("TEMPLATES_DIR", str(templates))
    process = BotProcess(emulator, database_url, tmp_path / "serve.log").start()
    try:
        yield process
    finally:
        if process.proc is not None:
            process.stop()


def test_home_pages_many_items_within_the_block_limit(big_bot: BotProcess, emulator: SlackEmulator):
    _release(big_bot, emulator, items=90, template="big")
    _open_home(big_bot, emulator, ANA)
    for n in range(1, 91):
        big_bot.command(MAYA, f"assign {n} <@UANA00001|ana>")
    wait_until(lambda: "90 open items" in _home_text(emulator, ANA), what="all 90 items counted on Home")
    assert _listed(emulator, ANA) == list(range(1, 41))

    for page, expected in ((1, range(41, 81)), (2, range(81, 91))):
        _click_home(big_bot, emulator, ANA, _home_button(emulator, ANA, ActionId.HOME_MORE))
        wait_until(lambda e=list(expected): _listed(emulator, ANA) == e, what=f"page {page + 1}")
        assert len(emulator.home_view(ANA)["blocks"]) <= HOME_BLOCK_LIMIT
    with pytest.raises(AssertionError):
        _home_button(emulator, ANA, ActionId.HOME_MORE)  # the last page has no More

    _click_home(big_bot, emulator, ANA, _home_button(emulator, ANA, ActionId.HOME_BACK))
    wait_until(lambda: _listed(emulator, ANA) == list(range(41, 81)), what="back to page 2")
    # A change keeps her on the page she is reading.
    big_bot.command(MAYA, "done 50")
    wait_until(
        lambda: 50 not in _listed(emulator, ANA) and 81 in _listed(emulator, ANA), what="page 2 refreshed"
    )
    # Every Home the bot published went through: none was refused for size.
    assert all(c.ok for c in emulator.calls_to("views.publish"))


def test_prefs_modal_opens_prefilled_refuses_bad_input_and_saves(bot: BotProcess, emulator: SlackEmulator):
    reply = bot.command(ANA, "prefs")
    button = next(
        e
        for b in reply["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ActionId.PREFS_OPEN
    )
    # The reply is the command's ephemeral answer: clicks on it come from a message container.
    container = {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL, "is_ephemeral": True}
    _click(bot, emulator, ANA, button, container, channel={"id": CHANNEL, "name": "releases"})
    modal = wait_until(lambda: emulator.modal_stack(ANA), what="the prefs modal")[-1]
    assert modal["callback_id"] == ViewId.PREFS
    blocks = {b["block_id"]: b for b in modal["blocks"]}
    assert blocks["work_start"]["element"]["initial_time"] == "09:00"
    assert "Europe/Lisbon" in blocks["tz"]["hint"]["text"]

    def values(start: str, end: str, days: list[str], tz: str, muted: bool) -> dict[str, Any]:
        opts = [{"value": d} for d in days]
        return {
            "work_start": {"work_start": {"type": "timepicker", "selected_time": start}},
            "work_end": {"work_end": {"type": "timepicker", "selected_time": end}},
            "work_days": {"work_days": {"type": "checkboxes", "selected_options": opts}},
            "tz": {"tz": {"type": "plain_text_input", "value": tz}},
            "muted": {
                "muted": {"type": "checkboxes", "selected_options": [{"value": "muted"}] if muted else []}
            },
        }

    status, answer = bot.sender.view_submission(
        ANA, modal, values("18:00", "09:00", ["mon"], "Mars/Base", True)
    )
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"work_end"}  # the first field in error; nothing is saved
    status, answer = bot.sender.view_submission(
        ANA, modal, values("08:00", "16:00", ["mon"], "Mars/Base", True)
    )
    assert answer["errors"].keys() == {"tz"} and "Mars/Base" in answer["errors"]["tz"]
    assert "09:00–18:00" in reply_text(bot.command(ANA, "prefs"))  # unchanged

    status, answer = bot.sender.view_submission(
        ANA, modal, values("08:00", "16:30", ["sun", "mon", "tue"], "asia/tokyo", True)
    )
    assert status == 200 and not answer  # closes the modal
    shown = reply_text(bot.command(ANA, "prefs"))
    assert "08:00–16:30, mon, tue, sun" in shown and "Asia/Tokyo (set here" in shown and "muted" in shown
    wait_until(
        lambda: any("08:00–16:30" in (e.text or "") for e in emulator.ephemerals(CHANNEL, ANA)), what="ack"
    )


def test_mine_lists_items_owned_directly_and_through_a_group(
    bot: BotProcess, emulator: SlackEmulator, database_url
):
    """`/release mine` before its command is wired: the service and reply, in-process, on the same data."""
    _release(bot, emulator)
    bot.command(MAYA, "assign 8 <@UANA00001|ana>")
    bot.command(MAYA, f"assign 3 <!subteam^{QA_TEAM}|@qa-team>")
    bot.command(MAYA, "assign 12 <@UBOB00001|bob>")
    bot.command(MAYA, "assign 4 <@UANA00001|ana>")
    assert "not applicable" in reply_text(bot.command(MAYA, "na 4"))  # closed: nothing left for her
    settings = load_settings(
        slack_bot_token=emulator.workspace.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=emulator.api_url,
        database_url=database_url,
        _env_file=None,
    )
    runtime = build(settings, migrate=False)
    try:
        result = runtime.services.home.mine(RequestContext(Actor(ANA), CHANNEL))
    finally:
        runtime.stop()
    assert sorted(m.item.position for m in result.items) == [3, 8]
    assert [m.item.due_at for m in result.items] == sorted(m.item.due_at for m in result.items)
    text, blocks = mine_reply(result, datetime.now(UTC))
    assert text == "2 open items need you"
    assert "Payments 2.4 in <#CRELEASES>" in reply_text({"blocks": blocks})
