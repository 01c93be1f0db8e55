"""Queries behind App Home and `/release mine`: one person's items, releases and channels; Home visits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.tables import ACTIVE_STATES, ChecklistItem, HomeVisit, ItemOwner, Release, ReleaseRole

_CLOSED = ("done", "waived", "not_applicable")
_USER, _GROUP = "user", "group"


def _owned_by(user_id: str, groups: Collection[str]):
    """An ItemOwner row that names the person or one of their groups."""
    mine = and_(ItemOwner.kind == _USER, ItemOwner.slack_id == user_id)
    if not groups:
        return mine
    return or_(mine, and_(ItemOwner.kind == _GROUP, col(ItemOwner.slack_id).in_(list(groups))))


def groups_owning_open_items(*, session: Session) -> list[str]:
    """User groups that own open items of active releases (whose members Home must ask Slack about)."""
    stmt = (
        select(ItemOwner.slack_id)
        .join(ChecklistItem, col(ChecklistItem.id) == col(ItemOwner.item_id))
        .join(Release, col(Release.id) == col(ChecklistItem.release_id))
        .where(
            ItemOwner.kind == _GROUP,
            col(Release.state).in_(ACTIVE_STATES),
            col(ChecklistItem.state).notin_(_CLOSED),
        )
        .distinct()
    )
    return sorted(session.exec(stmt))


def open_items_of(
    *, session: Session, user_id: str, groups: Collection[str]
) -> list[tuple[Release, ChecklistItem]]:
    """Open items of active releases owned by the person or their groups, soonest due first."""
    owned = select(ItemOwner.item_id).where(_owned_by(user_id, groups))
    stmt = (
        select(Release, ChecklistItem)
        .join(ChecklistItem, col(ChecklistItem.release_id) == col(Release.id))
        .where(
            col(Release.state).in_(ACTIVE_STATES),
            col(ChecklistItem.state).notin_(_CLOSED),
            col(ChecklistItem.id).in_(owned),
        )
        .order_by(col(ChecklistItem.due_at), col(Release.launch_at), col(ChecklistItem.position))
    )
    return [(release, item) for release, item in session.exec(stmt)]


def owners_of_items(*, session: Session, item_ids: Collection[int]) -> dict[int, list[ItemOwner]]:
    """Owners of the given items, keyed by item id, in one query."""
    owners: dict[int, list[ItemOwner]] = defaultdict(list)
    if not item_ids:
        return owners
    stmt = select(ItemOwner).where(col(ItemOwner.item_id).in_(list(item_ids))).order_by(col(ItemOwner.id))
    for owner in session.exec(stmt):
        owners[owner.item_id].append(owner)
    return owners


def managed_releases(*, session: Session, user_id: str, role: str) -> list[Release]:
    """Active releases in which the person holds `role` (a manager), soonest launch first."""
    stmt = (
        select(Release)
        .join(ReleaseRole, col(ReleaseRole.release_id) == col(Release.id))
        .where(
            ReleaseRole.user_id == user_id,
            ReleaseRole.role == role,
            col(Release.state).in_(ACTIVE_STATES),
        )
        .order_by(col(Release.launch_at), col(Release.id))
    )
    return list(session.exec(stmt))


def release_parts(
    *, session: Session, release_ids: Collection[int]
) -> tuple[list[ChecklistItem], list[ItemOwner], list[ReleaseRole]]:
    """Items, owners and roles of several releases: three queries, whatever the numbers."""
    if not release_ids:
        return [], [], []
    ids = list(release_ids)
    items = list(
        session.exec(
            select(ChecklistItem)
            .where(col(ChecklistItem.release_id).in_(ids))
            .order_by(col(ChecklistItem.release_id), col(ChecklistItem.position))
        )
    )
    owners = list(
        session.exec(
            select(ItemOwner)
            .join(ChecklistItem, col(ChecklistItem.id) == col(ItemOwner.item_id))
            .where(col(ChecklistItem.release_id).in_(ids))
            .order_by(col(ItemOwner.id))
        )
    )
    roles = list(
        session.exec(
            select(ReleaseRole).where(col(ReleaseRole.release_id).in_(ids)).order_by(col(ReleaseRole.id))
        )
    )
    return items, owners, roles


def channels_of(*, session: Session, user_id: str, groups: Collection[str]) -> set[str]:
    """Channels of any release (of any state) where the person holds a role or owns an item."""
    by_role = (
        select(Release.channel_id)
        .join(ReleaseRole, col(ReleaseRole.release_id) == col(Release.id))
        .where(ReleaseRole.user_id == user_id)
    )
    by_item = (
        select(Release.channel_id)
        .join(ChecklistItem, col(ChecklistItem.release_id) == col(Release.id))
        .join(ItemOwner, col(ItemOwner.item_id) == col(ChecklistItem.id))
        .where(_owned_by(user_id, groups))
    )
    return set(session.exec(by_role.distinct())) | set(session.exec(by_item.distinct()))


def active_releases_in(*, session: Session, channel_ids: Collection[str], limit: int) -> list[Release]:
    """Active releases in these channels, soonest launch first."""
    if not channel_ids:
        return []
    stmt = (
        select(Release)
        .where(col(Release.channel_id).in_(list(channel_ids)), col(Release.state).in_(ACTIVE_STATES))
        .order_by(col(Release.launch_at), col(Release.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def people_of_release(*, session: Session, release_id: int) -> tuple[set[str], set[str]]:
    """(user ids, group ids) that a change to the release concerns: its roles and its item owners."""
    users = set(session.exec(select(ReleaseRole.user_id).where(ReleaseRole.release_id == release_id)))
    owners = session.exec(
        select(ItemOwner.kind, ItemOwner.slack_id)
        .join(ChecklistItem, col(ChecklistItem.id) == col(ItemOwner.item_id))
        .where(ChecklistItem.release_id == release_id)
        .distinct()
    )
    groups: set[str] = set()
    for kind, slack_id in owners:
        (groups if kind == _GROUP else users).add(slack_id)
    return users, groups


def record_visit(*, session: Session, user_id: str, now: datetime, page: int | None = None) -> None:
    """Remember that the person opened Home, and the page they are on (kept when `page` is None)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    changes: dict[str, object] = {"opened_at": now}
    if page is not None:
        changes["page"] = page
    # An upsert: two replicas may see the same person's first visit at once.
    stmt = (
        insert(HomeVisit)
        .values(slack_id=user_id, opened_at=now, page=page or 0)
        .on_conflict_do_update(index_elements=["slack_id"], set_=changes)
    )
    session.exec(stmt)  # type: ignore[call-overload]


def get_visit(*, session: Session, user_id: str) -> HomeVisit | None:
    """The person's Home visit, if they ever opened it."""
    return session.get(HomeVisit, user_id)


def visitors_among(*, session: Session, user_ids: Iterable[str]) -> set[str]:
    """Those of these people who have opened Home at least once."""
    ids = list(set(user_ids))
    if not ids:
        return set()
    return set(session.exec(select(HomeVisit.slack_id).where(col(HomeVisit.slack_id).in_(ids))))
