"""Announcements: the plan, drafts for approval and what people do with them, and keeping them true.

The scheduler's half (what is due, what each send says) is `bot/services/announce_schedule.py`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.domain.announcements import (
    DEFAULT_PLAN,
    FIELDS,
    AnnouncementKind,
    AnnouncementState,
    PlanEntry,
    clean_field,
    format_offset,
    parse_kind,
    parse_lead,
    parse_offset,
)
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.model import AuditSource, ItemState, ReleaseView
from bot.domain.notes import date_token, state_change_note
from bot.domain.permissions import Action
from bot.domain.text import clean_note, escape_mrkdwn
from bot.services.announce_schedule import (
    DRAFT,
    HELD,
    ON_APPROVAL,
    AnnouncementSchedule,
    channel_of,
    lead_of,
    shown_row,
)
from bot.services.base import Deps, ServiceBase, Target
from bot.services.context import RequestContext
from bot.services.results import (
    AnnouncementDraft,
    AnnouncementPlan,
    AnnouncementView,
)
from bot.services.views import load_release_view
from bot.templating.announcements import AnnouncementTemplates
from bot.templating.sandbox import MAX_OUTPUT_CHARS, SlackMarkup, TemplateError
from storage import announce_repo, delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import Announcement, AuditEvent, Release

log = logging.getLogger(__name__)

PLAN_ITEM = "announcement_plan"  # completed when a manager approves the plan
_PENDING = tuple(s.value for s in AnnouncementState if s.is_pending)
_LABELLED_LINK = re.compile(r"<((?:https?|mailto):[^|<>]+)\|([^<>]*)>", re.IGNORECASE)
_URLISH = re.compile(r"\s*(?:https?://|www\.|mailto:)|\s*[\w-]+(?:\.[\w-]+)+(?:/|$)", re.IGNORECASE)
_BROADCAST = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>|<!subteam\^", re.IGNORECASE)
_STALE = "This draft was replaced or withdrawn meanwhile; nothing changed. Use the latest one."


class AnnouncementService(AnnouncementSchedule, ServiceBase):
    """Planning, approving and posting a release's announcements; the scheduler's half is inherited."""

    def __init__(
        self, deps: Deps, *, templates: AnnouncementTemplates, kick: Callable[[], None] | None = None
    ) -> None:
        super().__init__(deps)
        self._templates = templates
        self.kick: Callable[[], None] = kick or (lambda: None)

    # ---- the plan (commands) ----------------------------------------------------------------------

    def plan(self, ctx: RequestContext, release_ref: str | None) -> AnnouncementPlan:
        """A release's announcements, their times and states."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref)
            return self._plan_of(session, target.release, target.view)

    def approve_plan(
        self, ctx: RequestContext, release_ref: str | None, *, release_id: int | None = None
    ) -> AnnouncementPlan:
        """A manager approves the plan; the checklist's "Announcement Plan" item is signed off with it."""
        target, _ = self._managed(
            ctx, release_ref, Action.PLAN_ANNOUNCEMENTS, "approve the plan", release_id=release_id
        )
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release)
            if release.plan_approved_by is not None:
                raise Conflict(
                    f"<@{release.plan_approved_by}> already approved the announcement plan of "
                    f"{escape_mrkdwn(release.name)}."
                )
            release.plan_approved_by, release.plan_approved_at = ctx.user_id, now
            release.updated_at = now
            session.add(release)
            plan = self._plan_of(session, release, target.view)
            summary = "; ".join(f"{e.label}: {e.when}" for e in plan.entries if e.state in _PENDING)
            self._audit(session, ctx, release, None, "approve plan", None, "approved", now, summary)
            self._complete_item(session, release, PLAN_ITEM, ctx.user_id, now, "announcement plan approved")
            plan = self._plan_of(session, release, load_release_view(session=session, release=release))
        self._cards.request(release.id or 0)
        return plan

    def add(
        self, ctx: RequestContext, release_ref: str | None, kind_word: str, when: str, channel_id: str | None
    ) -> AnnouncementPlan:
        """Plan an announcement (or move the planned one of that kind) at an offset from launch."""
        kind = parse_kind(kind_word)
        if kind.on_event:
            raise InvalidInput(
                f"The {kind.label} announcement is offered when it happens (a reschedule, a rollback, "
                "completion); it has no time of its own to plan."
            )
        offset = parse_offset(when)
        if channel_id:
            self._require_postable(channel_id)
        target, _ = self._managed(ctx, release_ref, Action.PLAN_ANNOUNCEMENTS, "change the announcement plan")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release, active=True)
            post_at = release.launch_at + offset
            if post_at <= now:
                raise InvalidInput(
                    f"{format_offset(offset)} is already past for {escape_mrkdwn(release.name)}; "
                    "pick a later time, or post it now from its draft."
                )
            existing = self._pending_of_kind(session, release, kind)
            if existing is None:
                existing = Announcement(
                    release_id=release.id or 0,
                    kind=kind.value,
                    post_at=post_at,
                    created_at=now,
                    updated_at=now,
                )
            before = format_offset(timedelta(seconds=existing.offset_seconds or 0)) if existing.id else None
            existing.offset_seconds = int(offset.total_seconds())
            existing.post_at = post_at
            existing.channel_id = channel_id or existing.channel_id
            existing.version += 1 if existing.id else 0
            existing.updated_at = now
            session.add(existing)
            self._audit(session, ctx, release, None, f"plan {kind.value}", before, format_offset(offset), now)
            plan = self._plan_of(session, release, target.view)
        return plan

    def remove(self, ctx: RequestContext, release_ref: str | None, kind_word: str) -> AnnouncementPlan:
        """Drop a pending announcement from the plan."""
        kind = parse_kind(kind_word)
        target, _ = self._managed(ctx, release_ref, Action.PLAN_ANNOUNCEMENTS, "change the announcement plan")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release)
            existing = self._pending_of_kind(session, release, kind)
            if existing is None:
                raise NotFound(f"{escape_mrkdwn(release.name)} has no pending {kind.label} announcement.")
            self._end(
                existing, AnnouncementState.WITHDRAWN, now, f"removed from the plan by <@{ctx.user_id}>"
            )
            session.add(existing)
            self._audit(session, ctx, release, None, f"unplan {kind.value}", existing.state, "withdrawn", now)
            plan = self._plan_of(session, release, target.view)
        return plan

    def set_channel(self, ctx: RequestContext, release_ref: str | None, channel_id: str) -> AnnouncementPlan:
        """Where the release's announcements are posted."""
        self._require_postable(channel_id)
        return self._set(
            ctx, release_ref, "announce channel", lambda r: _assign(r, "announce_channel", channel_id)
        )

    def set_lead(self, ctx: RequestContext, release_ref: str | None, value: str) -> AnnouncementPlan:
        """How long before each announcement its draft reaches the comms owners."""
        lead = parse_lead(value)
        seconds = int(lead.total_seconds())
        return self._set(
            ctx, release_ref, "announce lead", lambda r: _assign(r, "announce_lead_seconds", seconds)
        )

    def set_auto(self, ctx: RequestContext, release_ref: str | None, value: str) -> AnnouncementPlan:
        """Opt in or out of posting announcements without a person's approval."""
        if value not in ("on", "off", "yes", "no"):
            raise InvalidInput("Say on or off: /release announce auto off.")
        enabled = value in ("on", "yes")
        return self._set(ctx, release_ref, "announce auto", lambda r: _assign(r, "auto_approve", enabled))

    def preview(self, ctx: RequestContext, release_ref: str | None, kind_word: str) -> str:
        """What an announcement would say if it were posted now."""
        kind = parse_kind(kind_word)
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref)
            ann = self._pending_of_kind(session, target.release, kind) or Announcement(
                release_id=target.release.id or 0,
                kind=kind.value,
                post_at=self._clock.now(),
                context=json.dumps({"old_launch": target.release.launch_at.isoformat(), "reason": None}),
                created_at=self._clock.now(),
                updated_at=self._clock.now(),
            )
            text, problem = self._text(target.release, target.view, ann)
        if problem:
            raise InvalidInput(f"The {kind.label} template can't be rendered: {escape_mrkdwn(problem)}")
        return text

    def set_detail(self, ctx: RequestContext, release_ref: str | None, field: str, value: str) -> str | None:
        """Set one of the fields the templates use (downtime, impact, …); returns the stored value."""
        stored = clean_field(field, value)
        target, _ = self._managed(ctx, release_ref, Action.CONFIGURE, "configure")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release)
            details = _details(release)
            before = details.get(field)
            if stored is None:
                details.pop(field, None)
            else:
                details[field] = stored
            release.details = json.dumps(details, ensure_ascii=False)
            release.updated_at = now
            session.add(release)
            self._audit(session, ctx, release, None, f"set {field}", _short(before), _short(stored), now)
        return stored

    def details(self, ctx: RequestContext, release_ref: str | None) -> tuple[ReleaseView, dict[str, str]]:
        """The release's announcement fields, for the details form (managers: it is for changing them)."""
        target, _ = self._managed(ctx, release_ref, Action.CONFIGURE, "configure")
        return target.view, _details(target.release)

    def set_details(self, ctx: RequestContext, release_id: int, values: dict[str, str]) -> dict[str, str]:
        """Set several fields at once (the details form): all or nothing."""
        cleaned = {name: clean_field(name, value) for name, value in values.items()}
        with unit_of_work(self._engine, write=False) as session:
            release = repo.get_release(session=session, release_id=release_id)
            if release is None:
                raise NotFound("That release no longer exists.")
            target = Target(release, self._deps.views.load(session=session, release=release))
        self._require(ctx, target, Action.CONFIGURE, "configure")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release)
            details = _details(release)
            for name, value in cleaned.items():
                if details.get(name) == value:
                    continue
                self._audit(
                    session, ctx, release, None, f"set {name}", _short(details.get(name)), _short(value), now
                )
                if value is None:
                    details.pop(name, None)
                else:
                    details[name] = value
            release.details = json.dumps(details, ensure_ascii=False)
            release.updated_at = now
            session.add(release)
        return details

    # ---- drafts (buttons and the edit form) --------------------------------------------------------

    def approve(self, ctx: RequestContext, announcement_id: int, version: int) -> AnnouncementView:
        """Approve a draft: it is posted at its time (at once when its time has come)."""
        return self._decide(ctx, announcement_id, version, "approve")

    def post_now(self, ctx: RequestContext, announcement_id: int, version: int) -> AnnouncementView:
        """Approve a draft and post it now."""
        return self._decide(ctx, announcement_id, version, "post now")

    def skip(self, ctx: RequestContext, announcement_id: int, version: int) -> AnnouncementView:
        """Decide not to post a draft."""
        return self._decide(ctx, announcement_id, version, "skip")

    def draft_text(
        self, ctx: RequestContext, announcement_id: int, version: int
    ) -> tuple[AnnouncementView, str]:
        """The text to edit: the edited one, or the template's rendering."""
        target, ann, roles = self._draft_target(announcement_id)
        self._require_roles(ctx, target, Action.APPROVE_ANNOUNCEMENT, "edit announcements", roles)
        _check_current(ann, version)
        text, _problem = self._text(target.release, target.view, ann)
        return self._view(ann, target.release), text

    def edit(
        self,
        ctx: RequestContext,
        announcement_id: int,
        version: int,
        text: str,
        *,
        shown_in: tuple[str, str] | None = None,
    ) -> AnnouncementDraft:
        """Keep a person's own text for a draft; it still needs approval.

        The edit is a new version: the other approvers' buttons stop working (they would approve a text they
        have not seen) and they get the new text; the editor's own draft (`shown_in`: its DM channel and ts)
        is updated in place by the caller instead of arriving again.
        """
        target, ann, roles = self._draft_target(announcement_id)
        self._require_roles(ctx, target, Action.APPROVE_ANNOUNCEMENT, "edit announcements", roles)
        cleaned = self._clean_edit(ann, text)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = announce_repo.get_announcement(
                session=session, announcement_id=announcement_id, for_update=True
            )
            assert fresh is not None
            _check_current(fresh, version)
            fresh.text, fresh.updated_at = cleaned, now
            fresh.version += 1
            session.add(fresh)
            self._audit(session, ctx, target.release, None, f"edit {fresh.kind}", None, "edited", now)
            if shown_in is not None:
                kind = HELD if fresh.state == AnnouncementState.HELD.value else DRAFT
                delivery_repo.insert_planned(
                    session=session,
                    rows=[shown_row(target.release, fresh, kind, ctx.user_id, now, shown_in)],
                )
            view = self._view(fresh, target.release)
        self.kick()  # the other approvers' new drafts
        return AnnouncementDraft(ctx.user_id, target.view, view, cleaned, None, fresh.state == "held", now)

    # ---- what happens to a release ------------------------------------------------------------------

    def seed(
        self, session: Session, release: Release, plan: Sequence[PlanEntry] | None, now: datetime
    ) -> None:
        """A new release's announcements, from its checklist template's plan (or the default one)."""
        for entry in plan if plan is not None else DEFAULT_PLAN:
            ann = Announcement(
                release_id=release.id or 0,
                kind=entry.kind.value,
                offset_seconds=int(entry.offset.total_seconds()),
                post_at=release.launch_at + entry.offset,
                created_at=now,
                updated_at=now,
            )
            _time(ann, release.launch_at + entry.offset, now)
            session.add(ann)

    def rescheduled(self, session: Session, release: Release, old_launch: datetime, now: datetime) -> None:
        """The launch moved: re-time what is pending, re-open what was held, and offer the delayed notice."""
        for ann in announce_repo.announcements_of(session=session, release_id=release.id or 0):
            state = AnnouncementState(ann.state)
            revived = state is AnnouncementState.WITHDRAWN and ann.note == _NO_GO_NOTE
            if ann.offset_seconds is None or not (state.is_pending or revived):
                continue
            if state is not AnnouncementState.APPROVED:
                # A new version: drafts go out again with the new time, and old buttons stop working.
                ann.state = AnnouncementState.PLANNED.value
                ann.version += 1
            _time(ann, release.launch_at + timedelta(seconds=ann.offset_seconds), now)
            ann.updated_at = now
            session.add(ann)
        self._offer(session, release, AnnouncementKind.DELAYED, now, {"old_launch": old_launch.isoformat()})

    def withdraw(self, session: Session, release: Release, now: datetime, note: str) -> int:
        """Nothing pending is posted any more (cancelled, or voted NO-GO)."""
        return announce_repo.withdraw_pending(session=session, release_id=release.id or 0, now=now, note=note)

    def no_go(self, session: Session, release: Release, now: datetime) -> int:
        """A NO-GO withdraws what is pending; a reschedule brings the planned ones back."""
        return self.withdraw(session, release, now, _NO_GO_NOTE)

    def launched(self, session: Session, release: Release, now: datetime) -> None:
        """Launch: the go-live announcement is due now; an upcoming one never posted is moot."""
        for ann in announce_repo.announcements_of(session=session, release_id=release.id or 0):
            if not AnnouncementState(ann.state).is_pending:
                continue
            if ann.kind == AnnouncementKind.UPCOMING.value:
                self._end(ann, AnnouncementState.WITHDRAWN, now, "the release launched before it was posted")
            elif ann.kind == AnnouncementKind.GO_LIVE.value:
                ann.post_at = now
                ann.updated_at = now
            session.add(ann)

    def closed(
        self, session: Session, release: Release, kind: AnnouncementKind, now: datetime, reason: str | None
    ) -> None:
        """Rolled back or completed: withdraw what is pending and offer the matching announcement."""
        self.withdraw(session, release, now, f"the release was {kind.label}")
        self._offer(session, release, kind, now, {"reason": reason})

    def _text(self, release: Release, view: ReleaseView, ann: Announcement) -> tuple[str, str | None]:
        """The announcement's text now, or the reason it can't be rendered."""
        if ann.text:
            return ann.text, None
        try:
            return self._templates.render(ann.kind, _context(release, view, ann)), None
        except TemplateError as error:
            log.warning("announcement %s of release %s: %s", ann.kind, release.id, error)
            return "", str(error)

    def _clean_edit(self, ann: Announcement, text: str) -> str:
        cleaned = clean_note(text, field="announcement", max_len=MAX_OUTPUT_CHARS)
        allowed = self._templates.get(ann.kind).mentions
        for match in _BROADCAST.finditer(cleaned):
            word = (match.group(1) or "subteam").casefold()
            if word not in allowed:
                mention = "a user group mention" if word == "subteam" else f"@{word}"
                raise InvalidInput(
                    f"This announcement may not use {mention}: its template does not allow it. "
                    "Remove it, or ask an admin to allow it in the template."
                )
        for match in _LABELLED_LINK.finditer(cleaned):
            target, label = match.group(1), match.group(2).strip()
            if _URLISH.match(label) and _address(label) != _address(target):
                # Readers trust the address they see: one that differs from where the link goes hides it.
                raise InvalidInput(
                    "A link's text may not be a different web address than the link itself "
                    f"({escape_mrkdwn(label[:60])} points elsewhere). Show the real address, or use words."
                )
        return cleaned

    # ---- internals: decisions on drafts ----------------------------------------------------------------

    def _decide(self, ctx: RequestContext, announcement_id: int, version: int, what: str) -> AnnouncementView:
        target, _ann, roles = self._draft_target(announcement_id)
        self._require_roles(ctx, target, Action.APPROVE_ANNOUNCEMENT, f"{what} announcements", roles)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = announce_repo.get_announcement(
                session=session, announcement_id=announcement_id, for_update=True
            )
            assert fresh is not None
            release = self._locked_release(session, target.release)
            _check_current(fresh, version)
            before = fresh.state
            if what == "skip":
                self._end(fresh, AnnouncementState.SKIPPED, now, f"skipped by <@{ctx.user_id}>")
            else:
                if what == "approve" and before == AnnouncementState.APPROVED.value:
                    raise Conflict(f"<@{fresh.approved_by}> already approved it; it posts as planned.")
                _text, problem = self._text(release, target.view, fresh)
                if problem:
                    raise InvalidInput(
                        f"It can't be approved as it is: {escape_mrkdwn(problem)}. "
                        "Edit the text, or fix the template."
                    )
                fresh.state = AnnouncementState.APPROVED.value
                fresh.approved_by, fresh.approved_at = ctx.user_id, now
                # Held, offered or "post now": due at once. Otherwise it keeps its planned time.
                if (
                    what == "post now"
                    or before == AnnouncementState.HELD.value
                    or fresh.offset_seconds is None
                ):
                    fresh.post_at = min(fresh.post_at, now)
            fresh.updated_at = now
            session.add(fresh)
            self._audit(session, ctx, release, None, f"{what} {fresh.kind}", before, fresh.state, now)
            view = self._view(fresh, release)
        if view.post_at <= now and view.state == AnnouncementState.APPROVED.value:
            self.kick()
        return view

    def _draft_target(self, announcement_id: int) -> tuple[Target, Announcement, dict[str, list[str]]]:
        with unit_of_work(self._engine, write=False) as session:
            ann = announce_repo.get_announcement(session=session, announcement_id=announcement_id)
            if ann is None:
                raise NotFound("That announcement no longer exists.")
            release = repo.get_release(session=session, release_id=ann.release_id)
            assert release is not None
            target = Target(release, self._deps.views.load(session=session, release=release))
            roles = announce_repo.roles_by_kind(session=session, release_id=release.id or 0)
        return target, ann, roles

    # ---- internals: shared ----------------------------------------------------------------------------

    def _managed(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        action: Action,
        verb: str,
        *,
        release_id: int | None = None,
    ) -> tuple[Target, dict[str, list[str]]]:
        target, roles = self._target_with_roles(ctx, release_ref, release_id)
        self._require_roles(ctx, target, action, verb, roles)
        return target, roles

    def _set(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        what: str,
        change: Callable[[Release], tuple[Any, Any]],
    ) -> AnnouncementPlan:
        target, _ = self._managed(ctx, release_ref, Action.PLAN_ANNOUNCEMENTS, "change the announcement plan")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release)
            before, after = change(release)
            release.updated_at = now
            session.add(release)
            self._audit(session, ctx, release, None, what, str(before), str(after), now)
            return self._plan_of(session, release, target.view)

    def _pending_of_kind(
        self, session: Session, release: Release, kind: AnnouncementKind
    ) -> Announcement | None:
        return next(
            (
                a
                for a in announce_repo.announcements_of(session=session, release_id=release.id or 0)
                if a.kind == kind.value and AnnouncementState(a.state).is_pending
            ),
            None,
        )

    def _offer(
        self, session: Session, release: Release, kind: AnnouncementKind, now: datetime, context: dict
    ) -> None:
        """Draft an event's announcement at once; an earlier unposted one of the kind is folded into it."""
        earlier = self._pending_of_kind(session, release, kind)
        if earlier is not None:
            previous = json.loads(earlier.context or "{}")
            # A second delay before the first notice went out: tell people the time they last heard.
            merged = {**context, **{k: v for k, v in previous.items() if k == "old_launch" and v}}
            earlier.context = json.dumps(merged)
            earlier.state, earlier.version, earlier.post_at, earlier.updated_at = (
                "planned",
                earlier.version + 1,
                now,
                now,
            )
            earlier.approved_by = earlier.approved_at = None
            session.add(earlier)
            return
        session.add(
            Announcement(
                release_id=release.id or 0,
                kind=kind.value,
                post_at=now,
                context=json.dumps(context),
                created_at=now,
                updated_at=now,
            )
        )

    def _plan_of(self, session: Session, release: Release, view: ReleaseView) -> AnnouncementPlan:
        roles = announce_repo.roles_by_kind(session=session, release_id=release.id or 0)
        anns = announce_repo.announcements_of(session=session, release_id=release.id or 0)
        return AnnouncementPlan(
            release=view,
            entries=tuple(self._view(a, release) for a in anns),
            channel_id=release.announce_channel or release.channel_id,
            lead=lead_of(release),
            auto_approve=release.auto_approve,
            plan_approved_by=release.plan_approved_by,
            approvers=tuple(roles["comms"] or roles["manager"]),
        )

    def _view(self, ann: Announcement, release: Release) -> AnnouncementView:
        kind = AnnouncementKind(ann.kind)
        when = (
            WHEN_APPROVED
            if ann.offset_seconds is None or ann.note == ON_APPROVAL
            else format_offset(timedelta(seconds=ann.offset_seconds))
        )
        return AnnouncementView(
            id=ann.id or 0,
            release_id=ann.release_id,
            kind=ann.kind,
            label=kind.label,
            state=ann.state,
            channel_id=channel_of(ann, release),
            post_at=ann.post_at,
            when=when,
            version=ann.version,
            edited=bool(ann.text),
            approved_by=ann.approved_by,
            note=ann.note,
        )

    def _require_postable(self, channel_id: str) -> None:
        channel = self._directory.channel(channel_id)
        if channel is None or channel.is_archived or not channel.is_member:
            raise Conflict(
                f"I can't post in <#{channel_id}>: invite me there first with `/invite @Release Captain` "
                "(and make sure it isn't archived)."
            )

    def _complete_item(
        self, session: Session, release: Release, key: str, actor: str, now: datetime, detail: str
    ) -> None:
        """Sign off a checklist item the announcement flow fulfils, if the release's checklist has it."""
        item = next(
            (i for i in repo.items_of(session=session, release_id=release.id or 0) if i.key == key), None
        )
        if item is None or ItemState(item.state).is_closed:
            return
        before = ItemState(item.state)
        item.state, item.signed_off_by, item.signed_off_at = ItemState.DONE.value, actor, now
        item.evidence = item.evidence or detail
        item.version += 1
        item.updated_at = now
        session.add(item)
        delivery_repo.cancel_pending(session=session, now=now, reason="item closed", item_id=item.id)
        repo.add_audit(
            session=session,
            event=AuditEvent(
                release_id=release.id,
                item_id=item.id,
                actor=actor,
                action="done",
                source=AuditSource.ANNOUNCEMENT.value,
                outcome="applied",
                before=before.value,
                after=ItemState.DONE.value,
                detail=detail,
                at=now,
            ),
        )
        repo.touch_card(session=session, release_id=release.id or 0, now=now)
        repo.add_card_note(
            session=session,
            release_id=release.id or 0,
            text=state_change_note(actor, item.position, item.title, before, ItemState.DONE, detail),
            now=now,
        )

    @staticmethod
    def _end(ann: Announcement, state: AnnouncementState, now: datetime, note: str) -> None:
        ann.state, ann.note, ann.updated_at = state.value, note, now
        ann.version += 1  # drafts and held notices of the old version go quiet


_NO_GO_NOTE = "withdrawn by the NO-GO decision"
WHEN_APPROVED = "when approved"


def _time(ann: Announcement, planned: datetime, now: datetime) -> None:
    """Set when an announcement is due: its planned time, or at once when that has already passed."""
    if planned <= now:
        ann.post_at, ann.note = now, ON_APPROVAL
    else:
        ann.post_at, ann.note = planned, None


def _address(link: str) -> str:
    """A web address as people read it: no scheme, no www., no trailing slash, any case."""
    return re.sub(r"^(?:https?://|mailto:)?(?:www\.)?", "", link.strip().casefold()).rstrip("/")


def _check_current(ann: Announcement, version: int) -> None:
    if ann.version != version or not AnnouncementState(ann.state).is_pending:
        if ann.state == AnnouncementState.POSTED.value:
            raise Conflict("That announcement was already posted; nothing changed.")
        raise Conflict(_STALE)


def _assign(release: Release, column: str, value: Any) -> tuple[Any, Any]:
    before = getattr(release, column)
    setattr(release, column, value)
    return before, value


def _details(release: Release) -> dict[str, str]:
    try:
        data = json.loads(release.details or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if k in FIELDS and isinstance(v, str)}


def _short(value: str | None) -> str | None:
    return None if value is None else value[:200]


def _context(release: Release, view: ReleaseView, ann: Announcement) -> dict[str, Any]:
    """The template variables (docs/templates.md lists them): values people typed stay plain text."""
    details = _details(release)
    extra = json.loads(ann.context or "{}")
    old_launch = extra.get("old_launch")
    notes = details.get("notes")
    return {
        "release": release.name,
        "launch": SlackMarkup(date_token(release.launch_at)),
        "old_launch": SlackMarkup(date_token(datetime.fromisoformat(old_launch))) if old_launch else None,
        "channel": SlackMarkup(f"<#{release.channel_id}>"),
        "managers": [SlackMarkup(f"<@{m}>") for m in view.managers],
        "changes": details.get("changes"),
        "downtime": details.get("downtime"),
        "impact": details.get("impact"),
        "support": details.get("support"),
        # Checked to be a bare https link when it was set; the link markup is ours.
        "notes": SlackMarkup(f"<{notes}>") if notes else None,
        "reason": extra.get("reason") or (release.closed_reason if ann.kind == "rolled_back" else None),
        "items_done": sum(1 for i in view.items if i.state.is_closed),
        "items_total": len(view.items),
    }


def render_preview(engine: Any, templates: AnnouncementTemplates, release_id: int, kind_word: str) -> str:
    """What an announcement of a release would say now (`templates render`); TemplateError if broken."""
    kind = parse_kind(kind_word)
    with unit_of_work(engine, write=False) as session:
        release = repo.get_release(session=session, release_id=release_id)
        if release is None:
            raise NotFound(f"There is no release {release_id}.")
        view = load_release_view(session=session, release=release)
        pending = [
            a
            for a in announce_repo.announcements_of(session=session, release_id=release_id)
            if a.kind == kind.value and AnnouncementState(a.state).is_pending
        ]
    ann = (
        pending[0]
        if pending
        else Announcement(
            release_id=release_id,
            kind=kind.value,
            post_at=release.launch_at,
            context=json.dumps({"old_launch": release.launch_at.isoformat()}),
            created_at=release.created_at,
            updated_at=release.created_at,
        )
    )
    if ann.text:
        return ann.text
    return templates.render(kind.value, _context(release, view, ann))
