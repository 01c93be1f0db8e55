"""Item use cases: owners and state changes, from commands, reactions, buttons and modals alike."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.model import AuditOutcome, AuditSource, ItemState, Owner, OwnerKind, SignOffRule
from bot.domain.notes import state_change_note
from bot.domain.permissions import Action, Role
from bot.domain.transitions import RULES, Move, next_state
from bot.services.base import ServiceBase, Target
from bot.services.context import RequestContext
from bot.services.results import FollowUp, ItemChange, OwnersChange
from storage import delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import ChecklistItem

log = logging.getLogger(__name__)

# A check run inside the write transaction, before anything changes; False turns the request into a no-op.
Guard = Callable[[Session, int], bool]

# Re-reads after losing a compare-and-set race; more than this means something is thrashing the row.
_ATTEMPTS = 4


class ItemService(ServiceBase):
    """Owners and state changes of checklist items."""

    # ---- owners ----------------------------------------------------------------------------------

    def assign(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, owners: Sequence[Owner]
    ) -> OwnersChange:
        """Add owners (people or user groups) to an item named in a command."""
        self._validate_owners(owners)
        return self._change_owners(
            ctx, lambda s: self._resolve(s, ctx, release_ref, item_ref, need_active=True), owners, add=True
        )

    def unassign(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, owners: Sequence[Owner]
    ) -> OwnersChange:
        """Remove owners from an item named in a command."""
        return self._change_owners(
            ctx, lambda s: self._resolve(s, ctx, release_ref, item_ref, need_active=True), owners, add=False
        )

    def assign_item(self, ctx: RequestContext, item_id: int, owners: Sequence[Owner]) -> OwnersChange:
        """Add owners to an item picked by id (the assign modal)."""
        self._validate_owners(owners)
        return self._change_owners(ctx, lambda s: self._target_of_item(s, item_id), owners, add=True)

    # ---- state changes ---------------------------------------------------------------------------

    def transition(
        self, ctx: RequestContext, release_ref: str | None, item_ref: str, move: Move, note: str | None = None
    ) -> ItemChange:
        """Move an item named in a command (start, done, undo, n/a, block, waive)."""
        return self._transition(
            ctx, lambda s: self._resolve(s, ctx, release_ref, item_ref, need_active=True), move, note
        )

    def transition_item(
        self,
        ctx: RequestContext,
        item_id: int,
        move: Move,
        note: str | None = None,
        *,
        guard: Guard | None = None,
    ) -> ItemChange:
        """Move an item picked by id (a reaction, a button or a modal); `guard` may veto inside the write."""
        return self._transition(ctx, lambda s: self._target_of_item(s, item_id), move, note, guard)

    def describe_item(self, item_id: int) -> Target:
        """An item and its release, for building a modal about it."""
        with unit_of_work(self._engine, write=False) as session:
            return self._target_of_item(session, item_id, need_active=False)

    # ---- the machinery ---------------------------------------------------------------------------

    def _transition(
        self,
        ctx: RequestContext,
        find: Callable[[Session], Target],
        move: Move,
        note: str | None,
        guard: Guard | None = None,
    ) -> ItemChange:
        for _attempt in range(_ATTEMPTS):
            with unit_of_work(self._engine, write=False) as session:
                target = find(session)
                signed = repo.signoffs_of(session=session, item_id=target.item.id or 0) if target.item else []
            roles = self._require(ctx, target, RULES[move].action, move.value)
            try:
                result = self._apply(ctx, target, move, note, roles, signed, guard)
            except IntegrityError:
                continue  # a concurrent duplicate inserted the same event or signature first: re-read
            if result is not None:
                return result
        raise Conflict("That item is changing quickly right now; please try again.")

    def _apply(
        self,
        ctx: RequestContext,
        target: Target,
        move: Move,
        note: str | None,
        roles: frozenset[Role],
        signed: list[str],
        guard: Guard | None,
    ) -> ItemChange | None:
        """One attempt: decide from what was read, then compare-and-set. None means the read was stale."""
        item, release = target.item, target.release
        assert item is not None and item.id is not None and release.id is not None
        before = ItemState(item.state)
        after = next_state(move, before, title=item.title)
        if after is None and move is Move.BLOCK and note and note != item.reason:
            after = before  # still blocked, for a reason given now (after a ⛔ reaction) or a new one
        now = self._clock.now()
        every_owner = move is Move.DONE and item.sign_off_rule == SignOffRule.ALL.value
        waiting: tuple[Owner, ...] = ()
        if after is not None:
            values = self._values(move, item, after, ctx, note)
        with unit_of_work(self._engine) as session:
            if ctx.event_id and not repo.record_event(session=session, event_id=ctx.event_id, now=now):
                return _result(target, before, before, changed=False, duplicate=True)
            if guard is not None and not guard(session, item.id):
                return _result(target, before, before, changed=False, duplicate=True)
            if after is None:
                self._audit(
                    session,
                    ctx,
                    release,
                    item,
                    move.value,
                    before.value,
                    before.value,
                    now,
                    outcome=AuditOutcome.NOOP,
                )
                return _result(target, before, before, changed=False)
            signatures = tuple(signed)
            if every_owner and Role.MANAGER not in roles and Role.ADMIN not in roles:
                if repo.add_signoff(session=session, item_id=item.id, user_id=ctx.user_id, now=now):
                    signatures = (*signatures, ctx.user_id)
                waiting = self._unsigned(ctx, target, [*signed, ctx.user_id])
                if waiting:
                    # Decided from signatures read before this transaction, with no state to compare and
                    # set: two owners signing at once would each wait for the other, and the item would stay
                    # open with every signature. So it holds only if nobody changed the item since.
                    if not repo.touch_item_if_unchanged(
                        session=session, item_id=item.id, version=item.version, now=now
                    ):
                        session.rollback()
                        return None
                    self._audit(
                        session, ctx, release, item, "sign_off_part", before.value, before.value, now, note
                    )
                    repo.touch_card(session=session, release_id=release.id, now=now)
                    self._cards.request(release.id)
                    return _result(target, before, before, changed=False, waiting=waiting)
            if not _compare_and_set(session, item.id, before, values, now):
                session.rollback()
                return None
            if move is Move.UNDO:
                repo.remove_signoffs(session=session, item_id=item.id)
                signatures = ()
            if after.is_closed:
                # Reminders about this item alone are pointless now; cancel them with the change.
                delivery_repo.cancel_pending(session=session, now=now, reason="item closed", item_id=item.id)
            self._audit(session, ctx, release, item, move.value, before.value, after.value, now, note)
            version = repo.touch_card(session=session, release_id=release.id, now=now)
            repo.add_card_note(
                session=session,
                release_id=release.id,
                text=state_change_note(ctx.user_id, item.position, item.title, before, after, note),
                now=now,
            )
            view = self._deps.views.after_item_change(
                session=session,
                release=release,
                before=target.view,
                version=version,
                item_id=item.id,
                written=(values, signatures),
            )
        # Committed: the next request about this release (often the next sign-off) starts from this view.
        self._deps.views.remember(release.id, version, view)
        self._cards.request(release.id)
        return ItemChange(view, item.id, item.position, item.title, before, after, True, note or "")

    def _unsigned(self, ctx: RequestContext, target: Target, signed: list[str]) -> tuple[Owner, ...]:
        """Owners of an every-owner item who have not signed (a group signs through any member)."""
        waiting = []
        for owner in target.owners or []:
            if owner.kind == OwnerKind.USER.value and owner.slack_id not in signed:
                waiting.append(Owner(OwnerKind.USER, owner.slack_id))
            elif owner.kind == OwnerKind.GROUP.value:
                members = set(self._directory.usergroup_members(owner.slack_id) or [])
                if not members.intersection(signed):
                    waiting.append(Owner(OwnerKind.GROUP, owner.slack_id))
        return tuple(waiting)

    def _values(
        self, move: Move, item: ChecklistItem, after: ItemState, ctx: RequestContext, note: str | None
    ) -> dict[str, object]:
        """Column values for the new state, checking what the move needs (a reason, evidence)."""
        values: dict[str, object] = {"state": after.value}
        if move is Move.WAIVE or (move is Move.BLOCK and ctx.source is not AuditSource.REACTION):
            if not note:
                raise InvalidInput(f"Say why: `/release {move.value} {item.position} <reason>`.")
            values["reason"] = note
        elif move is Move.BLOCK:
            values["reason"] = note  # a ⛔ reaction blocks at once; the reason is asked for next
        elif move is Move.DONE:
            evidence = note or item.evidence
            if item.evidence_required and not evidence:
                raise EvidenceNeeded(item)
            values.update(evidence=evidence, signed_off_by=ctx.user_id, signed_off_at=self._clock.now())
        elif move is Move.UNDO:
            values.update(reason=None, signed_off_by=None, signed_off_at=None)
        elif move is Move.NOT_APPLICABLE:
            values["reason"] = note
        elif move is Move.START and item.state == ItemState.BLOCKED.value:
            values["reason"] = None
        return values

    def _change_owners(
        self, ctx: RequestContext, find: Callable[[Session], Target], owners: Sequence[Owner], *, add: bool
    ) -> OwnersChange:
        with unit_of_work(self._engine, write=False) as session:
            target = find(session)
        action = Action.ASSIGN if add else Action.UNASSIGN
        self._require(ctx, target, action, action.value)
        item, release = target.item, target.release
        assert item is not None and item.id is not None and release.id is not None
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            current_rows = repo.owners_of_item(session=session, item_id=item.id)
            current = {(o.kind, o.slack_id) for o in current_rows}
            wanted = [(o.kind.value, o.slack_id) for o in owners]
            changed = [w for w in wanted if (w not in current) == add]
            if add:
                repo.add_owners(session=session, item_id=item.id, owners=changed)
            else:
                repo.remove_owners(session=session, item_id=item.id, owners=changed)
            view, version = target.view, None
            if changed:
                names = " ".join(Owner(OwnerKind(k), s).mention for k, s in changed)
                self._audit(session, ctx, release, item, action.value, None, None, now, names)
                repo.touch_items(session=session, item_ids=[item.id], now=now)
                version = repo.touch_card(session=session, release_id=release.id, now=now)
                # Owners are kept in the order they were added: new ones last, removed ones simply gone.
                kept, gone = [(o.kind, o.slack_id) for o in current_rows], set(changed)
                after = kept + changed if add else [o for o in kept if o not in gone]
                view = self._deps.views.after_item_change(
                    session=session,
                    release=release,
                    before=target.view,
                    version=version,
                    item_id=item.id,
                    owners=[Owner(OwnerKind(k), s) for k, s in after],
                )
        if changed:
            self._deps.views.remember(release.id, version, view)
            self._cards.request(release.id)
        moved = set(changed)
        done = tuple(o for o in owners if (o.kind.value, o.slack_id) in moved)
        unchanged = tuple(o for o in owners if (o.kind.value, o.slack_id) not in moved)
        return OwnersChange(
            view, item.position, item.title, done if add else (), () if add else done, unchanged
        )

    def _validate_owners(self, owners: Sequence[Owner]) -> None:
        """Every owner must be an active person or an existing user group."""
        for owner in owners:
            if owner.kind is OwnerKind.GROUP:
                if self._directory.usergroup_members(owner.slack_id) is None:
                    # The id as text, not as a mention: a group that doesn't exist is no one to mention,
                    # and a live <!subteam^…> made from whatever id was sent is what hostile input wants.
                    raise NotFound(f"I couldn't find the user group `{owner.slack_id}` in this workspace.")
            else:
                self.people.require_active(owner.slack_id)


class EvidenceNeeded(InvalidInput):
    """Signing off this item needs a link or note first."""

    def __init__(self, item: ChecklistItem) -> None:
        super().__init__(
            f"{item.title} needs evidence before it is done (a link, a ticket or a backup id): "
            f"`/release done {item.position} <evidence>`."
        )
        self.item_id = item.id


def _result(
    target: Target,
    before: ItemState,
    after: ItemState,
    *,
    changed: bool,
    duplicate: bool = False,
    waiting: tuple[Owner, ...] = (),
    follow_up: FollowUp = FollowUp.NONE,
) -> ItemChange:
    item = target.item
    assert item is not None and item.id is not None
    return ItemChange(
        target.view,
        item.id,
        item.position,
        item.title,
        before,
        after,
        changed,
        follow_up=follow_up,
        waiting_for=waiting,
        duplicate=duplicate,
    )


def _compare_and_set(
    session: Session, item_id: int, expected: ItemState, values: dict[str, object], now: object
) -> bool:
    """Apply the new state only if the item is still in the state we decided from."""
    result = session.exec(  # type: ignore[call-overload]
        update(ChecklistItem)
        .where(col(ChecklistItem.id) == item_id, col(ChecklistItem.state) == expected.value)
        .values(**values, version=ChecklistItem.version + 1, updated_at=now)
    )
    return (result.rowcount or 0) == 1
