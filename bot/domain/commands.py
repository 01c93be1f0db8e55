"""Parsing `/release …` text into typed commands.

Slack sends the text with ``should_escape: true``: mentions arrive as ``<@U123|name>``, user
groups as ``<!subteam^S123|@name>``, channels as ``<#C123|name>``, and what people type has its
``&``, ``<`` and ``>`` escaped as entities. So raw ``<…>`` is always Slack's own markup (and is
read as one token), while names, items and notes are decoded back to what was typed.

Every error is a UserError whose message and hint are ready for mrkdwn: user text is escaped.
"""

from __future__ import annotations

import difflib
import enum
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from bot.domain.errors import InvalidInput, UsageError, UserError
from bot.domain.model import Owner, OwnerKind
from bot.domain.text import clean_name, clean_note, decode_slack_entities, escape_mrkdwn, excerpt
from bot.domain.trains import parse_lead
from bot.domain.when import WhenSpec, parse_when

MAX_COMMAND_LENGTH = 4000
MAX_ITEM_REF = 200
MAX_TEMPLATE_NAME = 100


class SubcommandInfo(NamedTuple):
    """What help and the README say about a subcommand; plain text, escape before sending."""

    usage: str
    description: str


SUBCOMMANDS: Mapping[str, SubcommandInfo] = MappingProxyType(
    {
        "help": SubcommandInfo("/release help [command]", "Show all commands, or how to use one."),
        "new": SubcommandInfo(
            '/release new "<name>" <when> [#channel] [template <name>] [like "<earlier release>"]',
            "Start a release with a go-live checklist (like: copy owners and settings of an earlier one).",
        ),
        "list": SubcommandInfo("/release list", "List the active releases in this channel."),
        "mine": SubcommandInfo("/release mine", "Show your open items across every release."),
        "status": SubcommandInfo("/release status [release]", "Show a release's checklist and readiness."),
        "assign": SubcommandInfo(
            "/release assign <item> <@person or @group>…", "Make people or user groups owners of an item."
        ),
        "unassign": SubcommandInfo(
            "/release unassign <item> <@person or @group>…", "Remove owners from an item."
        ),
        "start": SubcommandInfo("/release start <item number or title> [note]", "Mark an item in progress."),
        "done": SubcommandInfo("/release done <item number or title> [note]", "Sign off an item."),
        "undo": SubcommandInfo(
            "/release undo <item number or title> [note]", "Reopen an item that was signed off or skipped."
        ),
        "na": SubcommandInfo(
            "/release na <item number or title> [note]", "Mark an item not applicable to this release."
        ),
        "block": SubcommandInfo(
            "/release block <item number or title> <reason>", "Flag an item as blocked, and say why."
        ),
        "waive": SubcommandInfo(
            "/release waive <item number or title> <reason>", "Skip an item knowingly, and say why."
        ),
        "reschedule": SubcommandInfo('/release reschedule ["release"] <when>', "Move the launch time."),
        "cancel": SubcommandInfo("/release cancel [release]", "Cancel a release."),
        "log": SubcommandInfo("/release log [item]", "Show who changed what, and when."),
        "summary": SubcommandInfo(
            "/release summary [release]", "Show the readiness summary and recommendation."
        ),
        "snooze": SubcommandInfo(
            "/release snooze <item> [1d|due|launch]",
            "Pause your reminders about an item: a day, until due or launch.",
        ),
        "set": SubcommandInfo(
            "/release set summary 72h,24h,2h | final-call 2h|off | heads-up 1 | overdue daily|once"
            " | escalate-after 24h | decision unanimous|quorum 2"
            " | changes|downtime|impact|support|notes <text>",
            "This release's timing, decision rule and announcement details (managers).",
        ),
        "details": SubcommandInfo("/release details", "Fill in the announcement details in a form."),
        "deciders": SubcommandInfo(
            "/release deciders [@person…]", "Show or set who votes on GO / NO-GO (managers set)."
        ),
        "comms": SubcommandInfo(
            "/release comms [@person…]", "Show or set who approves announcements (managers set)."
        ),
        "vote": SubcommandInfo(
            "/release vote go | risk <reason> | no-go <reason>", "Vote on the go/no-go decision (deciders)."
        ),
        "launch": SubcommandInfo(
            "/release launch [override <reason>]",
            "Mark the release launched: it must be GO with nothing open (managers may override).",
        ),
        "rollback": SubcommandInfo("/release rollback <reason>", "Record that the launch was rolled back."),
        "complete": SubcommandInfo("/release complete", "Close a launched release as completed."),
        "announce": SubcommandInfo(
            "/release announce plan | approve | add <kind> <when> [#channel] | remove <kind>"
            " | channel #channel | preview <kind> | lead 24h | auto on|off",
            "See and change the announcement plan (managers change it).",
        ),
        "export": SubcommandInfo(
            "/release export [csv|md]", "Get the checklist with owners, states and the audit trail as a file."
        ),
        "train": SubcommandInfo(
            '/release train "<name>" every 2 weeks on thu 14:00 [template <name>] [lead 3 days] | list'
            ' | skip "<name>" | stop "<name>"',
            "Create releases on a recurring schedule.",
        ),
        "prefs": SubcommandInfo(
            "/release prefs [hours 09:00-18:00 | days mon-fri | tz <zone>|auto | mute | unmute]",
            "Show or set when reminders may reach you.",
        ),
        "in": SubcommandInfo(
            '/release in "<release>" <command> …',
            'Pick the release when a channel has several, e.g. /release in "Payments 2.4" done 5.',
        ),
    }
)

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "create": "new",
        "ls": "list",
        "show": "status",
        "ok": "done",
        "signoff": "done",
        "sign-off": "done",
        "n/a": "na",
        "skip": "na",
        "move": "reschedule",
        "audit": "log",
        "history": "log",
        "my": "mine",
        "deploy": "launch",
        "ship": "launch",
        "roll-back": "rollback",
        "revert": "rollback",
        "done-release": "complete",
        "finish": "complete",
        "announcements": "announce",
        "announcement": "announce",
        "decider": "deciders",
    }
)


class TransitionAction(enum.StrEnum):
    """The item moves that need nothing but the item (and perhaps a note)."""

    START = "start"
    DONE = "done"
    UNDO = "undo"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class Help:
    """Show all commands (topic None) or one subcommand's usage (canonical name)."""

    topic: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class NewRelease:
    """Start a release."""

    name: str
    when: WhenSpec
    channel_id: str | None = None
    template: str | None = None
    release: str | None = None  # always None: `in` makes no sense for a release not yet made
    like: str | None = None  # an earlier release to copy owners and settings from


@dataclass(frozen=True, slots=True)
class ListReleases:
    """List the channel's active releases."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """Show a release (None: the channel's only active one)."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Assign:
    """Add owners to an item."""

    item: str
    owners: tuple[Owner, ...]
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Unassign:
    """Remove owners from an item."""

    item: str
    owners: tuple[Owner, ...]
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """start / done / undo / na on an item, with an optional note."""

    action: TransitionAction
    item: str
    note: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """Mark an item blocked, with the reason."""

    item: str
    reason: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Waive:
    """Waive an item, with the reason."""

    item: str
    reason: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Reschedule:
    """Move a release's launch time."""

    when: WhenSpec
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a release."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Log:
    """Show the audit trail of a release, or of one item."""

    item: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Show the readiness summary of a release now."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Prefs:
    """Show or change one's reminder preferences: `setting` None shows them."""

    setting: str | None = None
    value: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Snooze:
    """Stop reminders about one item for a while: `span` is 1d, due or launch."""

    item: str
    span: str = "1d"
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Set:
    """Change a setting of a release, e.g. when its readiness summaries are posted."""

    field: str
    value: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Mine:
    """Show the requester's open items across every release."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Details:
    """Open the form for a release's announcement details."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Roles:
    """Show (no users) or set the deciders or comms owners of a release."""

    role: str  # decider | comms
    users: tuple[str, ...] = ()
    release: str | None = None


@dataclass(frozen=True, slots=True)
class CastVote:
    """A decider's vote: go, go_with_risk or no_go, with the reason the last two need."""

    choice: str
    reason: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Launch:
    """Mark a release launched; `override` is the manager's reason to launch past the gate."""

    override: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """Record that a launched release was rolled back, and why."""

    reason: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    """Close a launched release."""

    release: str | None = None


@dataclass(frozen=True, slots=True)
class Announce:
    """Show or change the announcement plan, or preview one announcement."""

    action: str  # plan | approve | add | remove | channel | preview | lead | auto
    kind: str | None = None
    value: str | None = None
    channel_id: str | None = None
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Export:
    """The checklist and audit trail as a file: csv or md."""

    fmt: str = "csv"
    release: str | None = None


@dataclass(frozen=True, slots=True)
class TrainCommand:
    """Create, list, skip the next release of, or stop a release train."""

    action: str  # create | list | skip | stop
    name: str | None = None
    rule: str | None = None
    template: str | None = None
    release: str | None = None
    lead_days: int | None = None  # None: the default lead


Command = (
    Help
    | Mine
    | Details
    | Roles
    | CastVote
    | Launch
    | Rollback
    | Complete
    | Announce
    | Export
    | TrainCommand
    | Set
    | Summary
    | Prefs
    | Snooze
    | NewRelease
    | ListReleases
    | Status
    | Assign
    | Unassign
    | Transition
    | Block
    | Waive
    | Reschedule
    | Cancel
    | Log
)


def usage(name: str) -> str:
    """'Usage: …' for a subcommand or alias, escaped for mrkdwn; KeyError if there is no such name."""
    return f"Usage: {escape_mrkdwn(SUBCOMMANDS[ALIASES.get(name, name)].usage)}"


def parse_command(text: str) -> Command:
    """Parse the text after /release; raises only UserError subclasses, whatever the text."""
    if len(text) > MAX_COMMAND_LENGTH:
        raise InvalidInput(
            f"That command is {len(text)} characters long; keep it under {MAX_COMMAND_LENGTH}.",
            hint="Try /release help to see the commands.",
        )
    first = _next_token(text, 0)
    if first is None:
        return Help(None)  # a bare /release: the listener answers with the command list
    release: str | None = None
    if not first.quoted and first.text.casefold() == "in":
        release, first = _release_selector(text, first.end)
        if first is None:
            return Status(release)  # "/release in X" alone: show that release
    name = _subcommand(first, after_in=release is not None)
    try:
        return _PARSERS[name](text, first.end, release)
    except UserError as error:
        if error.hint is None:
            error.hint = usage(name)
        raise


# --- tokens -------------------------------------------------------------------------------------

_QUOTES = frozenset('"“”')  # straight quotes and the curly ones Slack clients love to substitute


@dataclass(frozen=True, slots=True)
class _Token:
    """One shell-like word: quotes removed, Slack's entities still encoded."""

    raw: str
    quoted: bool
    end: int  # index in the command text just past this token

    @property
    def text(self) -> str:
        """The word as the person typed it."""
        return decode_slack_entities(self.raw)


def _next_token(text: str, pos: int) -> _Token | None:
    """The next word from pos: quoted runs keep their spaces, and <…> markup stays whole."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return None
    parts: list[str] = []
    quoted = False
    while pos < n and not text[pos].isspace():
        c = text[pos]
        if c in _QUOTES:
            close = next((i for i in range(pos + 1, n) if text[i] in _QUOTES), -1)
            if close < 0:
                raise UsageError(
                    f"Unbalanced quote in {excerpt(text[pos:], 40)} — add the closing quote, or remove "
                    "the opening one."
                )
            parts.append(text[pos + 1 : close])
            quoted, pos = True, close + 1
        elif c == "<" and (close := text.find(">", pos)) > 0:
            parts.append(text[pos : close + 1])
            pos = close + 1
        else:
            parts.append(c)
            pos += 1
    return _Token("".join(parts), quoted, pos)


def _tokens(text: str, pos: int) -> list[_Token]:
    """All the words from pos to the end."""
    tokens: list[_Token] = []
    while (token := _next_token(text, pos)) is not None:
        tokens.append(token)
        pos = token.end
    return tokens


def _free_text(text: str, pos: int) -> str | None:
    """The rest of the text verbatim, or None if blank; quotes around all of it are dropped."""
    rest = text[pos:].strip()
    if not rest:
        return None
    inner = rest[1:-1]
    if len(rest) >= 2 and rest[0] in _QUOTES and rest[-1] in _QUOTES and not _QUOTES.intersection(inner):
        rest = inner.strip()
    return decode_slack_entities(rest) if rest else None


def _joined(tokens: list[_Token]) -> str:
    """Words joined back with single spaces."""
    return " ".join(t.text for t in tokens)


# --- subcommand words ---------------------------------------------------------------------------


def _subcommand(token: _Token, *, after_in: bool = False) -> str:
    """The canonical subcommand a word names, or UsageError with a suggestion."""
    word = token.text.casefold()
    if word in SUBCOMMANDS and word != "in":
        return word
    if word in ALIASES:
        return ALIASES[word]
    known = [name for name in [*SUBCOMMANDS, *ALIASES] if name != "in"]
    # A second `in` is a misplaced selector, not a typo of another command ("in" is close to "mine").
    close = [] if word == "in" else difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    message = f'I don\'t know the command "{excerpt(token.text, 30)}".'
    if after_in:
        # "/release in Payments 2.4 done 5" lands here with "2.4" as the command.
        message += ' If the release name has spaces, put it in quotes: /release in "Payments 2.4" done 5.'
    if close:
        raise UsageError(f"{message} Did you mean {close[0]}?", hint=usage(close[0]))
    raise UsageError(message, hint="Try /release help to see what I can do.")


def _release_selector(text: str, pos: int) -> tuple[str, _Token | None]:
    """The release after a leading `in`, and the subcommand token after it."""
    token = _next_token(text, pos)
    if token is None:
        raise UsageError('Which release? Put its name after "in", then the command.', hint=usage("in"))
    release = clean_name(token.text, field="release name")
    return release, _next_token(text, token.end)


def _one_release(selected: str | None, named: str | None) -> str | None:
    """The release from `in …` or from the command's own argument, refusing two different ones."""
    if selected and named and " ".join(selected.casefold().split()) != " ".join(named.casefold().split()):
        raise UsageError(
            f'You named two releases, "{escape_mrkdwn(selected)}" and "{escape_mrkdwn(named)}"; '
            "name just one."
        )
    return named or selected


# --- subcommand parsers -------------------------------------------------------------------------


def _parse_help(text: str, pos: int, release: str | None) -> Help:
    """help [command] — extra words after the topic are ignored."""
    first = _next_token(text, pos)
    if first is None:
        return Help(None, release)
    word = first.text.casefold()
    return Help("in" if word == "in" else _subcommand(first), release)


def _parse_new(text: str, pos: int, release: str | None) -> NewRelease:
    """new "<name>" <when> [#channel] [template <name>]; channel and template may come in any order."""
    if release is not None:
        raise UsageError('"/release new" starts a new release, so it can\'t go after "in …"; drop that part.')
    tokens = _tokens(text, pos)
    if not tokens:
        raise UsageError("What should the release be called, and when does it launch?")
    name_token, rest = tokens[0], tokens[1:]
    name = clean_name(name_token.text, field="release name")
    channel_id, rest = _take_channel(rest)
    template, rest = _take_template(rest)
    like, rest = _take_like(rest)
    if not rest:
        raise UsageError(f"When does {escape_mrkdwn(name)} launch? Add a date and time after the name.")
    for token in rest:
        _reject_plain_channel(token)
    advice = None
    if not name_token.quoted:
        advice = 'If the release name has spaces, put it in quotes: /release new "Payments 2.4" friday 10:00.'
    return NewRelease(name, _when(_joined(rest), advice=advice), channel_id, template, like=like)


def _parse_list(text: str, pos: int, release: str | None) -> ListReleases:
    """list — takes nothing else."""
    extra = _free_text(text, pos)
    if extra is not None:
        raise UsageError(f'"/release list" doesn\'t take anything after it (you added "{excerpt(extra)}").')
    return ListReleases(release)


def _parse_status(text: str, pos: int, release: str | None) -> Status:
    """status [release] — the name may be quoted or not."""
    return Status(_one_release(release, _optional_release(text, pos)))


def _parse_cancel(text: str, pos: int, release: str | None) -> Cancel:
    """cancel [release]."""
    return Cancel(_one_release(release, _optional_release(text, pos)))


def _parse_assign(text: str, pos: int, release: str | None) -> Assign:
    """assign <item> <@user|@group>…"""
    item, owners = _item_and_owners(text, pos, verb="assign")
    return Assign(item, owners, release)


def _parse_unassign(text: str, pos: int, release: str | None) -> Unassign:
    """unassign <item> <@user|@group>…"""
    item, owners = _item_and_owners(text, pos, verb="unassign")
    return Unassign(item, owners, release)


def _parse_transition(action: TransitionAction, text: str, pos: int, release: str | None) -> Transition:
    """start|done|undo|na <item> [note]"""
    token = _next_token(text, pos)
    if token is None:
        raise UsageError(f"Which item? Give its number or title, e.g. /release {_verb(action)} 5.")
    note = _free_text(text, token.end)
    return Transition(
        action,
        _item_ref(token.text),
        clean_note(note, field="note") if note is not None else None,
        release,
    )


def _parse_block(text: str, pos: int, release: str | None) -> Block:
    """block <item> <reason>"""
    item, reason = _item_and_reason(text, pos, verb="block", example="waiting for the vendor's fix")
    return Block(item, reason, release)


def _parse_waive(text: str, pos: int, release: str | None) -> Waive:
    """waive <item> <reason>"""
    item, reason = _item_and_reason(text, pos, verb="waive", example="covered by the 2.3 load test")
    return Waive(item, reason, release)


def _parse_reschedule(text: str, pos: int, release: str | None) -> Reschedule:
    """reschedule ["release"] <when> — a quoted first word names the release."""
    tokens = _tokens(text, pos)
    if not tokens:
        raise UsageError("When should it launch instead?")
    named, advice = None, None
    if tokens[0].quoted and len(tokens) > 1:
        named, tokens = clean_name(tokens[0].text, field="release name"), tokens[1:]
    elif len(tokens) > 1:
        # Likely slip: an unquoted release name in front of the time.
        advice = (
            'To name the release, put it in quotes first: /release reschedule "Payments 2.4" friday 10:00.'
        )
    return Reschedule(_when(_joined(tokens), advice=advice), _one_release(release, named))


def _parse_summary(text: str, pos: int, release: str | None) -> Summary:
    """summary [release]"""
    return Summary(_one_release(release, _optional_release(text, pos)))


_SNOOZE_SPANS = {
    "1d": "1d",
    "day": "1d",
    "tomorrow": "1d",
    "due": "due",
    "until-due": "due",
    "launch": "launch",
    "until-launch": "launch",
}


def _parse_snooze(text: str, pos: int, release: str | None) -> Snooze:
    """snooze <item> [1d|due|launch]"""
    tokens = _tokens(text, pos)
    if not tokens:
        raise UsageError("Which item? Give its number or title, e.g. /release snooze 5 due.")
    span = "1d"
    if len(tokens) > 1 and tokens[-1].text.casefold() in _SNOOZE_SPANS:
        span, tokens = _SNOOZE_SPANS[tokens[-1].text.casefold()], tokens[:-1]
    return Snooze(_item_ref(_joined(tokens)), span, release)


_SET_FIELDS = (
    "summary",
    "final-call",
    "heads-up",
    "overdue",
    "escalate-after",
    "decision",
    "changes",
    "downtime",
    "impact",
    "support",
    "notes",
)
_TEXT_FIELDS = frozenset({"changes", "downtime", "impact", "support", "notes"})


def _parse_set(text: str, pos: int, release: str | None) -> Set:
    """set <field> <value>"""
    tokens = _tokens(text, pos)
    if len(tokens) < 2:
        raise UsageError("Say what to set and to what, e.g. /release set summary 72h,24h,2h.")
    field = tokens[0].text.casefold()
    if field not in _SET_FIELDS:
        raise UsageError(f'I can\'t set "{excerpt(tokens[0].text)}"; settable: {", ".join(_SET_FIELDS)}.')
    if field in _TEXT_FIELDS:
        # Free text keeps its own spacing and punctuation; a link keeps Slack's <…> markup for checking.
        value = text[tokens[0].end :].strip()
        return Set(field, decode_slack_entities(value), release)
    return Set(field, _joined(tokens[1:]), release)


_PREF_SETTINGS = ("hours", "days", "tz", "mute", "unmute")


def _parse_prefs(text: str, pos: int, release: str | None) -> Prefs:
    """prefs [setting value]"""
    tokens = _tokens(text, pos)
    if not tokens:
        return Prefs()
    setting = tokens[0].text.casefold()
    if setting not in _PREF_SETTINGS:
        known = ", ".join(_PREF_SETTINGS)
        raise UsageError(f'I don\'t know the preference "{excerpt(tokens[0].text)}"; try one of: {known}.')
    value = _joined(tokens[1:]) or None
    if setting in ("mute", "unmute"):
        if value is not None:
            raise UsageError(f'"/release prefs {setting}" takes nothing after it.')
    elif value is None:
        raise UsageError(f"Give a value, e.g. /release prefs {setting} {_PREF_EXAMPLES[setting]}.")
    return Prefs(setting, value)


_PREF_EXAMPLES = {"hours": "08:30-17:00", "days": "mon-fri", "tz": "Europe/Berlin"}


def _parse_log(text: str, pos: int, release: str | None) -> Log:
    """log [item]"""
    tokens = _tokens(text, pos)
    return Log(_item_ref(_joined(tokens)) if tokens else None, release)


def _parse_mine(text: str, pos: int, release: str | None) -> Mine:
    """mine — takes nothing else."""
    extra = _free_text(text, pos)
    if extra is not None:
        raise UsageError(f'"/release mine" doesn\'t take anything after it (you added "{excerpt(extra)}").')
    return Mine(release)


def _parse_details(text: str, pos: int, release: str | None) -> Details:
    """details [release]"""
    return Details(_one_release(release, _optional_release(text, pos)))


def _parse_roles(role: str, text: str, pos: int, release: str | None) -> Roles:
    """deciders|comms [@person…]"""
    tokens = _tokens(text, pos)
    users: list[str] = []
    for token in tokens:
        for owner in _owners_in(token) if _has_owner_markup(token) else _not_a_person(token):
            if owner.kind is not OwnerKind.USER:
                raise UsageError(
                    "Name people here, not user groups: each one votes or approves for themself."
                )
            users.append(owner.slack_id)
    return Roles(role, tuple(dict.fromkeys(users)), release)


def _not_a_person(token: _Token) -> list[Owner]:
    raise UsageError(f'"{excerpt(token.text, 40)}" isn\'t a Slack mention. {_NOT_A_MENTION}')


_CHOICES = {
    "go": "go",
    "yes": "go",
    "risk": "go_with_risk",
    "go-with-risk": "go_with_risk",
    "gowithrisk": "go_with_risk",
    "no-go": "no_go",
    "nogo": "no_go",
    "no": "no_go",
}


def _parse_vote(text: str, pos: int, release: str | None) -> CastVote:
    """vote go | risk &lt;reason&gt; | go with risk &lt;reason&gt; | no-go &lt;reason&gt;"""
    tokens = _tokens(text, pos)
    if not tokens:
        raise UsageError(
            "How do you vote? /release vote go, /release vote risk &lt;reason&gt; "
            "or /release vote no-go &lt;reason&gt;."
        )
    words = [t.text.casefold() for t in tokens]
    if words[:3] == ["go", "with", "risk"]:
        choice, rest = "go_with_risk", tokens[2].end
    elif words[:2] == ["no", "go"]:
        choice, rest = "no_go", tokens[1].end
    elif words[0] in _CHOICES:
        choice, rest = _CHOICES[words[0]], tokens[0].end
    else:
        raise UsageError(f'"{excerpt(tokens[0].text, 30)}" isn\'t a vote; vote go, risk or no-go.')
    reason = _free_text(text, rest)
    return CastVote(choice, clean_note(reason, field="reason") if reason else None, release)


def _parse_launch(text: str, pos: int, release: str | None) -> Launch:
    """launch [override &lt;reason&gt;]"""
    first = _next_token(text, pos)
    if first is None:
        return Launch(None, release)
    if first.text.casefold() != "override":
        raise UsageError(
            "To launch past the gate, say why: /release launch override &lt;reason&gt;. "
            "Otherwise just /release launch."
        )
    reason = _free_text(text, first.end)
    if reason is None:
        raise UsageError(
            "An override needs a reason, e.g. /release launch override the load test is waived by the CTO."
        )
    return Launch(clean_note(reason, field="reason"), release)


def _parse_rollback(text: str, pos: int, release: str | None) -> Rollback:
    """rollback &lt;reason&gt;"""
    reason = _free_text(text, pos)
    if reason is None:
        raise UsageError("Please say why it was rolled back, e.g. /release rollback error rate doubled.")
    return Rollback(clean_note(reason, field="reason"), release)


def _parse_complete(text: str, pos: int, release: str | None) -> Complete:
    """complete [release]"""
    return Complete(_one_release(release, _optional_release(text, pos)))


_ANNOUNCE_ACTIONS = ("plan", "approve", "add", "remove", "channel", "preview", "lead", "auto")


def _parse_announce(text: str, pos: int, release: str | None) -> Announce:
    """announce plan | approve | add <kind> <when> [#channel] | remove <kind> | channel #c | preview …"""
    tokens = _tokens(text, pos)
    if not tokens:
        return Announce("plan", release=release)
    action = tokens[0].text.casefold()
    rest = tokens[1:]
    if action not in _ANNOUNCE_ACTIONS:
        raise UsageError(
            f'I don\'t know "announce {excerpt(tokens[0].text, 30)}"; '
            f"try one of: {', '.join(_ANNOUNCE_ACTIONS)}."
        )
    channel_id, rest = _take_channel(rest)
    if action in ("plan", "approve"):
        if rest or channel_id:
            raise UsageError(f'"/release announce {action}" takes nothing after it.')
        return Announce(action, release=release)
    if action == "channel":
        if channel_id is None or rest:
            raise UsageError(
                "Which channel? Pick it from Slack's autocomplete: /release announce channel #announcements."
            )
        return Announce(action, channel_id=channel_id, release=release)
    if action in ("lead", "auto"):
        if len(rest) != 1 or channel_id:
            example = "24h" if action == "lead" else "on"
            raise UsageError(f"Give one value, e.g. /release announce {action} {example}.")
        return Announce(action, value=rest[0].text.casefold(), release=release)
    if not rest:
        raise UsageError(f"Which announcement? e.g. /release announce {action} upcoming.")
    kind = rest[0].text.casefold()
    if action == "add":
        if len(rest) < 2:
            raise UsageError("When, relative to launch? e.g. /release announce add upcoming 48h before.")
        return Announce(action, kind, _joined(rest[1:]), channel_id, release)
    if len(rest) > 1 or channel_id:
        raise UsageError(f"Name just the announcement, e.g. /release announce {action} upcoming.")
    return Announce(action, kind, release=release)


def _parse_export(text: str, pos: int, release: str | None) -> Export:
    """export [csv|md]"""
    tokens = _tokens(text, pos)
    if not tokens:
        return Export("csv", release)
    fmt = {"csv": "csv", "md": "md", "markdown": "md"}.get(tokens[0].text.casefold())
    if fmt is None or len(tokens) > 1:
        raise UsageError("Export as csv or md, e.g. /release export md.")
    return Export(fmt, release)


def _parse_train(text: str, pos: int, release: str | None) -> TrainCommand:
    """train "<name>" <rule> [template <name>], or list, skip or stop a train by name."""
    tokens = _tokens(text, pos)
    if not tokens:
        raise UsageError(
            'Name the train and when it runs, e.g. /release train "Mobile" every 2 weeks on thu 14:00.'
        )
    first = tokens[0]
    word = first.text.casefold()
    if not first.quoted and word == "list":
        if len(tokens) > 1:
            raise UsageError('"/release train list" takes nothing after it.')
        return TrainCommand("list")
    if not first.quoted and word in ("skip", "stop"):
        if len(tokens) < 2:
            raise UsageError(f'Which train? e.g. /release train {word} "Mobile".')
        return TrainCommand(word, clean_name(_joined(tokens[1:]), field="train name"))
    name = clean_name(first.text, field="train name")
    template, rest = _take_template(tokens[1:])
    lead_days, rest = _take_lead(rest)
    if not rest:
        raise UsageError(f"When does {escape_mrkdwn(name)} run? e.g. every 2 weeks on thu 14:00.")
    return TrainCommand("create", name, _joined(rest), template, lead_days=lead_days)


_Parser = Callable[[str, int, str | None], Command]
_PARSERS: Mapping[str, _Parser] = {
    "help": _parse_help,
    "new": _parse_new,
    "list": _parse_list,
    "status": _parse_status,
    "assign": _parse_assign,
    "unassign": _parse_unassign,
    "start": functools.partial(_parse_transition, TransitionAction.START),
    "done": functools.partial(_parse_transition, TransitionAction.DONE),
    "undo": functools.partial(_parse_transition, TransitionAction.UNDO),
    "na": functools.partial(_parse_transition, TransitionAction.NOT_APPLICABLE),
    "block": _parse_block,
    "waive": _parse_waive,
    "reschedule": _parse_reschedule,
    "cancel": _parse_cancel,
    "log": _parse_log,
    "summary": _parse_summary,
    "snooze": _parse_snooze,
    "prefs": _parse_prefs,
    "set": _parse_set,
    "mine": _parse_mine,
    "details": _parse_details,
    "deciders": functools.partial(_parse_roles, "decider"),
    "comms": functools.partial(_parse_roles, "comms"),
    "vote": _parse_vote,
    "launch": _parse_launch,
    "rollback": _parse_rollback,
    "complete": _parse_complete,
    "announce": _parse_announce,
    "export": _parse_export,
    "train": _parse_train,
}


# --- pieces shared by the parsers ---------------------------------------------------------------

_USER = re.compile(r"<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>")
_GROUP = re.compile(r"<!subteam\^(S[A-Z0-9]{1,30})(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{1,30})(?:\|[^<>]*)?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>")
_MARKUP = re.compile(r"<[^<>]*>")
_SEPARATOR = re.compile(r"[\s,;&+]*(?:and)?[\s,;&+]*", re.IGNORECASE)
_NOT_A_MENTION = (
    "Pick the person or group from Slack's autocomplete (type @ and choose them) so it becomes a mention."
)


def _verb(action: TransitionAction) -> str:
    """The subcommand word for an action."""
    return "na" if action is TransitionAction.NOT_APPLICABLE else action.value


def _item_ref(text: str) -> str:
    """An item reference, tidied; the lookup decides what it means."""
    return clean_name(text, field="item", max_len=MAX_ITEM_REF)


def _optional_release(text: str, pos: int) -> str | None:
    """All remaining words as a release name, or None."""
    tokens = _tokens(text, pos)
    return clean_name(_joined(tokens), field="release name") if tokens else None


def _item_and_reason(text: str, pos: int, *, verb: str, example: str) -> tuple[str, str]:
    """<item> <reason>, the reason required."""
    token = _next_token(text, pos)
    if token is None:
        raise UsageError("Which item? Give its number or title, then the reason.")
    reason = _free_text(text, token.end)
    item = _item_ref(token.text)
    if reason is None:
        raise UsageError(
            f"Please say why: add the reason after the item, "
            f"e.g. /release {verb} {escape_mrkdwn(item)} {example}."
        )
    return item, clean_note(reason, field="reason")


def _item_and_owners(text: str, pos: int, *, verb: str) -> tuple[str, tuple[Owner, ...]]:
    """<item words> followed by one or more mentions; the item is everything before the first mention."""
    tokens = _tokens(text, pos)
    first = next((i for i, t in enumerate(tokens) if _has_owner_markup(t)), None)
    if first is None:
        plain = next((t for t in tokens if t.text.startswith("@")), None)
        if plain is not None:
            raise UsageError(f'"{excerpt(plain.text, 40)}" isn\'t a Slack mention. {_NOT_A_MENTION}')
        raise UsageError(f"Who? Mention people or user groups after the item, e.g. /release {verb} 5 @ana.")
    if first == 0:
        raise UsageError(
            f"Which item? Put its number or title before the people, e.g. /release {verb} 5 @ana."
        )
    item = _item_ref(_joined(tokens[:first]))
    owners = [owner for token in tokens[first:] for owner in _owners_in(token)]
    return item, tuple(dict.fromkeys(owners))  # dedupe, keeping the order they were given


def _has_owner_markup(token: _Token) -> bool:
    """Does the word contain a user, group or @here-style mention?"""
    return any(p.search(token.raw) for p in (_USER, _GROUP, _SPECIAL))


def _owners_in(token: _Token) -> list[Owner]:
    """The mentions in one word (e.g. `<@U1>,<@U2>`); anything else but separators is an error."""
    owners: list[Owner] = []
    pos = 0
    for markup in _MARKUP.finditer(token.raw):
        _expect_separator(token.raw[pos : markup.start()])
        owners.append(_owner(markup.group(0)))
        pos = markup.end()
    _expect_separator(token.raw[pos:])
    return owners


def _expect_separator(raw: str) -> None:
    """Between mentions only commas, '&' or 'and' may stand; a bare name means a missed mention."""
    text = decode_slack_entities(raw)
    if not _SEPARATOR.fullmatch(text):
        raise UsageError(f'"{excerpt(text, 40)}" isn\'t a Slack mention. {_NOT_A_MENTION}')


def _owner(markup: str) -> Owner:
    """The Owner that one piece of Slack markup names."""
    if user := _USER.fullmatch(markup):
        return Owner(OwnerKind.USER, user.group(1))
    if group := _GROUP.fullmatch(markup):
        return Owner(OwnerKind.GROUP, group.group(1))
    if special := _SPECIAL.fullmatch(markup):
        raise UsageError(f"I can't make @{special.group(1)} an owner; mention a person or a user group.")
    if _CHANNEL.fullmatch(markup):
        raise UsageError("A channel can't own an item; mention a person or a user group.")
    raise UsageError(f'"{excerpt(markup, 40)}" isn\'t a person or group mention. {_NOT_A_MENTION}')


def _take_channel(tokens: list[_Token]) -> tuple[str | None, list[_Token]]:
    """Pull one <#C…> channel mention out of the words."""
    found = [(i, m) for i, t in enumerate(tokens) if (m := _CHANNEL.fullmatch(t.raw))]
    if not found:
        return None, tokens
    if len(found) > 1:
        raise UsageError("Name one channel for the release, not several.")
    index, match = found[0]
    return match.group(1), tokens[:index] + tokens[index + 1 :]


def _take_template(tokens: list[_Token]) -> tuple[str | None, list[_Token]]:
    """Pull `template <name>` out of the words (no launch time contains the word "template")."""
    indexes = [i for i, t in enumerate(tokens) if not t.quoted and t.text.casefold() == "template"]
    if not indexes:
        return None, tokens
    index = indexes[0]
    if len(indexes) > 1 or index + 1 >= len(tokens):
        raise UsageError('Which template? Put one name after "template", e.g. template standard.')
    name = clean_name(tokens[index + 1].text, field="template name", max_len=MAX_TEMPLATE_NAME)
    return name, tokens[:index] + tokens[index + 2 :]


def _take_lead(tokens: list[_Token]) -> tuple[int | None, list[_Token]]:
    """Pull `lead <N> days|weeks` (or `lead 3d`) out of a train's words, wherever it stands among them."""
    indexes = [i for i, t in enumerate(tokens) if not t.quoted and t.text.casefold() == "lead"]
    if not indexes:
        return None, tokens
    if len(indexes) > 1:
        raise UsageError('Say "lead" once, e.g. lead 3 days.')
    index = indexes[0]
    words = [t.text for t in tokens[index + 1 : index + 3]]
    # "lead 3 days" takes two words, "lead 3d" one; whatever follows is the rule's again.
    taken = 2 if len(words) == 2 and not re.search(r"[a-z]", words[0], re.IGNORECASE) else 1
    return parse_lead(words[:taken]), tokens[:index] + tokens[index + 1 + taken :]


def _take_like(tokens: list[_Token]) -> tuple[str | None, list[_Token]]:
    """Pull `like <earlier release>` out of the words: the release name is the next word (quote it)."""
    indexes = [i for i, t in enumerate(tokens) if not t.quoted and t.text.casefold() == "like"]
    if not indexes:
        return None, tokens
    index = indexes[0]
    if len(indexes) > 1 or index + 1 >= len(tokens):
        raise UsageError(
            'Which release should I copy? Put its name after "like", in quotes if it has spaces.'
        )
    name = clean_name(tokens[index + 1].text, field="release name")
    return name, tokens[:index] + tokens[index + 2 :]


def _reject_plain_channel(token: _Token) -> None:
    """#general typed as text is not a channel link Slack can resolve."""
    if not token.quoted and token.text.startswith("#") and len(token.text) > 1:
        raise UsageError(
            f'"{excerpt(token.text, 40)}" isn\'t a channel link. '
            "Pick the channel from Slack's autocomplete (type # and choose it)."
        )


def _when(words: str, *, advice: str | None) -> WhenSpec:
    """parse_when, adding advice to 'couldn't read that' when the real slip is likely elsewhere."""
    try:
        return parse_when(words)
    except UsageError as error:
        if advice is None:
            raise
        raise UsageError(f"{error.message} {advice}", hint=error.hint) from None
