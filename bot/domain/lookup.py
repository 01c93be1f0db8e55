"""Resolving what people type ("5", "db", "Payments 2.4") to the item or release they mean."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from bot.domain.errors import Ambiguous, NotFound, UsageError
from bot.domain.model import ItemView
from bot.domain.text import escape_mrkdwn, excerpt, name_key

_MAX_LISTED = 5
_SUGGEST_CUTOFF = 0.7  # below this difflib's best guess is more noise than help
_NUMBER = re.compile(r"#?\s*(\d{1,9})", re.ASCII)
_LONG_NUMBER = re.compile(r"#?\s*\d+", re.ASCII)


class Named(Protocol):
    """Anything with a name: a ReleaseView, a database row, a test stub."""

    @property
    def name(self) -> str: ...


R = TypeVar("R", bound=Named)


def resolve_item(ref: str, items: Sequence[ItemView], *, release_name: str) -> ItemView:
    """The item a number (#5 or 5), a title or key prefix, or an exact title names."""
    where = escape_mrkdwn(release_name)
    wanted = _normalise(ref)
    if not wanted:
        raise UsageError("Which item? Give its number or the start of its title.")
    if _LONG_NUMBER.fullmatch(wanted):
        number = _NUMBER.fullmatch(wanted)
        return _by_position(int(number.group(1)) if number else -1, ref, items, where)
    ordered = sorted(items, key=lambda item: item.position)
    exact = [item for item in ordered if wanted in (_normalise(item.title), _normalise(item.key))]
    matches = exact or [
        item
        for item in ordered
        if _normalise(item.title).startswith(wanted) or _normalise(item.key).startswith(wanted)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise Ambiguous(
            f'"{excerpt(ref)}" matches {len(matches)} items in {where}: {_list_items(matches)}. '
            f"Use the number instead, e.g. {matches[0].position}."
        )
    suggestion = _suggest_item(wanted, ordered)
    did_you_mean = (
        f" Did you mean {_label(suggestion)}?" if suggestion else " Check the list with /release status."
    )
    raise NotFound(f'I couldn\'t find item "{excerpt(ref)}" in {where}.{did_you_mean}')


def resolve_release(ref: str | None, releases: Sequence[R], *, channel_name: str | None = None) -> R:
    """The release a name or name prefix means; with no name, the only active one here."""
    here = f"#{escape_mrkdwn(channel_name)}" if channel_name else "this channel"
    wanted = _normalise(ref or "")
    if not wanted:
        return _only_release(releases, here)
    exact = [r for r in releases if _normalise(r.name) == wanted]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise Ambiguous(
            f'{len(exact)} releases are called "{excerpt(ref or "")}". '
            "Run the command in the release's own channel."
        )
    prefixed = [r for r in releases if _normalise(r.name).startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise Ambiguous(
            f'"{excerpt(ref or "")}" matches {_list_names(prefixed)}. '
            f'Use the full name in quotes, e.g. /release status "{escape_mrkdwn(prefixed[0].name)}".'
        )
    raise NotFound(
        f'I couldn\'t find a release called "{excerpt(ref or "")}".{_release_hint(wanted, releases, here)}'
    )


def _only_release(releases: Sequence[R], here: str) -> R:
    """With no name given, the channel's single active release, or a clear word on why not."""
    if len(releases) == 1:
        return releases[0]
    if not releases:
        raise NotFound(
            f"There is no active release in {here}. "
            'Start one with /release new "&lt;name&gt;" &lt;when&gt;, '
            'e.g. /release new "Payments 2.4" friday 10:00.'
        )
    example = escape_mrkdwn(releases[0].name)
    raise Ambiguous(
        f"There are {len(releases)} active releases in {here}: {_list_names(releases)}. "
        f'Say which one, e.g. /release status "{example}" or /release in "{example}" done 5.'
    )


def _by_position(number: int, ref: str, items: Sequence[ItemView], where: str) -> ItemView:
    """The item at a 1-based position, or NotFound with the valid range."""
    for item in items:
        if item.position == number:
            return item
    if not items:
        raise NotFound(f"{where} has no checklist items.")
    positions = [item.position for item in items]
    shown = excerpt(ref.strip().lstrip("#").strip())
    raise NotFound(
        f"There is no item {shown} in {where}; items are numbered {min(positions)}–{max(positions)}."
    )


def _suggest_item(wanted: str, items: Sequence[ItemView]) -> ItemView | None:
    """The item a misspelt or mid-title reference most likely meant, if any is close enough."""
    starts_a_word = [
        item for item in items if any(w.startswith(wanted) for w in _normalise(item.title).split())
    ]
    if len(starts_a_word) == 1:
        return starts_a_word[0]
    best, best_score = None, _SUGGEST_CUTOFF
    for item in items:
        score = _closeness(wanted, _normalise(item.title))
        if score > best_score:
            best, best_score = item, score
    return best


def _closeness(wanted: str, title: str) -> float:
    """How well wanted matches the title, its same-length start, or one of its words (0–1)."""
    candidates = [title, title[: len(wanted)], *title.split()]
    return max(difflib.SequenceMatcher(None, wanted, c).ratio() for c in candidates)


def _release_hint(wanted: str, releases: Sequence[Named], here: str) -> str:
    """' Did you mean X?', or the list of releases to choose from, or how to start one."""
    names = {_normalise(r.name): r.name for r in releases}
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    if close:
        return f' Did you mean "{escape_mrkdwn(names[close[0]])}"?'
    if releases:
        return f" Active releases in {here}: {_list_names(releases)}."
    return f" There is no active release in {here}."


def _list_items(items: Sequence[ItemView]) -> str:
    """'4. Deploy, 5. Database Backup' — at most _MAX_LISTED, then a count of the rest."""
    return _cap([_label(item) for item in items])


def _list_names(releases: Sequence[Named]) -> str:
    """Release names, escaped and capped like _list_items."""
    return _cap([escape_mrkdwn(r.name) for r in releases])


def _cap(labels: list[str]) -> str:
    """Join labels, naming at most _MAX_LISTED and counting the rest."""
    shown = ", ".join(labels[:_MAX_LISTED])
    rest = len(labels) - _MAX_LISTED
    return f"{shown} and {rest} more" if rest > 0 else shown


def _label(item: ItemView) -> str:
    """'5. Database Backup', escaped for mrkdwn."""
    return f"{item.position}. {escape_mrkdwn(item.title)}"


def _normalise(s: str) -> str:
    """Compared as name_key() does, with whitespace runs collapsed, for forgiving comparisons."""
    return " ".join(name_key(s).split())
