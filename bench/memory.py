"""Figure 3: resident memory of an idle `serve`, after start-up and a short idle, against the bare app."""

from __future__ import annotations

import time

from bench.common import Result, Sizes
from bench.servers import Lab, Server

GROUP = "memory"
LIMIT_MB = 150.0


def run(lab: Lab, sizes: Sizes) -> list[Result]:
    """VmRSS of servers that have answered /healthz and nothing else, `idle_seconds` after that."""
    bot, bare = lab.server("bot", fresh=True), lab.server("bare", fresh=True)
    _idle(bot, sizes.idle_seconds)
    _idle(bare, sizes.idle_seconds)
    return [
        Result(
            group=GROUP,
            figure="rss.serve.idle",
            value=bot.rss_mb(),
            baseline=bare.rss_mb(),
            unit="MiB",
            budget=f"< {LIMIT_MB:.0f} MiB",
            limit=LIMIT_MB,
            on="value",
            strict=True,
            notes=f"VmRSS {sizes.idle_seconds:g} s after the first 200 from /healthz; SQLite, 1 release",
        )
    ]


def _idle(server: Server, seconds: float) -> None:
    """Sleep until the server has been healthy (and untouched) for `seconds`."""
    remaining = server.healthy_at + seconds - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)
