"""The domain's vocabulary: states, owners and the plain records the rules work on."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.announcements import PlanEntry


class ReleaseState(enum.StrEnum):
    PLANNING = "planning"
    GO = "go"
    NO_GO = "no_go"
    LAUNCHED = "launched"
    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """Active releases still take changes and count for name uniqueness in a channel."""
        return self in (ReleaseState.PLANNING, ReleaseState.GO, ReleaseState.NO_GO)


class ItemState(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"

    @property
    def is_closed(self) -> bool:
        """Closed items need nothing more from anyone."""
        return self in (ItemState.DONE, ItemState.WAIVED, ItemState.NOT_APPLICABLE)


class OwnerKind(enum.StrEnum):
    USER = "user"
    GROUP = "group"


class SignOffRule(enum.StrEnum):
    ANY = "any"
    ALL = "all"


class AuditSource(enum.StrEnum):
    COMMAND = "command"
    REACTION = "reaction"
    BUTTON = "button"
    MODAL = "modal"
    SCHEDULER = "scheduler"
    ANNOUNCEMENT = "announcement"
    API = "api"


class AuditOutcome(enum.StrEnum):
    APPLIED = "applied"
    NOOP = "no-op"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class Owner:
    """A Slack user (U…/W…) or user group (S…) responsible for an item."""

    kind: OwnerKind
    slack_id: str

    @property
    def mention(self) -> str:
        """Mention markup built from the id, never from user text."""
        if self.kind is OwnerKind.GROUP:
            return f"<!subteam^{self.slack_id}>"
        return f"<@{self.slack_id}>"


@dataclass(frozen=True, slots=True)
class ItemTemplate:
    """One checklist item as a template declares it."""

    key: str
    section: str
    title: str
    description: str
    offset: timedelta  # relative to launch; negative means before it
    evidence_required: bool = False
    role: str | None = None
    sign_off: SignOffRule = SignOffRule.ANY


@dataclass(frozen=True, slots=True)
class ReminderDefaults:
    """A template's (or a release's) reminder timing; None everywhere means the built-in ladder."""

    heads_up_days: int | None = None  # working days before the due reminder; 0 turns heads-ups off
    overdue_daily: bool | None = None  # overdue reminders every working day, or once
    escalate_after_hours: float | None = None  # working hours overdue before managers hear of it
    final_call: timedelta | None = None  # before launch; a negative value means no final call
    summary: tuple[timedelta, ...] | None = None  # readiness summaries, before launch


@dataclass(frozen=True, slots=True)
class ChecklistTemplate:
    """A named, validated checklist: the items a release starts with."""

    name: str
    title: str
    items: tuple[ItemTemplate, ...]
    source: str = ""  # file it came from, for error messages
    reminders: ReminderDefaults = ReminderDefaults()
    announcements: tuple[PlanEntry, ...] | None = None  # None: the default plan


@dataclass(slots=True)
class ItemView:
    """What rendering and readiness need to know about an item."""

    position: int
    key: str
    section: str
    title: str
    description: str
    state: ItemState
    due_at: datetime
    offset: timedelta
    owners: list[Owner] = field(default_factory=list)
    reason: str | None = None
    evidence: str | None = None
    evidence_required: bool = False
    signed_off_by: str | None = None
    signed_off_at: datetime | None = None
    id: int | None = None  # the database id, for buttons that name the item
    signed: tuple[str, ...] = ()  # every-owner items: who has signed so far

    def is_overdue(self, now: datetime) -> bool:
        """Open work past its due time."""
        return not self.state.is_closed and self.due_at < now


@dataclass(slots=True)
class ReleaseView:
    """A release with its items, as the card and status show it."""

    id: int
    name: str
    channel_id: str
    launch_at: datetime
    timezone: str
    state: ReleaseState
    template: str
    managers: list[str]
    items: list[ItemView]
    created_by: str
    override_by: str | None = None  # a manager launched past the gate
    override_reason: str | None = None
    launched_at: datetime | None = None
