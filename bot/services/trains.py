"""Release trains: recurring launches, each turned into a release a fixed number of days ahead of it.

A train remembers the last launch it turned into a release (`last_launch_at`). Each scheduler pass creates
the releases whose lead window has opened, through `ReleaseService.create_at`, and only then moves that
mark forward. The database makes it happen once: a unique index on (train_id, launch_at) refuses a second
release for the same launch, whichever replica ticks, and a crash between the insert and the mark is
repaired by the next pass, which finds the release and moves the mark.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.checklists import TemplateLibrary
from bot.domain.errors import Conflict, NotFound, PermissionDenied, UserError
from bot.domain.model import AuditOutcome, AuditSource, ReleaseView
from bot.domain.permissions import Actor
from bot.domain.text import escape_mrkdwn, name_key
from bot.domain.trains import (
    DEFAULT_LEAD_DAYS,
    TrainRule,
    clean_train_name,
    first_launch,
    next_launch,
    open_at_once,
    parse_rule,
    release_name,
)
from bot.ports import Posted
from bot.services.base import Deps, ServiceBase, audit_event
from bot.services.context import RequestContext
from bot.services.releases import DEFAULT_TEMPLATE, ReleaseService
from bot.services.results import Outgoing
from storage import repo
from storage.db import unit_of_work
from storage.tables import ACTIVE_STATES, Delivery, Release, Train

log = logging.getLogger(__name__)

UPCOMING = 3  # launches shown when a train is created or listed
_EARLIER = timedelta(microseconds=1)  # "strictly after" the instant just before the anchor includes it


@dataclass(frozen=True, slots=True)
class TrainView:
    """A train as people see it: its rule in words, its next launches and the ones it will skip."""

    id: int
    name: str
    channel_id: str
    rule: str  # in words: "every 2 weeks on Thursday at 14:00"
    timezone: str
    template: str
    created_by: str
    lead: timedelta  # how long before each launch its release is created
    open_at_once: int  # how many of its releases exist at a time, once it runs
    upcoming: tuple[datetime, ...]  # the next launches after now that will run
    skipped: tuple[datetime, ...]  # upcoming launches that will not
    active: bool


@dataclass(frozen=True, slots=True)
class TrainRelease:
    """A release a train already created: enough to name it in a reply."""

    name: str
    launch_at: datetime


@dataclass(frozen=True, slots=True)
class TrainCreated:
    """A new train, and its first release when the lead window was already open."""

    train: TrainView
    first_release: ReleaseView | None


@dataclass(frozen=True, slots=True)
class TrainSkipped:
    """The launch a skip removed, and the next release when it had already been created."""

    train: TrainView
    launch: datetime
    already_created: TrainRelease | None


class TrainService(ServiceBase):
    """Creating, listing, skipping and stopping trains; and creating their releases when they fall due.

    It is a delivery extension with no kinds of its own: `plan_due` rides on every scheduler pass.
    """

    kinds: frozenset[str] = frozenset()

    def __init__(self, deps: Deps, *, templates: TemplateLibrary, releases: ReleaseService) -> None:
        super().__init__(deps)
        self._templates = templates
        self._releases = releases

    # ---- commands --------------------------------------------------------------------------------

    def create(
        self,
        ctx: RequestContext,
        name: str,
        rule_text: str,
        template: str | None,
        lead_days: int | None = None,
    ) -> TrainCreated:
        """Start a train in the requester's channel; its launches are read in the requester's zone.

        Each release is created `lead_days` before its launch (DEFAULT_LEAD_DAYS when not given).
        """
        name = clean_train_name(name)
        rule = parse_rule(rule_text)
        checklist = self._templates.get(template or DEFAULT_TEMPLATE)
        self._require_postable(ctx.channel_id)
        tz = self.people.timezone_of(ctx.user_id)
        now = self._clock.now()
        train = Train(
            name=name,
            name_key=name_key(name),
            channel_id=ctx.channel_id,
            rule=rule.stored(),
            anchor_at=first_launch(rule, now=now, tz=tz),
            timezone=tz,
            template=checklist.name,
            created_by=ctx.user_id,
            created_at=now,
            lead_days=DEFAULT_LEAD_DAYS if lead_days is None else lead_days,
        )
        try:
            with unit_of_work(self._engine) as session:
                if (existing := _active_train(session, ctx.channel_id, train.name_key)) is not None:
                    raise _name_taken(existing.name)
                session.add(train)
                session.flush()
                self._audit_train(session, ctx, train, "create", None, rule.stored(), now)
        except IntegrityError:
            # Another request started a train with this name between our check and our insert.
            raise _name_taken(name) from None
        # The rest of the window, for trains that run more often than the lead time, is the scheduler's.
        made = self._run_logged(train, now, limit=1) if _opens(train, train.anchor_at) <= now else []
        return TrainCreated(self._view(train, now), made[0] if made else None)

    def list(self, ctx: RequestContext) -> list[TrainView]:
        """Active trains in the requester's channel, by name."""
        now = self._clock.now()
        with unit_of_work(self._engine, write=False) as session:
            trains = _active_trains(session, channel_id=ctx.channel_id)
        return [self._view(t, now) for t in sorted(trains, key=lambda t: t.name_key)]

    def skip(self, ctx: RequestContext, name: str) -> TrainSkipped:
        """Skip the train's next launch that has no release yet; its creator or an admin only."""
        train = self._find(ctx, name)
        self._require_owner(ctx, train, "skip")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = _train_for_update(session, train.id or 0)
            if fresh is None or not fresh.active:
                raise Conflict(f"The train {escape_mrkdwn(train.name)} was stopped a moment ago.")
            rule, skipped = _rule(fresh), _skipped(fresh)
            launch = next(_launches(fresh, rule, after=max(_created_through(fresh), now), skipped=skipped))
            before = fresh.skip
            # Launches already behind us never come round again: forget them as the list is rewritten.
            kept = [*sorted(s for s in skipped if s > now), launch]
            fresh.skip = ",".join(s.isoformat() for s in kept)
            session.add(fresh)
            self._audit_train(session, ctx, fresh, "skip", before or None, launch.isoformat(), now)
            created = _next_created(session, fresh.id or 0, now)
        return TrainSkipped(self._view(fresh, now), launch, created)

    def stop(self, ctx: RequestContext, name: str) -> TrainView:
        """Stop the train: no more releases; those it made stay. Its creator or an admin only."""
        train = self._find(ctx, name)
        self._require_owner(ctx, train, "stop")
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = _train_for_update(session, train.id or 0)
            if fresh is None or not fresh.active:
                raise Conflict(f"The train {escape_mrkdwn(train.name)} was already stopped.")
            fresh.active = False
            session.add(fresh)
            self._audit_train(session, ctx, fresh, "stop", "active", "stopped", now)
        return self._view(fresh, now)

    # ---- the scheduler's pass --------------------------------------------------------------------

    def plan_due(self, now: datetime) -> int:
        """Create every release whose lead window has opened; returns how many were created."""
        with unit_of_work(self._engine, write=False) as session:
            trains = _active_trains(session)
        return sum(len(self._run_logged(train, now)) for train in trains)

    def contents(self, rows: Sequence[Delivery], now: datetime) -> dict[int, Outgoing | None]:
        """Trains queue no messages of their own (a release's card is posted by the card worker)."""
        return {}

    def sent(self, row: Delivery, posted: Posted) -> None:
        """Nothing to record: trains queue no messages."""

    def _run_logged(self, train: Train, now: datetime, *, limit: int | None = None) -> list[ReleaseView]:
        """The releases `_run` created; a failure is logged, and the next pass tries that launch again."""
        made: list[ReleaseView] = []
        try:
            made.extend(self._run(train, now, limit=limit))
        except UserError as exc:
            # Something people can fix (the bot left the channel, the template was removed): say it in
            # the log, without holding up the other trains.
            log.warning("train %s (%s): release not created: %s", train.id, train.name, exc)
        except Exception:
            log.exception("train %s (%s): release not created; retrying next pass", train.id, train.name)
        return made

    def _run(self, train: Train, now: datetime, *, limit: int | None = None) -> Iterator[ReleaseView]:
        """Create the train's due releases in launch order, yielding each one this call created."""
        after = max(_created_through(train), now)
        for count, launch in enumerate(_launches(train, _rule(train), after=after, skipped=_skipped(train))):
            if _opens(train, launch) > now or (limit is not None and count >= limit):
                return
            view = self._launch(train, launch)
            if view is not None:
                yield view

    def _launch(self, train: Train, launch: datetime) -> ReleaseView | None:
        """The release for one launch, created once: None when it exists already or was made by hand."""
        assert train.id is not None
        name = release_name(train.name, launch, train.timezone)
        with unit_of_work(self._engine, write=False) as session:
            fresh = session.get(Train, train.id)
            if fresh is None or not fresh.active or launch in _skipped(fresh):
                return None  # stopped or skipped since this pass read the trains
            existing = _release_for(session, train.id, launch)
            hand_made = existing is None and repo.active_name_taken(
                session=session, channel_id=train.channel_id, name_key=name_key(name)
            )
            previous = _latest_release(session, train.id)
        if existing is not None:
            self._advance(train, launch, existing.id, existing.name)
            return None
        if hand_made:
            # Someone made this release by hand (perhaps before starting the train): it stands for the launch.
            log.warning("train %s: %r already exists, made by hand; the train leaves it be", train.id, name)
            self._advance(train, launch, None, f"{name} (made by hand)")
            return None
        ctx = RequestContext(
            actor=Actor(train.created_by), channel_id=train.channel_id, source=AuditSource.SCHEDULER
        )
        try:
            view = self._releases.create_at(
                ctx,
                name=name,
                launch_at=launch,
                tz=train.timezone,
                channel_id=train.channel_id,
                template=train.template,
                managers=(),
                like=previous,
                train_id=train.id,
            )
        except Conflict:
            # Another replica may have created it between our look and our insert: then it is done.
            with unit_of_work(self._engine, write=False) as session:
                existing = _release_for(session, train.id, launch)
            if existing is None:
                raise
            self._advance(train, launch, existing.id, existing.name)
            return None
        self._advance(train, launch, view.id, view.name)
        return view

    def _advance(self, train: Train, launch: datetime, release_id: int | None, release: str) -> None:
        """Move the train's mark to `launch` (never backwards) and record it, once across replicas."""
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            moved = session.exec(  # type: ignore[call-overload]
                update(Train)
                .where(
                    col(Train.id) == train.id,
                    or_(col(Train.last_launch_at).is_(None), col(Train.last_launch_at) < launch),
                )
                .values(last_launch_at=launch)
            ).rowcount
            if moved:
                ctx = RequestContext(
                    actor=Actor(train.created_by), channel_id=train.channel_id, source=AuditSource.SCHEDULER
                )
                before = train.last_launch_at.isoformat() if train.last_launch_at else None
                detail = f"{_detail(train)}; release {release}"
                event = audit_event(
                    ctx, "train release", before, launch.isoformat(), now, detail, release_id=release_id
                )
                repo.add_audit(session=session, event=event)

    # ---- helpers ---------------------------------------------------------------------------------

    def _view(self, train: Train, now: datetime) -> TrainView:
        rule, skipped = _rule(train), _skipped(train)
        after = max(train.anchor_at - _EARLIER, now)
        upcoming = _launches(train, rule, after=after, skipped=skipped)
        soon = tuple(next(upcoming) for _ in range(UPCOMING))
        return TrainView(
            id=train.id or 0,
            name=train.name,
            channel_id=train.channel_id,
            rule=rule.describe(),
            timezone=train.timezone,
            template=train.template,
            created_by=train.created_by,
            lead=timedelta(days=train.lead_days),
            open_at_once=open_at_once(timedelta(days=train.lead_days), rule.interval),
            upcoming=soon,
            skipped=tuple(sorted(s for s in skipped if s > now)),
            active=train.active,
        )

    def _find(self, ctx: RequestContext, name: str) -> Train:
        """The active train of that name in the requester's channel, or NotFound naming the ones there are."""
        with unit_of_work(self._engine, write=False) as session:
            train = _active_train(session, ctx.channel_id, name_key(name))
            if train is not None:
                return train
            names = [t.name for t in _active_trains(session, channel_id=ctx.channel_id)]
        close = difflib.get_close_matches(name, names, n=1)
        guess = f" Did you mean {escape_mrkdwn(close[0])}?" if close else ""
        hint = (
            f"Trains here: {', '.join(escape_mrkdwn(n) for n in sorted(names))}."
            if names
            else 'Start one with /release train "<name>" every 2 weeks on thu 14:00.'
        )
        raise NotFound(
            f"There's no running train called {escape_mrkdwn(name)} in this channel.{guess}", hint=hint
        )

    def _require_owner(self, ctx: RequestContext, train: Train, verb: str) -> None:
        """The train's creator and admins may change it; anyone else is refused, and that is recorded."""
        if ctx.user_id == train.created_by or ctx.user_id in self._deps.admins:
            return
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            state = "active" if train.active else "stopped"
            self._audit_train(session, ctx, train, verb, state, state, now, outcome=AuditOutcome.DENIED)
        raise PermissionDenied(
            f"Only <@{train.created_by}>, who started the train {escape_mrkdwn(train.name)}, or an admin "
            f"can {verb} it. Ask them, or `/release cancel` a release it created if you manage that release."
        )

    def _require_postable(self, channel_id: str) -> None:
        """The train posts release cards here for as long as it runs, so the bot must be able to."""
        channel = self._directory.channel(channel_id)
        if channel is None:
            raise NotFound(
                f"I can't see <#{channel_id}>. If it's private, invite me there first "
                "with `/invite @Release Captain`."
            )
        if channel.is_archived:
            raise Conflict(f"<#{channel_id}> is archived; start the train in an active channel.")
        if not channel.is_member:
            raise Conflict(
                f"I'm not in <#{channel_id}> yet, so I couldn't post the train's releases there. "
                "Invite me with `/invite @Release Captain` in that channel and try again."
            )

    def _audit_train(
        self,
        session: Session,
        ctx: RequestContext,
        train: Train,
        verb: str,
        before: str | None,
        after: str | None,
        now: datetime,
        *,
        outcome: AuditOutcome = AuditOutcome.APPLIED,
    ) -> None:
        event = audit_event(ctx, f"train {verb}", before, after, now, _detail(train), outcome=outcome)
        repo.add_audit(session=session, event=event)


# ---- rules over a stored train ------------------------------------------------------------------------


def _rule(train: Train) -> TrainRule:
    return parse_rule(train.rule)


def _skipped(train: Train) -> set[datetime]:
    return {datetime.fromisoformat(s) for s in train.skip.split(",") if s}


def _created_through(train: Train) -> datetime:
    """The instant after which launches have no release yet (just before the anchor, for a new train)."""
    return train.last_launch_at or train.anchor_at - _EARLIER


def _opens(train: Train, launch: datetime) -> datetime:
    """When the release for a launch is created."""
    return launch - timedelta(days=train.lead_days)


def _launches(
    train: Train, rule: TrainRule, *, after: datetime, skipped: set[datetime]
) -> Iterator[datetime]:
    """The train's launches strictly after `after`, leaving out skipped ones; endless."""
    at = after
    while True:
        at = next_launch(rule, anchor=train.anchor_at, after=at, tz=train.timezone)
        if at not in skipped:
            yield at


def _detail(train: Train) -> str:
    return f"train {train.name} (#{train.id})"


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"There is already a train called {escape_mrkdwn(name)} in this channel. Pick another name, "
        f'or stop the old one with /release train stop "{escape_mrkdwn(name)}".'
    )


# ---- queries ------------------------------------------------------------------------------------------


def _active_trains(session: Session, *, channel_id: str | None = None) -> list[Train]:
    stmt = select(Train).where(col(Train.active).is_(True))
    if channel_id is not None:
        stmt = stmt.where(Train.channel_id == channel_id)
    return list(session.exec(stmt.order_by(col(Train.id))))


def _active_train(session: Session, channel_id: str, key: str) -> Train | None:
    stmt = select(Train).where(
        Train.channel_id == channel_id, Train.name_key == key, col(Train.active).is_(True)
    )
    return session.exec(stmt).first()


def _train_for_update(session: Session, train_id: int) -> Train | None:
    return session.exec(select(Train).where(Train.id == train_id).with_for_update()).first()


def _release_for(session: Session, train_id: int, launch: datetime) -> Release | None:
    stmt = select(Release).where(Release.train_id == train_id, Release.launch_at == launch)
    return session.exec(stmt).first()


def _latest_release(session: Session, train_id: int) -> Release | None:
    """The train's most recently created release: the next one copies its owners and settings."""
    stmt = select(Release).where(Release.train_id == train_id).order_by(col(Release.id).desc()).limit(1)
    return session.exec(stmt).first()


def _next_created(session: Session, train_id: int, now: datetime) -> TrainRelease | None:
    """The train's soonest release still to launch, if it was created already."""
    stmt = (
        select(Release)
        .where(
            Release.train_id == train_id,
            col(Release.launch_at) > now,
            col(Release.state).in_(ACTIVE_STATES),
        )
        .order_by(col(Release.launch_at))
        .limit(1)
    )
    found = session.exec(stmt).first()
    return TrainRelease(found.name, found.launch_at) if found else None
