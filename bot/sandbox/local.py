"""The real app running against the Slack emulator on this machine, and people acting in it.

`LocalSandbox` starts the emulator, builds the app with `bot.wiring.build`, serves it over real HTTP with
uvicorn on a free loopback port, and sends it what Slack would send when someone types a command, reacts,
clicks or opens the Home tab. It never uses Slack credentials from the environment, and never the database
`serve` would use.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings, load_settings
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.sender import SlackSender
from bot.sandbox.workspace import Ephemeral, Workspace
from bot.server import create_web_app
from bot.wiring import Runtime, build

log = logging.getLogger(__name__)

# Settings the sandbox takes from the operator's configuration; everything Slack- or database-related it sets.
_KEPT_SETTINGS = {"log_level", "default_timezone", "templates_dir", "card_sweep_seconds"}
# Slack gives up on a slash command or interaction that is not acknowledged within this many seconds.
SLACK_ACK_SECONDS = 3.0
# How far apart the sandbox's passes are when the clock jumps: close enough that nothing goes stale.
_SANDBOX_TICK = timedelta(minutes=30)
_MAX_PASSES_PER_JUMP = 2000
_SETTLE_SECONDS = 5.0
_QUIET_SECONDS = 0.05
_ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ", re.MULTILINE)
_START_SECONDS = 10.0


class SandboxError(Exception):
    """The sandbox cannot start or cannot do what was asked; the message says why."""


class SandboxClock:
    """A Clock that runs at real speed from a point in time the sandbox can move."""

    def __init__(
        self, start: datetime | None = None, *, time_fn: Callable[[], float] = time.monotonic
    ) -> None:
        self._time = time_fn
        self._lock = threading.Lock()
        self._anchor = _aware(start) if start else datetime.now(UTC)
        self._anchor_at = time_fn()

    def now(self) -> datetime:
        """An aware UTC datetime."""
        with self._lock:
            return self._anchor + timedelta(seconds=self._time() - self._anchor_at)

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward (or back, for a negative delta); returns the new now."""
        with self._lock:
            self._anchor += delta
        return self.now()

    def set(self, at: datetime) -> datetime:
        """Jump to `at` (aware); returns the new now."""
        with self._lock:
            self._anchor, self._anchor_at = _aware(at), self._time()
        return self.now()


def _aware(at: datetime) -> datetime:
    """`at` in UTC; a naive datetime is a programming error, not something to guess about."""
    if at.tzinfo is None:
        raise ValueError("the sandbox clock needs an aware datetime")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How the app answered one request: HTTP status, the body, and how long the ack took."""

    status: int
    body: Any
    seconds: float

    @property
    def ok(self) -> bool:
        """Acknowledged in time, as Slack requires."""
        return self.status == 200 and self.seconds <= SLACK_ACK_SECONDS


def same_database(a: str, b: str) -> bool:
    """Whether two database URLs name the same database (SQLite files compared by resolved path)."""
    try:
        url_a, url_b = make_url(a), make_url(b)
    except ArgumentError:
        return a == b
    if url_a.get_backend_name() == url_b.get_backend_name() == "sqlite":
        path_a, path_b = url_a.database or "", url_b.database or ""
        if not path_a or not path_b or ":memory:" in (path_a, path_b):
            return False
        return Path(path_a).resolve() == Path(path_b).resolve()
    return url_a.render_as_string(hide_password=False) == url_b.render_as_string(hide_password=False)


# A typed @name or #channel: not inside a word or an e-mail address, ending on a word character.
_MENTION = re.compile(r"(?<![\w@#/.&-])([@#])(\w[\w.-]*\w|\w)")
_SPECIAL = {"channel", "here", "everyone"}


def encode_typed(text: str, workspace: Workspace) -> str:
    """Typed text as Slack sends it with `should_escape`: `&<>` escaped, @names and #channels as markup."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(lambda m: _mention_markup(m, workspace), escaped)


def _mention_markup(match: re.Match[str], ws: Workspace) -> str:
    """Slack's markup for one typed mention, or the text unchanged when nothing by that name exists."""
    sigil, name = match.group(1), match.group(2)
    if sigil == "#":
        channel = ws.channel_by_name(name)
        return f"<#{channel.id}|{channel.name}>" if channel else match.group(0)
    if name in _SPECIAL:
        return f"<!{name}>"
    if (user := ws.user_by_name(name)) is not None and not user.deleted:
        return f"<@{user.id}|{user.name}>"
    group = next((g for g in ws.usergroups.values() if g.handle == name), None)
    return f"<!subteam^{group.id}|@{group.handle}>" if group else match.group(0)


class LocalSandbox:
    """The app served on 127.0.0.1 against a fresh emulated workspace; a context manager."""

    def __init__(
        self,
        base: Settings | None = None,
        *,
        database_url: str | None = None,
        clock: SandboxClock | None = None,
        workspace: Workspace | None = None,
        capture_logs: bool = True,
    ) -> None:
        if database_url and base is not None and same_database(database_url, base.database_url):
            raise SandboxError(
                f"{database_url} is the database `release-captain serve` uses (DATABASE_URL); "
                "the sandbox never touches it. Pick another file, or leave --database out for a throwaway "
                "one."
            )
        self.base = base
        self.clock = clock or SandboxClock()
        self._last_pass: datetime | None = None
        self.workspace = workspace or Workspace.seeded()
        self.emulator = SlackEmulator(self.workspace)
        self._database_url = database_url
        self._capture_logs = capture_logs
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runtime: Runtime | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sender: SlackSender | None = None
        self._saved_logging: tuple[list[logging.Handler], int] | None = None
        self.kept_log: Path | None = None  # the log, kept after stop() when the app logged errors

    # --- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> LocalSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalSandbox:
        """Start the emulator, build the app on its own database, and serve it; stop everything on failure."""
        self._tmp = tempfile.TemporaryDirectory(prefix="release-captain-sandbox-")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.emulator.start()
        secret = secrets.token_hex(16)
        settings = self._settings(secret)
        if self._capture_logs:
            self._logs_to_file(settings.log_level)
        self._runtime = build(settings, clock=self.clock)
        self._runtime.start()
        port = self._serve(self._runtime)
        events_url = f"http://127.0.0.1:{port}/slack/events"
        self._sender = SlackSender(events_url, secret, self.workspace, self.emulator)

    def stop(self) -> None:
        """Stop serving, stop the app, stop the emulator, and delete the throwaway database."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None
        self.emulator.stop()
        self._restore_logging()
        if self._tmp is not None:
            self.kept_log = self._keep_log_with_errors()
            self._tmp.cleanup()
            self._tmp = None

    def _keep_log_with_errors(self) -> Path | None:
        """Move the log out of the scratch directory when the app logged errors, so they can be read later."""
        log_path = self.log_path
        if not log_path.exists() or not _ERROR_LINE.search(
            log_path.read_text(encoding="utf-8", errors="replace")
        ):
            return None
        kept = Path(tempfile.gettempdir()) / f"{self.tmp_dir.name}.log"
        shutil.move(log_path, kept)
        return kept

    def _settings(self, signing_secret: str) -> Settings:
        """The operator's settings for logging and templates; Slack and the database are the sandbox's own."""
        kept = self.base.model_dump(include=_KEPT_SETTINGS) if self.base is not None else {}
        return load_settings(
            **kept,
            slack_bot_token=self.workspace.bot_token,
            slack_signing_secret=signing_secret,
            slack_app_token=None,  # never Socket Mode: the sandbox is reached over its own HTTP port
            slack_api_url=self.emulator.api_url,
            database_url=self._database_url or f"sqlite:///{self.tmp_dir / 'sandbox.db'}",
            host="127.0.0.1",
        )

    def _serve(self, runtime: Runtime) -> int:
        """uvicorn in a background thread on a socket bound here, so the port is known and never raced."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            create_web_app(runtime.bolt, runtime.engine, runtime.telemetry, lanes=runtime.lanes),
            log_level="warning",
            log_config=None,  # leave logging alone: the sandbox decides where logs go
            access_log=False,
            lifespan="off",
        )
        # uvicorn only installs signal handlers on the main thread, so Ctrl-C still reaches the shell.
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SandboxError(f"the app did not start serving (log: {self.log_path})")
            time.sleep(0.01)
        return int(sock.getsockname()[1])

    def _logs_to_file(self, level: str) -> None:
        """Send log records to a file in the sandbox directory, so they don't interleave with the prompt."""
        root = logging.getLogger()
        self._saved_logging = (list(root.handlers), root.level)
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.handlers = [handler]
        root.setLevel(level)

    def _restore_logging(self) -> None:
        if self._saved_logging is None:
            return
        root = logging.getLogger()
        for handler in root.handlers:
            handler.close()
        root.handlers, level = self._saved_logging
        root.setLevel(level)
        self._saved_logging = None

    # --- what the sandbox is made of --------------------------------------------------------------------

    @property
    def tmp_dir(self) -> Path:
        """The sandbox's scratch directory (throwaway database and log)."""
        if self._tmp is None:
            raise SandboxError("the sandbox is not started")
        return Path(self._tmp.name)

    @property
    def log_path(self) -> Path:
        """Where the app's log goes while the sandbox runs."""
        return self.tmp_dir / "sandbox.log"

    @property
    def runtime(self) -> Runtime:
        """The assembled app."""
        if self._runtime is None:
            raise SandboxError("the sandbox is not started")
        return self._runtime

    @property
    def sender(self) -> SlackSender:
        """Signs and sends requests to the app as Slack does."""
        if self._sender is None:
            raise SandboxError("the sandbox is not started")
        return self._sender

    @property
    def database_url(self) -> str:
        """The database the app uses."""
        return self.runtime.settings.database_url

    # --- people acting ----------------------------------------------------------------------------------

    def command(self, user_id: str, channel_id: str, typed: str, command: str = "/release") -> Delivery:
        """Run a slash command as typed; the app's reply shows up in the workspace as Slack would show it."""
        # The reply is stamped before the request, so it sorts before anything the command makes the app post.
        ts = self.workspace.next_ts()
        delivery = self._timed(
            lambda: self.sender.command(user_id, channel_id, encode_typed(typed, self.workspace), command)
        )
        if delivery.status == 200 and isinstance(delivery.body, dict):
            self._show_reply(user_id, channel_id, ts, delivery.body)
        self.settle()
        return delivery

    def _show_reply(self, user_id: str, channel_id: str, ts: str, reply: dict[str, Any]) -> None:
        """Slack shows a command's HTTP reply to the person (ephemeral) or posts it in the channel."""
        text, blocks = str(reply.get("text") or ""), reply.get("blocks")
        if not text and not blocks:
            return
        if reply.get("response_type") == "in_channel":
            self.workspace.post(channel_id, self.workspace.bot_user_id, text, blocks=blocks)
            return
        ephemeral = Ephemeral(channel_id, user_id, ts, text, blocks, via="command_response")
        with self.workspace.lock:
            self.workspace.ephemeral_messages.append(ephemeral)

    def react(self, user_id: str, channel_id: str, ts: str, emoji: str, *, added: bool = True) -> Delivery:
        """Add or remove a reaction; the app gets `reaction_added`/`reaction_removed` as from Slack."""
        delivery = self._timed(lambda: self.sender.reaction(user_id, channel_id, ts, emoji, added))
        self.settle()
        return delivery

    def click(self, user_id: str, channel_id: str, ts: str, action_id: str, value: str) -> Delivery:
        """Click an element of a message (a channel message or an ephemeral one)."""
        delivery = self._timed(lambda: self.sender.action(user_id, channel_id, ts, action_id, value))
        self.settle()
        return delivery

    def click_home(self, user_id: str, action_id: str, value: str) -> Delivery:
        """Click an element of the user's App Home tab."""
        delivery = self._timed(lambda: self.sender.home_action(user_id, action_id, value))
        self.settle()
        return delivery

    def open_home(self, user_id: str) -> Delivery:
        """Open the app's Home tab, which tells the app to publish it."""
        delivery = self._timed(lambda: self.sender.app_home_opened(user_id))
        self.settle()
        return delivery

    def submit(self, user_id: str, values: dict[str, dict[str, Any]]) -> Delivery:
        """Submit the top modal with `state.values` (a string stands for a text input); apply the answer."""
        stack = self.emulator.modal_stack(user_id)
        if not stack:
            raise SandboxError("no modal is open")
        view = stack[-1]
        delivery = self._timed(lambda: self.sender.view_submission(user_id, view, values))
        if delivery.status == 200:
            self._apply_response_action(user_id, view["id"], delivery.body)
        self.settle()
        return delivery

    def close_modal(self, user_id: str) -> None:
        """The person closes their modals (the ✕)."""
        with self.workspace.lock:
            self.workspace.modal_stacks.pop(user_id, None)

    def _apply_response_action(self, user_id: str, view_id: str, body: Any) -> None:
        """What Slack does with a view_submission's answer: errors keep the modal; no answer closes it."""
        answer = body if isinstance(body, dict) else {}
        action = answer.get("response_action")
        with self.workspace.lock:
            stack = self.workspace.modal_stacks.get(user_id, [])
            if action == "errors":
                return
            if action == "update":
                self.emulator.api.call("views.update", {"view_id": view_id, "view": answer.get("view")})
            elif action == "push":
                trigger = self.emulator.api.new_trigger_id(user_id)
                self.emulator.api.call("views.push", {"trigger_id": trigger, "view": answer.get("view")})
            elif action == "clear":
                stack.clear()
            elif stack and stack[-1] == view_id:
                stack.pop()

    @staticmethod
    def _timed(send: Callable[[], tuple[int, Any]]) -> Delivery:
        started = time.monotonic()
        status, body = send()
        return Delivery(status, body, time.monotonic() - started)

    # --- time -------------------------------------------------------------------------------------------

    def advance(self, delta: timedelta) -> bool:
        """Move the clock forward and run the work that became due; False when the app schedules nothing."""
        return self.set_time(self.clock.now() + delta)

    def set_time(self, at: datetime) -> bool:
        """Move the clock to `at`, ticking on the way as serve would, so nothing is sent late or skipped."""
        hook = self._due_work_hook()
        start = self.clock.now()
        if hook is None:
            self.clock.set(at)
            return False
        if self._last_pass is None:
            hook(start)  # the first pass only marks where planning starts
        # Every 30 minutes, or fewer passes for a long jump (years ahead would otherwise take minutes).
        stride = max(_SANDBOX_TICK, (at - start) / _MAX_PASSES_PER_JUMP)
        step = start
        while step < at:
            step = min(at, step + stride)
            self.clock.set(step)
            hook(step)
        self._last_pass = at
        self.settle()
        return True

    def run_due_work(self) -> bool:
        """One scheduler pass at the sandbox's now, through whichever hook the app offers."""
        hook = self._due_work_hook()
        if hook is None:
            return False
        hook(self.clock.now())
        self._last_pass = self.clock.now()
        self.settle()
        return True

    def _due_work_hook(self) -> Callable[[datetime], Any] | None:
        """`services.run_due_work(now)`, else `services.deliveries.run_due(now)` (see DESIGN.md)."""
        services = self.runtime.services
        hook = getattr(services, "run_due_work", None)
        if hook is None:
            hook = getattr(getattr(services, "deliveries", None), "run_due", None)
        return hook if callable(hook) else None

    def settle(self, timeout: float = _SETTLE_SECONDS) -> bool:
        """Wait until the app has finished what the last action set off; False if still busy after `timeout`.

        Finished means the card and App Home workers are idle and the app has made no Slack call for a moment:
        confirmations and prompts go out from a thread pool after the acknowledgement, and nothing says when
        they are done.
        """
        deadline = time.monotonic() + timeout
        calls, quiet_since = len(self.emulator.calls), time.monotonic()
        while time.monotonic() < deadline:
            now, count = time.monotonic(), len(self.emulator.calls)
            if count != calls:
                calls, quiet_since = count, now
            elif self._workers_idle() and now - quiet_since >= _QUIET_SECONDS:
                return True
            time.sleep(0.01)
        return False

    def _workers_idle(self) -> bool:
        """The card and App Home workers, the after-ack pool, exports and a kicked pass are done."""
        home = self.runtime.home_worker
        after_ack = getattr(self.runtime.services, "after_ack", None)
        deliveries = getattr(self.runtime.services, "deliveries", None)
        exports = getattr(self.runtime.services, "exports", None)
        return (
            self.runtime.worker.idle()
            and (home is None or home.idle())
            and (after_ack is None or after_ack.idle())
            and (deliveries is None or not deliveries.kicking())
            # Building a large file can outlast the quiet moment settle() waits for (seen on a loaded CI).
            and (exports is None or exports.backlog() == 0)
        )
