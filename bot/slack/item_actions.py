"""Buttons under an item's reply, what a click or a submitted form carries back, and the confirmation."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import InvalidInput
from bot.domain.model import AuditSource, ItemState
from bot.domain.permissions import Actor
from bot.domain.transitions import RULES, Move
from bot.services.context import RequestContext
from bot.services.registry import Services
from bot.services.results import ItemChange
from bot.slack import followups, replies
from bot.slack.blocks import Block
from bot.slack.ids import ActionId
from bot.slack.seal import Sealer


class More(enum.StrEnum):
    """The choices in an item's overflow menu."""

    ASSIGN = "assign"
    START = "start"
    WAIVE = "waive"
    NOT_APPLICABLE = "na"
    REOPEN = "reopen"


_MORE_LABELS = {
    More.ASSIGN: "Assign…",
    More.START: "Start",
    More.WAIVE: "Waive…",
    More.NOT_APPLICABLE: "Not applicable…",
    More.REOPEN: "Reopen",
}
# The move each choice leads to; offered only from the states where that move is allowed.
_MORE_MOVES = {
    More.START: Move.START,
    More.WAIVE: Move.WAIVE,
    More.NOT_APPLICABLE: Move.NOT_APPLICABLE,
    More.REOPEN: Move.UNDO,
}


def item_actions(sealer: Sealer, item_id: int, state: ItemState) -> Block:
    """[Sign off] [Block] [⋯] for open work; only the menu (assign, reopen) once the item is closed."""
    ref = sealer.seal({"item": item_id})
    elements: list[Block] = []
    if state in RULES[Move.DONE].sources:
        elements.append(_button("Sign off", ActionId.ITEM_SIGN_OFF, ref, style="primary"))
    if state in RULES[Move.BLOCK].sources:
        elements.append(_button("Block", ActionId.ITEM_BLOCK, ref))
    choices = [c for c in More if c not in _MORE_MOVES or state in RULES[_MORE_MOVES[c]].sources]
    options = [
        {
            "text": {"type": "plain_text", "text": _MORE_LABELS[c]},
            # Each option seals its own choice: an overflow reports only the chosen option's value.
            "value": sealer.seal({"item": item_id, "do": c.value}),
        }
        for c in choices
    ]
    elements.append({"type": "overflow", "action_id": ActionId.ITEM_MORE.value, "options": options})
    return {"type": "actions", "block_id": "item_actions", "elements": elements}


def _button(label: str, action: ActionId, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action.value,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


@dataclass(frozen=True, slots=True)
class Origin:
    """Who acted on which item, and where to answer them."""

    ctx: RequestContext
    item_id: int
    thread_ts: str | None = None
    choice: str | None = None

    @property
    def channel(self) -> str:
        """The channel the person acted in."""
        return self.ctx.channel_id

    def metadata(self) -> dict[str, Any]:
        """What a modal opened from here must remember, to be sealed into its private_metadata."""
        return {"item": self.item_id, "channel": self.channel, "thread": self.thread_ts}


def installed_team(context: Any) -> str | None:
    """The workspace the app is installed in (auth.test), which Slack Connect guests do not belong to.

    The request's own team id will not do: a slash command from another organisation's member carries
    their team, so comparing the actor's team with it would never tell a guest apart.
    """
    result = getattr(context, "authorize_result", None)
    return getattr(result, "team_id", None) or getattr(context, "team_id", None)


def request_context(
    body: dict[str, Any], team_id: str | None, channel: str, source: AuditSource
) -> RequestContext:
    """The signed payload's user, acting in `channel` through `source`."""
    user = body["user"]
    return RequestContext(
        actor=Actor(user["id"], user.get("team_id")), channel_id=channel, source=source, home_team=team_id
    )


def from_click(sealer: Sealer, body: dict[str, Any], team_id: str | None) -> Origin:
    """The item a button or overflow names; InvalidInput when its value is not one we sealed."""
    action = body["actions"][0]
    value = action.get("value") or (action.get("selected_option") or {}).get("value")
    data = sealer.unseal(value)
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    thread = (body.get("message") or {}).get("thread_ts") or container.get("thread_ts")
    ctx = request_context(body, team_id, channel, AuditSource.BUTTON)
    return Origin(ctx, _item_id(data), thread, data.get("do"))


def unseal_form(sealer: Sealer, view: dict[str, Any]) -> dict[str, Any]:
    """A submitted modal's private_metadata; InvalidInput when it is not as we sealed it."""
    try:
        return sealer.unseal(view.get("private_metadata"))
    except InvalidInput:
        raise InvalidInput("This form expired or was changed; close it and start again.") from None


def from_form(sealer: Sealer, body: dict[str, Any], team_id: str | None) -> Origin:
    """The item a submitted modal is about, from its sealed private_metadata."""
    data = unseal_form(sealer, body["view"])
    ctx = request_context(body, team_id, str(data.get("channel") or ""), AuditSource.MODAL)
    return Origin(ctx, _item_id(data), data.get("thread"))


def _item_id(data: dict[str, Any]) -> int:
    item = data.get("item")
    if not isinstance(item, int) or isinstance(item, bool):
        raise InvalidInput("That button or form is not about a checklist item. Please use a fresh one.")
    return item


def tell(services: Services, sealer: Sealer, origin: Origin, change: ItemChange) -> None:
    """Confirm a change (or that nothing changed) to the person alone, in the item's thread."""
    if change.waiting_for:
        followups.after_item_change(services.notices, sealer, change, origin.ctx, thread_ts=origin.thread_ts)
        return
    text, blocks = replies.item_changed(change)
    services.notices.ephemeral(
        origin.channel, origin.ctx.user_id, text, blocks=blocks, thread_ts=origin.thread_ts
    )
