"""`release-captain export`: a release's checklist and audit trail from the database, by id or name."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.export import from_csv
from bot.services.exports import Exporter
from storage.db import make_engine, unit_of_work
from storage.migrate import upgrade
from storage.tables import AuditEvent, ChecklistItem, ItemOwner, Person, Release

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)


def _release(session, name: str, channel: str, state: str, events: int = 2) -> int:
    """A release with two items (one owned by Ana, one signed off by her) and `events` audit rows."""
    release = Release(
        name=name,
        name_key=name.casefold(),
        channel_id=channel,
        launch_at=LAUNCH,
        timezone="Europe/Berlin",
        state=state,
        template="go-live",
        created_by="UMAYA0001",
        created_at=LAUNCH - timedelta(days=20),
        updated_at=LAUNCH - timedelta(days=20),
    )
    session.add(release)
    session.flush()
    backup = ChecklistItem(
        release_id=release.id,
        position=1,
        key="backup",
        section="Data",
        title="Database Backup",
        offset_seconds=-86400,
        due_at=LAUNCH - timedelta(days=1),
        state="done",
        evidence="=backup-2026-12-08",
        signed_off_by="UANA00001",
        signed_off_at=LAUNCH - timedelta(days=2),
        updated_at=LAUNCH,
    )
    rollback = ChecklistItem(
        release_id=release.id,
        position=2,
        key="rollback",
        section="Operations",
        title="Rollback Plan",
        offset_seconds=-3600,
        due_at=LAUNCH - timedelta(hours=1),
        state="blocked",
        reason="waiting on ops, see <#C1|ops>",
        updated_at=LAUNCH,
    )
    session.add_all([backup, rollback])
    session.flush()
    session.add(ItemOwner(item_id=backup.id, kind="user", slack_id="UANA00001"))
    session.add(ItemOwner(item_id=rollback.id, kind="group", slack_id="S0QA00001"))
    for n in range(events):
        session.add(
            AuditEvent(
                release_id=release.id,
                item_id=backup.id if n % 2 else None,
                actor="UMAYA0001",
                action=f"step {n}",
                source="command",
                outcome="applied",
                before="open",
                after="done",
                detail=f"event {n}",
                at=LAUNCH - timedelta(days=10) + timedelta(minutes=n),
            )
        )
    return release.id or 0


@pytest.fixture
def seeded(database_url: str) -> tuple[str, dict[str, int]]:
    """Two releases called Payments 2.4 (different channels), and Mobile 7.1 with five audit events."""
    engine = make_engine(database_url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        ids = {
            "launched": _release(session, "Payments 2.4", "C1", "launched"),
            "cancelled": _release(session, "Payments 2.4", "C2", "cancelled"),
            "mobile": _release(session, "Mobile 7.1", "C3", "planning", events=5),
        }
        session.add(Person(slack_id="UANA00001", name="ana", tz="Europe/Lisbon", fetched_at=LAUNCH))
    engine.dispose()
    return database_url, ids


def _cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_prints_csv_that_reads_back(seeded: tuple[str, dict[str, int]], tmp_path: Path) -> None:
    url, _ = seeded
    result = _cli(url, tmp_path, "mobile")

    assert result.returncode == 0, result.stderr
    items, audit = from_csv(result.stdout)
    assert [(i.title, i.state, i.owners) for i in items] == [
        ("Database Backup", "done", ("UANA00001",)),
        ("Rollback Plan", "blocked", ("S0QA00001",)),
    ]
    assert items[0].evidence == "=backup-2026-12-08"  # the formula guard is undone on the way back
    assert [a.detail for a in audit] == [f"event {n}" for n in range(5)]  # the whole trail, oldest first
    assert audit[1].item == "Database Backup"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["owner_names"] == "ana" and rows[0]["evidence"] == "'=backup-2026-12-08"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_writes_markdown_by_id_to_a_file(seeded: tuple[str, dict[str, int]], tmp_path: Path) -> None:
    url, ids = seeded
    out = tmp_path / "report.md"

    result = _cli(url, tmp_path, str(ids["cancelled"]), "--format", "md", "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Payments 2.4 — release checklist\n")
    assert "**State:** cancelled" in text and "**Channel:** C2" in text
    assert "&lt;#C1\\|ops&gt;" in text  # user text stays inert in a table cell


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Nightly 1.0"], 'There is no release called "Nightly 1.0".'),
        (["999"], 'There is no release with id 999 or called "999".'),
        (["mobile", "--format", "pdf"], "Export as csv or md."),
    ],
)
def test_what_is_not_there_is_one_line_and_exit_1(
    seeded: tuple[str, dict[str, int]], tmp_path: Path, args: list[str], expected: str
) -> None:
    url, _ = seeded
    result = _cli(url, tmp_path, *args)

    assert result.returncode == 1
    assert result.stderr.strip() == f"release-captain: {expected}"
    assert result.stdout == ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_ambiguous_name_lists_the_candidates(seeded: tuple[str, dict[str, int]], tmp_path: Path) -> None:
    url, ids = seeded
    result = _cli(url, tmp_path, "payments 2.4")

    assert result.returncode == 1
    assert '"payments 2.4" matches 2 releases; give the id:' in result.stderr
    candidates = [line.split("\t") for line in result.stderr.splitlines()[1:]]
    assert [(c[0].strip(), c[2], c[3]) for c in candidates] == [
        (str(ids["cancelled"]), "C2", "cancelled"),
        (str(ids["launched"]), "C1", "launched"),
    ]
    assert result.stdout == ""


def test_a_capped_audit_trail_says_so(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    engine = make_engine(url)
    try:
        exporter = Exporter(engine, audit_cap=3)
        as_csv = exporter.export_by_id(ids["mobile"], "csv")
        as_md = exporter.export_by_name("Mobile", "markdown")
    finally:
        engine.dispose()

    _, audit = from_csv(as_csv.content)
    assert [a.detail for a in audit] == ["event 2", "event 3", "event 4"]  # the newest, oldest first
    assert as_csv.capped and (as_csv.audit_events, as_csv.audit_total) == (3, 5)
    note = "Only the newest 3 of 5 audit events are included; the 2 oldest are left out."
    assert as_csv.cap_note() == note
    assert as_md.content.splitlines()[:3] == ["# Mobile 7.1 — release checklist", "", f"> {note}"]
    assert as_md.filename == "mobile-7-1-checklist.md"
