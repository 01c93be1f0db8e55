"""`/release export` end to end: the real app over HTTP against the emulator, files and all.

The file lands in the requester's DM and reads back to exactly what the database holds; a private
channel's release stays closed to people outside it; and the reply never waits for the upload. Below
those, the emulator's files.* errors and the directory's paged, cached channel membership.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from rich.console import Console
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import col, select

from bot.config import load_settings
from bot.domain.export import ExportAudit, ExportItem, from_csv
from bot.ports import OutgoingFile
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.local import LocalSandbox
from bot.sandbox.terminal import Transcript, Viewer
from bot.sandbox.workspace import Channel, Message, Workspace
from bot.slack.directory import SlackDirectory
from bot.slack.uploads import SlackFileDrops
from storage.db import unit_of_work
from storage.tables import AuditEvent, ChecklistItem, ItemOwner, Release
from tests.e2e.harness import wait_until

MAYA, ANA, RAVI = "UMAYA0001", "UANA00001", "URAVI0001"
RELEASES, RANDOM, SECRET = "CRELEASES", "CRANDOM1", "CSECRET01"
CSV_NAME = "payments-2-4-checklist.csv"


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    workspace = Workspace.seeded()
    # A private channel only Maya and the bot are in.
    workspace.add_channel(Channel(SECRET, "secret-launch", {MAYA, workspace.bot_user_id}, is_private=True))
    with LocalSandbox(load_settings(_env_file=None), workspace=workspace) as box:
        yield box


def ok(delivery: Any) -> str:
    assert delivery.status == 200, delivery.body
    text = json.dumps(delivery.body, ensure_ascii=False)
    assert "⚠️" not in text, text
    return text


def start_release(sandbox: LocalSandbox, channel: str = RELEASES, name: str = "Payments 2.4") -> None:
    ok(sandbox.command(MAYA, channel, f'new "{name}" in 10 days 14:00'))
    ok(sandbox.command(MAYA, channel, "assign 2 @ana"))
    ok(sandbox.command(MAYA, channel, 'done 1 "reviewed in PR #42, =SUM(A1)"'))
    ok(sandbox.command(MAYA, channel, "block 3 vendor report <late> & missing"))


def shared_files(sandbox: LocalSandbox, user: str) -> list[Message]:
    """Messages in the bot's DM with `user` that carry files."""
    return [m for m in sandbox.workspace.messages("D" + user[1:]) if m.files]


def file_text(sandbox: LocalSandbox, message: Message) -> str:
    assert message.files and len(message.files) == 1
    content = sandbox.workspace.file_content(message.files[0]["id"])
    assert content is not None
    return content.decode("utf-8")


def database_records(sandbox: LocalSandbox) -> tuple[list[ExportItem], list[ExportAudit]]:
    """What the database holds for the one release, in the export's terms (the export's own row left out)."""
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        release = session.exec(select(Release)).one()
        items = session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.release_id == release.id)
            .order_by(ChecklistItem.position)
        ).all()
        owners = session.exec(select(ItemOwner).order_by(col(ItemOwner.id))).all()
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.release_id == release.id, AuditEvent.action != "export")
            .order_by(col(AuditEvent.at), col(AuditEvent.id))
        ).all()
    titles = {i.id: i.title for i in items}
    return [
        ExportItem(
            position=i.position,
            section=i.section,
            title=i.title,
            state=i.state,
            owners=tuple(o.slack_id for o in owners if o.item_id == i.id),
            due_at=i.due_at.astimezone(UTC),
            signed_off_by=i.signed_off_by,
            signed_off_at=i.signed_off_at.astimezone(UTC) if i.signed_off_at else None,
            reason=i.reason,
            evidence=i.evidence,
        )
        for i in items
    ], [
        ExportAudit(
            at=e.at.astimezone(UTC),
            actor=e.actor,
            action=e.action,
            source=e.source,
            outcome=e.outcome,
            item=titles.get(e.item_id) if e.item_id else None,
            before=e.before,
            after=e.after,
            detail=e.detail,
        )
        for e in events
    ]


def export_rows(sandbox: LocalSandbox, outcome: str) -> list[AuditEvent]:
    with unit_of_work(sandbox.runtime.engine, write=False) as session:
        stmt = select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.outcome == outcome)
        return list(session.exec(stmt).all())


def test_csv_export_arrives_in_the_dm_and_reads_back_to_the_database(sandbox: LocalSandbox) -> None:
    start_release(sandbox)

    reply = ok(sandbox.command(MAYA, RELEASES, "export"))

    assert f"📎 Sending you `{CSV_NAME}` in a DM" in reply
    [message] = shared_files(sandbox, MAYA)
    assert message.files and message.files[0]["name"] == CSV_NAME
    assert "*Payments 2.4*" in message.text and "18 items" in message.text
    items, audit = from_csv(file_text(sandbox, message))
    db_items, db_audit = database_records(sandbox)
    assert items == db_items
    assert audit == db_audit
    assert any(i.owners == (ANA,) for i in items) and any(i.state == "blocked" for i in items)
    [row] = export_rows(sandbox, "applied")
    assert (row.actor, row.detail, row.source) == (MAYA, "csv", "command")


def test_markdown_export_and_how_the_sandbox_shows_the_file(sandbox: LocalSandbox) -> None:
    start_release(sandbox)
    console = Console(file=io.StringIO(), width=120, record=True)
    transcript = Transcript(sandbox.workspace, console)
    viewer = Viewer(sandbox.workspace, MAYA, sandbox.clock.now())
    transcript.print_changes(viewer)  # everything so far is "seen"

    reply = ok(sandbox.command(MAYA, RELEASES, "export markdown"))

    assert "payments-2-4-checklist.md" in reply
    [message] = shared_files(sandbox, MAYA)
    text = file_text(sandbox, message)
    assert text.startswith("# Payments 2.4 — release checklist\n")
    assert "## Audit trail" in text and "vendor report &lt;late&gt; &amp; missing" in text
    transcript.print_changes(viewer)
    shown = console.export_text()
    size_kb = f"{len(text.encode()) / 1024:.1f} KB"
    assert f"📎 payments-2-4-checklist.md ({size_kb})" in shown


def test_a_private_channels_release_is_refused_to_outsiders_without_saying_it_exists(
    sandbox: LocalSandbox,
) -> None:
    start_release(sandbox, SECRET, "Secret Launch")

    refused = json.dumps(sandbox.command(ANA, RELEASES, 'in "Secret Launch" export').body)
    unknown = json.dumps(sandbox.command(ANA, RELEASES, 'in "Secret Lunch" export').body)

    assert "couldn't find a release called" in refused
    assert refused.replace("Secret Launch", "X") == unknown.replace("Secret Lunch", "X")
    assert "secret-launch" not in refused and SECRET not in refused
    assert not shared_files(sandbox, ANA)
    [denied] = export_rows(sandbox, "denied")
    assert denied.actor == ANA
    # A member of the private channel may export it from anywhere.
    ok(sandbox.command(MAYA, RELEASES, 'in "Secret Launch" export md'))
    assert [m.files[0]["name"] for m in shared_files(sandbox, MAYA) if m.files] == [
        "secret-launch-checklist.md"
    ]


def test_a_public_channels_release_can_be_exported_from_anywhere(sandbox: LocalSandbox) -> None:
    start_release(sandbox)

    ok(sandbox.command(RAVI, RANDOM, 'in "Payments 2.4" export'))

    [message] = shared_files(sandbox, RAVI)
    items, _ = from_csv(file_text(sandbox, message))
    assert len(items) == 18


def test_the_reply_comes_back_before_the_upload_starts(sandbox: LocalSandbox) -> None:
    start_release(sandbox)
    sandbox.emulator.reset_calls()

    # With the emulated Slack frozen, the upload can't even begin; the reply must still come back.
    with sandbox.workspace.lock:
        status, body = sandbox.sender.command(MAYA, RELEASES, "export")
        seen_at_reply = [c.method for c in sandbox.emulator.calls]
    sandbox.settle()

    assert status == 200 and CSV_NAME in json.dumps(body, ensure_ascii=False)
    assert not [m for m in seen_at_reply if m.startswith("files.") or m == "upload"]
    methods = [c.method for c in sandbox.emulator.calls]
    assert methods.index("files.getUploadURLExternal") < methods.index("upload")
    assert methods.index("upload") < methods.index("files.completeUploadExternal")
    assert len(shared_files(sandbox, MAYA)) == 1


def test_a_failed_upload_is_explained_to_the_person(sandbox: LocalSandbox) -> None:
    start_release(sandbox)
    sandbox.emulator.inject("files.completeUploadExternal", "server_error", count=1, status=503)

    ok(sandbox.command(MAYA, RELEASES, "export"))

    assert not shared_files(sandbox, MAYA)
    [told] = [e for e in sandbox.emulator.ephemerals(RELEASES, MAYA) if CSV_NAME in e.text and "⚠️" in e.text]
    assert "couldn't send you" in told.text and "try again" in told.text


def test_the_emulator_fails_uploads_the_way_slack_does() -> None:
    with SlackEmulator() as emulator:
        client = WebClient(token=emulator.workspace.bot_token, base_url=emulator.api_url)

        def error_of(method: Callable[..., Any], **args: Any) -> str:
            with pytest.raises(SlackApiError) as raised:
                method(**args)
            return str(raised.value.response["error"])

        def post(url: str, data: bytes) -> int:
            try:
                with urlopen(Request(url, data=data, method="POST"), timeout=5) as response:
                    return int(response.status)
            except HTTPError as refused:
                return refused.code

        get_url, complete = client.files_getUploadURLExternal, client.files_completeUploadExternal
        assert error_of(get_url, filename="a.csv", length=0) == "missing_argument"
        assert error_of(complete, files=[{"id": "F404"}]) == "file_not_found"
        short = get_url(filename="a.csv", length=10)
        assert post(short["upload_url"], b"too short") == 400
        assert error_of(complete, files=[{"id": short["file_id"]}]) == "file_not_found"  # no bytes arrived
        ready = get_url(filename="a.csv", length=3)
        assert post(ready["upload_url"], b"a,b") == 200
        files = [{"id": ready["file_id"], "title": "A"}]
        assert error_of(complete, files=files, channel_id="CNOPE0000") == "channel_not_found"
        assert error_of(complete, files=files, channel_id=ANA) == "invalid_arguments"  # a user id, not a DM

        done = complete(files=files, channel_id=RELEASES, initial_comment="here")

        assert done["files"] == [{"id": ready["file_id"], "title": "A"}]
        [message] = [m for m in emulator.workspace.messages(RELEASES) if m.files]
        assert message.text == "here" and message.files and message.files[0]["size"] == 3
        assert emulator.workspace.file_content(ready["file_id"]) == b"a,b"
        assert error_of(complete, files=files, channel_id=RELEASES) == "file_not_found"  # shared once only


def test_channel_membership_is_read_across_pages_and_cached() -> None:
    workspace = Workspace.seeded()
    crowd = {f"U{n:08d}" for n in range(450)} | {workspace.bot_user_id}
    workspace.add_channel(Channel(SECRET, "secret-launch", crowd, is_private=True))
    with SlackEmulator(workspace) as emulator:
        directory = SlackDirectory(WebClient(token=workspace.bot_token, base_url=emulator.api_url))

        assert directory.is_member(SECRET, "U00000449") and not directory.is_member(SECRET, ANA)
        assert len(emulator.calls_to("conversations.members")) == 3  # 200 + 200 + 51, then the cache
        assert not directory.is_member("CNOPE0000", ANA)  # a channel the bot can't see has no members


def test_a_file_counts_as_unfinished_until_it_is_delivered() -> None:
    """What the sandbox waits for before calling an export done, and the `exports` queue in /metrics."""
    with SlackEmulator() as emulator:
        drops = SlackFileDrops(WebClient(token=emulator.workspace.bot_token, base_url=emulator.api_url))
        building = threading.Event()
        release = threading.Event()

        def make() -> OutgoingFile:
            building.set()
            release.wait(10)
            return OutgoingFile("payments.csv", b"position,title\n", "Your export")

        try:
            assert drops.backlog() == 0
            done = drops.send_dm(MAYA, make, reply_channel=RELEASES)
            assert building.wait(10)
            assert drops.backlog() == 1
            release.set()
            assert done.result(timeout=10) is not None
            # The count drops in the future's done-callback, which may run just after result() returns.
            wait_until(lambda: drops.backlog() == 0, what="the delivered file to stop counting")
        finally:
            drops.close()
