"""Retention: texts of long-closed releases are purged; the audit trail keeps who, what, when and outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from bot.cli import app
from storage import retention
from storage.db import make_engine, unit_of_work
from storage.delivery_repo import mark
from storage.migrate import upgrade
from storage.tables import Announcement, AuditEvent, CardNote, Delivery, Release

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _release(engine: Engine, name: str, state: str, updated_at: datetime) -> int:
    """A release with one of every kind of text retention purges."""
    with unit_of_work(engine) as session:
        release = Release(
            name=name,
            name_key=name.casefold(),
            channel_id="CRELEASES",
            launch_at=updated_at,
            timezone="UTC",
            state=state,
            template="go-live",
            created_by="UMAYA0001",
            created_at=updated_at,
            updated_at=updated_at,
        )
        session.add(release)
        session.flush()
        assert release.id is not None
        session.add(CardNote(release_id=release.id, text=f"{name}: moved to Thursday", created_at=updated_at))
        session.add(
            AuditEvent(
                release_id=release.id,
                actor="UMAYA0001",
                action="block",
                source="command",
                outcome="applied",
                before="open",
                after="blocked",
                detail="vendor report pending <@UDANA0001>",
                at=updated_at,
            )
        )
        session.add(
            Delivery(
                key=f"{release.id}:problem:UMAYA0001:x",
                release_id=release.id,
                kind="problem",
                recipient="UMAYA0001",
                slot=updated_at,
                expires_at=updated_at,
                state="dead",
                reason="digest to UANA00001: is_archived",
                created_at=updated_at,
                updated_at=updated_at,
            )
        )
        session.add(
            Announcement(
                release_id=release.id,
                kind="go_live",
                state="posted",
                post_at=updated_at,
                text="*Payments 2.4* is live",
                context='{"reason": "db migration"}',
                note="posted by maya",
                created_at=updated_at,
                updated_at=updated_at,
            )
        )
        return release.id


def _texts(engine: Engine, release_id: int) -> dict[str, object]:
    with unit_of_work(engine, write=False) as session:
        note = session.exec(select(CardNote).where(CardNote.release_id == release_id)).scalar_one()  # type: ignore[call-overload]
        audit = session.exec(select(AuditEvent).where(AuditEvent.release_id == release_id)).scalar_one()  # type: ignore[call-overload]
        delivery = session.exec(select(Delivery).where(Delivery.release_id == release_id)).scalar_one()  # type: ignore[call-overload]
        post = session.exec(select(Announcement).where(Announcement.release_id == release_id)).scalar_one()  # type: ignore[call-overload]
    return {
        "note": note.text,
        "audit": (audit.before, audit.after, audit.detail),
        "kept": (audit.actor, audit.action, audit.source, audit.outcome, audit.at, delivery.state),
        "reason": delivery.reason,
        "announcement": (post.text, post.context, post.note),
    }


def _purge(engine: Engine, *, dry_run: bool = False) -> retention.PurgeReport:
    with unit_of_work(engine) as session:
        return retention.purge(session=session, days=180, now=NOW, dry_run=dry_run)


def test_closed_releases_lose_their_texts_and_keep_their_trail(engine: Engine) -> None:
    purged = [_release(engine, f"Old {state}", state, OLD) for state in retention.CLOSED_STATES]
    active = _release(engine, "Old but planning", "planning", OLD)
    recent = _release(engine, "Recently launched", "launched", RECENT)
    kept_before = _texts(engine, purged[0])["kept"]

    report = _purge(engine)

    n = len(retention.CLOSED_STATES)
    assert report.rows == {"card_note": n, "audit_event": n, "delivery": n, "announcement": n}
    for release_id in purged:
        texts = _texts(engine, release_id)
        assert texts["note"] == ""
        assert texts["audit"] == (None, None, None)
        assert texts["reason"] is None
        assert texts["announcement"] == (None, None, None)
    assert _texts(engine, purged[0])["kept"] == kept_before
    for release_id in (active, recent):
        texts = _texts(engine, release_id)
        assert texts["note"] and texts["reason"] and all(texts["audit"]) and all(texts["announcement"])

    assert _purge(engine).total == 0  # nothing left to purge


def test_a_dry_run_counts_and_changes_nothing(engine: Engine) -> None:
    release_id = _release(engine, "Old", "cancelled", OLD)
    before = _texts(engine, release_id)
    report = _purge(engine, dry_run=True)
    assert report.total == 4 and str(report).startswith("would purge")
    assert _texts(engine, release_id) == before


def test_the_daily_purge_runs_once_a_day_and_never_when_off(engine: Engine) -> None:
    release_id = _release(engine, "Old", "rolled_back", OLD)
    assert retention.purge_if_due(engine, days=0) is None
    assert _texts(engine, release_id)["note"]

    first = retention.purge_if_due(engine, days=1)
    assert first is not None and first.total == 4
    with unit_of_work(engine, write=False) as session:
        assert mark(session=session, name=retention.PURGED_UNTIL) is not None
    # Later texts of the same kind wait for tomorrow's run.
    _release(engine, "Older", "completed", OLD)
    assert retention.purge_if_due(engine, days=1) is None


def test_the_purge_command(engine: Engine, database_url: str, tmp_path, monkeypatch, restore_logging) -> None:
    release_id = _release(engine, "Old", "launched", datetime.now(UTC) - timedelta(days=40))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "RETENTION_DAYS": "30"}

    result = runner.invoke(app, ["db", "purge", "--dry-run"], env=env)
    assert result.exit_code == 0 and "would purge" in result.output and "card_note 1" in result.output
    assert _texts(engine, release_id)["note"]

    result = runner.invoke(app, ["db", "purge"], env=env)
    assert result.exit_code == 0 and result.output.startswith("purged") and "card_note 1" in result.output
    assert _texts(engine, release_id)["note"] == ""

    result = runner.invoke(app, ["db", "purge"], env={**env, "RETENTION_DAYS": "0"})
    assert result.exit_code == 0 and "Retention is off" in result.output
