"""Backup and restore of a SQLite database, safe while serve runs; PostgreSQL has its own tools."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from storage.db import normalise_url

SQLITE_HEADER = b"SQLite format 3\x00"
# A database of ours has these; a file without them is some other application's database.
REQUIRED_TABLES = frozenset({"alembic_version", "release", "checklist_item", "audit_event", "delivery"})


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class Copied:
    """What a backup or restore wrote."""

    path: Path
    revision: str
    releases: int


def sqlite_path(database_url: str) -> Path:
    """The database file of a SQLite URL; BackupError with pg_dump guidance for PostgreSQL."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "postgresql":
        raise BackupError(_postgres_guidance(url.database or "release_captain", url))
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
    if url.database in (None, "", ":memory:"):
        raise BackupError("the database is in memory; there is nothing on disk to back up")
    return Path(url.database)


def backup(database_url: str, destination: Path, *, force: bool = False) -> Copied:
    """Copy the live database to `destination` with SQLite's online backup API (writers keep going)."""
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"there is no database at {source}; check DATABASE_URL")
    if destination.exists() and not force:
        raise BackupError(f"{destination} already exists; pass --force to overwrite it")
    with _connect(source, read_only=True) as src, _atomic_file(destination) as scratch:
        with contextlib.closing(sqlite3.connect(scratch)) as dst:
            # One step (pages=-1): a consistent snapshot of the source as of one read transaction.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
        return _describe(scratch, destination)


def restore(database_url: str, source: Path, *, force: bool = False) -> Copied:
    """Replace the configured database with a backup, after checking the backup is one of ours."""
    target = sqlite_path(database_url)
    check_backup(source)
    if target.exists() and not force:
        raise BackupError(
            f"{target} exists and would be replaced; stop serve, then pass --force to restore over it"
        )
    with _connect(source, read_only=True) as src:
        if not target.exists():
            # Nothing to replace: write beside it and rename, so a crash never leaves half a database.
            with _atomic_file(target) as scratch, contextlib.closing(sqlite3.connect(scratch)) as dst:
                src.backup(dst)
                return _describe(scratch, target)
        # Over a database that exists (maybe in WAL mode, maybe open): the backup API writes the new
        # content in one transaction of the target, so readers see the old database or the new one.
        with contextlib.closing(sqlite3.connect(target, timeout=5)) as dst:
            src.backup(dst)
        return _describe(target, target)


def check_backup(path: Path) -> str:
    """The migration revision of a backup file; BackupError if it is not a Release Captain database."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    with path.open("rb") as f:
        if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{path} is not a SQLite database")
    try:
        with _connect(path, read_only=True) as conn:
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{path} is damaged (SQLite's quick_check failed)")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = REQUIRED_TABLES - tables
            if missing:
                raise BackupError(
                    f"{path} is a SQLite database but not Release Captain's (no {', '.join(sorted(missing))})"
                )
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a SQLite database ({exc})") from None
    return str(row[0]) if row else "none"


def _describe(written: Path, final: Path) -> Copied:
    with _connect(written, read_only=True) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        releases = conn.execute("SELECT count(*) FROM release").fetchone()[0]
    return Copied(path=final, revision=str(revision[0]) if revision else "none", releases=int(releases))


@contextlib.contextmanager
def _connect(path: Path, *, read_only: bool) -> Iterator[sqlite3.Connection]:
    mode = "ro" if read_only else "rw"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=5)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _atomic_file(final: Path) -> Iterator[Path]:
    """A scratch path in the final file's directory, renamed over it only when the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(fd)
    scratch = Path(name)
    try:
        yield scratch
        os.replace(scratch, final)
    finally:
        scratch.unlink(missing_ok=True)


def _postgres_guidance(database: str, url: URL) -> str:
    shown = url.set(drivername="postgresql").render_as_string(hide_password=True)
    return (
        "release-captain backs up SQLite only; for PostgreSQL use its own tools (they are consistent "
        "while serve runs):\n"
        f"  back up:  pg_dump --format=custom --file=release-captain.dump '{shown}'\n"
        f"  restore:  pg_restore --clean --if-exists --no-owner --dbname={database} release-captain.dump\n"
        "            (stop serve first; add --host/--port/--username as for pg_dump)"
    )
