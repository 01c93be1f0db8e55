"""A write leaves the release's view in the cache, and that view is exactly what the database now holds.

Assigning and unassigning read that one item again instead of the whole release, and moving an item reads
nothing, taking what its compare-and-set wrote (`ViewCache.after_item_change`). These tests check the
shortcut against the long way after every kind of change, that the next read is answered from the cache,
and that a change made by another replica in between makes the writer read the whole release instead of
patching a view that is no longer current.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import event, update
from sqlmodel import col

from bot.domain.model import Owner, OwnerKind, ReleaseView, SignOffRule
from bot.domain.permissions import Actor
from bot.domain.transitions import Move
from bot.domain.when import parse_when
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import TEAM_ID
from bot.services.context import RequestContext
from bot.services.views import load_release_view_by_id
from bot.wiring import Runtime
from storage import repo
from storage.db import unit_of_work
from storage.tables import ChecklistItem
from tests.storage.conftest import two_replicas

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
CHANNEL = "CRELEASES"
DEPENDENCY_CHECK, ROLLBACK_PLAN = "8", "7"  # the rollback plan needs evidence to be done


@pytest.fixture
def replicas(emulator: SlackEmulator, database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two processes' worth of services on one database, each with its own view cache."""
    with two_replicas(emulator, database_url) as pair:
        yield pair


def ctx(user: str = MAYA) -> RequestContext:
    return RequestContext(actor=Actor(user, TEAM_ID), channel_id=CHANNEL)


def new_release(rt: Runtime) -> int:
    view = rt.services.releases.create(
        ctx(), name="Payments 2.4", when=parse_when("+14d"), channel_id=None, template=None
    )
    return view.id


def from_database(rt: Runtime, release_id: int) -> ReleaseView:
    with unit_of_work(rt.engine, write=False) as session:
        return load_release_view_by_id(session=session, release_id=release_id)


class Statements:
    """Statements that read items or owners, counted while a block runs."""

    def __init__(self, rt: Runtime) -> None:
        self.engine = rt.engine.sync_engine if hasattr(rt.engine, "sync_engine") else rt.engine
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement: str, *_rest) -> None:
        self.seen.append(statement)

    @property
    def item_reads(self) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith("SELECT") and "checklist_item" in s]


def status_is_current(rt: Runtime, release_id: int) -> None:
    """`/release status` answers from the cache, and what it shows is what the database holds."""
    with Statements(rt) as statements:
        shown = rt.services.releases.status(ctx(), None)
    assert statements.item_reads == [], "the write should have left this version's view in the cache"
    assert shown == from_database(rt, release_id)


def test_each_kind_of_item_change_leaves_the_view_the_database_holds(replicas) -> None:
    rt, _ = replicas
    release_id = new_release(rt)
    rt.services.releases.status(ctx(), None)  # the view of the new release, cached

    ana, bob = Owner(OwnerKind.USER, ANA), Owner(OwnerKind.USER, BOB)
    rt.services.items.assign(ctx(), None, DEPENDENCY_CHECK, [ana, bob])
    status_is_current(rt, release_id)
    rt.services.items.unassign(ctx(), None, DEPENDENCY_CHECK, [bob])
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(ANA), None, DEPENDENCY_CHECK, Move.START)
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.BLOCK, "waiting for the vendor")
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(ANA), None, DEPENDENCY_CHECK, Move.DONE, "PR 42")
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.UNDO)
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.WAIVE, "not needed this time")
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.UNDO)
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.NOT_APPLICABLE, "no new dependencies")
    status_is_current(rt, release_id)
    rt.services.items.transition(ctx(), None, DEPENDENCY_CHECK, Move.UNDO)
    status_is_current(rt, release_id)
    view = rt.services.releases.status(ctx(), None)
    item = next(i for i in view.items if str(i.position) == DEPENDENCY_CHECK)
    assert item.owners == [ana] and item.signed_off_by is None and item.reason is None


def test_owner_changes_keep_the_order_the_database_keeps(replicas) -> None:
    """An owner change patches the cached view without reading the item: the order must still be the rows'."""
    rt, _ = replicas
    release_id = new_release(rt)
    rt.services.releases.status(ctx(), None)
    ana, bob, qa = Owner(OwnerKind.USER, ANA), Owner(OwnerKind.USER, BOB), Owner(OwnerKind.GROUP, "S0QA00001")
    rt.services.items.assign(ctx(), None, ROLLBACK_PLAN, [bob])
    rt.services.items.assign(ctx(), None, ROLLBACK_PLAN, [qa, ana, bob])  # bob already owns it
    status_is_current(rt, release_id)
    rt.services.items.unassign(
        ctx(), None, ROLLBACK_PLAN, [qa, Owner(OwnerKind.USER, MAYA)]
    )  # maya never did
    status_is_current(rt, release_id)
    rt.services.items.assign(ctx(), None, ROLLBACK_PLAN, [qa])
    status_is_current(rt, release_id)
    item = next(i for i in rt.services.releases.status(ctx(), None).items if str(i.position) == ROLLBACK_PLAN)
    assert item.owners == [bob, ana, qa]


def test_status_of_the_channels_release_reads_its_version_and_nothing_else(replicas) -> None:
    """The usual `/release status`: one release in the channel, its view cached at the version it has."""
    rt, other = replicas
    release_id = new_release(rt)
    rt.services.releases.status(ctx(), None)
    with Statements(rt) as statements:
        shown = rt.services.releases.status(ctx(), None)
    assert len(statements.seen) == 1, statements.seen  # one SELECT, without a BEGIN around it
    assert "card_version" in statements.seen[0] and "release.name" not in statements.seen[0]
    assert shown == from_database(rt, release_id)
    # Another replica's change moves the version: the cached view is not the answer any more.
    other.services.items.assign(ctx(), None, ROLLBACK_PLAN, [Owner(OwnerKind.USER, BOB)])
    shown = rt.services.releases.status(ctx(), None)
    assert shown == from_database(rt, release_id)
    assert next(i for i in shown.items if i.position == 7).owners == [Owner(OwnerKind.USER, BOB)]


def signed_by_both(rt: Runtime, release_id: int) -> None:
    """The rollback plan (item 7) owned by ana and bob, each of whom must sign it off."""
    rt.services.items.assign(
        ctx(), None, ROLLBACK_PLAN, [Owner(OwnerKind.USER, ANA), Owner(OwnerKind.USER, BOB)]
    )
    with unit_of_work(rt.engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(ChecklistItem)
            .where(col(ChecklistItem.release_id) == release_id, col(ChecklistItem.position) == 7)
            .values(sign_off_rule=SignOffRule.ALL.value)
        )
        repo.touch_card(session=session, release_id=release_id, now=rt.services.items._clock.now())


def test_every_owner_signatures_show_in_the_cached_view(replicas) -> None:
    rt, _ = replicas
    release_id = new_release(rt)
    bob = Owner(OwnerKind.USER, BOB)
    signed_by_both(rt, release_id)

    first = rt.services.items.transition(ctx(ANA), None, ROLLBACK_PLAN, Move.DONE, "runbook v3")
    assert first.waiting_for == (bob,)
    rt.services.releases.status(ctx(), None)
    last = rt.services.items.transition(ctx(BOB), None, ROLLBACK_PLAN, Move.DONE, "runbook v3")
    assert last.changed
    status_is_current(rt, release_id)
    item = next(i for i in from_database(rt, release_id).items if i.position == 7)
    assert item.signed == (ANA, BOB)
    rt.services.items.transition(ctx(), None, ROLLBACK_PLAN, Move.UNDO)
    status_is_current(rt, release_id)


def test_a_change_by_another_replica_in_between_is_not_lost(replicas) -> None:
    first, second = replicas
    release_id = new_release(first)
    first.services.releases.status(ctx(), None)

    def other_replica_writes() -> None:
        # Between the first replica's read of the release and its own write.
        second.services.items.assign(ctx(), None, ROLLBACK_PLAN, [Owner(OwnerKind.USER, BOB)])

    first.services.items._clock = ClockWithHook(
        first.services.items._clock, "_change_owners", other_replica_writes
    )
    first.services.items.assign(ctx(), None, DEPENDENCY_CHECK, [Owner(OwnerKind.USER, ANA)])

    for rt in (first, second):
        shown = rt.services.releases.status(ctx(), None)
        assert shown == from_database(rt, release_id)
    owners = {i.position: i.owners for i in shown.items}
    assert owners[7] == [Owner(OwnerKind.USER, BOB)] and owners[8] == [Owner(OwnerKind.USER, ANA)]


class ClockWithHook:
    """The service's clock, which runs `hook` once when `caller` first asks it the time."""

    def __init__(self, clock, caller: str, hook) -> None:
        self._clock, self._caller, self._hook = clock, caller, hook

    def now(self):
        if self._hook is not None and sys._getframe(1).f_code.co_name == self._caller:
            hook, self._hook = self._hook, None
            hook()
        return self._clock.now()


def test_a_change_by_this_process_in_between_is_built_on_its_view(replicas) -> None:
    """A burst of sign-offs: another change of this process lands between a writer's read and its write.

    That change left its view in the cache, so the writer reads its own item again on top of it instead of
    the whole release, and still ends with what the database holds, the other change included.
    """
    rt, _ = replicas
    release_id = new_release(rt)
    rt.services.items.assign(ctx(), None, DEPENDENCY_CHECK, [Owner(OwnerKind.USER, ANA)])
    rt.services.releases.status(ctx(), None)

    def same_process_writes() -> None:
        rt.services.items.transition(ctx(), None, ROLLBACK_PLAN, Move.BLOCK, "waiting for the DBA")

    rt.services.items._clock = ClockWithHook(rt.services.items._clock, "_apply", same_process_writes)
    with Statements(rt) as statements:
        done = rt.services.items.transition(ctx(ANA), None, DEPENDENCY_CHECK, Move.DONE, "PR 42")
    assert done.changed
    whole_release = [s for s in statements.item_reads if "WHERE checklist_item.release_id" in s]
    assert whole_release == [], "the view the other change left should have been the starting point"
    # The two items found to act on, then the signed-off one read again on top of the other change's view.
    assert len(statements.item_reads) == 3, statements.item_reads
    status_is_current(rt, release_id)
    states = {i.position: i.state.value for i in from_database(rt, release_id).items}
    assert (states[7], states[8]) == ("blocked", "done")


def test_two_owners_signing_at_once_leave_the_item_done(replicas) -> None:
    """An item every owner signs: the second signature is decided while the first is being written.

    Deciding from signatures read before the first one landed, the second signer would see the first still
    missing, record a partial signature too, and leave an item both owners signed open for good.
    """
    rt, other = replicas
    release_id = new_release(rt)
    signed_by_both(rt, release_id)

    def ana_signs_on_another_replica() -> None:
        first = other.services.items.transition(ctx(ANA), None, ROLLBACK_PLAN, Move.DONE, "runbook v3")
        assert first.waiting_for == (Owner(OwnerKind.USER, BOB),)

    rt.services.items._clock = ClockWithHook(rt.services.items._clock, "_apply", ana_signs_on_another_replica)
    last = rt.services.items.transition(ctx(BOB), None, ROLLBACK_PLAN, Move.DONE, "runbook v3")

    assert last.changed and not last.waiting_for
    item = next(i for i in from_database(rt, release_id).items if i.position == 7)
    assert (item.state.value, item.signed) == ("done", (ANA, BOB))
    status_is_current(rt, release_id)
