"""Draft buttons (approve, edit, post now, skip), the plan's approval, vote buttons and their forms."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.domain.announcements import FIELDS, clean_field
from bot.domain.errors import InvalidInput
from bot.domain.model import AuditSource
from bot.domain.text import clean_note
from bot.services.context import RequestContext
from bot.services.registry import Services
from bot.slack import announce_forms, modals, render_announcements
from bot.slack.ids import ActionId, ViewId
from bot.slack.item_actions import installed_team, request_context, unseal_form
from bot.slack.listeners.views import answer, on_field
from bot.slack.render_deliveries import render_outgoing
from bot.slack.seal import Sealer

_DECIDE = {
    ActionId.ANNOUNCE_APPROVE: "approve",
    ActionId.ANNOUNCE_POST_NOW: "post_now",
    ActionId.ANNOUNCE_SKIP: "skip",
}
_REASON_WORDS = {ActionId.VOTE_RISK: "GO WITH RISK", ActionId.VOTE_NO_GO: "NO-GO"}


def register(app: App, services: Services, sealer: Sealer) -> None:
    """Attach the announcement and vote listeners."""
    announcements, decisions = services.announcements, services.decisions

    def decide(ack, body: dict, respond, context) -> None:
        ack()  # at once; the decision runs after Slack has its 200 (bot/slack/after_ack.py)
        ctx, data = _click(sealer, body, installed_team(context))
        what = _DECIDE[ActionId(body["actions"][0]["action_id"])]

        def work() -> None:
            view = getattr(announcements, what)(ctx, _int(data, "a"), _int(data, "v"))
            text, blocks = render_announcements.draft_outcome(view, ctx.user_id, services.clock.now())
            respond(text=text, blocks=blocks, replace_original=True)

        services.after_ack.submit(work, _ephemeral(respond))

    for action in _DECIDE:
        app.action(action.value)(decide)

    @app.action(ActionId.ANNOUNCE_EDIT.value)
    def edit(ack, body: dict, client: WebClient, context) -> None:
        ack()
        ctx, data = _click(sealer, body, installed_team(context))
        view, text = announcements.draft_text(ctx, _int(data, "a"), _int(data, "v"))
        container = body.get("container") or {}
        metadata = sealer.seal(
            {"a": view.id, "v": view.version, "channel": ctx.channel_id, "ts": container.get("message_ts")}
        )
        client.views_open(
            trigger_id=body["trigger_id"], view=announce_forms.edit_draft(metadata, view.label, text)
        )

    @app.view(ViewId.ANNOUNCE_EDIT.value)
    def submit_edit(ack, body: dict, view: dict, client: WebClient, context) -> None:
        def work():
            data = unseal_form(sealer, view)
            ctx = request_context(
                body, installed_team(context), str(data.get("channel") or ""), AuditSource.MODAL
            )
            text = modals.text(view, announce_forms.EDIT_BLOCK)
            shown_in = (
                (str(data["channel"]), str(data["ts"])) if data.get("channel") and data.get("ts") else None
            )
            draft = announcements.edit(ctx, _int(data, "a"), _int(data, "v"), text, shown_in=shown_in)
            return data, draft

        if done := answer(ack, announce_forms.EDIT_BLOCK, work):
            data, draft = done
            if data.get("channel") and data.get("ts"):
                # The DM the person edited from shows the new text, with the same buttons.
                text, blocks = render_outgoing(draft, sealer)
                client.chat_update(channel=data["channel"], ts=data["ts"], text=text, blocks=blocks)

    @app.action(ActionId.ANNOUNCE_PLAN_APPROVE.value)
    def approve_plan(ack, body: dict, respond, context) -> None:
        ack()
        ctx, data = _click(sealer, body, installed_team(context))
        plan = announcements.approve_plan(ctx, None, release_id=_int(data, "r"))
        text, blocks = render_announcements.plan_reply(plan, sealer)
        respond(text=text, blocks=blocks, replace_original=True)

    @app.action(ActionId.RELEASE_LAUNCH.value)
    def launch(ack, body: dict, respond, context) -> None:
        ack()
        ctx, data = _click(sealer, body, installed_team(context))

        def work() -> None:
            result = decisions.launch(ctx, None, None, release_id=_int(data, "r"))
            text, blocks = render_announcements.launched_reply(result)
            services.notices.ephemeral(ctx.channel_id, ctx.user_id, text, blocks=blocks)

        services.after_ack.submit(work, _ephemeral(respond))

    @app.action(ActionId.VOTE_GO.value)
    def vote_go(ack, body: dict, respond, context) -> None:
        ack()
        ctx, data = _click(sealer, body, installed_team(context))

        def work() -> None:
            result = decisions.vote(ctx, None, "go", None, release_id=_int(data, "r"))
            text, blocks = render_announcements.vote_reply(result)
            services.notices.ephemeral(ctx.channel_id, ctx.user_id, text, blocks=blocks)

        services.after_ack.submit(work, _ephemeral(respond))

    def vote_why(ack, body: dict, client: WebClient, context) -> None:
        ack()
        ctx, data = _click(sealer, body, installed_team(context))
        action = ActionId(body["actions"][0]["action_id"])
        choice = render_announcements.choice_of(action.value)
        # Refuse before the form is filled in (not a decider, already decided), as the vote itself would.
        release = decisions.may_vote(ctx, _int(data, "r"))
        metadata = sealer.seal({"r": release.id, "c": choice.value, "channel": ctx.channel_id})
        form = announce_forms.vote_reason(metadata, _REASON_WORDS[action], release.name)
        client.views_open(trigger_id=body["trigger_id"], view=form)

    for action in _REASON_WORDS:
        app.action(action.value)(vote_why)

    @app.view(ViewId.VOTE_REASON.value)
    def submit_vote(ack, body: dict, view: dict, context) -> None:
        def work():
            data = unseal_form(sealer, view)
            ctx = request_context(
                body, installed_team(context), str(data.get("channel") or ""), AuditSource.MODAL
            )
            reason = clean_note(modals.text(view, announce_forms.REASON_BLOCK), field="reason")
            return ctx, decisions.vote(ctx, None, str(data.get("c")), reason, release_id=_int(data, "r"))

        if done := answer(ack, announce_forms.REASON_BLOCK, work):
            ctx, result = done
            text, blocks = render_announcements.vote_reply(result)
            services.notices.ephemeral(ctx.channel_id, ctx.user_id, text, blocks=blocks)

    @app.view(ViewId.RELEASE_DETAILS.value)
    def submit_details(ack, body: dict, view: dict, context) -> None:
        def work():
            data = unseal_form(sealer, view)
            ctx = request_context(
                body, installed_team(context), str(data.get("channel") or ""), AuditSource.MODAL
            )
            values: dict[str, str] = {}
            for name in FIELDS:
                with on_field(name):
                    raw = modals.text(view, name).strip()
                    values[name] = raw or "none"  # an emptied field clears it
                    clean_field(name, values[name])
            return ctx, announcements.set_details(ctx, _int(data, "r"), values)

        if done := answer(ack, "changes", work):
            ctx, _details = done
            services.notices.ephemeral(ctx.channel_id, ctx.user_id, "📝 Announcement details saved.")


def _ephemeral(respond) -> Any:
    """Tell the person who clicked, through the click's response_url, leaving the message as it is."""
    return lambda text, blocks: respond(
        text=text, blocks=blocks, response_type="ephemeral", replace_original=False
    )


def _click(
    sealer: Sealer, body: dict[str, Any], team_id: str | None
) -> tuple[RequestContext, dict[str, Any]]:
    action = body["actions"][0]
    data = sealer.unseal(action.get("value"))
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    return request_context(body, team_id, channel, AuditSource.BUTTON), data


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("That button or form is not one I made. Please use a fresh one.")
    return value
