"""`release-captain demo`: a scripted release in the sandbox, narrated, from creation to the export.

The script is a list of steps, each a narration line and what people type, run through the same `Shell` as
`release-captain shell`: commands, reactions, clicks, modal fields and the clock. A step may play
off-screen when what it shows was already shown once (the demo stays short); it still really happens.
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from bot.config import Settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.shell import Shell
from bot.sandbox.workspace import Ephemeral, Message
from bot.slack.publisher import ITEM_EVENT

RELEASE = "Payments 2.4"
LAUNCH_IN_DAYS = 10  # at least; the launch is the Thursday after
THURSDAY = 3
EXPORT_LINES = 12  # how much of the exported file the demo prints
# A line is typed as is, or built when its turn comes (it may refer to a message number shown earlier).
Line = str | Callable[[Shell], str]
# Items the team signs off off-screen, with their evidence; 3 is blocked, 5 and 7 are signed off on-screen
# and 18 (user communication) is done by the upcoming-release announcement when it posts.
_OFFSTAGE_SIGN_OFFS = {
    1: "PR-881 approved by two reviewers",
    2: "load test LT-55: p99 180 ms",
    4: "QA run QA-311 green",
    6: "migration plan MP-9",
    8: "dependency audit DEP-14",
    9: "config diff CFG-201 reviewed",
    10: "access review AR-7",
    11: "docs PR-884 merged",
    12: "support training held, deck TR-3",
    13: "alerts ALR-40 live in staging",
    14: "legal sign-off LGL-12",
    15: "announcement plan in #announcements",
    16: "support rota SUP-5",
    17: "deploy window booked CHG-77",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One beat of the story: what happens, then what people type (modal fields included)."""

    narration: str
    lines: tuple[Line, ...]
    offstage: bool = False  # played without printing what the app sends


def script(today: date) -> list[Step]:
    """The story of one release, with dates relative to `today` (the release manager's calendar)."""
    launch = launch_day(today)
    return [
        Step(
            f"Maya, the release manager, starts {RELEASE} in #releases, launching on Thursday in "
            f"{(launch - today).days} days.",
            (f'/release new "{RELEASE}" {launch.isoformat()} 14:00',),
        ),
        Step(
            "Maya and Lee will decide go/no-go; Ana runs comms and approves what is announced in "
            "#announcements; Maya hears of anything overdue after 4 of her working hours.",
            (
                "/release deciders @maya @lee",
                "/release comms @ana",
                "/release announce channel #announcements",
                "/release set escalate-after 4h",
            ),
        ),
        Step(
            "She hands out items: Ana takes the database backup, Bob the rollback plan, and the "
            "@qa-team group (Ana and Bob) security testing.",
            ("/release assign 5 @ana", "/release assign 7 @bob", "/release assign 3 @qa-team"),
        ),
        Step(
            "Ana signs off the backup, with the backup's id as evidence.",
            ("as @ana", "/release done 5 backup-2026-12-08-1600"),
        ),
        Step(
            "Bob reacts ✅ on his item in the card's thread; it needs evidence, so he adds it in the form "
            "the bot offers.",
            (
                "as @bob",
                lambda shell: f"react {item_number(shell, 7)} :white_check_mark:",
                lambda shell: f"click {message_number(shell, 'needs evidence')} Add evidence",
                "submit rehearsed on staging, runbook RB-12",
            ),
        ),
        Step(
            "Security testing waits for the vendor: Ana, for @qa-team, marks it blocked and says why.",
            ("as @ana", "/release block 3 pen-test report pending from vendor"),
        ),
        Step(
            "Dana tries to sign it off anyway: only an item's owners and the release managers may.",
            ("as @dana", "/release done 3 report-17"),
        ),
        Step(
            f"Over the next days the team signs off {len(_OFFSTAGE_SIGN_OFFS)} more items "
            "(off-screen: you have seen sign-offs).",
            ("as @maya", *(f"/release done {n} {note}" for n, note in _OFFSTAGE_SIGN_OFFS.items())),
            offstage=True,
        ),
        Step(
            "A week passes. Owners get one digest per reminder slot in their own working hours; what is "
            "overdue reaches Maya as an escalation; Ana gets the upcoming-release announcement to approve.",
            (f"at {(launch - timedelta(days=3)).isoformat()} 15:00",),
        ),
        Step(
            "Ana approves the draft: it posts by itself at its time.",
            ("as @ana", lambda shell: f"click {message_number(shell, 'Draft: upcoming')} Approve"),
        ),
        Step(
            "Two days later the announcement is out, and the day before launch the readiness summary lands "
            "in #releases with its recommendation and the vote.",
            ("as @maya", f"at {(launch - timedelta(days=1)).isoformat()} 15:00"),
        ),
        Step(
            "Lee votes GO WITH RISK and says why in the form; Maya votes GO, which decides it.",
            (
                "as @lee",
                lambda shell: f"click {message_number(shell, 'Readiness —')} GO with risk",
                "submit",
                "vendor found no criticals so far; report due tomorrow morning",
                "as @maya",
                lambda shell: f"click {message_number(shell, 'Readiness —')} GO",
            ),
        ),
        Step(
            "Ana approves the go-live announcement; the vendor's report arrives and she signs security "
            "testing off.",
            (
                "as @ana",
                lambda shell: f"click {message_number(shell, 'Draft: go-live')} Approve",
                f"at {launch.isoformat()} 11:00",
                "/release done 3 pen-test report PT-17: no criticals",
            ),
        ),
        Step(
            "At two, Maya launches: the gate checks the decision and the checklist, and the go-live "
            "announcement goes out.",
            ("as @maya", f"at {launch.isoformat()} 14:00", "/release launch"),
        ),
        Step(
            "For the records, Maya exports the release (launched, so by name); the file lands in her DM.",
            (f'/release in "{RELEASE}" export md',),
        ),
    ]


def launch_day(today: date) -> date:
    """The first Thursday at least LAUNCH_IN_DAYS ahead.

    A fixed weekday keeps the story the same whatever day it runs: with the blocked item due on a Sunday,
    Maya's escalation (after 4 of her working hours) always lands on the Monday the week's step ends on.
    """
    earliest = today + timedelta(days=LAUNCH_IN_DAYS)
    return earliest + timedelta(days=(THURSDAY - earliest.weekday()) % 7)


def item_number(shell: Shell, position: int) -> str:
    """The transcript number of the card-thread reply for checklist item `position`."""
    for number, message in _shown(shell):
        metadata = message.metadata if isinstance(message, Message) else None
        payload = metadata.get("event_payload", {}) if metadata else {}
        if metadata and metadata.get("event_type") == ITEM_EVENT and payload.get("position") == position:
            return str(number)
    raise LookupError(f"no thread reply for item {position} has been shown")


def message_number(shell: Shell, marker: str) -> str:
    """The transcript number of the latest message shown whose text or blocks contain `marker`."""
    found = [
        number
        for number, message in _shown(shell)
        if marker in message.text or marker in json.dumps(message.blocks or [], ensure_ascii=False)
    ]
    if not found:
        raise LookupError(f"no message with {marker!r} has been shown")
    return str(found[-1])


def _shown(shell: Shell) -> list[tuple[int, Message | Ephemeral]]:
    """Every numbered message still there, with its number (ephemeral ones included)."""
    found = []
    number = 1
    while (entry := shell.transcript.entry(number)) is not None:
        message = shell.transcript.message(entry)
        if message is not None:
            found.append((number, message))
        number += 1
    return found


class _Prompter:
    """What people type, line by line; modal fields take their answers from the lines that follow."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.lines: deque[Line] = deque()
        self.shell: Shell | None = None

    def next_line(self, prompt: str) -> str:
        """The next line, echoed after `prompt` as if typed; EOFError when the step has no more."""
        if not self.lines or self.shell is None:
            raise EOFError
        line = self.lines.popleft()
        typed = line if isinstance(line, str) else line(self.shell)
        self.console.print(Text(prompt + typed, style="bold"))
        return typed


def run_demo(console: Console | None = None, *, settings: Settings | None = None) -> None:
    """Play the script against a fresh sandbox, narrating each step and showing what the bot sends."""
    console = console or Console(highlight=False)
    console.print(
        "[bold]Release Captain demo[/bold]: a release in the local sandbox (no Slack workspace involved). "
        "Try it yourself with [cyan]release-captain shell[/cyan]."
    )
    prompter = _Prompter(console)
    with LocalSandbox(settings) as sandbox:
        shell = Shell(sandbox, console, ask=prompter.next_line)
        prompter.shell = shell
        today = sandbox.clock.now().astimezone(shell.viewer.zone).date()
        for number, step in enumerate(script(today), start=1):
            console.print(f"\n[bold magenta]▶ {number}. {escape(step.narration)}[/bold magenta]")
            _play(step, shell, prompter)
        _show_export(shell)
    console.print("\n[dim]That's the demo. Run release-captain shell to try your own release.[/dim]")
    if sandbox.kept_log is not None:
        console.print(
            f"[yellow]The app logged errors; its log is kept in {escape(str(sandbox.kept_log))}.[/yellow]"
        )


def _play(step: Step, shell: Shell, prompter: _Prompter) -> None:
    """Type the step's lines and show what changed (nothing, for an off-screen step)."""
    prompter.lines = deque(step.lines)
    shown = shell.console
    if step.offstage:
        # Everything still happens and is numbered; only the printing goes nowhere.
        shell.console = shell.transcript.console = prompter.console = Console(file=io.StringIO())
    try:
        while prompter.lines:
            shell.handle(prompter.next_line(shell.prompt))
    finally:
        shell.console = shell.transcript.console = prompter.console = shown


def _show_export(shell: Shell) -> None:
    """The top of the exported file Release Captain sent to the person's DM, as they'd open it."""
    dm = "D" + shell.user.id[1:]
    shared = [f for m in shell.ws.messages(dm) for f in m.files or []]
    content = shell.ws.file_content(str(shared[-1].get("id"))) if shared else None
    if content is None:
        shell.console.print("[yellow]The export did not arrive in the DM; see the sandbox's log.[/yellow]")
        return
    lines = content.decode("utf-8", errors="replace").splitlines()
    shell.console.print(f"[bold]── {escape(str(shared[-1].get('name', '')))}, opened ──[/bold]")
    for line in lines[:EXPORT_LINES]:
        shell.console.print(Text("    " + line, no_wrap=True, overflow="ellipsis"))
    if len(lines) > EXPORT_LINES:
        shell.console.print(f"[dim]    … {len(lines) - EXPORT_LINES} more lines[/dim]")
