"""Every command, event, action and view id the app registers, in one place; a test checks manifest.yml."""

from __future__ import annotations

import enum

COMMAND = "/release"

# Events the app subscribes to (bot events in manifest.yml).
EVENTS: tuple[str, ...] = ("reaction_added", "reaction_removed")


class ActionId(enum.StrEnum):
    """Interactive element ids; the value of each is a sealed reference to the item."""

    ITEM_SIGN_OFF = "item_sign_off"
    ITEM_BLOCK = "item_block"
    ITEM_MORE = "item_more"  # overflow: assign, start, waive, not applicable, reopen
    ASK_BLOCK_REASON = "ask_block_reason"  # in the thread, after a ⛔ reaction
    ASK_EVIDENCE = "ask_evidence"  # in the thread, after a ✅ on an item that needs evidence
    DIGEST_SNOOZE = "digest_snooze"  # in a digest DM: pause reminders about one item


class ViewId(enum.StrEnum):
    """Modal callback ids."""

    BLOCK_REASON = "block_reason"
    EVIDENCE = "evidence"
    WAIVE_REASON = "waive_reason"
    NA_REASON = "na_reason"
    ASSIGN = "assign_owners"
    NEW_RELEASE = "new_release"
