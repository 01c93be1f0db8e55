"""`release-captain shell`: scripted sessions against the real app, the emulator and the terminal renderer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings, load_settings
from bot.sandbox.forms import Field, modal_fields
from bot.sandbox.local import LocalSandbox, SandboxClock, SandboxError, encode_typed, same_database
from bot.sandbox.shell import Shell, parse_duration, run_shell
from bot.sandbox.terminal import Viewer, mrkdwn
from bot.sandbox.workspace import Workspace

BERLIN, AUCKLAND = ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Auckland")


@pytest.fixture(autouse=True)
def _no_real_slack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Real-looking Slack settings in the environment, which the sandbox must ignore; a clean CWD."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real-workspace-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "real-signing-secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-real-app-token")
    monkeypatch.delenv("DATABASE_URL", raising=False)


def session(*lines: str, settings: Settings | None = None) -> str:
    """Run the shell on scripted lines (then end of input); the recorded output as plain text."""
    console = Console(record=True, width=120)
    script: Iterator[str] = iter(lines)

    def scripted(_prompt: str) -> str:
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    assert run_shell(settings or load_settings(), input_fn=scripted, console=console)
    return console.export_text()


def launch_day(days: int = 10) -> str:
    """A date `days` ahead, in Maya's (Berlin) calendar."""
    return (datetime.now(BERLIN) + timedelta(days=days)).strftime("%Y-%m-%d")


def new_release(name: str = "Payments 2.4") -> str:
    return f'/release new "{name}" {launch_day()} 14:00'


def after(output: str, marker: str) -> str:
    """The output from the last line containing `marker` on."""
    return output[output.rindex(marker) :]


def test_first_lines_say_sandbox_and_how_to_connect_and_cwd_database_is_untouched(tmp_path: Path) -> None:
    output = session(new_release(), "quit")
    first, second = output.splitlines()[:2]
    assert "sandbox" in first and "no Slack workspace" in first
    assert "SLACK_BOT_TOKEN" in second
    assert "Created" in output  # the app really ran, on a database of its own
    assert not (tmp_path / "release-captain.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_new_release_replies_to_maya_and_posts_the_card_with_18_items() -> None:
    output = session(new_release())
    reply = after(output, "> /release new")
    assert "#1 only visible to @maya in #releases" in reply
    assert "Created Payments 2.4" in reply and "18 checklist items" in reply
    assert "#2 Release Captain in #releases" in reply
    assert "0 of 18 done" in reply
    for number in range(1, 19):
        assert f"↳ reply to #2 in #releases  {number}. " in reply
    assert "1. Code Review and Approval" in reply and "18. User Communication for Release" in reply
    assert "Traceback" not in output


def test_only_owners_and_managers_sign_off_and_show_renders_the_thread() -> None:
    output = session(
        new_release(),
        "as @ana",
        "/release done 5 x",
        "as @maya",
        "/release assign 5 @ana @qa-team",
        "as @ana",
        "/release done 5 backup-42",
        "show #releases",
    )
    refused = after(output, "ana in #releases> /release done 5 x").split("> as @maya")[0]
    assert "#3" not in refused and "only visible to @ana" in refused
    assert "Only the item's owners or the release managers" in refused
    done = after(output, "ana in #releases> /release done 5 backup-42").split("> show")[0]
    assert "open → done" in done
    assert "✎ edited #2 in #releases" in done and "1 of 18 done" in done
    assert "✎ edited #7 in #releases" in done and "done by @ana" in done and "backup-42" in done
    shown = after(output, "> show #releases")
    assert "── in #releases ──" in shown
    assert "#2 Release Captain in #releases" in shown
    assert "    #7 Release Captain ↳ reply to #2 in #releases" in shown  # replies indented under the card
    assert "        Owner: @ana, @qa-team" in shown


def test_dates_show_in_the_viewers_zone() -> None:
    output = session(new_release(), "/release status", "as @dana", "/release status")
    launch = datetime.strptime(f"{launch_day()} 14:00", "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
    for zone, marker in ((BERLIN, "maya in #releases> /release status"), (AUCKLAND, "dana in #releases>")):
        local = launch.astimezone(zone)
        shown = f"Launches {local:%b} {local.day}, {local.year}, {local:%H:%M}"
        assert shown in after(output, marker)
    assert launch.astimezone(BERLIN).hour != launch.astimezone(AUCKLAND).hour


def test_channel_markup_in_a_name_is_shown_literally_never_as_a_mention() -> None:
    output = session(new_release("Ship <!channel> & co"), "/release status")
    assert "Ship <!channel> & co" in output
    assert "@channel" not in output
    assert "&lt;" not in output and "&amp;" not in output


def test_bad_lines_get_hints_not_tracebacks() -> None:
    output = session(
        "frob",
        "sho #releases",
        "as @nobody",
        "in #nowhere",
        "in #old-stuff",
        "react",
        "react 99 :white_check_mark:",
        "click 1 Approve",
        "advance soon",
        "at the end of time",
        "/deploy now",
        "",
    )
    assert "I don't know “frob”" in output
    assert "Did you mean show?" in output
    assert "nobody called @nobody" in output and "@maya" in output
    assert "no channel #nowhere" in output
    assert "#old-stuff is archived" in output
    assert output.count("Which message? Give its number") == 3
    assert "How far? For example: advance 2d" in output
    assert "For example: at 2026-12-09 09:00" in output
    assert "Only /release is installed" in output
    assert "Traceback" not in output and "unexpected error" not in output


def test_reactions_are_delivered_and_acknowledged() -> None:
    output = session(new_release(), "as @ana", "react 7 ✅", "react 7 :white_check_mark:", "unreact 7 ✅")
    assert "@ana reacted ✅ on #7." in output
    assert "You already reacted ✅ on #7." in output
    assert "@ana took back ✅ on #7." in output
    assert "Slack would show an error" not in output


def test_the_clock_moves_and_says_so() -> None:
    output = session("advance 2d", "at 2031-03-04 09:30", "now", "at 2030-01-01 09:00")
    expected = (datetime.now(UTC) + timedelta(days=2)).astimezone(BERLIN)
    assert f"It is now {expected:%a %d %b %Y}" in output
    assert "It is now Tue 04 Mar 2031 09:30 for @maya (Europe/Berlin); 08:30 UTC." in output
    assert "The sandbox clock only moves forward; for you it is already Tue 04 Mar 09:30." in output


def test_people_home_and_dm_views() -> None:
    output = session("people", "home @ana", "show dm @ana", "help")
    assert "@dana (Dana Ngata, Pacific/Auckland)" in output and "@qa-team (QA Team): @ana, @bob" in output
    assert "App Home of @ana" in output and "Nothing needs you right now" in output
    assert "── DM to @ana ──\n    (no messages yet)" in output  # opening Home opened the DM too, as in Slack
    assert "advance 2d" in after(output, "> help")


def test_clicking_a_button_sends_the_action() -> None:
    with LocalSandbox(load_settings()) as sandbox:
        console = Console(record=True, width=120)
        shell = Shell(sandbox, console)
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Ready?"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "rc_ok",
                        "value": "7",
                        "text": {"type": "plain_text", "text": "OK"},
                    }
                ],
            },
        ]
        sandbox.workspace.post("CRELEASES", sandbox.workspace.bot_user_id, "Ready?", blocks=blocks)
        shell.handle("")
        assert shell.handle("click 1 ok")
        assert shell.handle("click 1 nope")
        assert not shell.handle("quit")
        output = console.export_text()
        clicks = [c for c in sandbox.emulator.calls if c.method == "response_url"]
    assert "#1 Release Captain in #releases" in output and "[OK]" in output
    assert "@maya clicked [OK] on #1." in output
    assert "Which button? #1 has [OK]." in output
    assert "Slack would show an error" not in output
    assert "Release Captain acknowledged the click; nothing else happened." in output
    assert clicks == []  # the app acknowledged without replying: nothing handles this action


def test_modals_submit_and_close_as_in_slack() -> None:
    evidence = {
        "type": "input",
        "block_id": "evidence",
        "label": {"type": "plain_text", "text": "Evidence"},
        "element": {"type": "plain_text_input", "action_id": "value"},
    }
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Add evidence"},
        "submit": {"type": "plain_text", "text": "Sign off"},
        "blocks": [evidence],
    }
    assert modal_fields(view) == [Field("evidence", "value", "Evidence", evidence["element"])]
    with LocalSandbox(load_settings()) as sandbox:
        console = Console(record=True, width=120)
        shell = Shell(sandbox, console)

        def open_modal() -> None:
            # What the app does when a button needs more input: views.open with the click's trigger.
            trigger = sandbox.emulator.new_trigger_id("UMAYA0001")
            with sandbox.workspace.lock:
                sandbox.emulator.api.call("views.open", {"trigger_id": trigger, "view": view})

        shell.handle("submit too early")
        open_modal()
        shell.handle("close")
        shell.handle("close")
        open_modal()
        shell.handle("submit PR-1234")
        still_open = sandbox.emulator.modal_stack("UMAYA0001")
    output = console.export_text()
    assert "No modal is open. Buttons like [Sign off] or [Block] open one." in output
    assert "The modal closed; nothing was submitted." in output and "No modal is open." in output
    assert "The modal closed." in output  # the app acknowledged the submission without errors
    assert still_open == []


def test_the_production_database_is_refused(tmp_path: Path) -> None:
    settings = load_settings()
    with pytest.raises(SandboxError, match="never touches it"):
        LocalSandbox(settings, database_url=f"sqlite:///{tmp_path / 'release-captain.db'}")
    console = Console(record=True, width=120)
    assert not run_shell(
        settings, input_fn=lambda _p: "quit", console=console, database_url="sqlite:///release-captain.db"
    )
    assert "never touches it" in console.export_text()
    assert same_database("sqlite:///./a.db", f"sqlite:///{tmp_path / 'a.db'}")
    assert not same_database("sqlite:///a.db", "sqlite:///b.db")


def test_cli_shell_ignores_slack_settings_and_quits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-bot-token")  # invalid for serve; irrelevant to the sandbox
    result = CliRunner().invoke(app, ["shell"], input="/release list\nquit\n")
    assert result.exit_code == 0, result.output
    assert "local sandbox" in result.output and "No releases in this channel yet" in result.output


# --- the pieces -------------------------------------------------------------------------------------------


def test_typed_text_reaches_the_app_as_slack_sends_it() -> None:
    ws = Workspace.seeded()
    typed = 'assign 5 @ana @qa-team #releases "a <b> & c" ana@example.com @channel @ghost'
    assert encode_typed(typed, ws) == (
        "assign 5 <@UANA00001|ana> <!subteam^S0QA00001|@qa-team> <#CRELEASES|releases> "
        '"a &lt;b&gt; &amp; c" ana@example.com <!channel> @ghost'
    )


def test_mrkdwn_renders_names_dates_and_escapes() -> None:
    ws = Workspace.seeded()
    at = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)
    token = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|fallback>"
    text = f"*Hi* <@UANA00001> in <#CRELEASES> for <!subteam^S0QA00001|@qa-team> at {token} [red]x &lt;y&gt;"
    maya = Viewer(ws, "UMAYA0001", at - timedelta(days=5))
    dana = Viewer(ws, "UDANA0001", at - timedelta(days=5))
    console = Console(record=True, width=200)
    console.print(mrkdwn(text, maya))
    console.print(mrkdwn(text, dana))
    first, second = console.export_text().splitlines()
    assert first == "Hi @ana in #releases for @qa-team at Dec 10, 2026 14:00 [red]x <y>"
    assert second.endswith("at Dec 11, 2026 02:00 [red]x <y>")


def test_durations_and_the_clock() -> None:
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("3 hours 15m") == timedelta(hours=3, minutes=15)
    assert parse_duration("soon") is None and parse_duration("0d") is None and parse_duration("2d x") is None
    ticks = iter([0.0, 0.0, 5.0, 5.0, 5.0])
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = SandboxClock(start, time_fn=lambda: next(ticks))
    assert clock.now() == start
    assert clock.now() == start + timedelta(seconds=5)  # it runs at real speed between moves
    assert clock.advance(timedelta(days=2)) == start + timedelta(days=2, seconds=5)


# --- modals, field by field ------------------------------------------------------------------------------


def test_the_new_release_form_is_filled_field_by_field_with_each_answer_checked() -> None:
    launch = launch_day()
    output = session(
        "/release new",
        "submit",
        "",  # the name is required
        "Payments <2.4>",
        "next friday",
        launch,
        "25:00",
        "14:00",
        "#nowhere",
        "",  # keeps #releases
        "9",
        "hot",
        "@qa-team",
        "@lee @ravi",
        "/release status",
    )
    form = after(output, "> /release new")
    assert "┌─ modal: New release ─" in form and "1. Release name  [____]" in form
    assert "3. Launch time  [10:00]" in form and "4. Channel for the release card  [#releases]" in form
    assert "6. Other managers (optional)  [____]" in form and "[Cancel]  [Create]" in form
    assert "Type submit to fill it in field by field, or close." in form
    filled = after(output, "> submit")
    assert "Release name is required." in filled
    assert "“next friday” isn't a date; type it as YYYY-MM-DD" in filled
    assert "“25:00” isn't a time; type it as HH:MM" in filled
    assert (
        "#nowhere isn't a channel you can pick here. Channels: #releases, #announcements, #random." in filled
    )
    assert "“9” isn't one of the choices: 1. go-live, 2. hotfix." in filled
    assert "@qa-team is a user group; this field takes people only." in filled
    assert "   Launch time: 14:00" in filled  # each field's prompt, with what was typed
    assert "Created Payments <2.4>" in filled and "The modal closed." in filled
    status = after(output, "> /release status")
    assert "Managers: @maya, @lee, @ravi" in status
    assert "Traceback" not in output and "unexpected error" not in output


def test_the_apps_field_errors_show_and_the_answers_are_kept_for_the_next_try() -> None:
    output = session(
        "/release prefs",
        "click 1 Change",
        "submit",
        "",
        "07:00",  # ends before it starts: the app refuses it
        "mon, wed, 5",
        "Europe/Lisbon",
        "",
        "submit",
        "",
        "17:00",
        "",  # keeps Mon, Wed, Fri
        "-",  # clears the zone
        "1",
        "/release prefs",
    )
    modal = after(output, "> click 1 Change")
    assert "┌─ modal: Reminder preferences ─" in modal
    assert "3. Working days  [Mon, Tue, Wed, Thu, Fri]" in modal
    assert "Reminder digests arrive at the start of your working hours" in modal  # the field's hint
    assert "⚠ Working hours end: Working hours must start before they end" in output
    assert "The modal is still open with your answers" in output
    second = after(output, "maya in #releases> submit")
    assert "Enter keeps 07:00" in second and "Enter keeps Mon, Wed, Fri" in second
    assert "Enter keeps Europe/Lisbon; - clears it" in second
    assert "The modal closed." in second
    shown = after(output, "> /release prefs")
    assert "09:00–17:00, mon, wed, fri" in shown and "muted" in shown.lower()
    assert "Europe/Berlin (from Slack)" in shown


def test_submit_refuses_what_slack_would_not_send() -> None:
    output = session(
        "/release new",
        "submit Payments 2.4",  # one line fills the name; the launch date is still empty
        "close",
        "/release prefs",
        "click 1 Change",
        "submit 08:00",
    )
    assert "Fill in Launch date first: type submit to go through the fields." in output
    assert "This modal has no text box" not in output
    assert "The modal closed; nothing was submitted." in output
    assert "   Time zone:" not in output  # `submit <text>` prompts for nothing
    quick = after(output, "> submit 08:00")
    assert "⚠ Time zone: I don't know the time zone" in quick  # the first text box took it; the app refused
    assert "The modal closed." not in quick


def test_home_shows_the_persons_items_once_the_app_has_published_them() -> None:
    output = session(new_release(), "/release assign 5 @ana", "home @ana", "home")
    ana = after(output, "> home @ana").split("maya in #releases> home")[0]
    assert "App Home of @ana" in ana and "Your open items" in ana and "Database Backup" in ana
    assert "Payments 2.4" in ana
    maya = after(output, "maya in #releases> home")
    assert "App Home of @maya" in maya and "Releases you manage (1)" in maya


def test_home_buttons_can_be_clicked_by_label_or_number() -> None:
    output = session(
        new_release(),
        "/release assign 8 @ana",
        "/release assign 5 @ana",
        "as @ana",
        "click home Sign off",  # before Home was opened
        "home",
        "click home 99",
        "click home sign off",  # the first on her Home, due first: 8. Dependency Check
        "click home 2",  # now 5. Database Backup, which asks for evidence in a modal
        "submit backup-2026-12-08",
        "/release status",
    )
    assert "Your Home tab isn't open yet: type home first." in output
    assert "click home <label or number> clicks one of its buttons." in output
    assert "Your Home tab has 4 buttons; pick 1 to 4." in after(output, "> click home 99")
    first = after(output, "> click home sign off").split("> click home 2")[0]
    assert "@ana clicked [✅ Sign off] on their Home tab." in first
    assert "@ana ✅ signed off 8. Dependency Check" in first and "App Home of @ana" in first
    second = after(output, "> click home 2").split("> submit")[0]
    assert "modal: Add evidence" in second and "5. Database Backup" in second
    status = after(output, "> /release status")
    assert "✅ 8. Dependency Check" in status and "✅ 5. Database Backup" in status
