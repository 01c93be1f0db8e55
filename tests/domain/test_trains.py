"""Release trains: reading the rule, and launches that keep their wall time across DST and year ends."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput, UsageError
from bot.domain.trains import (
    MAX_LEAD_DAYS,
    MAX_TRAIN_NAME,
    RELEASE_NAME_MAX,
    TrainRule,
    clean_train_name,
    first_launch,
    launches,
    next_launch,
    open_at_once,
    parse_lead,
    parse_rule,
    release_name,
)
from bot.domain.when import localise

BERLIN, NY, AUCKLAND = "Europe/Berlin", "America/New_York", "Pacific/Auckland"
MON, TUE, WED, THU, FRI, SUN = 0, 1, 2, 3, 4, 6


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def weeks(every: int, weekday: int, hour: int, minute: int = 0) -> TrainRule:
    return TrainRule(every=every, unit="week", weekday=weekday, at=time(hour, minute))


def days(every: int, hour: int, minute: int = 0) -> TrainRule:
    return TrainRule(every=every, unit="day", weekday=None, at=time(hour, minute))


# --- reading rules --------------------------------------------------------------------------------

ACCEPTED = [
    ("every 2 weeks on thu 14:00", weeks(2, THU, 14)),
    ("every week on tuesday at 10:30", weeks(1, TUE, 10, 30)),
    ("every day at 09:00", days(1, 9)),
    ("every 3 days 16:00", days(3, 16)),
    ("weekly on fri 15:00", weeks(1, FRI, 15)),
    ("fortnightly on mon 9:00", weeks(2, MON, 9)),
    ("every day at 2pm", days(1, 14)),
    ("every day at 2:30pm", days(1, 14, 30)),
    ("every day at 2 PM", days(1, 14)),
    ("every day at 12am", days(1, 0)),
    ("every day at 12pm", days(1, 12)),
    ("daily noon", days(1, 12)),
    ("  EVERY   2  Weeks  ON  Thu   14:00 ", weeks(2, THU, 14)),
    ("every other week on thursdays at 14:00", weeks(2, THU, 14)),
    ("every week thu 14:00", weeks(1, THU, 14)),
    ("every weeks on sun 23:59", weeks(1, SUN, 23, 59)),
    ("every 52 weeks on mon 00:00", weeks(52, MON, 0)),
    ("every 365 days at 8:05am", days(365, 8, 5)),
    ("every +2 weeks on thu 14:00", weeks(2, THU, 14)),
]


@pytest.mark.parametrize(("text", "rule"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_parse_rule(text: str, rule: TrainRule) -> None:
    assert parse_rule(text) == rule


REFUSED = [
    ("", "How often"),
    ("   ", "How often"),
    ("every 0 weeks on thu 14:00", "count from 1"),
    ("every -2 weeks on thu 14:00", "count from 1"),
    ("every 53 weeks on thu 14:00", "every 52 weeks"),
    ("every 366 days 14:00", "every 365 days"),
    ("every 99999999999 days 14:00", "every 365 days"),
    ("every 2 weeks", "Which day of the week"),
    ("every 2 weeks 14:00", "Which day of the week"),
    ("every 2 days on thu", "can't also name a weekday"),
    ("daily on mon 10:00", "can't also name a weekday"),
    ("every week on funday 14:00", 'day "funday"'),
    ("every week on thurzday 14:00", "Did you mean Thursday?"),
    ("every week on 14:00", 'day "14:00"'),
    ("every week on", "On which day"),
    ("every day 25:00", '"25:00" isn\'t a time'),
    ("every day 14:61", '"14:61" isn\'t a time'),
    ("every day 14:5", '"14:5" isn\'t a time'),
    ("every day at 13pm", "hour goes 1–12"),
    ("every day at 0am", "hour goes 1–12"),
    ("every day at 9", "write 9:00 or 9pm"),
    ("every day", "At what time"),
    ("every week on thu", "At what time"),
    ("every day at", "At what time"),
    ("every day 14:00 sharp", 'understand "sharp"'),
    ("every day 14:00 14:00", 'understand "14:00"'),
    ("hourly at 14:00", 'with "every"'),
    ("every month on thu 14:00", "days or weeks"),
    ("every", "days or weeks"),
    ("every 2 fortnights on thu 14:00", "days or weeks"),
    ("x" * 201, "too long"),
]


@pytest.mark.parametrize(("text", "says"), REFUSED, ids=[t[:40] or "empty" for t, _ in REFUSED])
def test_parse_rule_refuses(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_rule(text)
    assert says in caught.value.message
    assert "every 2 weeks on thu 14:00" in (caught.value.hint or "")  # an example to copy


def test_parse_rule_escapes_what_it_echoes() -> None:
    with pytest.raises(UsageError) as caught:
        parse_rule("every day 14:00 <!here>&")
    assert "&lt;!here&gt;&amp;" in caught.value.message
    assert "<!here>" not in caught.value.message


@pytest.mark.parametrize(
    ("rule", "described", "stored"),
    [
        (weeks(2, THU, 14), "every 2 weeks on Thursday at 14:00", "every 2 weeks on thu at 14:00"),
        (weeks(1, TUE, 10, 30), "every week on Tuesday at 10:30", "every 1 week on tue at 10:30"),
        (days(1, 9), "every day at 09:00", "every 1 day at 09:00"),
        (days(3, 16, 5), "every 3 days at 16:05", "every 3 days at 16:05"),
    ],
)
def test_describe_and_stored(rule: TrainRule, described: str, stored: str) -> None:
    assert rule.describe() == described
    assert rule.stored() == stored


rule_strategy = st.one_of(
    st.builds(weeks, st.integers(1, 52), st.integers(0, 6), st.integers(0, 23), st.integers(0, 59)),
    st.builds(days, st.integers(1, 365), st.integers(0, 23), st.integers(0, 59)),
)


@given(rule_strategy)
def test_stored_and_described_forms_read_back(rule: TrainRule) -> None:
    assert parse_rule(rule.stored()) == rule
    assert parse_rule(rule.describe()) == rule


@pytest.mark.parametrize(
    "fields",
    [
        {"every": 0, "unit": "week", "weekday": THU, "at": time(14)},
        {"every": 53, "unit": "week", "weekday": THU, "at": time(14)},
        {"every": 1, "unit": "week", "weekday": None, "at": time(14)},
        {"every": 1, "unit": "day", "weekday": THU, "at": time(14)},
        {"every": 1, "unit": "week", "weekday": 7, "at": time(14)},
        {"every": 1, "unit": "month", "weekday": None, "at": time(14)},
        {"every": 1, "unit": "day", "weekday": None, "at": time(14, 0, 30)},
        {"every": 1, "unit": "day", "weekday": None, "at": time(14, tzinfo=UTC)},
    ],
)
def test_rule_refuses_impossible_fields(fields: dict) -> None:
    with pytest.raises(ValueError):
        TrainRule(**fields)


# --- launches -------------------------------------------------------------------------------------

# (case, rule, zone, anchor UTC, launches strictly after the anchor minus a second, all UTC)
# worked out by hand from the zone rules: Berlin CET +1 / CEST +2 (2026: 29 Mar, 25 Oct);
# New York EST -5 / EDT -4 (2026: 8 Mar, 1 Nov); Auckland NZDT +13 / NZST +12 (2026: 5 Apr, 27 Sep).
SERIES = [
    (
        "Berlin, spring forward keeps 14:00",
        weeks(2, THU, 14),
        BERLIN,
        "2026-03-19 13:00",  # Thu 19 Mar 14:00 CET
        ["2026-03-19 13:00", "2026-04-02 12:00", "2026-04-16 12:00"],
    ),
    (
        "Berlin, fall back keeps 14:00",
        weeks(2, THU, 14),
        BERLIN,
        "2026-10-15 12:00",  # Thu 15 Oct 14:00 CEST
        ["2026-10-15 12:00", "2026-10-29 13:00", "2026-11-12 13:00"],
    ),
    (
        "Berlin, across the year end",
        weeks(1, THU, 14),
        BERLIN,
        "2026-12-24 13:00",
        ["2026-12-24 13:00", "2026-12-31 13:00", "2027-01-07 13:00"],
    ),
    (
        "Berlin, daily through the transition night",
        days(1, 2, 30),
        BERLIN,
        "2026-03-28 01:30",  # Sat 28 Mar 02:30 CET
        ["2026-03-28 01:30", "2026-03-29 01:30", "2026-03-30 00:30"],  # Sun's 02:30 is in the gap: 03:30 CEST
    ),
    (
        "New York, a wall time in the spring gap moves forward",
        weeks(1, SUN, 2, 30),
        NY,
        "2026-03-01 07:30",  # Sun 1 Mar 02:30 EST
        ["2026-03-01 07:30", "2026-03-08 07:30", "2026-03-15 06:30"],  # 8 Mar: 03:30 EDT
    ),
    (
        "New York, a wall time in the autumn fold takes the first",
        weeks(1, SUN, 1, 30),
        NY,
        "2026-10-25 05:30",  # Sun 25 Oct 01:30 EDT
        ["2026-10-25 05:30", "2026-11-01 05:30", "2026-11-08 06:30"],  # 1 Nov: 01:30 EDT, not EST
    ),
    (
        "New York, every 3 days at 09:00",
        days(3, 9),
        NY,
        "2026-03-05 14:00",  # Thu 5 Mar 09:00 EST
        ["2026-03-05 14:00", "2026-03-08 13:00", "2026-03-11 13:00"],
    ),
    (
        "Auckland, the local Monday is a UTC Sunday, and NZDT ends",
        weeks(2, MON, 9),
        AUCKLAND,
        "2026-03-29 20:00",  # Mon 30 Mar 09:00 NZDT
        ["2026-03-29 20:00", "2026-04-12 21:00", "2026-04-26 21:00"],
    ),
    (
        "Auckland, across the year end",
        weeks(1, MON, 9),
        AUCKLAND,
        "2026-12-27 20:00",  # Mon 28 Dec 09:00 NZDT
        ["2026-12-27 20:00", "2027-01-03 20:00", "2027-01-10 20:00"],
    ),
]


@pytest.mark.parametrize(
    ("rule", "tz", "anchor", "expected"), [c[1:] for c in SERIES], ids=[c[0] for c in SERIES]
)
def test_launches(rule: TrainRule, tz: str, anchor: str, expected: list[str]) -> None:
    start = utc(anchor)
    got = launches(rule, anchor=start, after=start - timedelta(seconds=1), tz=tz, count=len(expected))
    assert got == [utc(e) for e in expected]
    assert all(g.tzinfo is UTC for g in got)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-01-01 00:00", "2026-03-19 13:00"),  # before the anchor: the anchor itself
        ("2026-03-19 12:59", "2026-03-19 13:00"),
        ("2026-03-19 13:00", "2026-04-02 12:00"),  # strictly after
        ("2026-04-02 11:59", "2026-04-02 12:00"),
        ("2026-04-02 12:00", "2026-04-16 12:00"),
        ("2026-04-09 12:00", "2026-04-16 12:00"),  # an off week
        ("2027-06-01 00:00", "2027-06-10 12:00"),  # 32 fortnights on, without walking there
        ("2027-06-10 12:00", "2027-06-24 12:00"),
    ],
)
def test_next_launch(after: str, expected: str) -> None:
    rule, anchor = weeks(2, THU, 14), utc("2026-03-19 13:00")
    assert next_launch(rule, anchor=anchor, after=utc(after), tz=BERLIN) == utc(expected)


def test_next_launch_reads_after_in_any_zone() -> None:
    rule, anchor = weeks(2, THU, 14), utc("2026-03-19 13:00")
    after = datetime(2026, 4, 2, 13, 59, tzinfo=zoneinfo.ZoneInfo(BERLIN))  # 11:59 UTC
    assert next_launch(rule, anchor=anchor, after=after, tz=BERLIN) == utc("2026-04-02 12:00")


def test_weekly_anchor_on_another_day_moves_to_the_weekday() -> None:
    # The anchor is a Tuesday (say the rule was edited to Thursdays): launches follow the rule.
    anchor = utc("2026-06-16 10:00")
    got = launches(weeks(1, THU, 14), anchor=anchor, after=anchor, tz=BERLIN, count=2)
    assert got == [utc("2026-06-18 12:00"), utc("2026-06-25 12:00")]


def test_launches_count_zero_and_negative() -> None:
    anchor = utc("2026-06-18 12:00")
    assert launches(days(1, 14), anchor=anchor, after=anchor, tz=BERLIN, count=0) == []
    with pytest.raises(ValueError):
        launches(days(1, 14), anchor=anchor, after=anchor, tz=BERLIN, count=-1)


@pytest.mark.parametrize(
    ("rule", "now", "tz", "expected"),
    [
        # Wed 17 Jun 2026 20:00 UTC: 22:00 CEST in Berlin, 16:00 EDT in New York, Thu 08:00 NZST in Auckland.
        (weeks(2, THU, 14), "2026-06-17 20:00", BERLIN, "2026-06-18 12:00"),
        (weeks(2, THU, 14), "2026-06-18 11:59", BERLIN, "2026-06-18 12:00"),  # later today
        (weeks(2, THU, 14), "2026-06-18 12:00", BERLIN, "2026-06-25 12:00"),  # strictly after now
        (weeks(1, WED, 23), "2026-06-17 20:00", BERLIN, "2026-06-17 21:00"),
        (weeks(1, WED, 21), "2026-06-17 20:00", BERLIN, "2026-06-24 19:00"),  # a full week on
        (days(1, 9), "2026-06-17 20:00", NY, "2026-06-18 13:00"),
        (days(5, 17), "2026-06-17 20:00", NY, "2026-06-17 21:00"),  # the interval starts at the anchor
        (weeks(1, THU, 8), "2026-06-17 20:00", AUCKLAND, "2026-06-24 20:00"),  # exactly now: next week
        (weeks(1, THU, 9), "2026-06-17 20:00", AUCKLAND, "2026-06-17 21:00"),
        (weeks(1, SUN, 2, 30), "2026-03-07 12:00", NY, "2026-03-08 07:30"),  # in the gap: 03:30 EDT
        (weeks(1, THU, 14), "2026-12-31 13:00", BERLIN, "2027-01-07 13:00"),
    ],
)
def test_first_launch(rule: TrainRule, now: str, tz: str, expected: str) -> None:
    assert first_launch(rule, now=utc(now), tz=tz) == utc(expected)


@pytest.mark.parametrize(
    ("launch", "tz", "name"),
    [
        ("2026-12-10 13:00", BERLIN, "Mobile train 2026-12-10"),
        ("2026-04-12 21:00", AUCKLAND, "Mobile train 2026-04-13"),  # the local date, not UTC's
        ("2027-01-01 03:00", NY, "Mobile train 2026-12-31"),
    ],
)
def test_release_name(launch: str, tz: str, name: str) -> None:
    assert release_name("Mobile train", utc(launch), tz) == name


def test_train_names_leave_room_for_the_date() -> None:
    longest = clean_train_name("x" * MAX_TRAIN_NAME)
    assert len(release_name(longest, utc("2026-12-10 13:00"), BERLIN)) == RELEASE_NAME_MAX
    with pytest.raises(InvalidInput, match="train name"):
        clean_train_name("x" * (MAX_TRAIN_NAME + 1))
    assert clean_train_name("  Mobile   train ") == "Mobile train"


def test_naive_times_and_unknown_zones_are_refused() -> None:
    naive = datetime(2026, 6, 18, 12, 0)
    with pytest.raises(ValueError, match="aware"):
        next_launch(days(1, 9), anchor=naive, after=utc("2026-06-18 12:00"), tz=BERLIN)
    with pytest.raises(ValueError, match="aware"):
        first_launch(days(1, 9), now=naive, tz=BERLIN)
    with pytest.raises(InvalidInput, match="time zone"):
        first_launch(days(1, 9), now=utc("2026-06-18 12:00"), tz="Mars/Olympus")


# --- properties -----------------------------------------------------------------------------------

zones = st.sampled_from([BERLIN, NY, AUCKLAND, "UTC", "Australia/Lord_Howe", "Asia/Kolkata"])
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200)
@given(rule_strategy, zones, instants, st.integers(0, 4000))
def test_next_launch_is_the_first_occurrence_after(
    rule: TrainRule, tz: str, anchor: datetime, hours: int
) -> None:
    after = anchor + timedelta(hours=hours)
    found = next_launch(rule, anchor=anchor, after=after, tz=tz)
    # Walk the occurrences one by one from the anchor's day: next_launch's jump must land on the same one.
    zone = zoneinfo.ZoneInfo(tz)
    day = anchor.astimezone(zone).date()
    while rule.weekday is not None and day.weekday() != rule.weekday:
        day += timedelta(days=1)
    step = timedelta(days=rule.every * (7 if rule.unit == "week" else 1))
    while (walked := localise(datetime.combine(day, rule.at), zone)) <= after:
        day += step
    assert found == walked


@settings(max_examples=200)
@given(rule_strategy, zones, instants)
def test_launches_keep_the_wall_time_weekday_and_interval(rule: TrainRule, tz: str, now: datetime) -> None:
    zone = zoneinfo.ZoneInfo(tz)
    anchor = first_launch(rule, now=now, tz=tz)
    series = launches(rule, anchor=anchor, after=now, tz=tz, count=4)
    assert series[0] == anchor > now
    local = [s.astimezone(zone) for s in series]
    for a, b in itertools.pairwise(local):
        assert (b.date() - a.date()).days == rule.every * (7 if rule.unit == "week" else 1)
    for launch in local:
        if rule.weekday is not None:
            assert launch.weekday() == rule.weekday
        # Only a wall time that falls in a DST gap may move (forward, by the gap).
        if launch.time() != rule.at:
            naive = datetime.combine(launch.date(), rule.at)
            assert naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).time() != rule.at


@pytest.mark.parametrize(
    ("words", "days"),
    [(["3", "days"], 3), (["1", "day"], 1), (["3d"], 3), (["2", "weeks"], 14), (["2W"], 14), (["60d"], 60)],
)
def test_parse_lead(words: list[str], days: int) -> None:
    assert parse_lead(words) == days


@pytest.mark.parametrize("words", [[], ["3"], ["days"], ["three", "days"], ["3", "hours"], ["0d"], ["9w"]])
def test_parse_lead_refuses(words: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_lead(words)


@pytest.mark.parametrize(
    ("lead_days", "interval_days", "expected"),
    [(14, 14, 1), (14, 7, 2), (14, 1, 14), (2, 1, 2), (3, 14, 1), (15, 7, 3), (MAX_LEAD_DAYS, 1, 60)],
)
def test_open_at_once(lead_days: int, interval_days: int, expected: int) -> None:
    assert open_at_once(timedelta(days=lead_days), timedelta(days=interval_days)) == expected
