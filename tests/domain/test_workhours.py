"""Working hours: in and out of hours, the end-of-period rule, counting working time, zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.workhours import (
    WorkingHours,
    add_working_hours,
    is_working,
    last_working_instant_at_or_before,
    next_working_start_after,
    working_day_start,
    working_days_between,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"
AUCKLAND = "Pacific/Auckland"  # +13 in December (NZDT)
KIRITIMATI = "Pacific/Kiritimati"  # +14, the first to see a new day
PAGO_PAGO = "Pacific/Pago_Pago"  # −11, among the last
EVERY_DAY = frozenset(range(7))  # the 2026 DST changes all fall on Sundays


def local(text: str, tz: str, fold: int = 0) -> datetime:
    """An aware datetime from a local wall time like '2026-12-07 09:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# December 2026: Fri 4, Sat 5, Sun 6, Mon 7, Tue 8. Standard hours: 09:00–18:00, Monday to Friday.
IS_WORKING = [
    (NY, local("2026-12-07 09:00", NY), True),
    (NY, local("2026-12-07 08:59", NY), False),
    (NY, local("2026-12-07 17:59", NY), True),
    (NY, local("2026-12-07 17:59:59", NY), True),
    (NY, local("2026-12-07 18:00", NY), False),  # the end belongs to the evening
    (NY, local("2026-12-05 10:00", NY), False),  # Saturday
    (NY, local("2026-12-06 10:00", NY), False),  # Sunday
    (NY, utc("2026-12-07 15:00"), True),  # 10:00 EST, whatever zone the instant arrives in
    (AUCKLAND, utc("2026-12-06 20:00"), True),  # Sunday in UTC, Monday 09:00 in Auckland
    (AUCKLAND, utc("2026-12-04 20:00"), False),  # Friday in UTC, Saturday 09:00 in Auckland
    (KIRITIMATI, utc("2026-12-06 19:00"), True),  # Sunday 19:00 UTC is Monday 09:00 at +14
    (KIRITIMATI, utc("2026-12-04 03:59"), True),  # Friday 17:59 local
    (KIRITIMATI, utc("2026-12-04 04:00"), False),  # Friday 18:00 local, while UTC is still Friday morning
    (PAGO_PAGO, utc("2026-12-05 04:00"), True),  # Saturday in UTC, Friday 17:00 at −11
    (PAGO_PAGO, utc("2026-12-07 19:59"), False),  # Monday 08:59 local
    (PAGO_PAGO, utc("2026-12-07 20:00"), True),
]


@pytest.mark.parametrize(("tz", "at", "expected"), IS_WORKING)
def test_is_working(tz, at, expected):
    assert is_working(at, tz, WorkingHours()) is expected


LAST_WORKING = [
    (NY, "2026-12-05 10:00", "2026-12-04 17:59"),  # Saturday -> Friday's last working minute
    (NY, "2026-12-07 08:00", "2026-12-04 17:59"),  # Monday before hours -> Friday
    (NY, "2026-12-08 12:00", "2026-12-08 12:00"),  # inside hours: itself
    (NY, "2026-12-08 17:59:30", "2026-12-08 17:59:30"),
    (NY, "2026-12-08 18:00", "2026-12-08 17:59"),  # the end is outside, its last minute inside
    (NY, "2026-12-08 23:30", "2026-12-08 17:59"),
    (KIRITIMATI, "2026-12-05 17:00", "2026-12-04 17:59"),  # Saturday local, Saturday 03:00 UTC
    (PAGO_PAGO, "2026-12-04 16:00", "2026-12-04 16:00"),  # Friday local, Saturday 03:00 UTC: still working
    (AUCKLAND, "2026-12-08 08:00", "2026-12-07 17:59"),
]


@pytest.mark.parametrize(("tz", "at", "expected"), LAST_WORKING)
def test_last_working_instant_at_or_before(tz, at, expected):
    result = last_working_instant_at_or_before(local(at, tz), tz, WorkingHours())
    assert result == local(expected, tz)
    assert result.tzinfo is UTC
    assert is_working(result, tz, WorkingHours())


NEXT_START = [
    (NY, "2026-12-04 17:00", "2026-12-07 09:00"),  # Friday afternoon -> Monday
    (NY, "2026-12-05 10:00", "2026-12-07 09:00"),
    (NY, "2026-12-07 08:00", "2026-12-07 09:00"),
    (NY, "2026-12-07 09:00", "2026-12-08 09:00"),  # strictly after
    (KIRITIMATI, "2026-12-07 08:00", "2026-12-07 09:00"),
    (PAGO_PAGO, "2026-12-04 18:30", "2026-12-07 09:00"),
]


@pytest.mark.parametrize(("tz", "at", "expected"), NEXT_START)
def test_next_working_start_after(tz, at, expected):
    result = next_working_start_after(local(at, tz), tz, WorkingHours())
    assert result == local(expected, tz)
    assert result.tzinfo is UTC


ADD_HOURS = [
    (NY, "2026-12-04 16:00", 3, "2026-12-07 10:00"),  # 2 h on Friday, 1 h on Monday
    (NY, "2026-12-07 09:00", 24, "2026-12-09 15:00"),  # 9 + 9 + 6
    (NY, "2026-12-07 10:00", 24, "2026-12-09 16:00"),
    (NY, "2026-12-05 12:00", 1, "2026-12-07 10:00"),  # from a weekend, counting starts on Monday
    (NY, "2026-12-04 09:00", 9, "2026-12-04 18:00"),  # reached exactly at a period's end: that end
    (NY, "2026-12-08 12:00", 0, "2026-12-08 12:00"),
    (NY, "2026-12-05 12:00", 0, "2026-12-05 12:00"),  # nothing to count: the instant itself
    (NY, "2026-12-08 12:00", 0.5, "2026-12-08 12:30"),
    (NY, "2026-12-07 10:00", -2, "2026-12-04 17:00"),  # backward across the weekend
    (NY, "2026-12-07 09:00", -9, "2026-12-04 09:00"),
    (NY, "2026-12-05 12:00", -1, "2026-12-04 17:00"),
    (AUCKLAND, "2026-12-04 17:00", 2, "2026-12-07 10:00"),
    (KIRITIMATI, "2026-12-04 17:00", 2, "2026-12-07 10:00"),
    (PAGO_PAGO, "2026-12-04 17:00", 2, "2026-12-07 10:00"),
]


@pytest.mark.parametrize(("tz", "at", "count", "expected"), ADD_HOURS)
def test_add_working_hours(tz, at, count, expected):
    result = add_working_hours(local(at, tz), count, tz, WorkingHours())
    assert result == local(expected, tz)
    assert result.tzinfo is UTC


@pytest.mark.parametrize("count", [float("nan"), float("inf"), float("-inf")])
def test_add_working_hours_rejects_counts_that_never_end(count):
    with pytest.raises(ValueError, match="finite"):
        add_working_hours(utc("2026-12-07 15:00"), count, NY)


WORKING_DAYS = [
    ("2026-12-04 17:00", "2026-12-07 10:00", 1),  # Monday's start
    ("2026-12-07 10:00", "2026-12-04 17:00", -1),
    ("2026-12-07 10:00", "2026-12-07 17:00", 0),
    ("2026-12-07 08:00", "2026-12-07 09:00", 1),  # a start at b counts
    ("2026-12-07 09:00", "2026-12-07 12:00", 0),  # a start at a does not
    ("2026-12-07 10:00", "2026-12-14 10:00", 5),
    ("2026-12-05 10:00", "2026-12-06 10:00", 0),
    ("2026-12-07 10:00", "2026-12-07 10:00", 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), WORKING_DAYS)
def test_working_days_between(a, b, expected):
    assert working_days_between(local(a, NY), local(b, NY), NY, WorkingHours()) == expected


DAY_STARTS = [
    ("2026-12-08 14:00", 0, "2026-12-08 09:00"),
    ("2026-12-08 14:00", -1, "2026-12-07 09:00"),
    ("2026-12-07 14:00", -1, "2026-12-04 09:00"),  # across the weekend
    ("2026-12-08 14:00", 2, "2026-12-10 09:00"),
    ("2026-12-05 10:00", 0, "2026-12-04 09:00"),  # outside hours: the latest working day before
    ("2026-12-05 10:00", 1, "2026-12-07 09:00"),
    ("2026-12-07 08:00", 0, "2026-12-04 09:00"),
]


@pytest.mark.parametrize(("at", "offset", "expected"), DAY_STARTS)
def test_working_day_start(at, offset, expected):
    assert working_day_start(local(at, NY), NY, WorkingHours(), offset) == local(expected, NY)


# DST: working hours are wall-clock; a start or end in a gap moves forward by the gap, a time in a fold is its
# first occurrence. Expected instants are worked out by hand in UTC.
EARLY = WorkingHours(time(2, 30), time(12, 0), EVERY_DAY)  # a start that falls in the spring-forward gap
ACROSS_FOLD = WorkingHours(time(1, 30), time(2, 30), EVERY_DAY)  # NY: straddles 02:00 EDT -> 01:00 EST
INSIDE_FOLD = WorkingHours(time(0, 30), time(1, 30), EVERY_DAY)  # NY: ends at the first 01:30
BERLIN_FOLD = WorkingHours(time(2, 30), time(4, 0), EVERY_DAY)  # Berlin: 03:00 CEST -> 02:00 CET
COLLAPSED = WorkingHours(time(2, 30), time(3, 15), EVERY_DAY)  # NY: start moves to 03:30, past the end

DST_CASES = [
    # America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 is 03:30 EDT.
    (NY, EARLY, "2026-03-08 07:29", False),
    (NY, EARLY, "2026-03-08 07:30", True),  # 03:30 EDT
    (NY, EARLY, "2026-03-08 15:59", True),  # 11:59 EDT
    (NY, EARLY, "2026-03-08 16:00", False),  # 12:00 EDT
    (NY, ACROSS_FOLD, "2026-03-08 06:30", True),  # 01:30 EST; its end 02:30 is 03:30 EDT = 07:30 UTC
    (NY, ACROSS_FOLD, "2026-03-08 07:29", True),
    (NY, ACROSS_FOLD, "2026-03-08 07:30", False),
    (NY, COLLAPSED, "2026-03-08 07:20", False),  # no working time at all that day
    (NY, COLLAPSED, "2026-03-09 06:30", True),  # 02:30 EDT the next day
    # America/New_York falls back 2026-11-01 02:00 EDT -> 01:00 EST.
    (NY, ACROSS_FOLD, "2026-11-01 05:30", True),  # the first 01:30 (EDT)
    (NY, ACROSS_FOLD, "2026-11-01 07:00", True),  # 02:00 EST
    (NY, ACROSS_FOLD, "2026-11-01 07:30", False),  # 02:30 EST
    (NY, INSIDE_FOLD, "2026-11-01 05:29", True),  # 01:29 EDT
    (NY, INSIDE_FOLD, "2026-11-01 05:30", False),  # the first 01:30 ends the day
    (NY, INSIDE_FOLD, "2026-11-01 06:15", False),  # 01:15 EST, the repeated hour
    # Europe/Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST.
    (BERLIN, EARLY, "2026-03-29 01:29", False),
    (BERLIN, EARLY, "2026-03-29 01:30", True),  # 03:30 CEST
    (BERLIN, EARLY, "2026-03-29 09:59", True),  # 11:59 CEST
    (BERLIN, EARLY, "2026-03-28 01:30", True),  # 02:30 CET the day before: the same UTC time
    # Europe/Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET.
    (BERLIN, BERLIN_FOLD, "2026-10-25 00:29", False),
    (BERLIN, BERLIN_FOLD, "2026-10-25 00:30", True),  # the first 02:30 (CEST)
    (BERLIN, BERLIN_FOLD, "2026-10-25 02:59", True),  # 03:59 CET
    (BERLIN, BERLIN_FOLD, "2026-10-25 03:00", False),  # 04:00 CET
]


@pytest.mark.parametrize(("tz", "hours", "at", "expected"), DST_CASES)
def test_is_working_across_dst(tz, hours, at, expected):
    assert is_working(utc(at), tz, hours) is expected


@pytest.mark.parametrize(
    ("tz", "hours", "start", "count", "expected"),
    [
        (NY, EARLY, "2026-03-08 07:30", 8.5, "2026-03-08 16:00"),  # a day an hour short: 03:30–12:00
        (NY, EARLY, "2026-03-08 07:30", 9, "2026-03-09 07:00"),  # the rest on Monday from 02:30 EDT
        (NY, ACROSS_FOLD, "2026-11-01 05:30", 2, "2026-11-01 07:30"),  # an hour-long day that lasts two
        (NY, INSIDE_FOLD, "2026-11-01 04:30", 1.5, "2026-11-02 06:00"),  # 1 h on Sunday, then 00:30 EST
        (BERLIN, EARLY, "2026-03-29 01:30", 9, "2026-03-30 01:00"),  # 8.5 h, then 02:30–03:00 CEST Monday
        (BERLIN, BERLIN_FOLD, "2026-10-25 00:30", 2.5, "2026-10-25 03:00"),
        # Standard hours over a DST weekend: Friday in old time, Monday in new time.
        (NY, WorkingHours(), "2026-03-06 22:00", 2, "2026-03-09 14:00"),  # Fri 17:00 EST -> Mon 10:00 EDT
        (BERLIN, WorkingHours(), "2026-10-23 15:00", 2, "2026-10-26 09:00"),  # Fri 17:00 CEST -> 10:00 CET
    ],
)
def test_add_working_hours_across_dst(tz, hours, start, count, expected):
    assert add_working_hours(utc(start), count, tz, hours) == utc(expected)


def test_a_start_in_the_gap_moves_forward_by_the_gap():
    assert next_working_start_after(utc("2026-03-08 05:00"), NY, EARLY) == utc("2026-03-08 07:30")
    assert next_working_start_after(utc("2026-03-29 00:00"), BERLIN, EARLY) == utc("2026-03-29 01:30")


def test_a_day_the_gap_empties_is_skipped():
    assert next_working_start_after(utc("2026-03-08 05:00"), NY, COLLAPSED) == utc("2026-03-09 06:30")
    assert last_working_instant_at_or_before(utc("2026-03-08 08:00"), NY, COLLAPSED) == utc(
        "2026-03-07 08:14"
    )


def test_the_repeated_hour_after_a_period_ending_in_the_fold_is_outside():
    assert last_working_instant_at_or_before(utc("2026-11-01 06:15"), NY, INSIDE_FOLD) == utc(
        "2026-11-01 05:29"
    )


def test_last_working_minute_over_a_dst_weekend():
    # Monday 08:00 EDT -> Friday 17:59 EST.
    assert last_working_instant_at_or_before(utc("2026-03-09 12:00"), NY) == utc("2026-03-06 22:59")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": time(18), "end": time(9)}, "start before they end"),
        ({"start": time(9), "end": time(9)}, "start before they end"),
        ({"days": frozenset()}, "at least one working day"),
        ({"days": frozenset({7})}, "weekday numbers"),
        ({"start": time(9, tzinfo=UTC)}, "wall-clock"),
    ],
)
def test_working_hours_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkingHours(**kwargs)


def test_working_hours_accepts_any_iterable_of_days():
    assert WorkingHours(days=[0, 2, 4]).days == frozenset({0, 2, 4})


NAIVE = datetime(2026, 12, 7, 10, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: is_working(NAIVE, NY),
        lambda: last_working_instant_at_or_before(NAIVE, NY),
        lambda: next_working_start_after(NAIVE, NY),
        lambda: working_day_start(NAIVE, NY),
        lambda: add_working_hours(NAIVE, 1, NY),
        lambda: working_days_between(NAIVE, utc("2026-12-08 10:00"), NY),
        lambda: working_days_between(utc("2026-12-08 10:00"), NAIVE, NY),
    ],
)
def test_naive_input_is_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


# Properties, over every zone the system knows and arbitrary working hours.

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)


@st.composite
def working_hours(draw) -> WorkingHours:
    start = draw(st.integers(0, 23 * 60 + 58))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return WorkingHours(time(*divmod(start, 60)), time(*divmod(end, 60)), days)


@settings(max_examples=300, deadline=None)
@given(at=instants, tz=st.timezone_keys(), hours=working_hours())
def test_last_working_instant_is_working_and_not_later(at, tz, hours):
    result = last_working_instant_at_or_before(at, tz, hours)
    assert result <= at
    assert is_working(result, tz, hours)
    assert result.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(at=instants, tz=st.timezone_keys(), hours=working_hours())
def test_next_working_start_is_later_working_and_one_working_day_on(at, tz, hours):
    result = next_working_start_after(at, tz, hours)
    assert result > at
    assert is_working(result, tz, hours)
    assert working_days_between(at, result, tz, hours) == 1


@settings(max_examples=300, deadline=None)
@given(at=instants, tz=st.timezone_keys(), hours=working_hours(), quarters=st.integers(1, 400))
def test_counting_forward_then_back_returns_to_a_working_start(at, tz, hours, quarters):
    start = last_working_instant_at_or_before(at, tz, hours)
    count = quarters / 4
    later = add_working_hours(start, count, tz, hours)
    assert later >= start + timedelta(hours=count)  # working time never runs faster than the clock
    assert add_working_hours(later, -count, tz, hours) == start
