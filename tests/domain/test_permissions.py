"""The permission table, cell by cell, and the item state machine."""

from __future__ import annotations

import pytest

from bot.domain.errors import Conflict
from bot.domain.model import ItemState
from bot.domain.permissions import POLICY, Action, Actor, Role, allowed, roles_of, who_may
from bot.domain.transitions import RULES, Move, next_state

V, OW, M, A = Role.VIEWER, Role.OWNER, Role.MANAGER, Role.ADMIN
D, C = Role.DECIDER, Role.COMMS

# The README's table, written out: action -> roles that may.
EXPECTED = {
    Action.CREATE_RELEASE: {V, OW, D, C, M, A},
    Action.VIEW: {V, OW, D, C, M, A},
    Action.EXPORT: {V, OW, D, C, M, A},
    Action.VOTE: {D},
    Action.APPROVE_ANNOUNCEMENT: {C, M, A},
    Action.SET_ROLES: {M, A},
    Action.LAUNCH: {M, A},
    Action.OVERRIDE: {M, A},
    Action.CLOSE: {M, A},
    Action.PLAN_ANNOUNCEMENTS: {M, A},
    Action.START: {OW, M, A},
    Action.SIGN_OFF: {OW, M, A},
    Action.REOPEN: {OW, M, A},
    Action.BLOCK: {OW, M, A},
    Action.ASSIGN: {M, A},
    Action.UNASSIGN: {M, A},
    Action.NOT_APPLICABLE: {M, A},
    Action.WAIVE: {M, A},
    Action.RESCHEDULE: {M, A},
    Action.CANCEL: {M, A},
    Action.CONFIGURE: {M, A},
}


def test_every_action_is_in_the_table() -> None:
    assert set(POLICY) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_each_cell(action: Action, role: Role) -> None:
    assert allowed(action, {role}) is (role in EXPECTED[action])


def test_roles_come_from_managers_owners_and_admins() -> None:
    kw = {"managers": ["UM"], "owners": ["UO"], "admins": ["UA"], "home_team": "T1"}
    assert roles_of(Actor("UM", "T1"), **kw) == {V, M}
    assert roles_of(Actor("UO", "T1"), **kw) == {V, OW}
    assert roles_of(Actor("UA", "T1"), **kw) == {V, A}
    assert roles_of(Actor("UX", "T1"), **kw) == {V}
    assert roles_of(Actor("UD", "T1"), deciders=["UD"], comms=["UD"], managers=[]) == {V, D, C}


def test_slack_connect_users_from_another_team_are_viewers_whatever_they_hold() -> None:
    roles = roles_of(Actor("UM", "T_OTHER"), managers=["UM"], owners=["UM"], admins=["UM"], home_team="T1")
    assert roles == {V}
    assert not allowed(Action.SIGN_OFF, roles)


def test_refusals_name_who_may() -> None:
    assert who_may(Action.SIGN_OFF) == "the item's owners or the release managers or admins"
    assert who_may(Action.WAIVE) == "the release managers or admins"
    assert who_may(Action.VIEW) == "anyone"
    assert who_may(Action.VOTE) == "the release's deciders"
    assert (
        who_may(Action.APPROVE_ANNOUNCEMENT) == "the release's comms owners or the release managers or admins"
    )


@pytest.mark.parametrize(
    ("move", "state", "expected"),
    [
        (Move.START, ItemState.OPEN, ItemState.IN_PROGRESS),
        (Move.START, ItemState.BLOCKED, ItemState.IN_PROGRESS),
        (Move.DONE, ItemState.OPEN, ItemState.DONE),
        (Move.DONE, ItemState.BLOCKED, ItemState.DONE),
        (Move.DONE, ItemState.DONE, None),
        (Move.UNDO, ItemState.DONE, ItemState.OPEN),
        (Move.UNDO, ItemState.WAIVED, ItemState.OPEN),
        (Move.UNDO, ItemState.OPEN, None),
        (Move.BLOCK, ItemState.IN_PROGRESS, ItemState.BLOCKED),
        (Move.WAIVE, ItemState.BLOCKED, ItemState.WAIVED),
        (Move.NOT_APPLICABLE, ItemState.OPEN, ItemState.NOT_APPLICABLE),
    ],
)
def test_moves(move: Move, state: ItemState, expected: ItemState | None) -> None:
    assert next_state(move, state, title="X") == expected


@pytest.mark.parametrize(
    ("move", "state"),
    [(Move.DONE, ItemState.WAIVED), (Move.BLOCK, ItemState.DONE), (Move.START, ItemState.DONE)],
)
def test_impossible_moves_say_how_to_get_there(move: Move, state: ItemState) -> None:
    with pytest.raises(Conflict, match="undo"):
        next_state(move, state, title="X")


def test_every_move_names_a_permission() -> None:
    assert {rule.action for rule in RULES.values()} <= set(Action)


def test_every_action_has_words_for_refusals() -> None:
    from bot.domain.permissions import ACTION_WORDS

    assert set(ACTION_WORDS) == set(Action)
