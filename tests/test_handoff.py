"""Which requests the request process hands to the sign-off process (bot/handoff.py)."""

from __future__ import annotations

import json
import multiprocessing
import threading
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.handoff import SignOffProcess, _read, deferrable
from bot.runner import _fork_sign_offs
from tests.runtimes import make_runtime


def _event(event: dict, kind: str = "event_callback") -> str:
    return json.dumps({"type": kind, "team_id": "T1", "event_id": "Ev1", "event": event})


def _click(*action_ids: str, kind: str = "block_actions") -> str:
    actions = [{"action_id": a, "block_id": "b", "value": "sealed", "type": "button"} for a in action_ids]
    payload = {"type": kind, "user": {"id": "U1"}, "actions": actions, "trigger_id": "1.2.3"}
    return urlencode({"payload": json.dumps(payload)})


def _reaction(kind: str) -> dict:
    return {"type": kind, "user": "U1", "reaction": "white_check_mark", "item": {"type": "message"}}


def test_reactions_and_a_sign_off_click_are_handed_over() -> None:
    assert deferrable(_event(_reaction("reaction_added"))) == "event"
    assert deferrable(_event(_reaction("reaction_removed"))) == "event"
    assert deferrable(_click("item_sign_off")) == "action"


def test_requests_whose_answer_carries_something_stay() -> None:
    # A slash command's answer is its reply, even when its text mentions a reaction or the button's id.
    command = urlencode({"command": "/release", "text": "note 3 reaction_added item_sign_off"})
    assert not deferrable(command)
    # Other events and other clicks: App Home, the More menu, two actions at once, a view submission.
    assert not deferrable(_event({"type": "app_home_opened", "user": "U1", "tab": "home"}))
    assert not deferrable(_event({"type": "message", "text": "reaction_added"}))
    assert not deferrable(_event(_reaction("reaction_added"), kind="url_verification"))
    assert not deferrable(_click("item_more"))
    assert not deferrable(_click("item_sign_off", "item_more"))
    assert not deferrable(_click("item_sign_off", kind="view_submission"))
    assert not deferrable(_click())


def test_malformed_bodies_are_left_to_bolt() -> None:
    assert not deferrable('{"type": "event_callback", "event": {"type": "reaction_added"')
    assert not deferrable('["reaction_added"]')
    assert not deferrable('{"type": "event_callback", "event": "reaction_added"}')
    assert not deferrable("payload=%7Bnot-json&x=item_sign_off")
    assert not deferrable("payload=" + json.dumps({"type": "block_actions", "actions": "item_sign_off"}))
    assert not deferrable(urlencode({"payload": json.dumps(["item_sign_off"])}))
    assert not deferrable(urlencode({"payload": json.dumps({"actions": ["item_sign_off"]})}))


@given(st.text())
def test_no_body_makes_the_classifier_raise(body: str) -> None:
    deferrable(body)
    deferrable("payload=" + body + "item_sign_off")
    deferrable('{"reaction_":' + body)


def test_the_sign_off_process_is_not_forked_while_another_thread_runs(emulator, tmp_path, caplog) -> None:
    # A fork copies only the forking thread: a lock another thread held would stay locked in the child.
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}", slack_signing_secret="s3cret")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="still-starting")
    other.start()
    try:
        with pytest.raises(RuntimeError, match="still-starting"):
            SignOffProcess(runtime).start()
        # serve goes on without it, applying sign-offs on its own threads.
        assert _fork_sign_offs(runtime) is None
        assert "no sign-off process" in caplog.text
    finally:
        stop.set()
        other.join()
        runtime.stop()


def test_a_shared_lock_held_too_long_gives_no_reading_instead_of_hanging_metrics() -> None:
    # A child killed while publishing would hold the lock forever; /metrics and /healthz read under it.
    counts = multiprocessing.get_context("fork").Array("q", 2)
    assert _read(counts, lambda: (counts[0], counts[1])) == (0, 0)
    held, done = threading.Event(), threading.Event()

    def hold() -> None:  # another holder than the reading thread (the lock is re-entrant)
        with counts.get_lock():
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        assert _read(counts, lambda: (counts[0], counts[1])) is None
    finally:
        done.set()
        holder.join()
