"""Parsing /release text: every subcommand and alias, quoting, mentions, errors, and a fuzz proof."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.commands import (
    ALIASES,
    SUBCOMMANDS,
    Announce,
    Assign,
    Block,
    Cancel,
    CastVote,
    Complete,
    Details,
    Export,
    Help,
    Launch,
    ListReleases,
    Log,
    Mine,
    NewRelease,
    Prefs,
    Reschedule,
    Roles,
    Rollback,
    Set,
    Snooze,
    Status,
    Summary,
    TrainCommand,
    Transition,
    TransitionAction,
    Unassign,
    Waive,
    parse_command,
    usage,
)
from bot.domain.errors import InvalidInput, UsageError, UserError
from bot.domain.model import Owner, OwnerKind
from bot.domain.text import escape_mrkdwn
from bot.domain.when import WhenKind, WhenSpec, parse_when

ANA, BO = Owner(OwnerKind.USER, "U1ANA"), Owner(OwnerKind.USER, "W2BO")
OPS = Owner(OwnerKind.GROUP, "S9OPS")
DEC10 = parse_when("2026-12-10 14:00")
DONE, START, UNDO, NA = (
    TransitionAction.DONE,
    TransitionAction.START,
    TransitionAction.UNDO,
    TransitionAction.NOT_APPLICABLE,
)

PARSED = [
    # summary, snooze, prefs, set
    ("set summary 24h", Set("summary", "24h")),
    ("summary", Summary(None)),
    ('summary "Payments 2.4"', Summary("Payments 2.4")),
    ("snooze 5", Snooze("5", "1d")),
    ("snooze database backup due", Snooze("database backup", "due")),
    ("snooze 5 until-launch", Snooze("5", "launch")),
    ("prefs", Prefs()),
    ("prefs hours 08:30-17:00", Prefs("hours", "08:30-17:00")),
    ("prefs tz Europe/Berlin", Prefs("tz", "Europe/Berlin")),
    ("prefs mute", Prefs("mute", None)),
    ("prefs unmute", Prefs("unmute", None)),
    # help, and the empty command
    ("", Help(None)),
    ("   \n ", Help(None)),
    ("help", Help(None)),
    ("HELP", Help(None)),
    ("help done", Help("done")),
    ("help signoff", Help("done")),  # aliases name their subcommand
    ("help in", Help("in")),
    # new / create
    ('new "Payments 2.4" 2026-12-10 14:00', NewRelease("Payments 2.4", DEC10)),
    ('create "Payments 2.4" 2026-12-10 14:00', NewRelease("Payments 2.4", DEC10)),
    ("new “Payments 2.4” 2026-12-10 14:00", NewRelease("Payments 2.4", DEC10)),  # curly quotes
    ('new "Payments 2.4" 2026-12-10 14:00 <#C0123|releases>', NewRelease("Payments 2.4", DEC10, "C0123")),
    ('new "Payments 2.4" 2026-12-10 14:00 <#C0123>', NewRelease("Payments 2.4", DEC10, "C0123")),
    (
        'new "Payments 2.4" 2026-12-10 14:00 <#C0123|releases> template mobile',
        NewRelease("Payments 2.4", DEC10, "C0123", "mobile"),
    ),
    (
        'new "Payments 2.4" template mobile 2026-12-10 14:00',  # options may come anywhere after the name
        NewRelease("Payments 2.4", DEC10, None, "mobile"),
    ),
    ("new Payments 2026-12-10 14:00", NewRelease("Payments", DEC10)),  # one word needs no quotes
    ('new "R&amp;D  launch" 2026-12-10 14:00', NewRelease("R&D launch", DEC10)),  # Slack entities decoded
    # list / ls
    ("list", ListReleases()),
    ("ls", ListReleases()),
    ("LS", ListReleases()),
    # status / show
    ("status", Status()),
    ("show", Status()),
    ('status "Payments 2.4"', Status("Payments 2.4")),
    ("status Payments 2.4", Status("Payments 2.4")),  # the only argument, so quotes are optional
    # assign / unassign
    ("assign 5 <@U1ANA|ana>", Assign("5", (ANA,))),
    ("assign 5 <@U1ANA>", Assign("5", (ANA,))),
    ("assign 5 <!subteam^S9OPS|@ops>", Assign("5", (OPS,))),
    ("assign 5 <!subteam^S9OPS>", Assign("5", (OPS,))),
    ("assign database backup <@U1ANA|ana> <@W2BO|bo>", Assign("database backup", (ANA, BO))),
    ('assign "Database Backup" <@U1ANA|ana>', Assign("Database Backup", (ANA,))),
    ("assign 5 <@U1ANA|ana>, <@W2BO|bo> and <!subteam^S9OPS|@ops>", Assign("5", (ANA, BO, OPS))),
    ("assign 5 <@U1ANA|ana>,<@W2BO|bo>", Assign("5", (ANA, BO))),
    ("assign 5 <@U1ANA|ana> &amp; <@W2BO|bo>", Assign("5", (ANA, BO))),
    ("assign 5 <@W2BO|bo> <@U1ANA|ana> <@W2BO>", Assign("5", (BO, ANA))),  # deduped, order kept
    ("unassign 5 <@U1ANA|ana>", Unassign("5", (ANA,))),
    ("unassign #5 <!subteam^S9OPS|@ops> <@U1ANA>", Unassign("#5", (OPS, ANA))),
    # start / done / undo / na and aliases
    ("start 3", Transition(START, "3")),
    ("done 5", Transition(DONE, "5")),
    ("done 5 shipped to prod", Transition(DONE, "5", "shipped to prod")),
    ("ok 5", Transition(DONE, "5")),
    ("signoff 5", Transition(DONE, "5")),
    ("sign-off 5", Transition(DONE, "5")),
    ('done "Database Backup" verified restore', Transition(DONE, "Database Backup", "verified restore")),
    ('done 5 "all good"', Transition(DONE, "5", "all good")),  # a fully quoted note loses its quotes
    ('done 5 the "legacy" db is fine', Transition(DONE, "5", 'the "legacy" db is fine')),
    ('done 5 waiting on 12" screen', Transition(DONE, "5", 'waiting on 12" screen')),  # notes are verbatim
    ("done 5 line one\nline two", Transition(DONE, "5", "line one\nline two")),
    ("done datab", Transition(DONE, "datab")),
    ("undo 5", Transition(UNDO, "5")),
    ("undo 5 signed off by mistake", Transition(UNDO, "5", "signed off by mistake")),
    ("na 7", Transition(NA, "7")),
    ("n/a 7 no schema change", Transition(NA, "7", "no schema change")),
    ("skip 7", Transition(NA, "7")),
    ("done 5 R&amp;D &lt;ok&gt;", Transition(DONE, "5", "R&D <ok>")),
    # block / waive
    ("block 4 waiting for vendor", Block("4", "waiting for vendor")),
    ('block "DNS Switch" registrar is down', Block("DNS Switch", "registrar is down")),
    ("waive 9 covered by the 2.3 load test", Waive("9", "covered by the 2.3 load test")),
    # reschedule / move
    ("reschedule 2026-12-10 14:00", Reschedule(DEC10)),
    ("move 2026-12-10 14:00", Reschedule(DEC10)),
    ('reschedule "Payments 2.4" 2026-12-10 14:00', Reschedule(DEC10, "Payments 2.4")),
    ('reschedule "2026-12-10 14:00"', Reschedule(DEC10)),  # a lone quoted argument is the time
    # cancel
    ("cancel", Cancel()),
    ('cancel "Payments 2.4"', Cancel("Payments 2.4")),
    # log / audit / history
    ("log", Log()),
    ("audit", Log()),
    ("history 5", Log("5")),
    ("log database backup", Log("database backup")),
    # the `in <release>` selector
    ('in "Payments 2.4" done 5 shipped', Transition(DONE, "5", "shipped", "Payments 2.4")),
    ("in “Payments 2.4” block 4 vendor", Block("4", "vendor", "Payments 2.4")),
    ("in Payments done 5", Transition(DONE, "5", None, "Payments")),
    ("IN Payments assign 5 <@U1ANA>", Assign("5", (ANA,), "Payments")),
    ('in "Payments 2.4" status', Status("Payments 2.4")),
    ('in "Payments 2.4" status "payments   2.4"', Status("payments 2.4")),  # the same one, twice
    ('in "Payments 2.4" reschedule +3d', Reschedule(parse_when("+3d"), "Payments 2.4")),
    ('in "Payments 2.4" cancel', Cancel("Payments 2.4")),
    ('in "Payments 2.4" log 5', Log("5", "Payments 2.4")),
    ('in "Payments 2.4"', Status("Payments 2.4")),
    ('in "Payments 2.4" list', ListReleases("Payments 2.4")),
    # go/no-go, launch and after
    ("mine", Mine()),
    ("my", Mine()),
    ("deciders", Roles("decider")),
    ("decider <@U1ANA> <@W2BO>", Roles("decider", ("U1ANA", "W2BO"))),
    ("comms <@U1ANA|ana>, <@U1ANA>", Roles("comms", ("U1ANA",))),
    ("vote go", CastVote("go")),
    ("vote go with risk the cache is cold", CastVote("go_with_risk", "the cache is cold")),
    ("vote risk cold cache", CastVote("go_with_risk", "cold cache")),
    ("vote no-go p99 doubled", CastVote("no_go", "p99 doubled")),
    ("vote no go p99 doubled", CastVote("no_go", "p99 doubled")),
    ("vote no-go", CastVote("no_go")),  # the service asks for the reason
    ("launch", Launch()),
    ("deploy", Launch()),
    ("ship override CTO waived the load test", Launch("CTO waived the load test")),
    ("rollback error rate doubled", Rollback("error rate doubled")),
    ("revert error rate doubled", Rollback("error rate doubled")),
    ("roll-back x", Rollback("x")),
    ("complete", Complete()),
    ("finish", Complete()),
    ("done-release", Complete()),
    ('in "Payments 2.4" complete', Complete("Payments 2.4")),
    # announcements, details, export, trains
    ("announce", Announce("plan")),
    ("announcements plan", Announce("plan")),
    ("announcement approve", Announce("approve")),
    ("announce add upcoming 48h before <#C9ANN>", Announce("add", "upcoming", "48h before", "C9ANN")),
    ("announce remove go-live", Announce("remove", "go-live")),
    ("announce channel <#C9ANN|announcements>", Announce("channel", channel_id="C9ANN")),
    ("announce preview upcoming", Announce("preview", "upcoming")),
    ("announce lead 12h", Announce("lead", value="12h")),
    ("announce auto ON", Announce("auto", value="on")),
    ("details", Details()),
    ("set downtime  Sat 02:00–02:30 UTC ", Set("downtime", "Sat 02:00–02:30 UTC")),
    ("set support ask in &lt;#C1&gt; &amp; co", Set("support", "ask in <#C1> & co")),
    ("set notes <https://example.com/notes>", Set("notes", "<https://example.com/notes>")),
    ("set decision quorum 2", Set("decision", "quorum 2")),
    ("export", Export("csv")),
    ("export markdown", Export("md")),
    (
        'train "Mobile" every 2 weeks on thu 14:00',
        TrainCommand("create", "Mobile", "every 2 weeks on thu 14:00"),
    ),
    (
        'train "Mobile" every week on tue 10:00 template standard',
        TrainCommand("create", "Mobile", "every week on tue 10:00", "standard"),
    ),
    (
        'train "Daily" every day at 09:00 lead 3 days',
        TrainCommand("create", "Daily", "every day at 09:00", lead_days=3),
    ),
    (
        'train "Mobile" lead 2w every 2 weeks on thu 14:00 template standard',
        TrainCommand("create", "Mobile", "every 2 weeks on thu 14:00", "standard", lead_days=14),
    ),
    ("train list", TrainCommand("list")),
    ('train skip "Mobile"', TrainCommand("skip", "Mobile")),
    ("train stop Mobile", TrainCommand("stop", "Mobile")),
    (
        'new "Payments 2.5" 2026-12-10 14:00 like "Payments 2.4"',
        NewRelease("Payments 2.5", DEC10, like="Payments 2.4"),
    ),
    # Whitespace and case are forgiving.
    ("  DONE\t 5   shipped  ", Transition(DONE, "5", "shipped")),
]


@pytest.mark.parametrize(("text", "command"), PARSED)
def test_parses(text: str, command: object) -> None:
    assert parse_command(text) == command


def test_every_subcommand_and_alias_is_covered() -> None:
    first_words = {text.split()[0].lower() for text, _ in PARSED if text.strip()}
    assert set(SUBCOMMANDS) <= first_words
    assert set(ALIASES) <= first_words


def test_new_keeps_the_when_spec_details() -> None:
    command = parse_command('new "Payments 2.4" friday 2pm Europe/Berlin')
    assert isinstance(command, NewRelease)
    assert command.when == WhenSpec(WhenKind.WEEKDAY, weekday=4, time=time(14, 0), zone="Europe/Berlin")
    moved = parse_command("move +36h")
    assert isinstance(moved, Reschedule) and moved.when.delta == timedelta(hours=36)


@pytest.mark.parametrize("name", ["<!channel>", "<https://evil|click>", "<@U123>", "<!subteam^S1|@all>"])
def test_markup_in_a_name_is_parsed_and_escapes_inert(name: str) -> None:
    command = parse_command(f'new "launch {name} now" 2026-12-10 14:00')
    assert isinstance(command, NewRelease)
    assert command.name == f"launch {name} now"  # stored as typed; the renderer escapes
    assert "<" not in escape_mrkdwn(command.name) and ">" not in escape_mrkdwn(command.name)


@pytest.mark.parametrize(
    "name",
    ["🚀 Payments 👩🏽‍💻", "Café 2.4", "Cafe\u0301 2.4", "إطلاق المدفوعات", "שחרור 2.4", "Zalgo z̷̢͝a̵l̶g̷o̸"],
)
def test_unicode_names_kept_intact(name: str) -> None:
    command = parse_command(f'new "{name}" 2026-12-10 14:00')
    assert isinstance(command, NewRelease)
    assert command.name == name  # byte for byte: nothing is recomposed or stripped


def test_long_names_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="The release name is 151 characters long; keep it under 150"):
        parse_command(f'new "{"x" * 151}" 2026-12-10 14:00')
    with pytest.raises(InvalidInput):
        parse_command(f'new "{"x" * 5000}" 2026-12-10 14:00')  # also over the whole-command cap
    with pytest.raises(InvalidInput, match="That command is 5001 characters long; keep it under 4000"):
        parse_command("x" * 5001)


ERRORS = [
    # (text, error type, fragment of the message, fragment of the hint)
    ("stauts", UsageError, 'I don\'t know the command "stauts". Did you mean status?', "/release status"),
    ("dnoe 5", UsageError, "Did you mean done?", "Usage: /release done &lt;item number or title&gt; [note]"),
    ("asign 5 <@U1>", UsageError, "Did you mean assign?", "/release assign"),
    ("frobnicate", UsageError, 'I don\'t know the command "frobnicate".', "/release help"),
    ("help frobnicate", UsageError, 'don\'t know the command "frobnicate"', "/release help"),
    (
        'new "Payments 2.4 2026-12-10',
        UsageError,
        'Unbalanced quote in "Payments 2.4 2026-12-10',
        "/release new",
    ),
    ('status "Payments', UsageError, "Unbalanced quote", "/release status"),
    ('"done 5', UsageError, "Unbalanced quote", None),
    ("new", UsageError, "What should the release be called", "/release new"),
    ('new "Payments 2.4"', UsageError, "When does Payments 2.4 launch?", "/release new"),
    ('new "Payments 2.4" whenever', UsageError, 'couldn\'t read "whenever"', "2026-12-10 14:00"),
    ("new Payments 2.4 friday", UsageError, 'put it in quotes: /release new "Payments 2.4"', "2026-12-10"),
    ('new "Payments 2.4" 2026-02-30', InvalidInput, "February 2026 has 28 days", "2026-12-10 14:00"),
    ('new "Payments 2.4" friday #releases', UsageError, '"#releases" isn\'t a channel link', "/release new"),
    ('new "Payments 2.4" friday <#C1> <#C2>', UsageError, "one channel", "/release new"),
    ('new "Payments 2.4" friday template', UsageError, "Which template?", "/release new"),
    ('new "" friday', InvalidInput, "The release name is empty", "/release new"),
    ('new "a\x00b" friday', InvalidInput, "control character (U+0000)", "/release new"),
    ('in "Payments 2.4" new "X" friday', UsageError, "can't go after", "/release new"),
    ("list everything", UsageError, "doesn't take anything after it", "/release list"),
    ("assign", UsageError, "Who?", "/release assign"),
    ("assign 5", UsageError, "Who?", "/release assign"),
    ("assign 5 @bob", UsageError, '"@bob" isn\'t a Slack mention. Pick the person', "/release assign"),
    ("assign 5 bob", UsageError, "Mention people or user groups", "/release assign"),
    ("assign 5 <@U1ANA> bob", UsageError, '"bob" isn\'t a Slack mention', "/release assign"),
    ("assign 5 <@U1ANA> @bob", UsageError, '"@bob" isn\'t a Slack mention', "/release assign"),
    ("assign <@U1ANA>", UsageError, "Which item?", "/release assign"),
    ("assign 5 <!here>", UsageError, "can't make @here an owner", "/release assign"),
    ("assign 5 <@U1ANA> <!channel>", UsageError, "can't make @channel an owner", "/release assign"),
    ("assign 5 <@U1ANA> <#C1|general>", UsageError, "A channel can't own an item", "/release assign"),
    ("assign 5 <@U1ANA> <https://evil|click>", UsageError, "&lt;https://evil|click&gt;", "/release assign"),
    ("unassign 5 bob", UsageError, "Mention people", "/release unassign"),
    ("done", UsageError, "Which item?", "/release done"),
    ("signoff", UsageError, "e.g. /release done 5", "/release done"),
    ("na", UsageError, "e.g. /release na 5", "/release na"),
    ("done 5 \x07", InvalidInput, "The note contains a control character (U+0007)", "/release done"),
    (f"done 5 {'x' * 2001}", InvalidInput, "The note is 2001 characters long", "/release done"),
    ("block", UsageError, "Which item?", "/release block"),
    (
        "block 4",
        UsageError,
        "Please say why",
        "Usage: /release block &lt;item number or title&gt; &lt;reason&gt;",
    ),
    ("waive 4", UsageError, "Please say why", "/release waive"),
    ('block 4 ""', UsageError, "Please say why", "/release block"),
    ("reschedule", UsageError, "When should it launch instead?", "/release reschedule"),
    ("reschedule Payments 2.4 friday", UsageError, 'put it in quotes first: /release reschedule "', "14:00"),
    (
        'reschedule "Payments 2.4" whenever',
        UsageError,
        'couldn\'t read "whenever" as a date and time.',
        "14:00",
    ),
    ("move 25:00", InvalidInput, "25:00 isn't a time", "2026-12-10"),
    ('in "A" cancel "B"', UsageError, 'You named two releases, "A" and "B"', "/release cancel"),
    ('in "A" status B', UsageError, "You named two releases", "/release status"),
    ('in "A" reschedule "B" friday', UsageError, "You named two releases", "/release reschedule"),
    ("in", UsageError, "Which release?", '/release in "&lt;release&gt;"'),
    (
        "in Payments 2.4 done 5",
        UsageError,
        "If the release name has spaces, put it in quotes",
        "/release help",
    ),
    ("in X in Y done 5", UsageError, 'don\'t know the command "in"', "/release help"),
    ("done <!channel>", None, None, None),  # fine to parse: the lookup will not find it
    ("mine please", UsageError, "doesn't take anything", "/release mine"),
    ("deciders ana", UsageError, "isn't a Slack mention", "/release deciders"),
    ("deciders <!subteam^S1|@ops>", UsageError, "not user groups", "/release deciders"),
    ("vote", UsageError, "How do you vote?", "/release vote"),
    ("vote maybe", UsageError, "isn't a vote", "/release vote"),
    ("launch now", UsageError, "say why", "/release launch"),
    ("launch override", UsageError, "needs a reason", "/release launch"),
    ("rollback", UsageError, "say why", "/release rollback"),
    ("announce dance", UsageError, "try one of", "/release announce"),
    ("announce add upcoming", UsageError, "When, relative to launch?", "/release announce"),
    ("announce channel general", UsageError, "Which channel?", "/release announce"),
    ("announce plan now", UsageError, "takes nothing", "/release announce"),
    ("announce preview", UsageError, "Which announcement?", "/release announce"),
    ("export pdf", UsageError, "csv or md", "/release export"),
    ("train", UsageError, "Name the train", "/release train"),
    ('train "Mobile"', UsageError, "When does Mobile run?", "/release train"),
    ("train skip", UsageError, "Which train?", "/release train"),
    ('train "D" every day at 9:00 lead 3', UsageError, "lead 3 days or lead 2 weeks", "/release train"),
    ('train "D" every day at 9:00 lead soon', UsageError, "How long before each launch", "/release train"),
    ('train "D" every day at 9:00 lead 61 days', UsageError, "1 to 60 days, not 61", "/release train"),
    ('train "D" every day at 9:00 lead 0d', UsageError, "1 to 60 days, not 0", "/release train"),
    ('train "D" lead 1d every day at 9:00 lead 2d', UsageError, 'Say "lead" once', "/release train"),
    ('new "P" friday like', UsageError, "Which release should I copy?", "/release new"),
]


@pytest.mark.parametrize(("text", "error", "message", "hint"), ERRORS)
def test_errors(text: str, error: type[UserError] | None, message: str | None, hint: str | None) -> None:
    if error is None:
        parse_command(text)
        return
    with pytest.raises(error) as caught:
        parse_command(text)
    assert message is not None and message in caught.value.message
    if hint is not None:
        assert hint in (caught.value.hint or "")


@pytest.mark.parametrize(
    "text", ["<!channel>", "<https://evil|click>", "&lt;script&gt;", "a" * 500 + "<@U1>"]
)
def test_error_messages_never_carry_live_markup(text: str) -> None:
    for attempt in (text, f"help {text}", f"assign 5 <@U1> {text}", f"new x {text}"):
        with pytest.raises(UserError) as caught:
            parse_command(attempt)
        assert "<" not in caught.value.message and "<" not in (caught.value.hint or "")
        assert len(caught.value.message) < 400


def test_usage_lines() -> None:
    assert usage("done") == "Usage: /release done &lt;item number or title&gt; [note]"
    assert usage("signoff") == usage("done")
    assert list(SUBCOMMANDS)[:3] == ["help", "new", "list"]
    for name, (line, description) in SUBCOMMANDS.items():
        assert line.startswith(f"/release {name}") and description.endswith(".")
    assert all(target in SUBCOMMANDS for target in ALIASES.values())
    with pytest.raises(KeyError):
        usage("nope")


# --- the fuzz proof: nothing but UserError ever escapes ------------------------------------------

WORDS = [*SUBCOMMANDS, *ALIASES, "in", "template", "5", "#5", "0", "99999999999999999999", "and", ",", "@bob"]
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(
        ['"', "“", "”", '""', "'", "<", ">", "<>", "&amp;", "&lt;", "&", "\x00", "\n", "\t", "\u202e"]
    ),
    st.sampled_from(
        ["<@U1ANA|ana>", "<@U1>", "<@bogus>", "<!subteam^S9|@ops>", "<!here>", "<#C1|x>", "<#C1>"]
    ),
    st.sampled_from(["2026-12-10", "14:00", "friday", "+3d", "Europe/Berlin", "25:00", "10000-01-01"]),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12).map(lambda s: f'"{s}"'),
)
STRUCTURED = st.lists(PIECES, max_size=12).map(" ".join)
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
HUGE = st.builds(
    lambda word, n: word * n, st.sampled_from(['"', "x ", "<", "done ", "a\x00"]), st.integers(1, 6000)
)


@given(st.one_of(ANY_TEXT, STRUCTURED, HUGE))
@settings(max_examples=300, deadline=None)
def test_any_text_gives_a_command_or_a_user_error(text: str) -> None:
    try:
        parse_command(text)
    except UserError as error:
        assert error.message
        assert "<" not in error.message and "<" not in (error.hint or "")


def test_advice_only_when_the_slip_is_likely() -> None:
    with pytest.raises(UsageError) as caught:
        parse_command('reschedule "Payments 2.4" whenever')
    assert caught.value.message == 'I couldn\'t read "whenever" as a date and time.'
    with pytest.raises(UsageError) as caught:
        parse_command('new "Payments 2.4" whenever')
    assert caught.value.message == 'I couldn\'t read "whenever" as a date and time.'


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("prefs volume 11", "preference"),
        ("prefs hours", "Give a value"),
        ("prefs mute now", "nothing after"),
        ("snooze", "Which item"),
    ],
)
def test_bad_prefs_and_snoozes_say_what_to_type(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        parse_command(text)


def test_set_takes_a_field_and_a_value() -> None:

    assert parse_command("set summary 72h,24h,2h") == Set("summary", "72h,24h,2h")
    assert parse_command('in "Payments 2.4" set final-call off') == Set("final-call", "off", "Payments 2.4")
    with pytest.raises(UsageError, match="settable"):
        parse_command("set colour blue")
    with pytest.raises(UsageError, match="Say what to set"):
        parse_command("set summary")
