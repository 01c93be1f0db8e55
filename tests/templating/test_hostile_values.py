"""Whatever people type into a release, the output has no markup the template did not write itself."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.templating.announcements import KINDS, AnnouncementTemplates, sample_context
from bot.templating.sandbox import TemplateError, render_text

FREE_TEXT = ("release", "downtime", "impact", "support", "changes", "reason")
HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S1>",
    "<https://evil.example|https://good.example>",
    "<@U123>",
    "<#C123>",
    "&",
    "&lt;!channel&gt;",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\ud800",
    ">" * 50,
]
SHORT_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=200),  # controls and surrogates too
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=5), max_size=20).map("".join),
    st.none(),
)
LONG_TEXT = st.sampled_from(HOSTILE).map(lambda s: (s * 10_000)[:10_000])  # 10 KB
TEXT = SHORT_TEXT | LONG_TEXT
TEMPLATES = AnnouncementTemplates.from_dirs()


def markup_written_by_the_template(output: str, context: dict[str, object]) -> str:
    """The output with the SlackMarkup values and the template's own tokens removed."""
    for value in context.values():
        for markup in value if isinstance(value, list) else [value]:
            if markup is not None and type(markup) is not str and isinstance(markup, str):
                output = output.replace(markup, "")
    return output


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), values=st.fixed_dictionaries({name: SHORT_TEXT for name in FREE_TEXT}))
@example(kind="upcoming", values=dict.fromkeys(FREE_TEXT, "<!channel> <https://evil.example|ok> &"))
def test_shipped_templates_never_let_values_make_markup(kind: str, values: dict[str, str | None]) -> None:
    context = sample_context(kind) | values | {"release": values["release"] or "R"}  # a name is required
    output = TEMPLATES.render(kind, context)
    bare = markup_written_by_the_template(output, context)
    assert "<" not in bare and ">" not in bare
    assert "\x00" not in output and "\u202e" not in output and "\ud800" not in output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), name=st.sampled_from(FREE_TEXT), value=LONG_TEXT)
def test_a_10_kb_value_at_worst_makes_the_output_too_long(kind: str, name: str, value: str) -> None:
    context = sample_context(kind) | {name: value}
    try:
        output = TEMPLATES.render(kind, context)
    except TemplateError as exc:
        assert exc.message.startswith("renders to ")
        assert name in TEMPLATES.get(kind).variables
        return
    assert name not in TEMPLATES.get(kind).variables or not value.strip()
    assert "<" not in markup_written_by_the_template(output, context)


@settings(max_examples=150, deadline=None)
@given(value=TEXT.filter(lambda v: v is not None))
@example(value="<!channel>")
def test_every_way_of_printing_a_value_escapes_it(value: str) -> None:
    text = (
        "[{{ v }}|{{ v|upper }}|{{ v ~ '!' }}|{{ [v, v]|join(', ') }}|{{ [v]|and_join }}"
        "|{{ v|replace('a', 'b') }}|{{ '%s'|format(v) }}|{{ v.strip() }}|{{ v|truncate(50) }}"
        "|{% for c in v[:20] %}{{ c }}{% endfor %}]"
    )
    try:
        output = render_text("t.j2", text, {"v": value}, allowed_mentions=frozenset())
    except TemplateError as exc:
        assert "renders to" in exc.message or "characters or items long" in exc.message
        return
    assert re.fullmatch(r"\[[^<>]*\]", output, re.DOTALL)


JINJA_PIECES = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "(",
        ")",
        "[",
        "]",
        "|",
        "~",
        "*",
        "**",
        "%",
        ".",
        "__class__",
        "x",
        " if ",
        " for ",
        " in ",
        "range(",
        "'",
        '"',
        "<!here>",
        "9" * 12,
        "\n",
        "endfor",
        "endif",
        "set",
        "=",
    ]
)


@settings(max_examples=300, deadline=None)
@given(text=st.lists(JINJA_PIECES | st.text(max_size=3), max_size=60).map("".join))
@example(text="{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
@example(text="{{ x" + ".a" * 5000 + " }}")
def test_any_template_text_fails_only_with_a_template_error(text: str) -> None:
    try:
        render_text("t.j2", text, {"x": "<@U1>"}, allowed_mentions=frozenset())
    except TemplateError as exc:
        assert exc.source == "t.j2" and exc.message
