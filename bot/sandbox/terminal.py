"""The sandbox in a terminal: Block Kit and mrkdwn as rich text, and a transcript of numbered messages.

Names replace ids, times show in the viewer's zone, and user text never turns into rich markup.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from bot.sandbox.workspace import Ephemeral, Message, Workspace, ts_key

DIVIDER = "[dim]" + "─" * 40 + "[/dim]"

# One piece of mrkdwn: Slack's <…> markup, code, or bold/italic/strike spans (bounded like Slack's).
_TOKEN = re.compile(
    r"(?P<tag><[^<>\n]+>)"
    r"|```(?P<pre>.+?)```"
    r"|`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])",
    re.DOTALL,
)
_STYLES = {"bold": "bold", "italic": "italic", "strike": "strike"}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose screen: names come from the workspace, times show in this person's zone, "today" is `now`."""

    workspace: Workspace
    user_id: str
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        """The viewer's time zone from their Slack profile (UTC when unknown)."""
        user = self.workspace.users.get(self.user_id)
        try:
            return ZoneInfo(user.tz if user else "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


def unescape(text: str) -> str:
    """Slack's three entities back to characters, for display only (ampersand last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain(text: str) -> str:
    """plain_text as rich markup: entities decoded, rich's own markup made inert."""
    return escape(unescape(text))


def mrkdwn(text: str, viewer: Viewer) -> str:
    """Slack mrkdwn as rich markup."""
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(plain(text[pos : match.start()]))
        out.append(_token(match, viewer))
        pos = match.end()
    out.append(plain(text[pos:]))
    return "".join(out)


def _token(match: re.Match[str], viewer: Viewer) -> str:
    kind = match.lastgroup or ""
    value = match.group(kind)
    if kind == "tag":
        return tag(value[1:-1], viewer)
    if kind in ("code", "pre"):
        # Style each line on its own: messages are printed line by line.
        return "\n".join(f"[cyan]{plain(line)}[/cyan]" for line in value.split("\n"))
    return f"[{_STYLES[kind]}]{mrkdwn(value, viewer)}[/{_STYLES[kind]}]"


def tag(inner: str, viewer: Viewer) -> str:
    """One piece of Slack markup (without the angle brackets): mentions, channels, dates, links."""
    body, _, label = inner.partition("|")
    ws = viewer.workspace
    if body.startswith("@"):
        user = ws.users.get(body[1:])
        name = user.name if user else (label or body[1:])
        style = "bold black on yellow" if body[1:] == viewer.user_id else "bold cyan"
        return f"[{style}]@{escape(name)}[/{style}]"
    if body.startswith("#"):
        channel = ws.channels.get(body[1:])
        name = channel.name if channel and not channel.is_im else (label or body[1:])
        return f"[bold cyan]#{escape(name)}[/bold cyan]"
    if body.startswith("!subteam^"):
        group = ws.usergroups.get(body.removeprefix("!subteam^"))
        handle = group.handle if group else label.lstrip("@") or "group"
        return f"[bold cyan]@{escape(handle)}[/bold cyan]"
    if body.startswith("!date^"):
        return f"[green]{escape(date_text(body, label, viewer))}[/green]"
    if body in ("!channel", "!here", "!everyone"):
        return f"[bold red]@{body[1:]}[/bold red]"
    if body.startswith("!"):
        return plain(label or body)
    # A link: <url> or <url|label>.
    url = unescape(body)
    return f"[underline]{plain(label)}[/underline] [dim]({escape(url)})[/dim]" if label else escape(url)


def date_text(body: str, fallback: str, viewer: Viewer) -> str:
    """`!date^epoch^format[^link]` in the viewer's zone, as Slack shows it; the fallback when malformed."""
    parts = body.split("^")
    try:
        at = datetime.fromtimestamp(int(parts[1]), UTC).astimezone(viewer.zone)
        fmt = parts[2]
    except (IndexError, ValueError, OverflowError, OSError):
        return unescape(fallback)
    today = viewer.now.astimezone(viewer.zone).date()
    return re.sub(r"\{(\w+)\}", lambda m: _date_part(m.group(1), at, today, viewer.now) or m.group(0), fmt)


def _date_part(name: str, at: datetime, today: date, now: datetime) -> str | None:
    """One `{token}` of Slack's date formatting (24-hour clock)."""
    relative = {today: "today", today + timedelta(days=1): "tomorrow", today - timedelta(days=1): "yesterday"}
    day = relative.get(at.date())
    parts = {
        "date_num": at.strftime("%Y-%m-%d"),
        "date": f"{at:%B} {_ordinal(at.day)}, {at.year}",
        "date_short": f"{at:%b} {at.day}, {at.year}",
        "date_long": f"{at:%A}, {at:%B} {_ordinal(at.day)}, {at.year}",
        "time": at.strftime("%H:%M"),
        "time_secs": at.strftime("%H:%M:%S"),
        "ago": _ago(at, now),
        "day_divider_pretty": day.capitalize() if day else f"{at:%A}, {at:%B} {_ordinal(at.day)}",
    }
    for pretty in ("date", "date_short", "date_long"):
        parts[f"{pretty}_pretty"] = day or parts[pretty]
    return parts.get(name)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _ago(at: datetime, now: datetime) -> str:
    seconds = (at - now).total_seconds()
    size = abs(seconds)
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if size >= length:
            n = int(size // length)
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "just now"


# --- blocks ------------------------------------------------------------------------------------------------


def message_lines(text: str, blocks: list[dict[str, Any]] | None, viewer: Viewer) -> list[str]:
    """A message as rich-markup lines: its blocks, or its text when it has none."""
    if blocks:
        return [line for block in blocks for line in block_lines(block, viewer)]
    return mrkdwn(text, viewer).split("\n") if text else []


def block_lines(block: dict[str, Any], viewer: Viewer) -> list[str]:
    """One block as rich-markup lines; unknown blocks say what they are rather than vanish."""
    kind = block.get("type")
    if kind == "header":
        return [f"[bold]{text_object(block.get('text'), viewer)}[/bold]"]
    if kind == "section":
        lines = text_object(block.get("text"), viewer).split("\n") if block.get("text") else []
        fields = [text_object(f, viewer) for f in block.get("fields") or []]
        if fields:
            lines.append("    ".join(fields))
        if accessory := block.get("accessory"):
            lines.append(element(accessory, viewer))
        return lines
    if kind == "context":
        parts = [element(e, viewer) for e in block.get("elements") or []]
        return [f"[dim]{'   '.join(p for p in parts if p.strip())}[/dim]"]
    if kind == "divider":
        return [DIVIDER]
    if kind == "actions":
        return ["  ".join(element(e, viewer) for e in block.get("elements") or [])]
    if kind == "image":
        return [f"[dim]\\[image: {plain(str(block.get('alt_text', '')))}][/dim]"]
    if kind == "rich_text":
        return [_rich_text(block, viewer)]
    if kind == "input":
        label = text_object(block.get("label"), viewer)
        return [f"{label}: {element(block.get('element') or {}, viewer)}"]
    return [f"[dim]\\[{escape(str(kind))} block][/dim]"]


def text_object(obj: Any, viewer: Viewer) -> str:
    """A text object (mrkdwn or plain_text), or a bare string."""
    if isinstance(obj, str):
        return plain(obj)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return mrkdwn(text, viewer) if obj.get("type") == "mrkdwn" else plain(text)


def element(obj: dict[str, Any], viewer: Viewer) -> str:
    """An element: text shows as text, buttons as [Label], selects as [Label ▾], images by alt text."""
    kind = obj.get("type")
    if kind in ("mrkdwn", "plain_text"):
        return text_object(obj, viewer)
    if kind == "button":
        style = {"primary": "bold green", "danger": "bold red"}.get(str(obj.get("style")), "bold")
        return (
            f"[{style}]{escape('[' + unescape(str((obj.get('text') or {}).get('text', ''))) + ']')}[/{style}]"
        )
    if kind == "image":
        return f"\\[{plain(str(obj.get('alt_text', 'image')))}]"
    if kind == "overflow":
        options = " / ".join(plain(_label(o)) for o in obj.get("options") or [])
        return f"[bold]\\[⋯ {options}][/bold]"
    if kind == "plain_text_input":
        hint = (obj.get("placeholder") or {}).get("text", "")
        return f"[dim]\\[{plain(str(hint))} ____][/dim]"
    label = obj.get("placeholder") or (obj.get("initial_option") or {}).get("text") or {"text": str(kind)}
    return f"[bold]\\[{plain(str(label.get('text', '')))} ▾][/bold]"


def _rich_text(block: dict[str, Any], viewer: Viewer) -> str:
    """rich_text blocks, text and mentions only."""
    out: list[str] = []
    for section in block.get("elements") or []:
        for item in section.get("elements") or []:
            kind = item.get("type")
            if kind == "text":
                out.append(escape(str(item.get("text", ""))))
            elif kind == "user":
                out.append(tag(f"@{item.get('user_id')}", viewer))
            elif kind == "channel":
                out.append(tag(f"#{item.get('channel_id')}", viewer))
            elif kind == "link":
                out.append(escape(str(item.get("text") or item.get("url", ""))))
            elif kind == "emoji":
                out.append(f":{item.get('name')}:")
        out.append("\n")
    return "".join(out).rstrip("\n")


def buttons(blocks: list[dict[str, Any]] | None) -> list[tuple[str, str, str]]:
    """What a message lets you click, as (label, action_id, value): buttons, and each overflow menu option."""
    found: list[tuple[str, str, str]] = []
    for block in blocks or []:
        for el in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if not isinstance(el, dict) or not el.get("action_id"):
                continue
            if el.get("type") == "button":
                found.append((_label(el), str(el["action_id"]), str(el.get("value", ""))))
            elif el.get("type") == "overflow":
                found += [
                    (_label(o), str(el["action_id"]), str(o.get("value", "")))
                    for o in el.get("options") or []
                ]
    return found


def _label(obj: dict[str, Any]) -> str:
    return unescape(str((obj.get("text") or {}).get("text", "")))


# --- the transcript -----------------------------------------------------------------------------------------

Key = tuple[str, ...]  # ("m", channel, ts) for channel messages, ("e", channel, user, ts) for ephemeral ones
BOT_NAME = "Release Captain"
COMPACT_AFTER = 3  # new replies in one thread at once beyond this are listed one line each


@dataclass(frozen=True, slots=True)
class Entry:
    """A numbered message: a channel message, or an ephemeral one only `ephemeral_for` sees."""

    number: int
    channel: str
    ts: str
    ephemeral_for: str | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a message looked like when it was read (read under the workspace lock, rendered outside)."""

    key: Key
    kind: str  # "new", "edited" or "deleted"
    order: tuple[int, int]
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    ephemeral: bool = False
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    files: tuple[tuple[str, int], ...] = ()  # (name, size in bytes) of files shared with the message

    @property
    def is_reply(self) -> bool:
        """A reply in a thread (not the thread's parent)."""
        return self.thread_ts is not None and self.thread_ts != self.key[-1]


class Transcript:
    """Numbers messages the first time they are shown, and prints what changed since the last look."""

    def __init__(self, workspace: Workspace, console: Console) -> None:
        self.ws = workspace
        self.console = console
        self._numbers: dict[Key, int] = {}
        self._entries: list[Entry] = []
        self._versions: dict[Key, object] = {}

    def entry(self, number: int) -> Entry | None:
        """The message shown as #number."""
        return self._entries[number - 1] if 0 < number <= len(self._entries) else None

    def number(self, key: Key) -> int:
        """The message's number, given on first use."""
        if key not in self._numbers:
            self._numbers[key] = len(self._entries) + 1
            user = key[2] if key[0] == "e" else None
            self._entries.append(Entry(self._numbers[key], key[1], key[-1], user))
        return self._numbers[key]

    def message(self, entry: Entry) -> Message | Ephemeral | None:
        """The live message behind an entry (None once deleted)."""
        if entry.ephemeral_for is None:
            return self.ws.find_message(entry.channel, entry.ts)
        return next(
            (e for e in self.ws.ephemerals(entry.channel, entry.ephemeral_for) if e.ts == entry.ts), None
        )

    # --- what changed ---------------------------------------------------------------------------------

    def print_changes(self, viewer: Viewer) -> int:
        """Print every message posted, edited or deleted since the last call (ephemerals: the viewer's)."""
        changes = sorted(self._changes(viewer.user_id), key=lambda s: s.order)
        # Like Slack's "18 replies" under a message: many replies posted or edited at once get one line each.
        bursts = Counter((s.kind, s.thread_ts) for s in changes if s.is_reply and s.kind != "deleted")
        compacted: set[str] = set()
        for snap in changes:
            if bursts[(snap.kind, snap.thread_ts)] > COMPACT_AFTER:
                first = next(iter(message_lines(snap.text, snap.blocks, viewer)), "")
                self._line(f"{self._heading(snap)}  {first}", indent=0)
                compacted.add(self.place(snap.channel).removeprefix("in ").replace("DM to", "dm"))
            else:
                self._print(snap, viewer, self._heading(snap), indent=0)
        for place in sorted(compacted):
            self._line(f"[dim](show {place} shows the replies in full)[/dim]", indent=4)
        return len(changes)

    def _changes(self, viewer_id: str) -> list[_Snapshot]:
        found: list[_Snapshot] = []
        with self.ws.lock:
            for channel_id in list(self.ws.channels):
                for m in self.ws.messages(channel_id, include_deleted=True):
                    key: Key = ("m", channel_id, m.ts)
                    version = (len(m.edits), m.deleted)
                    kind = self._seen(key, version, deleted=m.deleted)
                    if kind:
                        order = m.ts if kind == "new" else (m.edits[-1]["edited_ts"] if m.edits else m.ts)
                        found.append(_snapshot(m, key, kind, order))
            for e in self.ws.ephemeral_messages:
                key = ("e", e.channel, e.user, e.ts)
                version = (e.text, repr(e.blocks), e.deleted)
                if e.user != viewer_id:
                    # Someone else's screen: never shown, not even after switching to them later.
                    self._versions[key] = version
                    continue
                kind = self._seen(key, version, deleted=e.deleted)
                if kind:
                    order = ts_key(e.ts)
                    found.append(
                        _Snapshot(key, kind, order, e.channel, e.user, e.text, e.blocks, e.thread_ts, True)
                    )
        return found

    def _seen(self, key: Key, version: object, *, deleted: bool) -> str | None:
        """Record the version read; say whether it is new, edited or deleted since last time."""
        before = self._versions.get(key)
        if before == version:
            return None
        self._versions[key] = version
        if before is None:
            return None if deleted else "new"
        return "deleted" if deleted else "edited"

    # --- whole channels ---------------------------------------------------------------------------------

    def print_channel(self, channel_id: str, viewer: Viewer) -> int:
        """Every message of a channel, thread replies indented under their parent; returns how many."""
        with self.ws.lock:
            messages = self.ws.messages(channel_id)
            for m in messages:
                self._versions[("m", channel_id, m.ts)] = (len(m.edits), m.deleted)
            snaps = [_snapshot(m, ("m", channel_id, m.ts), "new", m.ts) for m in messages]
        replies: dict[str, list[_Snapshot]] = {}
        for snap in snaps:
            if snap.is_reply:
                replies.setdefault(snap.thread_ts, []).append(snap)
        for snap in snaps:
            if snap.is_reply:
                continue
            self._print(snap, viewer, self._author_heading(snap), indent=0)
            for reply in replies.get(snap.key[-1], []):
                self._print(reply, viewer, self._author_heading(reply), indent=4)
        return len(snaps)

    def print_blocks(self, title: str, blocks: list[dict[str, Any]], viewer: Viewer) -> None:
        """A view (the Home tab, a modal) under a title."""
        self.console.print(Text.from_markup(title))
        for line in message_lines("", blocks, viewer):
            self._line(line, indent=4)

    def print_lines(self, lines: list[str], *, indent: int = 4) -> None:
        """Rich-markup lines laid out by the caller (a modal with its fields), indented."""
        for line in lines:
            self._line(line, indent=indent)

    # --- printing ---------------------------------------------------------------------------------------

    def _print(self, snap: _Snapshot, viewer: Viewer, heading: str, *, indent: int) -> None:
        self._line(heading, indent=indent)
        if snap.kind == "deleted":
            return
        lines = message_lines(snap.text, snap.blocks, viewer)
        lines += [file_line(name, size) for name, size in snap.files]
        if snap.reactions:
            reactions = "  ".join(_reaction(name, users, self.ws) for name, users in snap.reactions)
            lines.append(f"[dim]{reactions}[/dim]")
        for line in lines:
            self._line(line, indent=indent + 4)

    def _line(self, markup: str, *, indent: int) -> None:
        """One line of rich markup; wrapped lines keep the indent."""
        try:
            text = Text.from_markup(markup)
        except MarkupError:  # a renderer slip must not cost the person the message: show it unstyled
            text = Text(markup)
        self.console.print(Padding(text, (0, 0, 0, indent), expand=False))

    def _heading(self, snap: _Snapshot) -> str:
        """What a change is: a new message (numbered), an edit or a deletion of a numbered one."""
        number = self.number(snap.key)
        where = self.place(snap.channel)
        if snap.kind == "edited":
            return f"[bold yellow]✎ edited #{number}[/bold yellow] [dim]{where}[/dim]"
        if snap.kind == "deleted":
            return f"[bold red]🗑 deleted #{number}[/bold red] [dim]{where}[/dim]"
        if snap.ephemeral:
            who = escape(self._name(snap.user))
            if snap.thread_ts:
                where = f"↳ in the thread of #{self.number(('m', snap.channel, snap.thread_ts))} {where}"
            return f"[bold]#{number}[/bold] [magenta]only visible to @{who}[/magenta] [dim]{where}[/dim]"
        return self._author_heading(snap)

    def _author_heading(self, snap: _Snapshot) -> str:
        number = self.number(snap.key)
        author = escape(BOT_NAME if snap.user == self.ws.bot_user_id else "@" + self._name(snap.user))
        where = self.place(snap.channel)
        if snap.is_reply and snap.thread_ts:
            parent = self.number(("m", snap.channel, snap.thread_ts))
            return f"[bold]#{number}[/bold] {author} [dim]↳ reply to #{parent} {where}[/dim]"
        return f"[bold]#{number}[/bold] {author} [dim]{where}[/dim]"

    def place(self, channel_id: str) -> str:
        """'in #releases', or 'DM to @ana' for the bot's direct messages."""
        channel = self.ws.channels.get(channel_id)
        if channel is None:
            return f"in {escape(channel_id)}"
        if channel.is_im:
            other = next((m for m in sorted(channel.members) if m != self.ws.bot_user_id), channel.name)
            return f"DM to @{escape(self._name(other))}"
        return f"in #{escape(channel.name)}"

    def _name(self, user_id: str) -> str:
        user = self.ws.users.get(user_id)
        return user.name if user else user_id


def _snapshot(m: Message, key: Key, kind: str, order_ts: str) -> _Snapshot:
    """Copy what rendering needs while the workspace lock is held."""
    reactions = tuple((name, tuple(users)) for name, users in m.reactions.items() if users)
    files = tuple((str(f.get("name", "")), int(f.get("size", 0))) for f in m.files or [])
    return _Snapshot(
        key,
        kind,
        ts_key(order_ts),
        m.channel,
        m.user,
        m.text,
        m.blocks,
        m.thread_ts,
        reactions=reactions,
        files=files,
    )


def file_line(name: str, size: int) -> str:
    """A shared file as Slack lists it under a message: '📎 payments-2-4-checklist.csv (3.1 KB)'."""
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"📎 {escape(name)} [dim]({size / scale:.1f} {unit})[/dim]"
    return f"📎 {escape(name)} [dim]({size} B)[/dim]"


def _reaction(name: str, users: tuple[str, ...], ws: Workspace) -> str:
    names = ", ".join("@" + (ws.users[u].name if u in ws.users else u) for u in users)
    return f":{escape(name)}: {len(users)} ({escape(names)})"
