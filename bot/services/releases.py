"""Release use cases: create, inspect and change releases and their items. One unit of work per call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain import permissions
from bot.domain.checklists import TemplateLibrary
from bot.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.domain.lookup import resolve_item, resolve_release
from bot.domain.model import AuditOutcome, ItemState, Owner, OwnerKind, ReleaseState, ReleaseView
from bot.domain.notes import reschedule_note
from bot.domain.permissions import Action, Role
from bot.domain.schedule import Due, due_at, reflow
from bot.domain.text import escape_mrkdwn, name_key
from bot.domain.transitions import RULES, Move, next_state
from bot.domain.when import WhenSpec, ensure_future, resolve_when
from bot.ports import CardSyncRequests, Clock, Directory
from bot.services.context import RequestContext
from bot.services.people import People
from bot.services.views import load_release_view, release_view
from storage import repo
from storage.db import unit_of_work
from storage.tables import AuditEvent, ChecklistItem, ItemOwner, Release

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "go-live"
_CAS_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ItemChange:
    """What a command did to one item, for the reply."""

    release: ReleaseView
    position: int
    title: str
    before: ItemState
    after: ItemState
    changed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OwnersChange:
    """Owners added to or removed from an item."""

    release: ReleaseView
    position: int
    title: str
    added: tuple[Owner, ...]
    removed: tuple[Owner, ...]
    unchanged: tuple[Owner, ...]


@dataclass(frozen=True, slots=True)
class Rescheduled:
    """A release moved: the old and new launch and how many items moved or became overdue."""

    release: ReleaseView
    old_launch: datetime
    moved: int
    newly_overdue: int


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit row as `/release log` shows it."""

    at: datetime
    actor: str
    action: str
    source: str
    outcome: str
    item_title: str | None
    before: str | None
    after: str | None
    detail: str | None


@dataclass(slots=True)
class _Target:
    """A release (and maybe one item) resolved from the request, read in its own transaction."""

    release: Release
    view: ReleaseView
    item: ChecklistItem | None = None
    owners: list[ItemOwner] | None = None


class ReleaseService:
    """Everything `/release` can do to releases and items."""

    def __init__(
        self,
        *,
        engine: Engine,
        templates: TemplateLibrary,
        directory: Directory,
        cards: CardSyncRequests,
        clock: Clock,
        default_tz: str,
        admins: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self._templates = templates
        self._directory = directory
        self._cards = cards
        self._clock = clock
        self._admins = frozenset(admins)
        self.people = People(engine=engine, directory=directory, clock=clock, default_tz=default_tz)

    # ---- creating and reading -------------------------------------------------------------------

    def create(
        self, ctx: RequestContext, *, name: str, when: WhenSpec, channel_id: str | None, template: str | None
    ) -> ReleaseView:
        """Create a release from a checklist template; the issuer becomes its manager."""
        channel = channel_id or ctx.channel_id
        self._require_postable(channel)
        checklist = self._templates.get(template or DEFAULT_TEMPLATE)
        tz = self.people.timezone_of(ctx.user_id)
        now = self._clock.now()
        launch_at = resolve_when(when, now=now, tz=tz)
        ensure_future(launch_at, now, tz=tz)
        key = name_key(name)
        try:
            with unit_of_work(self._engine) as session:
                self._require_free_name(session, channel, key, name)
                release = Release(
                    name=name,
                    name_key=key,
                    channel_id=channel,
                    launch_at=launch_at,
                    timezone=tz,
                    template=checklist.name,
                    created_by=ctx.user_id,
                    created_at=now,
                    updated_at=now,
                )
                items = [
                    ChecklistItem(
                        release_id=0,
                        position=position,
                        key=spec.key,
                        section=spec.section,
                        title=spec.title,
                        description=spec.description,
                        offset_seconds=int(spec.offset.total_seconds()),
                        due_at=due_at(launch_at, spec.offset, tz),
                        evidence_required=spec.evidence_required,
                        role=spec.role,
                        sign_off_rule=spec.sign_off.value,
                        updated_at=now,
                    )
                    for position, spec in enumerate(checklist.items, start=1)
                ]
                repo.add_release(session=session, release=release, managers=[ctx.user_id], items=items)
                self._audit(session, ctx, release, None, "create", None, ReleaseState.PLANNING.value, now)
                view = release_view(release, items, {}, [ctx.user_id])
        except IntegrityError:
            # Another request took the name between our check and our insert.
            raise self._name_taken(name) from None
        self._cards.request(view.id)
        return view

    def list_releases(self, ctx: RequestContext) -> list[ReleaseView]:
        """Releases in the requester's channel, active ones first."""
        with unit_of_work(self._engine, write=False) as session:
            rows = repo.releases_in_channel(session=session, channel_id=ctx.channel_id)
            return [release_view(r, [], {}, []) for r in rows]

    def status(self, ctx: RequestContext, release_ref: str | None) -> ReleaseView:
        """The full read model of one release."""
        with unit_of_work(self._engine, write=False) as session:
            return self._resolve(session, ctx, release_ref).view

    def audit_log(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str | None
    ) -> list[AuditLine]:
        """Recent audit rows of a release, or of one of its items."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, item_ref)
            assert target.release.id is not None
            item_id = target.item.id if target.item else None
            rows = repo.recent_audit(session=session, release_id=target.release.id, item_id=item_id)
            titles = {i.position: i.title for i in target.view.items}
            items = repo.items_of(session=session, release_id=target.release.id) if item_id is None else []
            by_id = {i.id: titles.get(i.position) for i in items}
            if target.item is not None:
                by_id[target.item.id] = target.item.title
            return [
                AuditLine(
                    r.at,
                    r.actor,
                    r.action,
                    r.source,
                    r.outcome,
                    by_id.get(r.item_id),
                    r.before,
                    r.after,
                    r.detail,
                )
                for r in rows
            ]

    # ---- changing items -------------------------------------------------------------------------

    def assign(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, owners: Sequence[Owner]
    ) -> OwnersChange:
        """Add owners (people or user groups) to an item; managers only."""
        self._validate_owners(owners)
        return self._change_owners(ctx, release_ref, item_ref, owners, add=True)

    def unassign(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, owners: Sequence[Owner]
    ) -> OwnersChange:
        """Remove owners from an item; managers only."""
        return self._change_owners(ctx, release_ref, item_ref, owners, add=False)

    def transition(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, move: Move, note: str | None = None
    ) -> ItemChange:
        """Move an item through its states (start, done, undo, n/a, block, waive)."""
        for _attempt in range(_CAS_ATTEMPTS):
            with unit_of_work(self._engine, write=False) as session:
                target = self._resolve(session, ctx, release_ref, item_ref, need_active=True)
            item, release = target.item, target.release
            assert item is not None and item.id is not None and release.id is not None
            rule = RULES[move]
            roles = self._roles(ctx, target)
            if not permissions.allowed(rule.action, roles):
                self._deny(ctx, target, rule.action, f"{move.value}")
            before = ItemState(item.state)
            after = next_state(move, before, title=escape_mrkdwn(item.title))
            if after is None:
                return self._noop(ctx, target, move, before)
            values = self._transition_values(move, item, after, ctx, note)
            now = self._clock.now()
            with unit_of_work(self._engine) as session:
                if not _compare_and_set(session, item.id, before, values, now):
                    continue  # someone else changed it first: re-read and decide again
                self._audit(session, ctx, release, item, move.value, before.value, after.value, now, note)
                repo.touch_card(session=session, release_id=release.id, now=now)
                view = load_release_view(session=session, release=release)
            self._cards.request(release.id)
            return ItemChange(view, item.position, item.title, before, after, True, note or "")
        raise Conflict("That item is changing quickly right now; please try again.")

    # ---- changing releases ----------------------------------------------------------------------

    def reschedule(self, ctx: RequestContext, release_ref: str | None, when: WhenSpec) -> Rescheduled:
        """Move the launch; every item's due date re-flows from its offset."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, need_active=True)
        self._require(ctx, target, Action.RESCHEDULE, "reschedule")
        release = target.release
        assert release.id is not None
        now = self._clock.now()
        tz = self.people.timezone_of(ctx.user_id)
        new_launch = resolve_when(when, now=now, tz=tz)
        ensure_future(new_launch, now, tz=tz)
        if new_launch == release.launch_at:
            raise InvalidInput(f"{escape_mrkdwn(release.name)} already launches then; nothing to move.")
        with unit_of_work(self._engine) as session:
            fresh = repo.get_release(session=session, release_id=release.id, for_update=True)
            if (
                fresh is None
                or fresh.launch_at != release.launch_at
                or not ReleaseState(fresh.state).is_active
            ):
                raise Conflict("The release changed while you were rescheduling it; please try again.")
            items = repo.items_of(session=session, release_id=release.id)
            dues = [Due(i.key, _offset(i), i.due_at, ItemState(i.state).is_closed) for i in items]
            moves = reflow(dues, release.launch_at, new_launch, release.timezone, now)
            by_key = {m.key: m for m in moves}
            for item in items:
                if item.key in by_key:
                    item.due_at = by_key[item.key].new_due_at
                    item.version += 1
                    item.updated_at = now
                    session.add(item)
            old_launch = fresh.launch_at
            fresh.launch_at = new_launch
            fresh.card_version += 1
            fresh.updated_at = now
            session.add(fresh)
            self._audit(
                session, ctx, fresh, None, "reschedule", old_launch.isoformat(), new_launch.isoformat(), now
            )
            titles = {i.key: (i.position, i.title) for i in items}
            repo.add_card_note(
                session=session,
                release_id=release.id,
                text=reschedule_note(ctx.user_id, old_launch, new_launch, moves, titles),
                now=now,
            )
            view = load_release_view(session=session, release=fresh)
        self._cards.request(release.id)
        overdue = sum(1 for m in moves if m.became_overdue)
        return Rescheduled(view, old_launch, len(moves), overdue)

    def cancel(self, ctx: RequestContext, release_ref: str | None) -> ReleaseView:
        """Cancel an active release; its card says so and it frees its name."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, need_active=True)
        self._require(ctx, target, Action.CANCEL, "cancel")
        release = target.release
        assert release.id is not None
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = repo.get_release(session=session, release_id=release.id, for_update=True)
            if fresh is None or not ReleaseState(fresh.state).is_active:
                raise Conflict(f"{escape_mrkdwn(release.name)} is no longer active.")
            before = fresh.state
            fresh.state = ReleaseState.CANCELLED.value
            fresh.card_version += 1
            fresh.updated_at = now
            session.add(fresh)
            self._audit(session, ctx, fresh, None, "cancel", before, fresh.state, now)
            view = load_release_view(session=session, release=fresh)
        self._cards.request(release.id)
        return view

    # ---- helpers --------------------------------------------------------------------------------

    def _change_owners(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        item_ref: str,
        owners: Sequence[Owner],
        *,
        add: bool,
    ) -> OwnersChange:
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, item_ref, need_active=True)
        action = Action.ASSIGN if add else Action.UNASSIGN
        self._require(ctx, target, action, action.value)
        item, release = target.item, target.release
        assert item is not None and item.id is not None and release.id is not None
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            current_rows = repo.owners_of(session=session, release_id=release.id).get(item.id, [])
            current = {(o.kind, o.slack_id) for o in current_rows}
            wanted = [(o.kind.value, o.slack_id) for o in owners]
            if add:
                changed = [w for w in wanted if w not in current]
                repo.add_owners(session=session, item_id=item.id, owners=changed)
            else:
                changed = [w for w in wanted if w in current]
                repo.remove_owners(session=session, item_id=item.id, owners=changed)
            if changed:
                names = " ".join(Owner(OwnerKind(k), s).mention for k, s in changed)
                verb = "assign" if add else "unassign"
                self._audit(session, ctx, release, item, verb, None, None, now, names)
                repo.touch_items(session=session, item_ids=[item.id], now=now)
                repo.touch_card(session=session, release_id=release.id, now=now)
            view = load_release_view(session=session, release=release)
        if changed:
            self._cards.request(release.id)
        changed_set = set(changed)
        done = tuple(o for o in owners if (o.kind.value, o.slack_id) in changed_set)
        unchanged = tuple(o for o in owners if (o.kind.value, o.slack_id) not in changed_set)
        return OwnersChange(
            view, item.position, item.title, done if add else (), () if add else done, unchanged
        )

    def _validate_owners(self, owners: Sequence[Owner]) -> None:
        """Every owner must be an active person or an existing user group."""
        for owner in owners:
            if owner.kind is OwnerKind.GROUP:
                if self._directory.usergroup_members(owner.slack_id) is None:
                    raise NotFound(f"I couldn't find the user group {owner.mention} in this workspace.")
            else:
                self.people.require_active(owner.slack_id)

    def _require_postable(self, channel_id: str) -> None:
        channel = self._directory.channel(channel_id)
        if channel is None:
            raise NotFound(
                f"I can't see <#{channel_id}>. If it's private, invite me there first "
                "with `/invite @Release Captain`."
            )
        if channel.is_archived:
            raise Conflict(f"<#{channel_id}> is archived; pick an active channel for the release.")
        if not channel.is_member:
            raise Conflict(
                f"I'm not in <#{channel_id}> yet, so I can't post the release card there. "
                "Invite me with `/invite @Release Captain` in that channel and try again."
            )

    def _require_free_name(self, session: Session, channel: str, key: str, name: str) -> None:
        if repo.active_name_taken(session=session, channel_id=channel, name_key=key):
            raise self._name_taken(name)

    @staticmethod
    def _name_taken(name: str) -> Conflict:
        return Conflict(
            f"There is already an active release called {escape_mrkdwn(name)} in this channel. "
            "Pick another name, or cancel the old one with `/release cancel`."
        )

    def _resolve(
        self,
        session: Session,
        ctx: RequestContext,
        release_ref: str | None,
        item_ref: str | None = None,
        *,
        need_active: bool = False,
    ) -> _Target:
        """Find the release (and item) the request means, with a clear error when it can't."""
        candidates = repo.active_releases_in_channel(session=session, channel_id=ctx.channel_id)
        if release_ref is not None and not _any_named(candidates, release_ref):
            # Named explicitly but not active here: look across channels, including closed releases.
            candidates = candidates + _named_elsewhere(session, release_ref, need_active)
        release = resolve_release(release_ref, candidates)
        if need_active and not ReleaseState(release.state).is_active:
            raise Conflict(
                f"{escape_mrkdwn(release.name)} is {release.state.replace('_', ' ')}; it takes no changes."
            )
        view = load_release_view(session=session, release=release)
        if item_ref is None:
            return _Target(release, view)
        chosen = resolve_item(item_ref, view.items, release_name=release.name)
        items = repo.items_of(session=session, release_id=release.id or 0)
        row = next(i for i in items if i.position == chosen.position)
        owners = repo.owners_of(session=session, release_id=release.id or 0).get(row.id or 0, [])
        return _Target(release, view, row, owners)

    def _roles(self, ctx: RequestContext, target: _Target) -> frozenset[Role]:
        owners: set[str] = set()
        for owner in target.owners or []:
            if owner.kind == OwnerKind.USER.value:
                owners.add(owner.slack_id)
            elif ctx.user_id in (self._directory.usergroup_members(owner.slack_id) or []):
                owners.add(ctx.user_id)
        return permissions.roles_of(
            ctx.actor, managers=target.view.managers, owners=owners, admins=self._admins
        )

    def _require(self, ctx: RequestContext, target: _Target, action: Action, verb: str) -> None:
        if not permissions.allowed(action, self._roles(ctx, target)):
            self._deny(ctx, target, action, verb)

    def _deny(self, ctx: RequestContext, target: _Target, action: Action, verb: str) -> None:
        """Record the refusal, then tell the person who may do it instead."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
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
        what = escape_mrkdwn(target.item.title if target.item else target.release.name)
        managers = ", ".join(f"<@{m}>" for m in target.view.managers) or "no one yet"
        raise PermissionDenied(
            f"Only {permissions.who_may(action)} can {verb.replace('_', ' ')} {what}. "
            f"Managers of {escape_mrkdwn(target.release.name)}: {managers}."
        )

    def _noop(self, ctx: RequestContext, target: _Target, move: Move, state: ItemState) -> ItemChange:
        item = target.item
        assert item is not None
        with unit_of_work(self._engine) as session:
            self._audit(
                session,
                ctx,
                target.release,
                item,
                move.value,
                state.value,
                state.value,
                self._clock.now(),
                outcome=AuditOutcome.NOOP,
            )
        return ItemChange(target.view, item.position, item.title, state, state, False)

    def _transition_values(
        self, move: Move, item: ChecklistItem, after: ItemState, ctx: RequestContext, note: str | None
    ) -> dict[str, object]:
        """Column values for the new state, checking what the move needs (a reason, evidence)."""
        title = escape_mrkdwn(item.title)
        values: dict[str, object] = {"state": after.value}
        if move in (Move.BLOCK, Move.WAIVE):
            if not note:
                raise InvalidInput(f"Say why: `/release {move.value} {item.position} <reason>`.")
            values["reason"] = note
        elif move is Move.DONE:
            if item.evidence_required and not (note or item.evidence):
                raise InvalidInput(
                    f"{title} needs evidence before it is done (a link, a ticket or a backup id): "
                    f"`/release done {item.position} <evidence>`."
                )
            values.update(
                evidence=note or item.evidence, signed_off_by=ctx.user_id, signed_off_at=self._clock.now()
            )
        elif move is Move.UNDO:
            values.update(reason=None, signed_off_by=None, signed_off_at=None)
        elif move is Move.NOT_APPLICABLE:
            values["reason"] = note
        elif move is Move.START and item.state == ItemState.BLOCKED.value:
            values["reason"] = None
        return values

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
        repo.add_audit(
            session=session,
            event=AuditEvent(
                release_id=release.id,
                item_id=item.id if item else None,
                actor=ctx.user_id,
                action=action,
                source=ctx.source.value,
                outcome=outcome.value,
                before=before,
                after=after,
                detail=detail,
                event_id=ctx.event_id,
                at=now,
            ),
        )


def _compare_and_set(
    session: Session, item_id: int, expected: ItemState, values: dict[str, object], now: datetime
) -> bool:
    """Apply the new state only if the item is still in the state we decided from."""
    result = session.exec(  # type: ignore[call-overload]
        update(ChecklistItem)
        .where(col(ChecklistItem.id) == item_id, col(ChecklistItem.state) == expected.value)
        .values(**values, version=ChecklistItem.version + 1, updated_at=now)
    )
    return (result.rowcount or 0) == 1


def _offset(item: ChecklistItem) -> timedelta:
    return timedelta(seconds=item.offset_seconds)


def _any_named(releases: Sequence[Release], ref: str) -> bool:
    key = name_key(ref)
    return any(r.name_key == key or r.name_key.startswith(key) for r in releases)


def _named_elsewhere(session: Session, ref: str, need_active: bool) -> list[Release]:
    key = name_key(ref)
    stmt = select(Release).where(col(Release.name_key).startswith(key, autoescape=True))
    if need_active:
        stmt = stmt.where(col(Release.state).in_([s.value for s in ReleaseState if s.is_active]))
    return list(session.exec(stmt.order_by(col(Release.launch_at).desc()).limit(10)))
