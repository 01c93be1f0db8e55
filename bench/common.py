"""What every figure shares: the result row, sizes, identities, percentiles, ports and process memory."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
CHANNEL = "CRELEASES"  # the 18-item release lives here
LARGE_CHANNEL = "CANNOUNCE"  # the large release gets a channel of its own so `status` needs no name
MANAGER = "UMAYA0001"
_EPSILON = 1e-9  # a ratio of two equal counts is exactly 1.0, but a computed one may be 0.9999999999


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each figure does; `smoke` shrinks everything so the whole run takes seconds."""

    sql_items: tuple[int, ...]  # items per release for the statement counts: 18 (the template), then more
    sql_few_releases: int  # releases in the database, baseline and value of the statement counts
    sql_many_releases: int
    requests_1_client: int
    requests_per_client_20: int
    writes_1_client: int  # timed sign-offs and assigns (each followed by the request that undoes it)
    writes_per_client_20: int
    rounds: int
    warmup: int
    startup_repeats: int
    idle_seconds: float
    memory_releases: int  # active releases (20 items each) held by the loaded serve of the memory figure
    tick_releases: int  # active releases in the large planning pass (the baseline pass has 10)
    tick_people: int  # people owning their items, with cached Person rows
    tick_repeats: int  # timed planning passes of the large database (the small one gets 10×)
    tick_sql_items: tuple[int, ...]  # items per release at 10 releases, for the statement count
    tick_digest_people: int  # people with a heads-up or overdue rung at the same 09:00
    tick_dms: int  # DMs to distinct people in the throughput figure
    tick_channel_posts: int  # summaries in one channel, at the real pace
    burst: int  # sign-offs in one burst on one release (card coalescing)


FULL = Sizes(
    sql_items=(18, 200, 2000),
    sql_few_releases=10,
    sql_many_releases=1000,
    requests_1_client=1000,
    requests_per_client_20=100,
    writes_1_client=200,
    writes_per_client_20=20,
    rounds=5,
    warmup=40,
    startup_repeats=5,
    idle_seconds=2.0,
    memory_releases=1000,
    tick_releases=1000,
    tick_people=300,
    tick_repeats=3,
    tick_sql_items=(18, 200, 2000),
    tick_digest_people=200,
    tick_dms=300,
    tick_channel_posts=6,
    burst=15,
)
SMOKE = Sizes(
    sql_items=(18, 60),
    sql_few_releases=10,
    sql_many_releases=40,
    requests_1_client=20,
    requests_per_client_20=2,
    writes_1_client=4,
    writes_per_client_20=1,
    rounds=1,
    warmup=5,
    startup_repeats=1,
    idle_seconds=0.3,
    memory_releases=40,
    tick_releases=40,
    tick_people=30,
    tick_repeats=1,
    tick_sql_items=(18, 60),
    tick_digest_people=12,
    tick_dms=20,
    tick_channel_posts=3,
    burst=6,
)


@dataclass(slots=True)
class Result:
    """One row of the report: a value, its baseline from the same run, and the budget it is held to."""

    group: str
    figure: str
    value: float | None
    baseline: float | None
    unit: str
    budget: str  # human-readable, e.g. "≤ 1.5× baseline" or "< 150 MB"
    limit: float | None  # None: reported for information, no budget
    on: Literal["ratio", "value"] = "ratio"
    strict: bool = False  # "<" rather than "≤"
    notes: str = ""
    floor: float | None = None  # a lower bound too (inclusive); floor == limit asks for exactly that

    @property
    def ratio(self) -> float | None:
        """value / baseline, when both are known."""
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        """Within budget? None when there is no budget or nothing was measured."""
        measured = self.ratio if self.on == "ratio" else self.value
        if measured is None or (self.limit is None and self.floor is None):
            return None
        if self.floor is not None and measured < self.floor - _EPSILON:
            return False
        if self.limit is None:
            return True
        return measured < self.limit if self.strict else measured <= self.limit + _EPSILON

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a row."""
        return {
            "group": self.group,
            "figure": self.figure,
            "value": self.value,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "unit": self.unit,
            "budget": self.budget,
            "budget_limit": self.limit,
            "budget_floor": self.floor,
            "budget_on": self.on,
            "pass": self.passed,
            "notes": self.notes,
        }


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always a value that was actually observed."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll until the predicate is truthy; RuntimeError naming `what` after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc (psutil is not a dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def private_mb(pid: int) -> float:
    """Pages only this process maps (private clean and dirty), in MiB: what it adds to the machine.

    For a process forked from another, this is what the fork cost; shared pages are already counted in the
    parent's resident set.
    """
    kib = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kib += int(line.split()[1])
    return kib / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (clock ticks, usually 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3 of stat(5), utime 14 and stime 15, so 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)
