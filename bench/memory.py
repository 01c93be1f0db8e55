"""Figure 3: resident memory of `serve`, idle after start-up and holding many active releases."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

from bench.common import Result, Sizes, wait_until
from bench.seed import runtime
from bench.servers import Lab, Server
from bench.tick import ITEMS_PER_RELEASE, QUIET, Seeder, people_ids, spread_launch

GROUP = "memory"
LIMIT_MB = 150.0
LOADED_LIMIT_MB = 250.0
PEOPLE = 300


def run(lab: Lab, sizes: Sizes) -> list[Result]:
    """Memory of servers that have answered /healthz and nothing else, then of one holding many releases.

    serve's figure is its resident set plus the private pages of its sign-off process (`Server.rss_mb`).
    """
    bot, bare = lab.server("bot", fresh=True), lab.server("bare", fresh=True)
    _idle(bot, sizes.idle_seconds)
    _idle(bare, sizes.idle_seconds)
    bare_mb = bare.rss_mb()
    idle = Result(
        group=GROUP,
        figure="rss.serve.idle",
        value=bot.rss_mb(),
        baseline=bare_mb,
        unit="MiB",
        budget=f"< {LIMIT_MB:.0f} MiB",
        limit=LIMIT_MB,
        on="value",
        strict=True,
        notes=(
            f"{sizes.idle_seconds:g} s after the first 200 from /healthz; SQLite, 2 releases; "
            f"{bot.memory_notes()}"
        ),
    )
    return [idle, _loaded(lab, sizes, bare_mb)]


def _loaded(lab: Lab, sizes: Sizes, bare_mb: float) -> Result:
    """A serve whose delivery ticker has loaded every active release twice, measured after an idle spell."""
    path = lab.workdir / "active.db"
    _seed_active(lab, f"sqlite:///{path}", sizes.memory_releases)
    server = lab.spawn("bot", database_url=f"sqlite:///{path}", TICK_SECONDS="1")
    try:
        began = time.perf_counter()
        _wait_for_passes(path, 2)
        passes = time.perf_counter() - began
        time.sleep(sizes.idle_seconds)
        value, held = server.rss_mb(), server.memory_notes()
    finally:
        server.stop()
    return Result(
        group=GROUP,
        figure="rss.serve.active_releases",
        value=value,
        baseline=bare_mb,
        unit="MiB",
        budget=f"< {LOADED_LIMIT_MB:.0f} MiB",
        limit=LOADED_LIMIT_MB,
        on="value",
        strict=True,
        notes=(
            f"a serve holding {sizes.memory_releases:,} active releases × {ITEMS_PER_RELEASE} items "
            f"({PEOPLE} people, 2 owners per item, cards published), TICK_SECONDS=1, after two delivery "
            f"passes ({passes:.1f} s from /healthz) and {sizes.idle_seconds:g} s idle; {held}"
        ),
    )


def _seed_active(lab: Lab, url: str, releases: int) -> None:
    """Releases seeded as rows (as the tick figure does), their cards marked published so none is posted."""
    rt = runtime(url, lab.emulator)
    try:
        seeder = Seeder(rt, people_ids("MEM", PEOPLE), QUIET - timedelta(days=30))
        seeder.add_people()
        seeder.add_releases(releases, ITEMS_PER_RELEASE, spread_launch)
    finally:
        rt.stop()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE release SET card_ts = '1700000000.000100', card_synced_version = card_version")


def _wait_for_passes(path: object, count: int) -> None:
    """Until the scheduler's planning mark has moved `count` times (each pass ends by moving it)."""
    seen: list[object] = []

    def moved() -> bool:
        with sqlite3.connect(str(path), timeout=5) as conn:
            row = conn.execute("SELECT max(at) FROM scheduler_mark").fetchone()
        if row[0] is not None and (not seen or seen[-1] != row[0]):
            seen.append(row[0])
        return len(seen) >= count

    wait_until(moved, timeout=120, what=f"{count} delivery passes of the loaded serve", every=0.2)


def _idle(server: Server, seconds: float) -> None:
    """Sleep until the server has been healthy (and untouched) for `seconds`."""
    remaining = server.healthy_at + seconds - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)
