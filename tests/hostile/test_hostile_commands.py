"""The nasty-string corpus through every `/release` subcommand's argument positions, over real HTTP.

Each string stands where a person's text goes (item, note, name, time, field value, mention…); the checks
are the probe's: answered in time, never an internal error, nothing live from the input in anything the bot
sent, and nothing stored changed by a refusal. The matrix is sampled deterministically (see
`corpus.sample`); afterwards the views that render stored text (status, log, preview, export…) run once more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.domain.commands import SUBCOMMANDS
from bot.sandbox.local import LocalSandbox
from tests.hostile.corpus import EVIL_GROUP, sample
from tests.hostile.probe import Probe

MAYA, ANA, BOB = "UMAYA0001", "UANA00001", "UBOB00001"
RELEASES = "CRELEASES"
BERLIN = ZoneInfo("Europe/Berlin")
# Bob manages nothing: the commands that would end the release are tried as him, so it stays open.
AS_BOB = ("cancel", "launch", "complete")
# Owners sign off; everything else is a manager's.
AS_ANA = ("done", "undo", "start", "snooze")


def templates(day: str) -> list[str]:
    """Every argument position of every subcommand, `{x}` where the hostile text goes; creators last."""
    return [
        "{x}",
        "help {x}",
        "list {x}",
        "mine {x}",
        "status {x}",
        "assign {x} <@UANA00001|ana>",
        "assign 8 {x}",
        "unassign 8 {x}",
        "unassign {x} <@UANA00001|ana>",
        "start {x}",
        "start 9 {x}",
        "done {x}",
        "done 8 {x}",
        "undo 8 {x}",
        "na {x}",
        "na 10 {x}",
        "block {x}",
        "block 3 {x}",
        "waive 12 {x}",
        "waive {x}",
        "reschedule {x}",
        'reschedule "{x}" ' + day + " 15:00",
        "cancel {x}",
        "log {x}",
        "summary {x}",
        "snooze {x}",
        "snooze 8 {x}",
        "set summary {x}",
        "set final-call {x}",
        "set heads-up {x}",
        "set overdue {x}",
        "set escalate-after {x}",
        "set decision {x}",
        "set {x} 24h",
        "set changes {x}",
        "set downtime {x}",
        "set impact {x}",
        "set support {x}",
        "set notes {x}",
        "details {x}",
        "deciders {x}",
        "comms {x}",
        "vote {x}",
        "vote risk {x}",
        "vote no-go {x}",
        "launch {x}",
        "launch override {x}",
        "rollback {x}",
        "complete {x}",
        "announce {x}",
        "announce add {x} 48h",
        "announce add upcoming {x}",
        "announce remove {x}",
        "announce channel {x}",
        "announce preview {x}",
        "announce lead {x}",
        "announce auto {x}",
        "export {x}",
        "prefs {x}",
        "prefs hours {x}",
        "prefs days {x}",
        "prefs tz {x}",
        'in "{x}" status',
        'in "Payments 2.4" {x}',
        "train {x}",
        'train "{x}" every 2 weeks on thu 14:00',
        'train "Weekly" {x}',
        'train skip "{x}"',
        'train stop "{x}"',
        'new "Hostile" ' + day + " 14:00 {x}",
        'new "Hostile" ' + day + " 14:00 template {x}",
        'new "Hostile" ' + day + ' 14:00 like "{x}"',
        'new "Hostile" {x}',
        'new "{x}" ' + day + " 14:00",
    ]


# Fixed commands that show stored text back; run after the hostile ones have stored what they could.
RENDERERS = ["status", "summary", "log", "log 3", "log 8", "list", "mine", "announce plan", "export md"]
RENDERERS += ["announce preview upcoming", "announce preview go-live", "train list", "deciders", "comms"]


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Iterator[LocalSandbox]:
    monkeypatch.chdir(tmp_path)
    with LocalSandbox(load_settings(_env_file=None)) as box:
        yield box


def test_the_matrix_covers_every_subcommand() -> None:
    """A subcommand added later fails this until its argument positions join the matrix."""
    used = {t.split()[0] for t in templates("2030-01-01") if t != "{x}"}
    assert used == set(SUBCOMMANDS)


def _who(template: str) -> str:
    word = template.split()[0]
    return BOB if word in AS_BOB else ANA if word in AS_ANA else MAYA


def test_every_command_position_survives_the_corpus(sandbox: LocalSandbox) -> None:
    day = (sandbox.clock.now().astimezone(BERLIN) + timedelta(days=20)).date()
    launch = datetime(day.year, day.month, day.day, 14, tzinfo=BERLIN)
    for setup in [
        f'new "Payments 2.4" {launch:%Y-%m-%d} 14:00',
        "comms @ana",
        "deciders @maya @lee",
        "announce channel #announcements",
        "assign 8 @ana",
        "assign 9 @ana",
    ]:
        assert not str(sandbox.command(MAYA, RELEASES, setup).body.get("text", "")).startswith("⚠️"), setup
    probe = Probe(sandbox)
    for template, name, text in sample(templates(f"{day:%Y-%m-%d}"), rotating=1):
        probe.command(_who(template), RELEASES, text, f"{template} ← {name}")
    for text in RENDERERS:
        probe.command(MAYA, RELEASES, text, text)
    probe.command(MAYA, "CANNOUNCE", "status", "status elsewhere")
    # A group that doesn't exist is named, not mentioned, even to the person who sent its id.
    unknown = probe.command(MAYA, RELEASES, f"assign 8 <!subteam^{EVIL_GROUP}|@ops>", "unknown group")
    assert f"`{EVIL_GROUP}`" in unknown["text"] and "<!subteam" not in unknown["text"]
    assert sandbox.log_path.read_text(encoding="utf-8").count(" ERROR ") == 0
    print(f"\n{probe.tally.tried} hostile commands, slowest {probe.tally.slowest:.3f}s")
    assert probe.tally.refused > probe.tally.tried // 3  # most of the corpus is refused, as it should be
