"""Figure 2: ack latency of `/release help` and `/release status` over loopback HTTP, against the bare app."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import Result, Sizes, percentile
from bench.load import Request, Run, first_reply, run_clients, slash_commands
from bench.servers import RELEASE_NAME, Lab, Server

GROUP = "ack"
P99_LIMIT_MS = 30.0
# Ratio budgets on p50 against the bare app: help only acknowledges; status reads and renders the release.
P50_BUDGETS = {"help": 1.5, "status": 4.0}


@dataclass(frozen=True, slots=True)
class _Target:
    """A server and the command text sent to it."""

    name: str
    server: Server
    text: str


def run(lab: Lab, sizes: Sizes) -> list[Result]:
    """1 client, then 20 clients; bare, help and status alternate in rounds so drift hits all three alike."""
    bot, bare = lab.server("bot"), lab.server("bare")
    targets = [
        _Target("bare", bare, "status"),
        _Target("help", bot, "help"),
        _Target("status", bot, "status"),
    ]
    _check_replies(lab, targets)
    for server in (bot, bare):
        server.served_load = True
    results: list[Result] = []
    for clients, per_client in ((1, sizes.requests_1_client), (20, sizes.requests_per_client_20)):
        rounds = min(sizes.rounds, per_client)
        per_round = per_client // rounds
        samples = {t.name: Run([], 0.0) for t in targets}
        for target in targets:  # warm the thread pool, the DB pool and first-use caches at this concurrency
            run_clients(target.server.port, _bodies(lab, target.text, clients, sizes.warmup // clients + 1))
        for _ in range(rounds):
            for target in targets:
                requests = _bodies(lab, target.text, clients, per_round)
                samples[target.name].extend(run_clients(target.server.port, requests))
        results += _rows(clients, samples)
    return results


def _bodies(lab: Lab, text: str, clients: int, each: int) -> list[list[Request]]:
    # Signed just before sending: Bolt rejects timestamps older than five minutes.
    return [slash_commands(lab.emulator.workspace, text, each) for _ in range(clients)]


def _check_replies(lab: Lab, targets: list[_Target]) -> None:
    """Fail loudly if a command would measure an error path instead of the real one."""
    for target in targets:
        status, reply = first_reply(target.server.port, _bodies(lab, target.text, 1, 1)[0][0])
        if status != 200:
            raise RuntimeError(f"{target.name}: HTTP {status}: {reply}")
        if target.name == "status" and RELEASE_NAME not in str(reply):
            raise RuntimeError(f"/release status did not show {RELEASE_NAME!r}: {str(reply)[:300]}")
        if target.name == "help" and not str(reply).strip():
            raise RuntimeError("/release help replied with nothing")


def _rows(clients: int, samples: dict[str, Run]) -> list[Result]:
    who = "1_client" if clients == 1 else f"{clients}_clients"
    bare = samples["bare"]
    rows = []
    for name in ("help", "status"):
        mine = samples[name]
        notes = (
            f"n={len(mine.latencies_ms)}; {mine.throughput:.0f} req/s vs bare {bare.throughput:.0f} req/s; "
            f"p90 {percentile(mine.latencies_ms, 90):.2f} ms"
        )
        rows.append(
            Result(
                group=GROUP,
                figure=f"ack.{name}.p50.{who}",
                value=percentile(mine.latencies_ms, 50),
                baseline=percentile(bare.latencies_ms, 50),
                unit="ms",
                budget=f"≤ {P50_BUDGETS[name]}× baseline",
                limit=P50_BUDGETS[name],
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
        rows.append(p99)
    return rows
