"""Reading launch times: parse the text once, then resolve it against a given now and zone.

Rules (the help text and tests rely on them):

* A date without a time means DEFAULT_TIME (10:00) local.
* The whole expression is read in one zone: the zone or offset written in the text, else the
  issuer's zone. "today", "tomorrow" and weekdays are that zone's calendar days.
* ``friday`` is the next Friday strictly after today; ``next friday`` is the Friday of next
  week (weeks start on Monday). On a Wednesday, ``friday`` is in 2 days and ``next friday`` in 9.
* A month and day without a year (``Dec 10``) means this year if that date is today or later,
  else next year.
* ``+3d`` / ``in 2 weeks`` move by calendar days and keep the current wall-clock time (or use the
  time given, ``+3d 14:00``); ``+36h`` / ``+90m`` are exact elapsed time.
* DST: a wall time in a spring-forward gap moves forward by the gap length (02:30 on the New
  York gap day is 03:30 EDT); a wall time in a fall-back fold takes the first (earlier) occurrence.
* Years run from 2000 to 9999; nothing here checks past or future, ``ensure_future`` does.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import difflib
import enum
import functools
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from bot.domain.errors import InvalidInput, UsageError
from bot.domain.text import escape_mrkdwn, excerpt

DEFAULT_TIME = time(10, 0)
MIN_YEAR = 2000
MAX_YEAR = 9999
MAX_AHEAD = timedelta(days=3660)  # relative times beyond ten years are typos, not plans
MIN_OFFSET = timedelta(hours=-12)  # the real range of UTC offsets (Baker Island to Kiritimati)
MAX_OFFSET = timedelta(hours=14)
_MAX_TEXT = 200  # also keeps int() away from absurdly long digit runs

ACCEPTED_FORMS = (
    "Try 2026-12-10 14:00, Dec 10 2pm, 10 Dec 2026, today 17:00, tomorrow, friday 09:00, "
    "next friday, +3d, +36h or in 2 weeks; add a zone like Europe/Berlin, UTC or +01:00 if needed."
)

_WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tue": 1, "tues": 1,
    "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name} | {
    name.lower(): i for i, name in enumerate(calendar.month_abbr) if name
}
_MONTHS["sept"] = 9
_UNITS = {
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
}  # fmt: skip
_UTC_WORDS = {"utc", "gmt", "z"}
# Month and day names for messages; kept here so output never depends on the process locale.
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# ASCII: \d must not match other scripts' digits, which int() would happily accept.
_F = re.ASCII | re.IGNORECASE
_RELATIVE = re.compile(r"(?:\+\s*|in\s+)(\d+|an?)\s*([a-z]+)(?:\s+(.*))?", _F)
_ISO_DATE = re.compile(r"(\d+)-(\d+)-(\d+)", _F)
_ISO_T = re.compile(r"(\d+-\d+-\d+)t(.+)", _F)
_TIME_WITH_ZONE = re.compile(r"(\d+:\d+(?::\d+)?)(z|[+-].*)", _F)
_CLOCK = re.compile(r"(\d+):(\d\d)(?::(\d\d))?(am|pm)?", _F)
_HOUR_AMPM = re.compile(r"(\d+)(am|pm)", _F)
_OFFSET = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d\d))?", _F)
_DAY_OF_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?", _F)
_YEAR = re.compile(r"\d{4,}", _F)
_ZONE_LIKE = re.compile(r"[a-z][a-z0-9_+\-]*(?:/[a-z0-9_+\-]+)+|[a-z]{2,5}", _F)


class WhenKind(enum.StrEnum):
    """Which calendar rule picks the day."""

    DATE = "date"  # a full date: 2026-12-10, 10 Dec 2026
    MONTH_DAY = "month_day"  # Dec 10: the next occurrence
    DAYS_AHEAD = "days_ahead"  # today (0), tomorrow (1), or a bare time (0)
    IN_DAYS = "in_days"  # +3d, in 2 weeks: calendar days from today, keeping the wall time
    WEEKDAY = "weekday"  # friday: the next one strictly after today
    NEXT_WEEKDAY = "next_weekday"  # next friday: that day in next (Monday-based) week
    ELAPSED = "elapsed"  # +36h, +90m: exact elapsed time from now


@dataclass(frozen=True, slots=True)
class WhenSpec:
    """A launch time as written, before it is pinned to a calendar, a zone and a now."""

    # Types are spelled dt.date / dt.time because the fields' own names would shadow them.
    kind: WhenKind
    date: dt.date | None = None  # DATE
    month: int | None = None  # MONTH_DAY
    day: int | None = None  # MONTH_DAY
    days: int = 0  # DAYS_AHEAD, IN_DAYS
    weekday: int | None = None  # WEEKDAY, NEXT_WEEKDAY; Monday is 0
    delta: dt.timedelta | None = None  # ELAPSED
    time: dt.time | None = None  # wall time; None means DEFAULT_TIME (IN_DAYS: the current wall time)
    zone: str | None = None  # canonical IANA name written in the text ("UTC" for Z/UTC/GMT)
    offset: dt.timedelta | None = None  # fixed UTC offset written in the text
    text: str = field(default="", compare=False)  # the original words, for messages


def parse_when(text: str) -> WhenSpec:
    """Read a launch time; UsageError if unreadable, InvalidInput if it names an impossible value."""
    words = " ".join(text.replace(",", " ").split())
    if not words:
        raise UsageError("When should it launch?", hint=ACCEPTED_FORMS)
    if len(words) > _MAX_TEXT:
        raise UsageError(f"That's too long to be a date and time: {excerpt(text)}", hint=ACCEPTED_FORMS)
    relative = _RELATIVE.fullmatch(words)
    if relative:
        return _parse_relative(relative, words)
    return _parse_absolute(_split_tokens(words), words)


def resolve_when(spec: WhenSpec, *, now: datetime, tz: str) -> datetime:
    """Pin a spec to an aware UTC datetime, reading it in the text's zone or else in tz."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = _reading_zone(spec, tz)
    try:
        if spec.kind is WhenKind.ELAPSED:
            assert spec.delta is not None
            return (now + spec.delta).astimezone(UTC)
        local_now = now.astimezone(zone)
        wall = spec.time
        if wall is None:
            wall = local_now.time().replace(tzinfo=None) if spec.kind is WhenKind.IN_DAYS else DEFAULT_TIME
        return localise(datetime.combine(_target_date(spec, local_now.date()), wall), zone)
    except OverflowError:
        raise InvalidInput(
            f"{excerpt(spec.text) or 'That time'} is too far away; pick an earlier date.",
            hint=ACCEPTED_FORMS,
        ) from None


def localise(wall: datetime, zone: tzinfo) -> datetime:
    """Read a naive wall time in zone and return it in UTC, applying the DST rule above."""
    # PEP 495: fold=0 reads a gap time with the pre-transition offset, which lands exactly the gap
    # length later, and picks the first of two fold times. Both are the documented rule.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def ensure_future(at: datetime, now: datetime, *, tz: str = "UTC") -> None:
    """Raise InvalidInput unless at is strictly after now."""
    if at <= now:
        raise InvalidInput(f"That's in the past: {format_local(at, tz)}. Pick a time after now.")


def format_local(at: datetime, tz: str) -> str:
    """A locale-independent rendering like 'Thu 10 Dec 2026, 14:00 CET' (mrkdwn-safe)."""
    local = at.astimezone(_zone(tz))
    label = local.tzname() or tz
    return escape_mrkdwn(
        f"{_DAY_ABBR[local.weekday()]} {local.day} {_MONTH_ABBR[local.month - 1]} {local.year}, "
        f"{local:%H:%M} {label}"
    )


def zone_name(name: str) -> str:
    """The canonical IANA spelling of a zone name, matched case-insensitively; InvalidInput if unknown."""
    canonical = _zone_names().get(name.lower())
    if canonical is None:
        suggestion = difflib.get_close_matches(name.lower(), list(_zone_names()), n=1, cutoff=0.8)
        did_you_mean = f" Did you mean {_zone_names()[suggestion[0]]}?" if suggestion else ""
        raise InvalidInput(
            f'I don\'t know the time zone "{excerpt(name)}".{did_you_mean}',
            hint="Use an IANA name like Europe/Berlin or America/New_York, UTC, or an offset like +01:00.",
        )
    return canonical


@functools.cache
def _zone_names() -> dict[str, str]:
    """Lower-case zone name to canonical name, read once from the system's tz database."""
    return {name.lower(): name for name in zoneinfo.available_timezones()} | {"utc": "UTC"}


def _zone(name: str) -> tzinfo:
    """The tzinfo for a zone name from settings or text."""
    canonical = zone_name(name)
    return UTC if canonical == "UTC" else zoneinfo.ZoneInfo(canonical)


def _reading_zone(spec: WhenSpec, tz: str) -> tzinfo:
    """The zone a spec is read in: its own offset or zone, else the issuer's."""
    if spec.offset is not None:
        return timezone(spec.offset)
    return _zone(spec.zone or tz)


def _target_date(spec: WhenSpec, today: date) -> date:
    """The calendar day a spec names, counted from today in the reading zone."""
    match spec.kind:
        case WhenKind.DATE:
            assert spec.date is not None
            return spec.date
        case WhenKind.MONTH_DAY:
            assert spec.month is not None and spec.day is not None
            return _next_month_day(spec.month, spec.day, today)
        case WhenKind.WEEKDAY:
            assert spec.weekday is not None
            return today + timedelta(days=(spec.weekday - today.weekday()) % 7 or 7)
        case WhenKind.NEXT_WEEKDAY:
            assert spec.weekday is not None
            next_monday = today + timedelta(days=7 - today.weekday())
            return next_monday + timedelta(days=spec.weekday)
        case _:
            return today + timedelta(days=spec.days)


def _next_month_day(month: int, day: int, today: date) -> date:
    """The first month/day on or after today (Feb 29 waits for a leap year)."""
    for year in range(today.year, today.year + 9):
        if year > MAX_YEAR:
            break
        if day <= calendar.monthrange(year, month)[1] and date(year, month, day) >= today:
            return date(year, month, day)
    raise OverflowError("no such date before the year limit")


def _parse_relative(m: re.Match[str], text: str) -> WhenSpec:
    """+3d, +36h, in 2 weeks, in 3 days at 14:00."""
    amount_text, unit_text, rest = m.group(1).lower(), m.group(2).lower(), m.group(3)
    unit = _UNITS.get(unit_text)
    if unit is None:
        raise UsageError(
            f'I can count ahead in minutes, hours, days or weeks, not "{excerpt(m.group(2))}".',
            hint=ACCEPTED_FORMS,
        )
    amount = 1 if amount_text in ("a", "an") else int(amount_text)
    # Bound the number before timedelta sees it: a huge one would overflow rather than fail politely.
    delta = timedelta(**{unit: amount}) if amount <= MAX_AHEAD.days * 24 * 60 else MAX_AHEAD * 2
    if delta > MAX_AHEAD:
        raise InvalidInput(
            f'"{excerpt(text)}" is too far ahead; pick something within ten years.', hint=ACCEPTED_FORMS
        )
    if unit in ("minutes", "hours"):
        if rest:
            raise UsageError(
                f'"{excerpt(text)}": an hour or minute count can\'t take a day, time or zone after it.',
                hint=ACCEPTED_FORMS,
            )
        return WhenSpec(WhenKind.ELAPSED, delta=delta, text=text)
    tokens = _split_tokens(rest or "")
    wall, tokens = _take_time(_skip_at(tokens))
    zone, offset, tokens = _take_zone(tokens)
    _ensure_consumed(tokens, text)
    return WhenSpec(WhenKind.IN_DAYS, days=delta.days, time=wall, zone=zone, offset=offset, text=text)


def _parse_absolute(tokens: list[str], text: str) -> WhenSpec:
    """A day part and/or a time, optionally followed by a zone; the time may come first."""
    wall, tokens = _take_time(tokens)
    day, tokens = _take_day(tokens)
    if day is None:
        if wall is None:
            raise _unreadable(text)
        day = WhenSpec(WhenKind.DAYS_AHEAD, days=0)  # a bare time means today
    if wall is None:
        wall, tokens = _take_time(_skip_at(tokens))
    zone, offset, tokens = _take_zone(tokens)
    _ensure_consumed(tokens, text)
    return dataclasses.replace(day, time=wall, zone=zone, offset=offset, text=text)


def _split_tokens(words: str) -> list[str]:
    """Split words, breaking ISO 2026-12-10T14:00+01:00 into date, time and offset."""
    tokens: list[str] = []
    for word in words.split():
        iso = _ISO_T.fullmatch(word)
        if iso:
            tokens.append(iso.group(1))
            word = iso.group(2)
        with_zone = _TIME_WITH_ZONE.fullmatch(word)
        if with_zone:
            tokens.extend(with_zone.groups())
        else:
            tokens.append(word)
    return tokens


def _skip_at(tokens: list[str]) -> list[str]:
    """Drop a leading 'at' (tomorrow at 10:00)."""
    return tokens[1:] if tokens and tokens[0].lower() == "at" else tokens


def _take_day(tokens: list[str]) -> tuple[WhenSpec | None, list[str]]:
    """Consume a day expression from the front; the spec it returns has no time or zone yet."""
    if not tokens:
        return None, tokens
    first = tokens[0].lower()
    second = tokens[1].lower() if len(tokens) > 1 else ""
    iso = _ISO_DATE.fullmatch(first)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        return WhenSpec(WhenKind.DATE, date=_valid_date(year, month, day, tokens[0])), tokens[1:]
    if first in ("today", "tomorrow"):
        return WhenSpec(WhenKind.DAYS_AHEAD, days=int(first == "tomorrow")), tokens[1:]
    if first in ("this", "next") and second in _WEEKDAYS:
        kind = WhenKind.NEXT_WEEKDAY if first == "next" else WhenKind.WEEKDAY
        return WhenSpec(kind, weekday=_WEEKDAYS[second]), tokens[2:]
    if first in _WEEKDAYS:
        return WhenSpec(WhenKind.WEEKDAY, weekday=_WEEKDAYS[first]), tokens[1:]
    return _take_month_day(tokens)


def _take_month_day(tokens: list[str]) -> tuple[WhenSpec | None, list[str]]:
    """Dec 10 [2026] or 10 Dec [2026]."""
    if len(tokens) < 2:
        return None, tokens
    first, second = tokens[0].lower(), tokens[1].lower()
    if first in _MONTHS and (day_match := _DAY_OF_MONTH.fullmatch(second)):
        month = _MONTHS[first]
    elif second in _MONTHS and (day_match := _DAY_OF_MONTH.fullmatch(first)):
        month = _MONTHS[second]
    else:
        return None, tokens
    day, rest = int(day_match.group(1)), tokens[2:]
    shown = f"{tokens[0]} {tokens[1]}"
    if rest and _YEAR.fullmatch(rest[0]):
        full = _valid_date(int(rest[0]), month, day, f"{shown} {rest[0]}")
        return WhenSpec(WhenKind.DATE, date=full), rest[1:]
    _valid_date(None, month, day, shown)
    return WhenSpec(WhenKind.MONTH_DAY, month=month, day=day), rest


def _valid_date(year: int | None, month: int, day: int, shown: str) -> date:
    """A real date between MIN_YEAR and MAX_YEAR, else InvalidInput naming what is wrong."""
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            f"{excerpt(shown)} is in the year {year}; pick a year from {MIN_YEAR} to {MAX_YEAR}.",
            hint=ACCEPTED_FORMS,
        )
    if not 1 <= month <= 12:
        raise InvalidInput(f"{excerpt(shown)} has no month {month}; months go 1–12.", hint=ACCEPTED_FORMS)
    # Without a year, check against a leap year so Feb 29 passes and waits for one.
    last = calendar.monthrange(year or 2000, month)[1]
    if not 1 <= day <= last:
        in_what = calendar.month_name[month] + (f" {year}" if year is not None else "")
        raise InvalidInput(f"{excerpt(shown)} isn't a date: {in_what} has {last} days.", hint=ACCEPTED_FORMS)
    return date(year or 2000, month, day)


def _take_time(tokens: list[str]) -> tuple[time | None, list[str]]:
    """Consume a time (14:00, 14:00:00, 2pm, 2:30 pm, noon) from the front."""
    if not tokens:
        return None, tokens
    if tokens[0].lower() == "noon":
        return time(12, 0), tokens[1:]
    if len(tokens) > 1 and tokens[1].lower() in ("am", "pm"):
        tokens = [tokens[0] + tokens[1], *tokens[2:]]  # "2 pm" reads like "2pm"
    first = tokens[0]
    if clock := _CLOCK.fullmatch(first):
        hour, minute, second, ampm = clock.groups()
        return _valid_time(int(hour), int(minute), int(second or 0), ampm, first), tokens[1:]
    if hour_ampm := _HOUR_AMPM.fullmatch(first):
        return _valid_time(int(hour_ampm.group(1)), 0, 0, hour_ampm.group(2), first), tokens[1:]
    return None, tokens


def _valid_time(hour: int, minute: int, second: int, ampm: str | None, shown: str) -> time:
    """A real wall time, else InvalidInput naming what is wrong."""
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise InvalidInput(
                f"{excerpt(shown)} isn't a time; with am/pm the hour goes 1–12 (or use 24-hour 13:00).",
                hint=ACCEPTED_FORMS,
            )
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidInput(
            f"{excerpt(shown)} isn't a time on the clock; use 00:00 to 23:59.", hint=ACCEPTED_FORMS
        )
    return time(hour, minute, second)


def _take_zone(tokens: list[str]) -> tuple[str | None, timedelta | None, list[str]]:
    """Consume a zone (Europe/Berlin, UTC, Z) or an offset (+01:00, -0500, UTC+1) from the front."""
    if not tokens:
        return None, None, tokens
    first = tokens[0]
    if first.lower() in _UTC_WORDS:
        return "UTC", None, tokens[1:]
    if offset := _OFFSET.fullmatch(first):
        return None, _valid_offset(offset, first), tokens[1:]
    if _ZONE_LIKE.fullmatch(first) and first.lower() not in ("at", "am", "pm"):
        return zone_name(first), None, tokens[1:]
    return None, None, tokens


def _valid_offset(m: re.Match[str], shown: str) -> timedelta:
    """A UTC offset no wider than any real zone's."""
    sign, hours, minutes = m.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if sign == "-":
        offset = -offset
    if not MIN_OFFSET <= offset <= MAX_OFFSET or int(minutes or 0) > 59:
        raise InvalidInput(
            f"{excerpt(shown)} isn't a UTC offset; offsets go from -12:00 to +14:00.", hint=ACCEPTED_FORMS
        )
    return offset


def _ensure_consumed(tokens: list[str], text: str) -> None:
    """Anything left over means the text was not a time we understand."""
    if tokens:
        raise _unreadable(text)


def _unreadable(text: str) -> UsageError:
    """The standard 'couldn't read that' error."""
    return UsageError(f'I couldn\'t read "{excerpt(text)}" as a date and time.', hint=ACCEPTED_FORMS)
