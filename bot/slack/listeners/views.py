"""Modal submissions: check the fields as the command would, act, and keep the modal open on errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from slack_bolt import App

from bot.domain.errors import InvalidInput, UserError
from bot.domain.model import AuditSource, Owner, OwnerKind, ReleaseView
from bot.domain.text import clean_name, clean_note
from bot.domain.when import ensure_future, localise, zone_name
from bot.services.registry import Services
from bot.services.releases import DEFAULT_TEMPLATE
from bot.slack import modals, replies
from bot.slack.blocks import Block
from bot.slack.ids import ViewId
from bot.slack.item_actions import from_form, installed_team, request_context, tell, unseal_form
from bot.slack.seal import Sealer

T = TypeVar("T")


class FieldError(Exception):
    """A UserError that belongs to one input of the modal."""

    def __init__(self, block: str, error: UserError) -> None:
        super().__init__(error.message)
        self.block, self.error = block, error


@contextmanager
def on_field(block: str) -> Iterator[None]:
    """Pin any UserError raised inside to the input `block`."""
    try:
        yield
    except UserError as error:
        raise FieldError(block, error) from error


def answer(ack, block: str, work: Callable[[], T]) -> T | None:
    """Run `work` before acking, so its UserErrors keep the modal open as errors on a field (`block`)."""
    # The one error handler can't do this for modals: a view_submission has no response_url, and its
    # plain 200 would close the modal and lose what the person typed.
    try:
        result = work()
    except FieldError as error:
        ack(response_action="errors", errors={error.block: modals.field_error(error.error)})
        return None
    except UserError as error:
        ack(response_action="errors", errors={block: modals.field_error(error)})
        return None
    ack()  # closes the modal
    return result


def register(app: App, services: Services, sealer: Sealer) -> None:
    """Attach the modal submission listeners."""

    def submit_note(ack, body: dict, view: dict, context) -> None:
        form = modals.NOTE_FORMS[ViewId(view["callback_id"])]

        def work():
            origin = from_form(sealer, body, installed_team(context))
            note = modals.text(view, form.block)
            note = clean_note(note, field=form.block) if note.strip() or not form.optional else None
            return origin, services.items.transition_item(origin.ctx, origin.item_id, form.move, note)

        if done := answer(ack, form.block, work):
            tell(services, sealer, *done)

    for form in modals.NOTE_FORMS:
        app.view(form.value)(submit_note)

    @app.view(ViewId.ASSIGN.value)
    def submit_assign(ack, body: dict, view: dict, context) -> None:
        def work():
            origin = from_form(sealer, body, installed_team(context))
            people = modals.value(view, modals.ASSIGN_BLOCK).get("selected_users") or []
            if not people:
                raise InvalidInput("Pick at least one person.")
            owners = [Owner(OwnerKind.USER, p) for p in people]
            return origin, services.items.assign_item(origin.ctx, origin.item_id, owners)

        if done := answer(ack, modals.ASSIGN_BLOCK, work):
            origin, change = done
            text, blocks = replies.owners_changed(change)
            services.notices.ephemeral(
                origin.channel, origin.ctx.user_id, text, blocks=blocks, thread_ts=origin.thread_ts
            )

    @app.view(ViewId.NEW_RELEASE.value)
    def submit_new_release(ack, body: dict, view: dict, context) -> None:
        if done := answer(
            ack, "name", lambda: _create(services, sealer, body, view, installed_team(context))
        ):
            channel, release = done
            text, blocks = replies.created(release)
            services.notices.ephemeral(channel, body["user"]["id"], text, blocks=blocks)


def new_release_form(services: Services, sealer: Sealer, user_id: str, channel_id: str) -> Block:
    """The new-release modal for a person in a channel (`/release new` without arguments)."""
    return modals.new_release(
        sealer.seal({"channel": channel_id}),
        channel_id=channel_id,
        templates=services.templates.names(),
        default=DEFAULT_TEMPLATE,
        tz=services.releases.people.timezone_of(user_id),
    )


def _create(
    services: Services, sealer: Sealer, body: dict, view: dict, team_id: str | None
) -> tuple[str, ReleaseView]:
    """Check every field of the new-release modal, then create it; returns where to confirm, and it."""
    here = str(unseal_form(sealer, view).get("channel") or "")
    ctx = request_context(body, team_id, here, AuditSource.MODAL)
    with on_field("name"):
        name = clean_name(modals.text(view, "name"), field="release name")
    with on_field("date"):
        launch_at, tz = _launch_at(services, view, ctx.user_id)
    with on_field("template"):
        template = (modals.value(view, "template").get("selected_option") or {}).get("value")
        services.templates.get(template or DEFAULT_TEMPLATE)
    with on_field("managers"):
        managers = modals.value(view, "managers").get("selected_users") or []
        for manager in managers:
            services.releases.people.require_active(manager)
    channel = modals.value(view, "channel").get("selected_conversation") or here
    try:
        release = services.releases.create_at(
            ctx,
            name=name,
            launch_at=launch_at,
            tz=tz,
            channel_id=channel,
            template=template,
            managers=managers,
        )
    except UserError as error:
        # All that is left to fail is the channel (its messages name it) or a name already taken.
        raise FieldError("channel" if f"<#{channel}>" in error.message else "name", error) from error
    return here, release


def _launch_at(services: Services, view: dict, user_id: str) -> tuple[datetime, str]:
    """The picked date and time read in the submitter's zone (or the picker's, when Slack says)."""
    picked: dict[str, Any] = modals.value(view, "time")
    tz = zone_name(picked.get("timezone") or services.releases.people.timezone_of(user_id))
    try:
        day = date.fromisoformat(modals.value(view, "date").get("selected_date") or "")
        at = time.fromisoformat(picked.get("selected_time") or "10:00")
    except ValueError:
        raise InvalidInput("Pick a launch date and time.") from None
    launch_at = localise(datetime.combine(day, at), ZoneInfo(tz))
    ensure_future(launch_at, services.clock.now(), tz=tz)
    return launch_at, tz
