"""Sign-offs in a process of their own: reactions and sign-off clicks are acknowledged here, applied there.

A reaction or a "Sign off" click needs nothing in its HTTP answer (bot/slack/after_ack.py), but the
sign-off that follows costs several milliseconds of Python: statements, the card's view, the confirmation.
In one process that work holds the interpreter lock while the next request waits for it, so a burst of
sign-offs slowed every acknowledgement, everyone's (3-5x the bare Bolt app; bench/README.md).

So `serve` forks a second process once the runtime is built and before any thread starts: the child gets
the built runtime (same settings, database, Slack clients, templates) and shares its memory until either
process writes to it. The request process verifies a request's signature, recognises a reaction event or a
sign-off click, answers 200 and puts the raw request on a queue. The child dispatches each one through the
same Bolt listeners, whose `ack()` goes nowhere and whose work runs exactly as it would have in one
process: in order per message, through the same services, permission checks and audit. It runs at the
lowest CPU priority, so on a busy machine acknowledgements win.

Nothing is promised that one process did not promise: a request queued here and not yet applied is lost
with the process on `kill -9` (as it was on the thread pool; the kernel kills the child with its parent),
and the reconciler still catches up reactions when the release is next viewed. If the child dies alone, the
request process says so once and handles sign-offs itself. On SIGTERM the request process stops taking
requests, then the child finishes what it was given and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import json
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any, TypeVar
from urllib.parse import parse_qs

from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.observability import PeerReport
from bot.slack.ids import ActionId
from bot.wiring import Runtime, make_bolt

log = logging.getLogger(__name__)

_REACTIONS = frozenset({"reaction_added", "reaction_removed"})
_NICENESS = 19  # the lowest priority: on a busy machine acknowledgements get the CPU first
_REPORT_SECONDS = 0.02  # how often the sign-off process publishes its backlog for /metrics
_TELEMETRY_EVERY = 50  # ... and its Slack call counters and Slack health: every 50th report, once a second
_TELEMETRY_BYTES = 256 * 1024  # room for them (a few KiB); shared memory, touched only as far as used
_STOP_SECONDS = 60.0  # how long shutdown waits for the sign-off process to finish its queue
_PR_SET_PDEATHSIG = 1
_LOCK_SECONDS = 0.5  # longest a reader waits for the shared counters

T = TypeVar("T")


def deferrable(body: str) -> str | None:
    """The request kind ("event", "action") of a reaction or a click on "Sign off", else None.

    Those are the requests whose HTTP answer is an empty 200; the kind is the label /metrics counts them by.
    """
    if "reaction_" in body and body.lstrip().startswith("{"):
        envelope = _json_object(body)
        event = envelope.get("event")
        reaction = (
            envelope.get("type") == "event_callback"
            and isinstance(event, dict)
            and event.get("type") in _REACTIONS
        )
        return "event" if reaction else None
    if ActionId.ITEM_SIGN_OFF.value in body and body.startswith("payload="):
        payload = _json_object((parse_qs(body).get("payload") or [""])[0])
        actions = payload.get("actions")
        sign_off = (
            payload.get("type") == "block_actions"
            and isinstance(actions, list)
            and len(actions) == 1
            and isinstance(actions[0], dict)
            and actions[0].get("action_id") == ActionId.ITEM_SIGN_OFF.value
        )
        return "action" if sign_off else None
    return None


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object in `text`, or {} for anything else: Bolt answers malformed requests itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SignOffProcess:
    """The parent's handle: forks the child, hands it requests, reports its backlog, stops it."""

    def __init__(self, runtime: Runtime) -> None:
        secret = runtime.settings.slack_signing_secret
        self._verifier = SignatureVerifier(secret.get_secret_value() if secret else "")
        self._runtime = runtime
        context = multiprocessing.get_context("fork")
        self._queue = context.Queue()
        self._handed = 0  # requests put on the queue; only the event loop's thread writes it
        # [requests taken off the queue, work still queued or running in the child]: written together.
        self._report: SynchronizedArray = context.Array("q", 2)  # type: ignore[assignment]
        # The child's PeerReport, pickled: [length as 8 bytes, then the bytes], under the array's lock.
        self._telemetry: SynchronizedArray = context.Array("c", _TELEMETRY_BYTES)  # type: ignore[assignment]
        shared = _Shared(self._report, self._telemetry)
        self._process = context.Process(
            target=_sign_off_main,
            args=(runtime, self._queue, shared, os.getpid()),
            name="release-captain-sign-offs",
            daemon=False,
        )
        self._stopped = False
        self._lost = False  # the child died: logged once, then requests stay here

    def start(self) -> SignOffProcess:
        """Fork now, after `build` and before `runtime.start`: the child gets the built runtime.

        With no other thread running, the child cannot inherit a lock some thread was holding.
        """
        others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
        if others:
            raise RuntimeError(f"the sign-off process must be forked before any thread starts: {others}")
        # No database connection may be used by both processes: the child opens its own.
        self._runtime.engine.dispose()
        # Memory stays shared with the child only while neither process writes to its pages, and a
        # collection writes to every object it examines. Frozen objects are never examined again, so
        # both processes' collections leave what is built by now (nearly all of it) shared.
        gc.collect()
        gc.freeze()
        self._process.start()
        return self

    def take(self, body: str, query: str, headers: Mapping[str, str]) -> str | None:
        """Queue a signed reaction or sign-off click for the child; its kind, or None to leave it to Bolt."""
        kind = None if self._stopped else deferrable(body)
        if kind is None or not self._alive():
            return None
        plain = dict(headers)
        if not self._verifier.is_valid_request(body, plain):
            return None  # Bolt answers 401 with its usual log line
        self._handed += 1
        self._queue.put((body, query, plain))
        return kind

    def _alive(self) -> bool:
        if self._process.is_alive():
            return True
        if not self._lost:
            self._lost = True
            log.error(
                "the sign-off process exited (code %s); reactions and sign-off clicks are handled in this "
                "process from now on, and what it had not applied is lost (see bot/handoff.py)",
                self._process.exitcode,
            )
        return False

    def backlog(self) -> int:
        """Requests handed over and not taken yet, plus the child's own queues (a gauge in /metrics).

        Zero once the child is gone: what it held is lost, and nothing will ever finish it.
        """
        if self._stopped or not self._alive():
            return 0
        counts = _read(self._report, lambda: (self._report[0], self._report[1]))
        if counts is None:
            return 0
        taken, busy = counts
        return max(0, self._handed - taken) + busy

    def peer_report(self) -> PeerReport | None:
        """The child's Slack calls and Slack health as of its last report (None before its first)."""

        def copy() -> bytes:
            size = int.from_bytes(self._telemetry[:8], "little")
            return self._telemetry[8 : 8 + size] if size else b""

        data = _read(self._telemetry, copy)
        # Pickle is safe here: the bytes come from our own child, through memory only the two share.
        return pickle.loads(data) if data else None

    def stop(self) -> None:
        """Let the child finish what it was given, then wait for it (killed if it will not finish)."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        self._queue.close()
        self._process.join(_STOP_SECONDS)
        if self._process.is_alive():
            log.error("the sign-off process did not finish within %.0f s; killing it", _STOP_SECONDS)
            self._process.kill()
            self._process.join()


def _read(shared: SynchronizedArray, read: Callable[[], T]) -> T | None:
    """`read()` under the shared lock, or None if it is not free soon: a child killed while holding it
    must not hang /metrics or /healthz."""
    lock = shared.get_lock()
    if not lock.acquire(timeout=_LOCK_SECONDS):
        return None
    try:
        return read()
    finally:
        lock.release()


@dataclass(frozen=True, slots=True)
class _Shared:
    """The shared memory the child writes and the parent reads."""

    report: SynchronizedArray  # [requests taken off the queue, work queued or running in the child]
    telemetry: SynchronizedArray  # a pickled PeerReport, length-prefixed

    def publish(self, taken: int, busy: int) -> None:
        with self.report.get_lock():
            self.report[0], self.report[1] = taken, busy

    def publish_telemetry(self, report: PeerReport) -> None:
        data = pickle.dumps(report)
        if len(data) + 8 > len(self.telemetry):
            log.warning("sign-off process metrics too large to report (%d bytes)", len(data))
            return
        with self.telemetry.get_lock():
            self.telemetry[: 8 + len(data)] = len(data).to_bytes(8, "little") + data


def _sign_off_main(runtime: Runtime, queue: Any, shared: _Shared, parent: int) -> None:
    """The child: start the runtime's workers and dispatch what the parent hands over until a None."""
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group; the parent decides when this process stops (a None).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)
    # The parent verified each request's signature; it may have waited here longer than Bolt's five minutes.
    bolt = make_bolt(
        runtime.settings, runtime.services, runtime.bolt.client, runtime.telemetry, verified_upstream=True
    )
    # The request process ticks and sweeps for unpublished cards; this one signs off and publishes what it
    # changed. A sweep here would also claim cards it did not change, and a child killed mid-publish holds
    # such a claim for its whole lease (60 s), stalling the card the request process would publish.
    runtime.start(tick=False, sweep=False)
    taken = 0
    done = threading.Event()
    reporter = threading.Thread(
        target=_report_loop,
        args=(shared, runtime, lambda: taken, done),
        name="sign-off-report",
        daemon=True,
    )
    reporter.start()
    log.info("sign-off process ready")
    try:
        while (raw := queue.get()) is not None:
            body, query, headers = raw
            try:
                bolt.dispatch(BoltRequest(body=body, query=query, headers=headers))
            except Exception:
                log.exception("a handed-over request failed")
            taken += 1
    finally:
        runtime.stop()
        done.set()
        reporter.join()
        shared.publish(taken, 0)
        shared.publish_telemetry(runtime.telemetry.peer_report())


def _report_loop(shared: _Shared, runtime: Runtime, taken: Callable[[], int], done: threading.Event) -> None:
    telemetry = runtime.telemetry  # the child's own queues are watched there, as in any serve (bot/wiring.py)
    for beat in itertools.count():
        if done.wait(_REPORT_SECONDS):
            return
        # Taken first, then the queues: a request counted as taken has already put its work in them.
        count = taken()
        shared.publish(count, telemetry.backlog())
        if beat % _TELEMETRY_EVERY == 0:
            shared.publish_telemetry(telemetry.peer_report())


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the parent dies, as a thread would have died with it (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent was gone before prctl took effect
        os._exit(0)
