"""`release-captain demo`: the scripted release runs to the end and tells its story."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.sandbox import demo


def test_the_demo_walks_through_a_release_and_ends_with_its_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    console = Console(record=True, width=120)
    demo.run_demo(console)
    output = console.export_text()

    steps = re.findall(r"^▶ (\d+)\. ", output, flags=re.MULTILINE)
    assert steps == [str(n) for n in range(1, len(demo.script(date.today())) + 1)]
    assert "Created Payments 2.4" in output and "0 of 18 done" in output
    assert "Assigned @qa-team to 3. Security Testing." in output
    assert "5. Database Backup: open → done" in output
    assert "bob in #releases> react " in output and "@bob reacted ✅ on #" in output
    assert "3. Security Testing: open → blocked" in output and "pen-test report pending from vendor" in output
    assert "Only the item's owners or the release managers" in output
    assert "Moved Payments 2.4" in output and "moved the launch" in output
    assert "History of 5" in output
    assert "Traceback" not in output and "unexpected error" not in output and "Slack would show" not in output

    status = output[output.rindex("maya in #releases> /release status") :]
    assert "only visible to @maya" in status and "Launches" in status and "1 blocked" in status
    assert "18. User Communication for Release" in status
    assert status.rstrip().splitlines()[-1].startswith("That's the demo.")
    assert list(tmp_path.iterdir()) == []  # no database left in the working directory


def test_cli_demo_needs_no_slack_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-bot-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-real")
    seen: list[Settings | None] = []
    monkeypatch.setattr(demo, "run_demo", lambda console=None, *, settings=None: seen.append(settings))
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert seen and seen[0] is not None
    assert seen[0].slack_bot_token is None and seen[0].slack_app_token is None


def test_the_demo_shows_reminders_escalation_and_the_readiness_summary() -> None:
    from io import StringIO

    from rich.console import Console

    from bot.config import load_settings
    from bot.sandbox.demo import run_demo

    console = Console(file=StringIO(), record=True, width=120)
    run_demo(console=console, settings=load_settings(_env_file=None))
    output = console.export_text()
    assert "DM to @ana" in output and "release item needs you" in output
    assert "DM to @maya" in output and "overdue in Payments 2.4" in output
    assert "Readiness — Payments 2.4" in output and "Recommendation:" in output
