"""Processes under test: `release-captain serve` and the bare Bolt app, spawned alike, timed to /healthz."""

from __future__ import annotations

import compileall
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.common import (
    LARGE_CHANNEL,
    ROOT,
    SIGNING_SECRET,
    children,
    cpu_seconds,
    free_port,
    private_mb,
    rss_mb,
)
from bench.seed import create_release, insert_release, runtime
from bot.sandbox.emulator import SlackEmulator
from storage import repo
from storage.db import unit_of_work

Kind = Literal["bot", "bare"]
RELEASE_NAME = "Payments 2.4"
WRITES_RELEASE = "Platform 9"  # assign, reaction and button figures change this one, not the status one
WRITES_ITEMS = 24  # one item per client at 20 clients, so clients never race on an item
_START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ItemReply:
    """A checklist item of the writes release and the ts of its reply in the card's thread."""

    item_id: int
    position: int
    reply_ts: str


class Server:
    """One spawned server process; knows how long it took from spawn to its first healthy /healthz."""

    def __init__(self, kind: Kind, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.kind = kind
        self.port = int(env["PORT"])
        self.log_path = workdir / f"{kind}-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
        self.healthy_at = self._wait_healthy()
        self.served_load = False

    @property
    def startup_seconds(self) -> float:
        """Spawn to the first 200 from /healthz."""
        return self.healthy_at - self.spawned_at

    def rss_mb(self) -> float:
        """Current resident memory of the process, plus what its children (serve's sign-off process) add.

        A forked child shares the parent's pages until either writes them; counting its whole resident set
        would count those twice, so each child adds its private pages only (`private_mb`).
        """
        return rss_mb(self.proc.pid) + sum(private_mb(child) for child in children(self.proc.pid))

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far, its children's included (serve's sign-off process)."""
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *children(self.proc.pid)])

    def memory_notes(self) -> str:
        """How `rss_mb` adds up, for a figure's notes."""
        parts = [f"VmRSS {rss_mb(self.proc.pid):.1f} MiB"]
        for child in children(self.proc.pid):
            parts.append(f"+ child {child}: private {private_mb(child):.1f} of VmRSS {rss_mb(child):.1f} MiB")
        return " ".join(parts)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it will not go."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _wait_healthy(self) -> float:
        # Poll tightly: the figure is start-up time, so the poll interval must not dominate it.
        deadline = self.spawned_at + _START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{tail}")
            if _healthz(self.port) == 200:
                return time.perf_counter()
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer /healthz within {_START_TIMEOUT}s ({self.log_path})")


def _background_jobs(port: int) -> int:
    """The bot's work still to do, summed over its queues, from /metrics (0 if it cannot be read)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except OSError:
        return 0
    finally:
        conn.close()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("release_captain_background_jobs{")
    )


def _healthz(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


class Lab:
    """An emulator and a SQLite database holding an 18-item release with owners and a published card.

    Servers are pooled: figures that only need *a* running server share one, so a full run spawns few.
    """

    def __init__(self) -> None:
        _compile_project()
        self._tmp = tempfile.TemporaryDirectory(prefix="rc-bench-")
        self.workdir = Path(self._tmp.name)
        self.emulator = SlackEmulator().start()
        self.database_url = f"sqlite:///{self.workdir / 'serve.db'}"
        self._pool: dict[Kind, Server] = {}
        self.replies: list[ItemReply] = []
        self._seed()

    def _seed(self) -> None:
        rt = runtime(self.database_url, self.emulator)
        try:
            release_id = create_release(rt, RELEASE_NAME)
            writes_id = insert_release(
                rt, WRITES_RELEASE, LARGE_CHANNEL, WRITES_ITEMS, owned=False, evidence=False
            )
            # Publish the cards now, so no spawned server starts by posting messages while being measured.
            rt.services.card_sync.sync(release_id)
            rt.services.card_sync.sync(writes_id)
            with unit_of_work(rt.engine, write=False) as session:
                items = repo.items_of(session=session, release_id=writes_id)
            self.replies = [ItemReply(i.id or 0, i.position, i.thread_ts or "") for i in items]
            if not all(r.reply_ts for r in self.replies):
                raise RuntimeError(f"{WRITES_RELEASE}: some items have no reply to react to")
        finally:
            rt.stop()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every card shows its release's latest version and the bots have no work left over.

        "Left over" is what a bot reports in `release_captain_background_jobs`: sign-offs acknowledged but not
        applied yet, confirmations, card and App Home edits. Without it, a writing target's App Home refreshes
        would land on the next target's requests.
        """
        path = self.database_url.removeprefix("sqlite:///")
        bots = [server for kind, server in self._pool.items() if kind == "bot"]
        deadline = time.monotonic() + timeout
        while True:
            busy = sum(_background_jobs(server.port) for server in bots)
            with sqlite3.connect(path, timeout=5) as conn:
                behind = conn.execute(
                    "SELECT count(*) FROM release WHERE card_synced_version < card_version"
                ).fetchone()[0]
            if not (behind or busy) or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def env(self, port: int, database_url: str | None = None) -> dict[str, str]:
        """The environment both servers get: same token, secret, Slack URL and port handling."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
        env.update(
            SLACK_BOT_TOKEN=self.emulator.workspace.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.emulator.api_url,
            DATABASE_URL=database_url or self.database_url,
            HOST="127.0.0.1",
            PORT=str(port),
            LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        return env

    def spawn(self, kind: Kind, *, database_url: str | None = None, **env: str) -> Server:
        """A fresh process of that kind; the caller stops it (or hands it to the pool with `keep`).

        `database_url` serves another database than the lab's; `env` adds settings (TICK_SECONDS=…).
        """
        return Server(kind, _command(kind), {**self.env(free_port(), database_url), **env}, self.workdir)

    def keep(self, server: Server) -> None:
        """Let later figures reuse a running server instead of spawning another."""
        old = self._pool.get(server.kind)
        if old is not None and old is not server:
            old.stop()
        self._pool[server.kind] = server

    def server(self, kind: Kind, *, fresh: bool = False) -> Server:
        """A pooled server; `fresh` insists on one that has not served load yet."""
        current = self._pool.get(kind)
        if current is None or (fresh and current.served_load):
            current = self.spawn(kind)
            self.keep(current)
        return current

    def close(self) -> None:
        """Stop every server and the emulator; remove the database."""
        for server in self._pool.values():
            server.stop()
        self._pool.clear()
        self.emulator.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _compile_project() -> None:
    """Write the project's bytecode next to its sources, as its first start would on most machines.

    Installed packages come with bytecode (pip compiles them); the project, installed editable, gets it
    when first imported, unless PYTHONDONTWRITEBYTECODE is set, as it is on the machines these figures come
    from. Then every spawn would compile the whole project first, which is not what a restart costs.
    Stale files are harmless: Python checks each against its source.
    """
    for package in ("bot", "storage", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def _command(kind: Kind) -> list[str]:
    if kind == "bare":
        return [sys.executable, "-m", "bench.bare_app"]
    # What an operator runs: the console script, which is a plain Python launcher next to the interpreter.
    script = Path(sys.executable).with_name("release-captain")
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "bot", "serve"]
