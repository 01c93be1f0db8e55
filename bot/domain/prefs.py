"""Reading reminder preferences people type: working hours, working days, a time zone."""

from __future__ import annotations

import re
from datetime import time

from bot.domain.errors import InvalidInput
from bot.domain.text import excerpt
from bot.domain.when import zone_name

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):?(\d{2})?\s*[-–]\s*(\d{1,2}):?(\d{2})?\s*$")


def parse_hours(text: str) -> tuple[time, time]:
    """'08:30-17:00' (or '8-17') → (start, end); the start must come before the end."""
    m = _HOURS.match(text)
    if not m:
        raise InvalidInput(f'"{excerpt(text)}" is not a range of hours; write it like 08:30-17:00.')
    try:
        start = time(int(m.group(1)), int(m.group(2) or 0))
        end = time(int(m.group(3)), int(m.group(4) or 0))
    except ValueError:
        raise InvalidInput(
            f'"{excerpt(text)}" has an hour or minute out of range; write it like 08:30-17:00.'
        ) from None
    if start >= end:
        raise InvalidInput("Working hours must start before they end (overnight hours are not supported).")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'sun-thu' or 'mon,tue,thu' → weekday numbers (Monday is 0)."""
    days: set[int] = set()
    for chunk in filter(None, (c.strip().casefold() for c in re.split(r"[,\s]+", text))):
        first, _, last = chunk.partition("-")
        try:
            a = _DAYS.index(first[:3])
            b = _DAYS.index(last[:3]) if last else a
        except ValueError:
            raise InvalidInput(
                f'"{excerpt(chunk)}" is not a day; use mon, tue, … sun, or a range like mon-fri.'
            ) from None
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days.update(span)
    if not days:
        raise InvalidInput("Name at least one working day, e.g. mon-fri.")
    return frozenset(days)


def parse_zone(text: str) -> str | None:
    """An IANA zone name, or None for 'auto' (use the zone from Slack)."""
    if text.strip().casefold() == "auto":
        return None
    return zone_name(text.strip())


def describe_days(days: frozenset[int]) -> str:
    """Weekday numbers back to words, e.g. 'mon, tue, wed, thu, fri'."""
    return ", ".join(_DAYS[d] for d in sorted(days))
