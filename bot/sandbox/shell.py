"""`release-captain shell`: type what people would do in Slack, and see what Release Captain sends back."""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bot.config import Settings
from bot.domain.errors import UserError
from bot.domain.when import parse_when, resolve_when
from bot.sandbox.forms import (
    CLEAR,
    Field,
    FieldError,
    FormContext,
    guidance,
    initial_state,
    is_empty,
    modal_fields,
    modal_lines,
    read,
    shown,
)
from bot.sandbox.local import Delivery, LocalSandbox, SandboxError
from bot.sandbox.terminal import Entry, Transcript, Viewer, buttons, unescape
from bot.sandbox.workspace import Message, User

log = logging.getLogger(__name__)

# What `help` lists: what to type, and what it does.
HELP: tuple[tuple[str, str], ...] = (
    ("/release …", "run the app's command as the current person (/release help lists them)"),
    ("as @ana", "be someone else (people lists everyone)"),
    ("in #announcements", "run commands in another channel"),
    ("react 5 :white_check_mark:", "react to message #5 (unreact 5 :white_check_mark: takes it back)"),
    ("click 5 Sign off", "click a button of message #5, by its label or action id"),
    ("submit", "fill in the open modal field by field, then submit it (close cancels it)"),
    ("submit backup-42", "put this in the modal's first text box and submit it"),
    ("advance 2d, advance 3h", "move the clock forward (w, d, h, m; 1d12h works too)"),
    ("at 2026-12-09 09:00", "set the clock, read in your zone (tomorrow 09:00 works too)"),
    ("now", "what time it is in the sandbox"),
    ("show #releases", "a channel, thread replies indented (show dm @ana for DMs)"),
    ("home @ana", "open someone's App Home tab"),
    ("click home Sign off, click home 2", "click a button of your Home tab, by label or by number"),
    ("people", "who is in the workspace, their zones, groups and channels"),
    ("help, quit", "this list; leave the sandbox"),
)

_DURATION = re.compile(r"(\d+)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m)(?![a-z])")
_UNIT = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
# Emoji people paste instead of typing their :name:.
_EMOJI_NAMES = {
    "✅": "white_check_mark",
    "✔️": "heavy_check_mark",
    "☑️": "ballot_box_with_check",
    "⛔": "no_entry",
    "🚫": "no_entry_sign",
    "👍": "+1",
    "👀": "eyes",
}
_EMOJI_NAME = re.compile(r"[a-z0-9_+\-']+(::skin-tone-[2-6])?")


class ShellError(Exception):
    """Something typed that the sandbox can't do; the message says what to type instead."""


# Asks the person for one line (a modal's field): the prompt in, what they typed out.
Ask = Callable[[str], str]


class Shell:
    """Interprets sandbox lines against a running LocalSandbox and prints what the app sends."""

    def __init__(
        self,
        sandbox: LocalSandbox,
        console: Console,
        *,
        user: str = "maya",
        channel: str = "releases",
        ask: Ask = input,
    ) -> None:
        self.sandbox = sandbox
        self.ws = sandbox.workspace
        self.console = console
        self.ask = ask
        # A modal's answers after the app refused them, kept as Slack keeps them while it shows the errors.
        self._answers: dict[str, dict[str, dict[str, Any]]] = {}
        self.transcript = Transcript(self.ws, console)
        self.user = self._person(user)
        self.channel_id = self._channel(channel)
        self._commands: dict[str, Callable[[str], None]] = {
            "as": self._as,
            "in": self._in,
            "react": lambda rest: self._react(rest, added=True),
            "unreact": lambda rest: self._react(rest, added=False),
            "click": self._click,
            "submit": self._submit,
            "close": self._close,
            "advance": self._advance,
            "at": self._at,
            "now": self._now,
            "show": self._show,
            "home": self._home,
            "people": self._people,
            "help": self._help,
        }

    @property
    def viewer(self) -> Viewer:
        """The current person's screen."""
        return Viewer(self.ws, self.user.id, self.sandbox.clock.now())

    @property
    def prompt(self) -> str:
        """The prompt: who you are and where."""
        return f"{self.user.name} in #{self.ws.channels[self.channel_id].name}> "

    def handle(self, line: str) -> bool:
        """Carry out one line and print what changed; False when the line asks to quit."""
        line = line.strip()
        word, _, rest = line.partition(" ")
        if word.lower() in ("quit", "exit"):
            return False
        try:
            if line:
                self._dispatch(line, word.lower(), rest.strip())
        except ShellError as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/yellow]")
        except Exception as exc:
            # The sandbox is for trying things: report and carry on; the traceback goes to the log file.
            log.exception("sandbox line failed: %r", line)
            what = escape(f"{type(exc).__name__}: {exc}")
            self.console.print(
                f"[red]The sandbox hit an unexpected error ({what}); the details go to its log.[/red]"
            )
        self.transcript.print_changes(self.viewer)
        return True

    def _dispatch(self, line: str, word: str, rest: str) -> None:
        if line.startswith("/"):
            self._slash(line)
        elif word in self._commands:
            self._commands[word](rest)
        else:
            close = difflib.get_close_matches(word, [*self._commands, "quit"], n=1)
            suggestion = f"Did you mean {close[0]}? " if close else ""
            raise ShellError(
                f"I don't know “{line[:40]}”. {suggestion}Type help for what the sandbox can do, "
                "or /release help for the app's commands."
            )

    def _help(self, _rest: str) -> None:
        table = Table.grid(padding=(0, 2))
        for example, what in HELP:
            table.add_row(f"  [cyan]{escape(example)}[/cyan]", escape(what))
        self.console.print("[bold]You are a person in a pretend Slack workspace. Type:[/bold]")
        self.console.print(table)
        self.console.print(
            "Mention people as @ana, groups as @qa-team and channels as #releases: "
            "the app gets them as Slack sends them."
        )

    # --- who and where ----------------------------------------------------------------------------------

    def _person(self, name: str) -> User:
        user = self.ws.user_by_name(name.strip())
        if user is None or user.is_bot or user.deleted:
            people = ", ".join(f"@{u.name}" for u in self._humans())
            raise ShellError(f"There's nobody called {name.strip() or '…'} here. People: {people}.")
        return user

    def _channel(self, name: str) -> str:
        channel = self.ws.channel_by_name(name.strip())
        if channel is None:
            names = ", ".join(f"#{c.name}" for c in self.ws.channels.values() if not c.is_im)
            raise ShellError(f"There's no channel {name.strip() or '…'}. Channels: {names}.")
        return channel.id

    def _humans(self) -> list[User]:
        return [u for u in self.ws.users.values() if not u.is_bot and not u.deleted]

    def _as(self, rest: str) -> None:
        self.user = self._person(rest)
        self.console.print(
            f"[dim]You are now {self._describe(self.user)}; times show in {self.user.tz}.[/dim]"
        )

    def _in(self, rest: str) -> None:
        channel_id = self._channel(rest)
        channel = self.ws.channels[channel_id]
        if channel.is_archived:
            raise ShellError(f"#{channel.name} is archived: nobody can run commands there.")
        if self.user.id not in channel.members:
            raise ShellError(f"@{self.user.name} isn't in #{channel.name}.")
        self.channel_id = channel_id
        self.console.print(f"[dim]Commands now run in #{channel.name}.[/dim]")

    def _people(self, _rest: str) -> None:
        for user in self._humans():
            self.console.print(f"  {self._describe(user)}")
        for group in self.ws.usergroups.values():
            members = ", ".join(f"@{self.ws.users[m].name}" for m in group.users if m in self.ws.users)
            self.console.print(f"  @{group.handle} ({escape(group.name)}): {members}")
        channels = ", ".join(f"#{c.name}" for c in self.ws.channels.values() if not c.is_im)
        self.console.print(f"  Channels: {channels}")

    @staticmethod
    def _describe(user: User) -> str:
        return f"@{user.name} ({escape(user.real_name)}, {user.tz})"

    # --- acting ---------------------------------------------------------------------------------------

    def _slash(self, line: str) -> None:
        command, _, text = line.partition(" ")
        if command != "/release":
            raise ShellError(f"Only /release is installed in this workspace (you typed {command[:30]}).")
        modals = self.sandbox.emulator.modal_stack(self.user.id)
        delivery = self.sandbox.command(self.user.id, self.channel_id, text.strip())
        self._report(delivery, "/release")
        self.transcript.print_changes(self.viewer)
        self._show_new_modal(modals)  # bare `/release new` and `/release details` answer with a form

    def _react(self, rest: str, *, added: bool) -> None:
        verb = "react" if added else "unreact"
        number_text, _, emoji = rest.partition(" ")
        message = self._channel_message(number_text, usage=f"{verb} 5 :white_check_mark:")
        number = "#" + number_text.lstrip("#")
        name = _emoji_name(emoji)
        if name is None:
            raise ShellError(f"Which emoji? For example: {verb} {number} :white_check_mark:")
        try:
            delivery = self.sandbox.react(self.user.id, message.channel, message.ts, name, added=added)
        except ValueError:
            has = "already reacted" if added else "haven't reacted"
            raise ShellError(f"You {has} :{name}: on {number}.") from None
        done = "reacted" if added else "took back"
        self.console.print(f"[dim]@{self.user.name} {done} :{escape(name)}: on {number}.[/dim]")
        self._report(delivery, "the reaction")

    def _click(self, rest: str) -> None:
        number_text, _, wanted = rest.partition(" ")
        if number_text.casefold() == "home":
            self._click_home(wanted)
            return
        entry = self._entry(number_text, usage="click 5 Sign off")
        message = self.transcript.message(entry)
        if message is None:
            raise ShellError(f"Message #{entry.number} is gone.")
        if entry.ephemeral_for not in (None, self.user.id):
            raise ShellError(f"Only @{self.ws.users[entry.ephemeral_for].name} can see #{entry.number}.")
        found = buttons(message.blocks)
        if not found:
            raise ShellError(f"Message #{entry.number} has no buttons.")
        match = _pick(found, wanted)
        if match is None:
            labels = ", ".join(f"[{label}]" for label, _, _ in found)
            raise ShellError(f"Which button? #{entry.number} has {labels}.")
        label, action_id, value = match
        modals = self.sandbox.emulator.modal_stack(self.user.id)
        delivery = self.sandbox.click(self.user.id, entry.channel, entry.ts, action_id, value)
        self.console.print(
            f"[dim]@{self.user.name} clicked {escape('[' + label + ']')} on #{entry.number}.[/dim]"
        )
        self._report(delivery, "the click")
        changed = self.transcript.print_changes(self.viewer)
        if not self._show_new_modal(modals) and not changed and delivery.status == 200:
            self.console.print("[dim]Release Captain acknowledged the click; nothing else happened.[/dim]")

    def _click_home(self, wanted: str) -> None:
        """A button of the current person's Home tab, by label (the first one that fits) or by number."""
        view = self.sandbox.emulator.home_view(self.user.id)
        if view is None:
            raise ShellError("Your Home tab isn't open yet: type home first.")
        found = buttons(view.get("blocks"))
        if not found:
            raise ShellError("Your Home tab has no buttons.")
        if wanted.strip().isdigit():
            index = int(wanted.strip())
            if not 1 <= index <= len(found):
                raise ShellError(f"Your Home tab has {len(found)} buttons; pick 1 to {len(found)}.")
            match: tuple[str, str, str] | None = found[index - 1]
        else:
            match = _pick_first(found, wanted)
        if match is None:
            labels = ", ".join(f"{n}. [{label}]" for n, (label, _, _) in enumerate(found, 1))
            raise ShellError(f"Which button? Your Home tab has {labels}.")
        label, action_id, value = match
        modals = self.sandbox.emulator.modal_stack(self.user.id)
        delivery = self.sandbox.click_home(self.user.id, action_id, value)
        clicked = escape("[" + label + "]")
        self.console.print(f"[dim]@{self.user.name} clicked {clicked} on their Home tab.[/dim]")
        self._report(delivery, "the click")
        self.transcript.print_changes(self.viewer)
        if not self._show_new_modal(modals):
            self._print_home(self.user.id)

    def _submit(self, rest: str) -> None:
        modals = self.sandbox.emulator.modal_stack(self.user.id)
        if not modals:
            raise ShellError("No modal is open. Buttons like [Sign off] or [Block] open one.")
        view = modals[-1]
        if not view.get("submit"):
            raise ShellError("This modal only tells you something; close it when you have read it.")
        fields = modal_fields(view)
        states = self._answers.get(view["id"]) or {f.block_id: initial_state(f, self._form) for f in fields}
        if rest:
            states = self._quick_fill(fields, states, rest)
        else:
            filled = self._fill(fields, states)
            if filled is None:
                return
            states = filled
        missing = [f.label for f in fields if not f.optional and is_empty(states[f.block_id])]
        if missing:
            raise ShellError(f"Fill in {', '.join(missing)} first: type submit to go through the fields.")
        values = {f.block_id: {f.action_id: states[f.block_id]} for f in fields}
        delivery = self.sandbox.submit(self.user.id, values)
        self._report(delivery, "the modal")
        errors = delivery.body.get("errors") if isinstance(delivery.body, dict) else None
        if errors:
            self._answers[view["id"]] = states
            labels = {f.block_id: f.label for f in fields}
            for block_id, message in errors.items():
                field = escape(labels.get(block_id, block_id))
                self.console.print(f"[yellow]⚠ {field}: {escape(unescape(str(message)))}[/yellow]")
            self.console.print(
                "[dim]The modal is still open with your answers: submit again (Enter keeps an answer), "
                "or close it.[/dim]"
            )
            return
        self._answers.pop(view["id"], None)
        self.transcript.print_changes(self.viewer)
        if not self._show_new_modal(modals):
            self.console.print("[dim]The modal closed.[/dim]")

    @property
    def _form(self) -> FormContext:
        return FormContext(self.ws, self.user.id, self.channel_id, self.viewer.zone)

    def _quick_fill(
        self, fields: list[Field], states: dict[str, dict[str, Any]], typed: str
    ) -> dict[str, dict[str, Any]]:
        """`submit <text>`: the text goes in the first text box; every other field keeps what it shows."""
        box = next((f for f in fields if f.kind == "plain_text_input"), None)
        if box is None:
            raise ShellError("This modal has no text box: type submit to fill it in field by field.")
        try:
            return {**states, box.block_id: read(box, typed, states[box.block_id], self._form)}
        except FieldError as exc:
            raise ShellError(f"{box.label}: {exc}") from None

    def _fill(
        self, fields: list[Field], states: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]] | None:
        """Ask for each field in turn until what is typed fits; None when the person gives up (Ctrl-C)."""
        filled = dict(states)
        try:
            for number, field in enumerate(fields, start=1):
                filled[field.block_id] = self._ask_field(number, field, filled[field.block_id])
        except (EOFError, KeyboardInterrupt):
            self.console.print()
            self.console.print("[dim]Nothing was submitted; the modal is still open: submit, or close.[/dim]")
            return None
        return filled

    def _ask_field(self, number: int, field: Field, state: dict[str, Any]) -> dict[str, Any]:
        optional = " [dim](optional)[/dim]" if field.optional else ""
        self.console.print(f"[bold]{number}. {escape(field.label)}[/bold]{optional} — {guidance(field)}")
        value = shown(field, state, self.viewer)
        if value:
            clear = f"; {CLEAR} clears it" if field.optional else ""
            self.console.print(f"   [dim]Enter keeps[/dim] {value}[dim]{clear}[/dim]")
        elif field.optional:
            self.console.print("   [dim]Enter leaves it empty[/dim]")
        while True:
            typed = self.ask(f"   {field.label}: ")
            try:
                return read(field, typed, state, self._form)
            except FieldError as exc:
                self.console.print(f"[yellow]   {escape(str(exc))}[/yellow]")

    def _close(self, _rest: str) -> None:
        if not self.sandbox.emulator.modal_stack(self.user.id):
            raise ShellError("No modal is open.")
        self.sandbox.close_modal(self.user.id)
        self.console.print("[dim]The modal closed; nothing was submitted.[/dim]")

    def _show_new_modal(self, before: list[dict]) -> bool:
        """Print the person's top modal if it is new or changed since `before`; whether one is open."""
        stack = self.sandbox.emulator.modal_stack(self.user.id)
        if not stack:
            return False
        if stack != before:
            self.show_modal(stack[-1])
        return True

    def show_modal(self, view: dict[str, Any]) -> None:
        """A modal as the person sees it, with what to type to fill it in."""
        title = escape(unescape(str((view.get("title") or {}).get("text", ""))))
        self.console.print(f"[bold]┌─ modal: {title} ─[/bold]")
        fields = modal_fields(view)
        states = {f.block_id: initial_state(f, self._form) for f in fields}
        self.transcript.print_lines(modal_lines(view, states, self.viewer))
        if not view.get("submit"):
            self.console.print("[dim]Type close when you have read it.[/dim]")
        elif len(fields) == 1 and fields[0].kind == "plain_text_input":
            self.console.print("[dim]Type submit <text> to fill in its text box and submit, or close.[/dim]")
        else:
            self.console.print("[dim]Type submit to fill it in field by field, or close.[/dim]")

    def _home(self, rest: str) -> None:
        user = self._person(rest) if rest else self.user
        delivery = self.sandbox.open_home(user.id)
        self._report(delivery, "opening the Home tab")
        if self._print_home(user.id) and user.id == self.user.id:
            self.console.print("[dim]click home <label or number> clicks one of its buttons.[/dim]")

    def _print_home(self, user_id: str) -> bool:
        """Show the Home tab last published for someone; False when there is none."""
        name = self.ws.users[user_id].name
        view = self.sandbox.emulator.home_view(user_id)
        if view is None:
            self.console.print(f"[dim]Release Captain hasn't published a Home tab for @{name} yet.[/dim]")
            return False
        viewer = Viewer(self.ws, user_id, self.sandbox.clock.now())
        self.transcript.print_blocks(f"[bold]App Home of @{name}[/bold]", view.get("blocks") or [], viewer)
        return True

    def _report(self, delivery: Delivery, what: str) -> None:
        """Say when Slack would have shown an error instead of the app's answer."""
        if delivery.status != 200:
            self.console.print(
                f"[red]Slack would show an error: the app answered {what} with HTTP {delivery.status}; "
                "the details go to the log.[/red]"
            )
        elif not delivery.ok:
            self.console.print(
                f"[red]The app took {delivery.seconds:.1f} s to answer {what}; "
                "Slack gives up after 3 s.[/red]"
            )

    # --- looking ----------------------------------------------------------------------------------------

    def _show(self, rest: str) -> None:
        target = rest.strip()
        if target.lower().startswith("dm"):
            user = self._person(target[2:]) if target[2:].strip() else self.user
            channel_id = "D" + user.id[1:]
            if channel_id not in self.ws.channels:
                self.console.print(f"[dim]Release Captain hasn't sent @{user.name} a DM yet.[/dim]")
                return
        else:
            channel_id = self._channel(target) if target else self.channel_id
        self.console.print(f"[bold]── {self.transcript.place(channel_id)} ──[/bold]")
        if not self.transcript.print_channel(channel_id, self.viewer):
            self.console.print("[dim]    (no messages yet)[/dim]")

    def _entry(self, number_text: str, *, usage: str) -> Entry:
        number = number_text.lstrip("#")
        entry = self.transcript.entry(int(number)) if number.isdigit() else None
        if entry is None:
            raise ShellError(f"Which message? Give its number as shown, e.g. {usage}.")
        return entry

    def _channel_message(self, number_text: str, *, usage: str) -> Message:
        entry = self._entry(number_text, usage=usage)
        if entry.ephemeral_for is not None:
            raise ShellError(f"#{entry.number} is an ephemeral message; Slack has no reactions on those.")
        message = self.transcript.message(entry)
        if not isinstance(message, Message):
            raise ShellError(f"Message #{entry.number} is gone.")
        return message

    # --- time -------------------------------------------------------------------------------------------

    def _advance(self, rest: str) -> None:
        delta = parse_duration(rest)
        if delta is None:
            raise ShellError("How far? For example: advance 2d, advance 3h, advance 1d12h, advance 90m.")
        self._moved(self.sandbox.advance(delta))

    def _at(self, rest: str) -> None:
        if not rest:
            raise ShellError("At what time? For example: at 2026-12-09 09:00, or at friday 09:00.")
        try:
            at = resolve_when(parse_when(rest), now=self.sandbox.clock.now(), tz=self.user.tz)
        except UserError as exc:
            raise ShellError(f"{unescape(exc.message)} For example: at 2026-12-09 09:00.") from None
        now = self.sandbox.clock.now()
        if at < now:
            # Slack's clock never runs backwards; the app's leases and audit order assume it doesn't either.
            local = now.astimezone(self.viewer.zone)
            raise ShellError(
                f"The sandbox clock only moves forward; for you it is already {local:%a %d %b %H:%M}."
            )
        self._moved(self.sandbox.set_time(at))

    def _moved(self, ran_due_work: bool) -> None:
        self._now("")
        if not ran_due_work:
            self.console.print(
                "[dim]The clock moved. This version of Release Captain schedules nothing yet, "
                "so nothing arrives on its own.[/dim]"
            )

    def _now(self, _rest: str) -> None:
        now = self.sandbox.clock.now()
        local = now.astimezone(self.viewer.zone)
        self.console.print(
            f"[dim]It is now {local:%a %d %b %Y %H:%M} for @{self.user.name} ({self.user.tz}); "
            f"{now:%H:%M} UTC.[/dim]"
        )


def _norm(label: str) -> str:
    """A button label or what was typed for it, compared without case, brackets or a trailing "…"."""
    return label.strip().strip("[]").rstrip("….").strip().casefold()


def _pick_first(found: list[tuple[str, str, str]], wanted: str) -> tuple[str, str, str] | None:
    """Like _pick, but the first of several that fit: Home repeats [Sign off] once per item."""
    key = _norm(wanted)
    # Labels may start with an emoji ("✅ Sign off"): a label that contains the words fits.
    fits = [b for b in found if key and (b[1].casefold() == key or key in _norm(b[0]))]
    return fits[0] if fits else None


def _pick(found: list[tuple[str, str, str]], wanted: str) -> tuple[str, str, str] | None:
    """The clickable named by its label (any case, without "…") or action id; else the only one it starts."""
    key = _norm(wanted)
    exact = [b for b in found if key in (_norm(b[0]), b[1].casefold())]
    starts = [b for b in found if key and _norm(b[0]).startswith(key)]
    if exact:
        return exact[0]
    return starts[0] if len(starts) == 1 else None


def parse_duration(text: str) -> timedelta | None:
    """'2d', '3h', '1d12h', '90m', '2 days': a positive duration, or None when unreadable."""
    words = text.strip().lower()
    total, pos = timedelta(0), 0
    for match in _DURATION.finditer(words):
        if words[pos : match.start()].strip():
            return None
        total += int(match.group(1)) * _UNIT[match.group(2)[0]]
        pos = match.end()
    if pos == 0 or words[pos:].strip() or total <= timedelta(0):
        return None
    return total


def _emoji_name(text: str) -> str | None:
    """A reaction name from ':name:', 'name' or the emoji itself."""
    text = text.strip()
    if text in _EMOJI_NAMES:
        return _EMOJI_NAMES[text]
    name = text.strip(":").lower()
    return name if _EMOJI_NAME.fullmatch(name) else None


def welcome(console: Console, shell: Shell, connect_hint: str) -> None:
    """The first lines: where you are (not Slack), how to get to Slack, and who you are."""
    console.print(
        "[bold]Release Captain local sandbox[/bold]: no Slack workspace is connected; "
        "a pretend one runs here."
    )
    console.print(f"[dim]{escape(connect_hint)}[/dim]")
    console.print(
        f"You are {Shell._describe(shell.user)} in #{shell.ws.channels[shell.channel_id].name}. "
        "Type [cyan]help[/cyan] for the sandbox, [cyan]/release help[/cyan] for the app, "
        "[cyan]quit[/cyan] to leave."
    )


def run_shell(
    settings: Settings,
    *,
    input_fn: Callable[[str], str] = input,
    console: Console | None = None,
    database_url: str | None = None,
) -> bool:
    """The sandbox's prompt loop, until quit, exit, end of input or Ctrl-C; False if it couldn't start."""
    from bot.cli import CONNECT_HINT  # imported here: the CLI imports this module lazily, not the reverse

    console = console or Console(highlight=False)  # colour comes from the messages, not number-spotting
    # A scripted session (tests, pipes) echoes its lines so the output reads as a transcript.
    echo = input_fn is not input
    if not echo:
        _enable_line_editing()
    try:
        sandbox = LocalSandbox(settings, database_url=database_url).start()
    except SandboxError as exc:
        console.print(f"[red]release-captain: {escape(str(exc))}[/red]")
        return False

    def ask(prompt: str) -> str:
        line = input_fn(prompt)
        if echo:
            console.print(Text(prompt + line, style="bold"))
        return line

    with sandbox:
        shell = Shell(sandbox, console, ask=ask)
        welcome(console, shell, CONNECT_HINT)
        if database_url:
            console.print(
                f"[dim]Releases are kept in {escape(database_url)}. The pretend workspace starts empty each "
                "time, so cards from earlier sessions are gone from it and can't be edited.[/dim]"
            )
        while True:
            try:
                line = ask(shell.prompt)
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            try:
                if not shell.handle(line):
                    break
            except KeyboardInterrupt:  # Ctrl-C while the app works: leave cleanly, as at the prompt
                console.print()
                break
    kept = f" Releases stay in {database_url}." if database_url else ""
    console.print(f"[dim]Sandbox closed; its pretend workspace is gone.{escape(kept)}[/dim]")
    if sandbox.kept_log is not None:
        console.print(
            f"[yellow]The app logged errors; its log is kept in {escape(str(sandbox.kept_log))}.[/yellow]"
        )
    return True


def _enable_line_editing() -> None:
    """Arrow keys and history at the prompt, where the platform has readline."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (importing it is what turns line editing on for input())
