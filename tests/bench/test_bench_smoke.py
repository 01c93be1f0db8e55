"""`python -m bench --smoke` runs every figure and writes numbers; timings are never asserted here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    *(
        f"sql.{cmd}.{axis}.{backend}"
        for cmd in ("status", "assign")
        for axis in ("items", "releases")
        for backend in ("sqlite", "postgresql")
    ),
    "startup.serve",
    "rss.serve.idle",
    "rss.serve.active_releases",
    *(
        f"ack.{cmd}.{q}.{who}"
        for cmd in ("help", "status", "assign", "reaction", "button")
        for q in ("p50", "p99")
        for who in ("1_client", "20_clients")
    ),
    *(
        f"tick.{what}.{backend}"
        for what in ("cost", "sql.releases", "sql.items")
        for backend in ("sqlite", "postgresql")
    ),
    "tick.cost.sqlite.cpu",
    "tick.cost.postgresql.cpu",
    "tick.dms_per_people",
    "tick.throughput.channel",
    "tick.throughput.dms",
    "cards.updates_per_burst",
}
ROW_KEYS = {
    "group",
    "figure",
    "value",
    "baseline",
    "ratio",
    "unit",
    "budget",
    "budget_limit",
    "budget_floor",
    "pass",
    "notes",
}


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_smoke_run_reports_every_figure_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "within budget" in done.stdout

    document = json.loads(out.read_text())
    assert document["smoke"] is True
    assert {"cpu_count", "python", "timestamp"} <= document["machine"].keys()
    rows = {row["figure"]: row for row in document["results"]}
    assert rows.keys() == EXPECTED

    for name, row in rows.items():
        assert row.keys() >= ROW_KEYS, name
        if row["notes"].startswith("skipped:") and not os.environ.get("CI"):
            continue  # PostgreSQL absent on a laptop; CI always has it
        assert _numeric(row["value"]), (name, row)
        assert _numeric(row["baseline"]), (name, row)
        assert _numeric(row["ratio"]), (name, row)
        assert row["pass"] in (True, False, None), (name, row)
        if row["budget_limit"] is not None or row["budget_floor"] is not None:
            assert isinstance(row["pass"], bool), (name, row)
