"""The reminder ladder and the digest planner: which scheduled sends are due now, to whom, about what.

`plan` is pure: the engine passes `now` and `since` (its previous tick) and gets the sends whose slot lies
in (since, now]. Each send has a stable `key`, so the engine can insert one Delivery row per key (ON
CONFLICT DO NOTHING) and send each exactly once; consecutive windows never return the same key.

The rules:
- Rungs per open item and per owner, in the owner's zone and working hours (see workhours.py):
  due now at `due_at`, moved back to the last working minute when `due_at` is outside working hours;
  heads-up at the start of the working day `heads_up_working_days` working days before the due-now rung's
  day (0 turns heads-ups off); overdue at every working-day start after the due-now rung (only the first
  one when `overdue_every_working_day` is False).
- A DIGEST is one DM per (person, slot), across releases: every rung of that person at the same instant.
  Heads-up and overdue rungs sit at working-day starts, so most reminders share the person's morning slot.
- Closed items, items of inactive releases and items without owners get no digest rungs. Muted people get
  no DMs (digests or escalations). A snooze on an item skips that person's rungs with slot < snoozed_until;
  it never holds back escalations, which are the managers' business.
- An ESCALATION goes to each manager of a release once an open item has been overdue for
  `escalate_after_working_hours` of the manager's working hours, counted from `due_at`; an instant outside
  the manager's working hours moves forward to their next working start, so it never comes early. One per
  (manager, release, slot).
- FINAL_CALL posts to the release channel at launch − final_call_before when items are still open;
  SUMMARY posts there at launch − each summary offset, open items or not. Channel posts ignore working hours.
- Useful windows (`expires_at`): a heads-up until the item's due-now rung; due-now, overdue and escalation
  rungs until the next working start after their slot (when the next overdue rung takes over); channel
  posts until launch. `useful_window`, when set, shortens every window to at most that long after the slot.
- A send whose slot is in (since, now] but whose window has closed (expires_at <= now: the bot was down)
  goes to `missed` instead of `due`. Within one digest or escalation only items whose window is still open
  are sent; the send is missed only when none is, and its expires_at is the latest of its items'.
- Output is ordered by slot, then kind (digest, escalation, final call, summary), recipient and release;
  items in a send by release launch, release id and position.
"""

from __future__ import annotations

import bisect
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bot.domain.model import ItemState
from bot.domain.schedule import zone
from bot.domain.workhours import (
    STANDARD_HOURS,
    WorkingHours,
    add_working_hours,
    is_working,
    last_working_instant_at_or_before,
    next_working_start_after,
    working_day_start,
)

MAX_KEY_LENGTH = 200


class SendKind(enum.StrEnum):
    DIGEST = "digest"
    ESCALATION = "escalation"
    FINAL_CALL = "final_call"
    SUMMARY = "summary"


class Reason(enum.StrEnum):
    HEADS_UP = "heads_up"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class LadderConfig:
    """When the ladder's rungs and the channel posts fall."""

    heads_up_working_days: int = 1
    overdue_every_working_day: bool = True
    escalate_after_working_hours: float = 24
    final_call_before: timedelta = timedelta(hours=2)
    summary_offsets: tuple[timedelta, ...] = (timedelta(hours=24),)
    useful_window: timedelta | None = None  # None: the rung's own window only

    def __post_init__(self) -> None:
        if self.heads_up_working_days < 0:
            raise ValueError("heads_up_working_days must be 0 (off) or more")
        if not self.escalate_after_working_hours > 0:
            raise ValueError("escalate_after_working_hours must be positive")
        durations = (self.final_call_before, *self.summary_offsets)
        if self.useful_window is not None:
            durations += (self.useful_window,)
        if any(d <= timedelta(0) for d in durations):
            raise ValueError("final_call_before, summary_offsets and useful_window must be positive")


@dataclass(frozen=True, slots=True)
class PersonPrefs:
    """How and when one person wants to hear from the bot."""

    user_id: str
    tz: str
    hours: WorkingHours = STANDARD_HOURS
    muted: bool = False
    snoozed_until: Mapping[int, datetime] = field(default_factory=dict)  # item id -> until

    def __post_init__(self) -> None:
        zone(self.tz)  # a bad zone fails here, where the person is read, not in the middle of a tick


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A checklist item as the planner sees it; owners are users, groups already expanded."""

    release_id: int
    item_id: int
    position: int
    title: str
    due_at: datetime
    state: ItemState
    owner_ids: tuple[str, ...]
    launch_at: datetime


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """A release as the planner sees it."""

    release_id: int
    name: str
    channel_id: str
    launch_at: datetime
    managers: tuple[str, ...]
    active: bool
    # Per-release overrides of the ladder's channel posts; None means the LadderConfig's.
    summary_offsets: tuple[timedelta, ...] | None = None
    final_call_before: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """One scheduled message: the content references the engine renders and the slot it belongs to."""

    kind: SendKind
    recipient: str  # a user id for DMs, the release channel for channel posts
    slot: datetime
    release_id: int | None  # None for digests, which span releases
    item_ids: tuple[int, ...]
    reasons: Mapping[int, Reason]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """Sends to make now, and sends whose useful window closed while nobody was planning."""

    due: list[Send]
    missed: list[Send]


def key(send: Send) -> str:
    """The Delivery key: stable for the same release, kind, recipient and slot."""
    release = "-" if send.release_id is None else str(send.release_id)
    text = f"{release}:{send.kind}:{send.recipient}:{send.slot.astimezone(UTC).isoformat()}"
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"delivery key longer than {MAX_KEY_LENGTH} characters: {text[:60]}…")
    return text


def utc_prefs(user_id: str) -> PersonPrefs:
    """Preferences for someone the bot knows nothing about: UTC, standard hours."""
    return PersonPrefs(user_id, "UTC")


def plan(
    now: datetime,
    since: datetime,
    items: Iterable[OpenItem],
    releases: Iterable[ReleaseInfo],
    people: Mapping[str, PersonPrefs],
    config: LadderConfig = LadderConfig(),
    default_prefs_for: Callable[[str], PersonPrefs] = utc_prefs,
) -> Plan:
    """The sends with a slot in (since, now]: `due` when still useful at `now`, `missed` otherwise."""
    for value, name in ((now, "now"), (since, "since")):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    if since > now:
        raise ValueError(f"since ({since.isoformat()}) is after now ({now.isoformat()})")
    ctx = _Context(now, since, config, people, default_prefs_for)
    active = {release.release_id: release for release in releases if release.active}
    open_items: dict[int, list[OpenItem]] = defaultdict(list)
    for item in items:
        release = active.get(item.release_id)
        if release is None or item.state.is_closed:
            continue
        open_items[release.release_id].append(item)
        _plan_digests(item, ctx)
        _plan_escalations(item, release, ctx)
    for release in active.values():
        _plan_channel_posts(release, open_items[release.release_id], ctx)
    return ctx.finish()


@dataclass(frozen=True, slots=True)
class _Rung:
    slot: datetime
    reason: Reason
    expires_at: datetime


class _Entry(NamedTuple):
    """One item in a send: where it sorts, why it is there and until when that is worth saying."""

    order: tuple[datetime, int, int, int]
    reason: Reason
    expires_at: datetime


@dataclass(slots=True)
class _Group:
    """The items gathered for one send."""

    entries: dict[int, _Entry] = field(default_factory=dict)

    def add(self, item: OpenItem, reason: Reason, expires_at: datetime) -> None:
        """Gather `item`; the same item met again (an owner listed twice) replaces itself."""
        order = (item.launch_at, item.release_id, item.position, item.item_id)
        self.entries[item.item_id] = _Entry(order, reason, expires_at)


_GroupKey = tuple[SendKind, str, int | None, datetime]
_KIND_RANK = {kind: rank for rank, kind in enumerate(SendKind)}


class _Context:
    """One planning pass: the window, per-pass caches and the sends gathered so far."""

    def __init__(
        self,
        now: datetime,
        since: datetime,
        config: LadderConfig,
        people: Mapping[str, PersonPrefs],
        default_prefs_for: Callable[[str], PersonPrefs],
    ) -> None:
        self.now, self.since, self.config = now, since, config
        self.people, self.default_prefs_for = people, default_prefs_for
        self.escalate_after = timedelta(hours=config.escalate_after_working_hours)
        self.groups: dict[_GroupKey, _Group] = defaultdict(_Group)
        self.channel_posts: list[Send] = []
        self._prefs: dict[str, PersonPrefs] = {}
        self._mornings: dict[tuple[str, WorkingHours], tuple[list[datetime], list[datetime]]] = {}
        self._early_cutoffs: dict[tuple[str, WorkingHours], datetime] = {}
        self._early_rungs: dict[tuple[datetime, str, WorkingHours], tuple[_Rung, ...]] = {}
        self._escalation_ranges: dict[tuple[str, WorkingHours], tuple[datetime, datetime]] = {}
        self._escalation_slots: dict[tuple[datetime, str, WorkingHours], datetime] = {}

    def in_window(self, slot: datetime) -> bool:
        """Whether `slot` belongs to this pass."""
        return self.since < slot <= self.now

    def prefs(self, user_id: str) -> PersonPrefs:
        """A person's preferences, or the defaults for someone without any."""
        found = self._prefs.get(user_id)
        if found is None:
            found = self.people.get(user_id) or self.default_prefs_for(user_id)
            self._prefs[user_id] = found
        return found

    def mornings(self, tz: str, hours: WorkingHours) -> tuple[list[datetime], list[datetime]]:
        """Working-day starts in (since, now] for these hours, each with the next start after it."""
        cache_key = (tz, hours)
        if cache_key not in self._mornings:
            starts, nexts = [], []
            start = next_working_start_after(self.since, tz, hours)
            while start <= self.now:
                following = next_working_start_after(start, tz, hours)
                starts.append(start)
                nexts.append(following)
                start = following
            self._mornings[cache_key] = (starts, nexts)
        return self._mornings[cache_key]

    def early_cutoff(self, tz: str, hours: WorkingHours) -> datetime:
        """Items due at or after this instant have no heads-up or due-now rung up to now.

        A heads-up N working days before the due-now rung's working day has come by now exactly when that day
        is at most N working days after the one holding now (or the last before it), that is when the rung,
        and so due_at, is before the start of the working day N + 1 after it.
        """
        cache_key = (tz, hours)
        if cache_key not in self._early_cutoffs:
            offset = self.config.heads_up_working_days + 1
            self._early_cutoffs[cache_key] = working_day_start(self.now, tz, hours, offset)
        return self._early_cutoffs[cache_key]

    def early_rungs(self, due_at: datetime, tz: str, hours: WorkingHours) -> tuple[_Rung, ...]:
        """The in-window heads-up and due-now rungs for this due time and these hours, computed once."""
        cache_key = (due_at, tz, hours)
        if cache_key not in self._early_rungs:
            self._early_rungs[cache_key] = _early_rungs(due_at, tz, hours, self)
        return self._early_rungs[cache_key]

    def escalation_slot(self, due_at: datetime, prefs: PersonPrefs) -> datetime | None:
        """When a manager hears about an item due at `due_at`, inside their working hours; None if not now."""
        low, high = self.escalation_due_range(prefs.tz, prefs.hours)
        if not low < due_at <= high:
            return None
        cache_key = (due_at, prefs.tz, prefs.hours)
        if cache_key not in self._escalation_slots:
            count = self.config.escalate_after_working_hours
            threshold = add_working_hours(due_at, count, prefs.tz, prefs.hours)
            if not is_working(threshold, prefs.tz, prefs.hours):
                threshold = next_working_start_after(threshold, prefs.tz, prefs.hours)
            self._escalation_slots[cache_key] = threshold
        return self._escalation_slots[cache_key]

    def escalation_due_range(self, tz: str, hours: WorkingHours) -> tuple[datetime, datetime]:
        """Only items due in (low, high] can have an escalation slot in the window.

        The threshold grows with due_at, and it is at or before an instant t exactly when due_at is at or
        before t minus the same working hours counted backward. Items due after `high` are not yet past the
        threshold at now; items due at or before `low` reached it at a working instant no later than since.
        """
        cache_key = (tz, hours)
        if cache_key not in self._escalation_ranges:
            back = -self.config.escalate_after_working_hours
            last_working = last_working_instant_at_or_before(self.since, tz, hours)
            low = add_working_hours(last_working, back, tz, hours)
            self._escalation_ranges[cache_key] = (low, add_working_hours(self.now, back, tz, hours))
        return self._escalation_ranges[cache_key]

    def capped(self, slot: datetime, expires_at: datetime) -> datetime:
        """`expires_at`, shortened by the configured useful window."""
        window = self.config.useful_window
        return expires_at if window is None else min(expires_at, slot + window)

    def finish(self) -> Plan:
        """Turn the gathered groups and posts into an ordered plan."""
        due: list[Send] = []
        missed: list[Send] = []
        for (kind, recipient, release_id, slot), group in self.groups.items():
            send, live = _grouped_send(kind, recipient, release_id, slot, group, self.now)
            (due if live else missed).append(send)
        for send in self.channel_posts:
            (due if send.expires_at > self.now else missed).append(send)
        return Plan(due=sorted(due, key=_send_order), missed=sorted(missed, key=_send_order))


def _plan_digests(item: OpenItem, ctx: _Context) -> None:
    """Gather the item's rungs in the window into each owner's digest."""
    for owner in dict.fromkeys(item.owner_ids):  # dedupe: one user can reach an item through two groups
        prefs = ctx.prefs(owner)
        if prefs.muted:
            continue
        snoozed_until = prefs.snoozed_until.get(item.item_id)
        for rung in _rungs(item, prefs, ctx):
            if snoozed_until is not None and rung.slot < snoozed_until:
                continue
            expires_at = ctx.capped(rung.slot, rung.expires_at)
            ctx.groups[(SendKind.DIGEST, owner, None, rung.slot)].add(item, rung.reason, expires_at)


def _rungs(item: OpenItem, prefs: PersonPrefs, ctx: _Context) -> Iterator[_Rung]:
    """The item's ladder rungs for one owner whose slot lies in the window."""
    # Heads-up and due-now come at or before due_at, so only then can they be new; and before the cutoff.
    if ctx.since < item.due_at < ctx.early_cutoff(prefs.tz, prefs.hours):
        yield from ctx.early_rungs(item.due_at, prefs.tz, prefs.hours)
    if item.due_at >= ctx.now:
        return  # overdue rungs come after due_at
    if not ctx.config.overdue_every_working_day:
        yield from _first_overdue_rung(item.due_at, prefs, ctx)
        return
    starts, nexts = ctx.mornings(prefs.tz, prefs.hours)
    # No working period starts between the due-now rung and due_at, so "after due_at" is "after the rung".
    first = bisect.bisect_right(starts, item.due_at)
    for slot, expires_at in zip(starts[first:], nexts[first:], strict=True):
        yield _Rung(slot, Reason.OVERDUE, expires_at)


def _early_rungs(due_at: datetime, tz: str, hours: WorkingHours, ctx: _Context) -> tuple[_Rung, ...]:
    """The heads-up and due-now rungs for an item due at `due_at` that lie in the window."""
    due_slot = last_working_instant_at_or_before(due_at, tz, hours)
    if due_slot <= ctx.since:
        return ()  # the heads-up comes before the due-now rung, so neither is new
    rungs = []
    if ctx.config.heads_up_working_days:
        heads_up = working_day_start(due_slot, tz, hours, -ctx.config.heads_up_working_days)
        if ctx.in_window(heads_up):
            rungs.append(_Rung(heads_up, Reason.HEADS_UP, due_slot))
    if ctx.in_window(due_slot):
        rungs.append(_Rung(due_slot, Reason.DUE, next_working_start_after(due_slot, tz, hours)))
    return tuple(rungs)


def _first_overdue_rung(due_at: datetime, prefs: PersonPrefs, ctx: _Context) -> Iterator[_Rung]:
    """The single overdue rung, for ladders that do not repeat, when it lies in the window."""
    due_slot = last_working_instant_at_or_before(due_at, prefs.tz, prefs.hours)
    slot = next_working_start_after(due_slot, prefs.tz, prefs.hours)
    if ctx.in_window(slot):
        yield _Rung(slot, Reason.OVERDUE, next_working_start_after(slot, prefs.tz, prefs.hours))


def _plan_escalations(item: OpenItem, release: ReleaseInfo, ctx: _Context) -> None:
    """Gather the item into each manager's escalation when its threshold falls in the window."""
    if item.due_at + ctx.escalate_after > ctx.now:
        return  # working hours pass no faster than the clock: the threshold is still ahead
    for manager in dict.fromkeys(release.managers):
        prefs = ctx.prefs(manager)
        if prefs.muted:
            continue
        slot = ctx.escalation_slot(item.due_at, prefs)
        if slot is None or not ctx.in_window(slot):
            continue
        expires_at = ctx.capped(slot, next_working_start_after(slot, prefs.tz, prefs.hours))
        ctx.groups[(SendKind.ESCALATION, manager, release.release_id, slot)].add(
            item, Reason.OVERDUE, expires_at
        )


def _plan_channel_posts(release: ReleaseInfo, open_items: list[OpenItem], ctx: _Context) -> None:
    """The final call and the readiness summaries of one release that fall in the window."""
    ordered = sorted(open_items, key=lambda item: (item.position, item.item_id))
    launch_at = release.launch_at.astimezone(UTC)  # slots in UTC keep delivery keys stable
    final_call = launch_at - (
        release.final_call_before if release.final_call_before is not None else ctx.config.final_call_before
    )
    if ordered and ctx.in_window(final_call):
        ctx.channel_posts.append(_channel_post(SendKind.FINAL_CALL, release, final_call, ordered, ctx))
    offsets = release.summary_offsets if release.summary_offsets is not None else ctx.config.summary_offsets
    for offset in dict.fromkeys(offsets):
        slot = launch_at - offset
        if ctx.in_window(slot):
            ctx.channel_posts.append(_channel_post(SendKind.SUMMARY, release, slot, ordered, ctx))


def _channel_post(
    kind: SendKind, release: ReleaseInfo, slot: datetime, items: list[OpenItem], ctx: _Context
) -> Send:
    """A post to the release channel listing `items`, each with where it stands at `slot`."""
    return Send(
        kind=kind,
        recipient=release.channel_id,
        slot=slot,
        release_id=release.release_id,
        item_ids=tuple(item.item_id for item in items),
        reasons={item.item_id: _reason_at(item.due_at, slot) for item in items},
        expires_at=ctx.capped(slot, release.launch_at.astimezone(UTC)),
    )


def _reason_at(due_at: datetime, at: datetime) -> Reason:
    """Where an item due at `due_at` stands at `at`."""
    if due_at < at:
        return Reason.OVERDUE
    return Reason.DUE if due_at == at else Reason.HEADS_UP


def _grouped_send(
    kind: SendKind, recipient: str, release_id: int | None, slot: datetime, group: _Group, now: datetime
) -> tuple[Send, bool]:
    """The send for one group and whether it is still useful: its live items, or all of them when none is."""
    entries = sorted(group.entries.items(), key=lambda pair: pair[1].order)
    live = [(item_id, entry) for item_id, entry in entries if entry.expires_at > now]
    chosen = live or entries
    send = Send(
        kind=kind,
        recipient=recipient,
        slot=slot,
        release_id=release_id,
        item_ids=tuple(item_id for item_id, _ in chosen),
        reasons={item_id: entry.reason for item_id, entry in chosen},
        expires_at=max(entry.expires_at for _, entry in chosen),
    )
    return send, bool(live)


def _send_order(send: Send) -> tuple:
    """Deterministic output order: slot, kind, recipient, release."""
    return (
        send.slot,
        _KIND_RANK[send.kind],
        send.recipient,
        -1 if send.release_id is None else send.release_id,
    )
