"""Any text into the small readers the parser leaves to others: a value or a UserError, never live markup.

The command parser, the date reader, checklist templates and announcement rendering have their own fuzz
tests; these cover the train schedule, the decision rule, announcement offsets, lead times and fields, and
reminder preferences, with arbitrary text and with the hostile corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain import announcements, decision, prefs, trains
from bot.domain.checklists import TemplateError, TemplateLibrary, builtin_templates_dir, load_template_text
from bot.domain.errors import UserError
from tests.hostile.corpus import CORPUS, live_markup

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)  # controls, surrogates too
PIECES = st.sampled_from(
    ["every", "2", "weeks", "on", "thu", "at", "14:00", "3pm", "quorum", "of", "48h", "after", "before",
     "launch", "-", "–", ",", "mon-fri", "09:00-17:00", "auto", "Europe/Berlin", "<", "&lt;", "\x00", "٣"]
)  # fmt: skip
STRUCTURED = st.lists(st.one_of(PIECES, ANY_TEXT), max_size=8).map(" ".join)
TEXT = st.one_of(ANY_TEXT, STRUCTURED, st.sampled_from(list(CORPUS.values())))

READERS: dict[str, Callable[[str], object]] = {
    "train rule": trains.parse_rule,
    "train name": trains.clean_train_name,
    "decision rule": decision.parse_rule,
    "announcement kind": announcements.parse_kind,
    "announcement offset": announcements.parse_offset,
    "announcement lead": announcements.parse_lead,
    "field name": lambda text: announcements.clean_field(text, "value"),
    "notes link": lambda text: announcements.clean_field("notes", text),
    "impact field": lambda text: announcements.clean_field("impact", text),
    "working hours": prefs.parse_hours,
    "working days": prefs.parse_days,
    "time zone": prefs.parse_zone,
}


def _read(reader: Callable[[str], object], text: str) -> object | UserError:
    try:
        return reader(text)
    except UserError as error:
        return error


def _assert_inert(error: UserError, text: str) -> None:
    """A refusal is shown in Slack as mrkdwn: no markup of its own, and no double escaping either."""
    for part in (error.message, error.hint or ""):
        assert "<" not in part and ">" not in part, part
        assert live_markup(part) == [], part
        if "&" not in text:  # then every "&" shown is one we escaped; escaped twice, it shows as "&lt;"
            assert "&amp;" not in part, part
    assert error.message and len(error.message) < 600


@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
@given(text=TEXT)
@settings(max_examples=150, deadline=None)
def test_any_text_is_a_value_or_an_inert_user_error(reader: str, text: str) -> None:
    result = _read(READERS[reader], text)
    if isinstance(result, UserError):
        _assert_inert(result, text)


@pytest.mark.parametrize(
    ("reader", "text"),
    [
        ("announcement offset", "<!channel>"),
        ("announcement lead", "<b>"),
        ("notes link", "see <script>"),
        ("train rule", "every 2 <!here>"),
        ("decision rule", "quorum <@U1>"),
        ("working days", "mon-<fri>"),
        ("time zone", "Europe/<Berlin>"),
    ],
)
def test_a_typed_angle_bracket_is_shown_as_one(reader: str, text: str) -> None:
    error = _read(READERS[reader], text)
    assert isinstance(error, UserError)
    _assert_inert(error, text)
    assert "&lt;" in error.message  # what was typed, escaped once: Slack shows "<"


@given(
    every=st.integers(1, 52),
    weekday=st.integers(0, 6),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
@example(every=1, weekday=0, at=time(0, 0))
def test_a_weekly_train_rule_reads_back_from_its_stored_form(every: int, weekday: int, at: time) -> None:
    rule = trains.TrainRule(every=every, unit=trains.WEEK, weekday=weekday, at=at)
    assert trains.parse_rule(rule.stored()) == rule
    assert trains.parse_rule(rule.stored().upper()) == rule  # people shout too


@given(quorum=st.integers(1, decision.MAX_QUORUM), spacing=st.sampled_from([" ", ":", " of ", "  "]))
def test_a_quorum_reads_back_in_every_spelling(quorum: int, spacing: str) -> None:
    assert decision.parse_rule(f"quorum{spacing}{quorum}") == decision.DecisionRule(decision.QUORUM, quorum)
    assert decision.rule_from_stored(decision.DecisionRule(decision.QUORUM, quorum).stored()).quorum == quorum


@given(
    amount=st.integers(0, 999),
    unit=st.sampled_from(["m", "min", "h", "d", "w"]),
    side=st.sampled_from(["", "+", "-", " before", " after"]),
)
def test_an_announcement_offset_reads_back_from_its_description(amount: int, unit: str, side: str) -> None:
    text = f"{side}{amount}{unit}" if side in ("+", "-") else f"{amount}{unit}{side}"
    offset = _read(announcements.parse_offset, text)
    if isinstance(offset, UserError):
        assert "60 days" in offset.message
        return
    shown = announcements.format_offset(offset).removesuffix(" launch")
    assert announcements.parse_offset("launch" if shown == "at" else shown) == offset


@given(start=st.times(), end=st.times())
def test_working_hours_either_read_back_or_are_refused_for_their_order(start: time, end: time) -> None:
    text = f"{start:%H:%M}-{end:%H:%M}"
    result = _read(prefs.parse_hours, text)
    if start.replace(second=0, microsecond=0) < end.replace(second=0, microsecond=0):
        assert result == (start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0))
    else:
        assert isinstance(result, UserError) and "start before they end" in result.message


# --- checklist templates: the one reader whose input is a file an operator drops in -----------------------

_YAML_VALUES = st.one_of(
    st.sampled_from(list(CORPUS.values())),
    ANY_TEXT,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
)
_ITEM_FIELDS = ("key", "title", "section", "due", "description", "evidence", "role", "sign_off", "extra")
_TOP_FIELDS = ("name", "title", "version", "reminders", "announcements")


@st.composite
def _template_texts(draw: st.DrawFn) -> str:
    """YAML text shaped like a template, with hostile values in random fields (or random text)."""
    if draw(st.booleans()):
        return draw(st.one_of(ANY_TEXT, st.sampled_from(["items: [", "a: &x [*x]", "- - -", "{", "\t"])))
    item = {"key": "a", "title": "A", "section": "Quality", "due": "-1d"}
    for name in draw(st.lists(st.sampled_from(_ITEM_FIELDS), max_size=3)):
        item[name] = draw(_YAML_VALUES)
    top: dict[str, object] = {"name": "demo", "title": "Demo", "items": [item]}
    for name in draw(st.lists(st.sampled_from(_TOP_FIELDS), max_size=2)):
        top[name] = draw(_YAML_VALUES)
    return yaml.safe_dump(top, allow_unicode=draw(st.booleans()))


@given(_template_texts())
@settings(max_examples=300, deadline=None)
def test_any_template_text_loads_or_is_a_template_error(text: str) -> None:
    try:
        template = load_template_text(text, source="hostile.yml")
    except TemplateError as error:
        assert error.message
    else:
        assert template.items and all(item.title for item in template.items)


@given(TEXT)
@settings(max_examples=150, deadline=None)
def test_an_unknown_template_name_is_named_inertly(name: str) -> None:
    library = TemplateLibrary.from_dirs(builtin_templates_dir())
    result = _read(library.get, name)
    if isinstance(result, UserError):
        _assert_inert(result, name)
        assert len(result.message) < 200
