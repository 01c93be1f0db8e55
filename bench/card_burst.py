"""Figure: card updates per sign-off burst (the card worker coalesces changes into few edits).

A burst of sign-offs on one release, as fast as the services accept them, with the real card worker
running against the emulator. Without coalescing every sign-off would edit the card once (the baseline);
Slack allows about one message edit per second per channel, so a burst should cost a handful at most.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlmodel import select

from bench.common import CHANNEL, Result, Sizes
from bench.seed import context, runtime
from bot.domain.transitions import Move
from bot.domain.when import parse_when
from bot.sandbox.emulator import SlackEmulator
from bot.wiring import Runtime
from storage.db import unit_of_work
from storage.tables import Release

GROUP = "cards"
BUDGET = 0.25  # at most one card edit per four sign-offs


def run(sizes: Sizes) -> list[Result]:
    """Sign off `sizes.burst` items of one release back to back; count the card's chat.update calls."""
    burst = min(sizes.burst, 18)
    with SlackEmulator().start() as emulator, tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        rt = runtime(f"sqlite:///{Path(tmp) / 'cards.db'}", emulator)
        rt.start(tick=False)
        try:
            ctx = context(CHANNEL)
            view = rt.services.releases.create(
                ctx, name="Burst 1.0", when=parse_when("+14d"), channel_id=None, template=None
            )
            card_ts = _synced(rt, view.id)
            emulator.reset_calls()
            began = time.perf_counter()
            for position in range(1, burst + 1):
                rt.services.items.transition(ctx, None, str(position), Move.NOT_APPLICABLE, "bench")
            burst_seconds = time.perf_counter() - began
            _synced(rt, view.id)
            edits = [c for c in emulator.calls_to("chat.update") if c.args.get("ts") == card_ts]
            item_edits = len(emulator.calls_to("chat.update")) - len(edits)
        finally:
            rt.stop()
    return [
        Result(
            group=GROUP,
            figure="cards.updates_per_burst",
            value=float(len(edits)),
            baseline=float(burst),
            unit="edits",
            budget=f"≤ {BUDGET:g}× sign-offs",
            limit=BUDGET,
            notes=(
                f"{burst} sign-offs in {burst_seconds * 1000:.0f} ms edited the card {len(edits)} times "
                f"(and the item replies {item_edits} times: one each)"
            ),
        )
    ]


def _synced(rt: Runtime, release_id: int, timeout: float = 30.0) -> str:
    """Wait until the card shows the release's latest version; its message ts."""
    deadline = time.monotonic() + timeout
    while True:
        with unit_of_work(rt.engine, write=False) as session:
            release = session.exec(select(Release).where(Release.id == release_id)).one()
            done = release.card_ts and release.card_synced_version >= release.card_version
            ts = release.card_ts
        if done:
            return str(ts)
        if time.monotonic() > deadline:
            raise RuntimeError("the card worker did not catch up within 30 s")
        time.sleep(0.02)
