"""What every use case shares: finding the release and item a request means, roles, refusals, audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.domain import permissions
from bot.domain.errors import Conflict, NotFound, PermissionDenied
from bot.domain.lookup import resolve_item, resolve_release
from bot.domain.model import AuditOutcome, OwnerKind, ReleaseState, ReleaseView
from bot.domain.permissions import Action, Role
from bot.domain.text import escape_mrkdwn, name_key
from bot.ports import CardSyncRequests, Clock, Directory
from bot.services.context import RequestContext
from bot.services.people import People
from bot.services.views import ViewCache
from storage import announce_repo, repo
from storage.db import unit_of_work
from storage.tables import AuditEvent, ChecklistItem, ItemOwner, Release


@dataclass(slots=True)
class Target:
    """A release (and maybe one item) a request is about, as read in its own transaction."""

    release: Release
    view: ReleaseView
    item: ChecklistItem | None = None
    owners: list[ItemOwner] | None = None


@dataclass(frozen=True, slots=True)
class Deps:
    """The collaborators every service needs."""

    engine: Engine
    directory: Directory
    cards: CardSyncRequests
    clock: Clock
    people: People
    admins: frozenset[str] = frozenset()
    views: ViewCache = field(default_factory=ViewCache)


class ServiceBase:
    """Lookups, permission checks and audit rows, the same for commands, reactions, buttons and modals."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._engine = deps.engine
        self._directory = deps.directory
        self._cards = deps.cards
        self._clock = deps.clock
        self.people = deps.people

    # ---- finding what the request means ----------------------------------------------------------

    def _resolve(
        self,
        session: Session,
        ctx: RequestContext,
        release_ref: str | None,
        item_ref: str | None = None,
        *,
        need_active: bool = False,
    ) -> Target:
        """Find the release (and item) named in a command, with a clear error when it can't."""
        candidates = repo.active_releases_in_channel(session=session, channel_id=ctx.channel_id)
        if release_ref is not None and not _any_named(candidates, release_ref):
            # Named explicitly but not active here: look across channels, including closed releases, but
            # only those the person could read anyway (a private channel's release stays private).
            elsewhere = _named_elsewhere(session, release_ref, need_active)
            candidates = candidates + [r for r in elsewhere if self._may_see(ctx, r.channel_id)]
        release = resolve_release(release_ref, candidates)
        _check_active(release, need_active)
        view = self._deps.views.load(session=session, release=release)
        if item_ref is None:
            return Target(release, view)
        chosen = resolve_item(item_ref, view.items, release_name=release.name)
        # The view (often cached) named the item; only its own row and owners are read, whatever the size.
        row = repo.get_item(session=session, item_id=chosen.id)
        if row is None:
            raise Conflict("That item changed while you were asking; please try again.")
        return Target(release, view, row, repo.owners_of_item(session=session, item_id=row.id or 0))

    def _target_of_item(self, session: Session, item_id: int, *, need_active: bool = True) -> Target:
        """The release and item behind a button or modal, which name the item by id."""
        found = repo.item_with_release(session=session, item_id=item_id)
        if found is None:
            raise NotFound("That checklist item no longer exists.")
        release, item = found
        _check_active(release, need_active)
        view = self._deps.views.load(session=session, release=release)
        return Target(release, view, item, repo.owners_of_item(session=session, item_id=item_id))

    def _may_see(self, ctx: RequestContext, channel_id: str) -> bool:
        """Whether the person can read a channel: this one, a public one, or a private one they are in."""
        if channel_id == ctx.channel_id:
            return True
        channel = self._directory.channel(channel_id)
        if channel is None:
            return False
        return not channel.is_private or self._directory.is_member(channel_id, ctx.user_id)

    # ---- who may ---------------------------------------------------------------------------------

    def _owner_ids(self, ctx: RequestContext, owners: Sequence[ItemOwner]) -> set[str]:
        """Owner user ids, plus the actor when they belong to an owning user group."""
        ids = {o.slack_id for o in owners if o.kind == OwnerKind.USER.value}
        groups = [o.slack_id for o in owners if o.kind == OwnerKind.GROUP.value]
        for group in groups:
            if ctx.user_id not in ids and ctx.user_id in (self._directory.usergroup_members(group) or []):
                ids.add(ctx.user_id)
        return ids

    def _roles(self, ctx: RequestContext, target: Target) -> frozenset[Role]:
        return permissions.roles_of(
            ctx.actor,
            managers=target.view.managers,
            owners=self._owner_ids(ctx, target.owners or []),
            admins=self._deps.admins,
            home_team=ctx.home_team,
        )

    def _require(self, ctx: RequestContext, target: Target, action: Action, verb: str) -> frozenset[Role]:
        roles = self._roles(ctx, target)
        if not permissions.allowed(action, roles):
            self._deny(ctx, target, action, verb)
        return roles

    def _target_with_roles(
        self, ctx: RequestContext, release_ref: str | None, release_id: int | None = None
    ) -> tuple[Target, dict[str, list[str]]]:
        """The release a command names (or a button's id names) and every role held in it."""
        with unit_of_work(self._engine, write=False) as session:
            if release_id is not None:
                release = repo.get_release(session=session, release_id=release_id)
                if release is None:
                    raise NotFound("That release no longer exists.")
                target = Target(release, self._deps.views.load(session=session, release=release))
            else:
                target = self._resolve(session, ctx, release_ref)
            roles = announce_repo.roles_by_kind(session=session, release_id=target.release.id or 0)
        return target, roles

    def _require_roles(
        self, ctx: RequestContext, target: Target, action: Action, verb: str, roles: dict[str, list[str]]
    ) -> None:
        """Permission with every role of the release (`storage.announce_repo.roles_by_kind`): deciders and
        comms owners count too, as actions such as voting and approving announcements need."""
        held = permissions.roles_of(
            ctx.actor,
            managers=roles["manager"],
            admins=self._deps.admins,
            home_team=ctx.home_team,
            deciders=roles["decider"],
            comms=roles["comms"],
        )
        if not permissions.allowed(action, held):
            self._deny(ctx, target, action, verb)

    def _deny(self, ctx: RequestContext, target: Target, action: Action, verb: str) -> None:
        """Record the refusal (once per Slack event), then say who may do it instead."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = ctx.event_id is None or repo.record_event(session=session, event_id=ctx.event_id, now=now)
            if fresh:
                state = target.item.state if target.item else target.release.state
                self._audit(
                    session,
                    ctx,
                    target.release,
                    target.item,
                    verb,
                    state,
                    state,
                    now,
                    outcome=AuditOutcome.DENIED,
                )
        raise PermissionDenied(refusal(action, verb, target))

    def _locked_release(self, session: Session, release: Release, *, active: bool = False) -> Release:
        """The release again, row-locked for this write; `active` refuses one that takes no changes."""
        fresh = repo.get_release(session=session, release_id=release.id or 0, for_update=True)
        if fresh is None:
            raise NotFound("That release no longer exists.")
        _check_active(fresh, active)
        return fresh

    # ---- audit -----------------------------------------------------------------------------------

    def _audit(
        self,
        session: Session,
        ctx: RequestContext,
        release: Release,
        item: ChecklistItem | None,
        action: str,
        before: str | None,
        after: str | None,
        now: datetime,
        detail: str | None = None,
        *,
        outcome: AuditOutcome = AuditOutcome.APPLIED,
    ) -> None:
        event = audit_event(
            ctx,
            action,
            before,
            after,
            now,
            detail,
            outcome=outcome,
            release_id=release.id,
            item_id=item.id if item else None,
        )
        repo.add_audit(session=session, event=event)


def audit_event(
    ctx: RequestContext,
    action: str,
    before: str | None,
    after: str | None,
    now: datetime,
    detail: str | None = None,
    *,
    outcome: AuditOutcome = AuditOutcome.APPLIED,
    release_id: int | None = None,
    item_id: int | None = None,
) -> AuditEvent:
    """One audit row of what a person (or the scheduler on their behalf) did, as the request carried it."""
    return AuditEvent(
        release_id=release_id,
        item_id=item_id,
        actor=ctx.user_id,
        action=action,
        source=ctx.source.value,
        outcome=outcome.value,
        before=before,
        after=after,
        detail=detail,
        event_id=ctx.event_id,
        at=now,
    )


def refusal(action: Action, verb: str, target: Target) -> str:
    """Who may do what was refused, in words the person can act on."""
    what = escape_mrkdwn(target.item.title if target.item else target.release.name)
    managers = ", ".join(f"<@{m}>" for m in target.view.managers) or "no one yet"
    owners = ", ".join(
        f"<!subteam^{o.slack_id}>" if o.kind == OwnerKind.GROUP.value else f"<@{o.slack_id}>"
        for o in target.owners or []
    )
    line = f"Only {permissions.who_may(action)} can {permissions.ACTION_WORDS[action]} {what}."
    if owners and Role.OWNER in permissions.POLICY[action]:
        line += f" Owners: {owners}."
    return line + f" Managers of {escape_mrkdwn(target.release.name)}: {managers}."


def _check_active(release: Release, need_active: bool) -> None:
    if need_active and not ReleaseState(release.state).is_active:
        raise Conflict(
            f"{escape_mrkdwn(release.name)} is {release.state.replace('_', ' ')}; it takes no changes."
        )


def _any_named(releases: Sequence[Release], ref: str) -> bool:
    key = name_key(ref)
    return any(r.name_key == key or r.name_key.startswith(key) for r in releases)


def _named_elsewhere(session: Session, ref: str, need_active: bool) -> list[Release]:
    key = name_key(ref)
    stmt = select(Release).where(col(Release.name_key).startswith(key, autoescape=True))
    if need_active:
        stmt = stmt.where(col(Release.state).in_([s.value for s in ReleaseState if s.is_active]))
    return list(session.exec(stmt.order_by(col(Release.launch_at).desc()).limit(10)))
