"""Logging: JSON or text lines, request and delivery ids on every line, Slack secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "[redacted]"

# Slack tokens: bot, user, app-level, configuration and refresh tokens. The prefix stays readable so an
# operator can still tell which kind of token a line was about.
_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")
# The default is shared but never mutated: log_context always sets a new dict.
_CONTEXT: ContextVar[dict[str, Any]] = ContextVar("release_captain_log_context", default={})  # noqa: B039
# Attributes every LogRecord has; anything else on a record came from `extra=` and is worth showing
# (except uvicorn's copy of its message with terminal colours).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "context",
    "color_message",
}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (request_id, delivery_id…) to every log line written inside the block, on this context."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, Any]:
    """The fields log_context has set here (a copy)."""
    return dict(_CONTEXT.get())


class Redactor:
    """Replaces Slack tokens and the configured secrets in any text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN.sub(lambda m: f"{m.group(1)}-{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, traceback and stack so no secret reaches any output."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact
        self._exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A malformed format call must not raise into the caller; show what was given instead.
            message = f"{record.msg} {record.args!r}"
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the redacted traceback is the one written.
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        for key, value in list(vars(record).items()):
            # Fields given with extra= are written by the JSON formatter too.
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self._redact(value))
        return True


class ContextFilter(logging.Filter):
    """Copies the current log_context fields onto the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        record.context = context
        for key, value in context.items():
            setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Context and `extra=` fields of a record, in the order they were added."""
    fields = dict(getattr(record, "context", {}))
    for key, value in vars(record).items():
        if key not in _STANDARD and key not in fields:
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the context fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


class _OurHandler(logging.StreamHandler):
    """Marks the handler configure() installed, so configuring again replaces it instead of doubling lines."""


def resolve_format(log_format: str, stream: IO[str]) -> str:
    """`auto` means text for a person at a terminal, JSON for a log collector."""
    if log_format != "auto":
        return log_format
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure(
    *, level: str, log_format: str = "auto", secrets: Iterable[str | None] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) through the context and redaction filters."""
    stream = stream if stream is not None else sys.stderr
    handler = _OurHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter() if resolve_format(log_format, stream) == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    return handler
