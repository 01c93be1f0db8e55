"""Modals and item buttons are valid Block Kit at any size, and read back what Slack submits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.errors import Conflict, InvalidInput
from bot.domain.model import ItemState, ItemView, ReleaseState, ReleaseView
from bot.slack import modals, render
from bot.slack.ids import ActionId, ViewId
from bot.slack.item_actions import item_actions
from bot.slack.listeners.views import _launch_at
from bot.slack.seal import Sealer

SEALER = Sealer("unit-test-key")
HOSTILE = "<!channel> <https://evil.example|click> & *bold* " * 40
# The biggest metadata a modal carries: a large item id, a channel and a thread ts.
METADATA = SEALER.seal({"item": 2**53, "channel": "C" + "9" * 20, "thread": "1700000000.123456"})


def _every_modal() -> list[dict]:
    subject = f"*5. {HOSTILE}*"
    views = [modals.note_form(form, METADATA, subject) for form in modals.NOTE_FORMS]
    views.append(modals.assign(METADATA, subject))
    for templates in ([], ["go-live"], [f"t{i}-" + "x" * 120 for i in range(150)]):
        views.append(
            modals.new_release(
                SEALER.seal({"channel": "CRELEASES"}),
                channel_id="CRELEASES",
                templates=templates,
                default="go-live",
                tz="America/Argentina/ComodRivadavia",
            )
        )
    return views


@pytest.mark.parametrize("view", _every_modal(), ids=lambda v: v["callback_id"])
def test_every_modal_is_valid_block_kit(view: dict) -> None:
    View(**view).validate_json()
    for block in view["blocks"]:
        Block.parse(block).validate_json()
    assert len(view["title"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    assert view["callback_id"] in set(ViewId)


def test_each_form_asks_for_one_note_and_only_na_may_leave_it_empty() -> None:
    for form, spec in modals.NOTE_FORMS.items():
        view = modals.note_form(form, METADATA, "*1. Item*")
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert [b["block_id"] for b in inputs] == [spec.block]
        assert inputs[0]["element"]["max_length"] == 2000
        assert inputs[0]["optional"] is (form is ViewId.NA_REASON)


@pytest.mark.parametrize("state", list(ItemState))
def test_item_buttons_are_few_valid_and_sealed(state: ItemState) -> None:
    block = item_actions(SEALER, 41, state)
    Block.parse(block).validate_json()
    assert len(block["elements"]) <= 4
    values = []
    for element in block["elements"]:
        assert element["action_id"] in set(ActionId)
        values += [o["value"] for o in element.get("options", [])] or [element["value"]]
    assert all(len(v) <= 150 and SEALER.unseal(v)["item"] == 41 for v in values)
    ids = [e["action_id"] for e in block["elements"]]
    assert (ActionId.ITEM_SIGN_OFF in ids) is not state.is_closed
    assert (ActionId.ITEM_BLOCK in ids) is (state in (ItemState.OPEN, ItemState.IN_PROGRESS))


def test_an_item_reply_with_buttons_stays_within_limits() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    it = ItemView(
        1, "k", HOSTILE, HOSTILE, HOSTILE, ItemState.BLOCKED, now, timedelta(days=-1), reason=HOSTILE, id=7
    )
    release = ReleaseView(
        7, HOSTILE[:150], "C1", now, "UTC", ReleaseState.PLANNING, "go-live", ["U1"], [it], "U1"
    )
    _text, blocks = render.item(release, it, now, actions=[item_actions(SEALER, 7, it.state)])
    for block in blocks:
        Block.parse(block).validate_json()
    assert blocks[-1]["type"] == "actions"


def test_field_errors_are_plain_text() -> None:
    error = Conflict("I'm not in <#C123> yet; ask <@U1> or <!subteam^S1>. *Payments &amp; Co*")
    assert modals.field_error(error) == "I'm not in that channel yet; ask them or them. Payments & Co"
    assert len(modals.field_error(InvalidInput("x" * 5000))) <= 1000


def _services(tz: str, now: datetime) -> SimpleNamespace:
    people = SimpleNamespace(timezone_of=lambda _user: tz)
    return SimpleNamespace(releases=SimpleNamespace(people=people), clock=SimpleNamespace(now=lambda: now))


def _picked(day: str, at: str, tz: str | None = None) -> dict:
    picker = {"type": "timepicker", "selected_time": at} | ({"timezone": tz} if tz else {})
    return {"state": {"values": {"date": {"date": {"selected_date": day}}, "time": {"time": picker}}}}


def test_the_launch_time_is_read_in_the_submitters_zone_or_the_pickers() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    services = _services("Europe/Berlin", now)
    assert _launch_at(services, _picked("2026-12-10", "14:00"), "U1") == (
        datetime(2026, 12, 10, 13, 0, tzinfo=UTC),
        "Europe/Berlin",
    )
    at, tz = _launch_at(services, _picked("2026-12-10", "14:00", "America/New_York"), "U1")
    assert (at, tz) == (datetime(2026, 12, 10, 19, 0, tzinfo=UTC), "America/New_York")
    with pytest.raises(InvalidInput, match="in the past"):
        _launch_at(services, _picked("2026-12-01", "09:30"), "U1")  # 08:30 UTC, before now
    with pytest.raises(InvalidInput, match="Pick a launch date"):
        _launch_at(services, _picked("", "09:30"), "U1")
