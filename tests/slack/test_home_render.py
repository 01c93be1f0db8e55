"""App Home, `/release mine` and the preferences modal: content, order, escaping and Slack's limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.domain.model import ItemState, ItemView, Owner, OwnerKind, ReleaseState, ReleaseView
from bot.domain.readiness import Recommendation, assess
from bot.sandbox.blockkit import view_errors
from bot.services.home import HomeData, Managed, MyItem, MyItems, Upcoming
from bot.services.prefs import PrefsView
from bot.slack import home
from bot.slack.blocks import MAX_MESSAGE_BLOCKS
from bot.slack.ids import ActionId, ViewId
from bot.slack.seal import Sealer

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> Fix & ship <@U123>"
SEALER = Sealer("test-key")
PREFS = PrefsView("Europe/Berlin", True, "08:30", "17:00", frozenset({0, 1, 2, 3}), False)


def _item(n: int, *, title: str = "", due: datetime | None = None, state=ItemState.OPEN) -> ItemView:
    return ItemView(
        position=n,
        key=f"k{n}",
        section="Quality",
        title=title or f"Item {n}",
        description="",
        state=state,
        due_at=due or NOW + timedelta(hours=n),
        offset=timedelta(days=-1),
        owners=[Owner(OwnerKind.USER, "UANA00001")],
        reason="vendor & <!here>" if state is ItemState.BLOCKED else None,
        id=1000 + n,
    )


def _mine(items: list[ItemView], release: str = "Payments 2.4") -> MyItems:
    ordered = sorted(items, key=lambda i: i.due_at)  # the service's order
    return MyItems(
        "UANA00001", tuple(MyItem(1, release, "CPAY", NOW + timedelta(days=9), i) for i in ordered)
    )


def _managed(n: int, name: str = "Mobile 7.1") -> tuple[Managed, ...]:
    out = []
    for r in range(n):
        items = [_item(i) for i in range(1, 19)]
        view = ReleaseView(
            r + 1, f"{name} {r}", "CMOB", NOW + timedelta(days=5), "UTC", ReleaseState.PLANNING, "go-live",
            ["UANA00001"], items, "UANA00001",
        )  # fmt: skip
        out.append(Managed(view, assess(items, NOW), Recommendation.AT_RISK))
    return tuple(out)


def _data(mine: MyItems, *, page: int = 0, managed: int = 1, upcoming: int = 1) -> HomeData:
    nearby = tuple(
        Upcoming(50 + u, f"Search {u}", "CSRCH", NOW + timedelta(days=20), "planning")
        for u in range(upcoming)
    )
    return HomeData(mine, _managed(managed), nearby, PREFS, page, NOW)


def _text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def _buttons(blocks: list[dict[str, Any]], action: ActionId) -> list[dict[str, Any]]:
    found = [b.get("accessory") or {} for b in blocks] + [e for b in blocks for e in b.get("elements", [])]
    return [e for e in found if e.get("action_id") == action.value]


def test_empty_home_says_nothing_needs_you_and_still_offers_refresh_and_prefs() -> None:
    view = home.home_view(_data(_mine([]), managed=0, upcoming=0), SEALER)
    assert not view_errors(view)
    text = _text(view["blocks"])
    assert "Nothing needs you right now" in text
    assert "You manage no active release" in text
    assert _buttons(view["blocks"], ActionId.HOME_REFRESH)
    assert _buttons(view["blocks"], ActionId.PREFS_OPEN)
    assert not _buttons(view["blocks"], ActionId.ITEM_SIGN_OFF)
    assert not _buttons(view["blocks"], ActionId.HOME_MORE)


def test_items_are_listed_soonest_due_first_with_sealed_sign_off_buttons() -> None:
    late = _item(1, title="Rollback Plan", due=NOW - timedelta(days=1))
    soon = _item(2, title="Database Backup", due=NOW + timedelta(hours=3))
    later = _item(3, title="Documentation", due=NOW + timedelta(days=3), state=ItemState.BLOCKED)
    view = home.home_view(_data(_mine([later, soon, late])), SEALER)
    text = _text(view["blocks"])
    assert text.index("Rollback Plan") < text.index("Database Backup") < text.index("Documentation")
    assert "overdue since <!date^" in text
    assert "⛔ blocked: “vendor &amp; &lt;!here&gt;”" in text
    buttons = _buttons(view["blocks"], ActionId.ITEM_SIGN_OFF)
    assert [SEALER.unseal(b["value"]) for b in buttons] == [{"item": 1001}, {"item": 1002}, {"item": 1003}]


def test_dates_are_slack_date_tokens_so_each_reader_sees_their_zone() -> None:
    view = home.home_view(_data(_mine([_item(1)])), SEALER)
    text = _text(view["blocks"])
    due = int((NOW + timedelta(hours=1)).timestamp())
    assert f"<!date^{due}^" in text
    assert "Mobile 7.1 0* in <#CMOB> · launch <!date^" in text
    assert "🟠 AT RISK · 0/18 done" in text
    assert "*Search 0* in <#CSRCH> · <!date^" in text


def test_titles_and_names_from_people_are_escaped() -> None:
    mine = _mine([_item(1, title=HOSTILE)], release="R&D <!here>")
    view = home.home_view(_data(mine), SEALER)
    text = _text(view["blocks"])
    assert "&lt;!channel&gt; Fix &amp; ship &lt;@U123&gt;" in text
    assert "R&amp;D &lt;!here&gt;" in text
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    _, blocks = home.mine_reply(mine, NOW)
    assert "<!channel>" not in _text(blocks) and "&lt;!channel&gt;" in _text(blocks)


@pytest.mark.parametrize("page", range(8))
def test_three_hundred_items_page_within_the_home_block_limit(page: int) -> None:
    items = [_item(n, title="y" * 150) for n in range(1, 301)]
    view = home.home_view(_data(_mine(items), page=page, managed=40, upcoming=10), SEALER)
    assert len(view["blocks"]) <= home.HOME_BLOCK_LIMIT
    assert not view_errors(view)
    buttons = _buttons(view["blocks"], ActionId.ITEM_SIGN_OFF)
    shown = [SEALER.unseal(b["value"])["item"] for b in buttons]
    first = page * home.ITEMS_PER_PAGE
    assert shown == [1001 + n for n in range(first, min(first + home.ITEMS_PER_PAGE, 300))]
    more, back = _buttons(view["blocks"], ActionId.HOME_MORE), _buttons(view["blocks"], ActionId.HOME_BACK)
    assert [SEALER.unseal(b["value"]) for b in more] == ([{"page": page + 1}] if page < 7 else [])
    assert [SEALER.unseal(b["value"]) for b in back] == ([{"page": page - 1}] if page > 0 else [])
    assert "of 300" in _text(view["blocks"])


def test_a_page_past_the_end_shows_the_last_page() -> None:
    items = [_item(n) for n in range(1, 46)]  # two pages
    view = home.home_view(_data(_mine(items), page=9), SEALER)
    shown = [SEALER.unseal(b["value"])["item"] for b in _buttons(view["blocks"], ActionId.ITEM_SIGN_OFF)]
    assert shown == [1001 + n for n in range(40, 45)]
    assert _buttons(view["blocks"], ActionId.HOME_BACK) and not _buttons(view["blocks"], ActionId.HOME_MORE)


@pytest.mark.parametrize("count", [0, 1, 25, 26, 300])
def test_mine_reply_stays_within_a_message_and_points_to_home_for_the_rest(count: int) -> None:
    items = [_item(n, title="z" * 150) for n in range(1, count + 1)]
    text, blocks = home.mine_reply(_mine(items), NOW)
    assert text and len(blocks) <= MAX_MESSAGE_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()
    body = _text(blocks)
    if count == 0:
        assert "Nothing needs you" in body
    else:
        assert f"{count} open item" in text
        listed = re.findall(r"^• \*(\d+)\.", body, flags=re.M)
        assert [int(n) for n in listed] == list(range(1, min(count, home.MINE_LINES) + 1))
    assert ("more — open the Home tab" in body) == (count > home.MINE_LINES)
    if count > home.MINE_LINES:
        assert f"and {count - home.MINE_LINES} more" in body


def test_prefs_modal_is_prefilled_and_valid() -> None:
    view = home.prefs_modal(PREFS, "sealed")
    assert not view_errors(view)
    assert view["callback_id"] == ViewId.PREFS.value
    by_block = {b["block_id"]: b for b in view["blocks"]}
    assert set(by_block) == set(home.PREFS_BLOCKS)
    assert by_block["work_start"]["element"]["initial_time"] == "08:30"
    assert by_block["work_end"]["element"]["initial_time"] == "17:00"
    days = [o["value"] for o in by_block["work_days"]["element"]["initial_options"]]
    assert days == ["mon", "tue", "wed", "thu"]
    assert "initial_value" not in by_block["tz"]["element"]  # from Slack: left empty
    assert "Europe/Berlin" in by_block["tz"]["hint"]["text"]
    assert "initial_options" not in by_block["muted"]["element"]
    assert "digest time" in by_block["work_start"]["hint"]["text"]


def test_prefs_modal_shows_an_override_and_muting() -> None:
    prefs = PrefsView("Asia/Tokyo", False, "09:00", "18:00", frozenset({6}), True)
    by_block = {b["block_id"]: b for b in home.prefs_modal(prefs, "m")["blocks"]}
    assert by_block["tz"]["element"]["initial_value"] == "Asia/Tokyo"
    assert [o["value"] for o in by_block["muted"]["element"]["initial_options"]] == ["muted"]
    assert [o["value"] for o in by_block["work_days"]["element"]["initial_options"]] == ["sun"]


def test_notice_modal_is_a_valid_modal_without_a_submit_button() -> None:
    view = home.notice_modal("⚠️ Only the item's owners can sign off &lt;x&gt;.")
    assert not view_errors(view)
    assert "submit" not in view
