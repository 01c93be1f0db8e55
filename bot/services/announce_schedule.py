"""The scheduler's side of announcements: which draft DMs, held notices and posts are due, and what each says.

Every send goes through the delivery machinery (`bot/services/deliveries.py`); this only decides which rows
are due and renders them from the state at send time. A post's row is keyed by the announcement alone, so
however often the plan is re-timed or a replica re-plans, it is posted once; a post Slack accepted but we
failed to record is found by its delivery row and recorded on the next pass.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.domain.announcements import DEFAULT_LEAD, AnnouncementKind, AnnouncementState
from bot.domain.model import AuditSource, ReleaseState, ReleaseView
from bot.ports import CardSyncRequests, Posted
from bot.services.results import AnnouncementDraft, AnnouncementPost, Outgoing
from bot.services.views import load_release_view
from storage import announce_repo, delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, Delivery, Release, ReleaseRole

log = logging.getLogger(__name__)

POST, DRAFT, HELD = "announce", "ann_draft", "ann_held"
KINDS = frozenset({POST, DRAFT, HELD})
TELL_USERS_ITEM = "user_communication"  # completed when the upcoming-release announcement is posted
# Planned for a moment already past (a release created or moved close to launch): posted once approved,
# never held for being late, since it was never on time.
ON_APPROVAL = "its planned time had passed when it was planned: posted once approved"


class AnnouncementSchedule:
    """The delivery extension half of the announcement service.

    It is mixed into AnnouncementService, which provides what both halves use: `_text` (render or the edited
    text), `_view` (the read model of one announcement) and `_complete_item` (sign off the item it fulfils).
    """

    kinds = KINDS
    _engine: Engine
    _cards: CardSyncRequests

    # ---- the scheduler's side -----------------------------------------------------------------------

    def plan_due(self, now: datetime) -> int:
        """Queue the draft DMs, held notices and posts that are due; returns how many rows were new."""
        with unit_of_work(self._engine, write=False) as session:
            pairs = announce_repo.pending_with_releases(session=session)
            if not pairs:
                return 0
            roles = _roles_of(session, {r.id or 0 for _, r in pairs})
            posted = _posted(
                session, [(a, r) for a, r in pairs if a.state == AnnouncementState.APPROVED.value]
            )
        for ann_id, row in posted.items():
            self._mark_posted(ann_id, row.channel_id or row.recipient, row.message_ts or "", now)
        rows: list[dict[str, Any]] = []
        changes: list[tuple[Announcement, Release, str]] = []
        for ann, release in pairs:
            if ann.id in posted:
                continue
            rows.extend(self._due_rows(ann, release, roles[release.id or 0], now, changes))
        with unit_of_work(self._engine) as session:
            for ann, release, change in changes:
                rows.extend(
                    self._apply_due_change(session, ann, release, roles[release.id or 0], change, now)
                )
            new = delivery_repo.insert_planned(session=session, rows=rows)
        return len(new)

    def contents(self, rows: Sequence[Delivery], now: datetime) -> dict[int, Outgoing | None]:
        """What each claimed announcement row says, from the state as it is now."""
        ids = {_announcement_id(r.key) for r in rows}
        with unit_of_work(self._engine, write=False) as session:
            anns = {a.id: a for a in announce_repo.by_ids(session=session, ids=sorted(ids))}
            releases = {
                a.release_id: repo.get_release(session=session, release_id=a.release_id)
                for a in anns.values()
            }
            views = {rid: load_release_view(session=session, release=r) for rid, r in releases.items() if r}
        result: dict[int, Outgoing | None] = {}
        for row in rows:
            ann = anns.get(_announcement_id(row.key))
            release = releases.get(ann.release_id) if ann else None
            result[row.id or 0] = self._content(
                row, ann, release, views.get(ann.release_id) if ann else None, now
            )
        return result

    def sent(self, row: Delivery, posted: Posted) -> None:
        """A post reached its channel: the announcement is posted (and users were told, for upcoming)."""
        if row.kind == POST:
            self._mark_posted(_announcement_id(row.key), posted.channel, posted.ts, self._clock.now())

    # ---- internals: planning --------------------------------------------------------------------------

    def _due_rows(
        self,
        ann: Announcement,
        release: Release,
        roles: dict[str, list[str]],
        now: datetime,
        changes: list[tuple[Announcement, Release, str]],
    ) -> list[dict[str, Any]]:
        kind, state = AnnouncementKind(ann.kind), AnnouncementState(ann.state)
        if kind is AnnouncementKind.UPCOMING and release.launch_at <= now:
            changes.append((ann, release, "late"))
            return []
        lead = lead_of(release)
        rows: list[dict[str, Any]] = []
        if state is AnnouncementState.PLANNED and not release.auto_approve and now >= ann.post_at - lead:
            approvers = roles["comms"] or roles["manager"]
            rows.extend(_row(release, ann, DRAFT, user, now, f".{ann.version}") for user in approvers)
        # Go-live waits for the launch itself, whatever the clock says.
        gate_open = kind is not AnnouncementKind.GO_LIVE or release.state == ReleaseState.LAUNCHED.value
        if ann.post_at > now or not gate_open:
            return rows
        if state is AnnouncementState.APPROVED:
            rows.append(_row(release, ann, POST, channel_of(ann, release), now, ""))
        elif state is AnnouncementState.PLANNED and release.auto_approve:
            changes.append((ann, release, "auto"))
        elif state is AnnouncementState.PLANNED and not kind.on_event and ann.note != ON_APPROVAL:
            changes.append((ann, release, "hold"))
        return rows

    def _apply_due_change(
        self,
        session: Session,
        ann: Announcement,
        release: Release,
        roles: dict[str, list[str]],
        change: str,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Hold, auto-approve or retire one announcement, if no one changed it since it was read."""
        fresh = announce_repo.get_announcement(session=session, announcement_id=ann.id or 0, for_update=True)
        if fresh is None or fresh.state != ann.state or fresh.version != ann.version:
            return []
        system = _system_event(release, now)
        if change == "late":
            self._end(fresh, AnnouncementState.WITHDRAWN, now, "launch came before it was posted")
            session.add(fresh)
            session.add(system(f"withdraw {fresh.kind}", fresh.state, "launch came before it was posted"))
            return []
        if change == "auto":
            fresh.state, fresh.approved_by, fresh.approved_at = AnnouncementState.APPROVED.value, "auto", now
            fresh.updated_at = now
            session.add(fresh)
            session.add(system(f"approve {fresh.kind}", "approved", "auto-approval is on"))
            return [_row(release, fresh, POST, channel_of(fresh, release), now, "")]
        fresh.state, fresh.note, fresh.updated_at = (
            AnnouncementState.HELD.value,
            "its time came without approval",
            now,
        )
        session.add(fresh)
        session.add(system(f"hold {fresh.kind}", "held", "its time came without approval"))
        return [_row(release, fresh, HELD, user, now, f".{fresh.version}") for user in roles["manager"]]

    def _mark_posted(self, announcement_id: int, channel: str, ts: str, now: datetime) -> None:
        with unit_of_work(self._engine) as session:
            ann = announce_repo.get_announcement(
                session=session, announcement_id=announcement_id, for_update=True
            )
            if ann is None or ann.state != AnnouncementState.APPROVED.value:
                return
            release = repo.get_release(session=session, release_id=ann.release_id)
            assert release is not None
            ann.state, ann.posted_channel, ann.posted_ts, ann.updated_at = "posted", channel, ts, now
            session.add(ann)
            session.add(_system_event(release, now)(f"post {ann.kind}", "posted", f"<#{channel}> {ts}"))
            if ann.kind == AnnouncementKind.UPCOMING.value:
                self._complete_item(
                    session,
                    release,
                    TELL_USERS_ITEM,
                    ann.approved_by or "scheduler",
                    now,
                    "upcoming release announced",
                )
        self._cards.request(ann.release_id)

    # ---- internals: content ---------------------------------------------------------------------------

    def _content(
        self,
        row: Delivery,
        ann: Announcement | None,
        release: Release | None,
        view: ReleaseView | None,
        now: datetime,
    ) -> Outgoing | None:
        if ann is None or release is None or view is None:
            return None
        version = _announcement_version(row.key)
        if row.kind in (DRAFT, HELD):
            wanted = AnnouncementState.PLANNED if row.kind == DRAFT else AnnouncementState.HELD
            if ann.state != wanted.value or ann.version != version:
                return None
            text, problem = self._text(release, view, ann)
            return AnnouncementDraft(
                row.recipient, view, self._view(ann, release), text, problem, row.kind == HELD, now
            )
        if ann.state != AnnouncementState.APPROVED.value:
            return None
        text, problem = self._text(release, view, ann)
        if problem:
            # Never post a broken text: hold it, and the managers hear why with the buttons to fix it.
            self._hold_broken(ann, release, problem, now)
            return None
        return AnnouncementPost(view, self._view(ann, release), text, now)

    def _hold_broken(self, ann: Announcement, release: Release, problem: str, now: datetime) -> None:
        with unit_of_work(self._engine) as session:
            fresh = announce_repo.get_announcement(
                session=session, announcement_id=ann.id or 0, for_update=True
            )
            if fresh is None or fresh.state != AnnouncementState.APPROVED.value:
                return
            fresh.state, fresh.note, fresh.updated_at = AnnouncementState.HELD.value, problem[:500], now
            fresh.version += 1
            session.add(fresh)
            session.add(_system_event(release, now)(f"hold {fresh.kind}", "held", problem[:200]))
            managers = repo.roles_of(session=session, release_id=release.id or 0)
            rows = [_row(release, fresh, HELD, user, now, f".{fresh.version}") for user in managers]
            delivery_repo.insert_planned(session=session, rows=rows)


def lead_of(release: Release) -> timedelta:
    """How long before an announcement is due its draft goes out."""
    return (
        DEFAULT_LEAD
        if release.announce_lead_seconds is None
        else timedelta(seconds=release.announce_lead_seconds)
    )


def channel_of(ann: Announcement, release: Release) -> str:
    """Where an announcement is posted."""
    return ann.channel_id or release.announce_channel or release.channel_id


def _row(
    release: Release, ann: Announcement, kind: str, recipient: str, now: datetime, suffix: str
) -> dict[str, Any]:
    slot = min(now, ann.post_at) if kind == POST else now
    return {
        "key": f"{release.id}:{kind}:{recipient}:{ann.id}{suffix}",
        "release_id": release.id,
        "kind": kind,
        "recipient": recipient,
        "slot": slot,
        # Drafts and notices stay useful until the post is due and a day after; posts until they happen.
        "expires_at": max(ann.post_at, now) + timedelta(days=1),
        "item_ids": "",
        "state": delivery_repo.PENDING,
        "attempts": 0,
        "unknown_outcome": False,
        "created_at": now,
        "updated_at": now,
    }


def shown_row(
    release: Release, ann: Announcement, kind: str, recipient: str, now: datetime, shown_in: tuple[str, str]
) -> dict[str, Any]:
    """A draft row recorded as already sent: the person's DM was updated in place to show this version."""
    channel, ts = shown_in
    return {
        **_row(release, ann, kind, recipient, now, f".{ann.version}"),
        "state": delivery_repo.SENT,
        "channel_id": channel,
        "message_ts": ts,
    }


def _announcement_id(key: str) -> int:
    return int(key.rsplit(":", 1)[1].split(".")[0])


def _announcement_version(key: str) -> int | None:
    tail = key.rsplit(":", 1)[1]
    return int(tail.split(".")[1]) if "." in tail else None


def _roles_of(session: Session, release_ids: set[int]) -> dict[int, dict[str, list[str]]]:
    roles: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"manager": [], "decider": [], "comms": []})
    stmt = (
        select(ReleaseRole)
        .where(col(ReleaseRole.release_id).in_(sorted(release_ids)))
        .order_by(col(ReleaseRole.id))
    )
    for row in session.exec(stmt):
        roles[row.release_id].setdefault(row.role, []).append(row.user_id)
    return roles


def _posted(session: Session, approved: list[tuple[Announcement, Release]]) -> dict[int, Delivery]:
    """Approved announcements whose post already went out (a crash came between post and record)."""
    keys = {f"{r.id}:{POST}:{channel_of(a, r)}:{a.id}": a.id or 0 for a, r in approved}
    if not keys:
        return {}
    stmt = select(Delivery).where(
        col(Delivery.key).in_(list(keys)), col(Delivery.state) == delivery_repo.SENT
    )
    return {keys[row.key]: row for row in session.exec(stmt)}


def _system_event(release: Release, now: datetime) -> Callable[[str, str | None, str | None], AuditEvent]:
    def event(action: str, after: str | None, detail: str | None) -> AuditEvent:
        return AuditEvent(
            release_id=release.id,
            actor="scheduler",
            action=action,
            source=AuditSource.SCHEDULER.value,
            outcome="applied",
            after=after,
            detail=detail,
            at=now,
        )

    return event
