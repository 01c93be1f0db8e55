"""Engine and unit of work: SQLite with WAL and BEGIN IMMEDIATE writes, PostgreSQL through the same code."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

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


# SQLite has one writer at a time. Threads of this process that all try BEGIN IMMEDIATE at once are put off
# by SQLite's busy handler, which sleeps with growing pauses: under 20 concurrent writes the slowest waited
# over a second (bench/README.md). Queueing them on a lock first hands the database over as soon as it is
# free. Other processes (replicas, `tick`) still meet the busy timeout as before.
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def _writer_turn(engine: Engine, write: bool) -> AbstractContextManager[object]:
    if not write or engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITERS_GUARD:
        lock = _WRITERS.get(engine)
        if lock is None:
            lock = _WRITERS[engine] = threading.RLock()
    return lock


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
