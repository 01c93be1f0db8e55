"""SQLModel tables. Times are aware UTC; relationships are not used, queries load explicitly."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# Releases in these states take changes and keep their name reserved in the channel.
ACTIVE_STATES = ("planning", "go", "no_go")
_ACTIVE_SQL = "state IN ('planning', 'go', 'no_go')"


def _utc(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Release(SQLModel, table=True):
    """A release: a launch time, a channel, a checklist and the live card that shows it."""

    __tablename__ = "release"
    __table_args__ = (
        Index(
            "uq_release_active_name",
            "channel_id",
            "name_key",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        # A train creates the release for each launch once, whichever replica ticks or restarts.
        Index(
            "uq_release_train_launch",
            "train_id",
            "launch_at",
            unique=True,
            sqlite_where=text("train_id IS NOT NULL"),
            postgresql_where=text("train_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=150)
    name_key: str = Field(max_length=150)  # casefolded name, for uniqueness and lookup
    channel_id: str = Field(max_length=32, index=True)
    launch_at: datetime = Field(sa_column=_utc())
    timezone: str = Field(max_length=64)
    state: str = Field(default="planning", max_length=16, index=True)
    template: str = Field(max_length=64)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    card_ts: str | None = Field(default=None, max_length=32)
    # Every change bumps card_version; the card syncer publishes until card_synced_version catches up.
    card_version: int = Field(default=1)
    card_synced_version: int = Field(default=0)
    card_lease_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Per-release timing of channel posts (NULL: the defaults): "72h,24h,2h" and seconds before launch.
    summary_offsets: str | None = Field(default=None, max_length=200)
    final_call_seconds: int | None = None
    # Per-release reminder ladder (NULL: the defaults), from the template; changed with /release set.
    heads_up_days: int | None = None
    overdue_daily: bool | None = None
    escalate_after_hours: float | None = None
    # Announcements: fields the templates use (JSON object), where and how drafts are handled.
    details: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    announce_channel: str | None = Field(default=None, max_length=32)  # NULL: the release channel
    announce_lead_seconds: int | None = None  # NULL: 24h
    auto_approve: bool = False
    plan_approved_by: str | None = Field(default=None, max_length=32)
    plan_approved_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The go/no-go decision and the launch.
    decision_rule: str | None = Field(default=None, max_length=32)  # NULL: unanimous
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    launched_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    override_by: str | None = Field(default=None, max_length=32)
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # rollback reason
    train_id: int | None = Field(default=None, index=True)


class ReleaseRole(SQLModel, table=True):
    """A person's role in one release: manager, decider or comms."""

    __tablename__ = "release_role"
    __table_args__ = (UniqueConstraint("release_id", "role", "user_id", name="uq_release_role"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    role: str = Field(max_length=16)
    user_id: str = Field(max_length=32)


class ChecklistItem(SQLModel, table=True):
    """One item of a release's checklist, and the thread reply that shows it."""

    __tablename__ = "checklist_item"
    __table_args__ = (
        UniqueConstraint("release_id", "position", name="uq_item_position"),
        UniqueConstraint("release_id", "key", name="uq_item_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    position: int
    key: str = Field(max_length=64)
    section: str = Field(max_length=50)
    title: str = Field(max_length=150)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    offset_seconds: int
    due_at: datetime = Field(sa_column=_utc(index=True))
    state: str = Field(default="open", max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evidence_required: bool = False
    role: str | None = Field(default=None, max_length=32)
    sign_off_rule: str = Field(default="any", max_length=8)
    signed_off_by: str | None = Field(default=None, max_length=32)
    signed_off_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    thread_ts: str | None = Field(default=None, max_length=32, index=True)
    version: int = Field(default=1)
    synced_version: int = Field(default=0)
    updated_at: datetime = Field(sa_column=_utc())


class ItemOwner(SQLModel, table=True):
    """An owner of an item: a Slack user or user group."""

    __tablename__ = "item_owner"
    __table_args__ = (UniqueConstraint("item_id", "kind", "slack_id", name="uq_item_owner"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="checklist_item.id", index=True)
    kind: str = Field(max_length=8)
    slack_id: str = Field(max_length=32)


class Person(SQLModel, table=True):
    """A Slack user as last seen through users.info: name, time zone, whether active."""

    __tablename__ = "person"

    slack_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=200)
    tz: str | None = Field(default=None, max_length=64)
    deleted: bool = False
    is_bot: bool = False
    fetched_at: datetime = Field(sa_column=_utc())


class AuditEvent(SQLModel, table=True):
    """Append-only record of every attempt to change a release, applied or not."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="checklist_item.id", index=True)
    actor: str = Field(max_length=32)
    action: str = Field(max_length=32)
    source: str = Field(max_length=16)
    outcome: str = Field(max_length=16)
    before: str | None = Field(default=None, max_length=200)
    after: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    event_id: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=_utc(index=True))


class CardNote(SQLModel, table=True):
    """A line to post in a release card's thread (what moved, what became overdue): an outbox row."""

    __tablename__ = "card_note"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc())
    posted_ts: str | None = Field(default=None, max_length=32)


class ProcessedEvent(SQLModel, table=True):
    """A Slack event id already acted on: Slack delivers at least once, we act once."""

    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = Field(sa_column=_utc(index=True))


class ItemSignoff(SQLModel, table=True):
    """One owner's sign-off on an item whose template asks every owner to sign."""

    __tablename__ = "item_signoff"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_item_signoff"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="checklist_item.id", index=True)
    user_id: str = Field(max_length=32)
    at: datetime = Field(sa_column=_utc())


class ReactionMark(SQLModel, table=True):
    """The latest reaction event seen per item, person and meaning, so late or reordered events lose."""

    __tablename__ = "reaction_mark"
    __table_args__ = (UniqueConstraint("item_id", "user_id", "kind", name="uq_reaction_mark"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="checklist_item.id", index=True)
    user_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # sign_off | block
    present: bool
    event_ts: str = Field(max_length=32)


class Delivery(SQLModel, table=True):
    """One scheduled send (a digest, an escalation, a summary): the record that makes it happen once."""

    __tablename__ = "delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)  # release:kind:recipient:slot
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    kind: str = Field(max_length=24)
    recipient: str = Field(max_length=32)  # a user id (DMs) or a channel id
    slot: datetime = Field(sa_column=_utc(index=True))
    expires_at: datetime = Field(sa_column=_utc())
    item_ids: str = Field(default="", sa_column=Column(Text, nullable=False))  # comma-separated
    state: str = Field(default="pending", max_length=16, index=True)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 0
    not_before: datetime | None = Field(
        default=None, sa_column=_utc(nullable=True)
    )  # backoff after a failure
    lease_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    claim_token: str | None = Field(default=None, max_length=32)  # fences the finishing update
    unknown_outcome: bool = False  # an earlier attempt may have reached Slack; look before resending
    channel_id: str | None = Field(default=None, max_length=32)  # where it was posted (D… for DMs)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class SchedulerMark(SQLModel, table=True):
    """Named instants the scheduler keeps, such as the last tick every replica agrees on."""

    __tablename__ = "scheduler_mark"

    name: str = Field(primary_key=True, max_length=32)
    at: datetime = Field(sa_column=_utc())


class PersonPrefs(SQLModel, table=True):
    """What a person chose with /release prefs: working hours, a zone override, muting, snoozes."""

    __tablename__ = "person_prefs"

    slack_id: str = Field(primary_key=True, max_length=32)
    tz_override: str | None = Field(default=None, max_length=64)
    work_start: str = Field(default="09:00", max_length=5)
    work_end: str = Field(default="18:00", max_length=5)
    work_days: str = Field(default="0,1,2,3,4", max_length=16)
    muted: bool = False


class Snooze(SQLModel, table=True):
    """A person asked not to be reminded of one item until a time."""

    __tablename__ = "snooze"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_snooze"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="checklist_item.id", index=True)
    user_id: str = Field(max_length=32)
    until: datetime = Field(sa_column=_utc())


class HomeVisit(SQLModel, table=True):
    """Someone opened the app's Home tab: from then on it is kept current for them, at this page."""

    # Its own table rather than a Person column: People.get re-saves whole Person rows from users.info,
    # which would reset such a column every time the cache is refreshed.
    __tablename__ = "home_visit"

    slack_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime = Field(sa_column=_utc())
    page: int = 0


class Announcement(SQLModel, table=True):
    """One announcement of a release: planned or offered, approved by a person, posted once."""

    __tablename__ = "announcement"

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    kind: str = Field(max_length=16)
    state: str = Field(default="planned", max_length=16, index=True)
    channel_id: str | None = Field(default=None, max_length=32)  # NULL: the release's announcement channel
    offset_seconds: int | None = None  # from launch; NULL for announcements offered by an event
    post_at: datetime = Field(sa_column=_utc(index=True))
    # Bumped whenever what a draft shows changes (re-timed, re-rendered): old drafts' buttons stop working.
    version: int = Field(default=1)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # edited by a person
    context: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # JSON: old launch, reason
    approved_by: str | None = Field(default=None, max_length=32)
    approved_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    posted_channel: str | None = Field(default=None, max_length=32)
    posted_ts: str | None = Field(default=None, max_length=32)
    note: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # why skipped/withdrawn/held
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class Vote(SQLModel, table=True):
    """A decider's current go/no-go vote on a release."""

    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("release_id", "user_id", name="uq_vote"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    user_id: str = Field(max_length=32)
    choice: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(sa_column=_utc())


class Train(SQLModel, table=True):
    """A release train: a release created automatically ahead of each recurring launch."""

    __tablename__ = "train"
    __table_args__ = (
        Index(
            "uq_train_active_name",
            "channel_id",
            "name_key",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=150)
    name_key: str = Field(max_length=150, index=True)
    channel_id: str = Field(max_length=32, index=True)
    rule: str = Field(max_length=64)
    anchor_at: datetime = Field(sa_column=_utc())
    timezone: str = Field(max_length=64)
    template: str = Field(max_length=64)
    lead_days: int = 14  # create each release this many days before its launch
    active: bool = True
    skip: str = Field(
        default="", sa_column=Column(Text, nullable=False)
    )  # ISO launches to skip, comma-separated
    last_launch_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=_utc())
