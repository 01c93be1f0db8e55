"""The coalescing worker behind the card and App Home workers: bursts become one run, keys are paced."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bot.coalescing import Coalescer

INTERVAL = 0.3


class Recorder(Coalescer[str]):
    """Records when each key ran; `fail` keys raise; `sweep_finds` is what the sweep schedules."""

    def __init__(self, *, sweep_seconds: float | None = None) -> None:
        super().__init__(name="test-worker", min_interval=INTERVAL, sweep_seconds=sweep_seconds)
        self.runs: list[tuple[str, float]] = []
        self.sweeps = 0
        self.fail: set[str] = set()
        self.sweep_finds: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def request(self, key: str) -> None:
        self._schedule(key)

    def _run_key(self, key: str) -> None:
        self.gate.wait(5)
        self.runs.append((key, time.monotonic()))
        if key in self.fail:
            raise RuntimeError(f"{key} broke")

    def _sweep(self) -> None:
        self.sweeps += 1
        for key in self.sweep_finds:
            self.request(key)

    def ran(self, key: str) -> list[float]:
        return [at for k, at in self.runs if k == key]


@pytest.fixture
def worker() -> Iterator[Recorder]:
    worker = Recorder()
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def settle(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.01)


def test_a_burst_of_requests_is_one_run(worker: Recorder) -> None:
    for _ in range(20):
        worker.request("payments")
    settle(worker.idle)
    assert len(worker.ran("payments")) == 1


def test_a_key_runs_at_most_once_per_interval_and_requests_meanwhile_join_one_run(worker: Recorder) -> None:
    worker.request("payments")
    settle(lambda: len(worker.ran("payments")) == 1)
    for _ in range(5):  # all inside the interval after the first run
        worker.request("payments")
        time.sleep(0.02)
    settle(worker.idle)
    first, second = worker.ran("payments")
    assert second - first >= INTERVAL * 0.95
    time.sleep(INTERVAL)
    assert len(worker.ran("payments")) == 2


def test_keys_are_paced_independently(worker: Recorder) -> None:
    worker.request("payments")
    worker.request("mobile")
    settle(worker.idle)
    payments, mobile = worker.ran("payments")[0], worker.ran("mobile")[0]
    assert abs(payments - mobile) < INTERVAL


def test_a_failing_run_is_logged_and_the_worker_goes_on(
    worker: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    worker.fail.add("broken")
    worker.request("broken")
    worker.request("payments")
    settle(worker.idle)
    assert worker.ran("payments")
    assert "test-worker: 'broken' failed" in caplog.text


def test_idle_is_false_while_a_run_is_in_flight(worker: Recorder) -> None:
    worker.gate.clear()
    worker.request("payments")
    time.sleep(0.05)
    assert not worker.idle()
    worker.gate.set()
    settle(worker.idle)


def test_the_sweep_runs_on_its_period_and_schedules_what_it_finds() -> None:
    worker = Recorder(sweep_seconds=0.2)
    worker.sweep_finds = ["left-behind"]
    worker.start()
    try:
        settle(lambda: worker.sweeps >= 3, timeout=3.0)
        assert worker.ran("left-behind")
    finally:
        worker.stop()


def test_started_without_the_sweep_it_runs_only_what_it_is_asked_for() -> None:
    """serve's sign-off process: it publishes the cards it changed and never claims others'."""
    worker = Recorder(sweep_seconds=0.05)
    worker.sweep_finds = ["left-behind"]
    worker.start(sweep=False)
    try:
        worker.request("payments")
        settle(lambda: worker.ran("payments"))
        time.sleep(0.3)  # six sweep periods
        assert worker.sweeps == 0
        assert not worker.ran("left-behind")
    finally:
        worker.stop()


def test_stop_returns_promptly_and_drops_what_is_pending() -> None:
    worker = Recorder()
    worker.start()
    worker.request("payments")
    settle(worker.idle)
    worker.request("payments")  # due only after the interval
    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < INTERVAL
    assert len(worker.ran("payments")) == 1
