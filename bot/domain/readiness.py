"""Readiness: the progress figures the release card and status show, and the go/no-go recommendation."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.model import ItemState, ItemView

BAR_FILLED = "▰"
BAR_EMPTY = "▱"


class Recommendation(enum.StrEnum):
    GO = "go"
    AT_RISK = "at_risk"
    NO_GO = "no_go"


@dataclass(frozen=True, slots=True)
class Readiness:
    """Counts and notable items for one release's checklist at a moment in time."""

    total: int
    done: int  # state DONE only
    closed: int  # DONE, WAIVED or NOT_APPLICABLE
    by_state: Mapping[ItemState, int]  # every state, zero when unused
    sections: Mapping[str, tuple[int, int]]  # section -> (closed, total), in first-seen order
    blocked: tuple[ItemView, ...]
    overdue: tuple[ItemView, ...]  # not closed and due_at < now
    waived: tuple[ItemView, ...]
    unowned: tuple[ItemView, ...]  # not closed and without any owner

    @property
    def remaining(self) -> int:
        """Items that still need something from someone."""
        return self.total - self.closed

    @property
    def percent(self) -> int:
        """Closed share in whole percent, rounded down so 100 means everything is closed."""
        return self.closed * 100 // self.total if self.total else 0

    def bar(self, width: int = 18) -> str:
        """The progress bar for these figures."""
        return progress_bar(self.closed, self.total, width)


def assess(items: Sequence[ItemView], now: datetime) -> Readiness:
    """Compute the readiness figures for `items` as of `now` (aware)."""
    by_state = dict.fromkeys(ItemState, 0)
    sections: dict[str, tuple[int, int]] = {}
    for item in items:
        by_state[item.state] += 1
        closed, total = sections.get(item.section, (0, 0))
        sections[item.section] = (closed + int(item.state.is_closed), total + 1)
    return Readiness(
        total=len(items),
        done=by_state[ItemState.DONE],
        closed=sum(count for state, count in by_state.items() if state.is_closed),
        by_state=by_state,
        sections=sections,
        blocked=tuple(i for i in items if i.state is ItemState.BLOCKED),
        overdue=tuple(i for i in items if i.is_overdue(now)),
        waived=tuple(i for i in items if i.state is ItemState.WAIVED),
        unowned=tuple(i for i in items if not i.state.is_closed and not i.owners),
    )


def progress_bar(closed: int, total: int, width: int = 18) -> str:
    """A bar like ▰▰▰▱▱▱: full only when everything is closed, empty only when nothing is."""
    if width < 1 or total < 0 or not 0 <= closed <= total:
        raise ValueError(f"need 0 <= closed <= total and width >= 1, got {closed}/{total} width {width}")
    filled = closed * width // total if total else 0  # rounding down keeps the bar short of full until done
    if closed and not filled:
        filled = 1  # some progress should always be visible
    return BAR_FILLED * filled + BAR_EMPTY * (width - filled)


def recommendation(r: Readiness, now: datetime, launch_at: datetime) -> Recommendation:
    """Go/no-go advice from the figures; the first rule that applies wins.

    1. NO_GO when any item is blocked, or launch time has come (now >= launch_at) with items still open.
    2. AT_RISK when any item is overdue, any item was waived (someone accepted a risk), or any open item
       has no owner.
    3. GO otherwise.
    """
    if r.blocked or (now >= launch_at and r.remaining):
        return Recommendation.NO_GO
    if r.overdue or r.waived or r.unowned:
        return Recommendation.AT_RISK
    return Recommendation.GO
