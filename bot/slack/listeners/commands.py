"""The `/release` slash command: ack with the reply, after parsing and one service call."""

from __future__ import annotations

from bot.domain import commands as c
from bot.domain.commands import parse_command
from bot.domain.model import AuditSource
from bot.domain.permissions import Actor
from bot.domain.reminders import SendKind
from bot.domain.transitions import Move
from bot.services.context import RequestContext
from bot.services.registry import Services
from bot.services.results import ChannelPost
from bot.slack import ids, render, replies
from bot.slack.listeners.views import new_release_form
from bot.slack.render_deliveries import render_outgoing
from bot.slack.replies import Reply
from bot.slack.seal import Sealer
from bot.slack.status_cache import StatusReplies

# Status is the most frequent command; its rendering is reused while nothing it shows has changed.
_STATUS = StatusReplies()

_MOVES = {
    c.TransitionAction.START: Move.START,
    c.TransitionAction.DONE: Move.DONE,
    c.TransitionAction.UNDO: Move.UNDO,
    c.TransitionAction.NOT_APPLICABLE: Move.NOT_APPLICABLE,
}


def register(app, services: Services, sealer: Sealer) -> None:
    """Attach the slash command listener."""

    @app.command(ids.COMMAND)
    def release_command(ack, command: dict, context, client) -> None:
        if (command.get("text") or "").strip().lower() in {"new", "create"}:
            # Bare `new` asks for the details in a form instead of answering with the usage line.
            view = new_release_form(services, sealer, command["user_id"], command["channel_id"])
            client.views_open(trigger_id=command["trigger_id"], view=view)
            ack()
            return
        ctx = RequestContext(
            actor=Actor(command["user_id"], command.get("team_id")),
            channel_id=command["channel_id"],
            source=AuditSource.COMMAND,
            home_team=context.team_id,
        )
        text, blocks = run(parse_command(command.get("text") or ""), ctx, services)
        ack(response_type="ephemeral", text=text, blocks=blocks)


def run(cmd: c.Command, ctx: RequestContext, services: Services) -> Reply:
    """Carry out one parsed command and render its reply."""
    releases = services.releases
    now = services.clock.now()
    match cmd:
        case c.Help(topic=topic):
            return replies.help_reply(topic)
        case c.NewRelease(name=name, when=when, channel_id=channel, template=template):
            view = releases.create(ctx, name=name, when=when, channel_id=channel, template=template)
            return replies.created(view)
        case c.ListReleases():
            return render.release_list(releases.list_releases(ctx), now)
        case c.Status(release=ref):
            view = releases.status(ctx, ref)
            # Reactions Slack failed to deliver are caught up in the background, for the next look.
            services.reconciler.request(view.id)
            return _STATUS.render(view, now)
        case c.Assign(release=ref, item=item, owners=owners):
            return replies.owners_changed(services.items.assign(ctx, ref, item, owners))
        case c.Unassign(release=ref, item=item, owners=owners):
            return replies.owners_changed(services.items.unassign(ctx, ref, item, owners))
        case c.Transition(release=ref, action=action, item=item, note=note):
            return replies.item_changed(services.items.transition(ctx, ref, item, _MOVES[action], note))
        case c.Block(release=ref, item=item, reason=reason):
            return replies.item_changed(services.items.transition(ctx, ref, item, Move.BLOCK, reason))
        case c.Waive(release=ref, item=item, reason=reason):
            return replies.item_changed(services.items.transition(ctx, ref, item, Move.WAIVE, reason))
        case c.Reschedule(release=ref, when=when):
            return replies.rescheduled(releases.reschedule(ctx, ref, when))
        case c.Cancel(release=ref):
            return replies.cancelled(releases.cancel(ctx, ref))
        case c.Set(release=ref, field=field, value=value):
            words = releases.configure(ctx, ref, field, value)
            what = "Readiness summaries" if field == "summary" else "The final call"
            when = "off" if words == "off" else f"{words} before launch"
            return replies.text_reply(f"🕑 {what}: {when}.")
        case c.Summary(release=ref):
            view = releases.status(ctx, ref)
            return render_outgoing(ChannelPost(SendKind.SUMMARY, view, now))
        case c.Prefs(setting=None):
            return replies.prefs(services.prefs.show(ctx))
        case c.Prefs(setting=setting, value=value):
            return replies.prefs(services.prefs.change(ctx, setting, value))
        case c.Snooze(release=ref, item=item, span=span):
            return replies.snoozed(services.prefs.snooze(ctx, ref, item, span))
        case c.Log(release=ref, item=item):
            lines = releases.audit_log(ctx, ref, item)
            return replies.audit_log(lines, item or ref or "this release")
    raise AssertionError(f"unhandled command {cmd!r}")
