"""Request lanes in a real serve (bot/lanes.py): one lane, and a Slack call that takes seconds to answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.e2e.harness import reply_text, wait_until

pytestmark = pytest.mark.e2e

MAYA = "UMAYA0001"
CHANNEL = "CRELEASES"


def test_a_request_waiting_on_slack_does_not_hold_up_the_next_one(serve, emulator: SlackEmulator) -> None:
    bot = serve(REQUEST_CONCURRENCY="1")
    emulator.timeout_seconds = 4.0  # views.open answers, 4 s late
    emulator.inject("views.open", "timeout")
    answers: dict[str, tuple[int, Any]] = {}

    def open_the_form() -> None:
        answers["new"] = bot.sender.command(MAYA, CHANNEL, "new")  # bare `new` opens a modal first

    slow = threading.Thread(target=open_the_form, daemon=True)
    slow.start()
    wait_until(lambda: emulator.calls_to("views.open"), what="the form to be opening")
    # The only lane is free while the form waits on Slack: help is answered before the form is.
    assert "/release" in reply_text(bot.command(MAYA, "help"))
    assert slow.is_alive(), "help waited for Slack's answer to the other request"
    slow.join(timeout=30)
    assert answers["new"][0] == 200
