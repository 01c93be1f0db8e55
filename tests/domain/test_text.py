"""mrkdwn escaping, Slack entity decoding, and the name/note hygiene rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput
from bot.domain.text import clean_name, clean_note, decode_slack_entities, escape_mrkdwn, excerpt, name_key

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)  # incl. surrogates, controls


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("R&D", "R&amp;D"),
        ("&lt;", "&amp;lt;"),  # ampersand first, so an existing entity shows literally
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_escaped_text_has_no_markup_and_round_trips(s: str) -> None:
    out = escape_mrkdwn(s)
    assert "<" not in out and ">" not in out
    assert decode_slack_entities(out) == s


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [("R&amp;D", "R&D"), ("&lt;b&gt;", "<b>"), ("&amp;lt;", "&lt;"), ("no entities", "no entities")],
)
def test_decode_slack_entities(raw: str, decoded: str) -> None:
    assert decode_slack_entities(raw) == decoded


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  Payments 2.4  ", "Payments 2.4"),
        ("Payments \u00a0  2.4", "Payments 2.4"),  # any whitespace run becomes one space
        ("🚀 Launch 👩🏽‍💻", "🚀 Launch 👩🏽‍💻"),  # ZWJ sequence and skin tone survive
        ("Cafe\u0301", "Cafe\u0301"),  # combining marks are stored as typed, not recomposed
        ("إطلاق المدفوعات", "إطلاق المدفوعات"),  # RTL kept as typed
        ("x" * 150, "x" * 150),
    ],
)
def test_clean_name_keeps_meaningful_text(raw: str, cleaned: str) -> None:
    assert clean_name(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "The release name is empty"),
        ("   ", "The release name is empty"),
        ("a\x00b", "control character (U+0000)"),
        ("line\nbreak", "control character (U+000A)"),
        ("tab\there", "control character (U+0009)"),
        ("bell\x07", "control character (U+0007)"),
        ("c1\x85name", "control character (U+0085)"),
        ("lone\ud800", "invalid character (U+D800)"),
        ("x" * 5000, "The release name is 5000 characters long; keep it under 150."),
    ],
)
def test_clean_name_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_name(raw, field="release name")
    assert fragment in caught.value.message


def test_clean_name_limit_is_configurable() -> None:
    with pytest.raises(InvalidInput, match="The item is 11 characters long; keep it under 10"):
        clean_name("x" * 11, field="item", max_len=10)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  shipped  ", "shipped"),
        ("line one\r\nline two", "line one\nline two"),
        ("a\tb", "a\tb"),
        ("trailing   \nspace", "trailing\nspace"),
        ("gap\n\n\n\n\nend", "gap\n\nend"),
        ("keeps   inner  spaces", "keeps   inner  spaces"),
    ],
)
def test_clean_note(raw: str, cleaned: str) -> None:
    assert clean_note(raw, field="note") == cleaned


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "The reason is empty"),
        ("a\x00", "U+0000"),
        ("a\x1b[31m", "U+001B"),
        ("x" * 2001, "2001 characters"),
    ],
)
def test_clean_note_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment.replace("+", r"\+").replace("[", r"\[")):
        clean_note(raw, field="reason")


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_cleaners_return_storable_text_or_invalid_input(s: str) -> None:
    for clean in (lambda t: clean_name(t), lambda t: clean_note(t, field="note")):
        try:
            out = clean(s)
        except InvalidInput:
            continue
        out.encode("utf-8")  # no lone surrogates
        assert out == out.strip() and out


def test_excerpt_is_short_single_line_and_inert() -> None:
    out = excerpt("<!channel>\n\x00" + "x" * 100, max_len=20)
    assert out.startswith("&lt;!channel&gt;")
    assert "\n" not in out and "\x00" not in out and out.endswith("…")


def test_name_key_matches_composed_and_decomposed_forms() -> None:
    assert name_key("Cafe\u0301 2.4") == name_key("CAFÉ 2.4")
