"""The ack figure's rows: budgets, and the note when the machine itself misses the absolute p99 budget."""

from __future__ import annotations

from bench.ack_latency import P50_BUDGETS, _rows
from bench.load import Run


def _runs(bare_ms: float, bot_ms: float) -> dict[str, Run]:
    runs = {name: Run([bot_ms] * 100, 1.0) for name in P50_BUDGETS}
    runs["bare"] = Run([bare_ms] * 100, 1.0)
    return runs


def test_p99_at_twenty_clients_is_held_to_the_absolute_budget() -> None:
    rows = {r.figure: r for r in _rows(20, _runs(bare_ms=10.0, bot_ms=31.0))}
    p99 = rows["ack.help.p99.20_clients"]
    assert p99.limit == 30.0 and p99.passed is False
    assert "floor" not in p99.notes
    assert rows["ack.help.p50.20_clients"].passed is False  # 3.1× the floor, over 1.5×


def test_a_floor_over_the_budget_is_said_in_the_notes() -> None:
    rows = {r.figure: r for r in _rows(20, _runs(bare_ms=41.0, bot_ms=45.0))}
    assert "the floor's own p99 is 41.0 ms" in rows["ack.status.p99.20_clients"].notes
    assert rows["ack.status.p99.20_clients"].passed is False  # reported, not excused
    one = {r.figure: r for r in _rows(1, _runs(bare_ms=41.0, bot_ms=45.0))}
    assert (
        one["ack.status.p99.1_client"].limit is None and "floor" not in one["ack.status.p99.1_client"].notes
    )


def test_cpu_per_request_and_the_queue_it_makes_are_in_the_notes() -> None:
    runs = _runs(bare_ms=10.0, bot_ms=80.0)
    runs["assign"] = Run([80.0] * 100, 1.0, sent=200, server_cpu_seconds=0.8)  # 4 ms per request sent
    runs["reaction"] = Run([5.0] * 100, 1.0, sent=200, server_cpu_seconds=0.8)
    rows = {r.figure: r for r in _rows(20, runs)}
    assert "server CPU 4.00 ms per request sent" in rows["ack.assign.p50.20_clients"].notes
    assert "20 queued × 4.00 ms CPU = 80 ms" in rows["ack.assign.p99.20_clients"].notes
    # A reaction's work runs in the sign-off process, beside the requests: it queues nothing here.
    assert "queued" not in rows["ack.reaction.p99.20_clients"].notes


def test_a_run_adds_up_the_requests_it_sent_and_their_cpu() -> None:
    total = Run([], 0.0)
    total.extend(Run([1.0, 2.0], 0.5, sent=4, server_cpu_seconds=0.004))
    total.extend(Run([3.0], 0.5, sent=2, server_cpu_seconds=0.008))
    assert (total.sent, round(total.server_cpu_ms, 6), total.throughput) == (6, 2.0, 3.0)
