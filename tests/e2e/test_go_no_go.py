"""The go/no-go vote, the launch gate, rollback and completion, end to end through the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.config import load_settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.workspace import Message
from bot.slack.ids import ActionId
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, Release, Vote
from tests.e2e.test_announcements import ANA, LEE, MAYA, RELEASES, click, launch_at, ok

BOB = "UBOB00001"


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def say(sandbox: LocalSandbox, user: str, text: str) -> str:
    delivery = sandbox.command(user, RELEASES, text)
    assert delivery.status == 200
    return json.dumps(delivery.body, ensure_ascii=False)


def release(sandbox: LocalSandbox) -> Release:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        return session.exec(select(Release)).one()


def votes(sandbox: LocalSandbox) -> dict[str, tuple[str, str | None]]:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        return {v.user_id: (v.choice, v.reason) for v in session.exec(select(Vote)).all()}


def channel_posts(sandbox: LocalSandbox, marker: str) -> list[Message]:
    bot = sandbox.workspace.bot_user_id
    return [m for m in sandbox.workspace.messages(RELEASES) if m.user == bot and marker in m.text]


def summary_with_buttons(sandbox: LocalSandbox, user: str) -> Any:
    say(sandbox, user, "summary")
    return sandbox.emulator.ephemerals(RELEASES, user)[-1]


def click_ephemeral(sandbox: LocalSandbox, user: str, message: Any, action: ActionId) -> Any:
    value = next(
        e["value"]
        for b in message.blocks or []
        for e in b.get("elements", [])
        if e.get("action_id") == action.value
    )
    return sandbox.click(user, RELEASES, message.ts, action.value, value)


def close_every_item(sandbox: LocalSandbox) -> None:
    for position in range(1, 19):
        say(sandbox, MAYA, f"na {position} not this time")


def test_mixed_votes_decide_no_go_then_a_reschedule_reopens_the_vote_and_go_with_risk(
    sandbox: LocalSandbox,
) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    assert "managers act" in say(sandbox, MAYA, "deciders")
    assert "now <@ULEE00001>, <@UANA00001>" in say(sandbox, MAYA, "deciders @lee @ana")
    assert "release managers" in say(sandbox, LEE, "deciders @lee")  # only managers choose deciders

    assert "deciders" in say(sandbox, BOB, "vote go")  # not a decider
    assert "NO-GO needs a reason" in say(sandbox, LEE, "vote no-go")
    assert "GO WITH RISK needs a reason" in say(sandbox, LEE, "vote risk")
    assert votes(sandbox) == {}

    assert "waiting for <@UANA00001>" in say(sandbox, LEE, "vote go")
    assert "was 🟢 GO" in say(sandbox, LEE, "vote risk the cache starts cold")  # changed before the decision
    decided = say(sandbox, ANA, "vote no-go p99 doubled in the load test <!channel>")
    assert "That decides it: *NO-GO*" in decided
    sandbox.settle()
    assert release(sandbox).state == "no_go"
    [post] = channel_posts(sandbox, "Decision for")
    rendered = json.dumps(post.blocks, ensure_ascii=False)
    assert "<@ULEE00001>" in rendered and "the cache starts cold" in rendered
    assert "<@UANA00001>" in rendered and "p99 doubled" in rendered
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered  # a reason can't ping anyone
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        states = {a.kind: a.state for a in session.exec(select(Announcement)).all()}
        decide = session.exec(select(AuditEvent).where(AuditEvent.action == "decide")).one()
    assert states == {"upcoming": "withdrawn", "go_live": "withdrawn"}
    assert decide.before == "planning" and decide.after == "no_go"

    assert "votes are closed" in say(sandbox, LEE, "vote go")
    blocked = say(sandbox, MAYA, "launch")
    assert "can't launch yet" in blocked and "NO-GO" in blocked and "1. Code Review" in blocked

    moved = launch + timedelta(days=7)
    say(sandbox, MAYA, f"reschedule {moved:%Y-%m-%d} 16:00")
    assert release(sandbox).state == "planning" and votes(sandbox) == {}
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        revived = {a.kind: a.state for a in session.exec(select(Announcement)).all() if a.kind != "delayed"}
    assert revived == {"upcoming": "planned", "go_live": "planned"}

    # Votes through the readiness summary's buttons: GO at once, GO WITH RISK through its reason form.
    click_ephemeral(sandbox, LEE, summary_with_buttons(sandbox, LEE), ActionId.VOTE_GO)
    click_ephemeral(sandbox, ANA, summary_with_buttons(sandbox, ANA), ActionId.VOTE_RISK)
    [form] = sandbox.emulator.modal_stack(ANA)
    assert form["callback_id"] == "vote_reason"
    refused = sandbox.submit(ANA, {"reason": {"reason": "   "}})
    assert refused.body["response_action"] == "errors"
    sandbox.submit(ANA, {"reason": {"reason": "support is thin on Friday"}})
    sandbox.settle()
    assert release(sandbox).state == "go"
    [_, go_post] = channel_posts(sandbox, "Decision for")
    assert "GO (with risk)" in json.dumps(go_post.blocks, ensure_ascii=False)


def test_launch_gate_with_and_without_override_then_rollback(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    assert "can't launch yet" in say(sandbox, MAYA, "launch")
    say(sandbox, MAYA, "vote go")  # Maya manages and, with no deciders named, decides
    assert release(sandbox).state == "go"
    gate = say(sandbox, MAYA, "launch")
    assert "can't launch yet" in gate and "is open" in gate and "override" in gate
    assert "release managers" in say(sandbox, LEE, "launch override we are brave")
    assert release(sandbox).state == "go"

    launched = say(sandbox, MAYA, "launch override the remaining items are paperwork")
    assert "launched" in launched and "overrode the gate" in launched
    row = release(sandbox)
    assert row.state == "launched" and row.override_by == MAYA
    assert row.override_reason == "the remaining items are paperwork"
    sandbox.settle()
    card = sandbox.workspace.find_message(RELEASES, row.card_ts or "")
    assert card is not None and "Launched past the gate" in json.dumps(card.blocks, ensure_ascii=False)

    assert "Please say why it was rolled back" in say(sandbox, MAYA, "rollback")
    assert release(sandbox).state == "launched"  # refused: nothing changed
    assert "rolled back" in say(sandbox, MAYA, "rollback error rate doubled")
    assert release(sandbox).state == "rolled_back"
    sandbox.run_due_work()
    drafts = [m for m in sandbox.workspace.messages("D" + MAYA[1:]) if "rolled back announcement" in m.text]
    assert len(drafts) == 1  # no comms owners: the managers get the draft
    click(sandbox, MAYA, drafts[0], ActionId.ANNOUNCE_APPROVE)
    posted = [
        m for m in sandbox.workspace.messages(RELEASES) if "error rate doubled" in m.text and not m.thread_ts
    ]
    assert len(posted) == 1


def test_the_card_launch_button_and_a_clean_launch(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    close_every_item(sandbox)
    say(sandbox, MAYA, "vote go")
    sandbox.settle()
    card = sandbox.workspace.find_message(RELEASES, release(sandbox).card_ts or "")
    assert card is not None
    value = next(
        e["value"]
        for b in card.blocks or []
        for e in b.get("elements", [])
        if e.get("action_id") == ActionId.RELEASE_LAUNCH.value
    )
    sandbox.click(MAYA, RELEASES, card.ts, ActionId.RELEASE_LAUNCH.value, value)
    row = release(sandbox)
    assert row.state == "launched" and row.override_reason is None
    assert "complete" in say(sandbox, MAYA, "complete")
    assert release(sandbox).state == "completed"
