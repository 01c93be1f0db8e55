"""GET /metrics: requests, ack latency, Slack API errors, deliveries by state and tick durations."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.observability import ObservedSocketModeHandler, Telemetry
from bot.sandbox.emulator import SlackEmulator
from tests.ops.conftest import CHANNEL, MAYA, Served, add_deliveries, make_runtime, serve


def samples(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by name and labels."""
    status, text = served.get("/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_kind_and_outcome_with_their_ack_latency(served: Served) -> None:
    assert served.sender.command(MAYA, CHANNEL, "help")[0] == 200
    assert served.sender.command(MAYA, CHANNEL, "help", secret="forged")[0] == 401
    status, _ = served.sender.event({"type": "app_mention", "user": MAYA, "channel": CHANNEL, "text": "hi"})
    assert status == 200

    found = samples(served)
    assert value(found, "release_captain_requests_total", kind="command", outcome="ok") == 1
    assert value(found, "release_captain_requests_total", kind="command", outcome="refused") == 1
    assert value(found, "release_captain_requests_total", kind="event", outcome="ok") == 1
    assert value(found, "release_captain_ack_seconds_count", kind="command") == 2
    assert 0 < value(found, "release_captain_ack_seconds_sum", kind="command") < 3


def test_slack_api_errors_are_counted_by_method_and_error(served: Served, emulator: SlackEmulator) -> None:
    client = served.runtime.bolt.client
    emulator.inject("users.info", "internal_error")
    with contextlib.suppress(SlackApiError):
        client.users_info(user=MAYA)
    client.users_info(user=MAYA)

    found = samples(served)
    assert value(found, "release_captain_slack_api_calls_total", method="users.info") == 2
    assert (
        value(found, "release_captain_slack_api_errors_total", method="users.info", error="internal_error")
        == 1
    )


def test_listener_calls_through_bolts_own_client_are_counted(served: Served, emulator: SlackEmulator) -> None:
    # `/release new` with no arguments opens a modal through the listener's per-request client.
    status, _ = served.sender.command(MAYA, CHANNEL, "new")
    assert status == 200
    assert emulator.calls_to("views.open"), "the command should open a modal"
    assert value(samples(served), "release_captain_slack_api_calls_total", method="views.open") == 1


def test_deliveries_are_counted_by_state_at_scrape_time(served: Served) -> None:
    now = datetime.now(UTC)
    add_deliveries(served.runtime, ("pending", now), ("pending", now), ("sent", now), ("dead", now))

    found = samples(served)
    assert value(found, "release_captain_deliveries", state="pending") == 2
    assert value(found, "release_captain_deliveries", state="sent") == 1
    assert value(found, "release_captain_deliveries", state="dead") == 1
    assert value(found, "release_captain_deliveries", state="expired") == 0  # present, at zero


def test_each_delivery_pass_of_the_ticker_is_timed(emulator: SlackEmulator, tmp_path) -> None:
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}", tick_seconds=0.1)
    runtime.start(tick=True)
    try:
        registry = runtime.telemetry.registry
        deadline = time.monotonic() + 10
        while not registry.get_sample_value("release_captain_tick_seconds_count"):
            assert time.monotonic() < deadline, "the ticker never ran"
            time.sleep(0.05)
    finally:
        runtime.stop()
    assert registry.get_sample_value("release_captain_tick_seconds_sum") > 0


def test_two_apps_in_one_process_keep_separate_metrics() -> None:
    first, second = Telemetry(), Telemetry()
    first.observe_request("command", "ok", 0.001)
    assert b'release_captain_requests_total{kind="command",outcome="ok"} 1.0' in first.exposition()
    assert b"release_captain_requests_total{" not in second.exposition()


class RecordingSocketClient:
    """Stands in for the WebSocket: keeps what the handler would have sent back to Slack."""

    def __init__(self, logger) -> None:
        self.logger = logger
        self.sent: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


def test_socket_mode_requests_are_counted_and_answered(emulator: SlackEmulator, tmp_path) -> None:
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}")
    try:
        handler = ObservedSocketModeHandler(runtime.bolt, "xapp-1-A0-0-test", runtime.telemetry)
        payload = {
            "team_id": emulator.workspace.team_id,
            "channel_id": CHANNEL,
            "user_id": MAYA,
            "command": "/release",
            "text": "help",
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "1.2.3",
        }
        request = SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=payload)
        client = RecordingSocketClient(runtime.bolt.logger)
        handler.handle(client, request)  # type: ignore[arg-type]

        assert [r.envelope_id for r in client.sent] == ["env-1"]
        assert "Release Captain" in json.dumps(client.sent[0].payload)
        counted = runtime.telemetry.registry.get_sample_value(
            "release_captain_requests_total", {"kind": "command", "outcome": "ok"}
        )
        assert counted == 1
    finally:
        runtime.stop()


def test_socket_mode_serves_the_operator_endpoints_without_slack_events(
    emulator: SlackEmulator, tmp_path
) -> None:
    runtime = make_runtime(emulator, f"sqlite:///{tmp_path / 'rc.db'}")
    endpoints = serve(runtime, emulator, slack_events=False)
    try:
        operator = next(endpoints)
        assert operator.get("/healthz")[0] == 200
        assert operator.get("/metrics")[0] == 200
        assert operator.sender.command(MAYA, CHANNEL, "help")[0] == 404
    finally:
        endpoints.close()
        runtime.stop()


def test_work_left_after_the_acknowledgement_is_a_gauge_per_queue(served: Served) -> None:
    found = samples(served)
    for queue in ("after_ack", "notices", "cards", "home"):
        assert ("release_captain_background_jobs", frozenset({("queue", queue)})) in found
        assert value(found, "release_captain_background_jobs", queue=queue) == 0

    after_ack = served.runtime.services.after_ack
    gate = threading.Event()
    after_ack.submit(lambda: gate.wait(5), lambda _text, _blocks: None, key="held")
    after_ack.submit(lambda: None, lambda _text, _blocks: None, key="held")  # queued behind it
    try:
        assert value(samples(served), "release_captain_background_jobs", queue="after_ack") == 2
    finally:
        gate.set()
    deadline = time.monotonic() + 5
    while not after_ack.idle():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert value(samples(served), "release_captain_background_jobs", queue="after_ack") == 0


def test_a_helper_process_slack_calls_join_the_same_families_labelled_with_its_name() -> None:
    helper, mine = Telemetry(), Telemetry()
    helper.observe_slack_call("chat.update", None, reachable=True)
    helper.observe_slack_call("chat.update", "ratelimited", reachable=True)
    mine.observe_slack_call("chat.update", None, reachable=True)
    mine.watch_peer("sign_offs", helper.peer_report)
    text = mine.exposition().decode()
    # One family each (a second HELP line would make the whole scrape invalid), helper series labelled.
    assert text.count("# HELP release_captain_slack_api_calls_total") == 1
    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    calls = "release_captain_slack_api_calls_total"
    assert value(found, calls, method="chat.update") == 1
    assert value(found, calls, method="chat.update", process="sign_offs") == 2
    errors = "release_captain_slack_api_errors_total"
    assert value(found, errors, method="chat.update", error="ratelimited", process="sign_offs") == 1
    assert value(found, errors, method="chat.update", error="ratelimited") == 0


def test_slack_failing_in_a_helper_process_shows_in_the_health_report() -> None:
    helper, mine = Telemetry(), Telemetry()
    mine.watch_peer("sign_offs", lambda: None)  # the helper has not reported yet
    mine.observe_slack_call("chat.postMessage", None, reachable=True)
    assert mine.slack_report(datetime.now(UTC))["status"] == "ok"
    mine.watch_peer("sign_offs", helper.peer_report)
    helper.observe_slack_call("chat.update", "invalid_auth", reachable=False)
    report = mine.slack_report(datetime.now(UTC))
    assert (report["status"], report["last_error"]) == ("failing", "chat.update: invalid_auth")
    mine.observe_slack_call("chat.postMessage", None, reachable=True)  # a later success, here
    assert mine.slack_report(datetime.now(UTC))["status"] == "ok"


def test_the_backlog_of_a_process_is_the_sum_of_its_watched_queues() -> None:
    telemetry = Telemetry()
    assert telemetry.backlog() == 0
    telemetry.watch_backlog("after_ack", lambda: 2)
    telemetry.watch_backlog("cards", lambda: 3)
    assert telemetry.backlog() == 5
