"""Reactions on item replies: sign off, reopen, block. Acknowledged at once; follow-ups go out after."""

from __future__ import annotations

from slack_bolt import App

from bot.domain.model import AuditSource
from bot.domain.permissions import Actor
from bot.services.context import RequestContext
from bot.services.reactions import ReactionEvent
from bot.services.registry import Services
from bot.services.results import Ignored
from bot.slack import followups
from bot.slack.item_actions import installed_team
from bot.slack.seal import Sealer


def register(app: App, services: Services, sealer: Sealer) -> None:
    """Attach the reaction listeners."""

    def on_reaction(ack, event: dict, body: dict, context) -> None:
        ack()  # at once: the sign-off runs after Slack has its 200 (bot/slack/after_ack.py)
        item = event.get("item") or {}
        if item.get("type") != "message" or not event.get("user"):
            return
        ctx = RequestContext(
            actor=Actor(event["user"], event.get("user_team") or context.team_id),
            channel_id=item["channel"],
            source=AuditSource.REACTION,
            event_id=body.get("event_id"),
            home_team=installed_team(context),
        )
        reaction = ReactionEvent(
            channel_id=item["channel"],
            message_ts=item["ts"],
            reaction=event.get("reaction", ""),
            added=event["type"] == "reaction_added",
            event_ts=event.get("event_ts") or body.get("event_time", "0"),
        )

        def work() -> None:
            result = services.reactions.react(ctx, reaction)
            if isinstance(result, Ignored):
                if result.notice:
                    services.notices.ephemeral(
                        item["channel"], event["user"], result.notice, thread_ts=item["ts"]
                    )
                return
            followups.after_item_change(services.notices, sealer, result, ctx, thread_ts=item["ts"])

        def answer(text: str, blocks: list) -> None:
            services.notices.ephemeral(
                item["channel"], event["user"], text, blocks=blocks, thread_ts=item["ts"]
            )

        services.after_ack.submit(work, answer, key=(item["channel"], item["ts"]))

    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
