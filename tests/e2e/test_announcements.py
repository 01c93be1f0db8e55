"""Announcements end to end: the real app over HTTP against the emulator, with the sandbox's clock.

A draft DM per announcement at its lead time, one post per approved announcement and none for a skipped
one, a reschedule that re-times the post and drafts the delayed notice, and exactly one post when Slack
accepted a post whose answer was lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.config import load_settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.workspace import Message
from bot.slack.ids import ActionId
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, ChecklistItem

MAYA, ANA, LEE = "UMAYA0001", "UANA00001", "ULEE00001"
RELEASES, ANNOUNCE = "CRELEASES", "CANNOUNCE"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def launch_at(sandbox: LocalSandbox, days: int = 10) -> datetime:
    """Launch 14:00 Berlin time, `days` ahead of the sandbox's clock."""
    day = (sandbox.clock.now().astimezone(BERLIN) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 14, 0, tzinfo=BERLIN)


def start_release(sandbox: LocalSandbox, launch: datetime) -> None:
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    ok(sandbox.command(MAYA, RELEASES, "comms @ana"))
    ok(sandbox.command(MAYA, RELEASES, "announce channel #announcements"))
    ok(sandbox.command(MAYA, RELEASES, "set downtime Sat 02:00–02:30 UTC, about 30 minutes"))


def ok(delivery: Any) -> None:
    assert delivery.status == 200, delivery.body
    body = delivery.body if isinstance(delivery.body, dict) else {}
    assert "⚠️" not in str(body.get("text")), body


def reply_text(delivery: Any) -> str:
    return json.dumps(delivery.body, ensure_ascii=False)


def dms(sandbox: LocalSandbox, user: str) -> list[Message]:
    return [m for m in sandbox.workspace.messages("D" + user[1:]) if m.user == sandbox.workspace.bot_user_id]


def drafts(sandbox: LocalSandbox, user: str, label: str) -> list[Message]:
    return [m for m in dms(sandbox, user) if f"{label} announcement" in m.text and "Draft" in m.text]


def posts(sandbox: LocalSandbox, channel: str = ANNOUNCE) -> list[Message]:
    return [m for m in sandbox.workspace.messages(channel) if m.user == sandbox.workspace.bot_user_id]


def button(message: Message, action: ActionId) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action.value:
                return element["value"]
    raise AssertionError(f"no {action} button in {message.text!r}")


def click(sandbox: LocalSandbox, user: str, message: Message, action: ActionId) -> Any:
    channel = "D" + user[1:]
    delivery = sandbox.click(user, channel, message.ts, action.value, button(message, action))
    sandbox.settle()
    return delivery


def announcements(sandbox: LocalSandbox) -> dict[str, Announcement]:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        rows = session.exec(select(Announcement).order_by(Announcement.id)).all()
        return {row.kind + ("" if row.kind != "delayed" else str(row.id)): row for row in rows}


def item_state(sandbox: LocalSandbox, key: str) -> str:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        return session.exec(select(ChecklistItem).where(ChecklistItem.key == key)).one().state


def test_drafts_at_lead_time_and_only_approved_ones_posted_once(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    upcoming_post = launch - timedelta(hours=48)

    sandbox.set_time(upcoming_post - timedelta(hours=24, minutes=31))
    assert drafts(sandbox, ANA, "upcoming release") == []
    sandbox.set_time(upcoming_post - timedelta(hours=23))
    [draft] = drafts(sandbox, ANA, "upcoming release")
    assert "Sat 02:00–02:30 UTC" in json.dumps(draft.blocks, ensure_ascii=False)
    assert drafts(sandbox, MAYA, "upcoming release") == []  # comms owners get drafts, not managers

    # Lee is neither a comms owner nor a manager: refused, nothing changes, even with the real buttons
    # (shared in a channel he can see).
    copy = sandbox.workspace.post(RELEASES, sandbox.workspace.bot_user_id, draft.text, blocks=draft.blocks)
    value = button(copy, ActionId.ANNOUNCE_APPROVE)
    refused = sandbox.click(LEE, RELEASES, copy.ts, ActionId.ANNOUNCE_APPROVE.value, value)
    assert refused.status == 200
    assert announcements(sandbox)["upcoming"].state == "planned"
    assert any("comms owners" in e.text for e in sandbox.emulator.ephemerals(user=LEE))

    click(sandbox, ANA, draft, ActionId.ANNOUNCE_APPROVE)
    assert announcements(sandbox)["upcoming"].state == "approved"
    assert posts(sandbox) == []  # approved ahead of time: posted at its time, not now

    sandbox.set_time(upcoming_post + timedelta(minutes=31))
    [post] = posts(sandbox)
    assert "Payments 2.4" in post.text and "02:00–02:30" in post.text
    assert announcements(sandbox)["upcoming"].state == "posted"
    assert item_state(sandbox, "user_communication") == "done"
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        sources = session.exec(select(AuditEvent.source).where(AuditEvent.action == "done")).all()
    assert "announcement" in sources

    # The go-live draft reaches Ana a day before launch; she skips it: nothing is posted at launch.
    sandbox.set_time(launch - timedelta(hours=23))
    [live_draft] = drafts(sandbox, ANA, "go-live")
    click(sandbox, ANA, live_draft, ActionId.ANNOUNCE_SKIP)
    assert announcements(sandbox)["go_live"].state == "skipped"
    sandbox.set_time(launch + timedelta(hours=2))
    ok(sandbox.command(MAYA, RELEASES, "launch override the dry run is enough"))
    sandbox.run_due_work()
    assert len(posts(sandbox)) == 1  # only the upcoming one, once
    # One DM per announcement (each edited in place once acted on), none to anyone else.
    assert len([m for m in dms(sandbox, ANA) if "upcoming release announcement" in m.text]) == 1
    assert len([m for m in dms(sandbox, ANA) if "go-live announcement" in m.text]) == 1
    assert not [m for m in dms(sandbox, LEE) if "announcement" in m.text]


def test_reschedule_after_approval_retimes_post_and_drafts_delayed_notice(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    sandbox.set_time(launch - timedelta(hours=70))
    [draft] = drafts(sandbox, ANA, "upcoming release")
    click(sandbox, ANA, draft, ActionId.ANNOUNCE_APPROVE)

    ok(sandbox.command(MAYA, RELEASES, f"reschedule {launch + timedelta(days=3):%Y-%m-%d} 14:00"))
    sandbox.set_time(launch - timedelta(hours=47))  # the old time passes: nothing is posted
    assert [p for p in posts(sandbox) if "Payments 2.4" in p.text] == []
    upcoming = announcements(sandbox)["upcoming"]
    assert upcoming.state == "approved"
    assert upcoming.post_at == (launch + timedelta(days=3) - timedelta(hours=48)).astimezone(
        upcoming.post_at.tzinfo
    )

    [delayed] = drafts(sandbox, ANA, "delayed")
    assert "Draft" in delayed.text
    click(sandbox, ANA, delayed, ActionId.ANNOUNCE_APPROVE)  # offered notices post once approved
    [post] = posts(sandbox)
    assert "Payments 2.4" in post.text
    text = post.text
    assert "<!date^" in text  # old and new launch shown in each reader's own zone

    sandbox.set_time(launch + timedelta(days=3) - timedelta(hours=47))
    assert len(posts(sandbox)) == 2  # the upcoming one at its new time
    assert announcements(sandbox)["upcoming"].state == "posted"


def test_a_post_slack_accepted_but_whose_answer_was_lost_is_not_posted_again(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    sandbox.set_time(launch - timedelta(hours=70))
    [draft] = drafts(sandbox, ANA, "upcoming release")
    click(sandbox, ANA, draft, ActionId.ANNOUNCE_APPROVE)
    # Slack applies the post and then answers internal_error: the bot cannot know it worked.
    sandbox.emulator.inject("chat.postMessage", "internal_error")
    sandbox.set_time(launch - timedelta(hours=47, minutes=30))
    sandbox.set_time(launch - timedelta(hours=46))  # retries look before posting again
    assert len(posts(sandbox)) == 1
    assert announcements(sandbox)["upcoming"].state == "posted"


def test_unapproved_announcements_are_held_and_managers_told(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    sandbox.set_time(launch - timedelta(hours=47))
    assert posts(sandbox) == []
    assert announcements(sandbox)["upcoming"].state == "held"
    held = [m for m in dms(sandbox, MAYA) if "Held" in m.text]
    assert len(held) == 1
    click(sandbox, MAYA, held[0], ActionId.ANNOUNCE_APPROVE)  # a manager may approve: posted at once
    assert len(posts(sandbox)) == 1


def test_the_plan_command_edit_and_hostile_fields(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    refused = sandbox.command(MAYA, RELEASES, "set notes <https://evil.example|https://good.example>")
    assert "without a label" in reply_text(refused)
    ok(sandbox.command(MAYA, RELEASES, "set impact <!channel> logins may be slow & flaky"))
    plan = sandbox.command(MAYA, RELEASES, "announce plan")
    assert "upcoming release" in reply_text(plan) and "Approve plan" in reply_text(plan)
    preview = sandbox.command(MAYA, RELEASES, "announce preview upcoming")
    assert "&lt;!channel&gt;" in reply_text(preview) and "<!channel>" not in reply_text(preview)
    assert "&amp;" in reply_text(preview)
    approved = sandbox.command(MAYA, RELEASES, "announce approve")
    assert "Plan approved by" in reply_text(approved)
    assert item_state(sandbox, "announcement_plan") == "done"
    again = sandbox.command(MAYA, RELEASES, "announce approve")
    assert "already approved" in reply_text(again)
    denied = sandbox.command(LEE, RELEASES, "announce add upcoming 72h")
    assert "release managers" in reply_text(denied)
    assert announcements(sandbox)["upcoming"].offset_seconds == -48 * 3600


def test_editing_a_draft_keeps_the_text_and_refuses_what_slack_or_the_template_would_not_allow(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    sandbox.set_time(launch - timedelta(hours=70))
    [draft] = drafts(sandbox, ANA, "upcoming release")
    click(sandbox, ANA, draft, ActionId.ANNOUNCE_EDIT)
    [form] = sandbox.emulator.modal_stack(ANA)
    assert "Payments 2.4" in json.dumps(form, ensure_ascii=False)  # prefilled with the rendered text

    too_long = sandbox.submit(ANA, {"announcement_text": {"announcement_text": "x" * 3001}})
    assert too_long.body["response_action"] == "errors"
    pinging = sandbox.submit(ANA, {"announcement_text": {"announcement_text": "<!channel> we ship Friday"}})
    assert pinging.body["response_action"] == "errors"
    assert "@channel" in json.dumps(pinging.body)
    disguised = sandbox.submit(
        ANA,
        {"announcement_text": {"announcement_text": "Notes: <https://evil.example|https://docs.example>"}},
    )
    assert disguised.body["response_action"] == "errors"
    assert "different web address" in json.dumps(disguised.body)
    assert announcements(sandbox)["upcoming"].text is None  # refused edits change nothing

    sandbox.submit(ANA, {"announcement_text": {"announcement_text": "We ship *Payments 2.4* on Friday."}})
    sandbox.settle()
    updated = next(m for m in dms(sandbox, ANA) if m.ts == draft.ts)
    assert "We ship *Payments 2.4* on Friday." in json.dumps(updated.blocks, ensure_ascii=False)
    assert announcements(sandbox)["upcoming"].state == "planned"  # an edit still needs approval

    old_approve = button(updated, ActionId.ANNOUNCE_APPROVE)
    click(sandbox, ANA, updated, ActionId.ANNOUNCE_POST_NOW)
    [post] = posts(sandbox)
    assert post.text == "We ship *Payments 2.4* on Friday."
    assert announcements(sandbox)["upcoming"].state == "posted"
    assert "being posted now" in next(m for m in dms(sandbox, ANA) if m.ts == draft.ts).text
    # A second click with the buttons as they were (a slow client, a double click): nothing more happens.
    stale = sandbox.click(ANA, "D" + ANA[1:], draft.ts, ActionId.ANNOUNCE_APPROVE.value, old_approve)
    assert stale.status == 200
    assert len(posts(sandbox)) == 1
    assert any("already posted" in e.text for e in sandbox.emulator.ephemerals(user=ANA))


def test_cancelling_withdraws_pending_announcements_and_stale_drafts_do_nothing(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    sandbox.set_time(launch - timedelta(hours=70))
    [draft] = drafts(sandbox, ANA, "upcoming release")
    ok(sandbox.command(MAYA, RELEASES, "cancel"))
    assert {a.state for a in announcements(sandbox).values()} == {"withdrawn"}
    click(sandbox, ANA, draft, ActionId.ANNOUNCE_APPROVE)
    assert any("replaced or withdrawn" in e.text for e in sandbox.emulator.ephemerals(user=ANA))
    sandbox.set_time(launch + timedelta(hours=1))
    assert posts(sandbox) == []


def test_an_edit_reaches_the_other_approvers_and_their_old_buttons_stop_working(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    start_release(sandbox, launch)
    ok(sandbox.command(MAYA, RELEASES, "comms @ana @lee"))
    sandbox.set_time(launch - timedelta(hours=70))
    [ana_draft] = drafts(sandbox, ANA, "upcoming release")
    [lee_draft] = drafts(sandbox, LEE, "upcoming release")
    lee_old_approve = button(lee_draft, ActionId.ANNOUNCE_APPROVE)
    click(sandbox, ANA, ana_draft, ActionId.ANNOUNCE_EDIT)
    sandbox.submit(ANA, {"announcement_text": {"announcement_text": "Payments 2.4 ships Friday."}})
    sandbox.settle()
    sandbox.run_due_work()

    # Lee's old Approve would approve a text he never saw: refused, nothing approved.
    sandbox.click(LEE, "D" + LEE[1:], lee_draft.ts, ActionId.ANNOUNCE_APPROVE.value, lee_old_approve)
    assert announcements(sandbox)["upcoming"].state == "planned"
    assert any("replaced or withdrawn" in e.text for e in sandbox.emulator.ephemerals(user=LEE))
    # He gets the edited text to approve; Ana's own draft was updated in place, not sent again.
    lee_new = [d for d in drafts(sandbox, LEE, "upcoming release") if d.ts != lee_draft.ts]
    assert len(lee_new) == 1 and "Payments 2.4 ships Friday." in json.dumps(lee_new[0].blocks)
    assert len(drafts(sandbox, ANA, "upcoming release")) == 1
    click(sandbox, LEE, lee_new[0], ActionId.ANNOUNCE_APPROVE)
    assert announcements(sandbox)["upcoming"].state == "approved"
