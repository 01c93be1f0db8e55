"""The `/release` slash command: ack with the reply, after parsing and one service call."""

from __future__ import annotations

from bot.domain import commands as c
from bot.domain.announcements import FIELDS, parse_kind
from bot.domain.commands import parse_command
from bot.domain.model import AuditSource
from bot.domain.permissions import Actor
from bot.domain.reminders import SendKind
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import Move
from bot.services.context import RequestContext
from bot.services.registry import Services
from bot.services.results import ChannelPost
from bot.slack import announce_forms, ids, render, render_announcements, render_trains, replies
from bot.slack import home as home_render
from bot.slack.item_actions import installed_team
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
            home_team=installed_team(context),
        )
        parsed = parse_command(command.get("text") or "")
        if isinstance(parsed, c.Details):
            # The details form: the release is found (and permission checked) before it opens.
            view, current = services.announcements.details(ctx, parsed.release)
            metadata = sealer.seal({"r": view.id, "channel": ctx.channel_id})
            form = announce_forms.details(metadata, view.name, current)
            client.views_open(trigger_id=command["trigger_id"], view=form)
            ack()
            return
        text, blocks = run(parsed, ctx, services, sealer)
        ack(response_type="ephemeral", text=text, blocks=blocks)


def run(cmd: c.Command, ctx: RequestContext, services: Services, sealer: Sealer | None = None) -> Reply:
    """Carry out one parsed command and render its reply."""
    releases = services.releases
    now = services.clock.now()
    match cmd:
        case c.Help(topic=topic):
            return replies.help_reply(topic)
        case c.NewRelease(name=name, when=when, channel_id=channel, template=template, like=like):
            view = releases.create(
                ctx, name=name, when=when, channel_id=channel, template=template, like=like
            )
            return replies.created(view)
        case c.Mine():
            return home_render.mine_reply(services.home.mine(ctx), now)
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
        case c.Set(release=ref, field=field, value=value) if field in FIELDS:
            stored = services.announcements.set_detail(ctx, ref, field, value)
            shown = f"“{escape_mrkdwn(stored)}”" if stored else "cleared"
            return replies.text_reply(f"📝 {field.capitalize()}: {shown}. Announcements use it from now on.")
        case c.Set(release=ref, field="decision", value=value):
            rule = services.decisions.set_rule(ctx, ref, value)
            return replies.text_reply(f"🗳️ The go/no-go vote now decides by {escape_mrkdwn(rule)}.")
        case c.Set(release=ref, field=field, value=value):
            words = releases.configure(ctx, ref, field, value)
            what = "Readiness summaries" if field == "summary" else "The final call"
            when = "off" if words == "off" else f"{words} before launch"
            return replies.text_reply(f"🕑 {what}: {when}.")
        case c.Summary(release=ref):
            view = releases.status(ctx, ref)
            return render_outgoing(ChannelPost(SendKind.SUMMARY, view, now), sealer)
        case c.Prefs(setting=None):
            return replies.prefs(services.prefs.show(ctx))
        case c.Prefs(setting=setting, value=value):
            return replies.prefs(services.prefs.change(ctx, setting, value))
        case c.Snooze(release=ref, item=item, span=span):
            return replies.snoozed(services.prefs.snooze(ctx, ref, item, span))
        case c.Roles(release=ref, role=role, users=users):
            return render_announcements.roles_reply(services.decisions.roles(ctx, ref, role, users))
        case c.CastVote(release=ref, choice=choice, reason=reason):
            return render_announcements.vote_reply(services.decisions.vote(ctx, ref, choice, reason))
        case c.Launch(release=ref, override=override):
            return render_announcements.launched_reply(services.decisions.launch(ctx, ref, override))
        case c.Rollback(release=ref, reason=reason):
            return render_announcements.launched_reply(services.decisions.rollback(ctx, ref, reason))
        case c.Complete(release=ref):
            return render_announcements.launched_reply(services.decisions.complete(ctx, ref))
        case c.Announce():
            return _announce(cmd, ctx, services, sealer)
        case c.TrainCommand():
            return _train(cmd, ctx, services)
        case c.Log(release=ref, item=item):
            lines = releases.audit_log(ctx, ref, item)
            return replies.audit_log(lines, item or ref or "this release")
        case c.Export(release=ref, fmt=fmt):
            # Checked now; built and uploaded after the ack, so a large trail never delays the reply.
            ticket = services.exports.send(ctx, ref, fmt)
            return replies.text_reply(f"📎 Sending you `{ticket.filename}` in a DM…")
    raise AssertionError(f"unhandled command {cmd!r}")


def _train(cmd: c.TrainCommand, ctx: RequestContext, services: Services) -> Reply:
    """`/release train …`: start, list, skip a launch of, or stop a release train."""
    trains, name = services.trains, cmd.name or ""
    match cmd.action:
        case "create":
            created = trains.create(ctx, name, cmd.rule or "", cmd.template, cmd.lead_days)
            return render_trains.created(created, services.clock.now())
        case "list":
            return render_trains.train_list(trains.list(ctx))
        case "skip":
            return render_trains.skipped(trains.skip(ctx, name))
        case _:
            return render_trains.stopped(trains.stop(ctx, name))


def _announce(cmd: c.Announce, ctx: RequestContext, services: Services, sealer: Sealer | None) -> Reply:
    """`/release announce …`: the plan, its approval and changes, and previews."""
    announcements, ref = services.announcements, cmd.release
    match cmd.action:
        case "plan":
            plan = announcements.plan(ctx, ref)
        case "approve":
            plan = announcements.approve_plan(ctx, ref)
        case "add":
            plan = announcements.add(ctx, ref, cmd.kind or "", cmd.value or "", cmd.channel_id)
        case "remove":
            plan = announcements.remove(ctx, ref, cmd.kind or "")
        case "channel":
            plan = announcements.set_channel(ctx, ref, cmd.channel_id or "")
        case "lead":
            plan = announcements.set_lead(ctx, ref, cmd.value or "")
        case "auto":
            plan = announcements.set_auto(ctx, ref, cmd.value or "")
        case _:
            kind = parse_kind(cmd.kind or "")
            return render_announcements.preview_reply(kind.label, announcements.preview(ctx, ref, kind.value))
    return render_announcements.plan_reply(plan, sealer)
