"""Replies to `/release train …`: a new train, the trains of a channel, a skipped launch, a stopped train."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.notes import date_token
from bot.domain.text import escape_mrkdwn
from bot.services.trains import TrainCreated, TrainSkipped, TrainView
from bot.slack.blocks import Block, clip, context, header, section, sections_from_lines

Reply = tuple[str, list[Block]]

_MAX_LIST_BLOCKS = 45  # a header and a context line besides, within Slack's 50 blocks


def created(result: TrainCreated, now: datetime) -> Reply:
    """Confirmation of a new train: its rule, its next launches and what happens to its first release."""
    train, first = result.train, result.first_release
    name = escape_mrkdwn(train.name)
    lines = [
        f"🚆 Started the train *{name}*: {_schedule(train)}.",
        f"Next launches: {_dates(train.upcoming)}.",
    ]
    opens = train.upcoming[0] - train.lead
    if first is not None:
        lines.append(
            f"Created *{escape_mrkdwn(first.name)}* for {date_token(first.launch_at)}; "
            f"its card is on its way to <#{first.channel_id}>."
        )
    elif opens <= now:
        lines.append("I'll create its first release on my next pass, in a minute or so.")
    else:
        lines.append(f"Its first release is created {date_token(opens)}, {_lead(train)} before its launch.")
    if train.open_at_once > 1:
        lines.append(
            f"Releases are created {_lead(train)} ahead, so about {train.open_at_once} of *{name}*'s will be "
            "open at a time, each with its card here. For fewer, stop it and start it again with a shorter "
            "lead, e.g. `lead 3 days`."
        )
    text = "\n".join(lines)
    return clip(text, 3000), [section(text), context(_how_to(train))]


def train_list(trains: Sequence[TrainView]) -> Reply:
    """The running trains of a channel: rule, next launch, skipped launches and who started each."""
    if not trains:
        text = (
            "No trains run in this channel. "
            'Start one with `/release train "Mobile" every 2 weeks on thu 14:00`.'
        )
        return text, [section(text)]
    lines = [_list_line(t) for t in trains]
    title = f"Trains in this channel ({len(trains)})"
    blocks = [header(title), *sections_from_lines(lines, budget=_MAX_LIST_BLOCKS)]
    blocks.append(context('`/release train skip "<name>"` skips a launch · `/release train stop "<name>"`'))
    return clip(f"{title}: " + "; ".join(escape_mrkdwn(t.name) for t in trains), 3000), blocks


def skipped(result: TrainSkipped) -> Reply:
    """Confirmation of a skip, saying so when the next release was created already and still runs."""
    train = result.train
    name = escape_mrkdwn(train.name)
    lines = [f"⏭️ *{name}* will not launch on {date_token(result.launch)}; no release is created for it."]
    if result.already_created is not None:
        release = escape_mrkdwn(result.already_created.name)
        lines.append(
            f"*{release}* ({date_token(result.already_created.launch_at)}) was created already, so it still "
            f'runs; to drop it too, use `/release cancel "{release}"`.'
        )
    lines.append(f"Next launches: {_dates(train.upcoming)}.")
    text = "\n".join(lines)
    return clip(text, 3000), [section(text)]


def stopped(train: TrainView) -> Reply:
    """Confirmation of a stopped train."""
    name = escape_mrkdwn(train.name)
    text = (
        f"🛑 Stopped the train *{name}*: it creates no more releases. The releases it already created stay; "
        'cancel one with `/release cancel "<release>"`.'
    )
    return text, [section(text)]


def _list_line(train: TrainView) -> str:
    line = f"• *{escape_mrkdwn(train.name)}* — {_schedule(train)} · next {date_token(train.upcoming[0])}"
    line += f" · created {_lead(train)} ahead"
    if train.skipped:
        line += f" · skipping {_dates(train.skipped)}"
    return line + f" · started by <@{train.created_by}>"


def _schedule(train: TrainView) -> str:
    """'every 2 weeks on Thursday at 14:00 (Europe/Berlin), checklist go-live'."""
    return f"{train.rule} ({escape_mrkdwn(train.timezone)}), checklist {escape_mrkdwn(train.template)}"


def _dates(launches: Sequence[datetime]) -> str:
    return ", ".join(date_token(at) for at in launches)


def _lead(train: TrainView) -> str:
    days = train.lead.days
    return f"{days} day{'s' if days != 1 else ''}"


def _how_to(train: TrainView) -> str:
    quoted = f'"{escape_mrkdwn(train.name)}"'
    return (
        f"Each release is created {_lead(train)} ahead and copies owners and settings from the one before. "
        f"`/release train skip {quoted}` skips a launch · `/release train stop {quoted}` stops the train."
    )
