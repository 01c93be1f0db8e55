"""Announcements: which ones a release makes, when, and the fields people fill in for them.

An announcement is planned at an offset from launch (the *upcoming* one at T-48h, *go-live* at launch) or
offered when something happens (a reschedule offers *delayed*, a rollback *rolled back*, completion
*completed*). A draft reaches the comms owners a lead time before it is due; nothing is posted until a person
approves it, unless the release opted into auto-approval.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import InvalidInput, UsageError
from bot.domain.text import clean_note, excerpt


class AnnouncementKind(enum.StrEnum):
    UPCOMING = "upcoming"
    GO_LIVE = "go_live"
    DELAYED = "delayed"
    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        """How people call it."""
        return _LABELS[self]

    @property
    def on_event(self) -> bool:
        """Offered when something happens, rather than planned at an offset from launch."""
        return self in (AnnouncementKind.DELAYED, AnnouncementKind.ROLLED_BACK, AnnouncementKind.COMPLETED)


_LABELS = {
    AnnouncementKind.UPCOMING: "upcoming release",
    AnnouncementKind.GO_LIVE: "go-live",
    AnnouncementKind.DELAYED: "delayed",
    AnnouncementKind.ROLLED_BACK: "rolled back",
    AnnouncementKind.COMPLETED: "completed",
}

_KIND_WORDS = {
    "upcoming": AnnouncementKind.UPCOMING,
    "go-live": AnnouncementKind.GO_LIVE,
    "go_live": AnnouncementKind.GO_LIVE,
    "golive": AnnouncementKind.GO_LIVE,
    "live": AnnouncementKind.GO_LIVE,
    "delayed": AnnouncementKind.DELAYED,
    "delay": AnnouncementKind.DELAYED,
    "rolled-back": AnnouncementKind.ROLLED_BACK,
    "rolled_back": AnnouncementKind.ROLLED_BACK,
    "rollback": AnnouncementKind.ROLLED_BACK,
    "completed": AnnouncementKind.COMPLETED,
    "complete": AnnouncementKind.COMPLETED,
}


class AnnouncementState(enum.StrEnum):
    PLANNED = "planned"  # waiting for approval (a draft goes out a lead time before it is due)
    APPROVED = "approved"  # will be posted at its time
    HELD = "held"  # its time came without approval: not posted; managers were told
    POSTED = "posted"
    SKIPPED = "skipped"  # a person chose not to post it
    WITHDRAWN = "withdrawn"  # the release was cancelled, voted NO-GO, or the plan dropped it

    @property
    def is_pending(self) -> bool:
        """Still able to be posted."""
        return self in (AnnouncementState.PLANNED, AnnouncementState.APPROVED, AnnouncementState.HELD)


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One announcement of a plan: what, and when relative to launch (negative: before it)."""

    kind: AnnouncementKind
    offset: timedelta


DEFAULT_PLAN: tuple[PlanEntry, ...] = (
    PlanEntry(AnnouncementKind.UPCOMING, -timedelta(hours=48)),
    PlanEntry(AnnouncementKind.GO_LIVE, timedelta(0)),
)
DEFAULT_LEAD = timedelta(hours=24)
MAX_LEAD = timedelta(days=14)
MAX_OFFSET = timedelta(days=60)

# Fields a release carries for its announcements, and what each means (README and help show these).
FIELDS: dict[str, str] = {
    "changes": "what ships, in a sentence or two",
    "downtime": "the expected downtime window",
    "impact": "what users may notice",
    "support": "where to ask, or who to contact",
    "notes": "a link to the release notes (https://…)",
}
MAX_FIELD = 500
_CLEAR_WORDS = frozenset({"clear", "none", "-", "unset"})
_URL = re.compile(r"https?://[^\s<>|\"'`]{1,400}", re.IGNORECASE)


def parse_kind(word: str) -> AnnouncementKind:
    """An announcement kind from what a person typed."""
    kind = _KIND_WORDS.get(word.strip().casefold())
    if kind is None:
        known = ", ".join(k.value.replace("_", "-") for k in AnnouncementKind)
        raise UsageError(f'I don\'t know the announcement "{excerpt(word, 30)}"; try one of: {known}.')
    return kind


def parse_offset(text: str) -> timedelta:
    """When, relative to launch: `launch`, `48h` / `-48h` / `48h before`, `+2h` / `2h after`."""
    words = " ".join(text.strip().casefold().split())
    if words in ("launch", "at launch", "on launch", "0", "0h"):
        return timedelta(0)
    after = words.startswith("+") or words.endswith(" after")
    core = words.removesuffix(" before").removesuffix(" after").lstrip("+-").strip()
    match = re.fullmatch(r"(\d{1,3})\s*(m|min|h|d|w)", core)
    if match is None:
        # excerpt() escapes already (here and below): escaping again showed "&amp;lt;" for a typed "<".
        raise UsageError(
            f'I couldn\'t read "{excerpt(text, 30)}" as a time relative to launch.',
            hint="Examples: 48h (before launch), 2h after, launch.",
        )
    amount, unit = int(match.group(1)), match.group(2)
    span = {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "h": timedelta(hours=1)}.get(
        unit, timedelta(days=7) if unit == "w" else timedelta(days=1)
    ) * amount
    if span > MAX_OFFSET:
        raise InvalidInput("Keep announcements within 60 days of launch.")
    return span if after else -span


def format_offset(offset: timedelta) -> str:
    """`48h before launch`, `at launch`, `2h after launch`."""
    if offset == timedelta(0):
        return "at launch"
    seconds = abs(int(offset.total_seconds()))
    if seconds % 86400 == 0:
        span = f"{seconds // 86400}d"
    elif seconds % 3600 == 0:
        span = f"{seconds // 3600}h"
    else:
        span = f"{seconds // 60}m"
    return f"{span} {'before' if offset < timedelta(0) else 'after'} launch"


def parse_lead(text: str) -> timedelta:
    """How long before an announcement is due its draft goes out: `24h`, `2d`."""
    match = re.fullmatch(r"(\d{1,3})\s*(h|d)", text.strip().casefold())
    if match is None:
        raise UsageError(f'I couldn\'t read "{excerpt(text, 30)}" as a lead time; try 24h or 2d.')
    lead = timedelta(hours=int(match.group(1)) * (24 if match.group(2) == "d" else 1))
    if lead > MAX_LEAD:
        raise InvalidInput("Send drafts at most 14 days ahead.")
    return lead


def clean_field(name: str, value: str) -> str | None:
    """A field's value as stored (None clears it); `notes` must be a plain https link."""
    if name not in FIELDS:
        raise UsageError(f'I don\'t know the field "{excerpt(name, 30)}"; fields: {", ".join(FIELDS)}.')
    text = value.strip()
    if text.casefold() in _CLEAR_WORDS:
        return None
    if name == "notes":
        # Slack sends links as <https://…> or <https://…|label>; a label could disguise where it goes.
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
            if "|" in text:
                raise InvalidInput("Give the release notes link itself, without a label.")
        if not _URL.fullmatch(text):
            raise InvalidInput(f'"{excerpt(text, 60)}" isn\'t a web link; give one starting with https://.')
        return text
    return clean_note(value, field=name, max_len=MAX_FIELD)


def post_time(offset: timedelta | None, launch_at: datetime, offered_at: datetime | None) -> datetime:
    """When an announcement is due: its offset from launch, or when it was offered."""
    if offset is None:
        assert offered_at is not None
        return offered_at
    return launch_at + offset


def draft_time(post_at: datetime, lead: timedelta) -> datetime:
    """When its draft goes to the comms owners."""
    return post_at - lead
