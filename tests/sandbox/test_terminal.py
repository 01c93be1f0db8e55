"""The terminal renderer: every block type and element the bot produces, as a person reads it.

The blocks are shaped like the ones `bot/slack/` builds (card, item replies, drafts, the summary's vote
buttons, App Home, the modals); each must show its content, never vanish, and never leak rich markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from bot.sandbox.blockkit import block_errors, view_errors
from bot.sandbox.forms import FormContext, initial_state, modal_fields, modal_lines
from bot.sandbox.terminal import Transcript, Viewer, buttons, file_line, message_lines
from bot.sandbox.workspace import Workspace

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ANA, CHANNEL = "UANA00001", "CRELEASES"
DUE = int(datetime(2026, 12, 2, 13, 0, tzinfo=UTC).timestamp())


def viewer(user: str = "UMAYA0001") -> Viewer:
    return Viewer(Workspace.seeded(), user, NOW)


def shown(blocks: list[dict[str, Any]], who: Viewer | None = None) -> str:
    """Blocks rendered and printed, as plain text."""
    assert block_errors(blocks, limit=50) == []  # only blocks Slack itself would accept
    console = Console(record=True, width=200)
    for line in message_lines("", blocks, who or viewer()):
        console.print(line)
    return console.export_text()


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def test_header_is_plain_text_even_when_it_looks_like_markup() -> None:
    assert shown([{"type": "header", "text": plain("🚀 Payments [bold]2.4[/bold] *not bold*")}]) == (
        "🚀 Payments [bold]2.4[/bold] *not bold*\n"
    )


def test_section_text_fields_and_accessory_button() -> None:
    section = {
        "type": "section",
        "text": mrkdwn("*Your items* for <@UANA00001>"),
        "fields": [mrkdwn("*Owner:* <@UBOB00001>"), plain("Due Wed")],
        "accessory": {"type": "button", "text": plain("Change…"), "action_id": "rc_prefs", "value": "p"},
    }
    assert shown([section]).splitlines() == ["Your items for @ana", "Owner: @bob    Due Wed", "[Change…]"]


def test_context_joins_its_elements_and_shows_images_by_alt_text() -> None:
    context = {
        "type": "context",
        "elements": [
            mrkdwn(f"Payments 2.4 · launch <!date^{DUE}^{{date_short}}|Dec 2>"),
            {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "logo"},
            plain("v2"),
        ],
    }
    assert shown([context]) == "Payments 2.4 · launch Dec 2, 2026   [logo]   v2\n"


def test_divider_and_image_block() -> None:
    image = {"type": "image", "image_url": "https://example.com/chart.png", "alt_text": "burn-down"}
    lines = shown([{"type": "divider"}, image]).splitlines()
    assert lines == ["─" * 40, "[image: burn-down]"]


def test_actions_buttons_with_styles_and_confirm_dialogs_are_clickable() -> None:
    confirm = {
        "title": plain("Skip?"),
        "text": plain("It will not be posted."),
        "confirm": plain("Skip it"),
        "deny": plain("Keep it"),
    }
    actions = {
        "type": "actions",
        "elements": [
            button("GO", "rc_go", "1", style="primary"),
            {
                "type": "button",
                "text": plain("NO-GO…"),
                "action_id": "rc_nogo",
                "value": "2",
                "style": "danger",
            },
            {
                "type": "button",
                "text": plain("Skip"),
                "action_id": "rc_skip",
                "value": "3",
                "confirm": confirm,
            },
        ],
    }
    assert shown([actions]) == "[GO]  [NO-GO…]  [Skip]\n"
    assert buttons([actions]) == [("GO", "rc_go", "1"), ("NO-GO…", "rc_nogo", "2"), ("Skip", "rc_skip", "3")]
    console = Console(record=True, width=80, color_system="truecolor")
    console.print(message_lines("", [actions], viewer())[0])
    styled = console.export_text(styles=True)
    assert "\x1b[1;32mGO" in styled and "\x1b[1;31mNO-GO…" in styled  # primary green, danger red


def test_overflow_menu_lists_and_offers_each_option() -> None:
    overflow = {
        "type": "overflow",
        "action_id": "rc_more",
        "options": [{"text": plain("Assign…"), "value": "a"}, {"text": plain("Waive…"), "value": "w"}],
    }
    block = {"type": "section", "text": mrkdwn("5. Database Backup"), "accessory": overflow}
    assert shown([block]).splitlines() == ["5. Database Backup", "[⋯ Assign… / Waive…]"]
    assert buttons([block]) == [("Assign…", "rc_more", "a"), ("Waive…", "rc_more", "w")]


def test_rich_text_unknown_blocks_and_plain_text_messages() -> None:
    rich = {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "Ask "},
                    {"type": "user", "user_id": "UANA00001"},
                    {"type": "text", "text": " in "},
                    {"type": "channel", "channel_id": "CRELEASES"},
                    {"type": "emoji", "name": "tada"},
                ],
            }
        ],
    }
    assert shown([rich]) == "Ask @ana in #releases🎉\n"  # rich turns :tada: into the emoji, as Slack does
    console = Console(record=True, width=120)
    console.print(message_lines("", [{"type": "video", "title": plain("x")}], viewer())[0])
    assert console.export_text() == "[video block]\n"  # never silently dropped
    assert message_lines("a *b* [red]c", None, viewer()) == ["a [bold]b[/bold] \\[red]c"]


def test_mentions_of_the_viewer_stand_out_and_dates_follow_the_viewers_zone() -> None:
    token = f"<!date^{DUE}^{{date_short_pretty}} {{time}}|fallback>"
    blocks = [{"type": "section", "text": mrkdwn(f"<@UANA00001> due {token}")}]
    assert shown(blocks, viewer("UANA00001")) == "@ana due tomorrow 13:00\n"  # Lisbon
    assert shown(blocks, viewer("UDANA0001")) == "@ana due Dec 3, 2026 02:00\n"  # Auckland, the next day
    console = Console(record=True, width=80, color_system="truecolor")
    console.print(message_lines("", blocks, viewer("UANA00001"))[0])
    assert "\x1b[1;30;43m@ana" in console.export_text(styles=True)  # your own name, highlighted


def test_files_shared_with_a_message_are_listed_under_it() -> None:
    ws = Workspace.seeded()
    ws.post("CRELEASES", ws.bot_user_id, "Your export")
    message = ws.messages("CRELEASES")[-1]
    with ws.lock:
        message.files = [{"id": "F1", "name": "payments-2-4-checklist.csv", "size": 3174}]
    console = Console(record=True, width=120)
    Transcript(ws, console).print_changes(viewer())
    printed = console.export_text()
    assert printed.splitlines() == [
        "#1 Release Captain in #releases",
        "    Your export",
        "    📎 payments-2-4-checklist.csv (3.1 KB)",
    ]
    assert file_line("a.md", 12) == "📎 a.md [dim](12 B)[/dim]"
    assert file_line("[b].md", 3 * 1024**2) == "📎 \\[b].md [dim](3.0 MB)[/dim]"


def test_a_modal_shows_every_input_with_its_value_placeholder_and_hint() -> None:
    view = {
        "type": "modal",
        "title": plain("New release"),
        "submit": plain("Create"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": mrkdwn("Start a release")},
            field("name", "Release name", {"type": "plain_text_input", "placeholder": plain("e.g. 2.4")}),
            field("date", "Launch date", {"type": "datepicker", "initial_date": "2026-12-10"}),
            field("time", "Launch time", {"type": "timepicker", "initial_time": "10:00"}),
            field(
                "channel", "Channel", {"type": "conversations_select", "initial_conversation": "CRELEASES"}
            ),
            field(
                "template",
                "Checklist",
                {"type": "static_select", "options": [option("go-live"), option("hotfix")]},
            ),
            field(
                "managers", "Managers", {"type": "multi_users_select", "initial_users": ["UANA00001"]}, True
            ),
            field("days", "Days", {"type": "checkboxes", "options": [option("Mon"), option("Tue")]}, True),
            {
                **field("tz", "Zone", {"type": "plain_text_input"}, True),
                "hint": plain("Leave empty for Slack's"),
            },
        ],
    }
    assert view_errors(view) == []
    who = viewer()
    states = {f.block_id: initial_state(f, form_context()) for f in modal_fields(view)}
    console = Console(record=True, width=120)
    for line in modal_lines(view, states, who):
        console.print(line)
    assert console.export_text().splitlines() == [
        "Start a release",
        "1. Release name  [e.g. 2.4 ____]",
        "2. Launch date  [2026-12-10]",
        "3. Launch time  [10:00]",
        "4. Channel  [#releases]",
        "5. Checklist  [____]",
        "6. Managers (optional)  [@ana]",
        "7. Days (optional)  [____]",
        "8. Zone (optional)  [____]",
        "   Leave empty for Slack's",
        "[Cancel]  [Create]",
    ]


def field(block: str, label: str, element: dict[str, Any], optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block,
        "label": plain(label),
        "element": {"action_id": block, **element},
        "optional": optional,
    }


def button(label: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain(label), "action_id": action_id, "value": value, **extra}


def option(name: str) -> dict[str, Any]:
    return {"text": plain(name), "value": name.lower()}


def form_context() -> FormContext:
    return FormContext(Workspace.seeded(), "UMAYA0001", "CRELEASES", ZoneInfo("Europe/Berlin"))
