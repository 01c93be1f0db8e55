"""Modals of the announcement and vote flows: edit a draft, say why (risk or NO-GO), announcement details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.announcements import FIELDS, MAX_FIELD
from bot.domain.text import escape_mrkdwn
from bot.slack.blocks import Block, clip, context, section
from bot.slack.ids import ViewId

EDIT_BLOCK = "announcement_text"
REASON_BLOCK = "reason"
DRAFT_MAX = 3000  # one section block: what the post can show
_LABELS = {
    "changes": "What ships",
    "downtime": "Expected downtime",
    "impact": "What users may notice",
    "support": "Where to ask",
    "notes": "Release notes link",
}


def edit_draft(metadata: str, label: str, text: str) -> Block:
    """The draft's text in a form; what is saved is posted exactly as written (after approval)."""
    element = {
        "type": "plain_text_input",
        "action_id": EDIT_BLOCK,
        "multiline": True,
        "max_length": DRAFT_MAX,
        "initial_value": clip(text, DRAFT_MAX),
    }
    blocks = [
        section(
            f"Edit the *{escape_mrkdwn(label)}* announcement. It still needs approval before it is posted."
        ),
        _input(EDIT_BLOCK, "Announcement text (Slack formatting: *bold*, _italic_, links)", element),
        context("Your text is kept as written: later changes to the release details won't rewrite it."),
    ]
    return _modal(ViewId.ANNOUNCE_EDIT, "Edit announcement", "Save", blocks, metadata)


def vote_reason(metadata: str, choice_words: str, release_name: str) -> Block:
    """GO WITH RISK and NO-GO need a reason."""
    element = {
        "type": "plain_text_input",
        "action_id": REASON_BLOCK,
        "multiline": True,
        "max_length": 2000,
        "placeholder": {"type": "plain_text", "text": "e.g. p99 latency doubled in the load test"},
    }
    blocks = [
        section(
            f"Your vote on *{escape_mrkdwn(release_name)}*: *{choice_words}*. Everyone will see the reason."
        ),
        _input(REASON_BLOCK, "Why?", element),
    ]
    return _modal(ViewId.VOTE_REASON, "Your vote", "Vote", blocks, metadata)


def details(metadata: str, release_name: str, current: Mapping[str, str]) -> Block:
    """The fields the announcement templates use, prefilled; an emptied field is cleared."""
    blocks: list[Block] = [section(f"Announcement details of *{escape_mrkdwn(release_name)}*.")]
    for name, meaning in FIELDS.items():
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": name,
            "multiline": name in ("changes", "impact"),
            "max_length": MAX_FIELD,
            "placeholder": {"type": "plain_text", "text": clip(meaning, 150)},
        }
        if current.get(name):
            element["initial_value"] = current[name]
        blocks.append(_input(name, _LABELS[name], element, optional=True))
    return _modal(ViewId.RELEASE_DETAILS, "Announcement details", "Save", blocks, metadata)


def _modal(callback: ViewId, title: str, submit: str, blocks: list[Block], metadata: str) -> Block:
    return {
        "type": "modal",
        "callback_id": callback.value,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": blocks,
    }


def _input(block: str, label: str, element: Block, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }
