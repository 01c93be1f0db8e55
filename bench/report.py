"""The aligned table on stdout and results.json on disk."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Result

_HEADERS = ("figure", "value", "baseline", "ratio", "budget", "pass/fail")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def table(results: Sequence[Result]) -> str:
    """One aligned row per result under a header: text left-aligned, numbers right-aligned."""
    rows = [_HEADERS] + [_cells(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(results: Sequence[Result]) -> str:
    """'N of M within budget', counting only rows that have a budget and a measurement."""
    judged = [r for r in results if r.passed is not None]
    ok = sum(1 for r in judged if r.passed)
    return f"{ok} of {len(judged)} within budget"


def notes(results: Sequence[Result]) -> str:
    """The notes of every row, one line each."""
    return "\n".join(f"  {r.figure}: {r.notes}" for r in results if r.notes)


def write_json(path: Path, results: Sequence[Result], *, smoke: bool) -> None:
    """{"machine": ..., "smoke": bool, "results": [row, ...]}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine(), "smoke": smoke, "results": [r.to_dict() for r in results]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _cells(r: Result) -> tuple[str, ...]:
    verdict = {True: "pass", False: "FAIL", None: "—"}[r.passed]
    if r.value is None:
        verdict = "skipped"
    return (r.figure, _num(r.value, r.unit), _num(r.baseline, r.unit), _ratio(r.ratio), r.budget, verdict)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "statements":
        return f"{value:.0f} stmts"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:.2f} {unit}" if value < 100 else f"{value:.1f} {unit}"


def _ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"
