"""Lines the bot posts in a release card's thread, built from domain data (user text escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.domain.model import ItemState
from bot.domain.schedule import Move
from bot.domain.text import escape_mrkdwn

# Thread notes stay well under Slack's 40,000-character message limit.
_MAX_LISTED = 25


def date_token(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: every reader sees the time in their own zone; the fallback is UTC."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def reschedule_note(
    actor: str,
    old_launch: datetime,
    new_launch: datetime,
    moves: Sequence[Move],
    titles: Mapping[str, tuple[int, str]],
) -> str:
    """What moved and what became overdue when a release was rescheduled."""
    lines = [
        f":calendar: <@{actor}> moved the launch from {date_token(old_launch)} to {date_token(new_launch)}.",
    ]
    ordered = sorted(moves, key=lambda m: titles.get(m.key, (0, ""))[0])
    for move in ordered[:_MAX_LISTED]:
        position, title = titles.get(move.key, (0, move.key))
        flag = " — :alarm_clock: *now overdue*" if move.became_overdue else ""
        dates = f"{date_token(move.old_due_at)} → {date_token(move.new_due_at)}"
        lines.append(f"• {position}. {escape_mrkdwn(title)}: {dates}{flag}")
    if len(ordered) > _MAX_LISTED:
        lines.append(f"…and {len(ordered) - _MAX_LISTED} more.")
    if not moves:
        lines.append("No open item's due date changed.")
    return "\n".join(lines)


_STATE_LINE = {
    "done": "✅ signed off",
    "open": "↩️ reopened",
    "in_progress": "🔄 started",
    "blocked": "⛔ blocked",
    "waived": "⚠️ waived",
    "not_applicable": "➖ marked not applicable",
}


def state_change_note(
    actor: str, position: int, title: str, before: ItemState, after: ItemState, note: str | None
) -> str:
    """One line for the card's thread: who moved which item where, and why."""
    line = f"<@{actor}> {_STATE_LINE[after.value]} {position}. {escape_mrkdwn(title)}"
    if note:
        line += f" — “{escape_mrkdwn(note[:300])}”"
    return line
