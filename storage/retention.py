"""Retention: forget what people wrote about releases that closed long ago; keep who did what, and when."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Table, func, or_, select, update
from sqlmodel import Session, col

from storage import delivery_repo
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, CardNote, Delivery, Release, SchedulerMark

log = logging.getLogger(__name__)

# A release in one of these states takes no more changes; its texts only serve history.
CLOSED_STATES = ("launched", "rolled_back", "cancelled", "completed")
PURGED_UNTIL = "purged_until"
PURGE_EVERY = timedelta(days=1)

# Every column that holds text a person wrote or the bot rendered from it, per table with a release_id.
# What stays: ids, actions, actors, states, times and outcomes. A new table of texts is one line here.
PURGED_COLUMNS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (CardNote, ("text",)),
    (AuditEvent, ("before", "after", "detail")),
    (Delivery, ("reason",)),
    (Announcement, ("text", "context", "note")),
)


@dataclass
class PurgeReport:
    """How many rows had texts emptied (or would have, in a dry run), per table."""

    cutoff: datetime
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows changed across all tables."""
        return sum(self.rows.values())

    def __str__(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        tables = ", ".join(f"{name} {n}" for name, n in self.rows.items()) or "nothing"
        return f"{verb} texts of releases closed before {self.cutoff.isoformat(timespec='seconds')}: {tables}"


def purge(*, session: Session, days: int, now: datetime, dry_run: bool = False) -> PurgeReport:
    """Empty the purged columns of every release closed (and untouched) for more than `days` days."""
    cutoff = now - timedelta(days=days)
    closed = select(Release.id).where(col(Release.state).in_(CLOSED_STATES), col(Release.updated_at) < cutoff)
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    for model, columns in PURGED_COLUMNS:
        table: Table = model.__table__  # type: ignore[attr-defined]
        # Only rows still holding some text: a second run changes nothing and reports zero.
        holding = or_(*(_holds_text(table, name) for name in columns))
        where = (table.c.release_id.in_(closed), holding)
        if dry_run:
            count = select(table.c.id).where(*where).subquery()
            n = session.exec(select(func.count()).select_from(count)).scalar_one()  # type: ignore[call-overload]
        else:
            blank = {name: _blank(table, name) for name in columns}
            n = session.exec(update(table).where(*where).values(**blank)).rowcount or 0  # type: ignore[call-overload]
        report.rows[table.name] = int(n)
    return report


def purge_if_due(engine: Engine, *, days: int) -> PurgeReport | None:
    """Purge at most once a day across all replicas (the `purged_until` mark); None when not due or off."""
    if days <= 0:
        return None
    with unit_of_work(engine) as session:
        now = delivery_repo.database_now(session=session)
        # Locked for the transaction, so two replicas ticking together purge once.
        last = session.get(SchedulerMark, PURGED_UNTIL, with_for_update=True)
        if last is not None and now - last.at < PURGE_EVERY:
            return None
        report = purge(session=session, days=days, now=now)
        delivery_repo.advance_mark(session=session, name=PURGED_UNTIL, at=now)
    if report.total:
        log.info("retention: %s", report)
    return report


def _holds_text(table: Table, name: str) -> ColumnElement[bool]:
    column = table.c[name]
    return column != "" if not column.nullable else column.isnot(None)


def _blank(table: Table, name: str) -> str | None:
    # NOT NULL text columns are emptied; nullable ones become NULL.
    return None if table.c[name].nullable else ""
