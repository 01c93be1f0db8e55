"""Metrics, the Slack-call hook and what /healthz reports: everything an operator watches from outside."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_bolt.request import payload_utils as payload
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine, func, select
from sqlmodel import col

from bot.lanes import Lanes
from bot.logsetup import log_context
from bot.ports import Messenger, Posted
from storage import delivery_repo
from storage.db import ping, unit_of_work
from storage.tables import Delivery

log = logging.getLogger(__name__)
T = TypeVar("T")

# A delivery still waiting this long after it fell due means the ticker is stuck or Slack keeps failing.
DELIVERY_LAG = timedelta(minutes=5)
# A Slack failure older than this no longer says anything about Slack now.
SLACK_WINDOW = timedelta(minutes=10)
# Slack answered, but with "this app cannot act": as bad as unreachable for everything the bot does.
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})
_DELIVERY_STATES = (*delivery_repo.FINAL_STATES, delivery_repo.PENDING, delivery_repo.SENDING)
# Acks must come within 3 s; the buckets are finest where a healthy app lives (a few milliseconds).
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
_TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def app_version() -> str:
    """The installed release-captain version."""
    try:
        return version("release-captain")
    except PackageNotFoundError:
        return "unknown"


class SlackHealth:
    """The outcome of the latest Slack calls, so /healthz can answer without calling Slack itself."""

    def __init__(self) -> None:
        self.last_ok: datetime | None = None
        self.last_failure: datetime | None = None
        self.last_error: str | None = None

    def succeeded(self) -> None:
        """Slack answered (an application error such as channel_not_found still means it is reachable)."""
        self.last_ok = datetime.now(UTC)

    def failed(self, error: str) -> None:
        """Slack could not be reached, answered 5xx, or refused our token."""
        self.last_error = error
        self.last_failure = datetime.now(UTC)

    def status(self, now: datetime) -> str:
        """`failing` when the latest call within the window failed, `ok` when it worked, else `unknown`."""
        ok, failure = self.last_ok, self.last_failure
        if failure is not None and now - failure <= SLACK_WINDOW and (ok is None or failure >= ok):
            return "failing"
        if ok is not None:
            return "ok"
        return "unknown"

    def merged(self, other: SlackHealth) -> SlackHealth:
        """What both saw, latest first: another process's calls count as much as this one's."""
        both = SlackHealth()
        both.last_ok = _latest(self.last_ok, other.last_ok)
        both.last_failure = _latest(self.last_failure, other.last_failure)
        both.last_error = self.last_error if both.last_failure == self.last_failure else other.last_error
        return both

    def report(self, now: datetime) -> dict[str, Any]:
        """The Slack part of /healthz."""
        return {
            "status": self.status(now),
            "last_ok": _iso(self.last_ok),
            "last_failure": _iso(self.last_failure),
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class PeerReport:
    """What a helper process of this deployment reports to the one serving /metrics (bot/handoff.py)."""

    families: list[Metric]  # its Slack call counters
    slack: SlackHealth  # Slack's health as its calls saw it


class Telemetry:
    """This process's metrics (in its own registry, so several apps in one process never clash)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.registry = CollectorRegistry()
        self.slack = SlackHealth()
        self.requests = Counter(
            "release_captain_requests",
            "Requests from Slack by kind (command, event, action, view, other) and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "release_captain_ack_seconds",
            "Time from receiving a Slack request to acknowledging it.",
            ["kind"],
            buckets=_ACK_BUCKETS,
            registry=self.registry,
        )
        self.tick_seconds = Histogram(
            "release_captain_tick_seconds",
            "Duration of one delivery pass (planning and sending).",
            buckets=_TICK_BUCKETS,
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "release_captain_slack_api_calls",
            "Slack Web API calls by method.",
            ["method"],
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "release_captain_slack_api_errors",
            "Slack Web API calls that failed, by method and Slack error code (or exception type).",
            ["method", "error"],
            registry=self.registry,
        )
        self._backlogs: Backlogs | None = None
        self._peers: dict[str, Callable[[], PeerReport | None]] = {}
        if engine is not None:
            self.registry.register(DeliveryStates(engine))

    def watch_backlog(self, queue: str, size: Callable[[], int]) -> None:
        """Report `size()` at scrape time as the backlog of `queue`: work accepted, not yet done."""
        if self._backlogs is None:
            self._backlogs = Backlogs()
            self.registry.register(self._backlogs)
        self._backlogs.sizes[queue] = size

    def backlog(self) -> int:
        """All watched queues together: what this process still has to do."""
        return sum(size() for size in self._backlogs.sizes.values()) if self._backlogs else 0

    def watch_peer(self, process: str, report: Callable[[], PeerReport | None]) -> None:
        """Add a helper process's Slack calls (labelled `process`) and Slack health to this process's."""
        self._peers[process] = report

    def peer_report(self) -> PeerReport:
        """This process's Slack call counters and Slack health, for the process that serves /metrics."""
        return PeerReport([*self.slack_calls.collect(), *self.slack_errors.collect()], self.slack)

    def slack_report(self, now: datetime) -> dict[str, Any]:
        """The Slack part of /healthz, from this process's calls and its helpers'."""
        health = self.slack
        for report in self._peers.values():
            peer = report()
            if peer is not None:
                health = health.merged(peer.slack)
        return health.report(now)

    def observe_request(self, kind: str, outcome: str, seconds: float) -> None:
        """Count one Slack request and its ack latency."""
        self.requests.labels(kind, outcome).inc()
        self.ack_seconds.labels(kind).observe(seconds)

    def observe_slack_call(self, method: str, error: str | None, *, reachable: bool) -> None:
        """Count one Slack Web API call; `reachable` False marks Slack as failing for /healthz."""
        self.slack_calls.labels(method).inc()
        if error is not None:
            self.slack_errors.labels(method, error).inc()
        if reachable:
            self.slack.succeeded()
        else:
            self.slack.failed(f"{method}: {error}")

    def timed_tick(self, tick: Callable[[], T]) -> Callable[[], T]:
        """`tick`, with its duration recorded (failed passes too)."""

        @wraps(tick)
        def timed() -> T:
            with self.tick_seconds.time():
                return tick()

        return timed

    def exposition(self) -> bytes:
        """The registry in Prometheus text format, with the helper processes' Slack calls added."""
        return generate_latest(_WithPeers(self.registry, self._peers))  # type: ignore[arg-type]


class _WithPeers:
    """A registry's families, each with the same family's samples from helper processes appended.

    A family name may appear once in an exposition, so a helper's `release_captain_slack_api_calls` joins this
    process's as extra series labelled `process="<helper>"`, rather than as a second family.
    """

    def __init__(
        self, registry: CollectorRegistry, peers: dict[str, Callable[[], PeerReport | None]]
    ) -> None:
        self._registry = registry
        self._peers = peers

    def collect(self) -> Iterator[Metric]:
        extra: dict[str, list[Sample]] = {}
        for process, report in self._peers.items():
            peer = report()
            for family in peer.families if peer is not None else ():
                extra.setdefault(family.name, []).extend(
                    sample._replace(labels={**sample.labels, "process": process}) for sample in family.samples
                )
        for family in self._registry.collect():
            family.samples.extend(extra.get(family.name, ()))
            yield family


class Backlogs(Collector):
    """Queues of work that follows a request: acknowledged sign-offs, messages, card and Home edits."""

    def __init__(self) -> None:
        self.sizes: dict[str, Callable[[], int]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "release_captain_background_jobs",
            "Work this process accepted and has not finished, by queue.",
            labels=["queue"],
        )
        for queue, size in sorted(self.sizes.items()):
            gauge.add_metric([queue], size())
        yield gauge

    def describe(self) -> list[GaugeMetricFamily]:
        return []


class DeliveryStates(Collector):
    """Deliveries by state, read from the database at scrape time with one GROUP BY."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "release_captain_deliveries", "Scheduled deliveries by state (all replicas).", labels=["state"]
        )
        try:
            counts = dict.fromkeys(_DELIVERY_STATES, 0)
            with unit_of_work(self._engine, write=False) as session:
                stmt = select(Delivery.state, func.count()).group_by(Delivery.state)
                counts.update({state: n for state, n in session.exec(stmt)})  # type: ignore[call-overload]
        except Exception:
            # A scrape must not fail because the database did; /healthz reports that instead.
            log.warning("could not count deliveries for /metrics", exc_info=True)
            return
        for state, n in sorted(counts.items()):
            gauge.add_metric([state], n)
        yield gauge

    def describe(self) -> list[GaugeMetricFamily]:
        # Describing without collecting keeps registration from touching the database.
        return []


class ObservedWebClient(WebClient):
    """A WebClient that counts every call and its errors and remembers whether Slack answered."""

    def __init__(self, telemetry: Telemetry, *, lanes: Lanes | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.telemetry = telemetry
        self.lanes = lanes

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        try:
            # A request waiting on Slack lets another one run in its lane meanwhile (bot/lanes.py).
            with self.lanes.stepped_out() if self.lanes is not None else nullcontext():
                response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            error = str((exc.response.get("error") if exc.response is not None else None) or f"http_{status}")
            reachable = status < 500 and error not in _AUTH_ERRORS
            self.telemetry.observe_slack_call(api_method, error, reachable=reachable)
            raise
        except Exception as exc:
            self.telemetry.observe_slack_call(api_method, type(exc).__name__, reachable=False)
            raise
        self.telemetry.observe_slack_call(api_method, None, reachable=True)
        return response


def observe_listener_clients(app: App, telemetry: Telemetry, lanes: Lanes | None = None) -> None:
    """Bolt hands listeners a fresh, plain WebClient per request; swap in an observed one (about 5 µs)."""

    @app.middleware
    def observed_client(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        plain = context.client
        context["client"] = ObservedWebClient(
            telemetry,
            lanes=lanes,
            token=plain.token,
            base_url=plain.base_url,
            timeout=plain.timeout,
            ssl=plain.ssl,
            proxy=plain.proxy,
            headers=plain.headers,
            team_id=context.team_id,
            logger=plain.logger,
            retry_handlers=plain.retry_handlers,
        )
        return next()


def request_kind(body: dict[str, Any]) -> str:
    """command, event, action, view or other: the label requests are counted under."""
    if payload.is_slash_command(body):
        return "command"
    if payload.is_event(body) or body.get("type") == "url_verification":
        return "event"
    if payload.is_view(body):
        return "view"
    if payload.is_action(body) or payload.is_shortcut(body) or payload.is_options(body):
        return "action"
    return "other"


def request_id(body: dict[str, Any]) -> str:
    """Slack's own id for the request (event_id, trigger_id), else a fresh one."""
    return str(body.get("event_id") or body.get("trigger_id") or secrets.token_hex(6))


def _outcome(status: int) -> str:
    if status < 300:
        return "ok"
    if status in (401, 403):
        return "refused"
    if status == 404:
        return "unhandled"
    return "error"


def observed_dispatch(app: App, request: BoltRequest, telemetry: Telemetry) -> BoltResponse:
    """Bolt's dispatch with a request id on every log line, and the request counted and timed."""
    body = request.body if isinstance(request.body, dict) else {}
    kind = request_kind(body)
    started = time.perf_counter()
    outcome = "error"
    with log_context(request_id=request_id(body)):
        try:
            response = app.dispatch(request)
            outcome = _outcome(response.status)
            return response
        finally:
            telemetry.observe_request(kind, outcome, time.perf_counter() - started)


class ObservedSocketModeHandler(SocketModeHandler):
    """Socket Mode with the same request ids and metrics as HTTP mode."""

    def __init__(self, app: App, app_token: str, telemetry: Telemetry, lanes: Lanes | None = None) -> None:
        super().__init__(app, app_token)
        self._telemetry = telemetry
        self._lanes = lanes

    def handle(self, client: Any, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        # What Bolt's run_bolt_app does, with our dispatch in the middle.
        request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        with self._lanes.held() if self._lanes is not None else nullcontext():
            response = observed_dispatch(self.app, request, self._telemetry)
        send_response(client, req, response, started)


class ContextualMessenger:
    """A Messenger that puts the delivery id on every log line written while a delivery is sent."""

    def __init__(self, inner: Messenger) -> None:
        self._inner = inner

    def post(self, recipient: str, message: object, *, delivery_id: int) -> Posted:
        """Post through the wrapped messenger, inside the delivery's log context."""
        with log_context(delivery_id=delivery_id):
            return self._inner.post(recipient, message, delivery_id=delivery_id)

    def find(self, recipient: str, delivery_id: int) -> Posted | None:
        """Look for an earlier post through the wrapped messenger, inside the delivery's log context."""
        with log_context(delivery_id=delivery_id):
            return self._inner.find(recipient, delivery_id)


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz answers: an HTTP status and a JSON body."""

    status_code: int
    body: dict[str, Any]


def check_health(engine: Engine, telemetry: Telemetry) -> Health:
    """ok, degraded (Slack failing, deliveries lagging) or unavailable (no database: HTTP 503)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"status": "ok", "version": app_version()}
    if not ping(engine):
        body.update(status="unavailable", database="unreachable")
        return Health(503, body)
    body["database"] = "ok"
    body["slack"] = telemetry.slack_report(now)
    body["deliveries"] = _delivery_lag(engine)
    if body["slack"]["status"] == "failing" or body["deliveries"]["status"] == "lagging":
        body["status"] = "degraded"
    return Health(200, body)


def _delivery_lag(engine: Engine) -> dict[str, Any]:
    """How long the oldest delivery that is due and not yet sent has been waiting."""
    due_at = func.coalesce(col(Delivery.not_before), col(Delivery.slot))
    with unit_of_work(engine, write=False) as session:
        now = delivery_repo.database_now(session=session)
        oldest = session.exec(  # type: ignore[call-overload]
            select(func.min(due_at)).where(
                col(Delivery.state).in_((delivery_repo.PENDING, delivery_repo.SENDING)), due_at <= now
            )
        ).scalar_one()
    if oldest is None:
        return {"status": "ok", "oldest_due_seconds": None}
    waiting = max(0.0, (now - oldest).total_seconds())
    return {
        "status": "lagging" if waiting > DELIVERY_LAG.total_seconds() else "ok",
        "oldest_due_seconds": round(waiting, 1),
    }


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None
