"""Readiness figures and the go/no-go recommendation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.model import ItemState, ItemView, Owner, OwnerKind
from bot.domain.readiness import Readiness, Recommendation, assess, progress_bar, recommendation

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
LAUNCH = NOW + timedelta(days=2)
ALICE = Owner(OwnerKind.USER, "U0ALICE")

OPEN, IN_PROGRESS, DONE, BLOCKED, WAIVED, NA = (
    ItemState.OPEN,
    ItemState.IN_PROGRESS,
    ItemState.DONE,
    ItemState.BLOCKED,
    ItemState.WAIVED,
    ItemState.NOT_APPLICABLE,
)


def view(
    key: str,
    state: ItemState = OPEN,
    *,
    section: str = "Quality",
    due_in: timedelta = timedelta(days=1),
    owned=True,
) -> ItemView:
    """An item due `due_in` from NOW, owned by Alice unless owned=False."""
    return ItemView(
        position=0,
        key=key,
        section=section,
        title=key.replace("_", " ").title(),
        description="",
        state=state,
        due_at=NOW + due_in,
        offset=timedelta(days=-1),
        owners=[ALICE] if owned else [],
    )


def keys(items) -> list[str]:
    return [i.key for i in items]


def test_assess_counts_states_sections_and_notable_items():
    items = [
        view("code_review", DONE, due_in=timedelta(days=-2)),
        view("security_testing", IN_PROGRESS, due_in=timedelta(hours=-1)),  # overdue
        view("database_backup", BLOCKED, section="Data"),
        view("rollback_plan", WAIVED, section="Data", due_in=timedelta(days=-1)),  # closed: not overdue
        view("data_migration_plan", NA, section="Data", owned=False),  # closed: not "unowned"
        view("announcement_plan", OPEN, section="Comms", owned=False),
        view("performance_testing", DONE),
    ]
    r = assess(items, NOW)
    assert (r.total, r.done, r.closed, r.remaining) == (7, 2, 4, 3)
    assert r.by_state == {OPEN: 1, IN_PROGRESS: 1, DONE: 2, BLOCKED: 1, WAIVED: 1, NA: 1}
    assert list(r.sections.items()) == [("Quality", (2, 3)), ("Data", (2, 3)), ("Comms", (0, 1))]
    assert keys(r.blocked) == ["database_backup"]
    assert keys(r.overdue) == ["security_testing"]
    assert keys(r.waived) == ["rollback_plan"]
    assert keys(r.unowned) == ["announcement_plan"]
    assert r.percent == 57


def test_overdue_is_strictly_past_due():
    r = assess([view("a", due_in=timedelta(0)), view("b", due_in=timedelta(seconds=-1))], NOW)
    assert keys(r.overdue) == ["b"]


def test_empty_checklist():
    r = assess([], NOW)
    assert (r.total, r.closed, r.percent, r.sections) == (0, 0, 0, {})
    assert r.bar() == "▱" * 18
    assert recommendation(r, NOW, LAUNCH) is Recommendation.GO


@pytest.mark.parametrize(
    ("closed", "total", "width", "bar"),
    [
        (0, 18, 18, "▱" * 18),
        (18, 18, 18, "▰" * 18),
        (9, 18, 18, "▰" * 9 + "▱" * 9),
        (1, 100, 18, "▰" + "▱" * 17),  # any progress shows
        (99, 100, 18, "▰" * 17 + "▱"),  # never full until everything is closed
        (1, 3, 6, "▰▰▱▱▱▱"),
        (0, 0, 5, "▱▱▱▱▱"),
    ],
)
def test_progress_bar(closed, total, width, bar):
    assert progress_bar(closed, total, width) == bar
    assert len(bar) == width


@pytest.mark.parametrize(("closed", "total", "width"), [(-1, 3, 18), (4, 3, 18), (1, 3, 0)])
def test_progress_bar_rejects_impossible_figures(closed, total, width):
    with pytest.raises(ValueError):
        progress_bar(closed, total, width)


def test_readiness_bar_uses_its_figures():
    r = assess([view("a", DONE), view("b")], NOW)
    assert r.bar(4) == "▰▰▱▱"


@pytest.mark.parametrize(
    ("items", "now", "expected"),
    [
        ([view("a", DONE), view("b", IN_PROGRESS)], NOW, Recommendation.GO),
        ([view("a", DONE), view("b", NA)], LAUNCH + timedelta(hours=1), Recommendation.GO),  # all closed
        ([view("a", DONE), view("b", BLOCKED)], NOW, Recommendation.NO_GO),
        ([view("a", BLOCKED, due_in=timedelta(days=-1)), view("b", WAIVED)], NOW, Recommendation.NO_GO),
        ([view("a", DONE), view("b", IN_PROGRESS)], LAUNCH, Recommendation.NO_GO),  # launch time, work open
        ([view("a", DONE), view("b", due_in=timedelta(minutes=-1))], NOW, Recommendation.AT_RISK),  # overdue
        ([view("a", DONE), view("b", WAIVED)], NOW, Recommendation.AT_RISK),  # waived
        ([view("a", DONE), view("b", owned=False)], NOW, Recommendation.AT_RISK),  # unowned
        ([view("a", DONE), view("b", NA, owned=False)], NOW, Recommendation.GO),  # closed needs no owner
    ],
)
def test_recommendation_rules(items, now, expected):
    assert recommendation(assess(items, now), now, LAUNCH) is expected


def test_readiness_is_a_frozen_value():
    r = assess([view("a")], NOW)
    assert isinstance(r, Readiness)
    with pytest.raises(AttributeError):
        r.total = 3  # type: ignore[misc]
