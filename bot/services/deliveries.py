"""Scheduled sends, exactly once: plan rows from the database's state, claim them, post, finish fenced."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, update
from sqlmodel import col

from bot.domain.model import ItemState, OwnerKind, ReleaseState, ReleaseView
from bot.domain.reminders import (
    LadderConfig,
    OpenItem,
    PersonPrefs,
    Reason,
    ReleaseInfo,
    Send,
    SendKind,
    key,
    plan,
)
from bot.domain.timing import parse_summary_offsets
from bot.domain.workhours import WorkingHours
from bot.ports import Clock, Directory, Messenger, Posted, RecipientGone, Undeliverable, UnknownOutcome
from bot.services.results import ChannelPost, Digest, DigestEntry, Escalation, MissedNotice, Outgoing, Problem
from bot.services.views import assemble_views
from storage import delivery_repo as rows
from storage.db import unit_of_work
from storage.tables import Delivery

log = logging.getLogger(__name__)

PLANNED_UNTIL = "planned_until"
MISSED_NOTICE = "missed_notice"
PROBLEM = "problem"
# The first tick ever looks back only this far, so installing the bot does not replay history.
FIRST_LOOKBACK = timedelta(minutes=5)
# A claim outlives the slowest send it covers (Slack calls time out after 10 s; 429s wait a few seconds).
LEASE = timedelta(seconds=90)
BATCH = 50
# Failed sends are retried at least this many times, and for as long as the row is still useful (expires_at):
# an outage of Slack shorter than a reminder's window loses nothing, a longer one ends in a visible dead row.
MAX_ATTEMPTS = 5
MAX_BATCHES_PER_TICK = 40
_NEVER = timedelta(days=36500)
# Slack's answers when the app itself may no longer act (revoked, uninstalled, workspace gone): no delivery
# can succeed until an operator reinstalls the app, so a pass stops at the first one instead of trying each.
APP_REFUSED = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


class _AppRefused(Exception):
    """Slack refused the app's token: the pass stops."""


class DeliveryExtension(Protocol):
    """Another kind of scheduled send (announcements, decisions) riding on the same exactly-once rows."""

    kinds: frozenset[str]

    def plan_due(self, now: datetime) -> int:
        """Insert the rows due at `now` (idempotent by key); returns how many were new."""
        ...

    def contents(self, rows: Sequence[Delivery], now: datetime) -> dict[int, Outgoing | None]:
        """What each claimed row says now; None cancels it."""
        ...

    def sent(self, row: Delivery, posted: Posted) -> None:
        """A row reached Slack (called after it was recorded as sent)."""
        ...


@dataclass(slots=True)
class TickReport:
    """What one pass did, for the CLI, the logs and the tests."""

    at: datetime
    planned: int = 0
    missed: int = 0
    sent: int = 0
    cancelled: int = 0
    retrying: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return (
            f"tick at {self.at.isoformat()}: planned {self.planned}, missed {self.missed}, sent {self.sent}, "
            f"cancelled {self.cancelled}, retrying {self.retrying}, dead {self.dead}"
        )


class DeliveryService:
    """One entry point, run_due(now): plan what is due, then send each due row once."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        directory: Directory,
        messenger: Messenger,
        default_tz: str,
        config: LadderConfig | None = None,
        lease: timedelta = LEASE,
        extensions: Sequence[DeliveryExtension] = (),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._directory = directory
        self._messenger = messenger
        self._default_tz = default_tz
        self._config = config or LadderConfig()
        self._lease = lease
        self.extensions = list(extensions)
        self._kicked = threading.Event()
        self._kick_lock = threading.Lock()

    def kick(self) -> None:
        """Run a pass soon in the background (a person just made something due now); never two at once."""
        self._kicked.set()
        if not self._kick_lock.acquire(blocking=False):
            return  # the running kick sees the flag and goes again
        threading.Thread(target=self._run_kicks, name="delivery-kick", daemon=True).start()

    def kicking(self) -> bool:
        """A pass started by kick() is running or about to."""
        return self._kick_lock.locked() or self._kicked.is_set()

    def _run_kicks(self) -> None:
        try:
            while self._kicked.is_set():
                self._kicked.clear()
                try:
                    self.run_due(self._clock.now())
                except Exception:
                    log.exception("delivery pass after a kick failed; the ticker will retry")
        finally:
            self._kick_lock.release()

    def run_due(self, at: datetime | None = None) -> TickReport:
        """Do the work due at `at` (default: the database's clock, which every replica shares)."""
        with unit_of_work(self._engine, write=False) as session:
            now = at or rows.database_now(session=session)
        report = TickReport(at=now)
        self._plan(now, report)
        for extension in self.extensions:
            try:
                report.planned += extension.plan_due(now)
            except Exception:
                # One kind of send failing to plan must not stop reminders; the next tick tries again.
                log.exception("planning %s failed", sorted(extension.kinds))
        self._send(now, report)
        if report.planned or report.sent or report.dead or report.missed:
            log.info("%s", report)
        return report

    # ---- planning --------------------------------------------------------------------------------

    def _plan(self, now: datetime, report: TickReport) -> None:
        with unit_of_work(self._engine, write=False) as session:
            since = rows.mark(session=session, name=PLANNED_UNTIL) or now - FIRST_LOOKBACK
            if since >= now:
                return  # another replica already planned up to here: skip loading the whole state
            releases, items, owners, roles = rows.active_state(session=session)
            people, prefs, snoozes = rows.people_state(session=session)
        members = self._group_members(o.slack_id for o in owners if o.kind == OwnerKind.GROUP.value)
        # People Slack told us have left get no reminders; their items still escalate to the managers.
        gone = {p.slack_id for p in people if p.deleted}
        owners_of: dict[int, list[str]] = defaultdict(list)
        for owner in owners:
            ids = members.get(owner.slack_id, []) if owner.kind == OwnerKind.GROUP.value else [owner.slack_id]
            owners_of[owner.item_id].extend(
                u for u in ids if u not in owners_of[owner.item_id] and u not in gone
            )
        launch_of = {r.id: r.launch_at for r in releases}
        managers_of: dict[int, list[str]] = defaultdict(list)
        for role in roles:
            if role.role == "manager":  # deciders and comms owners are not escalated to
                managers_of[role.release_id].append(role.user_id)
        open_items = [
            OpenItem(
                i.release_id,
                i.id or 0,
                i.position,
                i.title,
                i.due_at,
                ItemState(i.state),
                tuple(owners_of[i.id or 0]),
                launch_of[i.release_id],
            )
            for i in items
            if not ItemState(i.state).is_closed
        ]
        infos = [
            ReleaseInfo(
                r.id or 0,
                r.name,
                r.channel_id,
                r.launch_at,
                tuple(managers_of[r.id or 0]),
                True,
            )
            for r in releases
        ]
        # Releases with their own ladder are planned with it; the plans are merged by delivery key, so a
        # person still gets one digest per slot whatever mix of releases it covers.
        by_config: dict[LadderConfig, set[int]] = defaultdict(set)
        for r in releases:
            by_config[self._ladder(r)].add(r.id or 0)
        people_prefs = self._prefs(people, prefs, snoozes)
        due: dict[str, Send] = {}
        missed_sends: dict[str, Send] = {}
        for config, ids in by_config.items():
            result = plan(
                now,
                since,
                [i for i in open_items if i.release_id in ids],
                [info for info in infos if info.release_id in ids],
                people_prefs,
                config,
                self._default_prefs,
            )
            _merge(due, result.due)
            _merge(missed_sends, result.missed)
        planned = [_row(s, rows.PENDING, None, now) for s in due.values()]
        missed = [_row(s, rows.EXPIRED, "missed while the bot was down", now) for s in missed_sends.values()]
        with unit_of_work(self._engine) as session:
            new_keys = set(rows.insert_planned(session=session, rows=planned + missed))
            new_missed = [m for m in missed if m["key"] in new_keys]
            notices = _missed_notices(new_missed, {i.id: i.release_id for i in items}, releases, now)
            rows.insert_planned(session=session, rows=notices)
            rows.advance_mark(session=session, name=PLANNED_UNTIL, at=now)
        report.planned += sum(1 for p in planned if p["key"] in new_keys)
        report.missed += len(new_missed)

    def _ladder(self, release: Any) -> LadderConfig:
        """The release's own reminder timing over the defaults."""
        base = self._config
        return replace(
            base,
            heads_up_working_days=base.heads_up_working_days
            if release.heads_up_days is None
            else release.heads_up_days,
            overdue_every_working_day=base.overdue_every_working_day
            if release.overdue_daily is None
            else release.overdue_daily,
            escalate_after_working_hours=base.escalate_after_working_hours
            if release.escalate_after_hours is None
            else release.escalate_after_hours,
            final_call_before=_final_call(release.final_call_seconds) or base.final_call_before,
            summary_offsets=parse_summary_offsets(release.summary_offsets)
            if release.summary_offsets
            else base.summary_offsets,
        )

    def _group_members(self, groups: Iterable[str]) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for group in set(groups):
            try:
                members[group] = self._directory.usergroup_members(group) or []
            except Exception:
                # Slack unreachable: the group's members miss this tick's planning, nobody else does.
                log.warning("could not expand user group %s", group, exc_info=True)
                members[group] = []
        return members

    def _prefs(self, people: list, prefs: list, snoozes: list) -> dict[str, PersonPrefs]:
        tz_of = {p.slack_id: p.tz for p in people if p.tz}
        snoozed: dict[str, dict[int, datetime]] = defaultdict(dict)
        for snooze in snoozes:
            snoozed[snooze.user_id][snooze.item_id] = snooze.until
        result: dict[str, PersonPrefs] = {}
        chosen = {p.slack_id: p for p in prefs}
        for user in set(tz_of) | set(chosen) | set(snoozed):
            choice = chosen.get(user)
            tz = (choice.tz_override if choice else None) or tz_of.get(user) or self._default_tz
            result[user] = PersonPrefs(
                user,
                tz,
                _hours(choice) if choice else WorkingHours(),
                muted=bool(choice and choice.muted),
                snoozed_until=dict(snoozed.get(user, {})),
            )
        return result

    def _default_prefs(self, user_id: str) -> PersonPrefs:
        return PersonPrefs(user_id, self._default_tz)

    # ---- sending ---------------------------------------------------------------------------------

    def _send(self, now: datetime, report: TickReport) -> None:
        token = uuid.uuid4().hex
        for _batch in range(MAX_BATCHES_PER_TICK):
            with unit_of_work(self._engine) as session:
                clock = rows.database_now(session=session)
                claimed = rows.claim_due(
                    session=session, now=now, limit=BATCH, lease=self._lease, token=token, clock=clock
                )
            if not claimed:
                return
            messages = self._contents(claimed, now)
            with _LeaseKeeper(self._engine, [row.id or 0 for row in claimed], token, self._lease):
                for n, row in enumerate(claimed):
                    try:
                        self._deliver(row, messages.get(row.id or 0), token, now, report)
                    except _AppRefused as refused:
                        self._refused(claimed[n + 1 :], token, now, str(refused), report)
                        return

    def _refused(
        self, untried: list[Delivery], token: str, now: datetime, reason: str, report: TickReport
    ) -> None:
        """The token was refused: the rest of the batch goes dead for the same reason, unsent."""
        for row in untried:
            self._bury(row, token, now, reason, report, state=rows.DEAD)
        log.error(
            "%s. Scheduled deliveries are marked dead until then (this pass: %d); each pass tries one send "
            "and stops. See `release-captain deliveries --failed`.",
            reason,
            report.dead,
        )

    def _deliver(
        self, row: Delivery, message: Outgoing | None, token: str, now: datetime, report: TickReport
    ) -> None:
        assert row.id is not None
        if message is None:
            self._finish(
                row, token, now, state=rows.CANCELLED, reason="nothing left to say (signed off or closed)"
            )
            report.cancelled += 1
            return
        try:
            if row.unknown_outcome:
                # An earlier attempt may have reached Slack: look for it before posting again.
                earlier = self._messenger.find(row.recipient, row.id)
                if earlier is not None:
                    self._sent(row, token, now, earlier, report)
                    return
            posted = self._messenger.post(row.recipient, message, delivery_id=row.id)
        except UnknownOutcome as exc:
            self._retry_or_bury(row, token, now, exc.error, report)
        except Undeliverable as exc:
            if exc.error in APP_REFUSED:
                reason = f"Slack refused the app's token ({exc.error}); reinstall it or fix SLACK_BOT_TOKEN"
                self._bury(row, token, now, reason, report, state=rows.DEAD)
                raise _AppRefused(reason) from exc
            self._bury(row, token, now, exc.error, report, state=rows.DEAD)
        except RecipientGone as exc:
            self._bury(row, token, now, exc.error, report, state=rows.CANCELLED)
        else:
            self._sent(row, token, now, posted, report)

    def _sent(self, row: Delivery, token: str, now: datetime, posted: Posted, report: TickReport) -> None:
        """Record where the message landed, whether this attempt posted it or an earlier one did."""
        recorded = self._finish(
            row,
            token,
            now,
            state=rows.SENT,
            channel_id=posted.channel,
            message_ts=posted.ts,
            unknown_outcome=False,
            **_reason(row, None),
        )
        report.sent += 1
        extension = self._extension_of(row.kind)
        if recorded and extension is not None:
            try:
                extension.sent(row, posted)
            except Exception:
                # The row is recorded as sent; the extension's next plan_due reconciles from it.
                log.exception("after sending delivery %s", row.id)

    def _extension_of(self, kind: str) -> DeliveryExtension | None:
        return next((e for e in self.extensions if kind in e.kinds), None)

    def _retry_or_bury(
        self, row: Delivery, token: str, now: datetime, error: str, report: TickReport
    ) -> None:
        if row.attempts >= MAX_ATTEMPTS and now >= row.expires_at:
            self._bury(
                row, token, now, f"gave up after {row.attempts} attempts: {error}", report, state=rows.DEAD
            )
            return
        backoff = timedelta(seconds=min(300, 15 * 2 ** (row.attempts - 1)))
        self._finish(
            row,
            token,
            now,
            state=rows.PENDING,
            unknown_outcome=True,
            not_before=now + backoff,
            **_reason(row, error),
        )
        report.retrying += 1

    def _bury(
        self, row: Delivery, token: str, now: datetime, error: str, report: TickReport, *, state: str
    ) -> None:
        """End a row that cannot be sent, and queue one note to its release's managers saying why."""
        if not self._finish(row, token, now, state=state, reason=error):
            return
        if state == rows.DEAD:
            report.dead += 1
        else:
            report.cancelled += 1
        if row.kind == PROBLEM:
            return  # a note about a failed note would loop
        # A digest spans releases: each release whose items it carried tells its own managers.
        release_ids = [row.release_id] if row.release_id else _releases_of(self._engine, row.item_ids)
        with unit_of_work(self._engine) as session:
            if state == rows.CANCELLED and row.recipient[:1] in ("U", "W"):
                # Slack says the person left: plan no more reminders for them (see _plan).
                rows.mark_person_gone(session=session, user_id=row.recipient)
            _, _, _, roles = rows.releases_state(session=session, release_ids=release_ids)
            notes = [
                {
                    **_base_row(now),
                    # Once per release, manager, recipient and error: a person who left is news once.
                    "key": f"{r.release_id}:{PROBLEM}:{r.user_id}:{row.recipient}:{error[:40]}",
                    "release_id": r.release_id,
                    "kind": PROBLEM,
                    "recipient": r.user_id,
                    "reason": f"{row.kind} to {row.recipient}: {error}",
                }
                for r in roles
                if r.role == "manager"
            ]
            rows.insert_planned(session=session, rows=notes)

    def _finish(self, row: Delivery, token: str, now: datetime, **values: Any) -> bool:
        with unit_of_work(self._engine) as session:
            done = rows.finish(session=session, delivery_id=row.id or 0, token=token, now=now, **values)
        if not done:
            log.warning("delivery %s: claim lost before finishing (another replica took it over)", row.id)
        return done

    # ---- what to say -----------------------------------------------------------------------------

    def _contents(self, claimed: list[Delivery], now: datetime) -> dict[int, Outgoing | None]:
        """Render-ready content for a batch, from the state as it is now: four or five queries in all."""
        result: dict[int, Outgoing | None] = {}
        for extension in self.extensions:
            mine = [row for row in claimed if row.kind in extension.kinds]
            if mine:
                result.update(extension.contents(mine, now))
        claimed = [row for row in claimed if self._extension_of(row.kind) is None]
        if not claimed:
            return result
        item_ids = {iid for row in claimed for iid, _ in _parse_items(row.item_ids)}
        with unit_of_work(self._engine, write=False) as session:
            item_rows = rows.items_by_ids(session=session, ids=sorted(item_ids))
            release_ids = {i.release_id for i in item_rows} | {r.release_id for r in claimed if r.release_id}
            views = assemble_views(*rows.releases_state(session=session, release_ids=sorted(release_ids)))
        release_of_item = {i.id: i.release_id for i in item_rows}
        result.update({row.id or 0: _content(row, views, release_of_item, now) for row in claimed})
        return result


class _LeaseKeeper:
    """Renews a batch's claim while it is being sent; a process that dies stops renewing, and only then
    may another replica take its rows over.

    Without it a send slower than the lease (429s waited out, Slack answering slowly, a long batch to one
    channel) let a second replica claim the row, find nothing in the channel yet, and post it a second time.
    """

    def __init__(self, engine: Engine, ids: list[int], token: str, lease: timedelta) -> None:
        self._engine, self._ids, self._token, self._lease = engine, ids, token, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="delivery-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 3):
            try:
                with unit_of_work(self._engine) as session:
                    clock = rows.database_now(session=session)
                    session.exec(  # type: ignore[call-overload]
                        update(Delivery)
                        .where(
                            col(Delivery.id).in_(self._ids),
                            col(Delivery.claim_token) == self._token,
                            col(Delivery.state) == rows.SENDING,
                        )
                        .values(lease_until=clock + self._lease)
                    )
            except Exception:
                # The database is away: the lease runs out as if this process had died, which is safe.
                log.warning("could not renew the claim on %d deliveries", len(self._ids), exc_info=True)


def _content(
    row: Delivery, views: dict[int, ReleaseView], release_of_item: dict[Any, int], now: datetime
) -> Outgoing | None:
    """What to post for a row, or None when nothing is left worth saying."""
    release = views.get(row.release_id) if row.release_id else None
    if row.kind == MISSED_NOTICE and release:
        counts = tuple(
            (k, int(n)) for k, _, n in (p.partition("=") for p in (row.reason or "").split(",")) if n
        )
        return MissedNotice(release, counts, now)
    if row.kind == PROBLEM and release:
        return Problem(row.recipient, release, row.reason or "", now)
    if release is not None and release.state not in (
        ReleaseState.PLANNING,
        ReleaseState.GO,
        ReleaseState.NO_GO,
    ):
        return None
    if row.kind in (SendKind.FINAL_CALL, SendKind.SUMMARY) and release:
        if row.kind == SendKind.FINAL_CALL and all(i.state.is_closed for i in release.items):
            return None
        return ChannelPost(SendKind(row.kind), release, now)
    entries = []
    for item_id, reason in _parse_items(row.item_ids):
        view = views.get(release_of_item.get(item_id, -1))
        item = next((i for i in view.items if i.id == item_id), None) if view else None
        if view and item and not item.state.is_closed and view.state.is_active:
            entries.append(DigestEntry(view, item, reason))
    if not entries:
        return None
    if row.kind == SendKind.ESCALATION and release:
        return Escalation(row.recipient, release, tuple(e.item for e in entries), now)
    return Digest(row.recipient, tuple(entries), now)


def _reason(row: Delivery, reason: str | None) -> dict[str, Any]:
    """The reason column to record, unless it holds the row's message itself (a problem, a missed notice)."""
    return {} if row.kind in (PROBLEM, MISSED_NOTICE) else {"reason": reason}


def _releases_of(engine: Engine, item_ids: str) -> list[int]:
    """The releases of the items a digest row names."""
    ids = [item for item, _ in _parse_items(item_ids)]
    if not ids:
        return []
    with unit_of_work(engine, write=False) as session:
        return sorted({i.release_id for i in rows.items_by_ids(session=session, ids=ids)})


def _base_row(now: datetime) -> dict[str, Any]:
    return {
        "slot": now,
        "expires_at": now + timedelta(days=1),
        "item_ids": "",
        "state": rows.PENDING,
        "attempts": 0,
        "unknown_outcome": False,
        "created_at": now,
        "updated_at": now,
    }


def _row(send: Send, state: str, reason: str | None, now: datetime) -> dict[str, Any]:
    return {
        **_base_row(now),
        "key": key(send),
        "release_id": send.release_id,
        "kind": send.kind.value,
        "recipient": send.recipient,
        "slot": send.slot,
        "expires_at": send.expires_at,
        "item_ids": ",".join(f"{i}:{send.reasons.get(i, Reason.DUE).value}" for i in send.item_ids),
        "state": state,
        "reason": reason,
    }


def _parse_items(text: str) -> list[tuple[int, Reason]]:
    parsed = []
    for part in filter(None, text.split(",")):
        item, _, reason = part.partition(":")
        parsed.append((int(item), Reason(reason or Reason.DUE.value)))
    return parsed


def _merge(into: dict[str, Send], sends: list[Send]) -> None:
    """Add sends by key; two plans' sends with one key (a digest across releases) become one send."""
    for send in sends:
        same = into.get(key(send))
        if same is None:
            into[key(send)] = send
            continue
        into[key(send)] = replace(
            same,
            item_ids=tuple(dict.fromkeys((*same.item_ids, *send.item_ids))),
            reasons={**same.reasons, **send.reasons},
            expires_at=min(same.expires_at, send.expires_at),
        )


def _final_call(seconds: int | None) -> timedelta | None:
    """The stored final-call setting: None for the default; 'off' is stored as -1."""
    if seconds is None:
        return None
    # "Off" becomes a final call a century before launch: a slot no planning window ever reaches.
    return timedelta(seconds=seconds) if seconds >= 0 else _NEVER


def _hours(choice: Any) -> WorkingHours:
    start_h, start_m = map(int, choice.work_start.split(":"))
    end_h, end_m = map(int, choice.work_end.split(":"))
    days = frozenset(int(d) for d in choice.work_days.split(",") if d)
    return WorkingHours(time(start_h, start_m), time(end_h, end_m), days)


def _missed_notices(
    missed: list[dict[str, Any]], release_of_item: dict[Any, int], releases: list, now: datetime
) -> list[dict[str, Any]]:
    """One notice per release whose sends were missed while the bot was down."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for row in missed:
        release_ids = (
            {row["release_id"]}
            if row["release_id"]
            else {release_of_item.get(iid) for iid, _ in _parse_items(row["item_ids"])}
        )
        for rid in release_ids - {None}:
            counts[rid][row["kind"]] += 1
    channel_of = {r.id: r.channel_id for r in releases}
    return [
        {
            **_base_row(now),
            "key": f"{rid}:{MISSED_NOTICE}:{channel_of[rid]}:{now.isoformat()}",
            "release_id": rid,
            "kind": MISSED_NOTICE,
            "recipient": channel_of[rid],
            "reason": ",".join(f"{k}={n}" for k, n in sorted(c.items())),
        }
        for rid, c in counts.items()
        if rid in channel_of
    ]
