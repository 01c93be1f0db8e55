"""A local Slack: a real HTTP server speaking the Web API against an in-memory `Workspace`.

Point the bot's client at it with `WebClient(token=..., base_url=emulator.api_url)`. Faults (rate limits,
5xx, unknown outcomes, timeouts, an unreachable host) can be injected per method.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl

from bot.sandbox.apierror import ApiError
from bot.sandbox.responses import ResponseUrls
from bot.sandbox.webapi import WebApi
from bot.sandbox.workspace import Ephemeral, Workspace

log = logging.getLogger(__name__)

FaultKind = Literal["ratelimited", "server_error", "internal_error", "timeout"]
FAULT_KINDS: frozenset[str] = frozenset({"ratelimited", "server_error", "internal_error", "timeout"})
AuthError = Literal["token_revoked", "invalid_auth", "account_inactive"]
AUTH_ERRORS: frozenset[str] = frozenset({"token_revoked", "invalid_auth", "account_inactive"})
# Slack sends these as JSON strings inside form bodies.
JSON_ARGS = ("blocks", "attachments", "metadata", "view")


@dataclass(frozen=True)
class Call:
    """One request the emulator answered (token left out)."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    at: float


@dataclass
class Fault:
    """An injected failure for the next `remaining` calls of `method` ("*" = any method)."""

    method: str
    kind: str
    remaining: int
    retry_after: int = 1
    status: int = 500

    def matches(self, method: str) -> bool:
        """True if this fault applies to `method` and is not used up."""
        return self.remaining > 0 and self.method in ("*", method)


@dataclass
class Reply:
    """An HTTP answer: status, body (dict → JSON, str → text) and extra headers."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] | None = None


def parse_args(content_type: str, query: str, body: bytes) -> dict[str, Any]:
    """Merge query-string and body arguments the way Slack reads them; JSON-encoded fields are decoded."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        args.update(data)
    elif body:
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for name in JSON_ARGS:
        if isinstance(args.get(name), str) and args[name]:
            # An undecodable value stays a string; the handler answers with Slack's *_format error.
            with contextlib.suppress(json.JSONDecodeError):
                args[name] = json.loads(args[name])
    return args


class _Handler(BaseHTTPRequestHandler):
    """Routes /api/<method>, /response/<id> and /upload/<file id> to the emulator."""

    server: _Server

    def handle(self) -> None:
        """In "drop" pause mode, close the connection without reading or answering."""
        if self.server.emulator.dropping:
            self.close_connection = True
            return
        super().handle()

    def do_POST(self) -> None:
        """Every Web API call; slack_sdk always POSTs."""
        self.server.emulator._serve_request(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its emulator."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: SlackEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class SlackEmulator:
    """Slack Web API + response URLs over HTTP on 127.0.0.1, backed by one thread-safe `Workspace`."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_seconds: float = 15.0,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workspace = workspace if workspace is not None else Workspace.seeded()
        self.api = WebApi(self.workspace)
        self.responses = ResponseUrls(self.workspace, time_fn)
        self.timeout_seconds = timeout_seconds
        self.host, self.port = host, port
        self.dropping = False
        # Set by revoke(): every Web API call is refused with this error, as Slack does once the app's
        # token is revoked or its workspace deactivated.
        self.refusing_token: str | None = None
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self.fired: Counter[str] = Counter()  # injected faults that took effect, by kind (for test reports)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        """Bind and serve in a daemon thread; the first start fixes the port so resume() can reuse it."""
        self._stopping.clear()
        self._listen()
        return self

    def stop(self) -> None:
        """Stop serving and wake any request sleeping in a timeout fault."""
        self._stopping.set()
        self._close_listener()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        """Open the listening socket and start serve_forever."""
        if self._server is not None:
            return
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self.api.upload_base = self.base_url + "upload/"  # files.getUploadURLExternal points back here
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator",
            daemon=True,
        )
        self._thread.start()

    def _close_listener(self) -> None:
        """Close the listening socket so new connections are refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pause(self, mode: Literal["refuse", "drop"] = "refuse") -> None:
        """Make Slack unreachable: "refuse" closes the port; "drop" accepts then closes without answering."""
        if mode == "refuse":
            self._close_listener()
        else:
            self.dropping = True

    def resume(self) -> None:
        """Undo pause(): listen again on the same port and answer normally."""
        self.dropping = False
        self._listen()

    @property
    def base_url(self) -> str:
        """ "http://127.0.0.1:PORT/"."""
        if not self.port:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """What `WebClient(base_url=...)` expects."""
        return self.base_url + "api/"

    # --- test helpers -----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded call, oldest first."""
        with self.workspace.lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method."""
        return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        """Forget recorded calls."""
        with self.workspace.lock:
            self._calls.clear()

    def inject(
        self, method: str, fault: FaultKind, count: int = 1, retry_after: int = 1, status: int = 500
    ) -> None:
        """Fail the next `count` calls of `method` ("*" = any); `status` is for "server_error" (500/503)."""
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULT_KINDS)}")
        with self.workspace.lock:
            self._faults.append(Fault(method, fault, count, retry_after, status))

    def revoke(self, error: AuthError = "token_revoked") -> None:
        """Refuse the bot's token from now on (`token_revoked`, `invalid_auth` or `account_inactive`)."""
        if error not in AUTH_ERRORS:
            raise ValueError(f"unknown auth error {error!r}; expected one of {sorted(AUTH_ERRORS)}")
        with self.workspace.lock:
            self.refusing_token = error

    def reinstate(self) -> None:
        """Undo revoke(): the token works again (the app was reinstalled)."""
        with self.workspace.lock:
            self.refusing_token = None

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        with self.workspace.lock:
            self._faults.clear()

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A response_url for an interaction in `channel_id` by `user_id` (on message `message_ts`)."""
        with self.workspace.lock:
            return self.base_url + "response/" + self.responses.create(channel_id, user_id, message_ts)

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id whose modal will belong to `user_id`."""
        with self.workspace.lock:
            return self.api.new_trigger_id(user_id)

    def expire_trigger(self, trigger_id: str) -> None:
        """views.open/push with this trigger will answer `expired_trigger_id`."""
        with self.workspace.lock:
            self.api.expired_triggers.add(trigger_id)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages from chat.postEphemeral and response URLs."""
        return self.workspace.ephemerals(channel, user)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for a user."""
        with self.workspace.lock:
            return copy.deepcopy(self.workspace.home_views.get(user_id))

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open modals, root first ("" for modals opened with a trigger not minted here)."""
        with self.workspace.lock:
            ids = self.workspace.modal_stacks.get(user_id, [])
            return [copy.deepcopy(self.workspace.views[i]) for i in ids]

    # --- request handling -------------------------------------------------------------------------------

    def _serve_request(self, request: BaseHTTPRequestHandler) -> None:
        """Read, route, answer."""
        path, _, query = request.path.partition("?")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if path.startswith("/api/"):
            reply = self._api_request(path.removeprefix("/api/"), request, query, body)
        elif path.startswith("/response/"):
            reply = self._response_url_request(path.removeprefix("/response/"), body)
        elif path.startswith("/upload/"):
            reply = self._upload_request(path.removeprefix("/upload/"), body)
        else:
            reply = Reply(404, {"ok": False, "error": "not_found"})
        self._write(request, reply)

    def _api_request(self, method: str, request: BaseHTTPRequestHandler, query: str, body: bytes) -> Reply:
        """One Web API call: faults first (they model the network and Slack's edge), then the method."""
        try:
            args = parse_args(request.headers.get("Content-Type", ""), query, body)
        except (ValueError, UnicodeDecodeError):
            return self._record(method, {}, Reply(200, {"ok": False, "error": "invalid_json"}))
        token = _bearer(request.headers.get("Authorization")) or args.get("token")
        args.pop("token", None)
        fault = self._take_fault(method)
        if fault is not None and fault.kind == "ratelimited":
            reply = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)})
            return self._record(method, args, reply)
        if fault is not None and fault.kind == "server_error":
            return self._record(method, args, Reply(fault.status, f"{fault.status} Server Error"))
        reply = Reply(200, self._dispatch(method, token, args))
        if fault is not None and fault.kind == "internal_error":
            # The effect above has been applied: the caller cannot know whether its call worked.
            reply = Reply(200, {"ok": False, "error": "internal_error"})
        self._record(method, args, reply)
        if fault is not None and fault.kind == "timeout":
            self._stopping.wait(self.timeout_seconds)
        return reply

    def _dispatch(self, method: str, token: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Authenticate and run the method under the workspace lock; JSON-ready copy of the result."""
        with self.workspace.lock:
            try:
                if not self.api.handles(method):
                    raise ApiError("unknown_method")
                if not token:
                    raise ApiError("not_authed")
                if token != self.workspace.bot_token:
                    raise ApiError("invalid_auth")
                if self.refusing_token is not None:
                    raise ApiError(self.refusing_token)
                result = self.api.call(method, copy.deepcopy(args))
            except ApiError as exc:
                return exc.to_response()
            except Exception:
                # An emulator bug must not look like a Slack answer the bot could handle.
                log.exception("emulator failed in %s", method)
                return {"ok": False, "error": "emulator_exception"}
            return json.loads(json.dumps(result))

    def _response_url_request(self, url_id: str, body: bytes) -> Reply:
        """A POST to a response_url (JSON body, as Bolt's respond() sends)."""
        try:
            payload: Any = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            payload = None
        with self.workspace.lock:
            status, answer = self.responses.post(url_id, payload)
        args = payload if isinstance(payload, dict) else {}
        return self._record("response_url", args, Reply(status, answer))

    def _upload_request(self, file_id: str, body: bytes) -> Reply:
        """The bytes POSTed to a URL from files.getUploadURLExternal; a text answer, like Slack's."""
        with self.workspace.lock:
            status, answer = self.api.receive_upload(file_id, body)
            ok = status == 200
            args = {"file_id": file_id, "length": len(body)}
            self._calls.append(Call("upload", args, ok, None if ok else answer, status, time.monotonic()))
        return Reply(status, answer)

    def _take_fault(self, method: str) -> Fault | None:
        """Consume one use of the first matching fault."""
        with self.workspace.lock:
            fault = next((f for f in self._faults if f.matches(method)), None)
            if fault is not None:
                fault.remaining -= 1
                self.fired[fault.kind] += 1
            return fault

    def _record(self, method: str, args: dict[str, Any], reply: Reply) -> Reply:
        """Remember the call for assertions; returns `reply` for chaining."""
        body = reply.body if isinstance(reply.body, dict) else {}
        ok = bool(body.get("ok")) and reply.status == 200
        error = None if ok else str(body.get("error") or f"http_{reply.status}")
        call = Call(method, copy.deepcopy(args), ok, error, reply.status, time.monotonic())
        with self.workspace.lock:
            self._calls.append(call)
        return reply

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, reply: Reply) -> None:
        """Send the reply; a client that gave up (timeout fault) is not an error."""
        if isinstance(reply.body, dict):
            data, content_type = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        else:
            data, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        try:
            request.send_response(reply.status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(data)))
            for name, value in (reply.headers or {}).items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away before the reply")


def _bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header."""
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
