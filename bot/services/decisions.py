"""Go/no-go and after: deciders and comms owners, votes, the launch gate, rollback and completion."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.domain.announcements import AnnouncementKind
from bot.domain.decision import (
    Choice,
    Decision,
    Outcome,
    Vote,
    check_vote,
    decide,
    parse_rule,
    rule_from_stored,
    validate_rule,
)
from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.model import ItemView, ReleaseState, ReleaseView
from bot.domain.permissions import Action
from bot.domain.text import escape_mrkdwn
from bot.ports import Posted
from bot.services.announcements import AnnouncementService
from bot.services.base import Deps, ServiceBase, Target
from bot.services.context import RequestContext
from bot.services.results import DecisionPost, Outgoing, VoteLine
from bot.services.views import load_release_view
from storage import announce_repo, delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import Delivery, Release

log = logging.getLogger(__name__)

DECISION = "decision"
_ROLE_WORDS = {"decider": "deciders", "comms": "comms owners"}


@dataclass(frozen=True, slots=True)
class RolesResult:
    """Who holds a role now (and whether the request changed it)."""

    release: ReleaseView
    role: str
    users: tuple[str, ...]
    defaulted: bool  # nobody was named: the managers act in this role
    changed: bool


@dataclass(frozen=True, slots=True)
class VoteResult:
    """A vote was recorded; the decision it led to, if any."""

    release: ReleaseView
    choice: Choice
    previous: str | None
    decision: Decision
    decided: bool


@dataclass(frozen=True, slots=True)
class Launched:
    """A release was launched, closed or completed."""

    release: ReleaseView
    state: ReleaseState
    overridden: tuple[str, ...] = ()  # what stood in the way when a manager overrode the gate
    reason: str | None = None


class DecisionService(ServiceBase):
    """Deciders vote; managers launch, roll back and complete."""

    kinds = frozenset({DECISION})

    def __init__(self, deps: Deps, *, announcements: AnnouncementService) -> None:
        super().__init__(deps)
        self._announcements = announcements

    # ---- roles ----------------------------------------------------------------------------------------

    def roles(
        self, ctx: RequestContext, release_ref: str | None, role: str, users: Sequence[str]
    ) -> RolesResult:
        """Show, or (managers) set, a release's deciders or comms owners."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref, need_active=bool(users))
            roles = announce_repo.roles_by_kind(session=session, release_id=target.release.id or 0)
        if not users:
            named = roles[role]
            return RolesResult(target.view, role, tuple(named or roles["manager"]), not named, False)
        self._require_roles(ctx, target, Action.SET_ROLES, f"choose {_ROLE_WORDS[role]}", roles)
        for user in users:
            self.people.require_active(user)
        if role == "decider":
            _validate_rule(target.release, users)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release, active=True)
            if role == "decider" and release.state != ReleaseState.PLANNING.value:
                raise Conflict(
                    f"{escape_mrkdwn(release.name)} is already decided; its deciders can't change now."
                )
            before = announce_repo.roles_by_kind(session=session, release_id=release.id or 0)[role]
            announce_repo.replace_role(session=session, release_id=release.id or 0, role=role, users=users)
            changed = list(before) != list(dict.fromkeys(users))
            if changed:
                self._audit(session, ctx, release, None, f"set {role}s", _ids(before), _ids(users), now)
                repo.touch_card(session=session, release_id=release.id or 0, now=now)
            view = load_release_view(session=session, release=release)
        if changed:
            self._cards.request(release.id or 0)
        return RolesResult(view, role, tuple(dict.fromkeys(users)), False, changed)

    def set_rule(self, ctx: RequestContext, release_ref: str | None, text: str) -> str:
        """Choose how the vote decides (unanimous, or a quorum); returns the rule in words."""
        rule = parse_rule(text)
        target, roles = self._target_with_roles(ctx, release_ref, None)
        self._require_roles(ctx, target, Action.CONFIGURE, "configure", roles)
        validate_rule(rule, roles["decider"] or roles["manager"])
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release, active=True)
            if release.state != ReleaseState.PLANNING.value:
                raise Conflict(
                    f"{escape_mrkdwn(release.name)} is already decided; its rule can't change now."
                )
            before = release.decision_rule
            release.decision_rule, release.updated_at = rule.stored(), now
            session.add(release)
            self._audit(session, ctx, release, None, "set decision", before, rule.stored(), now)
        return rule.describe()

    # ---- the vote -------------------------------------------------------------------------------------

    def vote(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        choice: str,
        reason: str | None,
        *,
        release_id: int | None = None,
    ) -> VoteResult:
        """A decider's vote; when it completes the decision, the release moves to go or no_go."""
        picked = Choice(choice)
        target, roles = self._target_with_roles(ctx, release_ref, release_id)
        deciders = roles["decider"] or roles["manager"]
        self._check_open(target.release)
        self._require_roles(ctx, target, Action.VOTE, "vote", {**roles, "decider": deciders})
        cleaned = check_vote(picked, reason)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            release = self._locked_release(session, target.release, active=True)
            if release.state != ReleaseState.PLANNING.value:
                raise Conflict(f"{escape_mrkdwn(release.name)} was decided a moment ago; votes are closed.")
            previous = announce_repo.put_vote(
                session=session,
                release_id=release.id or 0,
                user_id=ctx.user_id,
                choice=picked.value,
                reason=cleaned,
                at=now,
            )
            self._audit(session, ctx, release, None, "vote", previous, picked.value, now, cleaned)
            votes = [
                Vote(v.user_id, Choice(v.choice), v.reason, v.at)
                for v in announce_repo.votes_of(session=session, release_id=release.id or 0)
            ]
            decision = decide(votes, deciders, rule_from_stored(release.decision_rule))
            decided = decision.outcome is not Outcome.PENDING
            if decided:
                self._decided(session, ctx, release, decision, now)
            repo.touch_card(session=session, release_id=release.id or 0, now=now)
            view = load_release_view(session=session, release=release)
        self._cards.request(release.id or 0)
        if decided:
            self._announcements.kick()
        return VoteResult(view, picked, previous, decision, decided)

    def may_vote(self, ctx: RequestContext, release_id: int) -> Release:
        """Refuse now what the vote would refuse (not a decider, already decided), before a form is filled."""
        target, roles = self._target_with_roles(ctx, None, release_id)
        self._check_open(target.release)
        self._require_roles(
            ctx, target, Action.VOTE, "vote", {**roles, "decider": roles["decider"] or roles["manager"]}
        )
        return target.release

    def _check_open(self, release: Release) -> None:
        if release.state in (ReleaseState.GO.value, ReleaseState.NO_GO.value):
            raise Conflict(
                f"{escape_mrkdwn(release.name)} was already decided "
                f"({'GO' if release.state == 'go' else 'NO-GO'}); votes are closed. "
                "Rescheduling a NO-GO release opens a new vote."
            )
        if not ReleaseState(release.state).is_active:
            raise Conflict(
                f"{escape_mrkdwn(release.name)} is {release.state.replace('_', ' ')}; "
                "there is nothing to vote on."
            )

    def standing(self, ctx: RequestContext, release_ref: str | None) -> tuple[ReleaseView, Decision, str]:
        """The votes so far, who is still to vote, and the rule."""
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve(session, ctx, release_ref)
            roles = announce_repo.roles_by_kind(session=session, release_id=target.release.id or 0)
            rows = announce_repo.votes_of(session=session, release_id=target.release.id or 0)
        rule = rule_from_stored(target.release.decision_rule)
        votes = [Vote(v.user_id, Choice(v.choice), v.reason, v.at) for v in rows]
        return target.view, decide(votes, roles["decider"] or roles["manager"], rule), rule.describe()

    def _decided(
        self, session: Session, ctx: RequestContext, release: Release, decision: Decision, now: datetime
    ) -> None:
        before = release.state
        release.state = ReleaseState.GO.value if decision.outcome is Outcome.GO else ReleaseState.NO_GO.value
        release.decided_at = now
        release.updated_at = now
        session.add(release)
        summary = "; ".join(
            f"<@{v.user_id}> {v.choice.value}" + (f" ({v.reason})" if v.reason else "")
            for v in decision.votes
        )
        self._audit(session, ctx, release, None, "decide", before, release.state, now, summary[:2000])
        repo.add_card_note(
            session=session,
            release_id=release.id or 0,
            text=f"🗳️ Decision: *{'GO' if release.state == 'go' else 'NO-GO'}*"
            + (" (with risk)" if decision.with_risk else ""),
            now=now,
        )
        if release.state == ReleaseState.NO_GO.value:
            self._announcements.no_go(session, release, now)
        delivery_repo.insert_planned(
            session=session,
            rows=[
                {
                    "key": f"{release.id}:{DECISION}:{release.channel_id}:{now.isoformat()}",
                    "release_id": release.id,
                    "kind": DECISION,
                    "recipient": release.channel_id,
                    "slot": now,
                    "expires_at": now + timedelta(days=1),
                    "item_ids": "",
                    "state": delivery_repo.PENDING,
                    "attempts": 0,
                    "unknown_outcome": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )

    # ---- launch and after ------------------------------------------------------------------------------

    def launch(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        override: str | None,
        *,
        release_id: int | None = None,
    ) -> Launched:
        """Launch when GO with nothing open; a manager may launch past the gate, with a reason."""
        target, roles = self._target_with_roles(ctx, release_ref, release_id)
        self._require_roles(ctx, target, Action.OVERRIDE if override else Action.LAUNCH, "launch", roles)
        release = target.release
        if not ReleaseState(release.state).is_active:
            raise Conflict(
                f"{escape_mrkdwn(release.name)} is {release.state.replace('_', ' ')}; it can't be launched."
            )
        in_the_way = gate(release.state, target.view.items)
        if in_the_way and not override:
            lines = "\n".join(f"• {line}" for line in in_the_way)
            raise Conflict(
                f"{escape_mrkdwn(release.name)} can't launch yet:\n{lines}\n"
                "A release manager may launch anyway with `/release launch override <reason>`."
            )
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = self._locked_release(session, release, active=True)
            if fresh.state != release.state:
                raise Conflict("The release changed while you were launching it; please try again.")
            before = fresh.state
            fresh.state, fresh.launched_at, fresh.updated_at = ReleaseState.LAUNCHED.value, now, now
            if in_the_way:
                fresh.override_by, fresh.override_reason = ctx.user_id, override
            session.add(fresh)
            detail = f"override: {override}; in the way: {'; '.join(in_the_way)}" if in_the_way else None
            self._audit(session, ctx, fresh, None, "launch", before, fresh.state, now, detail)
            note = f"🚀 Launched by <@{ctx.user_id}>"
            if in_the_way:
                note += f", overriding the gate: {escape_mrkdwn(override or '')}"
            repo.add_card_note(session=session, release_id=fresh.id or 0, text=note, now=now)
            self._announcements.launched(session, fresh, now)
            self._close_items(session, fresh, now)
            view = load_release_view(session=session, release=fresh)
        self._cards.request(fresh.id or 0)
        self._announcements.kick()
        return Launched(view, ReleaseState.LAUNCHED, tuple(in_the_way), override if in_the_way else None)

    def rollback(self, ctx: RequestContext, release_ref: str | None, reason: str) -> Launched:
        """A launched release was rolled back: recorded, and the rolled-back announcement offered."""
        return self._close(ctx, release_ref, ReleaseState.ROLLED_BACK, AnnouncementKind.ROLLED_BACK, reason)

    def complete(self, ctx: RequestContext, release_ref: str | None) -> Launched:
        """A launched release is done: recorded, and the completed announcement offered."""
        return self._close(ctx, release_ref, ReleaseState.COMPLETED, AnnouncementKind.COMPLETED, None)

    def _close(
        self,
        ctx: RequestContext,
        release_ref: str | None,
        state: ReleaseState,
        kind: AnnouncementKind,
        reason: str | None,
    ) -> Launched:
        with unit_of_work(self._engine, write=False) as session:
            target = self._resolve_launched(session, ctx, release_ref)
            roles = announce_repo.roles_by_kind(session=session, release_id=target.release.id or 0)
        self._require_roles(ctx, target, Action.CLOSE, "roll back or complete", roles)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            fresh = self._locked_release(session, target.release)
            if fresh.state != ReleaseState.LAUNCHED.value:
                raise Conflict(
                    f"{escape_mrkdwn(fresh.name)} is {fresh.state.replace('_', ' ')}, not launched."
                )
            fresh.state, fresh.closed_reason, fresh.updated_at = state.value, reason, now
            session.add(fresh)
            self._audit(
                session, ctx, fresh, None, state.value.replace("_", " "), "launched", state.value, now, reason
            )
            words = "↩️ Rolled back" if state is ReleaseState.ROLLED_BACK else "🏁 Completed"
            note = f"{words} by <@{ctx.user_id}>" + (f": {escape_mrkdwn(reason)}" if reason else "")
            repo.add_card_note(session=session, release_id=fresh.id or 0, text=note, now=now)
            repo.touch_card(session=session, release_id=fresh.id or 0, now=now)
            self._announcements.closed(session, fresh, kind, now, reason)
            view = load_release_view(session=session, release=fresh)
        self._cards.request(fresh.id or 0)
        self._announcements.kick()
        return Launched(view, state, (), reason)

    # ---- the decision's channel post (a delivery extension) -------------------------------------------

    def plan_due(self, now: datetime) -> int:
        """Decision posts are queued when the decision is made; nothing to plan."""
        return 0

    def contents(self, rows: Sequence[Delivery], now: datetime) -> dict[int, Outgoing | None]:
        """The decision with every vote, from the votes as they stand (they close with the decision)."""
        result: dict[int, Outgoing | None] = {}
        with unit_of_work(self._engine, write=False) as session:
            for row in rows:
                release = repo.get_release(session=session, release_id=row.release_id or 0)
                if release is None or release.state not in ("go", "no_go", "launched"):
                    result[row.id or 0] = None  # decided, then rescheduled or cancelled before it was posted
                    continue
                view = load_release_view(session=session, release=release)
                votes = announce_repo.votes_of(session=session, release_id=release.id or 0)
                roles = announce_repo.roles_by_kind(session=session, release_id=release.id or 0)
                decision = decide(
                    [Vote(v.user_id, Choice(v.choice), v.reason, v.at) for v in votes],
                    roles["decider"] or roles["manager"],
                    rule_from_stored(release.decision_rule),
                )
                result[row.id or 0] = DecisionPost(
                    view,
                    "no_go" if release.state == "no_go" else "go",
                    decision.with_risk,
                    tuple(VoteLine(v.user_id, v.choice.value, v.reason) for v in decision.votes),
                    rule_from_stored(release.decision_rule).describe(),
                    now,
                )
        return result

    def sent(self, row: Delivery, posted: Posted) -> None:
        """Nothing to record beyond the delivery row itself."""

    # ---- helpers ---------------------------------------------------------------------------------------

    def _resolve_launched(self, session: Session, ctx: RequestContext, release_ref: str | None) -> Target:
        """The launched release a command means: launched ones are not active, so look for them by name."""
        if release_ref is not None:
            return self._resolve(session, ctx, release_ref)
        launched = [
            r
            for r in repo.releases_in_channel(session=session, channel_id=ctx.channel_id)
            if r.state == "launched"
        ]
        if not launched:
            raise NotFound(
                'There is no launched release in this channel. Name it: `/release complete "Payments 2.4"`.'
            )
        if len(launched) > 1:
            names = ", ".join(escape_mrkdwn(r.name) for r in launched)
            raise InvalidInput(f"Several releases here are launched ({names}); name the one you mean.")
        return Target(launched[0], self._deps.views.load(session=session, release=launched[0]))

    def _close_items(self, session: Session, release: Release, now: datetime) -> None:
        """Item replies lose their buttons once the release has launched."""
        items = repo.items_of(session=session, release_id=release.id or 0)
        repo.touch_items(session=session, item_ids=[i.id for i in items if i.id], now=now)
        repo.touch_card(session=session, release_id=release.id or 0, now=now)


def gate(state: str, items: Sequence[ItemView]) -> list[str]:
    """What stands between a release and its launch, in words; empty when it may launch."""
    reasons: list[str] = []
    if state != ReleaseState.GO.value:
        reasons.append(
            "the go/no-go vote decided NO-GO"
            if state == ReleaseState.NO_GO.value
            else "the go/no-go vote has not decided GO yet"
        )
    for item in items:
        if not item.state.is_closed:
            reasons.append(
                f"{item.position}. {escape_mrkdwn(item.title)} is {item.state.value.replace('_', ' ')}"
            )
    return reasons


def _validate_rule(release: Release, deciders: Sequence[str]) -> None:
    validate_rule(rule_from_stored(release.decision_rule), list(deciders))


def _ids(users: Sequence[str]) -> str:
    return " ".join(f"<@{u}>" for u in users)[:200]
