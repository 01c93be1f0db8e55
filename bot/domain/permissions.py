"""Who may do what: one table, checked server-side on every path."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OWNER = "owner"
    DECIDER = "decider"
    COMMS = "comms"
    MANAGER = "manager"
    ADMIN = "admin"


class Action(enum.StrEnum):
    CREATE_RELEASE = "create_release"
    VIEW = "view"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    START = "start"
    SIGN_OFF = "sign_off"
    REOPEN = "reopen"
    BLOCK = "block"
    NOT_APPLICABLE = "not_applicable"
    WAIVE = "waive"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    CONFIGURE = "configure"
    SET_ROLES = "set_roles"
    VOTE = "vote"
    LAUNCH = "launch"
    OVERRIDE = "override"
    CLOSE = "close"  # roll back or complete a launched release
    PLAN_ANNOUNCEMENTS = "plan_announcements"
    APPROVE_ANNOUNCEMENT = "approve_announcement"
    EXPORT = "export"


_EVERYONE = frozenset(Role)
_WORKERS = frozenset({Role.OWNER, Role.MANAGER, Role.ADMIN})
_MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
_DECIDERS = frozenset({Role.DECIDER})
_COMMS = frozenset({Role.COMMS, Role.MANAGER, Role.ADMIN})

# The whole policy. The README shows this table; a test checks every cell.
POLICY: dict[Action, frozenset[Role]] = {
    Action.CREATE_RELEASE: _EVERYONE,
    Action.VIEW: _EVERYONE,
    Action.ASSIGN: _MANAGERS,
    Action.UNASSIGN: _MANAGERS,
    Action.START: _WORKERS,
    Action.SIGN_OFF: _WORKERS,
    Action.REOPEN: _WORKERS,
    Action.BLOCK: _WORKERS,
    Action.NOT_APPLICABLE: _MANAGERS,
    Action.WAIVE: _MANAGERS,
    Action.RESCHEDULE: _MANAGERS,
    Action.CANCEL: _MANAGERS,
    Action.CONFIGURE: _MANAGERS,
    Action.SET_ROLES: _MANAGERS,
    # A vote is a person's own judgement: being a manager or an admin does not make one a decider.
    Action.VOTE: _DECIDERS,
    Action.LAUNCH: _MANAGERS,
    Action.OVERRIDE: _MANAGERS,
    Action.CLOSE: _MANAGERS,
    Action.PLAN_ANNOUNCEMENTS: _MANAGERS,
    Action.APPROVE_ANNOUNCEMENT: _COMMS,
    Action.EXPORT: _EVERYONE,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting, as the signed Slack payload names them."""

    user_id: str
    team_id: str | None = None


def roles_of(
    actor: Actor,
    *,
    managers: Collection[str],
    owners: Collection[str] = (),
    admins: Collection[str] = (),
    home_team: str | None = None,
    deciders: Collection[str] = (),
    comms: Collection[str] = (),
) -> frozenset[Role]:
    """The roles an actor holds for one release (and one item, through `owners`)."""
    if home_team and actor.team_id and actor.team_id != home_team:
        # Slack Connect guests from another workspace can look but not act.
        return frozenset({Role.VIEWER})
    roles = {Role.VIEWER}
    if actor.user_id in owners:
        roles.add(Role.OWNER)
    if actor.user_id in managers:
        roles.add(Role.MANAGER)
    if actor.user_id in deciders:
        roles.add(Role.DECIDER)
    if actor.user_id in comms:
        roles.add(Role.COMMS)
    if actor.user_id in admins:
        roles.add(Role.ADMIN)
    return frozenset(roles)


def allowed(action: Action, roles: Collection[Role]) -> bool:
    """Whether any of the roles may perform the action."""
    return bool(POLICY[action].intersection(roles))


# What each action is called in a refusal: "Only … can <words> <item>."
ACTION_WORDS = {
    Action.CREATE_RELEASE: "create releases in",
    Action.VIEW: "see",
    Action.ASSIGN: "assign owners to",
    Action.UNASSIGN: "remove owners from",
    Action.START: "start",
    Action.SIGN_OFF: "sign off",
    Action.REOPEN: "reopen",
    Action.BLOCK: "block",
    Action.NOT_APPLICABLE: "mark as not applicable",
    Action.WAIVE: "waive",
    Action.RESCHEDULE: "reschedule",
    Action.CANCEL: "cancel",
    Action.CONFIGURE: "change the settings of",
    Action.SET_ROLES: "choose the deciders and comms owners of",
    Action.VOTE: "vote on",
    Action.LAUNCH: "launch",
    Action.OVERRIDE: "override the launch gate of",
    Action.CLOSE: "roll back or complete",
    Action.PLAN_ANNOUNCEMENTS: "change the announcement plan of",
    Action.APPROVE_ANNOUNCEMENT: "approve, edit, post or skip the announcements of",
    Action.EXPORT: "export",
}


def who_may(action: Action) -> str:
    """Plain words for the roles that may perform an action, for refusals."""
    names = {
        Role.OWNER: "the item's owners",
        Role.DECIDER: "the release's deciders",
        Role.COMMS: "the release's comms owners",
        Role.MANAGER: "the release managers",
        Role.ADMIN: "admins",
    }
    allowed_roles = [names[r] for r in names if r in POLICY[action]]
    if Role.VIEWER in POLICY[action]:
        return "anyone"
    return " or ".join(allowed_roles)
