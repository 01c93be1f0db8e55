"""Replies to `/release` commands: short confirmations, lists and help, as ephemeral Block Kit."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain.commands import SUBCOMMANDS
from bot.domain.model import ReleaseView
from bot.domain.notes import date_token
from bot.domain.prefs import describe_days
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import STATE_WORDS
from bot.services.prefs import PrefsView, Snoozed
from bot.services.results import AuditLine, ItemChange, OwnersChange, Rescheduled
from bot.slack.blocks import Block, clip, context, section, sections_from_lines
from bot.slack.home import change_prefs_button
from bot.slack.render import STATE_ICON

Reply = tuple[str, list[Block]]


def text_reply(mrkdwn: str) -> Reply:
    """A one-section reply of already-safe mrkdwn."""
    return clip(mrkdwn, 3000), [section(mrkdwn)]


def created(release: ReleaseView) -> Reply:
    """Confirmation of `/release new`."""
    name = escape_mrkdwn(release.name)
    return text_reply(
        f"🚀 Created *{name}* for {date_token(release.launch_at)} with {len(release.items)} checklist items. "
        f"The card is on its way to <#{release.channel_id}>; assign owners with "
        f"`/release assign <item> @person`."
    )


def item_changed(change: ItemChange) -> Reply:
    """Confirmation of start/done/undo/na/block/waive."""
    title = f"{change.position}. {escape_mrkdwn(change.title)}"
    if change.waiting_for:
        waiting = ", ".join(o.mention for o in change.waiting_for)
        return text_reply(
            f"✍️ Your sign-off on {title} is recorded; every owner signs it, still waiting for {waiting}."
        )
    if not change.changed:
        return text_reply(f"{title} is already {STATE_WORDS[change.after]}; nothing changed.")
    return text_reply(
        f"{STATE_ICON[change.after]} {title}: {STATE_WORDS[change.before]} → *{STATE_WORDS[change.after]}*"
        f" in {escape_mrkdwn(change.release.name)}."
    )


def owners_changed(change: OwnersChange) -> Reply:
    """Confirmation of assign/unassign."""
    title = f"{change.position}. {escape_mrkdwn(change.title)}"
    parts = []
    if change.added:
        parts.append(f"Assigned {', '.join(o.mention for o in change.added)} to {title}.")
    if change.removed:
        parts.append(f"Removed {', '.join(o.mention for o in change.removed)} from {title}.")
    if change.unchanged:
        already = ", ".join(o.mention for o in change.unchanged)
        parts.append(f"{already} {'already own' if not change.removed else 'did not own'} {title}.")
    return text_reply(" ".join(parts) or f"Nothing changed on {title}.")


def rescheduled(result: Rescheduled) -> Reply:
    """Confirmation of reschedule."""
    name = escape_mrkdwn(result.release.name)
    msg = (
        f"📅 Moved *{name}* from {date_token(result.old_launch)} to {date_token(result.release.launch_at)}. "
        f"{result.moved} due date{'s' if result.moved != 1 else ''} moved"
    )
    if result.newly_overdue:
        msg += f", {result.newly_overdue} now overdue"
    return text_reply(msg + ". Details are in the card's thread.")


def cancelled(release: ReleaseView) -> Reply:
    """Confirmation of cancel."""
    return text_reply(
        f"🛑 Cancelled *{escape_mrkdwn(release.name)}*. Its card says so; its name is free again."
    )


def audit_log(lines: Sequence[AuditLine], subject: str) -> Reply:
    """Recent audit rows, newest first."""
    if not lines:
        return text_reply(f"Nothing recorded yet for {escape_mrkdwn(subject)}.")
    rows = []
    for line in lines:
        what = escape_mrkdwn(line.item_title) + ": " if line.item_title else ""
        change = f" ({line.before} → {line.after})" if line.before != line.after and line.after else ""
        detail = f" — {_keep_mentions(escape_mrkdwn(clip(line.detail, 200)))}" if line.detail else ""
        flag = "" if line.outcome == "applied" else f" [{line.outcome}]"
        how = f"{line.action}{change}{flag} via {line.source}{detail}"
        rows.append(f"{date_token(line.at)} <@{line.actor}> {what}{how}")
    return f"History of {subject}", [
        section(f"*History of {escape_mrkdwn(subject)}* (newest first)"),
        *sections_from_lines(rows, budget=40),
    ]


def help_reply(topic: str | None) -> Reply:
    """The command list, or one subcommand's usage."""
    # SUBCOMMANDS is plain text (the README uses it too); its <placeholders> must not reach Slack as markup.
    if topic and topic in SUBCOMMANDS:
        line, description = SUBCOMMANDS[topic]
        return text_reply(f"`{escape_mrkdwn(line)}`\n{escape_mrkdwn(description)}")
    rows = [
        f"`{escape_mrkdwn(line)}` — {escape_mrkdwn(description)}"
        for line, description in SUBCOMMANDS.values()
    ]
    return "Release Captain commands", [
        section("*Release Captain* keeps your go-live checklist, owners and sign-offs in one place."),
        *sections_from_lines(rows, budget=10),
        context(
            "`&lt;item&gt;` is the item's number on the card or the start of its title. "
            "`&lt;release&gt;` can be left out when the channel has one active release; otherwise start with "
            '`in "Release name"`. Times are read in your Slack time zone unless you add one.'
        ),
    ]


def snoozed(s: Snoozed) -> Reply:
    """Confirmation of a snooze."""
    return text_reply(
        f"😴 No reminders about {s.position}. {escape_mrkdwn(s.title)} until {date_token(s.until)}."
    )


def prefs(p: PrefsView) -> Reply:
    """The requester's reminder preferences."""
    zone = (
        f"{p.tz} (from Slack)"
        if p.tz_from_slack
        else f"{p.tz} (set here; `/release prefs tz auto` undoes it)"
    )
    lines = [
        "*Your reminder preferences*",
        f"• Working hours: {p.work_start}–{p.work_end}, {describe_days(p.work_days)}",
        f"• Time zone: {escape_mrkdwn(zone)}",
        f"• Reminders: {'muted' if p.muted else 'on'}",
        "Change: `/release prefs hours 08:30-17:00`, `days mon-fri`, `tz Europe/Berlin`, `mute`, `unmute`.",
    ]
    text, blocks = text_reply("\n".join(lines))
    # All of them at once, in a form: the button opens the preferences modal (bot.slack.listeners.home).
    return text, [*blocks, {"type": "actions", "block_id": "prefs", "elements": [change_prefs_button()]}]


def error_reply(message: str, hint: str | None = None) -> Reply:
    """A friendly error; the message is already escaped where it quotes user text."""
    body = message if not hint else f"{message}\n{hint}"
    return text_reply(f"⚠️ {body}")


# A mention of a user or group id, as escape_mrkdwn leaves it: safe to turn back into a mention.
_ESCAPED_MENTION = re.compile(r"&lt;(@[UW][A-Z0-9]{2,20}|!subteam\^S[A-Z0-9]{2,20})&gt;")


def _keep_mentions(escaped: str) -> str:
    """Audit details name owners by id; show them as names, while everything else stays inert."""
    return _ESCAPED_MENTION.sub(r"<\1>", escaped)
