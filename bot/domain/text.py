"""Text hygiene: make user text inert in Slack mrkdwn and fit to store as names and notes."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.errors import InvalidInput

# Categories no stored text may contain: control characters (C0, DEL, C1) and lone surrogates,
# which Slack's JSON can deliver but no database or encoder will take.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})
_NOTE_ALLOWED = frozenset({"\n", "\t"})
_BLANK_LINES = re.compile(r"\n{3,}")


def escape_mrkdwn(s: str) -> str:
    """Escape &, < and > (ampersand first) so Slack shows the text instead of acting on it."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def decode_slack_entities(s: str) -> str:
    """Undo the &amp;/&lt;/&gt; escaping Slack applies to what people type (ampersand last)."""
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def excerpt(s: str, max_len: int = 60) -> str:
    """User text made safe to echo in a message: one line, no control characters, short, escaped."""
    visible = "".join("\ufffd" if _is_forbidden(c) and not c.isspace() else c for c in s)
    line = " ".join(visible.split())
    if len(line) > max_len:
        line = line[: max_len - 1] + "…"
    return escape_mrkdwn(line)


def clean_name(s: str, *, field: str = "name", max_len: int = 150) -> str:
    """A one-line name: trimmed, whitespace collapsed, no control characters; otherwise exactly as typed."""
    text = s.strip()
    _reject_forbidden(text, field=field, allowed=frozenset(), advice="use plain text on one line")
    # No Unicode normalisation: names are stored as typed. Comparisons use name_key() instead.
    text = " ".join(text.split())
    return _checked_length(text, field=field, max_len=max_len)


def name_key(name: str) -> str:
    """The form names are compared in: NFC-normalised and casefolded, so "Café" matches "CAFE\u0301"."""
    return unicodedata.normalize("NFC", name).casefold()


def clean_note(s: str, *, field: str, max_len: int = 2000) -> str:
    """Free text (a note or reason): like a name, but newlines and tabs are kept."""
    text = s.replace("\r\n", "\n").replace("\r", "\n").strip()
    _reject_forbidden(text, field=field, allowed=_NOTE_ALLOWED, advice="remove it and try again")
    # Trailing spaces and runs of blank lines carry no meaning but make cards ragged.
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return _checked_length(text, field=field, max_len=max_len)


def _is_forbidden(c: str) -> bool:
    """True for control characters and lone surrogates."""
    return unicodedata.category(c) in _FORBIDDEN_CATEGORIES


def _reject_forbidden(text: str, *, field: str, allowed: frozenset[str], advice: str) -> None:
    """Raise InvalidInput naming the first character that cannot be stored."""
    for c in text:
        if c not in allowed and _is_forbidden(c):
            kind = "an invalid character" if unicodedata.category(c) == "Cs" else "a control character"
            raise InvalidInput(f"The {field} contains {kind} (U+{ord(c):04X}); {advice}.")


def _checked_length(text: str, *, field: str, max_len: int) -> str:
    """Return text if it is non-empty and at most max_len characters, else raise InvalidInput."""
    if not text:
        raise InvalidInput(f"The {field} is empty; please give one.")
    if len(text) > max_len:
        raise InvalidInput(f"The {field} is {len(text)} characters long; keep it under {max_len}.")
    return text
