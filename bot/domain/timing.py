"""Reading per-release timing: how long before launch the summaries and the final call go out."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.checklists import parse_offset
from bot.domain.errors import InvalidInput
from bot.domain.schedule import format_offset
from bot.domain.text import excerpt

MAX_SUMMARIES = 6


def before_launch(text: str) -> timedelta:
    """'72h', '3d', '1d12h' (with or without a minus) → a positive time before launch."""
    bare = text.strip().lstrip("-+")
    try:
        offset = -parse_offset("-" + bare)
    except InvalidInput:
        raise InvalidInput(
            f'"{excerpt(text)}" is not a time before launch; write it like 72h, 3d or 1d12h.'
        ) from None
    if offset <= timedelta(0):
        raise InvalidInput("Pick a time before launch, like 24h.")
    return offset


def parse_summary_offsets(text: str) -> tuple[timedelta, ...]:
    """'72h,24h,2h' → offsets before launch, longest first, without repeats."""
    parts = [p for p in text.replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise InvalidInput("Give at least one time before launch, e.g. 24h.")
    offsets = sorted({before_launch(p) for p in parts}, reverse=True)
    if len(offsets) > MAX_SUMMARIES:
        raise InvalidInput(f"At most {MAX_SUMMARIES} summaries per release.")
    return tuple(offsets)


def format_offsets(offsets: tuple[timedelta, ...]) -> str:
    """Offsets back to text: '72h,24h,2h' style (as format_offset writes them, without the minus)."""
    return ",".join(format_offset(-o).lstrip("-") for o in offsets)


def parse_working_days(text: str) -> int:
    """'1' → 1: how many working days before the due reminder the heads-up comes (0 turns it off)."""
    value = text.strip()
    if not value.isdigit() or int(value) > 10:
        raise InvalidInput(f'"{excerpt(text)}" is not a number of working days from 0 to 10.')
    return int(value)


def parse_overdue(text: str) -> bool:
    """'daily' → True, 'once' → False: how often overdue reminders repeat."""
    value = text.strip().casefold()
    if value not in ("daily", "once"):
        raise InvalidInput('Overdue reminders are either "daily" or "once".')
    return value == "daily"
