"""The go/no-go rule: every combination of deciders, votes and rule that changes the outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.decision import (
    DEFAULT_RULE,
    Choice,
    DecisionRule,
    Outcome,
    Vote,
    check_vote,
    decide,
    parse_rule,
    rule_from_stored,
    validate_rule,
)
from bot.domain.errors import InvalidInput, UsageError

T0 = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
GO, RISK, NO = Choice.GO, Choice.GO_WITH_RISK, Choice.NO_GO
PENDING, DECIDED_GO, DECIDED_NO = Outcome.PENDING, Outcome.GO, Outcome.NO_GO
UNANIMOUS = DecisionRule("unanimous")


def quorum(n: int) -> DecisionRule:
    return DecisionRule("quorum", n)


def vote(user: str, choice: Choice, minutes: int = 0, reason: str | None = None) -> Vote:
    if reason is None and choice is not GO:
        reason = f"{user} says so"
    return Vote(user_id=user, choice=choice, reason=reason, at=T0 + timedelta(minutes=minutes))


def votes(*pairs: tuple[str, Choice]) -> list[Vote]:
    return [vote(user, choice, minutes=i) for i, (user, choice) in enumerate(pairs)]


TWO = ("U1", "U2")
THREE = ("U1", "U2", "U3")
FOUR = ("U1", "U2", "U3", "U4")

# (description, deciders, rule, votes, expected outcome, expected with_risk, expected waiting_for)
CASES = [
    # unanimous: decided only when everyone has voted
    ("unanimous, nobody voted", TWO, UNANIMOUS, [], PENDING, False, TWO),
    ("unanimous, one of two GO", TWO, UNANIMOUS, votes(("U1", GO)), PENDING, False, ("U2",)),
    ("unanimous, NO-GO waits for the rest", TWO, UNANIMOUS, votes(("U1", NO)), PENDING, False, ("U2",)),
    ("unanimous, both GO", TWO, UNANIMOUS, votes(("U1", GO), ("U2", GO)), DECIDED_GO, False, ()),
    ("unanimous, GO and risk", TWO, UNANIMOUS, votes(("U1", GO), ("U2", RISK)), DECIDED_GO, True, ()),
    ("unanimous, all risk", TWO, UNANIMOUS, votes(("U1", RISK), ("U2", RISK)), DECIDED_GO, True, ()),
    ("unanimous, one NO-GO", TWO, UNANIMOUS, votes(("U1", GO), ("U2", NO)), DECIDED_NO, False, ()),
    ("unanimous, risk and NO-GO", TWO, UNANIMOUS, votes(("U1", RISK), ("U2", NO)), DECIDED_NO, False, ()),
    (
        "unanimous, 3 of 4 GO",
        FOUR,
        UNANIMOUS,
        votes(("U1", GO), ("U2", GO), ("U4", GO)),
        PENDING,
        False,
        ("U3",),
    ),
    (
        "unanimous, four GO",
        FOUR,
        UNANIMOUS,
        votes(("U1", GO), ("U2", GO), ("U3", GO), ("U4", GO)),
        DECIDED_GO,
        False,
        (),
    ),
    (
        "unanimous, four with one NO-GO",
        FOUR,
        UNANIMOUS,
        votes(("U1", GO), ("U2", NO), ("U3", GO), ("U4", RISK)),
        DECIDED_NO,
        False,
        (),
    ),
    # changed votes: the latest counts
    ("changed NO-GO to GO", TWO, UNANIMOUS, votes(("U1", NO), ("U2", GO), ("U1", GO)), DECIDED_GO, False, ()),
    ("changed GO to NO-GO", TWO, UNANIMOUS, votes(("U1", GO), ("U2", GO), ("U1", NO)), DECIDED_NO, False, ()),
    (
        "changed risk to GO",
        TWO,
        UNANIMOUS,
        votes(("U1", RISK), ("U2", GO), ("U1", GO)),
        DECIDED_GO,
        False,
        (),
    ),
    (
        "later vote passed first still wins",
        TWO,
        UNANIMOUS,
        [vote("U1", GO, minutes=5), vote("U2", GO), vote("U1", NO, minutes=1)],
        DECIDED_GO,
        False,
        (),
    ),
    # non-deciders never count
    ("non-decider GO", TWO, UNANIMOUS, votes(("U1", GO), ("U9", GO)), PENDING, False, ("U2",)),
    ("non-decider NO-GO", TWO, UNANIMOUS, votes(("U1", GO), ("U2", GO), ("U9", NO)), DECIDED_GO, False, ()),
    (
        "non-decider NO-GO, quorum",
        THREE,
        quorum(2),
        votes(("U1", GO), ("U2", GO), ("U9", NO)),
        DECIDED_GO,
        False,
        ("U3",),
    ),
    ("non-decider GO, quorum", THREE, quorum(2), votes(("U1", GO), ("U9", GO)), PENDING, False, ("U2", "U3")),
    # quorum: GO once N go votes and no standing NO-GO
    ("quorum 2 of 3, one GO", THREE, quorum(2), votes(("U1", GO)), PENDING, False, ("U2", "U3")),
    ("quorum 2 of 3, two GO", THREE, quorum(2), votes(("U1", GO), ("U3", GO)), DECIDED_GO, False, ("U2",)),
    (
        "quorum 2 of 3, GO and risk",
        THREE,
        quorum(2),
        votes(("U1", GO), ("U2", RISK)),
        DECIDED_GO,
        True,
        ("U3",),
    ),
    (
        "quorum 2 of 3, two GO but a NO-GO stands",
        THREE,
        quorum(2),
        votes(("U1", GO), ("U2", GO), ("U3", NO)),
        DECIDED_NO,
        False,
        (),
    ),
    (
        "quorum 2 of 3, NO-GO and GO, one left",
        THREE,
        quorum(2),
        votes(("U1", NO), ("U2", GO)),
        PENDING,
        False,
        ("U3",),
    ),
    (
        "quorum 2 of 3, NO-GO then changed",
        THREE,
        quorum(2),
        votes(("U1", NO), ("U2", GO), ("U1", GO)),
        DECIDED_GO,
        False,
        ("U3",),
    ),
    ("quorum 1 of 2, one GO", TWO, quorum(1), votes(("U2", GO)), DECIDED_GO, False, ("U1",)),
    ("quorum 1 of 2, one NO-GO", TWO, quorum(1), votes(("U2", NO)), PENDING, False, ("U1",)),
    ("quorum 1 of 2, both NO-GO", TWO, quorum(1), votes(("U1", NO), ("U2", NO)), DECIDED_NO, False, ()),
    ("quorum 2 of 2, both GO", TWO, quorum(2), votes(("U1", GO), ("U2", RISK)), DECIDED_GO, True, ()),
    (
        "quorum 3 of 4, three GO",
        FOUR,
        quorum(3),
        votes(("U1", GO), ("U2", GO), ("U3", GO)),
        DECIDED_GO,
        False,
        ("U4",),
    ),
    ("quorum 3 of 4, two GO", FOUR, quorum(3), votes(("U1", GO), ("U2", GO)), PENDING, False, ("U3", "U4")),
    (
        "quorum 3 of 4, everyone voted, not enough GO",
        FOUR,
        quorum(3),
        votes(("U1", GO), ("U2", GO), ("U3", NO), ("U4", NO)),
        DECIDED_NO,
        False,
        (),
    ),
    # a quorum above the number of deciders can never reach GO
    ("quorum 3 of 2, both GO", TWO, quorum(3), votes(("U1", GO), ("U2", GO)), DECIDED_NO, False, ()),
    ("quorum 3 of 2, one GO", TWO, quorum(3), votes(("U1", GO)), PENDING, False, ("U2",)),
    # no deciders: nothing can be decided
    ("no deciders, unanimous", (), UNANIMOUS, [], PENDING, False, ()),
    ("no deciders, votes ignored", (), UNANIMOUS, votes(("U1", GO)), PENDING, False, ()),
    ("no deciders, quorum", (), quorum(1), votes(("U1", GO)), PENDING, False, ()),
    # a decider listed twice has one vote
    (
        "duplicate decider",
        ("U1", "U1", "U2"),
        UNANIMOUS,
        votes(("U1", GO), ("U2", GO)),
        DECIDED_GO,
        False,
        (),
    ),
    ("duplicate decider, quorum 2", ("U1", "U1"), quorum(2), votes(("U1", GO)), DECIDED_NO, False, ()),
]


@pytest.mark.parametrize(
    ("deciders", "rule", "cast", "outcome", "with_risk", "waiting"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(deciders, rule, cast, outcome, with_risk, waiting) -> None:
    decision = decide(cast, deciders, rule)
    assert decision.outcome is outcome
    assert decision.with_risk is with_risk
    assert decision.waiting_for == waiting


def test_votes_are_the_latest_per_decider_in_decider_order() -> None:
    cast = [
        vote("U3", GO, 1),
        vote("U1", NO, 2),
        vote("U1", RISK, 3, "rollback rehearsed"),
        vote("U9", GO, 4),
    ]
    decision = decide(cast, THREE, UNANIMOUS)
    assert [(v.user_id, v.choice) for v in decision.votes] == [("U1", RISK), ("U3", GO)]
    assert decision.votes[0].reason == "rollback rehearsed"
    assert decision.waiting_for == ("U2",)


def test_ignored_holds_the_latest_vote_of_each_non_decider() -> None:
    cast = [vote("U8", GO, 5), vote("U9", NO, 1), vote("U9", GO, 2), vote("U1", GO, 3)]
    decision = decide(cast, ("U1",), UNANIMOUS)
    assert [(v.user_id, v.choice) for v in decision.ignored] == [("U9", GO), ("U8", GO)]
    assert decision.outcome is DECIDED_GO


def test_removed_decider_vote_is_ignored_and_the_rest_decide() -> None:
    # U2 voted NO-GO, then was removed from the deciders.
    cast = votes(("U1", GO), ("U2", NO), ("U3", GO))
    decision = decide(cast, ("U1", "U3"), UNANIMOUS)
    assert decision.outcome is DECIDED_GO
    assert [v.user_id for v in decision.ignored] == ["U2"]


def test_tie_in_time_counts_the_more_cautious_vote() -> None:
    same_time = [vote("U1", GO), vote("U1", NO), vote("U1", RISK)]
    assert decide(same_time, ("U1",), UNANIMOUS).votes[0].choice is NO
    assert decide(list(reversed(same_time)), ("U1",), UNANIMOUS).votes[0].choice is NO


def test_with_risk_only_when_go() -> None:
    decision = decide(votes(("U1", RISK), ("U2", NO)), TWO, UNANIMOUS)
    assert decision.outcome is DECIDED_NO and not decision.with_risk


# --- properties ---------------------------------------------------------------------------------

USERS = ("U1", "U2", "U3", "U4", "U9")
vote_strategy = st.builds(
    vote,
    st.sampled_from(USERS),
    st.sampled_from(list(Choice)),
    st.integers(min_value=0, max_value=5),  # few distinct times, so ties happen
    st.sampled_from([None, "", "a", "b"]),
)
rule_strategy = st.one_of(st.just(UNANIMOUS), st.integers(1, 5).map(quorum))
deciders_strategy = st.lists(st.sampled_from(USERS[:4]), max_size=4, unique=True)


@settings(max_examples=300)
@given(st.lists(vote_strategy, max_size=10), deciders_strategy, rule_strategy, st.randoms())
def test_outcome_never_depends_on_vote_order(cast, deciders, rule, rnd) -> None:
    shuffled = list(cast)
    rnd.shuffle(shuffled)
    assert decide(shuffled, deciders, rule) == decide(cast, deciders, rule)


@settings(max_examples=300)
@given(st.lists(vote_strategy, max_size=10), deciders_strategy)
def test_a_standing_no_go_means_never_go_under_unanimous(cast, deciders) -> None:
    decision = decide(cast, deciders, UNANIMOUS)
    if any(v.choice is NO for v in decision.votes):
        assert decision.outcome is not DECIDED_GO


@settings(max_examples=300)
@given(st.lists(vote_strategy, max_size=10), deciders_strategy, rule_strategy)
def test_every_decider_is_either_counted_or_awaited(cast, deciders, rule) -> None:
    decision = decide(cast, deciders, rule)
    assert sorted([v.user_id for v in decision.votes] + list(decision.waiting_for)) == sorted(deciders)
    assert not {v.user_id for v in decision.ignored} & set(deciders)
    if decision.outcome is DECIDED_NO or (rule.kind == "unanimous" and decision.outcome is DECIDED_GO):
        assert not decision.waiting_for


# --- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("unanimous", UNANIMOUS),
        ("  Unanimous ", UNANIMOUS),
        ("quorum 2", quorum(2)),
        ("QUORUM  3", quorum(3)),
        ("quorum:2", quorum(2)),
        ("quorum : 4", quorum(4)),
        ("quorum of 2", quorum(2)),
        ("quorum 100", quorum(100)),
    ],
)
def test_parse_rule(text: str, rule: DecisionRule) -> None:
    assert parse_rule(text) == rule


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "quorum",
        "quorum 0",
        "quorum -1",
        "quorum x",
        "quorum 2.5",
        "quorum 101",
        "quorum 2 3",
        "majority",
        "2 of 3",
        "quorum ９",  # a full-width digit: int() would take it, the rule must not
        "unanimous please",
        "quorum 99999999999999999999",
    ],
)
def test_parse_rule_refuses(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_rule(text)
    assert "unanimous or quorum N" in str(caught.value)


def test_parse_rule_escapes_what_it_echoes() -> None:
    with pytest.raises(UsageError) as caught:
        parse_rule("<!channel> & co")
    assert "&lt;!channel&gt; &amp; co" in caught.value.message


@pytest.mark.parametrize("rule", [UNANIMOUS, quorum(1), quorum(2), quorum(100)])
def test_stored_form_reads_back(rule: DecisionRule) -> None:
    assert rule_from_stored(rule.stored()) == rule
    assert parse_rule(rule.stored()) == rule


def test_describe_and_stored() -> None:
    assert (UNANIMOUS.describe(), UNANIMOUS.stored()) == ("unanimous", "unanimous")
    assert (quorum(2).describe(), quorum(2).stored()) == ("quorum of 2", "quorum:2")


def test_stored_none_is_unanimous() -> None:
    assert rule_from_stored(None) == DEFAULT_RULE == UNANIMOUS


@pytest.mark.parametrize("text", ["", "quorum:0", "quorum 2", "Unanimous", "quorum:x"])
def test_corrupt_stored_rule_is_a_programming_error(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable"):
        rule_from_stored(text)


@pytest.mark.parametrize(
    ("kind", "n"), [("unanimous", 2), ("quorum", None), ("quorum", 0), ("majority", None)]
)
def test_rule_rejects_impossible_fields(kind: str, n: int | None) -> None:
    with pytest.raises(ValueError):
        DecisionRule(kind, n)


@pytest.mark.parametrize(
    ("rule", "deciders"),
    [(UNANIMOUS, ()), (UNANIMOUS, TWO), (quorum(1), ("U1",)), (quorum(2), TWO), (quorum(2), THREE)],
)
def test_validate_rule_accepts(rule: DecisionRule, deciders: tuple[str, ...]) -> None:
    validate_rule(rule, deciders)


@pytest.mark.parametrize(
    ("rule", "deciders", "says"),
    [
        (quorum(3), TWO, "only 2 deciders"),
        (quorum(2), ("U1",), "only 1 decider."),
        (quorum(2), ("U1", "U1"), "only 1 decider."),
        (quorum(1), (), "no deciders"),
    ],
)
def test_validate_rule_refuses_an_unreachable_quorum(
    rule: DecisionRule, deciders: tuple[str, ...], says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_rule(rule, deciders)
    assert says in caught.value.message
    assert "lower the quorum" in caught.value.message


# --- votes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "reason", "cleaned"),
    [
        (GO, None, None),
        (GO, "   ", None),
        (GO, " all green ", "all green"),
        (RISK, "rollback rehearsed", "rollback rehearsed"),
        (NO, "  pen-test pending\r\nvendor late  ", "pen-test pending\nvendor late"),
    ],
)
def test_check_vote(choice: Choice, reason: str | None, cleaned: str | None) -> None:
    assert check_vote(choice, reason) == cleaned


@pytest.mark.parametrize(
    ("choice", "says"), [(RISK, "GO WITH RISK needs a reason"), (NO, "NO-GO needs a reason")]
)
@pytest.mark.parametrize("reason", [None, "", " \n "])
def test_check_vote_needs_a_reason(choice: Choice, says: str, reason: str | None) -> None:
    with pytest.raises(InvalidInput, match=says):
        check_vote(choice, reason)


@pytest.mark.parametrize(("reason", "says"), [("x" * 501, "under 500"), ("bad\x00byte", "control character")])
def test_check_vote_refuses_unstorable_reasons(reason: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        check_vote(NO, reason)


def test_choice_labels() -> None:
    assert [c.label for c in Choice] == ["GO", "GO WITH RISK", "NO-GO"]
    assert [c.is_go for c in Choice] == [True, True, False]
