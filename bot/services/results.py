"""What service calls return to the Slack layer: plain data, rendered by bot/slack."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.model import ItemState, ItemView, Owner, ReleaseView
from bot.domain.reminders import Reason, SendKind


class FollowUp(enum.StrEnum):
    """What the person should be asked next, when a change needs more from them."""

    NONE = "none"
    BLOCK_REASON = "block_reason"  # a ⛔ reaction blocked the item; ask why
    EVIDENCE = "evidence"  # a ✅ on an item that needs evidence; ask for it


@dataclass(frozen=True, slots=True)
class ItemChange:
    """What a request did to one item."""

    release: ReleaseView
    item_id: int
    position: int
    title: str
    before: ItemState
    after: ItemState
    changed: bool
    detail: str = ""
    follow_up: FollowUp = FollowUp.NONE
    waiting_for: tuple[Owner, ...] = ()  # every-owner items: who has not signed yet
    duplicate: bool = False  # a Slack retry of an event already acted on


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


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event that means nothing to Release Captain (another emoji, another message)."""

    notice: str | None = None  # shown ephemerally to the person when it helps them


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One item in a person's digest, and why it is there."""

    release: ReleaseView
    item: ItemView
    reason: Reason


@dataclass(frozen=True, slots=True)
class Digest:
    """What one person needs to do, across releases, at one reminder slot."""

    recipient: str
    entries: tuple[DigestEntry, ...]
    now: datetime


@dataclass(frozen=True, slots=True)
class Escalation:
    """Overdue items of one release, for its managers."""

    recipient: str
    release: ReleaseView
    items: tuple[ItemView, ...]
    now: datetime


@dataclass(frozen=True, slots=True)
class ChannelPost:
    """The final call or the readiness summary of a release, for its channel."""

    kind: SendKind
    release: ReleaseView
    now: datetime


@dataclass(frozen=True, slots=True)
class MissedNotice:
    """One message, after downtime, saying which scheduled sends were too late to be useful."""

    release: ReleaseView
    counts: tuple[tuple[str, int], ...]  # (kind, how many)
    now: datetime


@dataclass(frozen=True, slots=True)
class Problem:
    """A manager is told that a scheduled send could not be delivered, and why."""

    recipient: str
    release: ReleaseView
    what: str
    now: datetime


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    """One announcement as the plan, a draft and the buttons show it."""

    id: int
    release_id: int
    kind: str
    label: str
    state: str
    channel_id: str
    post_at: datetime
    when: str  # "48h before launch", "when offered"
    version: int
    edited: bool
    approved_by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class AnnouncementPlan:
    """A release's announcements and how they are handled."""

    release: ReleaseView
    entries: tuple[AnnouncementView, ...]
    channel_id: str
    lead: timedelta
    auto_approve: bool
    plan_approved_by: str | None
    approvers: tuple[str, ...]  # comms owners, or the managers when there are none


@dataclass(frozen=True, slots=True)
class AnnouncementDraft:
    """A draft for a comms owner (or the managers, when it was held) to approve, edit, post or skip."""

    recipient: str
    release: ReleaseView
    announcement: AnnouncementView
    text: str  # rendered mrkdwn, or the edited text
    problem: str | None  # the template could not be rendered: why
    held: bool  # its time came without approval
    now: datetime


@dataclass(frozen=True, slots=True)
class AnnouncementPost:
    """The approved text of an announcement, for its channel."""

    release: ReleaseView
    announcement: AnnouncementView
    text: str
    now: datetime


@dataclass(frozen=True, slots=True)
class VoteLine:
    """A decider's vote as the decision shows it."""

    user_id: str
    choice: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class DecisionPost:
    """The go/no-go decision, with every vote, for the release channel."""

    release: ReleaseView
    outcome: str  # go | no_go
    with_risk: bool
    votes: tuple[VoteLine, ...]
    rule: str
    now: datetime


Outgoing = (
    Digest
    | Escalation
    | ChannelPost
    | MissedNotice
    | Problem
    | AnnouncementDraft
    | AnnouncementPost
    | DecisionPost
)
