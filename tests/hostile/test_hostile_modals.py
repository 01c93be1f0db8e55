"""The nasty-string corpus through every text input of every modal, submitted as Slack submits them.

Each modal is opened once the way a person opens it (a button, a command), then submitted again and again
with hostile values, as a double or stale submit would arrive: every answer is checked by the probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.domain.announcements import FIELDS
from bot.sandbox.local import LocalSandbox
from bot.sandbox.workspace import Message
from bot.slack.ids import ActionId, ViewId
from tests.hostile.corpus import CORPUS, MODAL_ONLY, names_for
from tests.hostile.probe import Probe

MAYA, ANA = "UMAYA0001", "UANA00001"
RELEASES = "CRELEASES"
BERLIN = ZoneInfo("Europe/Berlin")
VALUES = {**CORPUS, **MODAL_ONLY}


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def _element(message: Message, action: ActionId) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action.value:
                return element
    raise AssertionError(f"no {action} on {message.text!r}")


def _item(box: LocalSandbox, position: int) -> Message:
    for message in box.workspace.messages(RELEASES):
        meta = message.metadata or {}
        if meta.get("event_type") == "release_captain_item" and meta["event_payload"]["position"] == position:
            return message
    raise AssertionError(f"no item {position}")


def _with(action: ActionId, find: Callable[[LocalSandbox], Message], option: str | None = None):
    """An opener: click `action` on the message `find` returns (the overflow option labelled `option`)."""

    def open_modal(box: LocalSandbox, user: str) -> None:
        message = find(box)
        element = _element(message, action)
        value = element.get("value") or next(
            o["value"] for o in element["options"] if o["text"]["text"] == option
        )
        box.click(user, message.channel, message.ts, action.value, value)

    return open_modal


def _command(text: str, then: ActionId | None = None):
    """An opener: a command that opens the modal itself, or whose reply has the button that does."""

    def open_modal(box: LocalSandbox, user: str) -> None:
        box.command(user, RELEASES, text)
        if then is not None:
            reply = box.emulator.ephemerals(RELEASES, user)[-1]
            box.click(user, RELEASES, reply.ts, then.value, _element(reply, then)["value"])  # type: ignore[arg-type]

    return open_modal


def _summary(box: LocalSandbox) -> Message:
    return next(m for m in box.workspace.messages(RELEASES) if ActionId.VOTE_RISK.value in str(m.blocks))


def _draft(box: LocalSandbox) -> Message:
    dms = box.workspace.messages("D" + ANA[1:])
    return [m for m in dms if ActionId.ANNOUNCE_EDIT.value in str(m.blocks)][-1]


def _text(block: str) -> Callable[[str], dict[str, Any]]:
    return lambda x: {block: {block: x}}


def _all_but_notes(x: str) -> dict[str, Any]:
    return {f: {f: x} for f in FIELDS if f != "notes"}


def _prefs(x: str) -> dict[str, Any]:
    return {
        "work_start": {"work_start": {"type": "timepicker", "selected_time": "09:00"}},
        "work_end": {"work_end": {"type": "timepicker", "selected_time": "17:00"}},
        "work_days": {"work_days": {"type": "checkboxes", "selected_options": [{"value": "mon"}]}},
        "tz": {"tz": x},
        "muted": {"muted": {"type": "checkboxes", "selected_options": []}},
    }


def _new_release(day: str) -> Callable[[str], dict[str, Any]]:
    return lambda x: {
        "name": {"name": x},
        "date": {"date": {"type": "datepicker", "selected_date": day}},
        "time": {"time": {"type": "timepicker", "selected_time": "14:00"}},
        "channel": {"channel": {"type": "conversations_select", "selected_conversation": "CANNOUNCE"}},
        "template": {"template": {"type": "static_select", "selected_option": {"value": "hotfix"}}},
        "managers": {"managers": {"type": "multi_users_select", "selected_users": []}},
    }


def test_every_modal_text_input_survives_the_corpus(sandbox: LocalSandbox) -> None:
    day = (sandbox.clock.now().astimezone(BERLIN) + timedelta(days=4)).date()
    launch = datetime(day.year, day.month, day.day, 14, tzinfo=BERLIN)
    setups = [f'new "Payments 2.4" {day:%Y-%m-%d} 14:00', "comms @ana", "deciders @maya @lee"]
    setups.append("assign 5 @ana")
    for setup in setups:
        sandbox.command(MAYA, RELEASES, setup)
    sandbox.set_time(launch - timedelta(hours=23))  # the readiness summary and the go-live draft are out
    later = f"{launch + timedelta(days=30):%Y-%m-%d}"
    item, more = (lambda n: lambda b: _item(b, n)), ActionId.ITEM_MORE
    forms = [
        (ViewId.BLOCK_REASON, MAYA, _with(ActionId.ITEM_BLOCK, item(3)), _text("reason")),
        (ViewId.EVIDENCE, ANA, _with(ActionId.ITEM_SIGN_OFF, item(5)), _text("evidence")),
        (ViewId.WAIVE_REASON, MAYA, _with(more, item(12), "Waive…"), _text("reason")),
        (ViewId.NA_REASON, MAYA, _with(more, item(10), "Not applicable…"), _text("reason")),
        (ViewId.VOTE_REASON, MAYA, _with(ActionId.VOTE_RISK, _summary), _text("reason")),
        (ViewId.ANNOUNCE_EDIT, ANA, _with(ActionId.ANNOUNCE_EDIT, _draft), _text("announcement_text")),
        (ViewId.RELEASE_DETAILS, MAYA, _command("details"), _all_but_notes),
        (ViewId.RELEASE_DETAILS, MAYA, _command("details"), _text("notes")),
        (ViewId.PREFS, MAYA, _command("prefs", then=ActionId.PREFS_OPEN), _prefs),
        (ViewId.NEW_RELEASE, MAYA, _command("new"), _new_release(later)),
    ]  # fmt: skip
    probe = Probe(sandbox)
    for index, (view_id, user, open_modal, values) in enumerate(forms):
        sandbox.close_modal(user)
        open_modal(sandbox, user)
        stack = sandbox.emulator.modal_stack(user)
        assert stack and stack[-1]["callback_id"] == view_id.value, (view_id, stack)
        probe.sync()
        for name in [*names_for(index, 3), *MODAL_ONLY]:
            label, authored = f"{view_id.value} ← {name}", view_id is ViewId.ANNOUNCE_EDIT
            probe.submit(user, stack[-1], values(VALUES[name]), label, authored=authored)
    for text in ["status", "summary", "log 3", "announce preview upcoming", "list"]:
        probe.command(MAYA, RELEASES, text, text)
    assert sandbox.log_path.read_text(encoding="utf-8").count(" ERROR ") == 0
    print(f"\n{probe.tally.tried} hostile submissions, slowest {probe.tally.slowest:.3f}s")
    assert probe.tally.refused >= len(forms) * len(MODAL_ONLY)  # a lone surrogate is always refused
