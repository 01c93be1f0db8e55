"""Run the Alembic migrations programmatically, serialised across replicas on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision under migrations/versions. A restart finds the database there and needs nothing from
# Alembic: importing it, loading the scripts and running env.py to learn that took 0.34–0.46 s of a 2.2 s
# start (bench/README.md, start-up). tests/storage/test_storage.py fails when a new migration is added
# without moving this.
HEAD_REVISION = "0008"
# Any constant works; it only has to be the same for every replica.
_PG_LOCK_KEY = 7_046_112_358


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations, independent of the working directory."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; replicas starting together wait for each other."""
    if revision == "head" and _at_head(engine):
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _at_head(engine: Engine) -> bool:
    """Whether the database is already at HEAD_REVISION, asked without Alembic (False when unsure).

    Anything else (a new database, an older schema, a newer one) takes Alembic's path, which migrates or
    explains. Replicas may ask this together: the answer only ever skips work that is already done.
    """
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version table yet: a database never migrated
        return False
    return [row[0] for row in rows] == [HEAD_REVISION]
