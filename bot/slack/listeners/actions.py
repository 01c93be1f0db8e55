"""Buttons on item replies and thread prompts: ack at once, then act, or open the form that asks for more."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App
from slack_sdk import WebClient

from bot.domain.errors import InvalidInput
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import RULES, Move
from bot.services.items import EvidenceNeeded
from bot.services.registry import Services
from bot.slack import modals, replies
from bot.slack.ids import ActionId, ViewId
from bot.slack.item_actions import More, Origin, from_click, installed_team, tell
from bot.slack.seal import Sealer

_FORM_OF_BUTTON = {
    ActionId.ITEM_BLOCK: ViewId.BLOCK_REASON,
    ActionId.ASK_BLOCK_REASON: ViewId.BLOCK_REASON,
    ActionId.ASK_EVIDENCE: ViewId.EVIDENCE,
}
_FORM_OF_CHOICE = {
    More.ASSIGN: ViewId.ASSIGN,
    More.WAIVE: ViewId.WAIVE_REASON,
    More.NOT_APPLICABLE: ViewId.NA_REASON,
}
_MOVE_OF_CHOICE = {More.START: Move.START, More.REOPEN: Move.UNDO}


def register(app: App, services: Services, sealer: Sealer) -> None:
    """Attach the item button listeners."""
    items = services.items

    @app.action(ActionId.ITEM_SIGN_OFF.value)
    def sign_off(ack, body: dict, client: WebClient, context, respond) -> None:
        ack()  # at once: the sign-off runs after Slack has its 200 (bot/slack/after_ack.py)
        origin = from_click(sealer, body, installed_team(context))

        def work() -> None:
            try:
                change = items.transition_item(origin.ctx, origin.item_id, Move.DONE)
            except EvidenceNeeded:
                # The same rule as `/release done`: no evidence, no sign-off; so ask for it.
                _open(client, body, origin, ViewId.EVIDENCE)
                return
            tell(services, sealer, origin, change)

        services.after_ack.submit(work, _answer(respond), key=_message_of(body))

    def ask(ack, body: dict, client: WebClient, context) -> None:
        ack()
        origin = from_click(sealer, body, installed_team(context))
        form = _FORM_OF_BUTTON[ActionId(body["actions"][0]["action_id"])]
        if _may(origin, form):
            _open(client, body, origin, form)

    for action in _FORM_OF_BUTTON:
        app.action(action.value)(ask)

    @app.action(ActionId.DIGEST_SNOOZE.value)
    def snooze(ack, body: dict, context, respond) -> None:
        ack()
        origin = from_click(sealer, body, installed_team(context))

        def work() -> None:
            snoozed = services.prefs.snooze_item(origin.ctx, origin.item_id, origin.choice or "1d")
            services.notices.ephemeral(origin.channel, origin.ctx.user_id, replies.snoozed(snoozed)[0])

        services.after_ack.submit(work, _answer(respond), key=_message_of(body))

    @app.action(ActionId.ITEM_MORE.value)
    def more(ack, body: dict, client: WebClient, context) -> None:
        ack()
        origin = from_click(sealer, body, installed_team(context))
        if move := _MOVE_OF_CHOICE.get(origin.choice or ""):
            tell(services, sealer, origin, items.transition_item(origin.ctx, origin.item_id, move))
            return
        form = _FORM_OF_CHOICE.get(origin.choice or "")
        if form is None:
            raise InvalidInput("I don't know that menu choice; please use the item's latest message.")
        if _may(origin, form):
            _open(client, body, origin, form)

    def _may(origin: Origin, form: ViewId) -> bool:
        """Refuse before the form is filled in: a dry run of what submitting it would do."""
        if form is ViewId.ASSIGN:
            items.assign_item(origin.ctx, origin.item_id, ())  # assigning nobody changes nothing
            return True
        move = modals.NOTE_FORMS[form].move
        # The guard vetoes the write, so this checks permission, state and release exactly as the
        # submission will, and raises the same friendly errors, without changing anything.
        dry = items.transition_item(origin.ctx, origin.item_id, move, "-", guard=lambda _s, _i: False)
        # A blocked item's form still opens for Block: it sets or replaces the reason.
        if dry.before is RULES[move].target and move is not Move.BLOCK:
            tell(services, sealer, origin, dry)  # e.g. "already waived; nothing changed"
            return False
        return True

    def _open(client: WebClient, body: dict, origin: Origin, form: ViewId) -> None:
        target = items.describe_item(origin.item_id)
        assert target.item is not None
        subject = (
            f"*{target.item.position}. {escape_mrkdwn(target.item.title)}* "
            f"({escape_mrkdwn(target.release.name)})"
        )
        metadata = sealer.seal(origin.metadata())
        view = (
            modals.assign(metadata, subject)
            if form is ViewId.ASSIGN
            else modals.note_form(form, metadata, subject)
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)


def _answer(respond) -> Callable[[str, list], object]:
    """Tell the person who clicked, through the click's response_url (ephemeral, the message untouched)."""
    return lambda text, blocks: respond(
        text=text, blocks=blocks, response_type="ephemeral", replace_original=False
    )


def _message_of(body: dict) -> tuple[str, str] | None:
    """The message a click was made on: clicks and reactions on one message are applied in order."""
    container = body.get("container") or {}
    if container.get("channel_id") and container.get("message_ts"):
        return (container["channel_id"], container["message_ts"])
    return None
