"""Launch-time text: every accepted form, zones across the date line, DST gaps and folds, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput, UsageError, UserError
from bot.domain.when import (
    WhenKind,
    WhenSpec,
    ensure_future,
    format_local,
    parse_when,
    resolve_when,
    zone_name,
)

# Wednesday 2026-06-17 20:00 UTC: 16:00 EDT in New York, 22:00 CEST in Berlin,
# and already Thursday 2026-06-18 08:00 NZST in Auckland.
NOW = datetime(2026, 6, 17, 20, 0, tzinfo=UTC)
NY, BERLIN, AUCKLAND = "America/New_York", "Europe/Berlin", "Pacific/Auckland"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def when(text: str, tz: str, now: datetime = NOW) -> datetime:
    return resolve_when(parse_when(text), now=now, tz=tz)


# (text, issuer zone, expected UTC) — worked out by hand from the zone rules noted.
FORMS = [
    # Absolute dates: December is EST (-5) in New York, CET (+1) in Berlin, NZDT (+13) in Auckland.
    ("2026-12-10", NY, "2026-12-10 15:00"),  # no time: 10:00 local
    ("2026-12-10 14:00", NY, "2026-12-10 19:00"),
    ("2026-12-10T14:00", NY, "2026-12-10 19:00"),
    ("2026-12-10 14:00:00", NY, "2026-12-10 19:00"),
    ("2026-12-10 2pm", NY, "2026-12-10 19:00"),
    ("2026-12-10 2:30 PM", NY, "2026-12-10 19:30"),
    ("2026-12-10 12am", NY, "2026-12-10 05:00"),
    ("2026-12-10 noon", NY, "2026-12-10 17:00"),
    ("2026-12-10 14:00", BERLIN, "2026-12-10 13:00"),
    ("2026-12-10 14:00", AUCKLAND, "2026-12-10 01:00"),
    ("2026-12-10 14:00 Europe/Berlin", NY, "2026-12-10 13:00"),  # the text's zone wins
    ("2026-12-10 14:00 europe/berlin", AUCKLAND, "2026-12-10 13:00"),
    ("2026-12-10 14:00 UTC", NY, "2026-12-10 14:00"),
    ("2026-12-10 14:00 GMT", BERLIN, "2026-12-10 14:00"),
    ("2026-12-10T14:00+01:00", NY, "2026-12-10 13:00"),
    ("2026-12-10T14:00-0530", NY, "2026-12-10 19:30"),
    ("2026-12-10 14:00 UTC+5:30", NY, "2026-12-10 08:30"),
    ("2026-12-10T14:00Z", AUCKLAND, "2026-12-10 14:00"),
    ("2026-12-10t14:00z", NY, "2026-12-10 14:00"),
    ("Dec 10 14:00", NY, "2026-12-10 19:00"),  # no year: this year, still ahead
    ("December 10th, 2026 at 2pm", NY, "2026-12-10 19:00"),
    ("10 Dec 2026 14:00", NY, "2026-12-10 19:00"),
    ("10 dec", BERLIN, "2026-12-10 09:00"),
    ("Jun 1", NY, "2027-06-01 14:00"),  # already gone this year: next year (EDT)
    ("Jun 17 09:00", NY, "2026-06-17 13:00"),  # today counts, even if the time has passed
    ("Feb 29", NY, "2028-02-29 15:00"),  # waits for a leap year
    ("2028-02-29", "UTC", "2028-02-29 10:00"),
    # Days named relative to today, read in the issuer's zone (New York: Wed 16:00 EDT).
    ("today 17:00", NY, "2026-06-17 21:00"),
    ("17:00", NY, "2026-06-17 21:00"),  # a bare time is today
    ("tomorrow 10:00", NY, "2026-06-18 14:00"),
    ("tomorrow", NY, "2026-06-18 14:00"),
    ("TOMORROW at 10AM", NY, "2026-06-18 14:00"),
    ("10am tomorrow", NY, "2026-06-18 14:00"),
    ("friday 09:00", NY, "2026-06-19 13:00"),
    ("fri 9am", NY, "2026-06-19 13:00"),
    ("this friday 09:00", NY, "2026-06-19 13:00"),
    ("next friday 09:00", NY, "2026-06-26 13:00"),  # Friday of next (Monday-based) week
    ("wednesday", NY, "2026-06-24 14:00"),  # strictly after today
    ("next wednesday", NY, "2026-06-24 14:00"),
    ("monday", NY, "2026-06-22 14:00"),
    ("next monday", NY, "2026-06-22 14:00"),
    # Berlin: Wed 22:00 CEST (+2).
    ("today 17:00", BERLIN, "2026-06-17 15:00"),
    ("tomorrow", BERLIN, "2026-06-18 08:00"),
    ("friday 09:00", BERLIN, "2026-06-19 07:00"),
    # Auckland is already Thursday 08:00 NZST (+12): across the date line "today" is a day later.
    ("today 17:00", AUCKLAND, "2026-06-18 05:00"),
    ("tomorrow", AUCKLAND, "2026-06-18 22:00"),
    ("friday 09:00", AUCKLAND, "2026-06-18 21:00"),
    ("next friday 09:00", AUCKLAND, "2026-06-25 21:00"),
    ("thursday", AUCKLAND, "2026-06-24 22:00"),  # Thursday there is today, so the next one
    ("friday 09:00 Pacific/Auckland", NY, "2026-06-18 21:00"),  # read wholly in the text's zone
    ("tomorrow 09:00 Europe/Berlin", AUCKLAND, "2026-06-18 07:00"),
    # Relative: days and weeks keep the wall time, hours and minutes are elapsed time.
    ("+3d", NY, "2026-06-20 20:00"),
    ("+2w", NY, "2026-07-01 20:00"),
    ("+36h", NY, "2026-06-19 08:00"),
    ("+90m", NY, "2026-06-17 21:30"),
    ("+ 90 min", NY, "2026-06-17 21:30"),
    ("in 3 days", NY, "2026-06-20 20:00"),
    ("in 2 weeks", NY, "2026-07-01 20:00"),
    ("in a week", NY, "2026-06-24 20:00"),
    ("in 1 day at 9:00", NY, "2026-06-18 13:00"),
    ("+3d 14:00 UTC", AUCKLAND, "2026-06-20 14:00"),  # three days from today in UTC (Wed 17th)
    ("+3d", AUCKLAND, "2026-06-20 20:00"),
]


@pytest.mark.parametrize(("text", "tz", "expected"), FORMS)
def test_accepted_forms(text: str, tz: str, expected: str) -> None:
    at = when(text, tz)
    assert at == utc(expected)
    assert at.tzinfo is UTC


# DST transitions in 2026 (all on Sundays).
DST = [
    # Spring-forward gap: the wall time moves forward by the gap length.
    ("2026-03-08 02:30", NY, "2026-03-08 07:30"),  # 02:30 EST doesn't exist -> 03:30 EDT
    ("2026-03-08 02:00", NY, "2026-03-08 07:00"),  # -> 03:00 EDT
    ("2026-03-08 03:00", NY, "2026-03-08 07:00"),  # first real EDT minute, same instant
    ("2026-03-29 02:30", BERLIN, "2026-03-29 01:30"),  # -> 03:30 CEST
    ("2026-09-27 02:30", AUCKLAND, "2026-09-26 14:30"),  # NZ springs forward -> 03:30 NZDT
    # Fall-back fold: the first (earlier, still-summer) occurrence.
    ("2026-11-01 01:30", NY, "2026-11-01 05:30"),  # 01:30 EDT, not 01:30 EST (06:30Z)
    ("2026-10-25 02:30", BERLIN, "2026-10-25 00:30"),  # 02:30 CEST, not CET (01:30Z)
    ("2026-04-05 02:30", AUCKLAND, "2026-04-04 13:30"),  # 02:30 NZDT, not NZST (14:30Z)
    # Either side of a transition is ordinary.
    ("2026-03-08 01:59", NY, "2026-03-08 06:59"),
    ("2026-11-01 02:00", NY, "2026-11-01 07:00"),
]


@pytest.mark.parametrize(("text", "tz", "expected"), DST)
def test_dst_gap_moves_forward_and_fold_takes_first(text: str, tz: str, expected: str) -> None:
    assert when(text, tz) == utc(expected)


def test_relative_days_keep_wall_time_across_dst_but_hours_do_not() -> None:
    saturday = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)  # 15:00 EST, the day before spring-forward
    assert when("+1d", NY, saturday) == utc("2026-03-08 19:00")  # 15:00 EDT: only 23 hours later
    assert when("+24h", NY, saturday) == utc("2026-03-08 20:00")  # 16:00 EDT


def test_parse_is_pure_data() -> None:
    spec = parse_when("next Friday 9am Europe/Berlin")
    assert spec == WhenSpec(WhenKind.NEXT_WEEKDAY, weekday=4, time=spec.time, zone="Europe/Berlin")
    assert spec.time is not None and (spec.time.hour, spec.time.minute) == (9, 0)
    assert parse_when("2026-12-10T14:00+01:00").offset == timedelta(hours=1)
    assert parse_when("+90m") == WhenSpec(WhenKind.ELAPSED, delta=timedelta(minutes=90))
    assert parse_when("+90m").text == "+90m"


IMPOSSIBLE = [
    ("2026-02-30", "February 2026 has 28 days"),
    ("2026-02-29", "February 2026 has 28 days"),
    ("2026-13-01", "no month 13"),
    ("2026-00-10", "no month 0"),
    ("Feb 30", "February has 29 days"),
    ("Dec 32 2026", "December 2026 has 31 days"),
    ("2026-12-10 25:00", "25:00 isn't a time"),
    ("2026-12-10 24:61", "24:61 isn't a time"),
    ("2026-12-10 24:00", "24:00 isn't a time"),
    ("2026-12-10 14:00:60", "14:00:60 isn't a time"),
    ("tomorrow 13pm", "13pm isn't a time"),
    ("tomorrow 0am", "0am isn't a time"),
    ("10000-01-01", "year 10000"),
    ("Dec 10 10000", "year 10000"),
    ("1999-12-31", "year 1999"),
    ("26-12-10", "year 26"),
    ("2026-12-10 14:00 +15:00", "+15:00 isn't a UTC offset"),
    ("2026-12-10 14:00 -13:00", "-13:00 isn't a UTC offset"),
    ("+11y", None),  # unknown unit is usage, checked below
    ("+99999999999999999999d", "too far ahead"),
    ("+3661d", "too far ahead"),
    ("2026-12-10 14:00 Mars/Olympus", 'time zone "Mars/Olympus"'),
    ("2026-12-10 14:00 PST", 'time zone "PST"'),
]


@pytest.mark.parametrize(("text", "fragment"), [case for case in IMPOSSIBLE if case[1]])
def test_impossible_values_are_invalid_input_naming_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_when(text)
    assert fragment in caught.value.message
    assert caught.value.hint  # shows the accepted forms (or zone forms)


def test_misspelt_zone_gets_a_suggestion() -> None:
    with pytest.raises(InvalidInput, match="Did you mean Europe/Berlin"):
        parse_when("2026-12-10 14:00 Europe/Berln")
    assert zone_name("america/new_york") == NY


@pytest.mark.parametrize(
    "text",
    ["", "   ", "blah", "next week", "2026/12/10", "2026-12-10 14:5", "+3 fortnights", "+11y", "+3h 14:00",
     "tomorrow tomorrow", "at", "2026-12-10 14:00 UTC UTC", "x" * 500],
)  # fmt: skip
def test_unreadable_text_is_usage_error_with_forms(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_when(text)
    assert "2026-12-10 14:00" in (caught.value.hint or "")


def test_unknown_issuer_zone_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus"):
        resolve_when(parse_when("tomorrow"), now=NOW, tz="Mars/Olympus")


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        resolve_when(parse_when("tomorrow"), now=datetime(2026, 6, 17), tz=NY)


def test_far_future_resolution_fails_politely() -> None:
    with pytest.raises(InvalidInput, match="too far"):
        resolve_when(parse_when("9999-12-31 23:00"), now=NOW, tz="Pacific/Pago_Pago")
    late = datetime(9999, 12, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="too far"):
        resolve_when(parse_when("+2w"), now=late, tz=NY)


def test_ensure_future() -> None:
    ensure_future(NOW + timedelta(minutes=1), NOW)
    with pytest.raises(InvalidInput) as caught:
        ensure_future(utc("2026-06-17 14:00"), NOW, tz=NY)
    assert caught.value.message == "That's in the past: Wed 17 Jun 2026, 10:00 EDT. Pick a time after now."
    with pytest.raises(InvalidInput, match="in the past"):
        ensure_future(NOW, NOW)  # "after now" is strict


def test_format_local() -> None:
    assert format_local(utc("2026-12-10 13:00"), BERLIN) == "Thu 10 Dec 2026, 14:00 CET"
    assert format_local(utc("2026-12-10 13:00"), "UTC") == "Thu 10 Dec 2026, 13:00 UTC"


PIECES = st.sampled_from(
    ["2026-12-10", "2026-02-30", "10000-01-01", "14:00", "25:00", "2pm", "13pm", "pm", "at", "today",
     "tomorrow", "next", "friday", "Dec", "10", "29", "Feb", "2026", "+3d", "+36h", "in", "3", "days",
     "a", "week", "UTC", "Z", "+01:00", "+99:99", "Europe/Berlin", "Mars/Olympus", "noon", "T", "-",
     "99999999999999999999", "2026-12-10T14:00+01:00", "2026-12-10T14:00Z", "٣", "１２:００"]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=60),
    st.lists(PIECES, max_size=6).map(" ".join),
)
ZONES = st.sampled_from(
    [NY, BERLIN, AUCKLAND, "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu"]
)
NOWS = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@given(TEXTS, NOWS, ZONES)
@settings(max_examples=300, deadline=None)
def test_any_text_parses_and_resolves_or_raises_a_user_error(text: str, now: datetime, tz: str) -> None:
    try:
        at = resolve_when(parse_when(text), now=now, tz=tz)
    except UserError:
        return
    assert at.tzinfo is UTC
