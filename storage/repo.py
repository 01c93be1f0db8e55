"""Queries. Every function takes the session keyword-only and never commits: the unit of work does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from storage.prepared_read import PreparedRead
from storage.tables import (
    ACTIVE_STATES,
    AuditEvent,
    CardNote,
    ChecklistItem,
    ItemOwner,
    ItemSignoff,
    Person,
    ProcessedEvent,
    ReactionMark,
    Release,
    ReleaseRole,
)

MANAGER = "manager"
# Stored in place of a message ts while the message is being posted: after a crash it means "look first".
POSTING = "posting"


# Built once: every slash command and status look starts here, and building the statement (coercing its
# clauses, deriving its cache key) cost about as much as running it (bench/README.md, "Profile"). The
# states are OR-ed equalities rather than IN: an IN list is re-rendered into the SQL on every execution.
_ACTIVE_IN_CHANNEL = (
    select(Release)
    .where(
        Release.channel_id == bindparam("channel_id"),
        or_(*(col(Release.state) == state for state in ACTIVE_STATES)),
    )
    .order_by(col(Release.launch_at), col(Release.id))
)


# The same releases as rows of (id, card_version): enough for a request that a cached view can answer.
_ACTIVE_VERSIONS_IN_CHANNEL = PreparedRead(
    select(col(Release.id), col(Release.card_version))
    .where(
        Release.channel_id == bindparam("channel_id"),
        or_(*(col(Release.state) == state for state in ACTIVE_STATES)),
    )
    .order_by(col(Release.launch_at), col(Release.id))
)


def active_release_versions_in_channel(*, engine: Engine, channel_id: str) -> list[tuple[int, int]]:
    """(id, card_version) of what `active_releases_in_channel` returns, in its order; no ORM objects.

    Runs on its own, outside any transaction: see storage/prepared_read.py for why and when that is right.
    """
    return _ACTIVE_VERSIONS_IN_CHANNEL.rows(engine, channel_id=channel_id)


def active_releases_in_channel(*, session: Session, channel_id: str) -> list[Release]:
    """Releases in the channel that still take changes, soonest launch first."""
    return list(session.exec(_ACTIVE_IN_CHANNEL, params={"channel_id": channel_id}))


def releases_in_channel(*, session: Session, channel_id: str, limit: int = 20) -> list[Release]:
    """Releases in the channel, active ones first, then the most recent others."""
    active = col(Release.state).in_(ACTIVE_STATES)
    stmt = (
        select(Release)
        .where(Release.channel_id == channel_id)
        .order_by(active.desc(), col(Release.launch_at).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def active_name_taken(*, session: Session, channel_id: str, name_key: str) -> bool:
    """Whether an active release in the channel already has this (casefolded) name."""
    stmt = select(func.count()).where(
        Release.channel_id == channel_id,
        Release.name_key == name_key,
        col(Release.state).in_(ACTIVE_STATES),
    )
    return session.exec(stmt).one() > 0


def get_release(*, session: Session, release_id: int, for_update: bool = False) -> Release | None:
    """One release by id; `for_update` locks the row on PostgreSQL."""
    stmt = select(Release).where(Release.id == release_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def items_of(*, session: Session, release_id: int) -> list[ChecklistItem]:
    """A release's items in card order."""
    stmt = (
        select(ChecklistItem)
        .where(ChecklistItem.release_id == release_id)
        .order_by(col(ChecklistItem.position))
    )
    return list(session.exec(stmt))


def owners_of(*, session: Session, release_id: int) -> dict[int, list[ItemOwner]]:
    """Owners of every item of a release, in one query, keyed by item id."""
    stmt = (
        select(ItemOwner)
        .join(ChecklistItem, col(ChecklistItem.id) == col(ItemOwner.item_id))
        .where(ChecklistItem.release_id == release_id)
        .order_by(col(ItemOwner.id))
    )
    owners: dict[int, list[ItemOwner]] = defaultdict(list)
    for owner in session.exec(stmt):
        owners[owner.item_id].append(owner)
    return owners


_OWNERS_OF_ITEM = (
    select(ItemOwner).where(ItemOwner.item_id == bindparam("item_id")).order_by(col(ItemOwner.id))
)


def owners_of_item(*, session: Session, item_id: int) -> list[ItemOwner]:
    """Owners of one item, in the order they were added."""
    return list(session.exec(_OWNERS_OF_ITEM, params={"item_id": item_id}))


def roles_of(*, session: Session, release_id: int, role: str = MANAGER) -> list[str]:
    """User ids holding a role in a release, in the order they were given it."""
    stmt = (
        select(ReleaseRole.user_id)
        .where(ReleaseRole.release_id == release_id, ReleaseRole.role == role)
        .order_by(col(ReleaseRole.id))
    )
    return list(session.exec(stmt))


def add_release(
    *,
    session: Session,
    release: Release,
    managers: Sequence[str],
    items: Sequence[ChecklistItem],
) -> Release:
    """Insert a release with its managers and items; flushes so ids are known."""
    session.add(release)
    session.flush()
    for user_id in dict.fromkeys(managers):
        session.add(ReleaseRole(release_id=release.id, role=MANAGER, user_id=user_id))
    for item in items:
        item.release_id = release.id  # type: ignore[assignment]
        session.add(item)
    session.flush()
    return release


def add_owners(*, session: Session, item_id: int, owners: Iterable[tuple[str, str]]) -> None:
    """Attach (kind, slack_id) owners to an item; callers skip the ones it already has."""
    for kind, slack_id in owners:
        session.add(ItemOwner(item_id=item_id, kind=kind, slack_id=slack_id))
    session.flush()


# Built once, so its values are parameters given at execution, which the ORM's "evaluate" synchronisation
# cannot see: it would match no loaded row. It is switched off and remove_owners expunges them itself. It
# stays an ORM statement (unlike the version bumps below) because an ORM statement autoflushes: an owner
# added earlier in the same transaction is written before it is deleted, not after.
_REMOVE_OWNER = (
    delete(ItemOwner)
    .where(
        col(ItemOwner.item_id) == bindparam("item_id"),
        col(ItemOwner.kind) == bindparam("kind"),
        col(ItemOwner.slack_id) == bindparam("slack_id"),
    )
    .execution_options(synchronize_session=False)
)


def remove_owners(*, session: Session, item_id: int, owners: Iterable[tuple[str, str]]) -> int:
    """Detach owners from an item; returns how many were removed."""
    gone = set(owners)
    removed = 0
    for kind, slack_id in sorted(gone):  # one order for every caller: concurrent removals lock rows alike
        params = {"item_id": item_id, "kind": kind, "slack_id": slack_id}
        removed += session.exec(_REMOVE_OWNER, params=params).rowcount or 0  # type: ignore[call-overload]
    # As the ORM's own synchronisation would: rows this session loaded and that are now deleted leave it.
    for loaded in [o for o in session.identity_map.values() if isinstance(o, ItemOwner)]:
        if loaded.item_id == item_id and (loaded.kind, loaded.slack_id) in gone:
            session.expunge(loaded)
    return removed


# Every item change bumps one of these, so the statements are built once (see _ACTIVE_IN_CHANNEL), on the
# tables rather than the mapped classes: as plain Core statements they skip the ORM's bulk-update machinery,
# which was most of what a bump cost, and its synchronisation of loaded objects. That synchronisation could
# not see values given at execution anyway, and would have left a stale version on a loaded Release
# (ViewCache.load keys views by it); _bump does that job for the one row each statement touches. Core
# statements do not autoflush: pending rows (the audit event) are written at the latest at commit.
def _version_bump(table: type[Release | ChecklistItem], version: str) -> Any:
    """UPDATE <table> SET <version> = <version> + 1, updated_at = :now WHERE id = :row_id RETURNING it."""
    rows = table.__table__  # type: ignore[attr-defined]
    return (
        update(rows)
        .where(rows.c.id == bindparam("row_id"))
        .values({version: rows.c[version] + 1, "updated_at": bindparam("now")})
        .returning(rows.c[version])
    )


_BUMPS = {Release: "card_version", ChecklistItem: "version"}
_BUMP_STATEMENTS = {table: _version_bump(table, version) for table, version in _BUMPS.items()}


_ITEM_BUMP_IF_UNCHANGED = _BUMP_STATEMENTS[ChecklistItem].where(
    ChecklistItem.__table__.c.version == bindparam("expected")  # type: ignore[attr-defined]
)


def _bump(
    session: Session,
    table: type[Release | ChecklistItem],
    key: int,
    now: datetime,
    statement: Any = None,
    **params: object,
) -> int | None:
    """Bump one row's version; a copy of the row this session already holds gets the new values too."""
    statement = _BUMP_STATEMENTS[table] if statement is None else statement
    params = {"row_id": key, "now": now, **params}
    version = session.exec(statement, params=params).scalar_one_or_none()  # type: ignore[call-overload]
    loaded = session.identity_map.get(identity_key(table, key)) if version is not None else None
    if loaded is not None:
        set_committed_value(loaded, _BUMPS[table], version)  # as the database now holds them, not as changes
        set_committed_value(loaded, "updated_at", now)
    return version


def touch_card(*, session: Session, release_id: int, now: datetime) -> int | None:
    """Mark the release's card as changed so the syncer republishes it; the new card version.

    None when the release no longer exists. The version lets a writer tell whether its change was the only
    one since it read the release (bot/services/views.py, ViewCache.after_item_change).
    """
    return _bump(session, Release, release_id, now)


def touch_items(*, session: Session, item_ids: Iterable[int], now: datetime) -> None:
    """Mark items' thread replies as changed so the syncer republishes them; one statement however many."""
    ids = list(dict.fromkeys(item_ids))
    if len(ids) == 1:
        _bump(session, ChecklistItem, ids[0], now)
    elif ids:
        session.exec(  # type: ignore[call-overload]
            update(ChecklistItem)
            .where(col(ChecklistItem.id).in_(ids))
            .values(version=ChecklistItem.version + 1, updated_at=now)
        )


def touch_item_if_unchanged(*, session: Session, item_id: int, version: int, now: datetime) -> bool:
    """Mark one item changed only if it is still at the version read; False when someone changed it since.

    For a decision taken from what was read outside the transaction and written without a compare-and-set
    of the item's state (a partial signature): it holds only while nothing about the item moved.
    """
    bumped = _bump(session, ChecklistItem, item_id, now, _ITEM_BUMP_IF_UNCHANGED, expected=version)
    return bumped is not None


def add_audit(*, session: Session, event: AuditEvent) -> None:
    """Append one audit row; nothing ever updates or deletes them."""
    session.add(event)


def recent_audit(
    *, session: Session, release_id: int, item_id: int | None = None, limit: int = 15
) -> list[AuditEvent]:
    """The newest audit rows of a release (or one item), newest first."""
    stmt = select(AuditEvent).where(AuditEvent.release_id == release_id)
    if item_id is not None:
        stmt = stmt.where(AuditEvent.item_id == item_id)
    stmt = stmt.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    return list(session.exec(stmt))


_PERSON_COLUMNS = ("slack_id", "name", "tz", "deleted", "is_bot", "fetched_at")
# Every assignment checks each new owner here, and most other requests look someone's time zone up.
_PERSON = PreparedRead(
    select(*(getattr(Person, name) for name in _PERSON_COLUMNS)).where(
        Person.slack_id == bindparam("slack_id")
    )
)


def cached_person(*, engine: Engine, slack_id: str) -> Person | None:
    """A cached Slack user, if seen before; read on its own, outside any transaction (a detached copy)."""
    rows = _PERSON.rows(engine, slack_id=slack_id)
    return Person(**dict(zip(_PERSON_COLUMNS, rows[0], strict=True))) if rows else None


def save_person(*, session: Session, person: Person) -> Person:
    """Insert or refresh a cached Slack user."""
    return session.merge(person)


def releases_needing_card_sync(*, session: Session, now: datetime, limit: int = 50) -> list[int]:
    """Releases whose card changed since last published and that no syncer holds.

    Every change to items or notes bumps the release's card_version too, so this one comparison
    finds all pending work without scanning items.
    """
    stmt = (
        select(Release.id)
        .where(
            col(Release.card_version) > col(Release.card_synced_version),
            or_(col(Release.card_lease_until).is_(None), col(Release.card_lease_until) < now),
        )
        .order_by(col(Release.id))
        .limit(limit)
    )
    return [rid for rid in session.exec(stmt) if rid is not None]


def claim_card(*, session: Session, release_id: int, now: datetime, lease: timedelta) -> bool:
    """Compare-and-set a publishing lease on a release's card; False when another syncer holds it."""
    result = session.exec(  # type: ignore[call-overload]
        update(Release)
        .where(
            col(Release.id) == release_id,
            or_(col(Release.card_lease_until).is_(None), col(Release.card_lease_until) < now),
        )
        .values(card_lease_until=now + lease)
    )
    return (result.rowcount or 0) == 1


def finish_card_sync(
    *,
    session: Session,
    release_id: int,
    card_ts: str | None,
    card_version: int | None,
    lease_until: datetime | None = None,
) -> None:
    """Record what was published (message ts and, when complete, the version) and set or free the lease.

    Item replies are recorded first, in a transaction of their own (`record_items_synced`): see there.
    """
    values: dict[str, object] = {"card_ts": card_ts, "card_lease_until": lease_until}
    if card_version is not None:
        values["card_synced_version"] = card_version
    session.exec(update(Release).where(col(Release.id) == release_id).values(**values))  # type: ignore[call-overload]


def record_items_synced(*, session: Session, item_versions: dict[int, tuple[int, str]]) -> None:
    """Record the version and ts of each item reply published, in ascending id order.

    Never in the same transaction as an update of their release: writers that change an item lock the item,
    then the release (`touch_card`); a syncer holding the release while waiting for an item would deadlock
    with them on PostgreSQL. Ascending ids keep two multi-item writers from locking in opposite orders.
    """
    for item_id, (version, thread_ts) in sorted(item_versions.items()):
        session.exec(  # type: ignore[call-overload]
            update(ChecklistItem)
            .where(col(ChecklistItem.id) == item_id)
            .values(synced_version=version, thread_ts=thread_ts)
        )


def record_message_ts(
    *, session: Session, release_id: int, card_ts: str | None, item_ts: dict[int, str]
) -> None:
    """Store the ts of a card or item message just posted (versions are recorded when the pass ends)."""
    if card_ts is not None:
        session.exec(update(Release).where(col(Release.id) == release_id).values(card_ts=card_ts))  # type: ignore[call-overload]
    for item_id, ts in item_ts.items():
        session.exec(update(ChecklistItem).where(col(ChecklistItem.id) == item_id).values(thread_ts=ts))  # type: ignore[call-overload]


def add_card_note(*, session: Session, release_id: int, text: str, now: datetime) -> None:
    """Queue a line for the card's thread; the card syncer posts it once."""
    session.add(CardNote(release_id=release_id, text=text, created_at=now))


def pending_card_notes(*, session: Session, release_id: int) -> list[CardNote]:
    """Notes not yet known to be posted (never tried, or in flight when an attempt died), oldest first."""
    stmt = (
        select(CardNote)
        .where(
            CardNote.release_id == release_id,
            or_(col(CardNote.posted_ts).is_(None), col(CardNote.posted_ts) == POSTING),
        )
        .order_by(col(CardNote.id))
    )
    return list(session.exec(stmt))


def mark_card_note_posted(*, session: Session, note_id: int, ts: str) -> None:
    """Record that a note reached Slack."""
    session.exec(  # type: ignore[call-overload]
        update(CardNote).where(col(CardNote.id) == note_id).values(posted_ts=ts)
    )


# Built once, like the item lookups below: every reaction and click records its event, and every reaction
# finds its item by the message it was added to. Building these each time was a tenth of a sign-off each.
# On the table, so it runs as a Core statement and not through the ORM's bulk insert (see _version_bump).
_PROCESSED_EVENT = ProcessedEvent.__table__  # type: ignore[attr-defined]
_RECORD_EVENT = {
    dialect: insert(_PROCESSED_EVENT)
    .values(event_id=bindparam("event_id"), received_at=bindparam("now"))
    .on_conflict_do_nothing()
    .returning(_PROCESSED_EVENT.c.event_id)  # rowcount is not reliable for ON CONFLICT on every driver
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def record_event(*, session: Session, event_id: str, now: datetime) -> bool:
    """Remember a Slack event id; False when it was already recorded (a retry or a duplicate)."""
    stmt = _RECORD_EVENT[session.get_bind().dialect.name]
    return session.exec(stmt, params={"event_id": event_id, "now": now}).first() is not None  # type: ignore[call-overload]


_ITEM_BY_MESSAGE = (
    select(Release, ChecklistItem)
    .join(ChecklistItem, col(ChecklistItem.release_id) == col(Release.id))
    .where(ChecklistItem.thread_ts == bindparam("ts"), Release.channel_id == bindparam("channel_id"))
)


def item_by_message(*, session: Session, channel_id: str, ts: str) -> tuple[Release, ChecklistItem] | None:
    """The item whose thread reply is this message, with its release."""
    row = session.exec(_ITEM_BY_MESSAGE, params={"ts": ts, "channel_id": channel_id}).first()
    return (row[0], row[1]) if row else None


# Built once: the item every command, click and reaction about one item starts from (see _ACTIVE_IN_CHANNEL).
_ITEM = select(ChecklistItem).where(ChecklistItem.id == bindparam("item_id"))
_ITEM_WITH_RELEASE = (
    select(Release, ChecklistItem)
    .join(ChecklistItem, col(ChecklistItem.release_id) == col(Release.id))
    .where(ChecklistItem.id == bindparam("item_id"))
)


def get_item(*, session: Session, item_id: int) -> ChecklistItem | None:
    """An item by id: the copy this session holds if any (a release view was just read), else one SELECT."""
    loaded = session.identity_map.get(identity_key(ChecklistItem, item_id))
    return loaded if loaded is not None else session.exec(_ITEM, params={"item_id": item_id}).first()


def item_with_release(*, session: Session, item_id: int) -> tuple[Release, ChecklistItem] | None:
    """An item by id, with its release."""
    row = session.exec(_ITEM_WITH_RELEASE, params={"item_id": item_id}).first()
    return (row[0], row[1]) if row else None


def signoffs_of(*, session: Session, item_id: int) -> list[str]:
    """Who has signed an every-owner-signs item so far, in order."""
    stmt = select(ItemSignoff.user_id).where(ItemSignoff.item_id == item_id).order_by(col(ItemSignoff.id))
    return list(session.exec(stmt))


def signoffs_by_item(*, session: Session, release_id: int) -> dict[int, list[str]]:
    """Signatures on a release's every-owner items, in one query, keyed by item id."""
    stmt = (
        select(ItemSignoff)
        .join(ChecklistItem, col(ChecklistItem.id) == col(ItemSignoff.item_id))
        .where(ChecklistItem.release_id == release_id)
        .order_by(col(ItemSignoff.id))
    )
    signed: dict[int, list[str]] = defaultdict(list)
    for row in session.exec(stmt):
        signed[row.item_id].append(row.user_id)
    return signed


def add_signoff(*, session: Session, item_id: int, user_id: str, now: datetime) -> bool:
    """Record one owner's signature; False when they had already signed."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(ItemSignoff)
        .values(item_id=item_id, user_id=user_id, at=now)
        .on_conflict_do_nothing()
        .returning(ItemSignoff.id)
    )
    return session.exec(stmt).first() is not None  # type: ignore[call-overload]


def remove_signoffs(*, session: Session, item_id: int, user_id: str | None = None) -> None:
    """Forget one owner's signature, or all of them when the item is reopened."""
    stmt = delete(ItemSignoff).where(col(ItemSignoff.item_id) == item_id)
    if user_id is not None:
        stmt = stmt.where(col(ItemSignoff.user_id) == user_id)
    session.exec(stmt)  # type: ignore[call-overload]


_REACTION_MARK = select(ReactionMark).where(
    ReactionMark.item_id == bindparam("item_id"),
    ReactionMark.user_id == bindparam("user_id"),
    ReactionMark.kind == bindparam("kind"),
)


def newer_reaction(
    *, session: Session, item_id: int, user_id: str, kind: str, present: bool, event_ts: str
) -> bool:
    """Record a reaction event unless a later one was already seen; False means this one is stale."""
    params = {"item_id": item_id, "user_id": user_id, "kind": kind}
    mark = session.exec(_REACTION_MARK, params=params).first()
    if mark is not None and _ts_key(mark.event_ts) >= _ts_key(event_ts):
        return False
    if mark is None:
        session.add(
            ReactionMark(item_id=item_id, user_id=user_id, kind=kind, present=present, event_ts=event_ts)
        )
    else:
        mark.present, mark.event_ts = present, event_ts
        session.add(mark)
    session.flush()
    return True


def _ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps compare as (seconds, sequence), not as strings or floats."""
    seconds, _, sequence = ts.partition(".")
    return int(seconds or 0), int(sequence or 0)
