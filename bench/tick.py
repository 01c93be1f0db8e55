"""Figure 5: the delivery tick. Planning cost and statements against scale, DMs per person, send rates.

Every database is seeded with direct inserts (`storage.repo.add_release`, owners and people in bulk), not
through Slack; the runtime is `bot.wiring.build` against an in-process emulator, the card worker not started.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, event, select

from bench.common import MANAGER, SIGNING_SECRET, Result, Sizes
from bench.seed import postgres_unreachable, throwaway_postgres
from bot.config import Settings, load_settings
from bot.domain.schedule import due_at
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import User, tz_fields
from bot.services.deliveries import TickReport
from bot.wiring import Runtime, build
from storage import delivery_repo, repo
from storage.db import unit_of_work
from storage.tables import ChecklistItem, Delivery, ItemOwner, Person, Release

GROUP = "tick"
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
ITEMS_PER_RELEASE = 20
BASELINE_RELEASES = 10
OWNERS_PER_ITEM = 2
BUDGET_SECONDS_PER_10K = 1.0
# Sunday 2027-03-07 06:00 UTC: nobody's working day starts near it (Monday 09:00 is Sunday 00:00 UTC in
# Tokyo, 20:00 in Auckland, Monday 03:30 in Kolkata) and launches, due times and channel posts fall at
# 10:00-14:00 UTC, so a pass here plans and finds nothing due. Passes run from 06:01, a minute apart.
QUIET = datetime(2027, 3, 7, 6, 0, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")
# Tuesday 2027-03-09 09:00 UTC: the working-day start of everyone in UTC. Items due Wednesday 14:00 have
# their heads-up here, items due Monday 14:00 their first overdue rung; releases launch Thursday 14:00.
MORNING = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)
HEADS_UP_DUE = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
OVERDUE_DUE = datetime(2027, 3, 8, 14, 0, tzinfo=UTC)
MORNING_LAUNCH = datetime(2027, 3, 11, 14, 0, tzinfo=UTC)
CHANNEL = "CRELEASES"
DM_FLOOR = 10.0  # DMs/s: an order of magnitude above one channel's pace, so DMs are not paced together


def run(sizes: Sizes) -> list[Result]:
    """Planning on SQLite and PostgreSQL (skipped if unreachable), then the sending figures on SQLite."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="rc-bench-tick-") as tmp:
        results += _planning("sqlite", lambda name: _sqlite(tmp, name), sizes)
        unreachable = postgres_unreachable(PG_ADMIN_URL)
        if unreachable:
            results += _planning_skipped("postgresql", f"skipped: {unreachable}")
        else:
            results += _planning("postgresql", lambda _name: throwaway_postgres(PG_ADMIN_URL), sizes)
        results.append(_dms_per_people(f"sqlite:///{Path(tmp) / 'digests.db'}", sizes))
        results.append(_channel_throughput(f"sqlite:///{Path(tmp) / 'channel.db'}", sizes))
        results.append(_dm_throughput(f"sqlite:///{Path(tmp) / 'dms.db'}", sizes))
    return results


@contextmanager
def _sqlite(tmp: str, name: str) -> Iterator[str]:
    yield f"sqlite:///{Path(tmp) / f'{name}.db'}"


# ---- wiring and seeding ---------------------------------------------------------------------------------


def _settings(url: str, emulator: SlackEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "slack_bot_token": emulator.workspace.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": emulator.api_url,
        "channel_pace_seconds": 0,
        "_env_file": None,
    }
    return load_settings(**{**values, **overrides})


class _FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@contextmanager
def _runtime(url: str, emulator: SlackEmulator, at: datetime, **overrides: Any) -> Iterator[Runtime]:
    rt = build(_settings(url, emulator, **overrides), clock=_FixedClock(at))
    try:
        yield rt
    finally:
        rt.stop()


# Column values of a fresh item that the seeder does not choose (state "open", version 1, …).
_ITEM_DEFAULTS = {
    name: field.default
    for name, field in ChecklistItem.model_fields.items()
    if name != "id" and not field.is_required()
}


class Seeder:
    """Releases of go-live items (repeated to any length), owners and people, as rows."""

    def __init__(self, rt: Runtime, people: Sequence[str], created: datetime) -> None:
        self.rt = rt
        self.people = list(people)
        self.created = created
        self.template = rt.services.templates.get("go-live")
        self.owned = 0  # items given owners so far: spreads owners evenly over everyone
        self.releases: list[tuple[int, datetime, int]] = []  # id, launch, items so far

    def add_people(self, zones: Sequence[str] = ZONES, emulator: SlackEmulator | None = None) -> None:
        """A cached Person row per person (zones in turn); users in the emulator too when DMs will go out."""
        rows = []
        for n, user_id in enumerate(self.people):
            tz = zones[n % len(zones)]
            rows.append(Person(slack_id=user_id, name=user_id.lower(), tz=tz, fetched_at=self.created))
            if emulator is not None:
                emulator.workspace.add_user(User(user_id, user_id.lower(), user_id, tz, *tz_fields(tz)))
        with unit_of_work(self.rt.engine) as session:
            session.add_all(rows)

    def add_releases(
        self,
        count: int,
        items: int,
        launch_of: Callable[[int], datetime],
        *,
        due_of: Callable[[int, datetime, int], datetime] | None = None,
        channel: Callable[[int], str] = lambda n: f"C{n:08d}",
        owners: int = OWNERS_PER_ITEM,
        chunk: int = 100,
    ) -> None:
        """`count` more releases of `items` items each, in chunks of `chunk` releases per transaction.

        Each release and its manager go in through `repo.add_release`; its items and their owners in bulk
        (building 20,000 ChecklistItem objects for the ORM would take longer than the whole figure).
        """
        for start in range(0, count, chunk):
            with unit_of_work(self.rt.engine) as session:
                for n in range(len(self.releases), len(self.releases) + min(chunk, count - start)):
                    launch = launch_of(n)
                    release = Release(
                        name=f"Bench {n}",
                        name_key=f"bench {n}",
                        channel_id=channel(n),
                        launch_at=launch,
                        timezone="UTC",
                        template=self.template.name,
                        created_by=MANAGER,
                        created_at=self.created,
                        updated_at=self.created,
                    )
                    managers = [self.people[n % len(self.people)]] if owners else [MANAGER]
                    repo.add_release(session=session, release=release, managers=managers, items=[])
                    assert release.id is not None
                    self.releases.append((release.id, launch, 0))
                    self._add_items(session, n, items, owners, due_of)

    def grow_releases(self, items: int, owners: int = OWNERS_PER_ITEM) -> None:
        """Add items to every release until each has `items`."""
        with unit_of_work(self.rt.engine) as session:
            for n in range(len(self.releases)):
                self._add_items(session, n, items - self.releases[n][2], owners, None)

    def _add_items(
        self,
        session: Any,
        release_n: int,
        count: int,
        owners: int,
        due_of: Callable[[int, datetime, int], datetime] | None,
    ) -> None:
        """`count` more items at the end of a release (one multi-row INSERT … RETURNING), with owners."""
        release_id, launch, have = self.releases[release_n]
        rows = []
        for position in range(have + 1, have + count + 1):
            spec = self.template.items[(position - 1) % len(self.template.items)]
            due = due_of(release_n, launch, position) if due_of else due_at(launch, spec.offset, "UTC")
            rows.append(
                {
                    **_ITEM_DEFAULTS,
                    "release_id": release_id,
                    "position": position,
                    "key": f"{spec.key}-{position}",
                    "section": spec.section,
                    "title": spec.title,
                    "description": spec.description,
                    "offset_seconds": int((due - launch).total_seconds()),
                    "due_at": due,
                    "evidence_required": spec.evidence_required,
                    "role": spec.role,
                    "sign_off_rule": spec.sign_off.value,
                    "updated_at": self.created,
                }
            )
        table = ChecklistItem.__table__  # type: ignore[attr-defined]
        ids = list(
            session.execute(
                table.insert().returning(table.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        self.releases[release_n] = (release_id, launch, have + count)
        if not owners:
            return
        values = []
        for item_id in ids:
            for k in range(owners):
                person = self.people[(self.owned * owners + k) % len(self.people)]
                values.append({"item_id": item_id, "kind": "user", "slack_id": person})
            self.owned += 1
        session.execute(ItemOwner.__table__.insert(), values)  # type: ignore[attr-defined]

    def owners_of_all(self) -> set[str]:
        """Everyone who owns at least one item."""
        with unit_of_work(self.rt.engine, write=False) as session:
            return set(session.execute(select(ItemOwner.slack_id)).scalars())  # type: ignore[call-overload]


def people_ids(prefix: str, count: int) -> list[str]:
    """Slack-shaped user ids: U + prefix + a number."""
    return [f"U{prefix}{n:05d}" for n in range(count)]


def spread_launch(n: int) -> datetime:
    """Launches from Friday 5 March to 3 April, 14:00 UTC: some items overdue, most ahead."""
    return datetime(2027, 3, 8, 14, 0, tzinfo=UTC) + timedelta(days=n % 30 - 3)


# ---- figures 1 and 2: planning cost and statements --------------------------------------------------------


class _Passes:
    """Planning-only passes at QUIET, each a minute after the one before (so each has a window)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.at = QUIET

    def one(self) -> tuple[float, float, TickReport]:
        self.at += timedelta(minutes=1)
        wall, cpu = time.perf_counter(), time.process_time()
        report = self.rt.services.deliveries.run_due(self.at)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if report.planned or report.missed or report.sent or report.cancelled or report.dead:
            raise RuntimeError(f"a planning-only pass found work: {report}")
        return wall, cpu, report

    def timed(self, repeats: int) -> tuple[float, float]:
        """Median wall and CPU seconds of `repeats` passes (call after a warm-up pass)."""
        samples = [self.one() for _ in range(repeats)]
        return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)

    def loading(self, repeats: int) -> float:
        """Median seconds of the pass's two big reads alone (active releases and people, as ORM rows)."""
        samples = []
        for _ in range(repeats):
            began = time.perf_counter()
            with unit_of_work(self.rt.engine, write=False) as session:
                delivery_repo.active_state(session=session)
                delivery_repo.people_state(session=session)
            samples.append(time.perf_counter() - began)
        return statistics.median(samples)

    def statements(self) -> list[str]:
        """The statements of one pass, from a cursor listener on the runtime's engine."""
        seen: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        engine: Engine = self.rt.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            self.one()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return seen


def _planning(backend: str, database: Callable[[str], Any], sizes: Sizes) -> list[Result]:
    """Cost and statements at 10 releases, then 1,000; statements at 10 releases of 18, 200, 2,000 items."""
    with SlackEmulator().start() as emulator:
        with database("plan") as url, _runtime(url, emulator, QUIET) as rt:
            seeder = Seeder(rt, people_ids("PLAN", sizes.tick_people), QUIET - timedelta(days=30))
            seeder.add_people()
            seeder.add_releases(BASELINE_RELEASES, ITEMS_PER_RELEASE, spread_launch)
            passes = _Passes(rt)
            passes.one()  # warm-up: the first pass ever has no mark yet, and fills first-use caches
            small_sql = passes.statements()
            small_wall, small_cpu = passes.timed(sizes.tick_repeats * 10)
            seeder.add_releases(sizes.tick_releases - BASELINE_RELEASES, ITEMS_PER_RELEASE, spread_launch)
            big_sql = passes.statements()  # also the warm-up of the timed passes
            big_wall, big_cpu = passes.timed(sizes.tick_repeats)
            big_load = passes.loading(sizes.tick_repeats)
        with database("items") as url, _runtime(url, emulator, QUIET) as rt:
            seeder = Seeder(rt, people_ids("ITEM", sizes.tick_people), QUIET - timedelta(days=30))
            seeder.add_people()
            per_release = sizes.tick_sql_items
            seeder.add_releases(BASELINE_RELEASES, per_release[0], spread_launch)
            passes = _Passes(rt)
            passes.one()  # warm-up, as above
            counts = [len(passes.statements())]
            for items in per_release[1:]:
                seeder.grow_releases(items)
                counts.append(len(passes.statements()))

    small_items = BASELINE_RELEASES * ITEMS_PER_RELEASE
    big_items = sizes.tick_releases * ITEMS_PER_RELEASE
    scale_small, scale_big = 10_000 / small_items, 10_000 / big_items
    sizes_note = (
        f"{sizes.tick_releases:,} releases × {ITEMS_PER_RELEASE} items ({big_items:,}) vs "
        f"{BASELINE_RELEASES} × {ITEMS_PER_RELEASE} ({small_items}), {sizes.tick_people} people in "
        f"{len(ZONES)} zones, {OWNERS_PER_ITEM} owners per item"
    )
    return [
        Result(
            group=GROUP,
            figure=f"tick.cost.{backend}",
            value=big_wall * scale_big,
            baseline=small_wall * scale_small,
            unit="s",
            budget=f"< {BUDGET_SECONDS_PER_10K:g} s / 10k items",
            limit=BUDGET_SECONDS_PER_10K,
            on="value",
            strict=True,
            notes=(
                f"wall per 10k items of one planning-only run_due; {sizes_note}; median of "
                f"{sizes.tick_repeats} (baseline {sizes.tick_repeats * 10}) passes: "
                f"{big_wall * 1000:.0f} ms vs {small_wall * 1000:.1f} ms; of the large pass's, loading "
                f"active_state + people_state as rows alone takes {big_load * 1000:.0f} ms "
                f"({big_load / big_wall:.0%})"
            ),
        ),
        Result(
            group=GROUP,
            figure=f"tick.cost.{backend}.cpu",
            value=big_cpu * scale_big,
            baseline=small_cpu * scale_small,
            unit="s",
            budget="(info)",
            limit=None,
            on="value",
            notes=(
                f"process CPU per 10k items, same passes: {big_cpu * 1000:.0f} ms vs "
                f"{small_cpu * 1000:.1f} ms"
            ),
        ),
        Result(
            group=GROUP,
            figure=f"tick.sql.releases.{backend}",
            value=len(big_sql),
            baseline=len(small_sql),
            unit="statements",
            budget="≤ 1.0× baseline",
            limit=1.0,
            notes=f"{sizes.tick_releases:,} vs {BASELINE_RELEASES} releases: {_describe(big_sql)}",
        ),
        Result(
            group=GROUP,
            figure=f"tick.sql.items.{backend}",
            value=counts[-1],
            baseline=counts[0],
            unit="statements",
            budget="≤ 1.0× baseline",
            limit=1.0,
            notes=(
                f"{BASELINE_RELEASES} releases of "
                + " / ".join(f"{n:,}" for n in per_release)
                + " items: "
                + " / ".join(str(c) for c in counts)
            ),
        ),
    ]


def _planning_skipped(backend: str, why: str) -> list[Result]:
    cost, sql = f"< {BUDGET_SECONDS_PER_10K:g} s / 10k items", "≤ 1.0× baseline"
    return [
        Result(
            GROUP, f"tick.cost.{backend}", None, None, "s", cost, BUDGET_SECONDS_PER_10K, "value", notes=why
        ),
        Result(GROUP, f"tick.cost.{backend}.cpu", None, None, "s", "(info)", None, "value", notes=why),
        Result(GROUP, f"tick.sql.releases.{backend}", None, None, "statements", sql, 1.0, notes=why),
        Result(GROUP, f"tick.sql.items.{backend}", None, None, "statements", sql, 1.0, notes=why),
    ]


def _describe(statements: Sequence[str]) -> str:
    """'SELECT release, SELECT checklist_item, …': verb and first table of each statement, in order."""
    labels = []
    for statement in statements:
        words = statement.split()
        verb = words[0].upper() if words else "?"
        if verb == "SELECT" and "FROM" in words:
            labels.append(f"SELECT {words[words.index('FROM') + 1].strip(chr(34))}")
        elif verb in ("INSERT", "UPDATE") and len(words) > 2:
            labels.append(f"{verb} {words[2 if verb == 'INSERT' else 1].strip(chr(34))}")
        else:
            labels.append(verb)
    return ", ".join(labels)


# ---- figure 3: one DM per person -------------------------------------------------------------------------


def _dms_per_people(url: str, sizes: Sizes) -> Result:
    """At a 09:00 where everyone in UTC has heads-ups and overdue items, across releases: DMs per person."""
    people = people_ids("DIGS", sizes.tick_digest_people)
    # Enough releases that everyone owns items in several of them (four items each, two releases or more).
    releases = max(2, (len(people) * 4) // (ITEMS_PER_RELEASE * OWNERS_PER_ITEM))
    with SlackEmulator().start() as emulator, _runtime(url, emulator, MORNING) as rt:
        seeder = Seeder(rt, people, MORNING - timedelta(days=14))
        seeder.add_people(zones=("UTC",), emulator=emulator)
        seeder.add_releases(
            releases,
            ITEMS_PER_RELEASE,
            lambda _n: MORNING_LAUNCH,
            due_of=lambda n, _launch, position: HEADS_UP_DUE if (n + position) % 2 else OVERDUE_DUE,
            channel=lambda _n: CHANNEL,
            chunk=releases,
        )
        expected = seeder.owners_of_all()  # every item has a rung at MORNING, so every owner is due a DM
        report = rt.services.deliveries.run_due(MORNING)
        dms = _dms_posted(emulator)
        with unit_of_work(rt.engine, write=False) as session:
            digests = list(
                session.execute(select(Delivery).where(Delivery.kind == "digest")).scalars()  # type: ignore[arg-type]
            )
    digest_people = {d.recipient for d in digests}
    items = sum(len(d.item_ids.split(",")) for d in digests)
    channels = {c.args["channel"] for c in dms}
    return Result(
        group=GROUP,
        figure="tick.dms_per_people",
        value=len(dms),
        baseline=len(expected),
        unit="DMs",
        budget="= 1.0× people",
        limit=1.0,
        floor=1.0,
        notes=(
            f"value: DMs sent in one run_due at Tue 09:00 UTC ({len(channels)} distinct DM channels); "
            f"baseline: people owning an item with a heads-up or overdue rung then ({releases} releases × "
            f"{ITEMS_PER_RELEASE} items, {OWNERS_PER_ITEM} owners each); digest rows {len(digests)} to "
            f"{len(digest_people)} people, {items / max(1, len(digests)):.1f} items each; {report}"
        ),
    )


# ---- figure 4: send rates ---------------------------------------------------------------------------------


def _channel_throughput(url: str, sizes: Sizes) -> Result:
    """Summaries of several releases in one channel, due together, at the default channel pace."""
    pace = float(Settings.model_fields["channel_pace_seconds"].default)
    at = MORNING
    count = sizes.tick_channel_posts
    with SlackEmulator().start() as emulator, _runtime(url, emulator, at, channel_pace_seconds=pace) as rt:
        seeder = Seeder(rt, [MANAGER], at - timedelta(days=14))
        # Launch 24 h from now puts the readiness summary at `at`; items are due after it and have no owners.
        seeder.add_releases(
            count,
            2,
            lambda _n: at + timedelta(hours=24),
            due_of=lambda _n, launch, position: launch - timedelta(hours=position),
            channel=lambda _n: CHANNEL,
            owners=0,
            chunk=count,
        )
        report = rt.services.deliveries.run_due(at)
        posts = [c for c in emulator.calls_to("chat.postMessage") if c.ok and c.args["channel"] == CHANNEL]
    if len(posts) != count:
        raise RuntimeError(f"expected {count} summaries in {CHANNEL}, saw {len(posts)}: {report}")
    span = posts[-1].at - posts[0].at
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    return Result(
        group=GROUP,
        figure="tick.throughput.channel",
        value=(count - 1) / span,
        baseline=1 / pace,
        unit="posts/s",
        budget="0.95–1.01× pace",
        limit=1.01,
        floor=0.95,
        notes=(
            f"{count} summaries to one channel in one run_due, CHANNEL_PACE_SECONDS={pace:g} (the default); "
            f"posts/s = {count - 1} gaps / {span:.3f} s between the emulator's first and last post; "
            f"gaps {min(gaps):.3f}–{max(gaps):.3f} s"
        ),
    )


def _dm_throughput(url: str, sizes: Sizes) -> Result:
    """DMs to distinct people in one tick, at the default pace (which is per channel), against bare calls."""
    pace = float(Settings.model_fields["channel_pace_seconds"].default)
    people = people_ids("DMS", sizes.tick_dms)
    others = people_ids("RAW", sizes.tick_dms)
    emulator = SlackEmulator().start()
    with emulator, _runtime(url, emulator, MORNING, channel_pace_seconds=pace) as rt:
        seeder = Seeder(rt, people, MORNING - timedelta(days=14))
        seeder.add_people(zones=("UTC",), emulator=emulator)
        for user_id in others:
            emulator.workspace.add_user(User(user_id, user_id.lower(), user_id, "UTC", *tz_fields("UTC")))
        # One heads-up item per person: a digest each at MORNING, one DM each.
        releases = max(1, -(-len(people) // ITEMS_PER_RELEASE))
        seeder.add_releases(
            releases,
            ITEMS_PER_RELEASE,
            lambda _n: MORNING_LAUNCH,
            due_of=lambda *_: HEADS_UP_DUE,
            channel=lambda _n: CHANNEL,
            owners=1,
            chunk=releases,
        )
        began = time.perf_counter()
        report = rt.services.deliveries.run_due(MORNING)
        bot_seconds = time.perf_counter() - began
        dms = _dms_posted(emulator)
        sample = dms[0].args
        raw_seconds = _bare_dms(emulator, others, sample.get("text", ""), sample.get("blocks"))
    if len(dms) != len(people):
        raise RuntimeError(f"expected {len(people)} DMs, saw {len(dms)}: {report}")
    return Result(
        group=GROUP,
        figure="tick.throughput.dms",
        value=len(dms) / bot_seconds,
        baseline=len(others) / raw_seconds,
        unit="DMs/s",
        budget=f"> {DM_FLOOR:g} DMs/s",
        limit=None,
        floor=DM_FLOOR,
        on="value",
        notes=(
            f"{len(dms)} DMs to distinct people in one run_due (planning, claims, conversations.open, "
            f"post, finish) at CHANNEL_PACE_SECONDS={pace:g}: {bot_seconds:.2f} s; baseline: a bare "
            f"WebClient doing conversations.open + chat.postMessage with the same content for "
            f"{len(others)} other people: {raw_seconds:.2f} s"
        ),
    )


def _dms_posted(emulator: SlackEmulator) -> list[Any]:
    """Successful chat.postMessage calls to DM (D…) channels, oldest first."""
    posts = emulator.calls_to("chat.postMessage")
    return [c for c in posts if c.ok and str(c.args.get("channel", "")).startswith("D")]


def _bare_dms(emulator: SlackEmulator, users: Sequence[str], text: str, blocks: Any) -> float:
    """Seconds for the emulator to open and post one DM to each user, one after another, no engine."""
    client = WebClient(token=emulator.workspace.bot_token, base_url=emulator.api_url, timeout=10)
    began = time.perf_counter()
    for user_id in users:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    return time.perf_counter() - began
