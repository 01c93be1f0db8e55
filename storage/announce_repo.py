"""Queries for announcements, votes and release roles. Keyword-only session; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from storage.tables import Announcement, Release, ReleaseRole, Vote

PENDING_STATES = ("planned", "approved", "held")
# Announcements are still worth posting for these releases (launched ones post go-live and after).
_LIVE_RELEASES = ("planning", "go", "no_go", "launched", "rolled_back", "completed")


def announcements_of(*, session: Session, release_id: int) -> list[Announcement]:
    """A release's announcements, in the order they are due."""
    stmt = (
        select(Announcement)
        .where(Announcement.release_id == release_id)
        .order_by(col(Announcement.post_at), col(Announcement.id))
    )
    return list(session.exec(stmt))


def get_announcement(
    *, session: Session, announcement_id: int, for_update: bool = False
) -> Announcement | None:
    """One announcement by id."""
    stmt = select(Announcement).where(Announcement.id == announcement_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def pending_with_releases(*, session: Session) -> list[tuple[Announcement, Release]]:
    """Every announcement that may still be posted, with its release: two tables, one query."""
    stmt = (
        select(Announcement, Release)
        .join(Release, col(Release.id) == col(Announcement.release_id))
        .where(col(Announcement.state).in_(PENDING_STATES), col(Release.state).in_(_LIVE_RELEASES))
        .order_by(col(Announcement.post_at), col(Announcement.id))
    )
    return [(a, r) for a, r in session.exec(stmt)]


def by_ids(*, session: Session, ids: Sequence[int]) -> list[Announcement]:
    """Announcements by id."""
    if not ids:
        return []
    return list(session.exec(select(Announcement).where(col(Announcement.id).in_(list(ids)))))


def withdraw_pending(*, session: Session, release_id: int, now: datetime, note: str) -> int:
    """Withdraw every announcement of a release that has not been posted."""
    result = session.exec(  # type: ignore[call-overload]
        update(Announcement)
        .where(Announcement.release_id == release_id, col(Announcement.state).in_(PENDING_STATES))
        .values(state="withdrawn", note=note, version=Announcement.version + 1, updated_at=now)
    )
    return result.rowcount or 0


def roles_by_kind(*, session: Session, release_id: int) -> dict[str, list[str]]:
    """Every role of a release: role -> user ids in the order they were given it."""
    stmt = select(ReleaseRole).where(ReleaseRole.release_id == release_id).order_by(col(ReleaseRole.id))
    roles: dict[str, list[str]] = {"manager": [], "decider": [], "comms": []}
    for row in session.exec(stmt):
        roles.setdefault(row.role, []).append(row.user_id)
    return roles


def replace_role(*, session: Session, release_id: int, role: str, users: Sequence[str]) -> None:
    """Make exactly `users` hold `role` in the release."""
    session.exec(  # type: ignore[call-overload]
        delete(ReleaseRole).where(col(ReleaseRole.release_id) == release_id, col(ReleaseRole.role) == role)
    )
    for user in dict.fromkeys(users):
        session.add(ReleaseRole(release_id=release_id, role=role, user_id=user))
    session.flush()


def votes_of(*, session: Session, release_id: int) -> list[Vote]:
    """The current votes on a release, oldest first."""
    stmt = select(Vote).where(Vote.release_id == release_id).order_by(col(Vote.at), col(Vote.id))
    return list(session.exec(stmt))


def put_vote(
    *, session: Session, release_id: int, user_id: str, choice: str, reason: str | None, at: datetime
) -> str | None:
    """Record a person's vote, replacing their earlier one; returns the earlier choice."""
    row = session.exec(
        select(Vote).where(Vote.release_id == release_id, Vote.user_id == user_id).with_for_update()
    ).first()
    before = row.choice if row else None
    if row is None:
        row = Vote(release_id=release_id, user_id=user_id, choice=choice, reason=reason, at=at)
    else:
        row.choice, row.reason, row.at = choice, reason, at
    session.add(row)
    session.flush()
    return before


def clear_votes(*, session: Session, release_id: int) -> int:
    """Forget the votes (the release was moved after a NO-GO and is decided afresh)."""
    result = session.exec(delete(Vote).where(col(Vote.release_id) == release_id))  # type: ignore[call-overload]
    return result.rowcount or 0
