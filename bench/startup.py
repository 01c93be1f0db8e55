"""Figure 4: start-up time, from spawning `release-captain serve` to its first 200 from /healthz."""

from __future__ import annotations

import statistics

from bench.common import Result, Sizes
from bench.servers import Kind, Lab

GROUP = "startup"
LIMIT_S = 2.0


def run(lab: Lab, sizes: Sizes) -> list[Result]:
    """Median of `startup_repeats` spawns each, bot and bare alternating; the last pair stays running."""
    times: dict[Kind, list[float]] = {"bot": [], "bare": []}
    for repeat in range(sizes.startup_repeats):
        for kind in ("bot", "bare"):
            server = lab.spawn(kind)
            times[kind].append(server.startup_seconds)
            if repeat == sizes.startup_repeats - 1:
                lab.keep(server)  # healthy and untouched: exactly what the memory figure needs
            else:
                server.stop()
    bot = times["bot"]
    return [
        Result(
            group=GROUP,
            figure="startup.serve",
            value=statistics.median(bot),
            baseline=statistics.median(times["bare"]),
            unit="s",
            budget=f"< {LIMIT_S:g} s",
            limit=LIMIT_S,
            on="value",
            strict=True,
            notes=(
                f"median of {len(bot)}, range {min(bot):.3f}–{max(bot):.3f} s; "
                "database already at head (a restart; serve still runs its migration check)"
            ),
        )
    ]
