"""Send one hostile request at a time and check the answer, everything the bot sent, and the database.

For each request: HTTP 200 within Slack's 3 seconds; no "something went wrong" reply; nothing the bot sent
to Slack (replies, messages, edits, ephemerals, modals, Home) carries live markup that came from the corpus;
and when the bot refused (a reply starting with ⚠️, or a modal answered with errors) every table's rows are
exactly as before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from bot.sandbox.local import SLACK_ACK_SECONDS, LocalSandbox
from tests.hostile.corpus import live_markup

# Columns a refused request may legitimately touch: the users.info cache is refreshed on any lookup.
VOLATILE = {("person", "fetched_at")}
UNEXPECTED = "Something went wrong on my side"
# The audit trail records every attempt, refused ones too ("denied"): only applied changes must not appear.
_ATTEMPTS = {"audit_event": ("outcome", "applied")}
# Message metadata is data for the bot, never shown: it may hold names exactly as typed.
_UNSHOWN_ARGS = {"metadata"}

Rows = dict[str, list[str]]


def database_rows(engine: Engine) -> Rows:
    """Every table's rows as sorted text, without the columns in VOLATILE or records of refused attempts."""
    rows: Rows = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            kept = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            query = select(*kept)
            if table.name in _ATTEMPTS:
                column, applied = _ATTEMPTS[table.name]
                query = query.where(table.c[column] == applied)
            found = connection.execute(query).all()
            rows[table.name] = sorted(repr(tuple(row)) for row in found)
    return rows


def changed_tables(before: Rows, after: Rows) -> dict[str, tuple[list[str], list[str]]]:
    """Per table: rows gone and rows new."""
    return {
        name: (sorted(set(before[name]) - set(after[name])), sorted(set(after[name]) - set(before[name])))
        for name in before
        if before[name] != after[name]
    }


def refused(reply: str) -> bool:
    """Whether a command's reply is a refusal: ⚠️ first, and not the ⚠️ of an item just waived."""
    return reply.startswith("⚠️") and "→ *waived*" not in reply.split("\n", 1)[0]


@dataclass
class Tally:
    """How many hostile requests were answered, and the slowest one."""

    tried: int = 0
    refused: int = 0
    slowest: float = 0.0
    slowest_label: str = ""

    def add(self, label: str, seconds: float, refused: bool) -> None:
        """Count one answered request."""
        self.tried += 1
        self.refused += refused
        if seconds > self.slowest:
            self.slowest, self.slowest_label = seconds, label


TALLY = Tally()  # across the whole session, for the terminal summary (see conftest.py)


@dataclass
class Probe:
    """Sends requests to a sandbox one by one and checks each (see the module docstring)."""

    box: LocalSandbox
    tally: Tally = field(default_factory=Tally)
    _rows: Rows = field(default_factory=dict)
    _calls_seen: int = 0

    def __post_init__(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Take the present state as the baseline (after setting things up outside the probe)."""
        self.box.settle()
        self._rows = database_rows(self.box.runtime.engine)
        self._calls_seen = len(self.box.emulator.calls)

    def command(self, user: str, channel: str, text: str, label: str) -> dict[str, Any]:
        """A slash command whose text is already as Slack sends it; returns the reply."""
        status, body, seconds = _timed(lambda: self.box.sender.command(user, channel, text))
        reply = body if isinstance(body, dict) else {}
        self._check(label, status, seconds, reply, refused=refused(str(reply.get("text", ""))))
        return reply

    def submit(
        self, user: str, view: dict[str, Any], values: dict[str, Any], label: str, *, authored: bool = False
    ) -> dict[str, Any]:
        """Submit a modal as it was opened, with these values; returns the app's answer.

        `authored`: the modal takes the person's own mrkdwn (an announcement), so their links stand.
        """
        status, body, seconds = _timed(lambda: self.box.sender.view_submission(user, view, values))
        answer = body if isinstance(body, dict) else {}
        refused = answer.get("response_action") == "errors"
        # Field errors are plain text (Slack shows them without mrkdwn), so a "<!channel>" there is just text.
        shown = {k: v for k, v in answer.items() if k != "errors"}
        self._check(label, status, seconds, shown, refused=refused, authored=authored)
        return answer

    def _check(
        self,
        label: str,
        status: int,
        seconds: float,
        answer: dict[str, Any],
        *,
        refused: bool,
        authored: bool = False,
    ) -> None:
        assert status == 200, (label, status, answer)
        assert seconds <= SLACK_ACK_SECONDS, f"{label}: answered in {seconds:.2f}s"
        self.box.settle()
        calls = self.box.emulator.calls[self._calls_seen :]
        self._calls_seen += len(calls)
        sent = [(json.dumps(answer, ensure_ascii=False), answer.get("response_type") != "in_channel")]
        sent += [(json.dumps(_shown(c.args), ensure_ascii=False), _private(c.method, c.args)) for c in calls]
        for text, private in sent:
            assert UNEXPECTED not in text, f"{label}: {text[:600]}"
            leaks = live_markup(text, private=private, authored=authored)
            assert leaks == [], f"{label}: {leaks} in {text[:600]}"
        rows = database_rows(self.box.runtime.engine)
        if refused:
            assert rows == self._rows, f"{label}: refused, yet {changed_tables(self._rows, rows)}"
        self._rows = rows
        self.tally.add(label, seconds, refused)
        TALLY.add(label, seconds, refused)


def _timed(send: Callable[[], tuple[int, Any]]) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, body = send()
    return status, body, time.monotonic() - started


def _private(method: str, args: dict[str, Any]) -> bool:
    """Whether a call shows something to one person only (an ephemeral message)."""
    if method == "chat.postEphemeral":
        return True
    return method == "response_url" and args.get("response_type", "ephemeral") == "ephemeral"


def _shown(args: dict[str, Any]) -> dict[str, Any]:
    """A Slack call's arguments without the parts nobody sees."""
    return {k: v for k, v in args.items() if k not in _UNSHOWN_ARGS}
