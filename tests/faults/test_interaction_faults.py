"""Slack behaving oddly towards the app: repeats, overtaking events, crowds, stale buttons, lost channels.

The real app over HTTP against the emulator (the sandbox). Each test asserts what Slack received (messages,
ephemerals), where the delivery rows ended, and what the audit trail says.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.config import load_settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.workspace import Message
from bot.slack.ids import ActionId
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, ChecklistItem, Delivery, ProcessedEvent

MAYA, ANA, BOB, LEE, DANA, RAVI = "UMAYA0001", "UANA00001", "UBOB00001", "ULEE00001", "UDANA0001", "URAVI0001"
RELEASES, ANNOUNCE = "CRELEASES", "CANNOUNCE"
BERLIN = ZoneInfo("Europe/Berlin")
DEPENDENCY_CHECK, CODE_REVIEW = 8, 1  # signing off the first needs no evidence


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def _launch(box: LocalSandbox, days: int) -> datetime:
    day = (box.clock.now().astimezone(BERLIN) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 14, tzinfo=BERLIN)


def _release(box: LocalSandbox, days: int = 12, *more: str) -> datetime:
    launch = _launch(box, days)
    for text in (f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00', f"assign {DEPENDENCY_CHECK} @ana", *more):
        reply = box.command(MAYA, RELEASES, text)
        assert reply.status == 200 and not str(reply.body.get("text", "")).startswith("⚠️"), reply.body
    return launch


def _item(box: LocalSandbox, position: int) -> Message:
    for message in box.workspace.messages(RELEASES):
        meta = message.metadata or {}
        if meta.get("event_type") == "release_captain_item" and meta["event_payload"]["position"] == position:
            return message
    raise AssertionError(f"no item {position}")


def _value(message: Message, action: ActionId) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action.value:
                return element["value"]
    raise AssertionError(f"no {action} on {message.text!r}")


def _state(box: LocalSandbox, position: int) -> str:
    with unit_of_work(box.runtime.engine, write=False) as session:
        return session.exec(select(ChecklistItem.state).where(ChecklistItem.position == position)).one()


def _audit(box: LocalSandbox, action: str | None = None, outcome: str = "applied") -> list[AuditEvent]:
    with unit_of_work(box.runtime.engine, write=False) as session:
        query = select(AuditEvent).where(AuditEvent.outcome == outcome).order_by(col(AuditEvent.id))
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.exec(query).all())


def _deliveries(box: LocalSandbox, kind: str | None = None) -> list[Delivery]:
    with unit_of_work(box.runtime.engine, write=False) as session:
        query = select(Delivery).order_by(col(Delivery.id))
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        return list(session.exec(query).all())


def _told(box: LocalSandbox, user: str, words: str, channel: str = RELEASES) -> list[str]:
    return [e.text for e in box.emulator.ephemerals(channel, user) if words in e.text]


def _dms(box: LocalSandbox, user: str, words: str) -> list[Message]:
    dm = "D" + user[1:]
    bot = box.workspace.bot_user_id
    return [m for m in box.workspace.messages(dm) if m.user == bot and words in m.text]


def _reaction(box: LocalSandbox, user: str, ts: str, kind: str = "reaction_added", **extra: Any) -> dict:
    return {
        "type": kind,
        "user": user,
        "reaction": "white_check_mark",
        "item": {"type": "message", "channel": RELEASES, "ts": ts},
        "event_ts": box.workspace.next_ts(),
        **extra,
    }


# --- events Slack repeats or reorders --------------------------------------------------------------------


def test_the_same_event_again_and_as_slack_retries_acts_once(sandbox: LocalSandbox) -> None:
    _release(sandbox)
    ts = _item(sandbox, DEPENDENCY_CHECK).ts
    sandbox.workspace.add_reaction(RELEASES, ts, ANA, "white_check_mark")
    event = _reaction(sandbox, ANA, ts)
    answers = [sandbox.sender.event(event, event_id="EvTWICE0001")]
    answers += [sandbox.sender.event(event, event_id="EvTWICE0001", retry_num=n) for n in (1, 2, 3)]
    answers += [sandbox.sender.event(event, event_id="EvTWICE0001")]  # a plain duplicate, no retry header
    sandbox.settle()
    assert [status for status, _ in answers] == [200] * 5
    assert _state(sandbox, DEPENDENCY_CHECK) == "done"
    assert len(_audit(sandbox, "done")) == 1
    assert len(_told(sandbox, ANA, "now done")) == 1  # one confirmation, not five
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        seen = session.exec(select(ProcessedEvent).where(ProcessedEvent.event_id == "EvTWICE0001")).all()
    assert len(seen) == 1


def test_a_removal_that_overtakes_its_addition_leaves_the_item_open(sandbox: LocalSandbox) -> None:
    _release(sandbox)
    ts = _item(sandbox, DEPENDENCY_CHECK).ts
    added, removed = _reaction(sandbox, ANA, ts), _reaction(sandbox, ANA, ts, "reaction_removed")
    assert sandbox.sender.event(removed)[0] == 200  # the later event arrives first
    assert sandbox.sender.event(added)[0] == 200
    sandbox.settle()
    assert _state(sandbox, DEPENDENCY_CHECK) == "open"
    assert _audit(sandbox, "done") == [] and _audit(sandbox, "undo") == []
    assert _told(sandbox, ANA, "now done") == []


def test_an_addition_and_its_removal_in_order_sign_off_and_reopen(sandbox: LocalSandbox) -> None:
    _release(sandbox)
    ts = _item(sandbox, DEPENDENCY_CHECK).ts
    sandbox.react(ANA, RELEASES, ts, "white_check_mark")
    sandbox.react(ANA, RELEASES, ts, "white_check_mark", added=False)
    assert _state(sandbox, DEPENDENCY_CHECK) == "open"
    assert [(a.before, a.after) for a in _audit(sandbox) if a.item_id is not None][-2:] == [
        ("open", "done"),
        ("done", "open"),
    ]


def test_ten_concurrent_reactions_on_one_item_make_one_sign_off(sandbox: LocalSandbox) -> None:
    owners = [ANA, BOB, LEE, DANA, RAVI]
    _release(sandbox, 12, f"assign {DEPENDENCY_CHECK} @bob @lee @dana @ravi")
    ts = _item(sandbox, DEPENDENCY_CHECK).ts
    reactors = [(u, e) for u in [*owners, MAYA] for e in ("white_check_mark", "heavy_check_mark")][:10]
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda u=user, e=emoji: statuses.append(sandbox.sender.reaction(u, RELEASES, ts, e)[0])
        )
        for user, emoji in reactors
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sandbox.settle()
    assert statuses == [200] * 10
    assert _state(sandbox, DEPENDENCY_CHECK) == "done"
    assert len(_audit(sandbox, "done")) == 1
    confirmations = [e for e in sandbox.emulator.ephemerals(RELEASES) if "now done" in e.text]
    assert len(confirmations) == 1
    item = _item(sandbox, DEPENDENCY_CHECK)
    assert item.text.count("done by") <= 1 and "done by" in str(item.blocks)


# --- buttons from an older rendering ---------------------------------------------------------------------


def test_a_sign_off_button_from_before_the_item_changed_changes_nothing(sandbox: LocalSandbox) -> None:
    _release(sandbox)
    old = _item(sandbox, DEPENDENCY_CHECK)
    sign_off = _value(old, ActionId.ITEM_SIGN_OFF)
    sandbox.command(ANA, RELEASES, f"done {DEPENDENCY_CHECK}")
    assert _state(sandbox, DEPENDENCY_CHECK) == "done"
    # The message has no Sign off button any more; Slack still delivers a click made on the old rendering.
    assert sandbox.sender.action(ANA, RELEASES, old.ts, ActionId.ITEM_SIGN_OFF.value, sign_off)[0] == 200
    sandbox.settle()
    assert len(_audit(sandbox, "done")) == 1
    assert _state(sandbox, DEPENDENCY_CHECK) == "done"
    assert _told(sandbox, ANA, "is already done; nothing changed")


def test_buttons_of_a_cancelled_release_change_nothing(sandbox: LocalSandbox) -> None:
    _release(sandbox)
    block = _value(_item(sandbox, CODE_REVIEW), ActionId.ITEM_BLOCK)
    sandbox.command(MAYA, RELEASES, "cancel")
    applied = len(_audit(sandbox))
    assert (
        sandbox.sender.action(MAYA, RELEASES, _item(sandbox, 1).ts, ActionId.ITEM_BLOCK.value, block)[0]
        == 200
    )
    sandbox.settle()
    assert _told(sandbox, MAYA, "cancelled")
    assert len(_audit(sandbox)) == applied
    assert sandbox.emulator.modal_stack(MAYA) == []  # no reason form for a release that takes no changes
    assert _state(sandbox, CODE_REVIEW) == "open"


def _draft_of(box: LocalSandbox, user: str, label: str) -> Message:
    return [m for m in _dms(box, user, f"{label} announcement") if "Draft" in m.text][-1]


def _announcement(box: LocalSandbox, kind: str) -> Announcement:
    with unit_of_work(box.runtime.engine, write=False) as session:
        return session.exec(select(Announcement).where(Announcement.kind == kind)).one()


def test_approving_a_draft_that_was_replaced_is_refused(sandbox: LocalSandbox) -> None:
    launch = _release(sandbox, 10, "comms @ana", "announce channel #announcements")
    sandbox.set_time(launch - timedelta(hours=70))
    old = _draft_of(sandbox, ANA, "upcoming release")
    approve = _value(old, ActionId.ANNOUNCE_APPROVE)
    version = _announcement(sandbox, "upcoming").version
    sandbox.command(MAYA, RELEASES, f"reschedule {launch + timedelta(days=3):%Y-%m-%d} 14:00")
    assert _announcement(sandbox, "upcoming").version == version + 1  # the draft was replaced
    before = _audit(sandbox)
    assert (
        sandbox.sender.action(ANA, "D" + ANA[1:], old.ts, ActionId.ANNOUNCE_APPROVE.value, approve)[0] == 200
    )
    sandbox.settle()
    assert _announcement(sandbox, "upcoming").state == "planned"
    assert _audit(sandbox) == before
    assert _told(sandbox, ANA, "replaced", channel="D" + ANA[1:])  # told why, where she clicked
    sandbox.set_time(launch + timedelta(hours=1))
    assert [m for m in sandbox.workspace.messages(ANNOUNCE) if "Payments 2.4" in m.text] == []


# --- channels the bot can no longer post in --------------------------------------------------------------


def _problems(box: LocalSandbox) -> list[Delivery]:
    return [d for d in _deliveries(box, "problem") if d.state == "sent"]


def _lose_channel(box: LocalSandbox, how: str) -> None:
    channel = box.workspace.channels[RELEASES]
    with box.workspace.lock:
        if how == "archived":
            channel.is_archived = True
        else:
            channel.members.discard(box.workspace.bot_user_id)


@pytest.mark.parametrize(("how", "error"), [("removed", "not_in_channel"), ("archived", "is_archived")])
def test_a_release_channel_lost_ends_its_posts_and_tells_managers_once(
    sandbox: LocalSandbox, how: str, error: str
) -> None:
    launch = _release(sandbox, 3)
    _lose_channel(sandbox, how)
    sandbox.set_time(launch - timedelta(hours=23))  # the readiness summary falls due: it cannot be posted
    sandbox.set_time(launch - timedelta(hours=1))  # and the final call after it
    summaries = _deliveries(sandbox, "summary") + _deliveries(sandbox, "final_call")
    assert summaries and all(d.state in ("dead", "cancelled") for d in summaries)
    assert all(error in (d.reason or "") for d in summaries)
    told = _dms(sandbox, MAYA, "could not be delivered")
    assert len(told) == 1, [m.text for m in told]  # once, however many posts failed for the same reason
    assert {d.recipient for d in _problems(sandbox)} == {MAYA}
    posted = [c for c in sandbox.emulator.calls_to("chat.postMessage") if c.args.get("channel") == RELEASES]
    assert all(not c.ok for c in posted[-len(summaries) :])

    reply = sandbox.command(MAYA, RELEASES, f"done {DEPENDENCY_CHECK}")
    assert reply.status == 200, reply.body["text"]
    assert _state(sandbox, DEPENDENCY_CHECK) == "done"  # the work is recorded; only the card can't be updated


# --- an owner who left -----------------------------------------------------------------------------------


def _deactivate(box: LocalSandbox, user: str, *, dm_archived: bool = True) -> None:
    """What Slack does when an admin deactivates someone: gone from channels, their DMs archived."""
    with box.workspace.lock:
        box.workspace.users[user].deleted = True
        box.workspace.channels[RELEASES].members.discard(user)
        dm = box.workspace.channels.get("D" + user[1:])
        if dm is not None:
            dm.is_archived = dm_archived


def _lose_owner(box: LocalSandbox, launch: datetime, *, dm_archived: bool = True) -> int:
    """Ana owns item 8 and has had a reminder; then she leaves. Returns how many DMs she had."""
    box.set_time(launch - timedelta(hours=47))
    reminded = len(_dms(box, ANA, "release item needs you"))
    assert reminded  # she was being reminded
    _deactivate(box, ANA, dm_archived=dm_archived)
    box.clock.advance(timedelta(days=1, minutes=5))  # past the directory cache's day
    return len(_dms(box, ANA, ""))


def test_a_deactivated_owner_cannot_be_assigned_and_their_reminders_end(sandbox: LocalSandbox) -> None:
    launch = _release(sandbox, 5)
    before = _lose_owner(sandbox, launch)
    reply = sandbox.sender.command(MAYA, RELEASES, f"assign {CODE_REVIEW} <@{ANA}|ana>")[1]
    assert reply["text"].startswith("⚠️") and "deactivated" in reply["text"]
    assert [a.item_id for a in _audit(sandbox, "assign")] == [DEPENDENCY_CHECK]  # only the setup's
    sandbox.set_time(launch + timedelta(hours=1))
    # Once the bot knows she left, no reminder is planned for her; any planned before end with a reason.
    ended = [d for d in _deliveries(sandbox) if d.recipient == ANA and d.state != "sent"]
    assert {d.state for d in ended} <= {"cancelled", "dead"}, [(d.kind, d.state) for d in ended]
    assert all(d.reason for d in ended)  # each says why it ended
    assert len(_dms(sandbox, ANA, "")) == before  # nothing more reached her


def test_managers_hear_once_that_an_owner_can_no_longer_be_reached(sandbox: LocalSandbox) -> None:
    launch = _release(sandbox, 5)
    _lose_owner(sandbox, launch)
    sandbox.set_time(launch + timedelta(hours=1))
    told = [d for d in _deliveries(sandbox, "problem") if ANA in (d.reason or "")]
    assert [(d.recipient, d.state) for d in told] == [(MAYA, "sent")]


def test_no_reminder_is_planned_for_an_owner_known_to_be_deactivated(sandbox: LocalSandbox) -> None:
    launch = _release(sandbox, 5)
    before = _lose_owner(sandbox, launch, dm_archived=False)  # Slack would refuse; the bot must not ask
    sandbox.sender.command(MAYA, RELEASES, f"assign {CODE_REVIEW} <@{ANA}|ana>")  # the bot learns she left
    sandbox.set_time(launch + timedelta(hours=1))
    assert len(_dms(sandbox, ANA, "")) == before
