"""Domain → Block Kit: the release card, item replies and command replies. User text is always escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.model import ItemState, ItemView, ReleaseState, ReleaseView
from bot.domain.notes import date_token
from bot.domain.readiness import assess, progress_bar
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import STATE_WORDS
from bot.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    Block,
    clip,
    context,
    divider,
    header,
    section,
    sections_from_lines,
)

STATE_ICON = {
    ItemState.OPEN: "⬜",
    ItemState.IN_PROGRESS: "🔄",
    ItemState.DONE: "✅",
    ItemState.BLOCKED: "⛔",
    ItemState.WAIVED: "⚠️",
    ItemState.NOT_APPLICABLE: "➖",
}
RELEASE_STATE_WORDS = {
    ReleaseState.PLANNING: "planning",
    ReleaseState.GO: "GO",
    ReleaseState.NO_GO: "NO-GO",
    ReleaseState.LAUNCHED: "launched",
    ReleaseState.ROLLED_BACK: "rolled back",
    ReleaseState.COMPLETED: "completed",
    ReleaseState.CANCELLED: "cancelled",
}
_LIST_LIMIT = 8  # blockers and overdue items named on the card before "…and N more"


def countdown(launch_at: datetime, now: datetime) -> str:
    """'in 6 days', 'in 3 hours', '2 days ago': relative to when the message was rendered."""
    seconds = (launch_at - now).total_seconds()
    ahead = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {words}" if ahead else f"{words} ago"
    return "now"


def owners_text(item: ItemView) -> str:
    """Owner mentions built from ids, or a hint that nobody owns it yet."""
    return ", ".join(o.mention for o in item.owners) or "_unassigned_"


def card(
    release: ReleaseView, now: datetime, *, actions: list[Block] | None = None
) -> tuple[str, list[Block]]:
    """The release card: fallback text and blocks; `actions` (the launch button) go last."""
    name = escape_mrkdwn(release.name)
    r = assess(release.items, now)
    state = RELEASE_STATE_WORDS[release.state]
    when = date_token(release.launch_at, "{date_short_pretty}, {time}")
    blocks: list[Block] = [
        header(f"🚀 {escape_mrkdwn(clip(release.name, 140))}"),
        section(f"Launches {when} ({countdown(release.launch_at, now)}) · *{state}*"),
        section(f"{progress_bar(r.closed, r.total)}  {_progress_words(r)}"),
    ]
    per_section = " · ".join(f"{escape_mrkdwn(s)} {c}/{t}" for s, (c, t) in r.sections.items())
    if per_section:
        blocks.append(context(per_section))
    if r.blocked:
        blocks.append(section("⛔ *Blocked:* " + _join_items(r.blocked, reason=True)))
    if r.overdue:
        blocks.append(section("⏰ *Overdue:* " + _join_items(r.overdue, due=True)))
    if release.override_reason:
        blocks.append(
            section(
                f"⚠️ *Launched past the gate* by <@{release.override_by}>: "
                f"“{escape_mrkdwn(clip(release.override_reason, 500))}”"
            )
        )
    managers = ", ".join(f"<@{m}>" for m in release.managers) or "none"
    blocks.append(context(f"Managers: {managers}", f"Channel: <#{release.channel_id}>"))
    if release.state.is_active:
        blocks.append(
            context(
                "Each item is a reply in this thread: react ✅ to sign it off, ⛔ if it is blocked, or use "
                "its buttons. Everything at once: `/release status`."
            )
        )
    blocks.extend(actions or [])
    text = f"🚀 {name} — launches {when} · {r.closed} of {r.total} done · {state}"
    return text, blocks


def item(
    release: ReleaseView, it: ItemView, now: datetime, *, actions: list[Block] | None = None
) -> tuple[str, list[Block]]:
    """An item's thread reply, with `actions` (its buttons) at the end."""
    title = escape_mrkdwn(it.title)
    section_name = escape_mrkdwn(it.section)
    body = f"*{it.position}. {title}* · {section_name}"
    if it.description:
        body += "\n" + escape_mrkdwn(it.description)
    facts = [f"Owner: {owners_text(it)}", f"Due {date_token(it.due_at)}"]
    if it.evidence_required and it.state is not ItemState.DONE:
        facts.append("Evidence required")
    status = f"{STATE_ICON[it.state]} {STATE_WORDS[it.state]}"
    if it.is_overdue(now) and release.state.is_active:
        status += " · ⏰ overdue"
    blocks = [section(body), context(*facts, status)]
    if it.signed and it.state is not ItemState.DONE:
        blocks.append(context("✍️ Signed so far: " + ", ".join(f"<@{u}>" for u in it.signed)))
    detail = _item_detail(it)
    if detail:
        blocks.append(context(detail))
    blocks.extend(actions or [])
    return f"{it.position}. {title} — {STATE_WORDS[it.state]}", blocks


def status(release: ReleaseView, now: datetime) -> tuple[str, list[Block]]:
    """The card plus every item, one line each, within one message's block limit."""
    text, blocks = card(release, now)
    blocks = [b for b in blocks if b["type"] != "context" or "Each item" not in str(b)]
    blocks.append(divider())
    lines = [_item_line(it, now) for it in release.items]
    blocks.extend(sections_from_lines(lines, budget=MAX_MESSAGE_BLOCKS - len(blocks)))
    return text, blocks


def release_list(releases: Sequence[ReleaseView], now: datetime) -> tuple[str, list[Block]]:
    """Releases in a channel, one line each."""
    if not releases:
        msg = 'No releases in this channel yet. Start one with `/release new "Name" 2026-12-10 14:00`.'
        return msg, [section(msg)]
    lines = [
        f"• *{escape_mrkdwn(r.name)}* — {date_token(r.launch_at)} ({countdown(r.launch_at, now)}) · "
        f"{RELEASE_STATE_WORDS[r.state]}"
        for r in releases
    ]
    return "Releases in this channel", [
        section("*Releases in this channel*"),
        *sections_from_lines(lines, budget=40),
    ]


def _progress_words(r) -> str:
    words = [f"{r.closed} of {r.total} done"]
    if r.blocked:
        words.append(f"{len(r.blocked)} blocked")
    if r.overdue:
        words.append(f"{len(r.overdue)} overdue")
    return " · ".join(words)


def _join_items(items: Sequence[ItemView], *, reason: bool = False, due: bool = False) -> str:
    parts = []
    for it in items[:_LIST_LIMIT]:
        part = f"{it.position}. {escape_mrkdwn(it.title)} ({owners_text(it)}"
        if due:
            part += f", due {date_token(it.due_at, '{date_short_pretty}')}"
        part += ")"
        if reason and it.reason:
            part += f" — “{escape_mrkdwn(clip(it.reason, 200))}”"
        parts.append(part)
    if len(items) > _LIST_LIMIT:
        parts.append(f"…and {len(items) - _LIST_LIMIT} more")
    return "; ".join(parts)


def _item_detail(it: ItemView) -> str:
    if it.state is ItemState.DONE and it.signed_off_by:
        done = f"✅ done by <@{it.signed_off_by}>"
        if it.signed_off_at:
            done += f" · {date_token(it.signed_off_at)}"
        if it.evidence:
            done += f" · evidence: {escape_mrkdwn(clip(it.evidence, 500))}"
        return done
    if it.state in (ItemState.BLOCKED, ItemState.WAIVED, ItemState.NOT_APPLICABLE) and it.reason:
        return f"{STATE_ICON[it.state]} {STATE_WORDS[it.state]}: “{escape_mrkdwn(clip(it.reason, 500))}”"
    return ""


def _item_line(it: ItemView, now: datetime) -> str:
    line = (
        f"{STATE_ICON[it.state]} *{it.position}. {escape_mrkdwn(it.title)}* · {owners_text(it)} · "
        f"due {date_token(it.due_at, '{date_short_pretty}')}"
    )
    if it.is_overdue(now):
        line += " · ⏰ overdue"
    if it.reason and it.state in (ItemState.BLOCKED, ItemState.WAIVED):
        line += f" — “{escape_mrkdwn(clip(it.reason, 120))}”"
    return line
