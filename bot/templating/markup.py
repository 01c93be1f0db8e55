"""Slack mrkdwn in templates: markup the bot built, escaping for everything else, broadcast mentions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from bot.domain.text import escape_mrkdwn

# The broadcast mentions a template header may allow, and how each one looks in mrkdwn.
MENTIONS: tuple[str, ...] = ("here", "channel", "everyone", "subteam")
# Case-insensitive: refusing <!CHANNEL> costs nothing even if Slack would not act on it.
_MENTION = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>|<!(subteam)\^[^>]*>", re.IGNORECASE)

# Bidi embeddings, overrides and isolates: in a value they could reorder the words the template wrote
# around it (a release name that makes "ships Friday" read differently), so values lose them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEPT_CONTROLS = frozenset("\n\t")


class SlackMarkup(str):
    """Text the bot built itself from ids (a <@U…> mention, a <!date^…> token, a <#C…> link, a link it
    validated): passes the finalize step unescaped. Every other value is escaped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"SlackMarkup({str.__repr__(self)})"


def inert_text(text: str) -> str:
    """A value made inert: control, surrogate and bidi characters replaced, then &, < and > escaped."""
    cleaned = "".join(_replacement(c) for c in text) if not text.isprintable() else text
    return escape_mrkdwn(cleaned)


def _replacement(c: str) -> str:
    """The character itself, or U+FFFD for one a value may not carry into a message."""
    if c in _KEPT_CONTROLS:
        return c
    if c in _BIDI_CONTROLS or unicodedata.category(c) in ("Cc", "Cs"):
        return "\ufffd"
    return c


def finalize(value: Any) -> str:
    """What a `{{ … }}` prints: SlackMarkup as is, None as nothing, anything else as inert text."""
    if isinstance(value, SlackMarkup):
        return value
    if value is None:
        return ""
    return inert_text(value if isinstance(value, str) else str(value))


def markup_join(items: Iterable[Any], separator: str = "") -> str:
    """Join values; with any SlackMarkup among them, the result is SlackMarkup with the rest escaped.

    A plain `"".join` would turn `<@U1>, <@U2>` into a plain string that finalize escapes, breaking the
    mentions; escaping the plain parts here keeps the markup working and lets no person's text through.
    """
    values = list(items)
    if not any(isinstance(v, SlackMarkup) for v in values):
        return str(separator).join(str(v) for v in values)
    return SlackMarkup(finalize(separator).join(finalize(v) for v in values))


def and_join(items: Iterable[Any]) -> str:
    """'a', 'a and b', 'a, b and c' — markup-aware like markup_join."""
    values = list(items)
    if len(values) <= 2:
        return markup_join(values, " and ")
    return markup_join([markup_join(values[:-1], ", "), values[-1]], " and ")


def find_mentions(text: str) -> list[tuple[str, int]]:
    """Each broadcast mention (here, channel, everyone, subteam) `text` would make, with its offset."""
    return [((m.group(1) or m.group(2)).lower(), m.start()) for m in _MENTION.finditer(text)]


def mentions_in(text: str) -> set[str]:
    """The broadcast mentions that `text` would make in Slack."""
    return {name for name, _ in find_mentions(text)}
