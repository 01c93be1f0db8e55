"""Announcements, votes and launches as Block Kit: drafts and their buttons, posts, the plan, decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.announcements import AnnouncementState
from bot.domain.decision import Choice, Decision
from bot.domain.model import ReleaseState
from bot.domain.notes import date_token
from bot.domain.text import escape_mrkdwn
from bot.services.decisions import Launched, RolesResult, VoteResult
from bot.services.results import (
    AnnouncementDraft,
    AnnouncementPlan,
    AnnouncementPost,
    AnnouncementView,
    DecisionPost,
)
from bot.slack.blocks import Block, context, header, section, sections_from_lines
from bot.slack.ids import ActionId
from bot.slack.seal import Sealer

Reply = tuple[str, list[Block]]

_STATE_WORDS = {
    AnnouncementState.PLANNED: "⏳ awaiting approval",
    AnnouncementState.APPROVED: "✅ approved",
    AnnouncementState.HELD: "✋ held (not approved in time)",
    AnnouncementState.POSTED: "📣 posted",
    AnnouncementState.SKIPPED: "⏭️ skipped",
    AnnouncementState.WITHDRAWN: "🚫 withdrawn",
}
_CHOICE_WORDS = {"go": "🟢 GO", "go_with_risk": "🟠 GO WITH RISK", "no_go": "🔴 NO-GO"}


# ---- scheduled messages ----------------------------------------------------------------------------


def draft(d: AnnouncementDraft, sealer: Sealer | None) -> Reply:
    """A draft for a comms owner: the text as it would be posted, and what they can do with it."""
    ann, release = d.announcement, d.release
    name = escape_mrkdwn(release.name)
    title = f"{'✋ Held' if d.held else '📝 Draft'}: {ann.label} announcement — {release.name}"
    when = (
        "as soon as it is approved"
        if ann.when == "when approved"
        else f"{date_token(ann.post_at)} ({ann.when}) once approved"
    )
    lead = (
        "Its time came without approval, so it was *not posted*. Approve to post it now, or skip it."
        if d.held
        else f"Posts in <#{ann.channel_id}> {when}. Nothing is posted without approval."
    )
    blocks: list[Block] = [header(title), section(lead)]
    if d.problem:
        blocks.append(
            section(
                f"⚠️ The template could not be rendered: {escape_mrkdwn(d.problem)}\n"
                "Edit the text, or fix the template."
            )
        )
    else:
        blocks.append(section(_quoted(d.text)))
        if ann.edited:
            blocks.append(context("Edited by hand: posted exactly as shown."))
    if sealer is not None:
        blocks.append(draft_buttons(sealer, ann, approvable=d.problem is None))
    blocks.append(
        context(f"{name} · launch {date_token(release.launch_at)} · `/release announce plan` shows them all")
    )
    return f"{title}: approve, edit, post now or skip", blocks


def draft_buttons(sealer: Sealer, ann: AnnouncementView, *, approvable: bool = True) -> Block:
    """Approve, Edit, Post now, Skip: each names the announcement and the version it was shown at."""
    value = sealer.seal({"a": ann.id, "v": ann.version})
    buttons: list[dict[str, Any]] = []
    if approvable:
        buttons.append(_button("Approve", ActionId.ANNOUNCE_APPROVE, value, style="primary"))
    buttons.append(_button("Edit", ActionId.ANNOUNCE_EDIT, value))
    if approvable:
        buttons.append(_button("Post now", ActionId.ANNOUNCE_POST_NOW, value))
    buttons.append(
        _button(
            "Skip",
            ActionId.ANNOUNCE_SKIP,
            value,
            style="danger",
            confirm=("Skip this announcement?", "It will not be posted. This can't be undone."),
        )
    )
    return {"type": "actions", "elements": buttons}


def post(p: AnnouncementPost) -> Reply:
    """The announcement itself: the approved text, nothing else."""
    return p.text, [section(p.text), context(f"Release Captain · {escape_mrkdwn(p.release.name)}")]


def decision(p: DecisionPost) -> Reply:
    """The go/no-go decision in the release channel: the outcome and every vote, name and reason."""
    outcome = "🟢 GO" if p.outcome == "go" else "🔴 NO-GO"
    if p.outcome == "go" and p.with_risk:
        outcome = "🟠 GO (with risk)"
    lines = [
        f"• <@{v.user_id}>: {_CHOICE_WORDS.get(v.choice, v.choice)}"
        + (f" — “{escape_mrkdwn(v.reason)}”" if v.reason else "")
        for v in p.votes
    ]
    blocks: list[Block] = [
        header(f"🗳️ Decision: {p.release.name}"),
        section(f"*{outcome}* for launch {date_token(p.release.launch_at)} (rule: {escape_mrkdwn(p.rule)})."),
        *sections_from_lines(lines, budget=40),
    ]
    follow = (
        "Launch with `/release launch` when every item is closed."
        if p.outcome == "go"
        else "Pending announcements were withdrawn. Fix what stands in the way and reschedule to vote again."
    )
    blocks.append(context(follow))
    return f"Decision for {p.release.name}: {outcome}", blocks


def vote_buttons(sealer: Sealer, release_id: int) -> Block:
    """GO, GO WITH RISK and NO-GO, for the readiness summary."""
    value = sealer.seal({"r": release_id})
    return {
        "type": "actions",
        "elements": [
            _button("GO", ActionId.VOTE_GO, value, style="primary"),
            _button("GO with risk…", ActionId.VOTE_RISK, value),
            _button("NO-GO…", ActionId.VOTE_NO_GO, value, style="danger"),
        ],
    }


def launch_button(sealer: Sealer, release_id: int) -> Block:
    """The card's launch button, once the vote said GO."""
    button = _button("🚀 Launch", ActionId.RELEASE_LAUNCH, sealer.seal({"r": release_id}), style="primary")
    button["confirm"] = {
        "title": {"type": "plain_text", "text": "Launch now?"},
        "text": {
            "type": "plain_text",
            "text": "The release is marked launched and the go-live announcement follows.",
        },
        "confirm": {"type": "plain_text", "text": "Launch"},
        "deny": {"type": "plain_text", "text": "Not yet"},
    }
    return {"type": "actions", "elements": [button]}


# ---- replies to commands and buttons ------------------------------------------------------------


def plan_reply(plan: AnnouncementPlan, sealer: Sealer | None) -> Reply:
    """`/release announce plan`: every announcement, when, where and its state."""
    release = plan.release
    name = escape_mrkdwn(release.name)
    lines = []
    for entry in plan.entries:
        when = date_token(entry.post_at) if entry.when != "when approved" else "as soon as approved"
        line = f"• *{entry.label}* in <#{entry.channel_id}> — {when} ({entry.when}) · {_state(entry)}"
        if entry.note and entry.state in ("held", "skipped", "withdrawn"):
            line += f" — {escape_mrkdwn(entry.note)}"
        lines.append(line)
    approvers = ", ".join(f"<@{u}>" for u in plan.approvers) or "nobody yet"
    approval = (
        f"Plan approved by <@{plan.plan_approved_by}>."
        if plan.plan_approved_by
        else "The plan is not approved yet: a release manager approves it with the button "
        "or `/release announce approve`."
    )
    hours = int(plan.lead.total_seconds() // 3600)
    blocks: list[Block] = [
        section(f"📣 *Announcements of {name}* (launch {date_token(release.launch_at)})"),
        *sections_from_lines(lines or ["No announcements planned."], budget=20),
        context(
            f"Drafts go to {approvers} {hours}h before each is due."
            + (" Auto-approval is *on*: posted without review." if plan.auto_approve else "")
        ),
        context(approval),
    ]
    if sealer is not None and not plan.plan_approved_by and release.state.is_active:
        value = sealer.seal({"r": release.id})
        blocks.append(
            {
                "type": "actions",
                "elements": [_button("Approve plan", ActionId.ANNOUNCE_PLAN_APPROVE, value, style="primary")],
            }
        )
    return f"Announcements of {release.name}", blocks


def draft_outcome(ann: AnnouncementView, actor: str, now: datetime) -> Reply:
    """What a draft's message says once someone acted on it (the buttons go away)."""
    if ann.state == AnnouncementState.SKIPPED.value:
        text = f"⏭️ <@{actor}> skipped the {ann.label} announcement; it will not be posted."
    elif ann.state == AnnouncementState.APPROVED.value and ann.post_at <= now:
        text = (
            f"✅ <@{actor}> approved the {ann.label} announcement; "
            f"it is being posted now in <#{ann.channel_id}>."
        )
    elif ann.state == AnnouncementState.APPROVED.value:
        text = (
            f"✅ <@{actor}> approved the {ann.label} announcement; "
            f"it posts in <#{ann.channel_id}> {date_token(ann.post_at)}."
        )
    else:
        text = f"The {ann.label} announcement is {ann.state}."
    return text, [section(text)]


def preview_reply(kind: str, text: str) -> Reply:
    """`/release announce preview <kind>`: the text as it would be posted now."""
    return f"Preview of the {kind} announcement", [
        context(f"Preview of the *{escape_mrkdwn(kind)}* announcement, as it would be posted now:"),
        section(_quoted(text)),
    ]


def roles_reply(r: RolesResult) -> Reply:
    """`/release deciders|comms`: who holds the role."""
    words = "deciders" if r.role == "decider" else "comms owners"
    people = ", ".join(f"<@{u}>" for u in r.users) or "nobody"
    name = escape_mrkdwn(r.release.name)
    if r.changed:
        text = f"👥 The {words} of *{name}* are now {people}."
    elif r.defaulted:
        command = "deciders" if r.role == "decider" else "comms"
        text = (
            f"👥 *{name}* has no {words} of its own, so its managers act: {people}. "
            f"Set them with `/release {command} @person…`."
        )
    else:
        text = f"👥 The {words} of *{name}*: {people}."
    return text, [section(text)]


def vote_reply(v: VoteResult) -> Reply:
    """The voter's confirmation: their vote, and the decision or who is still to vote."""
    name = escape_mrkdwn(v.release.name)
    mine = _CHOICE_WORDS[v.choice.value]
    changed = (
        f" (was {_CHOICE_WORDS.get(v.previous, v.previous)})"
        if v.previous and v.previous != v.choice.value
        else ""
    )
    text = f"🗳️ Your vote on *{name}*: {mine}{changed}."
    if v.decided:
        outcome = "GO" if v.decision.outcome.value == "go" else "NO-GO"
        text += f" That decides it: *{outcome}*. The decision is posted in <#{v.release.channel_id}>."
    else:
        text += " " + standing_text(v.decision)
    return text, [section(text)]


def standing_text(decision: Decision) -> str:
    """Who has voted and who is still to vote."""
    waiting = ", ".join(f"<@{u}>" for u in decision.waiting_for)
    counted = len(decision.votes)
    return f"{counted} vote{'s' if counted != 1 else ''} so far" + (
        f"; waiting for {waiting}." if waiting else "."
    )


def launched_reply(result: Launched) -> Reply:
    """Confirmation of launch, rollback or completion."""
    name = escape_mrkdwn(result.release.name)
    if result.state is ReleaseState.LAUNCHED:
        text = f"🚀 *{name}* is launched."
        if result.overridden:
            count = len(result.overridden)
            things = f"{count} thing{'s' if count != 1 else ''}"
            text += f" You overrode the gate ({things} in the way); the card shows it."
        text += " The go-live announcement follows once approved."
    elif result.state is ReleaseState.ROLLED_BACK:
        text = f"↩️ *{name}* is recorded as rolled back. The rolled-back announcement is drafted for approval."
    else:
        text = f"🏁 *{name}* is complete. The completed announcement is drafted for approval."
    return text, [section(text)]


def choice_of(action_id: str) -> Choice:
    """The vote a summary button casts."""
    return {
        ActionId.VOTE_GO.value: Choice.GO,
        ActionId.VOTE_RISK.value: Choice.GO_WITH_RISK,
        ActionId.VOTE_NO_GO.value: Choice.NO_GO,
    }[action_id]


def _state(entry: AnnouncementView) -> str:
    words = _STATE_WORDS.get(AnnouncementState(entry.state), entry.state)
    if entry.state == AnnouncementState.APPROVED.value and entry.approved_by:
        words += f" by <@{entry.approved_by}>" if entry.approved_by != "auto" else " automatically"
    return words


def _quoted(text: str) -> str:
    """The announcement's own mrkdwn, set off as a quote so it reads as the thing being reviewed."""
    return "\n".join(f">{line}" if line else ">" for line in text.split("\n"))


def _button(
    label: str,
    action: ActionId,
    value: str,
    *,
    style: str | None = None,
    confirm: tuple[str, str] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action.value,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "plain_text", "text": f"{confirm[0]} {confirm[1]}"},
            "confirm": {"type": "plain_text", "text": "Skip it"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        }
    return button
