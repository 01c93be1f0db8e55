"""Figure 1: SQL statements of `/release status`, small release against large, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.common import LARGE_CHANNEL, Result, Sizes
from bench.seed import (
    context,
    create_release,
    insert_release,
    postgres_unreachable,
    runtime,
    throwaway_postgres,
)
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime

GROUP = "sql"
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)


def run(sizes: Sizes) -> list[Result]:
    """Count on SQLite, then on a throwaway PostgreSQL database (reported as skipped if unreachable)."""
    with SlackEmulator().start() as emulator, tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        results = [_measure("sqlite", f"sqlite:///{Path(tmp) / 'sql.db'}", emulator, sizes)]
        unreachable = postgres_unreachable(PG_ADMIN_URL)
        if unreachable:
            results.append(_row("postgresql", None, None, f"skipped: {unreachable}"))
        else:
            with throwaway_postgres(PG_ADMIN_URL) as url:
                results.append(_measure("postgresql", url, emulator, sizes))
    return results


def _measure(backend: str, url: str, emulator: SlackEmulator, sizes: Sizes) -> Result:
    rt = runtime(url, emulator)
    try:
        create_release(rt, "Payments 2.4")
        insert_release(rt, "Platform 9", LARGE_CHANNEL, sizes.large_items)
        small, small_kinds = _count_status(rt, context())
        large, large_kinds = _count_status(rt, context(LARGE_CHANNEL))
    finally:
        rt.stop()
    notes = f"{sizes.large_items} items vs 18; 18 items: {_describe(small_kinds)}"
    if large_kinds != small_kinds:
        notes += f"; {sizes.large_items} items: {_describe(large_kinds)}"
    return _row(backend, large, small, notes)


def _row(backend: str, large: int | None, small: int | None, notes: str) -> Result:
    return Result(
        group=GROUP,
        figure=f"sql.status.{backend}",
        value=large,
        baseline=small,
        unit="statements",
        budget="≤ 1.0× baseline",
        limit=1.0,
        notes=notes,
    )


def _count_status(rt: Runtime, ctx: Any) -> tuple[int, Counter[str]]:
    """Statements of one `status` call after a warm-up call (first-use caches are not the command's cost)."""
    rt.services.releases.status(ctx, None)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine: Engine = rt.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        view = rt.services.releases.status(ctx, None)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert view.items, "status returned a release without items"
    return len(statements), Counter(_kind(s) for s in statements)


def _kind(statement: str) -> str:
    """'SELECT checklist_item' style label: verb and first table, enough to spot an N+1."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    if verb == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1]}"
    return verb


def _describe(kinds: Counter[str]) -> str:
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in kinds.items())
