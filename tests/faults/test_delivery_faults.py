"""Exactly once under real faults: kill -9 mid-batch, and three replicas ticking over the same rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.workspace import User
from bot.slack.messenger import DELIVERY_EVENT
from storage import delivery_repo, repo
from storage.db import make_engine, unit_of_work
from storage.migrate import upgrade
from storage.tables import ChecklistItem, Person, Release
from tests.e2e.harness import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator(timeout_seconds=0.02) as emulator:
        emulator.start()
        yield emulator


def _env(emulator: SlackEmulator, database_url: str) -> dict[str, str]:
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


def _tick(emulator: SlackEmulator, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "tick", "--at", NOW.isoformat()],
            env=_env(emulator, database_url),
            stdout=out,
            stderr=out,
        )


def _seed(database_url: str, emulator: SlackEmulator, *, digests: int = 0, summaries: int = 0) -> set[int]:
    """Releases, people and due rows, inserted directly: the engine is under test here, not the planner."""
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
                channel_id="CRELEASES",
                launch_at=NOW + timedelta(days=5),
                timezone="UTC",
                template="go-live",
                created_by="UMAYA0001",
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
            repo.add_release(session=session, release=release, managers=["UMAYA0001"], items=items)
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
                    f"{release.id}:summary:CRELEASES:{slot.isoformat()}",
                    release.id,
                    "summary",
                    "CRELEASES",
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


def _posted(emulator: SlackEmulator) -> Counter[int]:
    seen: Counter[int] = Counter()
    for channel in list(emulator.workspace.channels):
        for message in emulator.workspace.messages(channel):
            meta = message.metadata or {}
            if meta.get("event_type") == DELIVERY_EVENT:
                seen[meta["event_payload"]["delivery"]] += 1
    return seen


def _states(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        found = delivery_repo.by_state(
            session=session, states=["pending", "sending", "sent", "dead", "cancelled"], limit=5000
        )
    engine.dispose()
    return Counter(d.state for d in found)


def test_kill_9_in_the_middle_of_300_dms_then_restart_sends_each_once(
    emulator: SlackEmulator, database_url: str, tmp_path: Path
) -> None:
    ids = _seed(database_url, emulator, digests=300)
    # Each post is held 20 ms after it took effect, so a kill lands between "Slack has it" and "recorded".
    emulator.inject("chat.postMessage", "timeout", count=10_000)
    first = _tick(emulator, database_url, tmp_path / "tick.log")
    wait_until(
        lambda: len(emulator.calls_to("chat.postMessage")) >= 60, timeout=60, what="the batch to start"
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert 0 < len(_posted(emulator)) < 300
    time.sleep(2.5)  # the dead process's lease runs out
    emulator.clear_faults()
    second = _tick(emulator, database_url, tmp_path / "tick.log")
    assert second.wait(timeout=120) == 0, (tmp_path / "tick.log").read_text()[-2000:]
    posted = _posted(emulator)
    assert set(posted) == ids
    assert set(posted.values()) == {1}, [d for d, n in posted.items() if n > 1]
    assert _states(database_url) == Counter({"sent": 300})
    # The rows the dead process had claimed were taken over as unknown outcomes, and looked for first.
    assert emulator.calls_to("conversations.history")


@pytest.mark.postgres
def test_three_replicas_ticking_over_1000_rows_send_each_once(
    emulator: SlackEmulator, postgres_url: str, tmp_path: Path
) -> None:
    ids = _seed(postgres_url, emulator, summaries=1000)
    replicas = [_tick(emulator, postgres_url, tmp_path / f"tick{n}.log") for n in range(3)]
    for replica in replicas:
        assert replica.wait(timeout=180) == 0
    posted = _posted(emulator)
    assert set(posted) == ids
    assert set(posted.values()) == {1}
    assert _states(postgres_url) == Counter({"sent": 1000})
