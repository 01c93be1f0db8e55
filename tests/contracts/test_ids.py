"""Every action and view id has its own listener, and what the bot renders uses no other ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App, BoltRequest, BoltResponse

from bot.config import load_settings
from bot.domain.model import ItemState
from bot.domain.permissions import Actor
from bot.services.context import RequestContext
from bot.services.results import FollowUp, ItemChange
from bot.slack import announce_forms, followups, home, modals
from bot.slack.ids import ActionId, ViewId
from bot.slack.item_actions import item_actions
from bot.slack.seal import Sealer
from bot.wiring import build

OURS = {
    "bot.slack.listeners.actions",
    "bot.slack.listeners.views",
    "bot.slack.listeners.home",
    "bot.slack.listeners.announce",
}


@pytest.fixture(scope="module")
def bolt(tmp_path_factory) -> Iterator[App]:
    settings = load_settings(
        slack_bot_token="xoxb-contract-test",
        slack_signing_secret="contract-secret",
        slack_api_url="http://127.0.0.1:9/api/",
        database_url=f"sqlite:///{tmp_path_factory.mktemp('ids') / 'rc.db'}",
        _env_file=None,
    )
    runtime = build(settings)
    yield runtime.bolt
    runtime.stop()


def _handler(app: App, body: dict[str, Any]) -> str:
    """The module of the first listener Bolt would run for this payload."""
    request = BoltRequest(body=body, mode="socket_mode")
    for listener in app._listeners:
        if listener.matches(req=request, resp=BoltResponse(status=200)):
            return listener.ack_function.__module__
    return "nothing"


@pytest.mark.parametrize("action", list(ActionId))
def test_every_action_id_has_a_listener(bolt: App, action: ActionId) -> None:
    body = {"type": "block_actions", "actions": [{"action_id": action.value, "type": "button"}]}
    assert _handler(bolt, body) in OURS  # not the catch-all that only acknowledges


@pytest.mark.parametrize("view", list(ViewId))
def test_every_view_id_has_a_listener(bolt: App, view: ViewId) -> None:
    body = {"type": "view_submission", "view": {"callback_id": view.value, "type": "modal"}}
    assert _handler(bolt, body) in OURS


def _action_ids(blocks: list[dict[str, Any]]) -> set[str]:
    """Ids Slack sends back as block_actions (inputs only do so with dispatch_action)."""
    found = set()
    for block in blocks:
        if block["type"] == "input" and not block.get("dispatch_action"):
            continue
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if isinstance(element, dict) and "action_id" in element:
                found.add(element["action_id"])
    return found


class _Notices:
    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []

    def thread(self, _channel, _ts, _text, *, blocks=None) -> None:
        self.blocks += blocks or []

    def ephemeral(self, _channel, _user, _text, *, blocks=None, thread_ts=None) -> None:
        self.blocks += blocks or []


def test_rendered_ids_are_all_registered() -> None:
    sealer = Sealer("k")
    rendered: set[str] = set()
    for state in ItemState:
        rendered |= _action_ids([item_actions(sealer, 1, state)])
    notices = _Notices()
    ctx = RequestContext(Actor("U1"), "C1")
    for follow_up in (FollowUp.BLOCK_REASON, FollowUp.EVIDENCE):
        change = ItemChange(None, 1, 1, "Item", ItemState.OPEN, ItemState.OPEN, False, follow_up=follow_up)  # type: ignore[arg-type]
        followups.after_item_change(notices, sealer, change, ctx, thread_ts="1.0")
    rendered |= _action_ids(notices.blocks)
    rendered |= _action_ids(_digest_blocks(sealer))
    rendered |= _action_ids(_home_blocks(sealer))
    rendered |= _action_ids(_announcement_blocks(sealer))
    assert rendered == set(ActionId)  # every id is rendered somewhere, and nothing else is

    views = [modals.note_form(form, "m", "s") for form in modals.NOTE_FORMS]
    views += [modals.assign("m", "s")]
    views += [modals.new_release("m", channel_id="C1", templates=["go-live"], default="go-live", tz="UTC")]
    views += [home.prefs_modal(_prefs(), "m")]
    views += [
        announce_forms.edit_draft("m", "upcoming release", "text"),
        announce_forms.vote_reason("m", "NO-GO", "R"),
        announce_forms.details("m", "R", {"downtime": "none"}),
    ]
    assert {v["callback_id"] for v in views} == set(ViewId)
    assert not set().union(*(_action_ids(v["blocks"]) for v in views))


def _announcement_blocks(sealer: Sealer) -> list[dict[str, Any]]:
    """A draft DM, the plan reply and a readiness summary with the vote buttons."""
    from datetime import UTC, datetime, timedelta

    from bot.domain.model import ReleaseState, ReleaseView
    from bot.domain.reminders import SendKind
    from bot.services.results import AnnouncementDraft, AnnouncementPlan, AnnouncementView, ChannelPost
    from bot.slack import render_announcements
    from bot.slack.render_deliveries import summary

    now = datetime(2026, 12, 1, tzinfo=UTC)
    release = ReleaseView(
        1, "R", "C1", now + timedelta(days=1), "UTC", ReleaseState.PLANNING, "go-live", [], [], "U1"
    )
    ann = AnnouncementView(
        1, 1, "upcoming", "upcoming release", "planned", "C1", now, "48h", 1, False, None, None
    )
    draft = render_announcements.draft(AnnouncementDraft("U1", release, ann, "Hi", None, False, now), sealer)[
        1
    ]
    plan = AnnouncementPlan(release, (ann,), "C1", timedelta(hours=24), False, None, ("U1",))
    planned = render_announcements.plan_reply(plan, sealer)[1]
    launch = [render_announcements.launch_button(sealer, 1)]
    return draft + planned + launch + summary(ChannelPost(SendKind.SUMMARY, release, now), sealer)[1]


def _digest_blocks(sealer: Sealer) -> list[dict[str, Any]]:
    """A digest DM with one item, rendered with its buttons."""
    from datetime import UTC, datetime, timedelta

    from bot.domain.model import ItemView, ReleaseState, ReleaseView
    from bot.domain.reminders import Reason
    from bot.services.results import Digest, DigestEntry
    from bot.slack.render_deliveries import digest

    now = datetime(2026, 12, 1, tzinfo=UTC)
    item = ItemView(1, "k", "S", "Item", "", ItemState.OPEN, now, timedelta(0), id=7)
    release = ReleaseView(
        1, "R", "C1", now + timedelta(days=1), "UTC", ReleaseState.PLANNING, "go-live", [], [item], "U1"
    )
    return digest(Digest("U1", (DigestEntry(release, item, Reason.DUE),), now), sealer)[1]


def _prefs():
    from bot.services.prefs import PrefsView

    return PrefsView("UTC", True, "09:00", "18:00", frozenset(range(5)), False)


def _home_blocks(sealer: Sealer) -> list[dict[str, Any]]:
    """App Home on its second page of items (so both paging buttons show)."""
    from datetime import UTC, datetime, timedelta

    from bot.domain.model import ItemView
    from bot.services.home import HomeData, MyItem, MyItems

    now = datetime(2026, 12, 1, tzinfo=UTC)
    item = ItemView(1, "k", "S", "Item", "", ItemState.OPEN, now, timedelta(0), id=7)
    mine = MyItems("U1", tuple(MyItem(1, "R", "C1", now, item) for _ in range(3 * home.ITEMS_PER_PAGE)))
    return home.home_view(HomeData(mine, (), (), _prefs(), 1, now), sealer)["blocks"]
