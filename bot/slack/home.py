"""App Home, the `/release mine` reply and the preferences modal, as Block Kit. User text is escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.domain.model import ItemState
from bot.domain.notes import date_token
from bot.domain.prefs import describe_days
from bot.domain.readiness import Recommendation
from bot.domain.text import escape_mrkdwn
from bot.services.home import HomeData, HomeService, Managed, MyItem, MyItems, Upcoming
from bot.services.prefs import PrefsView
from bot.slack.blocks import Block, clip, context, divider, header, section, sections_from_lines
from bot.slack.ids import ActionId, ViewId
from bot.slack.seal import Sealer

HOME_BLOCK_LIMIT = 100  # Slack's limit for a Home tab
ITEMS_PER_PAGE = 40  # one section an item, with its sign-off button
MANAGED_BUDGET = 8  # blocks for the releases one manages (lines are packed into sections)
UPCOMING_BUDGET = 4
# Header, summary, item title, page line, paging buttons, three dividers, prefs and its note.
_FIXED_BLOCKS = 10
# The layout can never reach Slack's limit, however many items, releases and channels a person has.
assert ITEMS_PER_PAGE + MANAGED_BUDGET + UPCOMING_BUDGET + _FIXED_BLOCKS <= HOME_BLOCK_LIMIT

MINE_LINES = 25  # `/release mine` lists this many; the Home tab has them all
PREFS_BLOCKS = ("work_start", "work_end", "work_days", "tz", "muted")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_VERDICT = {
    Recommendation.GO: "🟢 on track",
    Recommendation.AT_RISK: "🟠 AT RISK",
    Recommendation.NO_GO: "🔴 NO-GO",
}
_STATE_WORDS = {"planning": "planning", "go": "GO", "no_go": "NO-GO"}
_DIGEST_HINT = (
    "Reminder digests arrive at the start of your working hours, so the start time is your digest time."
)


# ---- App Home -------------------------------------------------------------------------------------------


def home_view(data: HomeData, sealer: Sealer) -> Block:
    """The Home tab: your items (paged, with sign-off buttons), releases you manage, launches nearby."""
    items = data.mine.items
    pages = max(1, -(-len(items) // ITEMS_PER_PAGE))
    page = min(max(data.page, 0), pages - 1)
    shown = items[page * ITEMS_PER_PAGE : (page + 1) * ITEMS_PER_PAGE]
    blocks: list[Block] = [
        header("🧭 Release Captain"),
        _with_button(
            f"*{_count(len(items), 'open item')}* need you · updated {date_token(data.now)}",
            _button("↻ Refresh", ActionId.HOME_REFRESH, "refresh"),
        ),
        section(f"*Your open items ({len(items)})*" if items else "*Your open items*"),
    ]
    if not items:
        blocks.append(context("Nothing needs you right now. Items assigned to you will show up here. 🎉"))
    for entry in shown:
        blocks.append(
            _with_button(
                "\n".join(_item_parts(entry, data.now)),
                _button("✅ Sign off", ActionId.ITEM_SIGN_OFF, sealer.seal({"item": entry.item.id})),
            )
        )
    if pages > 1:
        first = page * ITEMS_PER_PAGE + 1
        blocks.append(context(f"Items {first}–{first + len(shown) - 1} of {len(items)}"))
        blocks.append(_paging(sealer, page, pages))
    blocks += [divider(), *_managed(data.managed, data.now), divider(), *_upcoming(data.upcoming), divider()]
    blocks += [
        _with_button(_prefs_line(data.prefs), change_prefs_button()),
        context(_DIGEST_HINT),
    ]
    return {"type": "home", "blocks": blocks}


def _item_parts(entry: MyItem, now: datetime) -> tuple[str, str]:
    """What the item is and where; and when it is due, with its state when that matters."""
    item = entry.item
    where = f"{escape_mrkdwn(entry.release_name)} in <#{entry.channel_id}>"
    overdue = item.is_overdue(now)
    when = f"{'⏰ overdue since' if overdue else 'due'} {_when(item.due_at)}"
    if item.state is ItemState.BLOCKED:
        when += " · ⛔ blocked"
        if item.reason:
            when += f": “{escape_mrkdwn(clip(item.reason, 200))}”"
    elif item.state is ItemState.IN_PROGRESS:
        when += " · 🔄 in progress"
    return f"*{item.position}. {escape_mrkdwn(item.title)}* · {where}", when


def _paging(sealer: Sealer, page: int, pages: int) -> Block:
    elements = []
    if page > 0:
        elements.append(_button("‹ Back", ActionId.HOME_BACK, sealer.seal({"page": page - 1})))
    if page < pages - 1:
        elements.append(_button("More ›", ActionId.HOME_MORE, sealer.seal({"page": page + 1})))
    return {"type": "actions", "block_id": "home_paging", "elements": elements}


def _managed(managed: tuple[Managed, ...], now: datetime) -> list[Block]:
    if not managed:
        return [section("*Releases you manage*"), context("You manage no active release.")]
    lines = [
        f"• *{escape_mrkdwn(m.release.name)}* in <#{m.release.channel_id}> · launch "
        f"{_when(m.release.launch_at)} · {_VERDICT[m.verdict]} · "
        f"{m.readiness.closed}/{m.readiness.total} done"
        for m in managed
    ]
    title = section(f"*Releases you manage ({len(managed)})*")
    return [title, *sections_from_lines(lines, budget=MANAGED_BUDGET - 1)]


def _upcoming(upcoming: tuple[Upcoming, ...]) -> list[Block]:
    if not upcoming:
        return [
            section("*Upcoming in your channels*"),
            context("No other launches in channels where you take part in a release."),
        ]
    lines = [
        f"• *{escape_mrkdwn(u.name)}* in <#{u.channel_id}> · {_when(u.launch_at)} · "
        f"{_STATE_WORDS.get(u.state, u.state)}"
        for u in upcoming
    ]
    return [section("*Upcoming in your channels*"), *sections_from_lines(lines, budget=UPCOMING_BUDGET - 1)]


def _prefs_line(p: PrefsView) -> str:
    zone = f"{p.tz} (from Slack)" if p.tz_from_slack else p.tz
    state = "muted" if p.muted else "on"
    return (
        f"*Reminders:* {state} · {p.work_start}–{p.work_end}, {describe_days(p.work_days)} · "
        f"{escape_mrkdwn(zone)}"
    )


# ---- /release mine ---------------------------------------------------------------------------------------


def mine_reply(result: MyItems, now: datetime) -> tuple[str, list[Block]]:
    """The `/release mine` reply: your open items across releases, soonest due first (≤ 50 blocks)."""
    items = result.items
    if not items:
        text = "Nothing needs you right now: you own no open item in an active release."
        return text, [section(f"🎉 {text}")]
    title = f"{_count(len(items), 'open item')} need{'s' if len(items) == 1 else ''} you"
    lines = ["• " + " — ".join(_item_parts(entry, now)) for entry in items[:MINE_LINES]]
    blocks = [section(f"*{title}*"), *sections_from_lines(lines, budget=40)]
    if len(items) > MINE_LINES:
        blocks.append(section(f"…and {len(items) - MINE_LINES} more — open the Home tab to see them all."))
    blocks.append(
        context("Sign off from the Home tab, or with `/release done <number>` in the release's channel.")
    )
    return title, blocks


# ---- the preferences modal ---------------------------------------------------------------------------------


def change_prefs_button() -> Block:
    """The "Change…" button that opens the preferences modal (its value carries nothing)."""
    return _button("Change…", ActionId.PREFS_OPEN, "prefs")


def prefs_modal(p: PrefsView, metadata: str) -> Block:
    """Working hours, days, a time zone override and muting, prefilled from the current preferences."""
    start, end, days, tz, muted = PREFS_BLOCKS
    day_options = [_option(d, d.capitalize()) for d in _DAYS]
    days_element: Block = {"type": "checkboxes", "action_id": days, "options": day_options}
    chosen = [day_options[d] for d in sorted(p.work_days)]
    if chosen:
        days_element["initial_options"] = chosen
    zone_hint = (
        f"Leave empty to use your Slack time zone ({p.tz})."
        if p.tz_from_slack
        else "Leave empty to use your Slack time zone."
    )
    zone_element: Block = {
        "type": "plain_text_input",
        "action_id": tz,
        "max_length": 64,
        "placeholder": _plain("e.g. Europe/Berlin"),
    }
    if not p.tz_from_slack:
        zone_element["initial_value"] = p.tz
    mute_option = _option("muted", "Mute reminders (no digests or escalations by DM)")
    mute_element: Block = {"type": "checkboxes", "action_id": muted, "options": [mute_option]}
    if p.muted:
        mute_element["initial_options"] = [mute_option]
    blocks = [
        _input(start, "Working hours start", _time(start, p.work_start), hint=_DIGEST_HINT),
        _input(end, "Working hours end", _time(end, p.work_end)),
        _input(days, "Working days", days_element),
        _input(tz, "Time zone", zone_element, optional=True, hint=zone_hint),
        _input(muted, "Mute", mute_element, optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": ViewId.PREFS.value,
        "title": _plain("Reminder preferences"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def notice_modal(mrkdwn: str) -> Block:
    """A modal that only tells something (a refusal after a Home button: Home has no ephemerals)."""
    return {
        "type": "modal",
        "title": _plain("Release Captain"),
        "close": _plain("OK"),
        "blocks": [section(mrkdwn)],
    }


# ---- small builders ----------------------------------------------------------------------------------------


def _when(at: datetime) -> str:
    return date_token(at, "{date_short_pretty} {time}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _button(label: str, action: ActionId, value: str) -> Block:
    return {"type": "button", "text": _plain(label), "action_id": action.value, "value": value}


def _with_button(mrkdwn: str, button: Block) -> Block:
    return {**section(mrkdwn), "accessory": button}


def _time(action_id: str, initial: str) -> Block:
    return {"type": "timepicker", "action_id": action_id, "initial_time": initial}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def _input(
    block: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    built: Block = {
        "type": "input",
        "block_id": block,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        built["hint"] = _plain(hint)
    return built


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


# ---- publishing ------------------------------------------------------------------------------------------


class HomePublisher:
    """Renders a person's Home from the service and publishes it with views.publish."""

    def __init__(self, client: WebClient, sealer: Sealer, home: HomeService) -> None:
        self._client = client
        self._sealer = sealer
        self._home = home

    def publish(self, user_id: str) -> None:
        """Publish the person's Home as it is now."""
        self._client.views_publish(user_id=user_id, view=home_view(self._home.home(user_id), self._sealer))
