"""App Home: opening it, paging and refreshing, signing off from it; the preferences modal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.domain.errors import InvalidInput, UserError
from bot.domain.model import AuditSource
from bot.domain.prefs import parse_days, parse_hours, parse_zone
from bot.domain.text import escape_mrkdwn
from bot.domain.transitions import Move
from bot.services.items import EvidenceNeeded
from bot.services.prefs import PrefsView
from bot.services.registry import Services
from bot.slack import home, modals, replies
from bot.slack.ids import ActionId, ViewId
from bot.slack.item_actions import Origin, from_click, installed_team, request_context, unseal_form
from bot.slack.listeners.views import answer, on_field
from bot.slack.seal import Sealer


def from_home(body: dict[str, Any]) -> bool:
    """The click came from a Home tab (which has no channel to answer in)."""
    return (body.get("view") or {}).get("type") == "home"


def register(app: App, services: Services, sealer: Sealer) -> None:
    """Attach the Home and preferences listeners; register before the item buttons' listeners."""

    @app.event("app_home_opened")
    def opened(ack, event: dict) -> None:
        ack()
        if event.get("tab") == "home" and event.get("user"):
            services.home.opened(event["user"])

    @app.action(ActionId.HOME_REFRESH.value)
    def refresh(ack, body: dict) -> None:
        ack()
        services.home.refresh(body["user"]["id"])

    def turn_page(ack, body: dict, client: WebClient) -> None:
        ack()
        _told_on_home(client, body, lambda: services.home.turn_page(body["user"]["id"], _page(sealer, body)))

    app.action(ActionId.HOME_MORE.value)(turn_page)
    app.action(ActionId.HOME_BACK.value)(turn_page)

    # The same sealed sign-off button as on items and digests; only a click on Home lands here.
    @app.action(ActionId.ITEM_SIGN_OFF.value, matchers=[from_home])
    def sign_off(ack, body: dict, client: WebClient, context) -> None:
        ack()
        _told_on_home(
            client, body, lambda: _sign_off(services, sealer, client, body, installed_team(context))
        )
        services.home.refresh(body["user"]["id"])

    @app.action(ActionId.PREFS_OPEN.value)
    def open_prefs(ack, body: dict, client: WebClient, context) -> None:
        ack()
        channel = (body.get("container") or {}).get("channel_id") or ""
        ctx = request_context(body, installed_team(context), channel, AuditSource.BUTTON)
        metadata = sealer.seal({"channel": channel})
        view = home.prefs_modal(services.prefs.show(ctx), metadata)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ViewId.PREFS.value)
    def save_prefs(ack, body: dict, view: dict, context) -> None:
        if (saved := answer(ack, "work_start", lambda: _save_prefs(services, sealer, body, context))) is None:
            return
        channel, prefs = saved
        user = body["user"]["id"]
        if channel:
            text, blocks = replies.prefs(prefs)
            services.notices.ephemeral(channel, user, text, blocks=blocks)
        services.home.refresh(user)


def _told_on_home(client: WebClient, body: dict, work: Callable[[], object]) -> None:
    """Run `work`; a UserError is shown in a small modal, since Home has no place for an ephemeral."""
    try:
        work()
    except UserError as error:
        client.views_open(trigger_id=body["trigger_id"], view=home.notice_modal(f"⚠️ {error.message}"))


def _page(sealer: Sealer, body: dict) -> int:
    page = sealer.unseal(body["actions"][0].get("value")).get("page")
    if not isinstance(page, int) or isinstance(page, bool):
        raise InvalidInput("That button is not one I made. Please refresh the Home tab.")
    return page


def _sign_off(services: Services, sealer: Sealer, client: WebClient, body: dict, team: str | None) -> None:
    """Sign an item off from Home; ask for evidence in a modal when the item needs it."""
    origin = from_click(sealer, body, team)
    try:
        change = services.items.transition_item(origin.ctx, origin.item_id, Move.DONE)
    except EvidenceNeeded:
        target = services.items.describe_item(origin.item_id)
        assert target.item is not None
        # The modal answers in the item's thread, as it does when opened from the card.
        where = Origin(origin.ctx, origin.item_id, target.item.thread_ts)
        metadata = {**where.metadata(), "channel": target.release.channel_id}
        subject = (
            f"*{target.item.position}. {escape_mrkdwn(target.item.title)}* "
            f"({escape_mrkdwn(target.release.name)})"
        )
        view = modals.note_form(ViewId.EVIDENCE, sealer.seal(metadata), subject)
        client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    if change.waiting_for or not change.changed:
        # The item stays on Home; say why, since there is no confirmation anywhere else.
        client.views_open(
            trigger_id=body["trigger_id"], view=home.notice_modal(replies.item_changed(change)[0])
        )


def _save_prefs(services: Services, sealer: Sealer, body: dict, context) -> tuple[str, PrefsView]:
    """Check every field as `/release prefs` would, then save them all at once."""
    view = body["view"]
    channel = str(unseal_form(sealer, view).get("channel") or "")
    ctx = request_context(body, installed_team(context), channel, AuditSource.MODAL)
    start, end, days, tz, muted = home.PREFS_BLOCKS
    with on_field(end):
        begin, finish = (modals.value(view, b).get("selected_time") or "" for b in (start, end))
        if not begin or not finish:
            raise InvalidInput("Pick when your working hours start and end.")
        hours = parse_hours(f"{begin}-{finish}")
    with on_field(days):
        picked = modals.value(view, days).get("selected_options") or []
        work_days = parse_days(",".join(o["value"] for o in picked))
    with on_field(tz):
        zone = parse_zone(modals.text(view, tz).strip() or "auto")
    mute = bool(modals.value(view, muted).get("selected_options"))
    saved = services.prefs.set_many(ctx, hours=hours, days=work_days, tz_override=zone, muted=mute)
    return channel, saved
