"""Modals: a reason or evidence for an item, owners to assign, a new release; and reading them back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import UserError
from bot.domain.text import decode_slack_entities
from bot.domain.transitions import Move
from bot.slack.blocks import Block, clip, context, section
from bot.slack.ids import ViewId

NOTE_MAX = 2000  # clean_note's limit; the input enforces it too
NAME_MAX = 150  # clean_name's limit for release names
_OPTION_TEXT = 75  # Slack's limit for an option's text
_MENTION = re.compile(r"<([#@]|!subteam\^)([A-Z0-9]+)(?:\|([^>]*))?>")


@dataclass(frozen=True, slots=True)
class NoteForm:
    """A one-field modal that asks for the note of a move: a reason or evidence."""

    move: Move
    title: str  # at most 24 characters
    submit: str
    block: str  # block and action id of the one input
    label: str
    placeholder: str
    lead: str  # what will happen, with {subject} for the item
    optional: bool = False


NOTE_FORMS = {
    ViewId.BLOCK_REASON: NoteForm(
        Move.BLOCK,
        "Block item",
        "Block",
        "reason",
        "What is blocking it?",
        "e.g. pen-test report pending from the vendor",
        "⛔ {subject} will be marked *blocked*; the reason shows on the release card.",
    ),
    ViewId.EVIDENCE: NoteForm(
        Move.DONE,
        "Add evidence",
        "Sign off",
        "evidence",
        "Evidence",
        "A link, a ticket or an id, e.g. backup-2026-12-08-1600",
        "✅ {subject} needs evidence before it is done.",
    ),
    ViewId.WAIVE_REASON: NoteForm(
        Move.WAIVE,
        "Waive item",
        "Waive",
        "reason",
        "Why is it safe to launch without it?",
        "e.g. docs video follows a week after launch",
        "⚠️ {subject} will be *waived*: the release may launch without it, as a known gap.",
    ),
    ViewId.NA_REASON: NoteForm(
        Move.NOT_APPLICABLE,
        "Not applicable",
        "Mark N/A",
        "reason",
        "Why doesn't it apply? (optional)",
        "e.g. no schema changes in this release",
        "➖ {subject} will be marked *not applicable*.",
        optional=True,
    ),
}
ASSIGN_BLOCK = "owners"
NEW_RELEASE_BLOCKS = ("name", "date", "time", "channel", "template", "managers")


def note_form(form: ViewId, metadata: str, subject: str) -> Block:
    """The reason or evidence modal for one item; `subject` is safe mrkdwn naming it."""
    spec = NOTE_FORMS[form]
    element = {
        "type": "plain_text_input",
        "action_id": spec.block,
        "multiline": True,
        "max_length": NOTE_MAX,
        "placeholder": _plain(spec.placeholder),
    }
    blocks = [
        section(spec.lead.format(subject=subject)),
        _input(spec.block, spec.label, element, spec.optional),
    ]
    return _modal(form, spec.title, spec.submit, blocks, metadata)


def assign(metadata: str, subject: str) -> Block:
    """Add owners to one item."""
    element = {
        "type": "multi_users_select",
        "action_id": ASSIGN_BLOCK,
        "placeholder": _plain("Pick people"),
        "max_selected_items": 10,
    }
    blocks = [
        section(f"Who owns {subject}? Owners are asked to sign it off."),
        _input(ASSIGN_BLOCK, "Add owners", element),
        context("To assign a user group, use `/release assign &lt;item&gt; @group`."),
    ]
    return _modal(ViewId.ASSIGN, "Assign owners", "Assign", blocks, metadata)


def new_release(metadata: str, *, channel_id: str, templates: Sequence[str], default: str, tz: str) -> Block:
    """Name, launch date and time, channel, checklist template and managers of a new release."""
    name, date, time, channel, template, managers = NEW_RELEASE_BLOCKS
    options = [_option(t) for t in templates[:100]]
    template_select: Block = {"type": "static_select", "action_id": template, "options": options}
    if default in templates[:100]:
        template_select["initial_option"] = _option(default)
    blocks = [
        _input(name, "Release name", {"type": "plain_text_input", "action_id": name, "max_length": NAME_MAX}),
        _input(date, "Launch date", {"type": "datepicker", "action_id": date}),
        _input(time, "Launch time", {"type": "timepicker", "action_id": time, "initial_time": "10:00"}),
        context(f"The time is read in your Slack time zone, {tz}."),
        _input(
            channel,
            "Channel for the release card",
            {
                "type": "conversations_select",
                "action_id": channel,
                "initial_conversation": channel_id,
                "default_to_current_conversation": True,
                "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            },
        ),
        _input(template, "Checklist", template_select),
        _input(
            managers,
            "Other managers",
            {"type": "multi_users_select", "action_id": managers, "max_selected_items": 10},
            optional=True,
        ),
        context("You manage the release too. Managers may assign, waive, reschedule and cancel."),
    ]
    return _modal(ViewId.NEW_RELEASE, "New release", "Create", blocks, metadata)


def value(view: dict[str, Any], block: str) -> dict[str, Any]:
    """The submitted state of the input in `block` (whose action id is the same), or {}."""
    return ((view.get("state") or {}).get("values") or {}).get(block, {}).get(block) or {}


def text(view: dict[str, Any], block: str) -> str:
    """A submitted plain-text input ("" when left empty)."""
    return value(view, block).get("value") or ""


def field_error(error: UserError) -> str:
    """A UserError as plain text for a modal field: Slack shows field errors without mrkdwn."""
    message = str(error)
    message = _MENTION.sub(lambda m: m.group(3) or ("that channel" if m.group(1) == "#" else "them"), message)
    return clip(decode_slack_entities(message.replace("*", "")), 1000)


def _modal(callback: ViewId, title: str, submit: str, blocks: list[Block], metadata: str) -> Block:
    return {
        "type": "modal",
        "callback_id": callback.value,
        "title": _plain(title),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def _input(block: str, label: str, element: Block, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }


def _option(name: str) -> Block:
    return {"text": _plain(clip(name, _OPTION_TEXT)), "value": name}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}
