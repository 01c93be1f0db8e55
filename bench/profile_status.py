"""`python -m bench.profile_status [N]`: where the time of `/release status` goes, in-process under cProfile.

Signed requests go through the real Bolt app (`Runtime.bolt.dispatch`) on the same kind of SQLite database the
ack figure uses; HTTP and uvicorn are left out, which is what the bare app's latency already accounts for.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from slack_bolt import BoltRequest

from bench.load import Request, slash_commands
from bench.seed import create_release, runtime
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime

# (file suffix, function) pairs whose cumulative time says which layer; SQL rows overlap service rows.
LAYERS: dict[str, tuple[tuple[str, str], ...]] = {
    "Bolt dispatch (all)": (("slack_bolt/app/app.py", "dispatch"),),
    "ReleaseService.status": (("bot/services/releases.py", "status"),),
    "  repo.active_releases_in_channel": (("storage/repo.py", "active_releases_in_channel"),),
    "  load_release_view": (("bot/services/views.py", "load_release_view"),),
    "SQLAlchemy Session.execute (all)": (("sqlalchemy/orm/session.py", "execute"),),
    "SQLAlchemy rows → ORM objects": (("sqlalchemy/orm/loading.py", "chunks"),),
    "sqlite3 itself (execute, fetchall)": (
        ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
        ("~", "<method 'fetchall' of 'sqlite3.Cursor' objects>"),
    ),
    "render.status": (("bot/slack/render.py", "status"),),
}


def main(argv: list[str]) -> int:
    """Warm up, time N dispatches, then profile N more and print the layer split and the top functions."""
    count = int(argv[0]) if argv else 500
    with SlackEmulator().start() as emulator, tempfile.TemporaryDirectory(prefix="rc-profile-") as tmp:
        rt = runtime(f"sqlite:///{Path(tmp) / 'profile.db'}", emulator)
        try:
            create_release(rt, "Payments 2.4")
            requests = slash_commands(emulator.workspace, "status", 100 + 2 * count)
            _dispatch(rt, requests[:100])
            began = time.perf_counter()
            _dispatch(rt, requests[100 : 100 + count])
            per_request = (time.perf_counter() - began) / count * 1000
            profiler = cProfile.Profile()
            profiler.enable()
            _dispatch(rt, requests[100 + count :])
            profiler.disable()
        finally:
            rt.stop()
    stats = pstats.Stats(profiler)
    print(f"/release status, 18 items, SQLite: {per_request:.2f} ms per dispatch without the profiler\n")
    _print_layers(stats)
    stats.sort_stats("tottime").print_stats(15)
    return 0


def _dispatch(rt: Runtime, requests: list[Request]) -> None:
    for body, headers in requests:
        response = rt.bolt.dispatch(BoltRequest(body=body.decode(), headers=headers))
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.body[:200]}")


def _print_layers(stats: pstats.Stats) -> None:
    """Cumulative time per layer as a share of the whole dispatch."""
    table = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    cumulative = {
        label: sum(
            row[3]
            for (file, _line, func), row in table.items()
            if any(file.endswith(suffix) and func == name for suffix, name in where)
        )
        for label, where in LAYERS.items()
    }
    total = cumulative["Bolt dispatch (all)"] or 1.0
    for label, seconds in cumulative.items():
        print(f"  {label:<34} {seconds * 1000:8.1f} ms  {seconds / total:6.1%}")
    print()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
