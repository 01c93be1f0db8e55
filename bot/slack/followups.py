"""What the person hears after an item changes: a confirmation, or a prompt for what is still needed."""

from __future__ import annotations

from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import STATE_WORDS
from bot.ports import Notices
from bot.services.context import RequestContext
from bot.services.results import FollowUp, ItemChange
from bot.slack.blocks import section
from bot.slack.ids import ActionId
from bot.slack.render import STATE_ICON
from bot.slack.seal import Sealer

# What to ask, on which button, when a change needs more from the person.
_PROMPTS = {
    FollowUp.BLOCK_REASON: (
        "{user} marked {title} blocked. What is blocking it?",
        "Add the reason",
        ActionId.ASK_BLOCK_REASON,
    ),
    FollowUp.EVIDENCE: (
        "{user}, {title} needs evidence (a link, a ticket or an id) before it is done.",
        "Add evidence",
        ActionId.ASK_EVIDENCE,
    ),
}


def after_item_change(
    notices: Notices, sealer: Sealer, change: ItemChange, ctx: RequestContext, *, thread_ts: str
) -> None:
    """Confirm, ask for a reason or evidence, or say who still has to sign; nothing for duplicates."""
    if change.duplicate:
        return
    title = f"{change.position}. {escape_mrkdwn(change.title)}"
    channel, user = ctx.channel_id, ctx.user_id
    if change.follow_up in _PROMPTS:
        question, label, action = _PROMPTS[change.follow_up]
        text = question.format(user=f"<@{user}>", title=title)
        notices.thread(channel, thread_ts, text, blocks=_prompt(sealer, text, label, action, change))
    elif change.waiting_for:
        waiting = ", ".join(o.mention for o in change.waiting_for)
        notices.ephemeral(
            channel,
            user,
            f"Your sign-off on {title} is recorded; still waiting for {waiting}.",
            thread_ts=thread_ts,
        )
    elif change.changed:
        notices.ephemeral(
            channel,
            user,
            f"{STATE_ICON[change.after]} {title} is now {STATE_WORDS[change.after]}.",
            thread_ts=thread_ts,
        )


def _prompt(sealer: Sealer, text: str, label: str, action: ActionId, change: ItemChange) -> list[dict]:
    return [
        section(text),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": label},
                    "action_id": action.value,
                    "value": sealer.seal({"item": change.item_id}),
                    "style": "primary",
                }
            ],
        },
    ]
