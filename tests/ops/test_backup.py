"""db backup and db restore: consistent while writers write, a faithful round trip, clear refusals."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from bot.cli import app
from storage.backup import BackupError, backup, check_backup, restore
from storage.db import make_engine, unit_of_work
from storage.migrate import upgrade
from storage.tables import ProcessedEvent, Release

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("restore_logging")  # the CLI configures logging on its output


def _database(path: Path, *names: str) -> str:
    """A migrated SQLite database at `path` holding releases with these names."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        for name in names:
            session.add(
                Release(
                    name=name,
                    name_key=name.casefold(),
                    channel_id="CRELEASES",
                    launch_at=now,
                    timezone="UTC",
                    template="go-live",
                    created_by="UMAYA0001",
                    created_at=now,
                    updated_at=now,
                )
            )
    engine.dispose()
    return url


def _names(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with unit_of_work(engine, write=False) as session:
            return sorted(session.exec(select(Release.name)).scalars())  # type: ignore[call-overload]
    finally:
        engine.dispose()


def _cli(*args: str, database_url: str, tmp_path: Path, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    result = runner.invoke(app, ["db", *args], env={"DATABASE_URL": database_url})
    return result.exit_code, result.output


def test_a_backup_taken_while_another_connection_writes_is_consistent(tmp_path: Path) -> None:
    url = _database(tmp_path / "live.db", "Payments 2.4")
    engine = make_engine(url)
    stop = threading.Event()
    written = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            with unit_of_work(engine) as session:
                session.add(ProcessedEvent(event_id=f"Ev{n}", received_at=datetime.now(UTC)))
            written.append(n)
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 50:
            time.sleep(0.01)
        copies = [backup(url, tmp_path / f"copy{i}.db") for i in range(3)]
        written_during = len(written)
    finally:
        stop.set()
        writer.join()
        engine.dispose()

    assert written_during > 50, "the writer kept writing while the backups ran"
    for copied in copies:
        assert check_backup(copied.path) == copied.revision != "none"
        with sqlite3.connect(copied.path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
            events = conn.execute("SELECT count(*) FROM processed_event").fetchone()[0]
        assert 50 <= events <= len(written)
        assert _names(f"sqlite:///{copied.path}") == ["Payments 2.4"]


def test_restore_brings_back_exactly_what_was_backed_up(tmp_path: Path, monkeypatch) -> None:
    url = _database(tmp_path / "rc.db", "Payments 2.4", "Mobile 7.1")
    code, output = _cli(
        "backup", str(tmp_path / "b.db"), database_url=url, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    assert code == 0 and "Backed up 2 releases" in output

    engine = make_engine(url)
    with unit_of_work(engine) as session:
        session.exec(delete(Release).where(Release.name == "Mobile 7.1"))  # type: ignore[call-overload]
    engine.dispose()
    assert _names(url) == ["Payments 2.4"]

    code, output = _cli(
        "restore", str(tmp_path / "b.db"), database_url=url, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    assert code == 2 and "--force" in output  # the target exists
    assert _names(url) == ["Payments 2.4"]

    code, output = _cli(
        "restore",
        str(tmp_path / "b.db"),
        "--force",
        database_url=url,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    )
    assert code == 0 and "Restored 2 releases" in output
    assert _names(url) == ["Mobile 7.1", "Payments 2.4"]


def test_restore_into_a_new_location_needs_no_force(tmp_path: Path) -> None:
    url = _database(tmp_path / "rc.db", "Payments 2.4")
    backup(url, tmp_path / "b.db")
    fresh = f"sqlite:///{tmp_path / 'elsewhere' / 'rc.db'}"
    assert restore(fresh, tmp_path / "b.db").releases == 1
    assert _names(fresh) == ["Payments 2.4"]
    assert not list((tmp_path / "elsewhere").glob("*.partial"))


def test_a_backup_never_overwrites_without_force(tmp_path: Path) -> None:
    url = _database(tmp_path / "rc.db", "Payments 2.4")
    (tmp_path / "b.db").write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        backup(url, tmp_path / "b.db")
    assert (tmp_path / "b.db").read_text() == "precious"
    assert backup(url, tmp_path / "b.db", force=True).releases == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a SQLite database"),
        (b"release,date\nPayments,2026-12-10\n", "not a SQLite database"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "cannot be read"),
    ],
)
def test_a_file_that_is_no_database_is_refused_and_nothing_changes(
    tmp_path: Path, monkeypatch, content: bytes, message: str
) -> None:
    url = _database(tmp_path / "rc.db", "Payments 2.4")
    (tmp_path / "bad.db").write_bytes(content)
    code, output = _cli(
        "restore",
        str(tmp_path / "bad.db"),
        "--force",
        database_url=url,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    )
    assert code == 2 and message in output, output
    assert _names(url) == ["Payments 2.4"]


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(BackupError, match="not Release Captain's"):
        check_backup(tmp_path / "other.db")
    with pytest.raises(BackupError, match="does not exist"):
        check_backup(tmp_path / "missing.db")


def test_postgresql_gets_pg_dump_guidance_and_exit_2(tmp_path: Path, monkeypatch) -> None:
    url = "postgresql://rc:hunter2@db.internal:5432/release_captain"
    code, output = _cli(
        "backup", str(tmp_path / "b.db"), database_url=url, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    assert code == 2
    assert "pg_dump --format=custom" in output and "pg_restore" in output
    assert "--dbname=release_captain" in output and "db.internal" in output
    assert "hunter2" not in output
    assert not (tmp_path / "b.db").exists()


def test_backing_up_a_missing_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        backup(f"sqlite:///{tmp_path / 'nothing.db'}", tmp_path / "b.db")
