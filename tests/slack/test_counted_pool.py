"""CountedPool: the backlog the /metrics gauges and the sandbox's settle() read."""

from __future__ import annotations

import threading
import time

import pytest

from bot.slack.counted_pool import CountedPool


def test_a_job_counts_until_it_has_finished_even_when_it_fails() -> None:
    pool = CountedPool(1, "test")
    gate = threading.Event()

    def fails() -> None:
        gate.wait(10)
        raise ValueError("boom")

    try:
        first = pool.submit(fails)
        second = pool.submit(lambda: "done")
        assert pool.backlog() == 2
        gate.set()
        with pytest.raises(ValueError):
            first.result(timeout=10)
        assert second.result(timeout=10) == "done"
        # The count drops in the future's done-callback, which may run just after result() returns.
        deadline = time.monotonic() + 10
        while pool.backlog() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert pool.backlog() == 0
    finally:
        pool.shutdown()


def test_a_job_refused_after_shutdown_is_not_counted() -> None:
    pool = CountedPool(1, "test")
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    assert pool.backlog() == 0  # or settle() and the gauge would wait for it forever
