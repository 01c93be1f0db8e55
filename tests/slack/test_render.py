"""Rendering stays inside Block Kit's limits and never lets user text become markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.blocks import Block

from bot.domain.model import ItemState, ItemView, Owner, OwnerKind, ReleaseState, ReleaseView
from bot.slack import render
from bot.slack.blocks import MAX_MESSAGE_BLOCKS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <https://evil.example|click> <@U123> <!subteam^S1> & *bold*"


def _release(n_items: int, *, text: str = "x", state: ItemState = ItemState.OPEN) -> ReleaseView:
    items = [
        ItemView(
            position=i,
            key=f"k{i}",
            section=f"Section {i % 7} {text}",
            title=f"Item {i} {text}",
            description=text * 3,
            state=state if i % 2 else ItemState.BLOCKED,
            due_at=NOW - timedelta(hours=i),
            offset=timedelta(days=-1),
            owners=[Owner(OwnerKind.USER, "UANA00001"), Owner(OwnerKind.GROUP, "S0QA00001")],
            reason=text * 10,
            evidence=text,
            signed_off_by="UANA00001" if state is ItemState.DONE else None,
            signed_off_at=NOW if state is ItemState.DONE else None,
        )
        for i in range(1, n_items + 1)
    ]
    return ReleaseView(
        id=1,
        name=f"Payments {text}"[:150],
        channel_id="CRELEASES",
        launch_at=NOW + timedelta(days=6),
        timezone="Europe/Berlin",
        state=ReleaseState.PLANNING,
        template="go-live",
        managers=["UMAYA0001"],
        items=items,
        created_by="UMAYA0001",
    )


def _valid(blocks: list[dict]) -> None:
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()  # raises on any Block Kit limit


@pytest.mark.parametrize("n_items", [0, 1, 18, 500, 2000])
@pytest.mark.parametrize("text", ["x", HOSTILE, "y" * 2000])
def test_every_message_is_valid_block_kit_at_any_size(n_items: int, text: str) -> None:
    for state in (ItemState.OPEN, ItemState.DONE):
        release = _release(n_items, text=text, state=state)
        for _, blocks in (render.card(release, NOW), render.status(release, NOW)):
            _valid(blocks)
        for item in release.items[:3]:
            _valid(render.item(release, item, NOW)[1])
        _valid(render.release_list([release] * 60, NOW)[1])


def test_user_text_is_escaped_everywhere() -> None:
    release = _release(18, text=HOSTILE)
    rendered = [
        render.card(release, NOW),
        render.status(release, NOW),
        render.item(release, release.items[1], NOW),
    ]
    for text, blocks in rendered:
        everything = text + str(blocks)
        for markup in ("<!channel>", "<https://evil", "<@U123>", "<!subteam^S1>"):
            assert markup not in everything
        assert "&lt;!channel&gt;" in everything


def test_mentions_the_bot_means_are_built_from_ids() -> None:
    _, blocks = render.item(_release(1), _release(1).items[0], NOW)
    text = str(blocks)
    assert "<@UANA00001>" in text and "<!subteam^S0QA00001>" in text


def test_status_of_a_large_release_says_what_it_left_out() -> None:
    _, blocks = render.status(_release(2000), NOW)
    assert "more." in str(blocks[-1])


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(days=6, hours=3), "in 6 days"),
        (timedelta(hours=1), "in 1 hour"),
        (timedelta(minutes=5), "in 5 minutes"),
        (timedelta(seconds=10), "now"),
        (-timedelta(days=2), "2 days ago"),
    ],
)
def test_countdown(delta: timedelta, words: str) -> None:
    assert render.countdown(NOW + delta, NOW) == words


def test_the_card_shows_progress_sections_blockers_and_overdue() -> None:
    text, blocks = render.card(_release(18), NOW)
    body = str(blocks)
    assert "0 of 18 done" in body and "9 blocked" in body and "overdue" in body
    assert "Blocked:" in body and "Overdue:" in body and "<@UMAYA0001>" in body
    assert "<!date^" in body
    assert "planning" in text


def test_audit_details_show_owner_mentions_but_nothing_else() -> None:
    from bot.services.results import AuditLine
    from bot.slack.replies import audit_log

    lines = [
        AuditLine(
            NOW,
            "UMAYA0001",
            "assign",
            "command",
            "applied",
            "Backup",
            None,
            None,
            "<@UANA00001> <!subteam^S0QA00001>",
        ),
        AuditLine(
            NOW,
            "UANA00001",
            "done",
            "command",
            "applied",
            "Backup",
            "open",
            "done",
            "<!channel> <https://x|y>",
        ),
    ]
    text = str(audit_log(lines, "5")[1])
    assert "<@UANA00001>" in text and "<!subteam^S0QA00001>" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "<https://x" not in text


def test_status_replies_are_reused_only_while_the_view_and_the_minute_are_the_same() -> None:
    from bot.slack.status_cache import StatusReplies

    cache = StatusReplies(size=4)
    view = _release(18)
    first = cache.render(view, NOW)
    assert cache.render(view, NOW + timedelta(seconds=30)) is first
    assert cache.render(view, NOW + timedelta(minutes=1)) is not first
    assert cache.render(_release(18), NOW) is not first  # another version of the release is another object
