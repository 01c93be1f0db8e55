"""Due dates across DST changes, re-flow when launch moves, and offset formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.checklists import parse_offset
from bot.domain.errors import InvalidInput
from bot.domain.schedule import Due, Move, due_at, format_offset, is_calendar_offset, reflow


def local(text: str, tz: str, fold: int = 0) -> datetime:
    """An aware datetime from a local wall time like '2026-03-09 14:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Each row: zone, local launch, offset, expected due in UTC (worked out by hand from the zone's rules).
DST_CASES = [
    # America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT.
    ("America/New_York", "2026-03-09 14:00", "-1d", "2026-03-08 18:00"),  # 14:00 EDT
    ("America/New_York", "2026-03-09 14:00", "-2d", "2026-03-07 19:00"),  # 14:00 EST, not 13:00
    ("America/New_York", "2026-03-09 14:00", "-1w", "2026-03-02 19:00"),
    ("America/New_York", "2026-03-08 12:00", "-12h", "2026-03-08 04:00"),  # 23:00 EST: elapsed hours
    ("America/New_York", "2026-03-09 14:00", "-1d12h", "2026-03-08 06:00"),  # 36 elapsed hours
    ("America/New_York", "2026-03-09 02:30", "-1d", "2026-03-08 07:30"),  # 02:30 is in the gap -> 03:30 EDT
    # America/New_York falls back 2026-11-01 02:00 EDT -> 01:00 EST.
    ("America/New_York", "2026-11-02 14:00", "-2d", "2026-10-31 18:00"),  # 14:00 EDT
    ("America/New_York", "2026-11-01 12:00", "-12h", "2026-11-01 05:00"),  # 01:00 EDT, first 01:00
    ("America/New_York", "2026-11-02 01:30", "-1d", "2026-11-01 05:30"),  # 01:30 twice -> earlier (EDT)
    ("America/New_York", "2026-10-31 14:00", "+2d", "2026-11-02 19:00"),  # after launch, 14:00 EST
    # Europe/Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST.
    ("Europe/Berlin", "2026-03-30 10:00", "-1d", "2026-03-29 08:00"),  # 10:00 CEST
    ("Europe/Berlin", "2026-03-30 10:00", "-2d", "2026-03-28 09:00"),  # 10:00 CET
    ("Europe/Berlin", "2026-03-29 05:00", "-4h", "2026-03-28 23:00"),  # 00:00 CET
    ("Europe/Berlin", "2026-03-30 02:15", "-1d", "2026-03-29 01:15"),  # gap -> 03:15 CEST
    # Europe/Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET.
    ("Europe/Berlin", "2026-10-26 09:00", "-1w", "2026-10-19 07:00"),  # 09:00 CEST
    ("Europe/Berlin", "2026-10-26 09:00", "-1d", "2026-10-25 08:00"),  # 09:00 CET
    ("Europe/Berlin", "2026-10-25 12:00", "-12h", "2026-10-24 23:00"),  # 01:00 CEST
    ("Europe/Berlin", "2026-10-26 02:30", "-1d", "2026-10-25 00:30"),  # 02:30 twice -> earlier (CEST)
    # Pacific/Auckland falls back 2026-04-05 03:00 NZDT -> 02:00 NZST and springs forward 2026-09-27.
    ("Pacific/Auckland", "2026-04-06 09:00", "-1d", "2026-04-04 21:00"),  # 09:00 NZST (+12)
    ("Pacific/Auckland", "2026-04-06 09:00", "-2d", "2026-04-03 20:00"),  # 09:00 NZDT (+13)
    ("Pacific/Auckland", "2026-04-05 09:00", "-8h", "2026-04-04 13:00"),  # 02:00 NZDT, the first 02:00
    ("Pacific/Auckland", "2026-09-28 02:30", "-1d", "2026-09-26 14:30"),  # gap -> 03:30 NZDT
    ("Pacific/Auckland", "2026-09-27 06:00", "-6h", "2026-09-26 11:00"),  # 23:00 NZST
    # Zero offset is the launch itself, even in a fold's second occurrence.
    ("America/New_York", "2026-11-01 01:30", "0h", "2026-11-01 05:30"),
]


@pytest.mark.parametrize(("tz", "launch", "offset", "expected"), DST_CASES)
def test_due_at_across_dst(tz, launch, offset, expected):
    result = due_at(local(launch, tz), parse_offset(offset), tz)
    assert result == utc(expected)
    assert result.tzinfo is UTC


def test_due_at_zero_offset_keeps_the_second_occurrence_of_a_repeated_time():
    launch = local("2026-11-01 01:30", "America/New_York", fold=1)  # 01:30 EST
    assert due_at(launch, timedelta(0), "America/New_York") == utc("2026-11-01 06:30")


def test_due_at_reads_launch_in_the_release_zone_whatever_zone_it_arrives_in():
    launch = utc("2026-03-09 18:00")  # 14:00 EDT
    assert due_at(launch, parse_offset("-2d"), "America/New_York") == utc("2026-03-07 19:00")
    assert due_at(launch, parse_offset("-2d"), "UTC") == utc("2026-03-07 18:00")


@pytest.mark.parametrize(
    ("offset", "calendar"),
    [
        ("-1d", True),
        ("-1w", True),
        ("+3d", True),
        ("-24h", True),
        ("-4h", False),
        ("-1d12h", False),
        ("0h", False),
    ],
)
def test_is_calendar_offset(offset, calendar):
    assert is_calendar_offset(parse_offset(offset)) is calendar


def test_due_at_rejects_naive_launch_and_unknown_zone():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 3, 9, 14), timedelta(days=-1), "UTC")
    with pytest.raises(InvalidInput, match='"Mars/Olympus" is not a time zone'):
        due_at(utc("2026-03-09 14:00"), timedelta(hours=-1), "Mars/Olympus")


ZONES = st.sampled_from(
    ["America/New_York", "Europe/Berlin", "Pacific/Auckland", "Australia/Lord_Howe", "UTC"]
)
LAUNCHES = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)


@given(launch=LAUNCHES, days=st.integers(-365, 365).filter(bool), tz=ZONES)
def test_day_offsets_keep_the_local_wall_time_unless_it_does_not_exist(launch, days, tz):
    zone = ZoneInfo(tz)
    wall = launch.astimezone(zone).replace(tzinfo=None)
    due = due_at(launch, timedelta(days=days), tz).astimezone(zone)
    target = wall + timedelta(days=days)
    exists = target.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == target
    if exists:
        assert due.replace(tzinfo=None) == target
    else:  # in a gap: later than the asked-for wall time, by less than a day
        assert due.date() == target.date() and due.replace(tzinfo=None) > target


@given(launch=LAUNCHES, minutes=st.integers(-365 * 1440, 365 * 1440).filter(lambda m: m % 1440), tz=ZONES)
def test_other_offsets_are_elapsed_time(launch, minutes, tz):
    assert due_at(launch, timedelta(minutes=minutes), tz) - launch == timedelta(minutes=minutes)


# --- re-flow ----------------------------------------------------------------------------------------------

NY = "America/New_York"
OLD_LAUNCH = local("2026-03-12 14:00", NY)  # Thursday, EDT


def due(key: str, offset: str, *, closed: bool = False, nudge: timedelta = timedelta(0)) -> Due:
    """An item due where its offset puts it for OLD_LAUNCH, optionally moved by hand by `nudge`."""
    delta = parse_offset(offset)
    return Due(key, delta, due_at(OLD_LAUNCH, delta, NY) + nudge, closed)


def test_reflow_moves_every_item_and_flags_only_newly_overdue_open_ones():
    items = [
        due("live_deployment_date", "-7d"),  # old due 03-05 (EST), already overdue at `now`
        due("code_review", "-5d"),  # old 03-07 14:00 EST: not yet overdue, will be
        due("legal_compliance", "-5d", closed=True),  # same times, but closed
        due("rollback_plan", "-2d"),  # moves to 03-07, still after `now`
        due("database_backup", "-4h"),
    ]
    now = local("2026-03-06 12:00", "America/New_York")
    new_launch = local("2026-03-09 14:00", NY)  # three days earlier, across the DST change
    moves = reflow(items, OLD_LAUNCH, new_launch, NY, now)
    assert moves == [
        Move("live_deployment_date", utc("2026-03-05 19:00"), utc("2026-03-02 19:00"), False),
        Move("code_review", utc("2026-03-07 19:00"), utc("2026-03-04 19:00"), True),
        Move("legal_compliance", utc("2026-03-07 19:00"), utc("2026-03-04 19:00"), False),
        Move("rollback_plan", utc("2026-03-10 18:00"), utc("2026-03-07 19:00"), False),
        Move("database_backup", utc("2026-03-12 14:00"), utc("2026-03-09 14:00"), False),
    ]


def test_reflow_later_launch_creates_no_overdue_items_and_keeps_hand_made_adjustments():
    items = [due("code_review", "-5d", nudge=timedelta(hours=-3)), due("support_plan", "-2d")]
    new_launch = local("2026-03-19 14:00", NY)
    moves = reflow(items, OLD_LAUNCH, new_launch, NY, now=local("2026-03-08 09:00", NY))
    assert moves == [
        Move("code_review", utc("2026-03-07 16:00"), utc("2026-03-14 15:00"), False),
        Move("support_plan", utc("2026-03-10 18:00"), utc("2026-03-17 18:00"), False),
    ]


def test_reflow_leaves_out_items_that_do_not_move():
    items = [due("code_review", "-5d")]
    assert reflow(items, OLD_LAUNCH, OLD_LAUNCH, NY, now=utc("2026-03-01 00:00")) == []


def test_reflow_overdue_boundary_matches_item_view():
    # Due exactly at `now` is not overdue (ItemView.is_overdue uses due_at < now).
    item = due("code_review", "-1d")
    now = item.due_at - timedelta(days=1)
    [exactly] = reflow([item], OLD_LAUNCH, OLD_LAUNCH - timedelta(days=1), NY, now)
    assert exactly.new_due_at == now and not exactly.became_overdue
    [past] = reflow([item], OLD_LAUNCH, OLD_LAUNCH - timedelta(days=1, minutes=1), NY, now)
    assert past.became_overdue


# --- formatting -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(days=-5), "-5d"),
        (timedelta(hours=-4), "-4h"),
        (timedelta(days=-1, hours=-12), "-1d12h"),
        (timedelta(minutes=-90), "-1h30m"),
        (timedelta(weeks=-1), "-7d"),
        (timedelta(minutes=30), "+30m"),
        (timedelta(0), "0h"),
        (timedelta(days=2, minutes=5), "+2d5m"),
    ],
)
def test_format_offset(offset, text):
    assert format_offset(offset) == text


def test_format_offset_refuses_seconds():
    with pytest.raises(ValueError, match="whole minutes"):
        format_offset(timedelta(seconds=-30))


@given(st.integers(-365 * 1440, 365 * 1440))
def test_format_then_parse_round_trips(minutes):
    offset = timedelta(minutes=minutes)
    assert parse_offset(format_offset(offset)) == offset


OFFSET_TEXT = st.builds(
    lambda sign, w, d, h, m: (
        sign + "".join(f"{n}{u}" for n, u in ((w, "w"), (d, "d"), (h, "h"), (m, "m")) if n)
    ),
    st.sampled_from(["-", "+"]),
    st.integers(0, 10),
    st.integers(0, 100),
    st.integers(0, 100),
    st.integers(0, 1000),
).filter(lambda text: len(text) > 1)


@given(OFFSET_TEXT)
def test_parse_then_format_is_canonical(text):
    offset = parse_offset(text)
    assert parse_offset(format_offset(offset)) == offset
    assert format_offset(parse_offset(format_offset(offset))) == format_offset(offset)
