"""Modal forms in the terminal: each input field of a modal, how to type it, and what Slack would submit.

Slack's client checks a form before it submits it (required fields, lengths, how many items a select
takes, what a date or an email looks like); the sandbox does the same with what was typed, and sends the
app `state.values` shaped exactly as Slack shapes each element's value. The app's own checks come back as
field errors, which the shell shows next to the field's label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rich.markup import escape

from bot.sandbox.terminal import Viewer, block_lines, plain, tag, unescape
from bot.sandbox.workspace import Channel, User, Workspace

# Typed in a field: keep nothing (clear a prefilled value). Enter alone keeps what the field shows.
CLEAR = "-"
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,\s]+")
_TEXT_KINDS = ("plain_text_input", "email_text_input", "url_text_input", "number_input")
_SINGLE_OPTION = ("static_select", "radio_buttons")
_MANY_OPTIONS = ("multi_static_select", "checkboxes")


class FieldError(ValueError):
    """What was typed doesn't fit the field; the message says what would."""


@dataclass(frozen=True, slots=True)
class Field:
    """One input block of a modal."""

    block_id: str
    action_id: str
    label: str
    element: dict[str, Any]
    optional: bool = False
    hint: str = ""

    @property
    def kind(self) -> str:
        """The element type, e.g. `datepicker`."""
        return str(self.element.get("type", ""))

    @property
    def options(self) -> list[dict[str, Any]]:
        """A select's or a checkbox group's options, option groups flattened."""
        found = list(self.element.get("options") or [])
        for group in self.element.get("option_groups") or []:
            found += group.get("options") or []
        return found


@dataclass(frozen=True, slots=True)
class FormContext:
    """Who fills the form in, and where: names resolve in this workspace, times in this person's zone."""

    workspace: Workspace
    user_id: str
    channel_id: str  # where the person is, for `default_to_current_conversation`
    zone: ZoneInfo


def modal_fields(view: dict[str, Any]) -> list[Field]:
    """Every input block of a modal, in order."""
    fields = []
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or not element.get("type"):
            continue
        fields.append(
            Field(
                block_id=str(block.get("block_id", "")),
                action_id=str(element.get("action_id", "")),
                label=unescape(str((block.get("label") or {}).get("text", ""))),
                element=element,
                optional=bool(block.get("optional")),
                hint=unescape(str((block.get("hint") or {}).get("text", ""))),
            )
        )
    return fields


# --- what a field holds ----------------------------------------------------------------------------------


def initial_state(field: Field, ctx: FormContext) -> dict[str, Any]:
    """The field's value before anyone types, as Slack would submit it untouched."""
    el, kind = field.element, field.kind
    if kind in _TEXT_KINDS:
        value = el.get("initial_value")
        return _state(field, value=str(value) if value not in (None, "") else None)
    if kind in _SINGLE_OPTION:
        return _state(field, selected_option=el.get("initial_option"))
    if kind in _MANY_OPTIONS:
        return _state(field, selected_options=list(el.get("initial_options") or []))
    if kind == "users_select":
        return _state(field, selected_user=el.get("initial_user"))
    if kind == "multi_users_select":
        return _state(field, selected_users=list(el.get("initial_users") or []))
    if kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        initial = el.get("initial_conversation") or el.get("initial_channel")
        if initial is None and el.get("default_to_current_conversation"):
            initial = ctx.channel_id
        return _state(field, **{key: initial})
    if kind in ("multi_conversations_select", "multi_channels_select"):
        key = "selected_conversations" if kind == "multi_conversations_select" else "selected_channels"
        initial = el.get("initial_conversations") or el.get("initial_channels") or []
        return _state(field, **{key: list(initial)})
    if kind == "datepicker":
        return _state(field, selected_date=el.get("initial_date"))
    if kind == "timepicker":
        return _state(field, selected_time=el.get("initial_time"))
    if kind == "datetimepicker":
        return _state(field, selected_date_time=el.get("initial_date_time"))
    return _state(field, value=None)


def is_empty(state: dict[str, Any]) -> bool:
    """Whether a field's state holds no answer (Slack refuses to submit a required field like that)."""
    answers = [v for k, v in state.items() if k != "type"]
    return all(v in (None, "", []) for v in answers)


def shown(field: Field, state: dict[str, Any], viewer: Viewer) -> str:
    """A field's value as rich markup, as the modal shows it ("" when empty)."""
    ws = viewer.workspace
    if is_empty(state):
        return ""
    if "value" in state:
        return plain(str(state["value"])).replace("\n", " ⏎ ")
    if "selected_option" in state:
        return plain(_option_text(state["selected_option"]))
    if "selected_options" in state:
        return ", ".join(plain(_option_text(o)) for o in state["selected_options"])
    if "selected_user" in state:
        return tag(f"@{state['selected_user']}", viewer)
    if "selected_users" in state:
        return " ".join(tag(f"@{u}", viewer) for u in state["selected_users"])
    for key in ("selected_conversation", "selected_channel"):
        if key in state:
            return _conversation(str(state[key]), ws, viewer)
    for key in ("selected_conversations", "selected_channels"):
        if key in state:
            return " ".join(_conversation(str(c), ws, viewer) for c in state[key])
    if "selected_date_time" in state:
        at = datetime.fromtimestamp(int(state["selected_date_time"]), viewer.zone)
        return escape(f"{at:%Y-%m-%d %H:%M}")
    return escape(str(state.get("selected_date") or state.get("selected_time") or ""))


def _conversation(channel_id: str, ws: Workspace, viewer: Viewer) -> str:
    channel = ws.channels.get(channel_id)
    if channel is not None and channel.is_im:
        other = next((m for m in sorted(channel.members) if m != ws.bot_user_id), "")
        return tag(f"@{other}", viewer)
    return tag(f"#{channel_id}", viewer)


# --- how the modal looks ---------------------------------------------------------------------------------


def modal_lines(view: dict[str, Any], states: dict[str, dict[str, Any]], viewer: Viewer) -> list[str]:
    """A modal as rich-markup lines: its blocks, each input numbered with its value, and its buttons."""
    lines: list[str] = []
    number = 0
    by_block = {f.block_id: f for f in modal_fields(view)}
    for block in view.get("blocks") or []:
        field = by_block.get(str(block.get("block_id", ""))) if block.get("type") == "input" else None
        if field is None:
            lines += block_lines(block, viewer)
            continue
        number += 1
        lines += field_lines(number, field, states.get(field.block_id) or {}, viewer)
    footer = [
        f"[bold]{escape('[' + _text(view.get(key)) + ']')}[/bold]"
        for key in ("close", "submit")
        if _text(view.get(key))
    ]
    if footer:
        lines.append("  ".join(footer))
    return lines


def field_lines(number: int, field: Field, state: dict[str, Any], viewer: Viewer) -> list[str]:
    """One input field: its label and value (or placeholder), and its hint underneath."""
    optional = " [dim](optional)[/dim]" if field.optional else ""
    value = shown(field, state, viewer)
    if not value:
        placeholder = _text(field.element.get("placeholder"))
        value = f"[dim]{plain(placeholder) + ' ' if placeholder else ''}____[/dim]"
    lines = [f"[bold]{number}. {plain(field.label)}[/bold]{optional}  \\[{value}]"]
    if field.hint:
        lines.append(f"   [dim]{plain(field.hint)}[/dim]")
    return lines


def guidance(field: Field) -> str:
    """How to type an answer for this field, in rich markup."""
    el, kind = field.element, field.kind
    if kind == "plain_text_input":
        what = "text"
        if el.get("multiline"):
            what += r"; type \n for a line break"
        limits = _length_words(el.get("min_length"), el.get("max_length"))
        return what + (f" ({limits})" if limits else "")
    if kind in _SINGLE_OPTION or kind in _MANY_OPTIONS:
        listed = "  ".join(f"{n}. {plain(_option_text(o))}" for n, o in enumerate(field.options, 1))
        if kind in _SINGLE_OPTION:
            return f"pick one by number or name: {listed}"
        return f"pick any by numbers or names, separated by commas (none for none): {listed}"
    words = {
        "users_select": "a person, as @name",
        "multi_users_select": "people, as @ana @bob",
        "conversations_select": "a channel, as #name",
        "channels_select": "a channel, as #name",
        "multi_conversations_select": "channels, as #one #two",
        "multi_channels_select": "channels, as #one #two",
        "datepicker": "a date, as YYYY-MM-DD",
        "timepicker": "a time, as HH:MM (24-hour clock)",
        "datetimepicker": "a date and time, as YYYY-MM-DD HH:MM in your time zone",
        "email_text_input": "an email address",
        "url_text_input": "a link, as https://…",
        "number_input": "a number" if el.get("is_decimal_allowed") else "a whole number",
    }
    what = words.get(kind, f"a {kind} (the sandbox can't fill this kind of field)")
    if limit := el.get("max_selected_items"):
        what += f", at most {limit}"
    return escape(what)


def _length_words(least: Any, most: Any) -> str:
    if least and most:
        return f"{least} to {most} characters"
    if most:
        return f"up to {most} characters"
    return f"at least {least} characters" if least else ""


# --- reading what was typed ------------------------------------------------------------------------------


def read(field: Field, typed: str, current: dict[str, Any], ctx: FormContext) -> dict[str, Any]:
    """The field's new state from what was typed: Enter keeps the current value, "-" clears it."""
    typed = typed.strip()
    if not typed:
        state = current
    elif typed == CLEAR:
        state = _cleared(field, current)
    else:
        reader = _READERS.get(field.kind)
        if reader is None:
            raise FieldError(f"The sandbox can't fill a {field.kind} field; close the modal instead.")
        state = _state(field, **reader(field, typed, ctx))
    if is_empty(state) and not field.optional:
        raise FieldError(f"{field.label} is required.")
    return state


def _state(field: Field, **answer: Any) -> dict[str, Any]:
    return {"type": field.kind, **answer}


def _cleared(field: Field, current: dict[str, Any]) -> dict[str, Any]:
    """The field emptied: no value, no selection."""
    emptied = {key: [] if isinstance(v, list) else None for key, v in current.items() if key != "type"}
    return _state(field, **emptied)


def _read_text(field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    value = typed.replace("\\n", "\n") if field.element.get("multiline") else typed
    least, most = field.element.get("min_length"), field.element.get("max_length")
    if least and len(value) < int(least):
        raise FieldError(f"Please use at least {least} characters (you typed {len(value)}).")
    if most and len(value) > int(most):
        raise FieldError(f"Please use at most {most} characters (you typed {len(value)}).")
    return {"value": value}


def _read_email(_field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    if not _EMAIL.fullmatch(typed):
        raise FieldError("That isn't an email address, e.g. ana@example.com.")
    return {"value": typed}


def _read_url(_field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    if not _URL.fullmatch(typed):
        raise FieldError("That isn't a link; start it with https://.")
    return {"value": typed}


def _read_number(field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    decimal = bool(field.element.get("is_decimal_allowed"))
    try:
        number = float(typed) if decimal else int(typed)
    except ValueError:
        raise FieldError("That isn't a number." if decimal else "That isn't a whole number.") from None
    least, most = field.element.get("min_value"), field.element.get("max_value")
    too_small = least is not None and number < float(least)
    if too_small or (most is not None and number > float(most)):
        lowest = least if least is not None else "…"
        raise FieldError(f"Please give a number from {lowest} to {most if most is not None else '…'}.")
    return {"value": typed}


def _read_one_option(field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    return {"selected_option": _option(field, typed)}


def _read_options(field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    if typed.casefold() == "none":
        return {"selected_options": []}
    picked: list[dict[str, Any]] = []
    for part in (p for p in typed.split(",") if p.strip()):
        option = _option(field, part)
        if option not in picked:
            picked.append(option)
    _check_count(field, len(picked))
    # Slack lists the chosen options in the order the element lists them, whatever order they were ticked.
    return {"selected_options": [o for o in field.options if o in picked]}


def _option(field: Field, typed: str) -> dict[str, Any]:
    """One option by its number, its label or its value (a unique start of the label will do)."""
    options = field.options
    key = typed.strip().casefold()
    if key.isdigit() and 0 < int(key) <= len(options):
        return options[int(key) - 1]
    exact = [o for o in options if key in (_option_text(o).casefold(), str(o.get("value", "")).casefold())]
    starts = [o for o in options if _option_text(o).casefold().startswith(key)]
    if exact or len(starts) == 1:
        return (exact or starts)[0]
    names = ", ".join(f"{n}. {_option_text(o)}" for n, o in enumerate(options, 1))
    raise FieldError(f"“{typed.strip()[:40]}” isn't one of the choices: {names}.")


def _read_user(field: Field, typed: str, ctx: FormContext) -> dict[str, Any]:
    users = _people(typed, ctx.workspace)
    if len(users) != 1:
        raise FieldError("Pick one person, as @name.")
    return {"selected_user": users[0].id}


def _read_users(field: Field, typed: str, ctx: FormContext) -> dict[str, Any]:
    ids = list(dict.fromkeys(u.id for u in _people(typed, ctx.workspace)))
    _check_count(field, len(ids))
    return {"selected_users": ids}


def _people(typed: str, ws: Workspace) -> list[User]:
    found = []
    for name in (p.lstrip("@") for p in _SEPARATORS.split(typed) if p):
        user = ws.user_by_name(name)
        if user is None or user.deleted:
            if any(g.handle == name for g in ws.usergroups.values()):
                raise FieldError(f"@{name} is a user group; this field takes people only.")
            people = ", ".join(f"@{u.name}" for u in ws.users.values() if not u.is_bot and not u.deleted)
            raise FieldError(f"There's nobody called @{name} here. People: {people}.")
        found.append(user)
    return found


def _read_conversation(field: Field, typed: str, ctx: FormContext) -> dict[str, Any]:
    channels = _channels(field, typed, ctx)
    if len(channels) != 1:
        raise FieldError("Pick one channel, as #name.")
    key = "selected_conversation" if field.kind == "conversations_select" else "selected_channel"
    return {key: channels[0].id}


def _read_conversations(field: Field, typed: str, ctx: FormContext) -> dict[str, Any]:
    ids = list(dict.fromkeys(c.id for c in _channels(field, typed, ctx)))
    _check_count(field, len(ids))
    key = "selected_conversations" if field.kind == "multi_conversations_select" else "selected_channels"
    return {key: ids}


def _channels(field: Field, typed: str, ctx: FormContext) -> list[Channel]:
    """Channels by #name that this select would list for the person (its filter, membership, archive)."""
    ws = ctx.workspace
    include = set((field.element.get("filter") or {}).get("include") or ["public", "private"])
    if field.kind in ("channels_select", "multi_channels_select"):
        include = {"public"}
    found = []
    for name in (p.lstrip("#") for p in _SEPARATORS.split(typed) if p):
        channel = ws.channel_by_name(name)
        visible = channel is not None and not channel.is_im and not channel.is_archived
        if visible and channel is not None and channel.is_private:
            visible = "private" in include and ctx.user_id in channel.members
        elif visible:
            visible = "public" in include
        if not visible or channel is None:
            listed = ", ".join(f"#{c.name}" for c in _listed(ws, include, ctx.user_id))
            raise FieldError(f"#{name} isn't a channel you can pick here. Channels: {listed}.")
        found.append(channel)
    return found


def _listed(ws: Workspace, include: set[str], user_id: str) -> list[Channel]:
    return [
        c
        for c in ws.channels.values()
        if not c.is_im
        and not c.is_archived
        and ("private" in include and user_id in c.members if c.is_private else "public" in include)
    ]


def _read_date(_field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    return {"selected_date": _date(typed).isoformat()}


def _date(typed: str) -> date:
    try:
        if not _DATE.fullmatch(typed):
            raise ValueError
        return date.fromisoformat(typed)
    except ValueError:
        raise FieldError(f"“{typed[:20]}” isn't a date; type it as YYYY-MM-DD, e.g. 2026-12-10.") from None


def _read_time(_field: Field, typed: str, _ctx: FormContext) -> dict[str, Any]:
    return {"selected_time": _time(typed).strftime("%H:%M")}


def _time(typed: str) -> time:
    match = _TIME.fullmatch(typed)
    if match is None:
        raise FieldError(f"“{typed[:20]}” isn't a time; type it as HH:MM, e.g. 14:00.")
    return time(int(match.group(1)), int(match.group(2)))


def _read_date_time(_field: Field, typed: str, ctx: FormContext) -> dict[str, Any]:
    day, _, clock = typed.partition(" ")
    at = datetime.combine(_date(day.strip()), _time(clock.strip()), ctx.zone)
    return {"selected_date_time": int(at.timestamp())}


def _check_count(field: Field, count: int) -> None:
    limit = field.element.get("max_selected_items")
    if limit and count > int(limit):
        raise FieldError(f"Pick at most {limit} (you picked {count}).")


def _option_text(option: Any) -> str:
    return unescape(_text((option or {}).get("text")))


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


_READERS: dict[str, Callable[[Field, str, FormContext], dict[str, Any]]] = {
    "plain_text_input": _read_text,
    "email_text_input": _read_email,
    "url_text_input": _read_url,
    "number_input": _read_number,
    "static_select": _read_one_option,
    "radio_buttons": _read_one_option,
    "multi_static_select": _read_options,
    "checkboxes": _read_options,
    "users_select": _read_user,
    "multi_users_select": _read_users,
    "conversations_select": _read_conversation,
    "channels_select": _read_conversation,
    "multi_conversations_select": _read_conversations,
    "multi_channels_select": _read_conversations,
    "datepicker": _read_date,
    "timepicker": _read_time,
    "datetimepicker": _read_date_time,
}
