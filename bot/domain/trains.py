"""Release trains: a recurring launch rule ("every 2 weeks on thu 14:00") and the launches it yields.

Rules (the help text and tests rely on them):

* A rule is written ``every [N] day(s)|week(s) [on <weekday>] [at] <time>``, or starts with ``daily``,
  ``weekly`` or ``fortnightly`` instead of ``every …``; ``every other week`` means every 2 weeks. Any
  case, any spacing. Times are 24-hour (``9:00``, ``14:00``) or 12-hour (``2pm``, ``2:30 pm``, ``noon``).
* Weekly rules name a weekday, daily ones must not. Intervals run 1–52 weeks or 1–365 days.
* A train's ``anchor`` is its first launch. Launch k falls on the anchor's local calendar date (moved
  forward to the rule's weekday, for a weekly rule whose anchor is on another day) plus k intervals, at
  the rule's wall time in the train's zone, so it stays 14:00 local across DST changes.
* DST, as in ``bot.domain.when``: a wall time in a spring-forward gap moves forward by the gap length,
  and a wall time in a fall-back fold takes the first (earlier) occurrence.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.domain.errors import UsageError
from bot.domain.text import clean_name, excerpt
from bot.domain.when import localise, zone_name

DAY = "day"
WEEK = "week"
MAX_EVERY = {DAY: 365, WEEK: 52}
RELEASE_NAME_MAX = 150  # what clean_name allows a release name
MAX_TRAIN_NAME = RELEASE_NAME_MAX - len(" 2026-12-10")  # room for the date release_name adds
EXAMPLES = "For example: every 2 weeks on thu 14:00, every day at 09:00, or weekly on fri 3pm."
# How long before its launch each release of a train is created, unless the train says otherwise: long
# enough for the go-live checklist's earliest item (a week before launch) to be due well after it exists.
DEFAULT_LEAD_DAYS = 14
MAX_LEAD_DAYS = 60
_MAX_TEXT = 200

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS = (
    {name.lower(): i for i, name in enumerate(_DAY_NAMES)}
    | {name[:3].lower(): i for i, name in enumerate(_DAY_NAMES)}
    | {"tues": 1, "thur": 3, "thurs": 3}
)
_FULL_DAYS = frozenset(name.lower() for name in _DAY_NAMES)
_SHORTHANDS = {"daily": (1, DAY), "weekly": (1, WEEK), "fortnightly": (2, WEEK)}
_UNITS = {"day": DAY, "days": DAY, "week": WEEK, "weeks": WEEK}
_F = re.ASCII | re.IGNORECASE
_NUMBER = re.compile(r"[+-]?\d+", _F)
_CLOCK = re.compile(r"(\d{1,2}):(\d{1,2})(am|pm)?", _F)
_HOUR = re.compile(r"(\d{1,2})(am|pm)", _F)
_TIMEISH = re.compile(r"\d[\d:]*(?:am|pm)?", _F)


@dataclass(frozen=True, slots=True)
class TrainRule:
    """When a train departs: every `every` days or weeks (on `weekday`), at wall time `at`."""

    every: int
    unit: str  # DAY | WEEK
    weekday: int | None  # 0 = Monday … 6 = Sunday; required for weeks, forbidden for days
    at: time  # wall-clock time in the train's zone, whole minutes

    def __post_init__(self) -> None:
        valid = (
            self.unit in MAX_EVERY
            and 1 <= self.every <= MAX_EVERY[self.unit]
            and (self.weekday is None) == (self.unit == DAY)
            and (self.weekday is None or 0 <= self.weekday <= 6)
            and self.at.tzinfo is None
            and self.at.second == 0
            and self.at.microsecond == 0
        )
        if not valid:
            raise ValueError(f"not a train rule: {self.every} {self.unit} on {self.weekday} at {self.at}")

    @property
    def interval(self) -> timedelta:
        """Calendar days between two launches."""
        return timedelta(days=self.every * (7 if self.unit == WEEK else 1))

    def describe(self) -> str:
        """For people: 'every 2 weeks on Thursday at 14:00', 'every day at 09:00'."""
        period = self.unit if self.every == 1 else f"{self.every} {self.unit}s"
        on = f" on {_DAY_NAMES[self.weekday]}" if self.weekday is not None else ""
        return f"every {period}{on} at {self.at:%H:%M}"

    def stored(self) -> str:
        """A canonical text form that parse_rule reads back to an equal rule."""
        on = f" on {_DAY_NAMES[self.weekday][:3].lower()}" if self.weekday is not None else ""
        plural = "s" if self.every != 1 else ""
        return f"every {self.every} {self.unit}{plural}{on} at {self.at:%H:%M}"


def parse_rule(text: str) -> TrainRule:
    """Read a train rule; UsageError saying what is wrong, with an example, for anything else."""
    words = " ".join(text.split())
    if not words:
        raise UsageError("How often should the train run?", hint=EXAMPLES)
    if len(words) > _MAX_TEXT:
        raise UsageError("That's too long to be a train schedule.", hint=EXAMPLES)
    tokens = words.lower().split()
    every, unit, tokens = _take_interval(tokens, words)
    weekday, tokens = _take_weekday(tokens)
    if tokens and tokens[0] == "at":
        tokens = tokens[1:]
    at, tokens = _take_time(tokens)
    if tokens:
        raise UsageError(
            f'I didn\'t understand "{excerpt(" ".join(tokens))}" in "{excerpt(words)}".', hint=EXAMPLES
        )
    if unit == WEEK and weekday is None:
        raise UsageError("Which day of the week should the train run? Add it, like on thu.", hint=EXAMPLES)
    if unit == DAY and weekday is not None:
        raise UsageError(
            "A train that runs every few days can't also name a weekday; use weeks for that "
            "(every week on thu 14:00).",
            hint=EXAMPLES,
        )
    if at is None:
        raise UsageError("At what time should the train run? Add it, like 14:00 or 2pm.", hint=EXAMPLES)
    return TrainRule(every=every, unit=unit, weekday=weekday, at=at)


def clean_train_name(text: str) -> str:
    """A train's name, short enough that the dated release names it creates stay valid."""
    return clean_name(text, field="train name", max_len=MAX_TRAIN_NAME)


def first_launch(rule: TrainRule, *, now: datetime, tz: str) -> datetime:
    """The first wall time matching the rule strictly after now, in zone tz: a new train's anchor."""
    _require_aware(now, "now")
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    for ahead in range(8):  # today's time may have passed, so a week and a day covers every weekday
        day = today + timedelta(days=ahead)
        if rule.weekday is not None and day.weekday() != rule.weekday:
            continue
        launch = _at(day, rule, zone)
        if launch > now:
            return launch
    raise AssertionError("a matching day always falls within eight days")


def next_launch(rule: TrainRule, *, anchor: datetime, after: datetime, tz: str) -> datetime:
    """The first launch of the train strictly after `after` (the anchor itself counts)."""
    _require_aware(anchor, "anchor")
    _require_aware(after, "after")
    zone = _zone(tz)
    start = _first_day(rule, anchor, zone)
    # Jump close to `after`, one interval early: DST shifts an instant by hours, never by a whole day.
    behind = (after.astimezone(zone).date() - start).days // rule.interval.days - 1
    k = max(0, behind)
    while (launch := _at(start + k * rule.interval, rule, zone)) <= after:
        k += 1
    return launch


def launches(rule: TrainRule, *, anchor: datetime, after: datetime, tz: str, count: int) -> list[datetime]:
    """The next `count` launches strictly after `after`, in order."""
    if count < 0:
        raise ValueError("count must not be negative")
    result: list[datetime] = []
    at = after
    for _ in range(count):
        at = next_launch(rule, anchor=anchor, after=at, tz=tz)
        result.append(at)
    return result


def release_name(train_name: str, launch: datetime, tz: str) -> str:
    """The name of the release a train creates: 'Mobile train 2026-12-10' (the launch's local date)."""
    _require_aware(launch, "launch")
    return f"{train_name} {launch.astimezone(_zone(tz)).date().isoformat()}"


def _take_interval(tokens: list[str], words: str) -> tuple[int, str, list[str]]:
    """'every 2 weeks', 'every day', 'every other week', 'weekly', … from the front."""
    first = tokens[0]
    if first in _SHORTHANDS:
        every, unit = _SHORTHANDS[first]
        return every, unit, tokens[1:]
    if first != "every":
        raise UsageError(
            f'Start the schedule with "every", "daily", "weekly" or "fortnightly", not "{excerpt(words)}".',
            hint=EXAMPLES,
        )
    rest = tokens[1:]
    every = 1
    if rest and rest[0] == "other":
        every, rest = 2, rest[1:]
    elif rest and _NUMBER.fullmatch(rest[0]):
        every, rest = _positive(rest[0]), rest[1:]
    unit = _UNITS.get(rest[0]) if rest else None
    if unit is None:
        shown = f', not "{excerpt(rest[0])}"' if rest else ""
        raise UsageError(f"Say how often in days or weeks, like every 2 weeks{shown}.", hint=EXAMPLES)
    if every > MAX_EVERY[unit]:
        raise UsageError(
            f"A train runs at least once every {MAX_EVERY[unit]} {unit}s; pick a shorter interval.",
            hint=EXAMPLES,
        )
    return every, unit, rest[1:]


def _positive(token: str) -> int:
    """The interval count as written: a whole number from 1 (the caller applies the upper cap)."""
    count = int(token)  # parse_rule's length limit keeps this digit run short
    if count < 1:
        raise UsageError(
            f'"{excerpt(token)}" isn\'t an interval; count from 1 (every 1 week).', hint=EXAMPLES
        )
    return count


def _take_weekday(tokens: list[str]) -> tuple[int | None, list[str]]:
    """'on thu', 'on thursdays' or a bare 'thu' from the front."""
    said_on = bool(tokens) and tokens[0] == "on"
    rest = tokens[1:] if said_on else tokens
    if not rest:
        if said_on:
            raise UsageError("On which day? Name a weekday, like on thu.", hint=EXAMPLES)
        return None, tokens
    weekday = _weekday(rest[0])
    if weekday is None:
        if said_on:
            raise UsageError(_unknown_day(rest[0]), hint=EXAMPLES)
        return None, tokens
    return weekday, rest[1:]


def _weekday(word: str) -> int | None:
    """0–6 for a weekday name or abbreviation, singular or plural ('thursdays'); None otherwise."""
    if word.endswith("s") and word[:-1] in _FULL_DAYS:
        word = word[:-1]
    return _WEEKDAYS.get(word)


def _unknown_day(word: str) -> str:
    """'I don't know the day "funday"', with a suggestion when one is close."""
    close = difflib.get_close_matches(word, list(_WEEKDAYS), n=1, cutoff=0.6)
    did_you_mean = f" Did you mean {_DAY_NAMES[_WEEKDAYS[close[0]]]}?" if close else ""
    return f'I don\'t know the day "{excerpt(word)}".{did_you_mean}'


def _take_time(tokens: list[str]) -> tuple[time | None, list[str]]:
    """14:00, 9:00, 2pm, 2:30pm, 2 pm or noon from the front; UsageError for an impossible time."""
    if not tokens:
        return None, tokens
    if tokens[0] == "noon":
        return time(12, 0), tokens[1:]
    if len(tokens) > 1 and tokens[1] in ("am", "pm"):
        tokens = [tokens[0] + tokens[1], *tokens[2:]]
    word = tokens[0]
    if clock := _CLOCK.fullmatch(word):
        hour, minute, ampm = clock.groups()
        if len(minute) != 2:
            raise _bad_time(word)
        return _wall_time(int(hour), int(minute), ampm, word), tokens[1:]
    if hour_ampm := _HOUR.fullmatch(word):
        return _wall_time(int(hour_ampm.group(1)), 0, hour_ampm.group(2), word), tokens[1:]
    if word.isdigit():
        raise UsageError(
            f'"{excerpt(word)}" needs minutes or am/pm: write {word}:00 or {word}pm.', hint=EXAMPLES
        )
    if _TIMEISH.fullmatch(word):
        raise _bad_time(word)
    return None, tokens


def _wall_time(hour: int, minute: int, ampm: str | None, shown: str) -> time:
    """A real wall time, else UsageError naming what is wrong."""
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise UsageError(
                f'"{excerpt(shown)}" isn\'t a time; with am/pm the hour goes 1–12 (or write 14:00).',
                hint=EXAMPLES,
            )
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise _bad_time(shown)
    return time(hour, minute)


def _bad_time(shown: str) -> UsageError:
    """The standard 'not a time' error."""
    return UsageError(
        f'"{excerpt(shown)}" isn\'t a time on the clock; use 00:00 to 23:59, or 2pm.', hint=EXAMPLES
    )


def _first_day(rule: TrainRule, anchor: datetime, zone: tzinfo) -> date:
    """Launch 0's local date: the anchor's, moved forward to the rule's weekday if it names one."""
    day = anchor.astimezone(zone).date()
    if rule.weekday is not None:
        day += timedelta(days=(rule.weekday - day.weekday()) % 7)
    return day


def _at(day: date, rule: TrainRule, zone: tzinfo) -> datetime:
    """The rule's wall time on a local day, as an aware UTC instant."""
    return localise(datetime.combine(day, rule.at), zone)


def _zone(tz: str) -> tzinfo:
    """The tzinfo for a zone name; InvalidInput (from zone_name) if unknown."""
    canonical = zone_name(tz)
    return UTC if canonical == "UTC" else zoneinfo.ZoneInfo(canonical)


def _require_aware(value: datetime, name: str) -> None:
    """Naive datetimes are a programming error here, never a person's."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def parse_lead(words: list[str]) -> int:
    """`3 days`, `1 day`, `2 weeks`, `3d` or `2w` (the words after "lead"): whole days, 1 to MAX_LEAD_DAYS."""
    text = " ".join(words).strip().casefold()
    found = re.fullmatch(r"(\d{1,3})\s*(d|days?|w|weeks?)", text, _F)
    if found is None:
        raise UsageError(
            "How long before each launch should its release be created? "
            f"e.g. lead 3 days or lead 2 weeks (1 to {MAX_LEAD_DAYS} days)."
        )
    days = int(found.group(1)) * (7 if found.group(2).startswith("w") else 1)
    if not 1 <= days <= MAX_LEAD_DAYS:
        raise UsageError(f"A train's lead runs from 1 to {MAX_LEAD_DAYS} days, not {days}.")
    return days


def open_at_once(lead: timedelta, interval: timedelta) -> int:
    """How many of a train's releases exist at a time once it runs: launches within one lead window."""
    return max(1, -(-lead // interval))  # ceiling division of timedeltas
