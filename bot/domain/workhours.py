"""Working hours: when a person is at work, in their own zone, and time counted only while they are.

The rules:
- Working hours are wall-clock times in the person's zone on the weekdays in `days` (Monday is 0). Each
  working day is one working period [start, end): `start` is inside working hours, `end` is not.
- DST, as for due dates (schedule.py): a start or end that falls in a spring-forward gap moves forward by
  the length of the gap (02:30 on that night is 03:30 new time); a wall time that occurs twice in an autumn
  fold means its first occurrence, so the repeated hour after it is outside a period that ends inside the
  fold. A day whose start, moved out of a gap, is not before its end has no working time at all.
- The last working instant of a period is its last minute, `end - 1 minute`, still inside working hours.
- Counting working hours uses only time inside periods. Forward, the result is the earliest instant at
  which the count is reached, which may be a period's end; a negative count goes backward and gives the
  latest such instant.
- Working days between a and b are the working-period starts in (a, b], negative when b is before a.
- Every input instant must be timezone-aware (ValueError otherwise); every result is aware, in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice

from bot.domain.schedule import zone

LAST_MINUTE = timedelta(minutes=1)
WEEKDAYS = frozenset(range(5))

Period = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A person's working day: wall-clock start and end on the given weekdays (Monday is 0)."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    days: frozenset[int] = WEEKDAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))  # accept any iterable, stay hashable
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are wall-clock times; give start and end without a time zone")
        if not self.start < self.end:
            raise ValueError(f"working hours must start before they end, got {self.start}–{self.end}")
        if not self.days:
            raise ValueError("working hours need at least one working day")
        if not self.days <= frozenset(range(7)):
            raise ValueError(f"working days are weekday numbers 0 (Monday) to 6, got {sorted(self.days)}")


STANDARD_HOURS = WorkingHours()


def is_working(at: datetime, tz: str, hours: WorkingHours = STANDARD_HOURS) -> bool:
    """Whether `at` lies inside one of the working periods of a person in zone `tz`."""
    _require_aware(at)
    start, _ = next(_forward(at, tz, hours))
    return start <= at


def last_working_instant_at_or_before(
    at: datetime, tz: str, hours: WorkingHours = STANDARD_HOURS
) -> datetime:
    """`at` when it is inside working hours, otherwise the last minute of the latest period before it."""
    _require_aware(at)
    start, end = next(_backward(at, tz, hours))
    if at < end:
        return at.astimezone(UTC)
    return max(start, end - LAST_MINUTE)  # max: a period shortened by DST to under a minute still counts


def next_working_start_after(at: datetime, tz: str, hours: WorkingHours = STANDARD_HOURS) -> datetime:
    """The start of the first working period that begins strictly after `at`."""
    _require_aware(at)
    return next(start for start, _ in _forward(at, tz, hours) if start > at)


def working_day_start(
    at: datetime, tz: str, hours: WorkingHours = STANDARD_HOURS, offset: int = 0
) -> datetime:
    """The start of the working period holding `at` (or the latest before it), moved `offset` periods."""
    _require_aware(at)
    backward = _backward(at, tz, hours)
    if offset <= 0:
        start, _ = next(islice(backward, -offset, None))
        return start
    current, _ = next(backward)
    start, _ = next(islice(_forward(current, tz, hours), offset, None))
    return start


def add_working_hours(
    at: datetime, hours_count: float, tz: str, hours: WorkingHours = STANDARD_HOURS
) -> datetime:
    """The instant `hours_count` working hours after `at` (before it when negative)."""
    _require_aware(at)
    if not math.isfinite(hours_count):
        raise ValueError(f"hours_count must be a finite number, got {hours_count!r}")
    at = at.astimezone(UTC)
    remaining = timedelta(hours=abs(hours_count))
    if not remaining:
        return at
    if hours_count > 0:
        return _count_forward(at, remaining, tz, hours)
    return _count_backward(at, remaining, tz, hours)


def working_days_between(a: datetime, b: datetime, tz: str, hours: WorkingHours = STANDARD_HOURS) -> int:
    """How many working periods start in (a, b]; negative when b is before a."""
    _require_aware(a)
    _require_aware(b)
    if b < a:
        return -working_days_between(b, a, tz, hours)
    count = 0
    for start, _ in _forward(a, tz, hours):
        if start > b:
            return count
        count += start > a  # the period holding `a` started before it and does not count
    raise AssertionError("working periods never run out")


def _count_forward(at: datetime, remaining: timedelta, tz: str, hours: WorkingHours) -> datetime:
    """The earliest instant by which `remaining` working time has passed since `at`."""
    for start, end in _forward(at, tz, hours):
        begin = max(start, at)
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("working periods never run out")


def _count_backward(at: datetime, remaining: timedelta, tz: str, hours: WorkingHours) -> datetime:
    """The latest instant from which `remaining` working time passes until `at`."""
    for start, end in _backward(at, tz, hours):
        finish = min(end, at)
        if remaining <= finish - start:
            return finish - remaining
        remaining -= finish - start
    raise AssertionError("working periods never run out")


def _forward(at: datetime, tz: str, hours: WorkingHours) -> Iterator[Period]:
    """Working periods that end after `at`, earliest first, never overlapping."""
    calendar = _calendar(tz, hours)
    ordinal = calendar.ordinal(at) - 1  # a day earlier: a gap can push a period into the next day
    previous_end: datetime | None = None
    while True:
        period = calendar.period(ordinal)
        ordinal += 1
        if period is None:
            continue
        start, end = period
        if previous_end is not None:
            start = max(start, previous_end)  # a skipped calendar day (Apia 2011) resolves onto the next one
        if start >= end:
            continue
        previous_end = end
        if end > at:
            yield start, end


def _backward(at: datetime, tz: str, hours: WorkingHours) -> Iterator[Period]:
    """Working periods that start at or before `at`, latest first, never overlapping."""
    calendar = _calendar(tz, hours)
    ordinal = calendar.ordinal(at) + 1
    previous_start: datetime | None = None
    while True:
        period = calendar.period(ordinal)
        ordinal -= 1
        if period is None:
            continue
        start, end = period
        if previous_start is not None:
            end = min(end, previous_start)
        if start >= end:
            continue
        previous_start = start
        if start <= at:
            yield start, end


class _Calendar:
    """The working periods of one zone and set of hours, by local calendar day, computed once each."""

    def __init__(self, tz: str, hours: WorkingHours) -> None:
        self.zone = zone(tz)
        self.hours = hours
        self.periods: dict[int, Period | None] = {}

    def ordinal(self, at: datetime) -> int:
        """The proleptic ordinal of `at`'s calendar date in this zone."""
        return at.astimezone(self.zone).toordinal()

    def period(self, ordinal: int) -> Period | None:
        """The working period on one local day, in UTC, or None when that day has no working time."""
        if ordinal not in self.periods:
            self.periods[ordinal] = self._compute(date.fromordinal(ordinal))
        return self.periods[ordinal]

    def _compute(self, day: date) -> Period | None:
        """The period of `day`, resolved with the DST rules."""
        if day.weekday() not in self.hours.days:
            return None
        # fold=0 (the default) gives both DST rules: gap times take the earlier offset, landing later by the
        # gap; repeated times pick their first occurrence.
        start = datetime.combine(day, self.hours.start, self.zone).astimezone(UTC)
        end = datetime.combine(day, self.hours.end, self.zone).astimezone(UTC)
        return (start, end) if start < end else None


@lru_cache(maxsize=256)
def _calendar(tz: str, hours: WorkingHours) -> _Calendar:
    """The shared calendar for these hours in zone `tz` (the planner asks about the same few many times)."""
    return _Calendar(tz, hours)


def _require_aware(value: datetime) -> None:
    """Naive datetimes are a programming error: the domain never guesses a zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
