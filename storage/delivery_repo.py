"""Queries for scheduled deliveries: plan once, claim with a lease, finish fenced on the claim."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.tables import (
    ACTIVE_STATES,
    ChecklistItem,
    Delivery,
    ItemOwner,
    Person,
    PersonPrefs,
    Release,
    ReleaseRole,
    SchedulerMark,
    Snooze,
)

PENDING, SENDING, SENT, CANCELLED, EXPIRED, DEAD = (
    "pending",
    "sending",
    "sent",
    "cancelled",
    "expired",
    "dead",
)
FINAL_STATES = (SENT, CANCELLED, EXPIRED, DEAD)
_CHUNK = 500  # rows per INSERT: well under SQLite's bound-parameter limit


def database_now(*, session: Session) -> datetime:
    """The database server's clock: one clock for every replica, whatever their own say."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's clock is this machine's; it has no server of its own.
        return datetime.now(UTC)
    value = session.exec(select(func.now())).scalar_one()  # type: ignore[call-overload]
    return value.astimezone(UTC)


def insert_planned(*, session: Session, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Insert planned deliveries, skipping keys that exist; returns the keys of the rows it inserted."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_keys: list[str] = []
    for start in range(0, len(rows), _CHUNK):
        stmt = (
            insert(Delivery)
            .values(list(rows[start : start + _CHUNK]))
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Delivery.key)
        )
        new_keys.extend(row[0] for row in session.exec(stmt))  # type: ignore[call-overload]
    return new_keys


def mark(*, session: Session, name: str) -> datetime | None:
    """A named scheduler instant, if recorded."""
    row = session.get(SchedulerMark, name)
    return row.at if row else None


def advance_mark(*, session: Session, name: str, at: datetime) -> None:
    """Move a named instant forward (never back: replicas may tick out of order)."""
    row = session.get(SchedulerMark, name, with_for_update=True)
    if row is None:
        session.add(SchedulerMark(name=name, at=at))
    elif at > row.at:
        row.at = at
        session.add(row)
    session.flush()


def claim_due(
    *,
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    token: str,
    clock: datetime | None = None,
) -> list[Delivery]:
    """Take up to `limit` rows due at `now`; a row whose lease ran out by `clock` is taken over.

    `now` decides what is due (it may be a planning instant given with --at); `clock` is the real time
    that leases are measured in (the database's), so a replica that died is noticed whatever `now` says.
    """
    clock = clock or now
    due = (
        select(Delivery.id)
        .where(
            col(Delivery.slot) <= now,
            or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
            or_(
                col(Delivery.state) == PENDING,
                (col(Delivery.state) == SENDING) & (col(Delivery.lease_until) < clock),
            ),
        )
        .order_by(col(Delivery.slot), col(Delivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Replicas ticking together each get different rows instead of waiting on each other.
        due = due.with_for_update(skip_locked=True)
    ids = [row[0] for row in session.exec(due)]  # type: ignore[call-overload]
    if not ids:
        return []
    # A row found in SENDING was claimed by someone who vanished mid-send: its outcome is unknown.
    session.exec(  # type: ignore[call-overload]
        update(Delivery)
        .where(col(Delivery.id).in_(ids), col(Delivery.state) == SENDING)
        .values(unknown_outcome=True)
    )
    session.exec(  # type: ignore[call-overload]
        update(Delivery)
        .where(col(Delivery.id).in_(ids))
        .values(
            state=SENDING,
            lease_until=clock + lease,
            claim_token=token,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
    )
    stmt = select(Delivery).where(col(Delivery.id).in_(ids)).order_by(col(Delivery.slot), col(Delivery.id))
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def finish(*, session: Session, delivery_id: int, token: str, now: datetime, **values: Any) -> bool:
    """Record the outcome of a claimed row; False when the claim was lost (another replica took over)."""
    result = session.exec(  # type: ignore[call-overload]
        update(Delivery)
        .where(
            col(Delivery.id) == delivery_id,
            col(Delivery.claim_token) == token,
            col(Delivery.state) == SENDING,
        )
        .values(**values, lease_until=None, updated_at=now)
    )
    return (result.rowcount or 0) == 1


def cancel_pending(
    *,
    session: Session,
    now: datetime,
    reason: str,
    release_id: int | None = None,
    item_id: int | None = None,
    keep_kinds: Sequence[str] = (),
) -> int:
    """Cancel planned rows that a change made pointless (the release moved, the item was signed off)."""
    stmt = update(Delivery).where(col(Delivery.state) == PENDING)
    if keep_kinds:
        stmt = stmt.where(col(Delivery.kind).notin_(list(keep_kinds)))
    if release_id is not None:
        stmt = stmt.where(col(Delivery.release_id) == release_id)
    if item_id is not None:
        # Only rows about this item alone; digests listing other items still have work to do.
        stmt = stmt.where(col(Delivery.item_ids) == str(item_id))
    result = session.exec(stmt.values(state=CANCELLED, reason=reason, updated_at=now))  # type: ignore[call-overload]
    return result.rowcount or 0


def by_state(*, session: Session, states: Sequence[str], limit: int = 200) -> list[Delivery]:
    """Deliveries in the given states, newest first (for `release-captain deliveries`)."""
    stmt = (
        select(Delivery)
        .where(col(Delivery.state).in_(states))
        .order_by(col(Delivery.updated_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def active_state(*, session: Session) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Every active release with its open items, owners and roles: four queries, whatever the numbers.

    Plain rows, not ORM objects: a pass reads tens of thousands of them every tick, and building
    objects was 80 % of its cost (bench/tick.py). Rows answer the same attribute names.
    """
    release, item, owner, role = (t.__table__ for t in (Release, ChecklistItem, ItemOwner, ReleaseRole))  # type: ignore[attr-defined]
    active = release.c.state.in_(ACTIVE_STATES)
    open_item = item.c.state.notin_(("done", "waived", "not_applicable"))
    releases = session.exec(select(release).where(active).order_by(release.c.id)).all()  # type: ignore[call-overload]
    items = session.exec(  # type: ignore[call-overload]
        select(item)
        .join(release, release.c.id == item.c.release_id)
        .where(active, open_item)
        .order_by(item.c.release_id, item.c.position)
    ).all()
    owners = session.exec(  # type: ignore[call-overload]
        select(owner)
        .join(item, item.c.id == owner.c.item_id)
        .join(release, release.c.id == item.c.release_id)
        .where(active, open_item)
        .order_by(owner.c.id)
    ).all()
    roles = session.exec(  # type: ignore[call-overload]
        select(role).join(release, release.c.id == role.c.release_id).where(active).order_by(role.c.id)
    ).all()
    return list(releases), list(items), list(owners), list(roles)


def people_state(*, session: Session) -> tuple[list[Any], list[Any], list[Any]]:
    """Cached time zones, preferences and snoozes, as plain rows: three queries."""
    tables = (Person.__table__, PersonPrefs.__table__, Snooze.__table__)  # type: ignore[attr-defined]
    people, prefs, snoozes = (list(session.exec(select(t)).all()) for t in tables)  # type: ignore[call-overload]
    return people, prefs, snoozes


def rows_by_id(*, session: Session, ids: Sequence[int]) -> list[Delivery]:
    """Deliveries by id."""
    if not ids:
        return []
    return list(session.exec(select(Delivery).where(col(Delivery.id).in_(ids))).scalars())  # type: ignore[call-overload]


def items_by_ids(*, session: Session, ids: Sequence[int]) -> list[ChecklistItem]:
    """Items by id (to find which releases a batch of digests is about)."""
    if not ids:
        return []
    return list(session.exec(select(ChecklistItem).where(col(ChecklistItem.id).in_(ids))).scalars())  # type: ignore[call-overload]


def releases_state(
    *, session: Session, release_ids: Sequence[int]
) -> tuple[list[Release], list[ChecklistItem], list[ItemOwner], list[ReleaseRole]]:
    """Some releases with their items, owners and roles: four queries for any number of them."""
    if not release_ids:
        return [], [], [], []
    ids = list(release_ids)
    releases = list(session.exec(select(Release).where(col(Release.id).in_(ids))).scalars())  # type: ignore[call-overload]
    items = list(
        session.exec(  # type: ignore[call-overload]
            select(ChecklistItem)
            .where(col(ChecklistItem.release_id).in_(ids))
            .order_by(col(ChecklistItem.release_id), col(ChecklistItem.position))
        ).scalars()
    )
    owners = list(
        session.exec(  # type: ignore[call-overload]
            select(ItemOwner)
            .join(ChecklistItem, col(ChecklistItem.id) == col(ItemOwner.item_id))
            .where(col(ChecklistItem.release_id).in_(ids))
            .order_by(col(ItemOwner.id))
        ).scalars()
    )
    roles = list(
        session.exec(  # type: ignore[call-overload]
            select(ReleaseRole).where(col(ReleaseRole.release_id).in_(ids)).order_by(col(ReleaseRole.id))
        ).scalars()
    )
    return releases, items, owners, roles


def mark_person_gone(*, session: Session, user_id: str) -> None:
    """Record that Slack says a person left (deactivated or deleted), if we know them."""
    session.exec(  # type: ignore[call-overload]
        update(Person).where(col(Person.slack_id) == user_id).values(deleted=True)
    )
