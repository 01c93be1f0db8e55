"""Every command, event, action and view id the app registers, in one place; a test checks manifest.yml."""

from __future__ import annotations

import enum

COMMAND = "/release"

# Events the app subscribes to (bot events in manifest.yml).
EVENTS: tuple[str, ...] = ("reaction_added", "reaction_removed", "app_home_opened")


class ActionId(enum.StrEnum):
    """Interactive element ids; the value of each is a sealed reference to the item."""

    ITEM_SIGN_OFF = "item_sign_off"
    ITEM_BLOCK = "item_block"
    ITEM_MORE = "item_more"  # overflow: assign, start, waive, not applicable, reopen
    ASK_BLOCK_REASON = "ask_block_reason"  # in the thread, after a ⛔ reaction
    ASK_EVIDENCE = "ask_evidence"  # in the thread, after a ✅ on an item that needs evidence
    DIGEST_SNOOZE = "digest_snooze"  # in a digest DM: pause reminders about one item
    HOME_REFRESH = "home_refresh"  # App Home: publish it again now
    HOME_MORE = "home_more"  # App Home: the next page of one's items (the page is sealed in the value)
    HOME_BACK = "home_back"  # App Home: the previous page
    PREFS_OPEN = "prefs_open"  # the prefs reply and App Home: open the preferences modal
    ANNOUNCE_APPROVE = "announce_approve"  # a draft DM: approve; the value seals the announcement and version
    ANNOUNCE_EDIT = "announce_edit"  # a draft DM: open the text in a form
    ANNOUNCE_POST_NOW = "announce_post_now"  # a draft DM: approve and post at once
    ANNOUNCE_SKIP = "announce_skip"  # a draft DM: do not post it
    ANNOUNCE_PLAN_APPROVE = "announce_plan_approve"  # the plan reply: a manager approves the plan
    VOTE_GO = "vote_go"  # the readiness summary: vote GO (the value seals the release)
    VOTE_RISK = "vote_risk"  # the readiness summary: GO WITH RISK, asks for the reason
    VOTE_NO_GO = "vote_no_go"  # the readiness summary: NO-GO, asks for the reason
    RELEASE_LAUNCH = "release_launch"  # the card of a GO release: launch (the gate is checked on click)


class ViewId(enum.StrEnum):
    """Modal callback ids."""

    BLOCK_REASON = "block_reason"
    EVIDENCE = "evidence"
    WAIVE_REASON = "waive_reason"
    NA_REASON = "na_reason"
    ASSIGN = "assign_owners"
    NEW_RELEASE = "new_release"
    PREFS = "prefs"
    ANNOUNCE_EDIT = "announce_edit"
    VOTE_REASON = "vote_reason"
    RELEASE_DETAILS = "release_details"
