"""Engine and unit of work: SQLite with WAL and BEGIN IMMEDIATE writes, PostgreSQL through the same code."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
_WRITE = "release_captain_write"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


SQLITE_POOL_SIZE = 20


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with the pragmas and transaction behaviour Release Captain relies on."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    in_memory = make_url(url).database in (None, "", ":memory:")
    # Requests run on a thread pool; with the default five pooled connections every request beyond them
    # opened a connection (four PRAGMAs) and closed it again (bench/README.md: profile of status).
    pooling = {} if in_memory else {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **pooling,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        # pysqlite's own transaction handling is off so that we choose BEGIN or BEGIN IMMEDIATE below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if make_url(url).database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades later loses updates or
        # fails with "database is locked" under concurrency (see RELIABILITY.md).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back when it raises."""
    bind = engine.execution_options(**{_WRITE: True}) if write else engine
    with _writer_turn(engine, write), Session(bind=bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# SQLite has one writer at a time, and writers that find it taken are put off by SQLite's busy handler, which
# sleeps with growing pauses (up to 100 ms each): under 20 concurrent writes the slowest waited over a second,
# and a process whose writers follow each other closely (serve's sign-off process in a burst) could starve
# another's for as long (bench/README.md). So writers queue instead: the threads of a process on a lock, and
# the one at the front of each process on a file lock next to the database, which the kernel frees if its
# holder dies. Whoever holds both finds SQLite's write lock free.
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterTurn] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()
_TURN_POLL_SECONDS = 0.0002  # how often a writer of this process looks whether another process is done


def _writer_turn(engine: Engine, write: bool) -> AbstractContextManager[object]:
    if not write or engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITERS_GUARD:
        turn = _WRITERS.get(engine)
        if turn is None:
            database = engine.url.database
            lock_path = None if database in (None, "", ":memory:") else f"{database}-writer.lock"
            turn = _WRITERS[engine] = _WriterTurn(lock_path)
    return turn


class _WriterTurn:
    """One writer at a time: first among this process's threads (re-entrant), then among processes."""

    def __init__(self, lock_path: str | None) -> None:
        self._threads = threading.RLock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._fd_pid = 0  # a forked child must open its own: a shared descriptor shares the lock
        self._depth = 0  # only the thread holding `_threads` reads or writes these
        self._file_held = False

    def __del__(self) -> None:
        # The engine is gone (tests make hundreds): close the lock file (never the database's own file).
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)

    def __enter__(self) -> None:
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._lock_path is not None:
            try:
                self._file_held = self._lock_file()
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._file_held:
            self._file_held = False
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        self._threads.release()

    def _lock_file(self) -> bool:
        """Wait for other processes' writers; False after SQLite's busy timeout (SQLite decides then)."""
        try:
            fd = self._descriptor()
        except OSError as exc:
            # A lock file that can't be made must not stop writes: SQLite's own lock still keeps them apart.
            log.warning("no writer lock file %s (%s); SQLite's busy handler it is", self._lock_path, exc)
            self._lock_path = None
            return False
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(_TURN_POLL_SECONDS)

    def _descriptor(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            assert self._lock_path is not None
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd


def ping(engine: Engine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def wait_for_database(
    engine: Engine,
    *,
    seconds: float,
    on_retry: Callable[[OperationalError, float], None] = lambda _error, _delay: None,
) -> None:
    """Connect until the database answers, backing off from 0.5 s to 5 s; re-raise after `seconds`."""
    deadline = time.monotonic() + seconds
    delay = 0.5
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            on_retry(exc, min(delay, left))
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)
