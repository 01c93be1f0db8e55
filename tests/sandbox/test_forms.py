"""Modal fields typed in the terminal: what Slack would submit for each element, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.forms import Field, FieldError, FormContext, guidance, initial_state, is_empty, read
from bot.sandbox.workspace import Channel, Workspace

ANA, BOB, MAYA = "UANA00001", "UBOB00001", "UMAYA0001"
RANDOM = "CRANDOM1"


@pytest.fixture
def ctx() -> FormContext:
    ws = Workspace.seeded()
    ws.add_channel(Channel("CSECRET01", "secret-launch", {MAYA, ws.bot_user_id}, is_private=True))
    ws.add_channel(Channel("CHIDDEN01", "hidden", {BOB}, is_private=True))
    return FormContext(ws, MAYA, "CRELEASES", ZoneInfo("Europe/Berlin"))


def field(kind: str, optional: bool = False, **element: Any) -> Field:
    return Field("b", "a", "Thing", {"type": kind, "action_id": "a", **element}, optional)


def options(*names: str) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": n}, "value": n.lower()} for n in names]


def typed(f: Field, text: str, ctx: FormContext, current: dict[str, Any] | None = None) -> dict[str, Any]:
    return read(f, text, current if current is not None else initial_state(f, ctx), ctx)


@pytest.mark.parametrize(
    ("element", "text", "expected"),
    [
        ({"kind": "plain_text_input"}, " backup-42 ", {"value": "backup-42"}),
        ({"kind": "plain_text_input", "multiline": True}, r"one\ntwo", {"value": "one\ntwo"}),
        ({"kind": "plain_text_input"}, r"C:\new", {"value": r"C:\new"}),  # single-line: kept as typed
        ({"kind": "email_text_input"}, "ana@example.com", {"value": "ana@example.com"}),
        ({"kind": "url_text_input"}, "https://ci.example.com/42", {"value": "https://ci.example.com/42"}),
        ({"kind": "number_input", "is_decimal_allowed": False, "min_value": "1"}, "3", {"value": "3"}),
        ({"kind": "static_select", "options": options("go-live", "hotfix")}, "2", None),
        ({"kind": "static_select", "options": options("go-live", "hotfix")}, "HOT", None),
        ({"kind": "users_select"}, "@ana", {"selected_user": ANA}),
        ({"kind": "multi_users_select"}, "@bob, ana @bob", {"selected_users": [BOB, ANA]}),
        ({"kind": "conversations_select"}, "#secret-launch", {"selected_conversation": "CSECRET01"}),
        (
            {"kind": "multi_channels_select"},
            "#releases #random",
            {"selected_channels": ["CRELEASES", "CRANDOM1"]},
        ),
        ({"kind": "datepicker"}, "2026-12-10", {"selected_date": "2026-12-10"}),
        ({"kind": "timepicker"}, "9:05", {"selected_time": "09:05"}),
        ({"kind": "datetimepicker"}, "2026-12-10 14:00", None),
        ({"kind": "checkboxes", "options": options("Mon", "Tue", "Wed")}, "wed, 1", None),
        ({"kind": "radio_buttons", "options": options("Daily", "Once")}, "once", None),
    ],
)
def test_what_is_typed_becomes_slacks_state_value(
    element: dict[str, Any], text: str, expected: dict[str, Any] | None, ctx: FormContext
) -> None:
    kind = element.pop("kind")
    f = field(kind, **element)
    state = typed(f, text, ctx)
    assert state["type"] == kind
    if kind == "static_select":
        assert state["selected_option"]["value"] == "hotfix"
    elif kind == "radio_buttons":
        assert state["selected_option"]["value"] == "once"
    elif kind == "checkboxes":
        assert [o["value"] for o in state["selected_options"]] == ["mon", "wed"]  # the element's order
    elif kind == "datetimepicker":
        assert state["selected_date_time"] == int(datetime(2026, 12, 10, 13, 0, tzinfo=UTC).timestamp())
    else:
        assert {k: v for k, v in state.items() if k != "type"} == expected


@pytest.mark.parametrize(
    ("element", "text", "message"),
    [
        ({"kind": "plain_text_input", "max_length": 5}, "too long", "at most 5 characters (you typed 8)"),
        ({"kind": "plain_text_input", "min_length": 3}, "ab", "at least 3 characters"),
        ({"kind": "email_text_input"}, "ana at example", "isn't an email address"),
        ({"kind": "url_text_input"}, "ci.example.com", "start it with https://"),
        ({"kind": "number_input", "is_decimal_allowed": False}, "2.5", "isn't a whole number"),
        ({"kind": "number_input", "is_decimal_allowed": True, "max_value": "10"}, "11", "from … to 10"),
        ({"kind": "static_select", "options": options("go-live", "hotfix")}, "3", "isn't one of the choices"),
        ({"kind": "users_select"}, "@ana @bob", "Pick one person"),
        ({"kind": "users_select"}, "@ghost", "nobody called @ghost"),
        ({"kind": "multi_users_select"}, "@qa-team", "@qa-team is a user group"),
        ({"kind": "multi_users_select", "max_selected_items": 1}, "@ana @bob", "at most 1 (you picked 2)"),
        (
            {"kind": "conversations_select"},
            "#hidden",
            "isn't a channel you can pick",
        ),  # private, not a member
        ({"kind": "conversations_select"}, "#old-stuff", "isn't a channel you can pick"),  # archived
        ({"kind": "channels_select"}, "#secret-launch", "isn't a channel you can pick"),  # public ones only
        ({"kind": "datepicker"}, "10/12/2026", "type it as YYYY-MM-DD"),
        ({"kind": "datepicker"}, "2026-02-30", "isn't a date"),
        ({"kind": "timepicker"}, "2pm", "type it as HH:MM"),
        ({"kind": "checkboxes", "options": options("Mon")}, "fri", "isn't one of the choices: 1. Mon"),
        ({"kind": "file_input"}, "report.pdf", "can't fill a file_input field"),
    ],
)
def test_what_slack_would_refuse_says_what_to_type(
    element: dict[str, Any], text: str, message: str, ctx: FormContext
) -> None:
    f = field(element.pop("kind"), **element)
    with pytest.raises(FieldError, match=message.replace("(", r"\(").replace(")", r"\)")):
        typed(f, text, ctx)


def test_enter_keeps_the_value_shown_dash_clears_it_and_required_fields_must_be_filled(
    ctx: FormContext,
) -> None:
    when = field("timepicker", initial_time="10:00")
    assert typed(when, "", ctx) == {"type": "timepicker", "selected_time": "10:00"}
    with pytest.raises(FieldError, match="Thing is required"):
        typed(when, "-", ctx)
    zone = field("plain_text_input", optional=True, initial_value="Europe/Lisbon")
    assert typed(zone, "-", ctx) == {"type": "plain_text_input", "value": None}
    days = field("checkboxes", optional=True, options=options("Mon"), initial_options=options("Mon"))
    assert typed(days, "none", ctx) == {"type": "checkboxes", "selected_options": []}
    assert is_empty(typed(days, "-", ctx))
    with pytest.raises(FieldError, match="Thing is required"):
        typed(field("multi_users_select"), "", ctx)


def test_a_channel_select_starts_on_the_current_channel_when_asked_to(ctx: FormContext) -> None:
    here = field("conversations_select", default_to_current_conversation=True)
    assert initial_state(here, ctx)["selected_conversation"] == "CRELEASES"
    assert initial_state(field("conversations_select"), ctx)["selected_conversation"] is None


def test_guidance_says_how_to_type_each_kind() -> None:
    assert guidance(field("datepicker")) == "a date, as YYYY-MM-DD"
    assert guidance(field("multi_users_select", max_selected_items=10)) == "people, as @ana @bob, at most 10"
    assert guidance(field("plain_text_input", multiline=True, max_length=2000)) == (
        r"text; type \n for a line break (up to 2000 characters)"
    )
    assert "1. go-live  2. hotfix" in guidance(field("static_select", options=options("go-live", "hotfix")))
