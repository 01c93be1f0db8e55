"""Scheduled messages as Block Kit: the digest, escalations, the final call, the readiness summary."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.model import ItemView, ReleaseState, ReleaseView
from bot.domain.notes import date_token
from bot.domain.readiness import Recommendation, assess, recommendation
from bot.domain.reminders import Reason, SendKind
from bot.domain.text import escape_mrkdwn
from bot.services.results import (
    AnnouncementDraft,
    AnnouncementPost,
    ChannelPost,
    DecisionPost,
    Digest,
    Escalation,
    MissedNotice,
    Outgoing,
    Problem,
)
from bot.slack import render_announcements
from bot.slack.blocks import Block, context, header, section, sections_from_lines
from bot.slack.ids import ActionId
from bot.slack.render import owners_text
from bot.slack.seal import Sealer

_REASON_WORDS = {Reason.HEADS_UP: "due", Reason.DUE: "due", Reason.OVERDUE: "overdue since"}
_VERDICT = {
    Recommendation.GO: "🟢 GO",
    Recommendation.AT_RISK: "🟠 AT RISK",
    Recommendation.NO_GO: "🔴 NO-GO",
}
_MISSED_WORDS = {
    SendKind.DIGEST: "reminder",
    SendKind.ESCALATION: "escalation",
    SendKind.FINAL_CALL: "final call",
    SendKind.SUMMARY: "readiness summary",
}


def render_outgoing(message: Outgoing, sealer: Sealer | None = None) -> tuple[str, list[Block]]:
    """Fallback text and blocks for any scheduled message."""
    if isinstance(message, Digest):
        return digest(message, sealer)
    if isinstance(message, Escalation):
        return escalation(message)
    if isinstance(message, MissedNotice):
        return missed(message)
    if isinstance(message, Problem):
        return problem(message)
    if isinstance(message, AnnouncementDraft):
        return render_announcements.draft(message, sealer)
    if isinstance(message, AnnouncementPost):
        return render_announcements.post(message)
    if isinstance(message, DecisionPost):
        return render_announcements.decision(message)
    if message.kind is SendKind.FINAL_CALL:
        return final_call(message)
    return summary(message, sealer)


def digest(d: Digest, sealer: Sealer | None = None) -> tuple[str, list[Block]]:
    """One DM per person per slot: their items, grouped by release, each with its reason and buttons."""
    count = len(d.entries)
    title = f"{count} release item{'s' if count != 1 else ''} need{'s' if count == 1 else ''} you"
    blocks: list[Block] = [section(f"*<@{d.recipient}>, {title}*")]
    # Buttons take two blocks an item; long digests fall back to lines so they stay under 50 blocks.
    buttons = sealer if count <= _MAX_BUTTONED else None
    lines: list[str] = []
    for release, entries in _by_release(d.entries):
        heading = f"*{escape_mrkdwn(release.name)}* — launch {date_token(release.launch_at)}"
        if buttons:
            blocks.append(section(heading))
        else:
            lines.append(heading)
        for entry in entries:
            item = entry.item
            line = (
                f"• {item.position}. {escape_mrkdwn(item.title)} — {_REASON_WORDS[entry.reason]} {_due(item)}"
            )
            if buttons:
                blocks.extend([section(line), _digest_actions(buttons, item.id or 0)])
            else:
                lines.append(line)
    blocks.extend(sections_from_lines(lines, budget=45))
    blocks.append(context("Sign off with ✅ on the item in the release thread, or `/release done <number>`."))
    return f"{title}", blocks


_MAX_BUTTONED = 12
_SNOOZES = (("1d", "Snooze 1 day"), ("due", "Snooze until due"), ("launch", "Snooze until launch"))


def _digest_actions(sealer: Sealer, item_id: int) -> Block:
    """[Sign off] and [Snooze ▾] for one digest line; values are sealed item references."""
    snoozes = [
        {"text": {"type": "plain_text", "text": label}, "value": sealer.seal({"item": item_id, "do": span})}
        for span, label in _SNOOZES
    ]
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Sign off"},
                "action_id": ActionId.ITEM_SIGN_OFF.value,
                "value": sealer.seal({"item": item_id}),
            },
            {"type": "overflow", "action_id": ActionId.DIGEST_SNOOZE.value, "options": snoozes},
        ],
    }


def escalation(e: Escalation) -> tuple[str, list[Block]]:
    """A manager's view of what is overdue in one release, with the owners to chase."""
    name = escape_mrkdwn(e.release.name)
    lines = [
        f"• {it.position}. {escape_mrkdwn(it.title)} ({owners_text(it)}) — overdue since {_due(it)}"
        for it in e.items
    ]
    blocks = [
        section(f"⏰ *{len(e.items)} overdue in {name}* (launch {date_token(e.release.launch_at)})"),
        *sections_from_lines(lines, budget=45),
        context(f"You get this as a manager of {name}. Reassign with `/release assign <item> @person`."),
    ]
    return f"{len(e.items)} item{'s' if len(e.items) != 1 else ''} overdue in {e.release.name}", blocks


def final_call(post: ChannelPost) -> tuple[str, list[Block]]:
    """The last call before launch: everything still open, owners mentioned."""
    release = post.release
    open_items = [it for it in release.items if not it.state.is_closed]
    lines = [f"• {it.position}. {escape_mrkdwn(it.title)} — {owners_text(it)}" for it in open_items]
    blocks = [
        header(f"📣 Final call: {escape_mrkdwn(release.name)}"),
        section(f"Launch {date_token(release.launch_at)}. *{len(open_items)} still open:*"),
        *sections_from_lines(lines, budget=44),
    ]
    return f"Final call: {release.name}, {len(open_items)} items still open", blocks


def summary(post: ChannelPost, sealer: Sealer | None = None) -> tuple[str, list[Block]]:
    """The readiness summary: progress, blockers, overdue, known gaps, unowned work, and a recommendation."""
    release, now = post.release, post.now
    r = assess(release.items, now)
    verdict = _VERDICT[recommendation(r, now, release.launch_at)]
    blocks: list[Block] = [
        header(f"🧭 Readiness — {escape_mrkdwn(release.name)}"),
        section(f"Launch {date_token(release.launch_at)} · Recommendation: *{verdict}*"),
        section(f"{r.bar()}  {r.closed} of {r.total} done"),
        context(" · ".join(f"{escape_mrkdwn(s)} {c}/{t}" for s, (c, t) in r.sections.items()) or " "),
    ]
    groups = (
        ("⛔ *Blocked*", r.blocked, True),
        ("⏰ *Overdue*", r.overdue, False),
        ("⚠️ *Waived (known gaps)*", r.waived, True),
        ("👤 *Unowned*", r.unowned, False),
    )
    for label, items, with_reason in groups:
        if items:
            blocks.append(section(f"{label}\n" + "\n".join(_line(it, with_reason) for it in items[:15])))
    still_open = [it for it in release.items if not it.state.is_closed and it.owners]
    if still_open:
        owners = sorted({o.mention for it in still_open for o in it.owners})
        blocks.append(context(f"Still open with owners: {', '.join(owners)[:1900]}"))
    if release.override_reason:
        blocks.append(
            section(
                f"⚠️ *Launched past the gate* by <@{release.override_by}>: "
                f"{escape_mrkdwn(release.override_reason)}"
            )
        )
    if sealer is not None and release.state is ReleaseState.PLANNING:
        blocks.append(context("Deciders: vote below. GO WITH RISK and NO-GO ask for the reason."))
        blocks.append(render_announcements.vote_buttons(sealer, release.id))
    return f"Readiness of {release.name}: {verdict}", blocks


def missed(m: MissedNotice) -> tuple[str, list[Block]]:
    """Said once after downtime: what was too late to send."""
    parts = [f"{n} {_MISSED_WORDS.get(SendKind(kind), kind)}{'s' if n != 1 else ''}" for kind, n in m.counts]
    text = (
        f"⚠️ I was offline and missed {', '.join(parts)} for *{escape_mrkdwn(m.release.name)}*; they were too "
        "late to be useful by the time I was back. Current state: `/release status`."
    )
    return text, [section(text)]


def problem(p: Problem) -> tuple[str, list[Block]]:
    """Tell a manager that a scheduled send could not go out, and what usually fixes it."""
    name = escape_mrkdwn(p.release.name)
    what = escape_mrkdwn(p.what)
    hint = ""
    if "not_in_channel" in p.what or "channel_not_found" in p.what:
        hint = f" Invite me to <#{p.release.channel_id}> with `/invite @Release Captain`."
    elif "is_archived" in p.what:
        hint = " The release channel is archived; unarchive it or move the release."
    elif "user_not_found" in p.what or "account_inactive" in p.what:
        hint = " That person left or was deactivated: reassign their items with `/release assign`."
    text = f"⚠️ A scheduled message for *{name}* could not be delivered: {what}.{hint}"
    return text, [section(text)]


def _line(it: ItemView, with_reason: bool) -> str:
    line = f"• {it.position}. {escape_mrkdwn(it.title)} ({owners_text(it)})"
    if with_reason and it.reason:
        line += f" — “{escape_mrkdwn(it.reason[:200])}”"
    return line


def _due(it: ItemView) -> str:
    return date_token(it.due_at, "{date_short_pretty} {time}")


def _by_release(entries: Sequence) -> list[tuple[ReleaseView, list]]:
    groups: dict[int, tuple[ReleaseView, list]] = {}
    for entry in entries:
        groups.setdefault(entry.release.id, (entry.release, []))[1].append(entry)
    return sorted(groups.values(), key=lambda g: (g[0].launch_at, g[0].id))
