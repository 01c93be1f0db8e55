"""Per-release timing as people type it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.errors import InvalidInput
from bot.domain.timing import before_launch, format_offsets, parse_summary_offsets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("72h", timedelta(hours=72)),
        ("-2h", timedelta(hours=2)),
        ("1d12h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_before_launch(text: str, expected: timedelta) -> None:
    assert before_launch(text) == expected


@pytest.mark.parametrize("text", ["soon", "0h", "", "72", "3 days"])
def test_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        before_launch(text)


def test_summary_offsets_are_sorted_and_deduplicated() -> None:
    offsets = parse_summary_offsets("2h, 72h,3d ,24h")
    assert offsets == (timedelta(days=3), timedelta(days=1), timedelta(hours=2))
    assert format_offsets(offsets) == "3d,1d,2h"


def test_at_most_six_summaries() -> None:
    with pytest.raises(InvalidInput, match="At most"):
        parse_summary_offsets("1h,2h,3h,4h,5h,6h,7h")
