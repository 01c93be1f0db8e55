"""Run a real `release-captain serve` process against the Slack emulator, and talk to it as Slack does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.sender import SlackSender

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until the predicate returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class BotProcess:
    """`python -m bot serve` in HTTP mode, pointed at the emulator; restartable."""

    def __init__(
        self, emulator: SlackEmulator, database_url: str, log_path: Path, *, log_level: str = "INFO"
    ) -> None:
        self.emulator = emulator
        self.log_level = log_level
        self.database_url = database_url
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.sender = SlackSender(self.events_url, SIGNING_SECRET, emulator.workspace, emulator)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
        env.update(
            SLACK_BOT_TOKEN=self.emulator.workspace.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.emulator.api_url,
            DATABASE_URL=self.database_url,
            PORT=str(self.port),
            HOST="127.0.0.1",
            LOG_LEVEL=self.log_level,
            CARD_SWEEP_SECONDS="0.5",
        )
        return env

    def start(self) -> BotProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=self.log_path.parent,
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        wait_until(self._healthy, timeout=30, what=f"serve to answer /healthz (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"serve exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, user: str, text: str, channel: str = "CRELEASES") -> dict[str, Any]:
        """Run `/release <text>` as a user; return the ephemeral reply JSON."""
        status, body = self.sender.command(user, channel, text)
        assert status == 200, (status, body)
        assert isinstance(body, dict), body
        return body


def reply_text(reply: dict[str, Any]) -> str:
    """Everything readable in a reply: fallback text and block texts."""
    parts = [reply.get("text", "")]
    for block in reply.get("blocks") or []:
        parts.append(_block_text(block))
    return "\n".join(parts)


def _block_text(block: dict[str, Any]) -> str:
    texts = []
    if isinstance(block.get("text"), dict):
        texts.append(block["text"].get("text", ""))
    for element in block.get("elements") or []:
        if isinstance(element, dict) and "text" in element:
            texts.append(
                element["text"] if isinstance(element["text"], str) else element["text"].get("text", "")
            )
    return "\n".join(texts)


def message_text(message: Any) -> str:
    """Readable text of an emulator message (its blocks, else its text)."""
    blocks = getattr(message, "blocks", None) or []
    return "\n".join(_block_text(b) for b in blocks) or getattr(message, "text", "")


def item_reply(emulator: SlackEmulator, position: int, channel: str = "CRELEASES") -> Any:
    """The card's thread reply for checklist item `position`, or None before it is posted."""
    for message in emulator.workspace.messages(channel):
        meta = message.metadata or {}
        if meta.get("event_type") == "release_captain_item" and meta["event_payload"]["position"] == position:
            return message
    return None


def item_ts(emulator: SlackEmulator, position: int, channel: str = "CRELEASES") -> str:
    """The ts of item `position`'s reply (to react to); fails the test if it was never posted."""
    reply = item_reply(emulator, position, channel)
    if reply is None:
        raise AssertionError(f"no reply for item {position}")
    return reply.ts


def item_text(emulator: SlackEmulator, position: int, channel: str = "CRELEASES") -> str:
    """What item `position`'s reply reads now ("" before it is posted)."""
    reply = item_reply(emulator, position, channel)
    return "" if reply is None else message_text(reply)
