"""`/release new … like "<earlier>"` copies owners, roles and settings; the details form sets fields."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.config import load_settings
from bot.sandbox.local import LocalSandbox
from storage.db import unit_of_work
from storage.tables import ChecklistItem, ItemOwner, Release, ReleaseRole
from tests.e2e.test_announcements import ANA, LEE, MAYA, RELEASES, launch_at, ok


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def test_like_copies_owners_roles_and_settings_of_the_earlier_release(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" assign 1 @ana'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" assign 5 @lee @ana'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" deciders @lee'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" comms @ana'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" set summary 48h,4h'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" set support #support or @lee'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" set downtime none expected'))
    ok(sandbox.command(MAYA, RELEASES, 'in "Payments 2.4" announce lead 12h'))

    later = launch_at(sandbox, days=20)
    ok(sandbox.command(LEE, RELEASES, f'new "Payments 2.5" {later:%Y-%m-%d} 14:00 like "Payments 2.4"'))
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        old, new = session.exec(select(Release).order_by(Release.id)).all()
        roles = {
            (r.role, r.user_id)
            for r in session.exec(select(ReleaseRole).where(ReleaseRole.release_id == new.id))
        }
        owners = {
            (i.position, o.slack_id)
            for i, o in session.exec(
                select(ChecklistItem, ItemOwner)
                .join(ItemOwner, ItemOwner.item_id == ChecklistItem.id)
                .where(ChecklistItem.release_id == new.id)
            )
        }
    assert roles == {("manager", LEE), ("manager", MAYA), ("decider", LEE), ("comms", ANA)}
    assert owners == {(1, ANA), (5, LEE), (5, ANA)}
    assert new.summary_offsets == old.summary_offsets == "2d,4h"
    assert new.announce_lead_seconds == 12 * 3600
    details = json.loads(new.details or "{}")
    assert "support" in details and "downtime" not in details  # who to ask carries over; downtime doesn't

    unknown = sandbox.command(LEE, RELEASES, f'new "Payments 2.6" {later:%Y-%m-%d} 15:00 like "Nope"')
    assert "⚠️" in json.dumps(unknown.body, ensure_ascii=False)
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        assert len(session.exec(select(Release)).all()) == 2  # refused: nothing created


def test_the_details_form_sets_fields_and_pins_errors_to_the_field(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    assert sandbox.command(MAYA, RELEASES, "details").status == 200
    [form] = sandbox.emulator.modal_stack(MAYA)
    assert form["callback_id"] == "release_details"
    bad = sandbox.submit(
        MAYA,
        {
            "downtime": {"downtime": "Sat 02:00–02:30 UTC"},
            "notes": {"notes": "<https://evil.example|https://docs.example>"},
        },
    )
    assert bad.body["response_action"] == "errors" and "notes" in bad.body["errors"]
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        assert session.exec(select(Release)).one().details is None  # all or nothing
    sandbox.submit(
        MAYA,
        {
            "downtime": {"downtime": "Sat 02:00–02:30 UTC"},
            "notes": {"notes": "https://docs.example/2.4"},
            "impact": {"impact": "<!channel> logins may be slow"},
        },
    )
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        details = json.loads(session.exec(select(Release)).one().details or "{}")
    assert details == {
        "downtime": "Sat 02:00–02:30 UTC",
        "notes": "https://docs.example/2.4",
        "impact": "<!channel> logins may be slow",  # stored as typed; escaped whenever it is shown
    }
    preview = sandbox.command(MAYA, RELEASES, "announce preview upcoming")
    assert "<!channel>" not in json.dumps(preview.body, ensure_ascii=False)
    denied = sandbox.command(LEE, RELEASES, "details")
    assert "release managers" in json.dumps(denied.body, ensure_ascii=False)


def test_a_private_channels_release_is_not_shown_to_outsiders_by_name(tmp_path, monkeypatch) -> None:
    from bot.sandbox.workspace import Channel, Workspace

    monkeypatch.chdir(tmp_path)
    workspace = Workspace.seeded()
    workspace.add_channel(
        Channel("CSECRET01", "secret-launch", {MAYA, workspace.bot_user_id}, is_private=True)
    )
    with LocalSandbox(load_settings(_env_file=None), workspace=workspace) as box:
        launch = launch_at(box)
        ok(box.command(MAYA, "CSECRET01", f'new "Project Falcon" {launch:%Y-%m-%d} 14:00'))
        outsider = json.dumps(box.command(LEE, RELEASES, 'status "Project Falcon"').body, ensure_ascii=False)
        assert "Project Falcon" in outsider and "⚠️" in outsider  # only the name they typed comes back
        assert "Code Review" not in outsider
        member = json.dumps(box.command(MAYA, RELEASES, 'status "Project Falcon"').body, ensure_ascii=False)
        assert "Code Review" in member


def test_a_slack_connect_guest_is_a_viewer_even_of_a_release_they_created(tmp_path, monkeypatch) -> None:
    from bot.sandbox.workspace import User, Workspace, tz_fields

    monkeypatch.chdir(tmp_path)
    workspace = Workspace.seeded()
    guest = User("UEXT00001", "eve", "Eve External", "UTC", *tz_fields("UTC"), team_id="TPARTNER1")
    workspace.add_user(guest)
    workspace.channels[RELEASES].members.add(guest.id)
    with LocalSandbox(load_settings(_env_file=None), workspace=workspace) as box:
        launch = launch_at(box)
        ok(box.command(guest.id, RELEASES, f'new "Partner 1.0" {launch:%Y-%m-%d} 14:00'))  # anyone may
        refused = json.dumps(box.command(guest.id, RELEASES, "assign 1 @ana").body, ensure_ascii=False)
        assert "⚠️" in refused and "Only the release managers" in refused
        status = json.dumps(box.command(guest.id, RELEASES, "status").body, ensure_ascii=False)
        assert "Partner 1.0" in status  # viewers may look


def test_mine_over_http_lists_what_is_yours_directly_and_through_a_group(sandbox: LocalSandbox) -> None:
    launch = launch_at(sandbox)
    ok(sandbox.command(MAYA, RELEASES, f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00'))
    ok(sandbox.command(MAYA, RELEASES, "assign 1 @ana"))
    ok(sandbox.command(MAYA, RELEASES, "assign 2 @qa-team"))  # Ana is in the QA Team group
    ok(sandbox.command(MAYA, RELEASES, "done 1 reviewed in PR 42"))
    mine = json.dumps(sandbox.command(ANA, RELEASES, "mine").body, ensure_ascii=False)
    assert "Performance Testing" in mine  # through the group
    assert "Code Review" not in mine  # done: no longer hers to do
    nothing = json.dumps(sandbox.command(LEE, RELEASES, "mine").body, ensure_ascii=False)
    assert "Nothing needs you right now" in nothing
