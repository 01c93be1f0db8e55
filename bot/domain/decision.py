"""The go/no-go vote: what a vote is, which rule decides, and what the current votes add up to.

Rules (the README and the help text rely on them):

* Only the release's deciders count. A vote from anyone else is reported as ignored, never counted
  (someone who voted and was then removed from the deciders keeps no say).
* A person's latest vote replaces their earlier ones: of two votes by one person the later ``at`` wins;
  on an exact tie the more cautious choice wins (NO-GO over GO WITH RISK over GO), so the outcome never
  depends on the order votes are passed in.
* GO WITH RISK and NO-GO need a reason; GO may carry one.
* ``unanimous`` (the default): decided once every decider has voted — GO if every vote is GO or GO WITH
  RISK, otherwise NO-GO. Until then PENDING, since votes may still change.
* ``quorum N``: GO as soon as at least N deciders vote GO or GO WITH RISK while no decider's vote is
  NO-GO (a standing NO-GO blocks GO, but it may still be changed). NO-GO once every decider has voted
  and GO was not reached. Otherwise PENDING. A quorum larger than the number of deciders can never reach
  GO: it stays PENDING until everyone has voted, then NO-GO; ``validate_rule`` refuses such a rule.
* A GO counts as "with risk" when any decider's current vote is GO WITH RISK.
* No deciders: PENDING, waiting for nobody (the caller refuses votes then).
* ``decide`` describes the current votes only; whether a reached outcome is final is the caller's call.

Rules are written ``unanimous`` or ``quorum 2`` (also ``quorum:2``, ``quorum of 2``), any case.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import InvalidInput, UsageError
from bot.domain.text import clean_note, excerpt

UNANIMOUS = "unanimous"
QUORUM = "quorum"
MAX_QUORUM = 100  # far beyond any real decider list; keeps absurd numbers out of messages
MAX_REASON = 500  # a reason is shown next to the vote on the summary, so it stays short

RULE_FORMS = "Write the rule as unanimous or quorum N, e.g. quorum 2."
_QUORUM_TEXT = re.compile(r"quorum(?:\s*:\s*|\s+of\s+|\s+)([+-]?\w+)", re.ASCII | re.IGNORECASE)
_STORED_QUORUM = re.compile(r"quorum:([1-9][0-9]*)", re.ASCII)


class Choice(enum.StrEnum):
    GO = "go"
    GO_WITH_RISK = "go_with_risk"
    NO_GO = "no_go"

    @property
    def label(self) -> str:
        """How the choice is written for people: GO, GO WITH RISK, NO-GO."""
        return _CHOICE_LABELS[self]

    @property
    def is_go(self) -> bool:
        """GO and GO WITH RISK both count towards GO."""
        return self is not Choice.NO_GO


_CHOICE_LABELS = {Choice.GO: "GO", Choice.GO_WITH_RISK: "GO WITH RISK", Choice.NO_GO: "NO-GO"}
# On a tie in time the more cautious vote stands; higher is more cautious.
_CAUTION = {Choice.GO: 0, Choice.GO_WITH_RISK: 1, Choice.NO_GO: 2}


class Outcome(enum.StrEnum):
    PENDING = "pending"
    GO = "go"
    NO_GO = "no_go"


@dataclass(frozen=True, slots=True)
class Vote:
    """One decider's choice at a moment; reason is required for GO WITH RISK and NO-GO."""

    user_id: str
    choice: Choice
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """How the deciders' votes become a decision: everyone agrees, or a quorum of GO votes."""

    kind: str  # UNANIMOUS | QUORUM
    quorum: int | None = None  # only for QUORUM

    def __post_init__(self) -> None:
        if self.kind == UNANIMOUS and self.quorum is None:
            return
        if self.kind == QUORUM and isinstance(self.quorum, int) and 1 <= self.quorum <= MAX_QUORUM:
            return
        raise ValueError(f"not a decision rule: kind={self.kind!r} quorum={self.quorum!r}")

    def describe(self) -> str:
        """For people: 'unanimous' or 'quorum of 2'."""
        return UNANIMOUS if self.kind == UNANIMOUS else f"quorum of {self.quorum}"

    def stored(self) -> str:
        """For the database column: 'unanimous' or 'quorum:2' (read back by rule_from_stored)."""
        return UNANIMOUS if self.kind == UNANIMOUS else f"quorum:{self.quorum}"


DEFAULT_RULE = DecisionRule(UNANIMOUS)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the current votes add up to under a rule."""

    outcome: Outcome
    with_risk: bool  # GO reached while at least one counted vote is GO WITH RISK
    votes: tuple[Vote, ...]  # the deciders' current votes, in decider order
    waiting_for: tuple[str, ...]  # deciders who have not voted, in decider order
    ignored: tuple[Vote, ...]  # latest votes of people who are not deciders (not counted)


def parse_rule(text: str) -> DecisionRule:
    """Read 'unanimous' or 'quorum N' (also 'quorum:N', 'quorum of N'); UsageError otherwise."""
    words = " ".join(text.split())
    if words.casefold() == UNANIMOUS:
        return DEFAULT_RULE
    match = _QUORUM_TEXT.fullmatch(words)
    if not match:
        shown = f'"{excerpt(words)}" is not' if words else "That is not"
        raise UsageError(f"{shown} a decision rule.", hint=RULE_FORMS)
    count = match.group(1)
    if not count.isdigit() or len(count) > 3 or not 1 <= int(count) <= MAX_QUORUM:
        raise UsageError(
            f'A quorum is a whole number of deciders from 1 to {MAX_QUORUM}, not "{excerpt(count)}".',
            hint=RULE_FORMS,
        )
    return DecisionRule(QUORUM, int(count))


def rule_from_stored(text: str | None) -> DecisionRule:
    """The rule a database column holds (None means unanimous); ValueError if the column is corrupt."""
    if text is None or text == UNANIMOUS:
        return DEFAULT_RULE
    match = _STORED_QUORUM.fullmatch(text)
    if not match:
        raise ValueError(f"stored decision rule is unreadable: {text!r}")
    return DecisionRule(QUORUM, int(match.group(1)))


def validate_rule(rule: DecisionRule, deciders: Sequence[str]) -> None:
    """InvalidInput when the rule can never reach GO with these deciders (a quorum above their number)."""
    count = len(set(deciders))
    if rule.kind == QUORUM and rule.quorum is not None and rule.quorum > count:
        people = "no deciders" if not count else f"only {count} decider{'s' if count != 1 else ''}"
        raise InvalidInput(
            f"A quorum of {rule.quorum} can never be reached: this release has {people}. "
            "Add deciders or lower the quorum."
        )


def check_vote(choice: Choice, reason: str | None) -> str | None:
    """The cleaned reason for a vote; InvalidInput if GO WITH RISK or NO-GO comes without one."""
    if reason is None or not reason.strip():
        if choice is Choice.GO_WITH_RISK:
            raise InvalidInput("GO WITH RISK needs a reason: say which risk you are accepting.")
        if choice is Choice.NO_GO:
            raise InvalidInput("NO-GO needs a reason: say what has to change before launch.")
        return None
    return clean_note(reason, field="reason", max_len=MAX_REASON)


def decide(votes: Sequence[Vote], deciders: Sequence[str], rule: DecisionRule) -> Decision:
    """Apply the rule to the deciders' latest votes (see the module docstring for the semantics)."""
    order = tuple(dict.fromkeys(deciders))  # a decider listed twice still has one vote
    latest = _latest_votes(votes)
    counted = tuple(latest[user] for user in order if user in latest)
    waiting = tuple(user for user in order if user not in latest)
    is_decider = set(order)
    ignored = tuple(
        sorted((v for user, v in latest.items() if user not in is_decider), key=lambda v: (v.at, v.user_id))
    )
    outcome = _outcome(counted, waiting, rule) if order else Outcome.PENDING
    with_risk = outcome is Outcome.GO and any(v.choice is Choice.GO_WITH_RISK for v in counted)
    return Decision(outcome=outcome, with_risk=with_risk, votes=counted, waiting_for=waiting, ignored=ignored)


def _latest_votes(votes: Sequence[Vote]) -> dict[str, Vote]:
    """Each person's standing vote: the latest, and on a tie the more cautious (then by reason)."""
    latest: dict[str, Vote] = {}
    for vote in votes:
        current = latest.get(vote.user_id)
        if current is None or _rank(vote) > _rank(current):
            latest[vote.user_id] = vote
    return latest


def _rank(vote: Vote) -> tuple[datetime, int, bool, str]:
    """Orders one person's votes; the reason only breaks exact ties so the result is order-free."""
    return (vote.at, _CAUTION[vote.choice], vote.reason is not None, vote.reason or "")


def _outcome(counted: tuple[Vote, ...], waiting: tuple[str, ...], rule: DecisionRule) -> Outcome:
    """The outcome for a non-empty decider list."""
    any_no_go = any(not v.choice.is_go for v in counted)
    if rule.kind == QUORUM:
        assert rule.quorum is not None
        if not any_no_go and sum(v.choice.is_go for v in counted) >= rule.quorum:
            return Outcome.GO
    elif not waiting:
        return Outcome.NO_GO if any_no_go else Outcome.GO
    return Outcome.PENDING if waiting else Outcome.NO_GO
