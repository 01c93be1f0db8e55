"""Writers of several processes on one SQLite file take turns through a file lock instead of SQLite's sleeps.

serve's sign-off process writes the same file as the request process; with only SQLite's busy handler a
command could wait up to a second behind a burst of sign-offs (bench/README.md, "Writers take turns").
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import db
from storage.db import make_engine, unit_of_work


def _hold_write(url: str, holding, release) -> None:  # runs in a forked child
    with unit_of_work(make_engine(url)) as session:
        session.execute(text("INSERT INTO mark (at) VALUES ('child')"))
        holding.set()
        release.wait(30)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    with unit_of_work(make_engine(url)) as session:
        session.execute(text("CREATE TABLE mark (at TEXT)"))
    return url


def _lock_free(url: str) -> bool:
    """Whether another process could take the writer lock now (tried and given back at once)."""
    fd = os.open(url.removeprefix("sqlite:///") + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing gives the lock back if it was taken
    return True


@contextmanager
def _child_writing(url: str) -> Iterator[tuple[multiprocessing.Process, object]]:
    context = multiprocessing.get_context("fork")
    holding, release = context.Event(), context.Event()
    child = context.Process(target=_hold_write, args=(url, holding, release))
    child.start()
    try:
        assert holding.wait(10), "the child never started its write"
        yield child, release
    finally:
        if child.is_alive():  # setting an Event a killed child was waiting on would wait for it forever
            release.set()
        child.join(10)


def test_a_write_transaction_holds_the_turn_of_every_process_until_it_ends(url: str) -> None:
    assert _lock_free(url)
    with _child_writing(url) as (child, release):
        assert not _lock_free(url)
        release.set()  # type: ignore[attr-defined]
        child.join(10)
    assert _lock_free(url)
    with unit_of_work(make_engine(url)) as session:  # and this process's write gets its turn after
        session.execute(text("INSERT INTO mark (at) VALUES ('parent')"))
    with unit_of_work(make_engine(url), write=False) as session:
        order = [row[0] for row in session.execute(text("SELECT at FROM mark ORDER BY rowid"))]
    assert order == ["child", "parent"]


def test_a_writer_killed_in_its_turn_leaves_it_free(url: str) -> None:
    with _child_writing(url) as (child, _release):
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(10)
        assert _lock_free(url)
        with unit_of_work(make_engine(url)) as session:
            session.execute(text("INSERT INTO mark (at) VALUES ('parent')"))


def test_a_turn_held_elsewhere_past_the_busy_timeout_leaves_the_write_to_sqlite(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone holds the file lock without writing (a stuck tool, say): after the busy timeout the write
    # goes ahead on SQLite's own lock, which is free, instead of failing or hanging.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    fd = os.open(url.removeprefix("sqlite:///") + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        began = time.monotonic()
        with unit_of_work(make_engine(url)) as session:
            session.execute(text("INSERT INTO mark (at) VALUES ('anyway')"))
        assert time.monotonic() - began >= 0.3  # it did wait its turn first
    finally:
        os.close(fd)


def test_a_lock_file_that_cannot_be_made_does_not_stop_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    (tmp_path / "odd.db-writer.lock").mkdir()  # the name is taken by a directory: open() fails
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        session.execute(text("CREATE TABLE mark (at TEXT)"))
    with unit_of_work(engine) as session:
        session.execute(text("INSERT INTO mark (at) VALUES ('still')"))
    with unit_of_work(engine, write=False) as session:
        assert session.execute(text("SELECT count(*) FROM mark")).scalar_one() == 1
