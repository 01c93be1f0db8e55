"""`release-captain demo`: the scripted release runs to the end and tells its whole story.

The demo is played once per module (it takes half a minute); each test checks some of its key moments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings, load_settings
from bot.sandbox import demo


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo's transcript as plain text, and the working directory it ran in."""
    workdir = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        patch.delenv("DATABASE_URL", raising=False)
        console = Console(file=StringIO(), record=True, width=120)
        demo.run_demo(console, settings=load_settings(_env_file=None))
        yield console.export_text(), workdir


def moment(output: str, typed: str) -> str:
    """The output from the first prompt line containing `typed` up to the next prompt line or step."""
    found = re.search(rf"^\w+ in #[\w-]+> .*{re.escape(typed)}", output, re.MULTILINE)
    assert found, typed
    start, after = found.start(), found.end()
    end = re.search(r"^(\w+ in #[\w-]+> |▶ )", output[after:], re.MULTILINE)
    return output[start : after + end.start()] if end else output[start:]


def test_every_step_plays_without_errors_and_leaves_nothing_behind(played: tuple[str, Path]) -> None:
    output, workdir = played
    steps = re.findall(r"^▶ (\d+)\. ", output, flags=re.MULTILINE)
    assert steps == [str(n) for n in range(1, len(demo.script(date.today())) + 1)]
    for trouble in ("Traceback", "unexpected error", "Slack would show", "⚠ ", "Nothing was submitted"):
        assert trouble not in output
    assert "I don't know" not in output and "Which button?" not in output and "No modal is open" not in output
    assert output.rstrip().splitlines()[-1].startswith("That's the demo.")
    assert list(workdir.iterdir()) == []  # no database left in the working directory


def test_the_card_is_posted_assigned_and_signed_off_by_command_reaction_and_form(
    played: tuple[str, Path],
) -> None:
    output, _ = played
    created = moment(output, '/release new "Payments 2.4"')
    assert "Created Payments 2.4" in created and "Release Captain in #releases" in created
    assert "0 of 18 done" in created and "18. User Communication for Release" in created
    assert "Assigned @qa-team to 3. Security Testing." in output
    assert "5. Database Backup: open → done" in moment(output, "/release done 5 backup-2026-12-08-1600")

    reacted = output[output.index("bob in #releases> react ") :]
    assert "@bob reacted ✅ on #" in reacted and "needs evidence" in reacted
    form = moment(output, "Add evidence")
    assert "┌─ modal: Add evidence ─" in form and "1. Evidence" in form and "[Sign off]" in form
    signed = moment(output, "submit rehearsed on staging, runbook RB-12")
    assert "7. Rollback Plan: open → done" in signed and "The modal closed." in signed


def test_a_blocked_item_and_a_refusal(played: tuple[str, Path]) -> None:
    output, _ = played
    blocked = moment(output, "/release block 3 pen-test report pending from vendor")
    assert "3. Security Testing: open → blocked" in blocked and "⛔ Blocked" in blocked
    assert "Only the item's owners or the release managers" in moment(output, "/release done 3 report-17")


def test_the_clock_brings_digests_an_escalation_and_the_readiness_summary(played: tuple[str, Path]) -> None:
    output, _ = played
    week = output[output.index("▶ 9.") : output.index("▶ 10.")]
    assert "DM to @ana" in week and "release item needs you" in week and "3. Security Testing" in week
    assert "DM to @maya" in week and "overdue in Payments 2.4" in week
    assert "Draft: upcoming release announcement" in week
    eve = output[output.index("▶ 11.") : output.index("▶ 12.")]
    assert "Readiness — Payments 2.4" in eve and "Recommendation:" in eve
    assert "[GO]  [GO with risk…]  [NO-GO…]" in eve


def test_the_vote_decides_and_the_announcements_post(played: tuple[str, Path]) -> None:
    output, _ = played
    vote = output[output.index("▶ 12.") : output.index("▶ 13.")]
    assert "┌─ modal: Your vote ─" in vote and "1. Why?" in vote
    assert "Why?: vendor found no criticals so far" in vote  # the field's prompt and the typed answer
    assert "That decides it: GO" in vote
    assert "Decision: Payments 2.4" in vote and "GO (with risk)" in vote and "report due tomorrow" in vote

    upcoming = output[output.index("▶ 11.") : output.index("▶ 12.")]
    assert "Release Captain in #announcements" in upcoming and "Payments 2.4 ships" in upcoming
    launch = output[output.index("▶ 14.") : output.index("▶ 15.")]
    assert "Payments 2.4 is launched" in launch and "· launched" in launch
    assert "Release Captain in #announcements" in launch and "Payments 2.4 is live." in launch


def test_the_demo_ends_with_the_export_in_the_dm(played: tuple[str, Path]) -> None:
    output, _ = played
    export = output[output.index("▶ 15.") :]
    assert "Release Captain DM to @maya" in export and "📎 payments-2-4-checklist.md" in export
    assert "── payments-2-4-checklist.md, opened ──" in export
    assert "# Payments 2.4 — release checklist" in export and "**State:** launched" in export


def test_the_launch_is_a_thursday_at_least_ten_days_ahead_whatever_the_day() -> None:
    for offset in range(7):
        today = date(2026, 11, 23) + timedelta(days=offset)  # a Monday, then each day of that week
        launch = demo.launch_day(today)
        assert launch.weekday() == 3 and 10 <= (launch - today).days <= 16


def test_cli_demo_needs_no_slack_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-bot-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-real")
    seen: list[Settings | None] = []
    monkeypatch.setattr(demo, "run_demo", lambda console=None, *, settings=None: seen.append(settings))
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert seen and seen[0] is not None
    assert seen[0].slack_bot_token is None and seen[0].slack_app_token is None
