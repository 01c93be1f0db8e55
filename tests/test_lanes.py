"""Request lanes (bot/lanes.py): a bound on requests running at once, first come first served, and Slack
waits that free the lane."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable

import pytest

from bot.config import load_settings
from bot.lanes import Lanes
from bot.observability import ObservedWebClient, Telemetry
from bot.sandbox.emulator import SlackEmulator

JOIN = 10.0  # seconds: a generous bound for threads that should finish at once; a hang fails the test


def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + JOIN
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def _start(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def test_a_lane_is_handed_to_waiters_in_arrival_order() -> None:
    lanes = Lanes(1)
    order: list[str] = []

    def request(name: str) -> Callable[[], None]:
        def run() -> None:
            with lanes.held():
                order.append(name)

        return run

    threads = []
    with lanes.held():
        for queued, name in enumerate("abcde", start=1):
            threads.append(_start(request(name), name))
            _until(lambda queued=queued: lanes.waiting() == queued, f"{name} to queue")
    for thread in threads:
        thread.join(JOIN)
    assert order == list("abcde")


def test_never_more_requests_at_once_than_lanes() -> None:
    lanes = Lanes(2)
    guard = threading.Lock()
    inside = 0
    most = 0

    def request() -> None:
        nonlocal inside, most
        for _ in range(200):
            with lanes.held():
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)  # let the other threads try to get in
                with guard:
                    inside -= 1

    threads = [_start(request, f"r{n}") for n in range(8)]
    for thread in threads:
        thread.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    assert most == 2
    assert lanes.waiting() == 0


def test_stepping_out_lets_a_queued_request_run_and_then_queues_again() -> None:
    lanes = Lanes(1)
    events: list[str] = []
    out = threading.Event()
    other_done = threading.Event()

    def waits_on_slack() -> None:
        with lanes.held():
            events.append("a in")
            with lanes.stepped_out():
                out.set()
                other_done.wait(JOIN)  # the other request runs while this one is out
            events.append("a back")

    def quick() -> None:
        out.wait(JOIN)
        with lanes.held():
            events.append("b")
        other_done.set()

    threads = [_start(waits_on_slack, "a"), _start(quick, "b")]
    for thread in threads:
        thread.join(JOIN)
    assert events == ["a in", "b", "a back"]


def test_held_is_reentrant_and_stepping_out_without_a_lane_changes_nothing() -> None:
    lanes = Lanes(1)
    with lanes.stepped_out():  # this thread holds no lane: nothing to give up or take back
        pass
    with lanes.held(), lanes.held(), lanes.stepped_out():  # a nested hold does not wait on itself
        pass
    entered = threading.Event()

    def another() -> None:
        with lanes.held():
            entered.set()

    _start(another, "another").join(JOIN)
    assert entered.is_set()  # every lane was given back


def test_at_least_one_lane() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Lanes(0)


def test_run_uses_a_request_thread_and_carries_the_loop_context() -> None:
    lanes = Lanes(1)
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    def work(x: int, *, y: int) -> tuple[int, str, str]:
        return x + y, request_id.get(), threading.current_thread().name

    def fails() -> None:
        raise RuntimeError("listener error")

    async def main() -> tuple[int, str, str]:
        request_id.set("r-1")
        with pytest.raises(RuntimeError, match="listener error"):
            await lanes.run(fails)
        return await lanes.run(work, 1, y=2)

    try:
        total, seen, thread = asyncio.run(main())
    finally:
        lanes.close()
    assert (total, seen) == (3, "r-1")
    assert thread.startswith("slack-request")
    with lanes.held():  # the failed request gave its lane back
        pass


def test_a_request_waiting_on_slack_gives_its_lane_up() -> None:
    """The Slack client steps out: a second request runs while the first still waits for Slack's answer."""
    lanes = Lanes(1)
    with SlackEmulator(timeout_seconds=3.0).start() as emulator:
        emulator.inject("auth.test", "timeout")  # Slack answers, but only after 3 s
        client = ObservedWebClient(
            Telemetry(),
            lanes=lanes,
            token=emulator.workspace.bot_token,
            base_url=emulator.api_url,
            timeout=10,
        )
        slow = _start(lambda: _in_lane(lanes, lambda: client.auth_test()), "slow")
        _until(lambda: bool(emulator.calls_to("auth.test")), "the slow Slack call")
        quick = _start(lambda: _in_lane(lanes, lambda: None), "quick")
        quick.join(JOIN)
        assert not quick.is_alive()
        assert slow.is_alive(), "the quick request should not have waited for Slack's answer"
        slow.join(JOIN)
    assert not slow.is_alive()


def _in_lane(lanes: Lanes, work: Callable[[], object]) -> None:
    with lanes.held():
        work()


@pytest.mark.parametrize(
    ("url", "setting", "lanes"),
    [
        ("sqlite:///release-captain.db", None, 1),  # SQLite waits are short: one request at a time
        ("postgresql://db.internal/captain", None, 2),  # a second lane overlaps network round trips
        ("postgresql://db.internal/captain", 6, 6),
        ("sqlite:///release-captain.db", 3, 3),
    ],
)
def test_lanes_default_to_what_the_database_wants(url: str, setting: int | None, lanes: int) -> None:
    settings = load_settings(_env_file=None, database_url=url, request_concurrency=setting)
    assert settings.request_lanes == lanes
