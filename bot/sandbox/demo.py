"""`release-captain demo`: a scripted release in the sandbox, narrated, from creation to status.

The script is a list of steps, each a narration line and what people type, run through the same `Shell` as
`release-captain shell`. Later features (reminders, the vote, announcements, export) are new steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from bot.config import Settings
from bot.sandbox.local import LocalSandbox
from bot.sandbox.shell import Shell
from bot.sandbox.workspace import Message
from bot.slack.publisher import ITEM_EVENT

RELEASE = "Payments 2.4"
LAUNCH_IN_DAYS = 10
# A line is typed as is, or built when its turn comes (it may refer to a message number shown earlier).
Line = str | Callable[[Shell], str]


@dataclass(frozen=True, slots=True)
class Step:
    """One beat of the story: what happens, then what people type."""

    narration: str
    lines: tuple[Line, ...]


def script(today: date) -> list[Step]:
    """The story of one release, with dates relative to `today` (the release manager's calendar)."""
    launch = today + timedelta(days=LAUNCH_IN_DAYS)
    moved = launch + timedelta(days=2)
    return [
        Step(
            f"Maya, the release manager, starts {RELEASE} in #releases, launching in {LAUNCH_IN_DAYS} days.",
            (f'/release new "{RELEASE}" {launch.isoformat()} 14:00',),
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
            "Bob reacts ✅ on his item in the card's thread; it needs evidence, so he signs off by command.",
            (
                "as @bob",
                lambda shell: f"react {item_number(shell, 7)} :white_check_mark:",
                "/release done 7 rehearsed on staging, runbook RB-12",
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
            "The vendor is late, so Maya moves the launch two days; open items' due dates move with it.",
            ("as @maya", f"/release reschedule {moved.isoformat()} 14:00"),
        ),
        Step("Who did what to the backup item:", ("/release log 5",)),
        Step(
            "A week passes. Owners get one digest per reminder slot in their own working hours; "
            "what is overdue reaches Maya as an escalation.",
            ("advance 7d",),
        ),
        Step(
            "The day before launch, the readiness summary lands in #releases with its recommendation.",
            ("advance 4d",),
        ),
        # Later versions: the go/no-go vote on the summary, announcement drafts, the launch and the export.
        Step("Where the release stands:", ("/release status",)),
    ]


def item_number(shell: Shell, position: int) -> str:
    """The transcript number of the card-thread reply for checklist item `position`."""
    number = 1
    while (entry := shell.transcript.entry(number)) is not None:
        message = shell.transcript.message(entry)
        metadata = message.metadata if isinstance(message, Message) else None
        payload = metadata.get("event_payload", {}) if metadata else {}
        if metadata and metadata.get("event_type") == ITEM_EVENT and payload.get("position") == position:
            return str(number)
        number += 1
    raise LookupError(f"no thread reply for item {position} has been shown")


def run_demo(console: Console | None = None, *, settings: Settings | None = None) -> None:
    """Play the script against a fresh sandbox, narrating each step and showing what the bot sends."""
    console = console or Console(highlight=False)
    console.print(
        "[bold]Release Captain demo[/bold]: a release in the local sandbox (no Slack workspace involved). "
        "Try it yourself with [cyan]release-captain shell[/cyan]."
    )
    with LocalSandbox(settings) as sandbox:
        shell = Shell(sandbox, console)
        today = sandbox.clock.now().astimezone(shell.viewer.zone).date()
        for number, step in enumerate(script(today), start=1):
            console.print(f"\n[bold magenta]▶ {number}. {escape(step.narration)}[/bold magenta]")
            for line in step.lines:
                typed = line if isinstance(line, str) else line(shell)
                console.print(Text(shell.prompt + typed, style="bold"))
                shell.handle(typed)
    console.print("[dim]That's the demo. Run release-captain shell to try your own release.[/dim]")
    if sandbox.kept_log is not None:
        console.print(
            f"[yellow]The app logged errors; its log is kept in {escape(str(sandbox.kept_log))}.[/yellow]"
        )
