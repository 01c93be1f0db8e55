"""Release use cases: create, inspect and change releases and their items. One unit of work per call."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.domain.checklists import TemplateLibrary
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.model import ItemState, ItemTemplate, ReleaseState, ReleaseView, ReminderDefaults
from bot.domain.notes import reschedule_note
from bot.domain.permissions import Action
from bot.domain.schedule import Due, due_at, reflow
from bot.domain.text import escape_mrkdwn, name_key
from bot.domain.timing import (
    before_launch,
    format_offsets,
    parse_overdue,
    parse_summary_offsets,
    parse_working_days,
)
from bot.domain.when import WhenSpec, ensure_future, resolve_when
from bot.services.announce_schedule import KINDS as ANNOUNCEMENT_KINDS
from bot.services.announcements import AnnouncementService
from bot.services.base import Deps, ServiceBase
from bot.services.context import RequestContext
from bot.services.results import AuditLine, Rescheduled
from bot.services.views import load_release_view, release_view
from storage import announce_repo, delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import ChecklistItem, Release, ReleaseRole

log = logging.getLogger(__name__)

# Sends a reschedule must not cancel: announcement posts are keyed once per announcement and re-timed
# instead, and a decision already made is still news.
KEEP_ON_MOVE = (*sorted(ANNOUNCEMENT_KINDS), "decision")
# Settings a release made `like` an earlier one takes from it.
_COPIED = (
    "summary_offsets",
    "final_call_seconds",
    "heads_up_days",
    "overdue_daily",
    "escalate_after_hours",
    "announce_channel",
    "announce_lead_seconds",
    "auto_approve",
    "decision_rule",
)

DEFAULT_TEMPLATE = "go-live"


class ReleaseService(ServiceBase):
    """Creating, reading, moving and cancelling releases."""

    def __init__(
        self, deps: Deps, *, templates: TemplateLibrary, announcements: AnnouncementService | None = None
    ) -> None:
        super().__init__(deps)
        self._templates = templates
        self._announcements = announcements

    # ---- creating and reading -------------------------------------------------------------------

    def create(
        self,
        ctx: RequestContext,
        *,
        name: str,
        when: WhenSpec,
        channel_id: str | None,
        template: str | None,
        like: str | None = None,
    ) -> ReleaseView:
        """Create a release from a command: `when` is read in the issuer's time zone."""
        tz = self.people.timezone_of(ctx.user_id)
        launch_at = resolve_when(when, now=self._clock.now(), tz=tz)
        earlier = None
        if like is not None:
            with unit_of_work(self._engine, write=False) as session:
                earlier = self._resolve(session, ctx, like).release
        return self.create_at(
            ctx,
            name=name,
            launch_at=launch_at,
            tz=tz,
            channel_id=channel_id,
            template=template or (earlier.template if earlier else None),
            managers=(),
            like=earlier,
        )

    def create_at(
        self,
        ctx: RequestContext,
        *,
        name: str,
        launch_at: datetime,
        tz: str,
        channel_id: str | None,
        template: str | None,
        managers: Sequence[str],
        like: Release | None = None,
        train_id: int | None = None,
    ) -> ReleaseView:
        """Create a release from a checklist template; the issuer and `managers` manage it.

        `like`: an earlier release whose owners (by item), roles and settings the new one copies.
        """
        channel = channel_id or ctx.channel_id
        self._require_postable(channel)
        checklist = self._templates.get(template or DEFAULT_TEMPLATE)
        for manager in managers:
            self.people.require_active(manager)
        now = self._clock.now()
        ensure_future(launch_at, now, tz=tz)
        key = name_key(name)
        all_managers = list(dict.fromkeys([ctx.user_id, *managers]))
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
                    **_reminder_columns(checklist.reminders),
                )
                items = [
                    _item_from(spec, position, launch_at, tz, now)
                    for position, spec in enumerate(checklist.items, 1)
                ]
                release.train_id = train_id
                if like is not None:
                    copy_settings(like, release)
                repo.add_release(session=session, release=release, managers=all_managers, items=items)
                detail = f"like {like.name}" if like is not None else None
                self._audit(
                    session, ctx, release, None, "create", None, ReleaseState.PLANNING.value, now, detail
                )
                if like is not None:
                    copy_people(session, like, release, items)
                if self._announcements is not None:
                    self._announcements.seed(session, release, checklist.announcements, now)
                view = load_release_view(session=session, release=release)
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
        if release_ref is None:
            # The usual case: the channel's one active release, whose view is cached at its version.
            # Reading (id, version) alone, in one statement outside a transaction, keeps status close to
            # help under load (bench/README.md, "One statement, no transaction").
            active = repo.active_release_versions_in_channel(engine=self._engine, channel_id=ctx.channel_id)
            view = self._deps.views.cached(*active[0]) if len(active) == 1 else None
            if view is not None:
                return view
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
            # The view already names every item; no second query for titles.
            by_id = {i.id: i.title for i in target.view.items}
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
            delivery_repo.cancel_pending(
                session=session,
                now=now,
                reason="release moved",
                release_id=release.id,
                keep_kinds=KEEP_ON_MOVE,
            )
            fresh.launch_at = new_launch
            if fresh.state == ReleaseState.NO_GO.value:
                # A new date is a new decision: the NO-GO's votes are forgotten and the vote opens again.
                fresh.state, fresh.decided_at = ReleaseState.PLANNING.value, None
                announce_repo.clear_votes(session=session, release_id=release.id)
            if self._announcements is not None:
                self._announcements.rescheduled(session, fresh, old_launch, now)
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

    def configure(self, ctx: RequestContext, release_ref: str | None, field: str, value: str) -> str:
        """Set when a release's summaries or final call are posted; returns the new setting in words."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, need_active=True)
        self._require(ctx, target, Action.CONFIGURE, "configure")
        release = target.release
        now = self._clock.now()
        if field == "summary":
            offsets = parse_summary_offsets(value)
            column, stored, words = "summary_offsets", format_offsets(offsets), format_offsets(offsets)
        elif field == "heads-up":
            column, stored = "heads_up_days", parse_working_days(value)
            words = f"{stored} working day{'s' if stored != 1 else ''}"
        elif field == "overdue":
            column, stored = "overdue_daily", parse_overdue(value)
            words = "every working day" if stored else "once"
        elif field == "escalate-after":
            hours = before_launch(value).total_seconds() / 3600
            column, stored, words = "escalate_after_hours", hours, f"{hours:g} working hours"
        elif value.strip().casefold() in ("off", "none", "never"):
            column, stored, words = "final_call_seconds", -1, "off"
        else:
            offset = before_launch(value)
            column, stored, words = (
                "final_call_seconds",
                int(offset.total_seconds()),
                format_offsets((offset,)),
            )
        with unit_of_work(self._engine) as session:
            fresh = repo.get_release(session=session, release_id=release.id or 0, for_update=True)
            assert fresh is not None
            before = str(getattr(fresh, column))
            setattr(fresh, column, stored)
            fresh.updated_at = now
            session.add(fresh)
            self._audit(session, ctx, fresh, None, f"set {field}", before, str(stored), now)
        return words

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
            delivery_repo.cancel_pending(
                session=session, now=now, reason="release cancelled", release_id=release.id
            )
            fresh.state = ReleaseState.CANCELLED.value
            fresh.card_version += 1
            if self._announcements is not None:
                self._announcements.withdraw(session, fresh, now, "the release was cancelled")
            # Item replies lose their buttons: a cancelled release takes no changes.
            repo.touch_items(
                session=session,
                item_ids=[i.id for i in repo.items_of(session=session, release_id=release.id) if i.id],
                now=now,
            )
            fresh.updated_at = now
            session.add(fresh)
            self._audit(session, ctx, fresh, None, "cancel", before, fresh.state, now)
            view = load_release_view(session=session, release=fresh)
        self._cards.request(release.id)
        return view

    # ---- helpers --------------------------------------------------------------------------------

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


def _reminder_columns(defaults: ReminderDefaults) -> dict[str, object]:
    """A template's reminder timing as the release's own columns (NULL: the built-in defaults)."""
    final_call = None
    if defaults.final_call is not None:
        final_call = -1 if defaults.final_call < timedelta(0) else int(defaults.final_call.total_seconds())
    return {
        "heads_up_days": defaults.heads_up_days,
        "overdue_daily": defaults.overdue_daily,
        "escalate_after_hours": defaults.escalate_after_hours,
        "final_call_seconds": final_call,
        "summary_offsets": format_offsets(defaults.summary) if defaults.summary else None,
    }


def _item_from(
    spec: ItemTemplate, position: int, launch_at: datetime, tz: str, now: datetime
) -> ChecklistItem:
    """A new item row from its template entry, due at its offset from launch."""
    return ChecklistItem(
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


def _offset(item: ChecklistItem) -> timedelta:
    return timedelta(seconds=item.offset_seconds)


def copy_settings(earlier: Release, release: Release) -> None:
    """Timing, announcement handling, the decision rule and the support contact of an earlier release."""
    for column in _COPIED:
        setattr(release, column, getattr(earlier, column))
    details = json.loads(earlier.details or "{}")
    if details.get("support"):
        # Who to ask stays the same from release to release; what ships and the downtime do not.
        release.details = json.dumps({"support": details["support"]}, ensure_ascii=False)


def copy_people(session: Session, earlier: Release, release: Release, items: Sequence[ChecklistItem]) -> None:
    """Deciders, comms owners, extra managers and item owners (matched by item key) of an earlier release."""
    roles = announce_repo.roles_by_kind(session=session, release_id=earlier.id or 0)
    current = set(repo.roles_of(session=session, release_id=release.id or 0))
    extra_managers = [m for m in roles["manager"] if m not in current]
    for role, users in (
        ("decider", roles["decider"]),
        ("comms", roles["comms"]),
        ("manager", extra_managers),
    ):
        for user in users:
            session.add(ReleaseRole(release_id=release.id, role=role, user_id=user))
    old_items = {i.id: i.key for i in repo.items_of(session=session, release_id=earlier.id or 0)}
    new_items = {i.key: i.id for i in items}
    for item_id, owners in repo.owners_of(session=session, release_id=earlier.id or 0).items():
        target = new_items.get(old_items.get(item_id, ""))
        if target is not None:
            repo.add_owners(session=session, item_id=target, owners=[(o.kind, o.slack_id) for o in owners])
    session.flush()
