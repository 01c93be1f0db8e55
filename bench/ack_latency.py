"""Figure 2: ack latency of commands, a reaction sign-off and a button click over loopback HTTP."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import LARGE_CHANNEL, Result, Sizes, percentile
from bench.load import Request, Run, first_reply, reaction, run_clients, sign_off_click, slash_commands
from bench.servers import RELEASE_NAME, ItemReply, Lab, Server

GROUP = "ack"
P99_LIMIT_MS = 30.0
# Ratio budgets on p50 against the bare app: help, reactions and buttons only acknowledge (the issue's
# words); status reads and renders the release. Assign writes and has no ratio budget, only the p99 one.
P50_BUDGETS: dict[str, float | None] = {
    "help": 1.5,
    "status": 4.0,
    "assign": None,
    "reaction": 1.5,
    "button": 1.5,
}
OWNER = "<@UANA00001|ana>"

# A batch builder: (lab, clients, requests per client) -> signed requests, one list per client.
Batch = Callable[[Lab, int, int], list[list[Request]]]


@dataclass(frozen=True, slots=True)
class _Target:
    """A server, the requests sent to it, and which of them are timed (see `run_clients`)."""

    name: str
    kind: str  # "bare" or "bot"
    batch: Batch
    writes: bool = False  # sign-offs and owner changes: paired with the request that undoes them
    handed_off: bool = False  # answered at once, applied in serve's sign-off process (bot/handoff.py)

    @property
    def timed_every(self) -> int:
        return 2 if self.writes else 1


def _commands(text: str) -> Batch:
    def batch(lab: Lab, clients: int, each: int) -> list[list[Request]]:
        # Signed just before sending: Bolt rejects timestamps older than five minutes.
        return [slash_commands(lab.emulator.workspace, text, each) for _ in range(clients)]

    return batch


def _assigns(lab: Lab, clients: int, each: int) -> list[list[Request]]:
    """Client n assigns an owner to its own item, then unassigns them, `each` times."""
    ws = lab.emulator.workspace
    out = []
    for reply in _replies(lab, clients):
        assign = slash_commands(ws, f"assign {reply.position} {OWNER}", each, LARGE_CHANNEL)
        unassign = slash_commands(ws, f"unassign {reply.position} {OWNER}", each, LARGE_CHANNEL)
        out.append([r for pair in zip(assign, unassign, strict=True) for r in pair])
    return out


def _reactions(lab: Lab, clients: int, each: int) -> list[list[Request]]:
    """Client n adds ✅ to its own item's reply (a sign-off), then removes it (a reopening), `each` times."""
    ws, ticks = lab.emulator.workspace, _event_clock()
    return [
        [
            reaction(ws, LARGE_CHANNEL, reply.reply_ts, added=added, event_ts=next(ticks))
            for _ in range(each)
            for added in (True, False)
        ]
        for reply in _replies(lab, clients)
    ]


def _clicks(lab: Lab, clients: int, each: int) -> list[list[Request]]:
    """Client n clicks its own item's "Sign off" button, then removes a ✅ (reopening it), `each` times."""
    ws, ticks = lab.emulator.workspace, _event_clock()
    return [
        [
            request
            for _ in range(each)
            for request in (
                sign_off_click(ws, LARGE_CHANNEL, reply.reply_ts, reply.item_id),
                reaction(ws, LARGE_CHANNEL, reply.reply_ts, added=False, event_ts=next(ticks)),
            )
        ]
        for reply in _replies(lab, clients)
    ]


def _replies(lab: Lab, clients: int) -> list[ItemReply]:
    if clients > len(lab.replies):
        raise RuntimeError(f"{clients} clients but only {len(lab.replies)} items to sign off")
    return lab.replies[:clients]


def _event_clock() -> itertools.count:
    """Strictly increasing event_ts values: the bot lets a later reaction event win over an earlier one."""
    start = int(time.time() * 1_000_000)
    return (f"{micros // 1_000_000}.{micros % 1_000_000:06d}" for micros in itertools.count(start))  # type: ignore[return-value]


TARGETS = [
    _Target("bare", "bare", _commands("status")),
    _Target("help", "bot", _commands("help")),
    _Target("status", "bot", _commands("status")),
    _Target("assign", "bot", _assigns, writes=True),
    _Target("reaction", "bot", _reactions, writes=True, handed_off=True),
    _Target("button", "bot", _clicks, writes=True, handed_off=True),
]


WRITES = {t.name for t in TARGETS if t.writes}
HANDED_OFF = {t.name for t in TARGETS if t.handed_off}


def run(lab: Lab, sizes: Sizes) -> list[Result]:
    """1 client, then 20; every target in turn within each round, so drift hits all of them alike."""
    servers = {"bot": lab.server("bot"), "bare": lab.server("bare")}
    _check_replies(lab, servers)
    for server in servers.values():
        server.served_load = True
    results: list[Result] = []
    levels = (
        (1, sizes.requests_1_client, sizes.writes_1_client),
        (20, sizes.requests_per_client_20, sizes.writes_per_client_20),
    )
    for clients, reads, writes in levels:
        samples = {t.name: Run([], 0.0) for t in TARGETS}
        for target in TARGETS:  # warm the thread pool, the DB pool and first-use caches at this concurrency
            _measure(lab, servers, target, clients, sizes.warmup // clients + 1)
        rounds = min(sizes.rounds, writes)
        for _ in range(rounds):
            for target in TARGETS:
                each = (writes if target.writes else reads) // rounds
                samples[target.name].extend(_measure(lab, servers, target, clients, each))
        results += _rows(clients, samples)
    return results


def _measure(lab: Lab, servers: dict[str, Server], target: _Target, clients: int, each: int) -> Run:
    requests = target.batch(lab, clients, each)
    server = servers[target.kind]
    cpu_before = server.cpu_seconds()
    run = run_clients(server.port, requests, timed_every=target.timed_every)
    if target.writes:
        lab.settle()  # the card edits a batch caused are not charged to the next target
    # ... but they are charged to this one's CPU: the work a request causes after its answer is its cost too.
    run.server_cpu_seconds = server.cpu_seconds() - cpu_before
    return run


def _check_replies(lab: Lab, servers: dict[str, Server]) -> None:
    """Fail loudly if a request would measure an error path or a no-op instead of the real work."""
    for target in TARGETS:
        first, *undo = target.batch(lab, 1, 1)[0]
        status, reply = first_reply(servers[target.kind].port, first)
        text = str(reply)
        if status != 200:
            raise RuntimeError(f"{target.name}: HTTP {status}: {text[:300]}")
        if target.name == "status" and RELEASE_NAME not in text:
            raise RuntimeError(f"/release status did not show {RELEASE_NAME!r}: {text[:300]}")
        if target.name == "help" and not text.strip():
            raise RuntimeError("/release help replied with nothing")
        if target.name == "assign" and "UANA00001" not in text:
            raise RuntimeError(f"/release assign did not confirm the owner: {text[:300]}")
        for request in undo:  # put the item back as it was
            first_reply(servers[target.kind].port, request)
    # Reactions and clicks are applied after the acknowledgement: give them a moment to land.
    deadline = time.monotonic() + 10
    while (signed := _sign_offs(lab, lab.replies[0].item_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    if signed < 2:
        raise RuntimeError(f"the check reaction and click signed off {signed} of 2 times")
    lab.settle()


def _sign_offs(lab: Lab, item_id: int) -> int:
    """Audit rows that moved the item to done (from the database the bot writes)."""
    with sqlite3.connect(lab.database_url.removeprefix("sqlite:///"), timeout=5) as conn:
        query = "SELECT count(*) FROM audit_event WHERE item_id = ? AND after = 'done'"
        return int(conn.execute(query, (item_id,)).fetchone()[0])


def _rows(clients: int, samples: dict[str, Run]) -> list[Result]:
    who = "1_client" if clients == 1 else f"{clients}_clients"
    bare = samples["bare"]
    rows = []
    for name, ratio_budget in P50_BUDGETS.items():
        mine = samples[name]
        per = "pairs/s (with the request that undoes it)" if name in WRITES else "req/s"
        notes = (
            f"n={len(mine.latencies_ms)}; {mine.throughput:.0f} {per} vs bare {bare.throughput:.0f} req/s; "
            f"p90 {percentile(mine.latencies_ms, 90):.2f} ms; "
            f"server CPU {mine.server_cpu_ms:.2f} ms per request sent vs bare {bare.server_cpu_ms:.2f}"
        )
        rows.append(
            Result(
                group=GROUP,
                figure=f"ack.{name}.p50.{who}",
                value=percentile(mine.latencies_ms, 50),
                baseline=percentile(bare.latencies_ms, 50),
                unit="ms",
                budget=f"≤ {ratio_budget}× baseline" if ratio_budget else "(info)",
                limit=ratio_budget,
                notes=notes,
            )
        )
        p99 = Result(
            group=GROUP,
            figure=f"ack.{name}.p99.{who}",
            value=percentile(mine.latencies_ms, 99),
            baseline=percentile(bare.latencies_ms, 99),
            unit="ms",
            budget="(info)",
            limit=None,
            on="value",
            notes=f"max {max(mine.latencies_ms):.2f} ms",
        )
        if clients > 1:
            p99.budget, p99.limit = f"≤ {P99_LIMIT_MS:.0f} ms", P99_LIMIT_MS
            p99.notes += _queue_bound(name, clients, mine) + _floor_over_limit(bare)
        rows.append(p99)
    return rows


def _queue_bound(name: str, clients: int, mine: Run) -> str:
    """What a request answered in the request process waits for, at least, when every client has one queued.

    One process runs one request's Python at a time, so with `clients` requests queued the last answer
    comes after all of their CPU time, whatever the order. Reactions and clicks are left out: their work
    runs in the sign-off process, beside the requests.
    """
    if name in HANDED_OFF:
        return ""
    return f"; {clients} queued × {mine.server_cpu_ms:.2f} ms CPU = {clients * mine.server_cpu_ms:.0f} ms"


def _floor_over_limit(bare: Run) -> str:
    """A note when the bare app itself misses the absolute p99 budget: the machine decides, not the bot."""
    floor_p99 = percentile(bare.latencies_ms, 99)
    if floor_p99 <= P99_LIMIT_MS:
        return ""
    return f"; the floor's own p99 is {floor_p99:.1f} ms, over {P99_LIMIT_MS:.0f} ms: a slow or busy machine"
