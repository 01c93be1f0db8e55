"""The sandbox: hostile templates are refused with a TemplateError naming the line; values are escaped."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from bot.templating.sandbox import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    SlackMarkup,
    TemplateError,
    render_text,
)

NONE = frozenset[str]()
MANAGERS = [SlackMarkup("<@U0MAYA>"), SlackMarkup("<@U0LEE>")]


def render(text: str, allowed: frozenset[str] = NONE, **context: object) -> str:
    return render_text("t.j2", text, context, allowed_mentions=allowed)


def refusal(text: str, **context: object) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        render(text, **context)
    return caught.value


# --- what templates print ----------------------------------------------------------------------------


def test_values_are_escaped_and_markup_is_not() -> None:
    out = render(
        "{{ release }} at {{ launch }} in {{ channel }}",
        release="R&D <!channel> <@U1>",
        launch=SlackMarkup("<!date^1796911200^{time}|14:00 UTC>"),
        channel=SlackMarkup("<#C0PAY>"),
    )
    assert out == "R&amp;D &lt;!channel&gt; &lt;@U1&gt; at <!date^1796911200^{time}|14:00 UTC> in <#C0PAY>"


def test_no_html_escaping_of_quotes() -> None:
    assert render("{{ x }}", x='Don\'t "panic"') == 'Don\'t "panic"'


def test_none_prints_nothing_and_numbers_print_plainly() -> None:
    assert render("[{{ notes }}] {{ done }}/{{ total }}", notes=None, done=14, total=18) == "[] 14/18"


def test_list_elements_are_finalized_one_by_one() -> None:
    out = render(
        "{% for m in managers %}{{ m }} {% endfor %}{{ names[0] }}", managers=MANAGERS, names=["<b>"]
    )
    assert out == "<@U0MAYA> <@U0LEE> &lt;b&gt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ managers|join(', ') }}", "<@U0MAYA>, <@U0LEE>"),
        ("{{ managers|and_join }}", "<@U0MAYA> and <@U0LEE>"),
        ("{{ (managers + [who])|and_join }}", "<@U0MAYA>, <@U0LEE> and &lt;@U666&gt;"),
        ("{{ (managers + [who])|join(' & ') }}", "<@U0MAYA> &amp; <@U0LEE> &amp; &lt;@U666&gt;"),
        ("{{ [who, who]|join(', ') }}", "&lt;@U666&gt;, &lt;@U666&gt;"),
        # Building text from markup by hand makes plain text, which is escaped: safe, if not pretty.
        ("{{ managers[0] ~ '!' }}", "&lt;@U0MAYA&gt;!"),
        ("{{ managers[0]|upper }}", "&lt;@U0MAYA&gt;"),
    ],
)
def test_joining_mentions_keeps_them_and_escapes_the_rest(text: str, expected: str) -> None:
    assert render(text, managers=MANAGERS, who="<@U666>") == expected


def test_control_and_bidi_characters_in_values_are_replaced() -> None:
    assert render("{{ x }}", x="a\x00b\u202ec\nd\te") == "a\ufffdb\ufffdc\nd\te"


def test_output_is_tidied() -> None:
    text = "one   \n{% if no %}\nmissing\n{% endif %}\n\n\n\ntwo\n\n"
    assert render(text, no=None) == "one\n\ntwo"


# --- hostile templates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("ok\n{% if %}", 2, "Expected an expression"),
        ("ok\n\n{{ nosuch }}", 3, "'nosuch' is undefined"),
        ("{{ ''.__class__.__mro__ }}", 1, "'__class__' of 'str' object is unsafe"),
        ("{{ cycler.__init__.__globals__ }}", 1, "unsafe"),
        ("{{ lipsum.__globals__ }}", 1, "'lipsum' is undefined"),
        ("{{ joiner }}", 1, "'joiner' is undefined"),
        ("x\n{{ self }}", 2, "'self' is not available"),
        ("{{ self._TemplateReference__context }}", 1, "'self' is not available"),
        ("{% for i in range(10**9) %}x{% endfor %}", 1, "range() is limited to 100,000 items"),
        ("{{ 'a' * 10**8 }}", 1, "100,000,000 characters"),
        ("{{ [0] * 10**8 }}", 1, "100,000,000 characters or items"),
        ("{{ 10**10**10 }}", 1, "too large"),
        ("{{ 2**(10**10) }}", 1, "too large"),
        ("{{ 2.0**100000 }}", 1, "too large"),
        ("{{ 'a'.ljust(10**9) }}", 1, "'ljust' of 'str' object is unsafe"),
        ("{{ '{:>999999999}'.format(1) }}", 1, "'format' of 'str' object is unsafe"),
        ("{{ (1).to_bytes(10**9, 'big') }}", 1, "'to_bytes' of 'int' object is unsafe"),
        ("{{ '%999999999d' % 1 }}", 1, "999,999,999 characters"),
        ("{{ '%*d' % (5, 1) }}", 1, "'*' widths"),
        ("{{ '%999999999d'|format(1) }}", 1, "999,999,999 characters"),
        ("{{ 'a'|replace('a', 'a' * 3000)|replace('a', 'a' * 3000) }}", 1, "the replaced text"),
        ("{{ range(100000)|join(',') }}", 1, "the joined text"),
        ("{{ ([[1] * 3000] * 3000)|sum(start=[]) }}", 1, "the limit is 100,000"),
        ("{{ [1]|batch(10**9, 'x')|list }}", 1, "a batch"),
        ("{{ [1]|slice(10**9)|list }}", 1, "a slice count"),
        (
            "{% set n = namespace(s='ab') %}{% for i in range(60) %}{% set n.s = n.s ~ n.s %}{% endfor %}",
            1,
            "characters or items long",
        ),
        (
            "{% set n = namespace(s='ab') %}{% for i in range(60) %}{% set n.s = n.s + n.s %}{% endfor %}",
            1,
            "characters or items long",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", 1, "calls itself too deeply"),
        ("{{ 1 / 0 }}", 1, "division by zero"),
        ("{% include 'other.j2' %}", 1, "{% include %} is not available"),
        ("x\n{% import 'other.j2' as o %}", 2, "{% import %} is not available"),
        ("{% from 'other.j2' import o %}", 1, "{% from … import %} is not available"),
        ("{% extends 'base.j2' %}", 1, "{% extends %} is not available"),
        ("a\nb <!channel> c", 2, "<!channel> mention that the header does not allow"),
        ("{% if x %}<!subteam^S0OPS|@ops>{% endif %}", 1, "<!subteam> mention"),
        ("Hi <!EVERYONE>", 1, "<!everyone> mention"),
        ("{{ 'abc'|e }}", 1, "No filter named 'e'"),
        ("{{ 'abc'|safe }}", 1, "No filter named 'safe'"),
    ],
)
def test_hostile_template_is_refused_with_its_line(text: str, line: int, phrase: str) -> None:
    error = refusal(text, x=1)
    assert phrase in error.message
    assert error.line == line
    assert str(error).startswith(f"t.j2:{line}: ")


def test_nested_huge_loops_stop_at_the_deadline() -> None:
    text = "start\n{% for i in range(100000) %}\n{% for j in range(100000) %}{% endfor %}\n{% endfor %}"
    started = time.monotonic()
    error = refusal(text)
    assert time.monotonic() - started < 2.5
    assert "took longer than 1 s" in error.message
    assert error.line in (2, 3)


def test_the_deadline_tracer_is_removed_and_a_previous_one_restored() -> None:
    def tracer(frame, event, arg):  # a stand-in for a debugger or coverage
        return None

    sys.settrace(tracer)
    try:
        render("{{ x }}", x=1)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
    refusal("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    assert sys.gettrace() is None


def test_the_deadline_is_per_thread() -> None:
    """A slow render on one thread does not cut short a render on another."""
    results: dict[str, object] = {}

    def slow() -> None:
        try:
            render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
        except TemplateError as exc:
            results["slow"] = exc

    worker = threading.Thread(target=slow)
    worker.start()
    results["fast"] = render("{% for i in range(1000) %}{% endfor %}done")
    worker.join()
    assert results["fast"] == "done"
    assert isinstance(results["slow"], TemplateError)


def test_template_over_the_size_limit_is_refused_not_truncated() -> None:
    error = refusal("x" * (MAX_TEMPLATE_CHARS + 1))
    assert error.line is None
    assert f"{MAX_TEMPLATE_CHARS + 1:,} characters long" in error.message


def test_output_over_the_limit_is_refused_with_its_length() -> None:
    assert len(render("{{ 'x' * 3000 }}")) == MAX_OUTPUT_CHARS
    error = refusal("{{ 'x' * 3000 }}{{ 'y' }}")
    assert error.message == "renders to 3001 characters; Slack shows at most 3000 in one block"


def test_runaway_output_stops_early() -> None:
    error = refusal("{% for i in range(100000) %}{{ x }}{% endfor %}", x="y" * 2000)
    assert "renders to more than 100,000 characters" in error.message


def test_empty_output_is_refused() -> None:
    assert "empty message" in refusal("{% if x %}text{% endif %}", x=None).message


def test_a_mention_built_from_pieces_is_caught_in_the_output() -> None:
    error = refusal("<!{{ 'here' }}>")
    assert "renders a <!here> mention" in error.message


def test_allowed_mentions_pass() -> None:
    out = render("<!here> and <!subteam^S0OPS|@ops>", frozenset({"here", "subteam"}))
    assert out == "<!here> and <!subteam^S0OPS|@ops>"


def test_unknown_mention_names_are_refused() -> None:
    with pytest.raises(TemplateError, match="unknown mention 'all'"):
        render("x", frozenset({"all"}))


def test_ordinary_template_features_still_work() -> None:
    text = (
        "{% set ns = namespace(n=0) %}{% for m in managers %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        "{{ ns.n }} {{ (done / total * 100)|round|int }}% {{ release|upper|truncate(9) }} "
        "{{ '%d of %d'|format(done, total) }} {{ release.split()|first }} {{ 'ab' * 2 }}"
    )
    out = render(text, managers=MANAGERS, done=14, total=18, release="Payments 2.4 beta")
    assert out == "2 78% PAYMEN... 14 of 18 Payments abab"


@pytest.mark.parametrize(
    "text",
    [
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "{{ x" + ".a" * 5000 + " }}",
        "{% for i in x %}" * 30 + "{% endfor %}" * 30,
    ],
)
def test_deep_nesting_is_a_template_error(text: str) -> None:
    assert refusal(text, x=[1]).message == "the template nests brackets or tags too deeply"


def test_template_error_reads_file_line_message() -> None:
    assert str(TemplateError("upcoming.j2", 12, "'downtime' is undefined")) == (
        "upcoming.j2:12: 'downtime' is undefined"
    )
    assert str(TemplateError("upcoming.j2", None, "renders to an empty message")) == (
        "upcoming.j2: renders to an empty message"
    )
