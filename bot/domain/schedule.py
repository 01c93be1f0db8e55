"""Due dates: turn template offsets into instants in a release's time zone, and move them when launch moves.

The due-date rule: an offset that is a whole, non-zero number of days (so also weeks) counts in calendar
days in the release's time zone — "-1d" before a 14:00 launch is 14:00 local the day before, whatever the
clocks did overnight. Any other offset ("-4h", "-90m", "-1d12h", "0h") is elapsed time. Note that "-24h"
equals "-1d" as a timedelta, so it is treated as a calendar day too. A local time that falls in a DST gap
moves forward by the length of the gap (02:30 on a spring-forward night becomes 03:30); a local time that
occurs twice (autumn fold) means the earlier instant. Results are aware datetimes in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.errors import InvalidInput

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Due:
    """An item's schedule before a launch move: its template offset and current due time."""

    key: str
    offset: timedelta
    due_at: datetime
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    """An item whose due time changes because launch moved."""

    key: str
    old_due_at: datetime
    new_due_at: datetime
    became_overdue: bool  # open, was not overdue before the move, is overdue after it


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone called `tz`, or InvalidInput naming the bad value."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            f'"{tz}" is not a time zone I know.',
            hint="Use an IANA name such as Europe/Berlin or America/New_York.",
        ) from None


def is_calendar_offset(offset: timedelta) -> bool:
    """Whole, non-zero numbers of days count in calendar days; everything else is elapsed time."""
    return bool(offset) and offset % DAY == timedelta(0)


def due_at(launch_at: datetime, offset: timedelta, tz: str) -> datetime:
    """When an item with `offset` is due for a launch at `launch_at` in zone `tz`, as aware UTC."""
    _require_aware(launch_at, "launch_at")
    local_zone = zone(tz)  # validated even when unused, so a bad zone fails the same way for every item
    if not is_calendar_offset(offset):
        # Convert first: adding to a datetime in a ZoneInfo zone would do wall-clock arithmetic.
        return launch_at.astimezone(UTC) + offset
    wall = launch_at.astimezone(local_zone).replace(tzinfo=None) + offset
    # fold=0 gives both documented behaviours: gap times resolve with the pre-transition offset, which
    # lands them later by the gap; repeated times pick their first (earlier) occurrence.
    return wall.replace(tzinfo=local_zone, fold=0).astimezone(UTC)


def reflow(
    items: Sequence[Due], old_launch: datetime, new_launch: datetime, tz: str, now: datetime
) -> list[Move]:
    """The moves needed when launch goes from `old_launch` to `new_launch`, in item order.

    Each item's new due time is computed from its offset against the new launch; a due time that had been
    set by hand (differs from what the offset gives for the old launch) keeps that adjustment. Items whose
    due time does not change are left out. Overdue means open with due_at < now, as in ItemView.is_overdue.
    """
    for value, name in ((old_launch, "old_launch"), (new_launch, "new_launch"), (now, "now")):
        _require_aware(value, name)
    moves = []
    for item in items:
        adjustment = item.due_at - due_at(old_launch, item.offset, tz)
        new_due = due_at(new_launch, item.offset, tz) + adjustment
        if new_due == item.due_at:
            continue
        became_overdue = not item.closed and new_due < now <= item.due_at
        moves.append(Move(item.key, item.due_at, new_due.astimezone(UTC), became_overdue))
    return moves


def format_offset(offset: timedelta) -> str:
    """Show an offset the way templates write it: -5d, -4h, -1d12h, -1h30m, +30m, 0h."""
    if offset % MINUTE:
        raise ValueError(f"offsets are whole minutes, not {offset!r}")
    if not offset:
        return "0h"
    minutes = abs(offset) // MINUTE
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)
    return ("-" if offset < timedelta(0) else "+") + parts


def _require_aware(value: datetime, name: str) -> None:
    """Naive datetimes are a programming error here: the domain never guesses a zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
