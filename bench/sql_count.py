"""Figure 1: SQL statements per command against the size of a release and the number of releases."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.common import CHANNEL, Result, Sizes
from bench.seed import (
    context,
    create_release,
    insert_release,
    postgres_unreachable,
    runtime,
    throwaway_postgres,
)
from bot.domain.model import Owner, OwnerKind
from bot.sandbox.emulator import SlackEmulator
from bot.services.context import RequestContext
from bot.wiring import Runtime

GROUP = "sql"
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
COMMANDS = ("status", "assign")
NEW_OWNER = Owner(OwnerKind.USER, "ULEE00001")
# Releases of the size figure each get a channel, so `status` and `assign` need no release name.
SIZE_CHANNELS = ("CRANDOM1", "CANNOUNCE")

Command = Callable[[Runtime, RequestContext], None]


def _status(rt: Runtime, ctx: RequestContext) -> None:
    view = rt.services.releases.status(ctx, None)
    assert view.items, "status returned a release without items"


def _assign(rt: Runtime, ctx: RequestContext) -> None:
    change = rt.services.items.assign(ctx, None, "5", [NEW_OWNER])
    assert change.added, f"assign added nobody: {change}"


def _unassign(rt: Runtime, ctx: RequestContext) -> None:
    rt.services.items.unassign(ctx, None, "5", [NEW_OWNER])


# Each command, and what puts the release back afterwards (not counted), so every call does the work.
RUNNERS: dict[str, tuple[Command, Command | None]] = {
    "status": (_status, None),
    "assign": (_assign, _unassign),
}


def run(sizes: Sizes) -> list[Result]:
    """Count on SQLite, then on a throwaway PostgreSQL database (reported as skipped if unreachable)."""
    with SlackEmulator().start() as emulator, tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        results = _measure("sqlite", lambda name: f"sqlite:///{Path(tmp) / f'{name}.db'}", emulator, sizes)
        unreachable = postgres_unreachable(PG_ADMIN_URL)
        if unreachable:
            results += [
                _row(command, axis, "postgresql", None, None, f"skipped: {unreachable}")
                for command in COMMANDS
                for axis in ("items", "releases")
            ]
        else:
            with throwaway_postgres(PG_ADMIN_URL) as items_url, throwaway_postgres(PG_ADMIN_URL) as many_url:
                urls = {"items": items_url, "releases": many_url}
                results += _measure("postgresql", urls.__getitem__, emulator, sizes)
    return results


def _measure(
    backend: str, url_of: Callable[[str], str], emulator: SlackEmulator, sizes: Sizes
) -> list[Result]:
    """Per command: 18 items against the largest size, then 10 releases in the database against many."""
    small, large = sizes.sql_items[0], sizes.sql_items[-1]
    by_size: dict[str, list[tuple[int, Counter[str]]]] = {c: [] for c in COMMANDS}
    rt = runtime(url_of("items"), emulator)
    try:
        create_release(rt, "Payments 2.4")  # 18 items, through the service, in #releases
        channels = SIZE_CHANNELS[: len(sizes.sql_items) - 1]
        for items, channel in zip(sizes.sql_items[1:], channels, strict=True):
            insert_release(rt, f"Platform {items}", channel, items)
        for command in COMMANDS:
            for channel in (CHANNEL, *channels):
                by_size[command].append(_count(rt, RUNNERS[command], context(channel)))
    finally:
        rt.stop()

    by_releases: dict[str, list[tuple[int, Counter[str]]]] = {c: [] for c in COMMANDS}
    rt = runtime(url_of("releases"), emulator)
    try:
        create_release(rt, "Payments 2.4")
        _add_other_releases(rt, sizes.sql_few_releases - 1)
        for command in COMMANDS:
            by_releases[command].append(_count(rt, RUNNERS[command], context()))
        _add_other_releases(
            rt, sizes.sql_many_releases - sizes.sql_few_releases, start=sizes.sql_few_releases
        )
        for command in COMMANDS:
            by_releases[command].append(_count(rt, RUNNERS[command], context()))
    finally:
        rt.stop()

    rows = []
    for command in COMMANDS:
        counts = by_size[command]
        sizes_note = " / ".join(f"{n:,}" for n in sizes.sql_items)
        notes = (
            f"items per release {sizes_note}: " + " / ".join(str(n) for n, _ in counts) + " statements; "
            f"{small} items: {_describe(counts[0][1])}"
        )
        if counts[-1][1] != counts[0][1]:
            notes += f"; {large:,} items: {_describe(counts[-1][1])}"
        rows.append(_row(command, "items", backend, counts[-1][0], counts[0][0], notes))
        few, many = by_releases[command]
        notes = (
            f"{sizes.sql_many_releases:,} vs {sizes.sql_few_releases} releases in the database (18 items "
            f"each in the one asked about): {_describe(many[1])}"
        )
        rows.append(_row(command, "releases", backend, many[0], few[0], notes))
    return rows


def _add_other_releases(rt: Runtime, count: int, *, start: int = 1) -> None:
    """Releases in other channels, one item each: only their number matters here."""
    for n in range(start, start + count):
        insert_release(rt, f"Other {n}", f"COTHER{n:05d}", 1, owned=False)


def _row(
    command: str, axis: str, backend: str, value: int | None, baseline: int | None, notes: str
) -> Result:
    return Result(
        group=GROUP,
        figure=f"sql.{command}.{axis}.{backend}",
        value=value,
        baseline=baseline,
        unit="statements",
        budget="≤ 1.0× baseline",
        limit=1.0,
        notes=notes,
    )


def _count(
    rt: Runtime, runner: tuple[Command, Command | None], ctx: RequestContext
) -> tuple[int, Counter[str]]:
    """Statements of one command after a warm-up call (first-use caches are not the command's cost)."""
    command, undo = runner
    command(rt, ctx)
    if undo is not None:
        undo(rt, ctx)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine: Engine = rt.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        command(rt, ctx)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if undo is not None:
        undo(rt, ctx)
    return len(statements), Counter(_kind(s) for s in statements)


def _kind(statement: str) -> str:
    """'SELECT checklist_item' style label: verb and first table, enough to spot an N+1."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    if verb == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1].strip(chr(34))}"
    if verb in ("INSERT", "UPDATE", "DELETE") and len(words) > 2:
        return f"{verb} {words[2 if verb != 'UPDATE' else 1].strip(chr(34))}"
    return verb


def _describe(kinds: Counter[str]) -> str:
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in kinds.items())
