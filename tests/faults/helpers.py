"""What the fault tests share: seeding due deliveries, running `tick` and `serve`, and reading outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlmodel import col, select

from bot.ports import SystemClock
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import User
from bot.services.deliveries import DeliveryService
from bot.slack.directory import SlackDirectory
from bot.slack.messenger import DELIVERY_EVENT, SlackMessenger
from storage import delivery_repo, repo
from storage.db import make_engine, unit_of_work
from storage.migrate import upgrade
from storage.tables import Announcement, AuditEvent, ChecklistItem, Delivery, Person, Release
from tests.e2e.harness import BotProcess

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
MANAGER = "UMAYA0001"
CHANNEL = "CRELEASES"


def env(emulator: SlackEmulator, database_url: str) -> dict[str, str]:
    """The environment of a `tick` process: short leases, no pacing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=emulator.workspace.bot_token,
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=emulator.api_url,
        DATABASE_URL=database_url,
        DELIVERY_LEASE_SECONDS="2",
        CHANNEL_PACE_SECONDS="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def tick(emulator: SlackEmulator, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `release-captain tick --at NOW` (a replica's pass) in its own process."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "tick", "--at", NOW.isoformat()],
            env=env(emulator, database_url),
            stdout=out,
            stderr=out,
        )


class FastBot(BotProcess):
    """`serve` ticking twice a second with a two-second lease, so faults play out in seconds."""

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "TICK_SECONDS": "0.5",
            "DELIVERY_LEASE_SECONDS": "2",
            "CHANNEL_PACE_SECONDS": "0",
            "DATABASE_WAIT_SECONDS": "30",
        }

    def launch(self) -> FastBot:
        """Start serve without waiting for it to be healthy (it may be waiting for its database)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=self.log_path.parent,
                env=self.env(),
                stdout=log,
                stderr=log,
            )
        return self


def delivery_service(
    emulator: SlackEmulator, database_url: str, *, timeout: float = 1.0, lease: float = 2.0
) -> DeliveryService:
    """The delivery engine in this process, wired like `serve` but with a short Slack timeout."""
    client = WebClient(
        token=emulator.workspace.bot_token,
        base_url=emulator.api_url,
        timeout=timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=10)],
    )
    return DeliveryService(
        engine=make_engine(database_url),
        clock=SystemClock(),
        directory=SlackDirectory(client),
        messenger=SlackMessenger(client, pace=0),
        default_tz="UTC",
        lease=timedelta(seconds=lease),
    )


def seed(database_url: str, emulator: SlackEmulator, *, digests: int = 0, summaries: int = 0) -> set[int]:
    """Releases, people and due rows, inserted directly: the engine is under test here, not the planner.

    Digests are due at NOW, one per person; summaries at NOW minus n minutes, so they go first, oldest first.
    """
    engine = make_engine(database_url)
    upgrade(engine)
    users = []
    for n in range(digests):
        user = User(f"UFAULT{n:04d}", f"p{n}", f"Person {n}", "UTC", "UTC", 0)
        emulator.workspace.add_user(user)
        users.append(user.id)
    rows: list[dict] = []
    with unit_of_work(engine) as session:
        releases = []
        for r in range(max(1, (digests + 17) // 18, summaries and 10)):
            release = Release(
                name=f"R{r}",
                name_key=f"r{r}",
                channel_id=CHANNEL,
                launch_at=NOW + timedelta(days=5),
                timezone="UTC",
                template="go-live",
                created_by=MANAGER,
                created_at=NOW,
                updated_at=NOW,
            )
            items = [
                ChecklistItem(
                    release_id=0,
                    position=p,
                    key=f"k{p}",
                    section="S",
                    title=f"Item {p}",
                    offset_seconds=-86400,
                    due_at=NOW,
                    updated_at=NOW,
                )
                for p in range(1, 19)
            ]
            repo.add_release(session=session, release=release, managers=[MANAGER], items=items)
            releases.append((release, items))
        all_items = [i for _, items in releases for i in items]
        for n, user in enumerate(users):
            session.add(Person(slack_id=user, name=user, tz="UTC", fetched_at=NOW))
            repo.add_owners(session=session, item_id=all_items[n].id, owners=[("user", user)])
            rows.append(
                _row(f"-:digest:{user}:{NOW.isoformat()}", None, "digest", user, f"{all_items[n].id}:due")
            )
        for n in range(summaries):
            release = releases[n % len(releases)][0]
            slot = NOW - timedelta(minutes=n)
            rows.append(
                _row(
                    f"{release.id}:summary:{CHANNEL}:{slot.isoformat()}",
                    release.id,
                    "summary",
                    CHANNEL,
                    "",
                    slot,
                )
            )
        delivery_repo.insert_planned(session=session, rows=rows)
        # The planner would find nothing new at NOW: mark it planned so ticks only send.
        delivery_repo.advance_mark(session=session, name="planned_until", at=NOW)
    with unit_of_work(engine, write=False) as session:
        ids = {d.id for d in delivery_repo.by_state(session=session, states=["pending"], limit=5000)}
    engine.dispose()
    return ids


def seed_announcement(database_url: str, *, post_at: datetime) -> int:
    """An approved "upcoming release" announcement of the first release, due at `post_at`."""
    engine = make_engine(database_url)
    with unit_of_work(engine) as session:
        release = session.exec(select(Release).order_by(col(Release.id))).first()
        assert release is not None, "seed releases first"
        ann = Announcement(
            release_id=release.id or 0,
            kind="upcoming",
            state="approved",
            offset_seconds=-86400,
            post_at=post_at,
            approved_by=MANAGER,
            approved_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(ann)
        session.flush()
        ann_id = ann.id or 0
    engine.dispose()
    return ann_id


def _row(
    key: str, release_id: int | None, kind: str, recipient: str, items: str, slot: datetime = NOW
) -> dict:
    return {
        "key": key,
        "release_id": release_id,
        "kind": kind,
        "recipient": recipient,
        "slot": slot,
        "expires_at": NOW + timedelta(days=1),
        "item_ids": items,
        "state": "pending",
        "attempts": 0,
        "unknown_outcome": False,
        "created_at": NOW,
        "updated_at": NOW,
    }


def posted(emulator: SlackEmulator) -> Counter[int]:
    """How many times each delivery id reached Slack, from the metadata on every message."""
    seen: Counter[int] = Counter()
    for channel in list(emulator.workspace.channels):
        for message in emulator.workspace.messages(channel):
            meta = message.metadata or {}
            if meta.get("event_type") == DELIVERY_EVENT:
                seen[meta["event_payload"]["delivery"]] += 1
    return seen


def deliveries(database_url: str) -> dict[int, Delivery]:
    """Every delivery row by id."""
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        found = {d.id or 0: d for d in session.exec(select(Delivery)).all()}
    engine.dispose()
    return found


def states(database_url: str) -> Counter[str]:
    """How many delivery rows are in each state."""
    return Counter(d.state for d in deliveries(database_url).values())


def scheduler_audit(database_url: str) -> Counter[str]:
    """The audit rows the scheduler wrote, counted by action ("post upcoming", "done", …)."""
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        events = session.exec(
            select(AuditEvent).where(col(AuditEvent.source).in_(["scheduler", "announcement"]))
        )
        found = Counter(e.action for e in events.all())
    engine.dispose()
    return found


def announcement(database_url: str, ann_id: int) -> Announcement:
    """An announcement as stored now."""
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        ann = session.get(Announcement, ann_id)
    engine.dispose()
    assert ann is not None
    return ann
