"""One read-only statement, compiled once, run on the driver's own cursor outside a transaction.

Under load every call into the database lets another thread take the interpreter, and every layer between
the request and the driver runs again when the request gets it back. For the hottest read of all
(`/release status` asking which version of the channel's release is current) BEGIN, ROLLBACK and
SQLAlchemy's result machinery cost more than the read: at 20 clients this path serves 30 % more status
requests per second than a unit of work does (bench/README.md, "One statement, no transaction"). The
person check every new owner goes through reads this way too.
A single SELECT is a consistent read on its own in SQLite and in PostgreSQL, so nothing is lost by leaving
the transaction out. Anything that reads twice wants `storage.db.unit_of_work`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select


class PreparedRead:
    """A SELECT whose SQL text is compiled once per dialect; `rows` runs it with the given parameters."""

    def __init__(self, statement: Select[Any]) -> None:
        self._statement = statement
        self._prepared: dict[str, _Prepared] = {}  # dialect name -> compiled statement

    def rows(self, engine: Engine, **params: Any) -> list[tuple[Any, ...]]:
        """All rows, each value converted as SQLAlchemy would (dates, booleans); parameters go to the driver
        as given, so keep them to plain strings and numbers."""
        prepared = self._prepare(engine.dialect)
        compiled = prepared.compiled
        values = compiled.construct_params(params)  # the statement's own literals are parameters too
        args: Any = tuple(values[name] for name in compiled.positiontup) if compiled.positional else values
        with engine.connect() as conn:
            if engine.dialect.name != "sqlite":
                # SQLite's connections already run a lone statement in autocommit (storage/db.py turns
                # pysqlite's implicit BEGIN off); psycopg would send BEGIN and, on return, ROLLBACK.
                conn.execution_options(isolation_level="AUTOCOMMIT")
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                # Statement counters (bench/sql_count.py, tests) listen here; keep this read visible to them.
                conn.dispatch.before_cursor_execute(conn, cursor, compiled.string, args, None, False)
                cursor.execute(compiled.string, args)
                fetched = cursor.fetchall()
            except engine.dialect.loaded_dbapi.Error as exc:
                # The same exception types the rest of the code sees from SQLAlchemy.
                raise DBAPIError.instance(
                    compiled.string, args, exc, engine.dialect.loaded_dbapi.Error
                ) from exc
            finally:
                cursor.close()
        if prepared.processors is None:
            return [tuple(row) for row in fetched]
        processors = prepared.processors
        return [
            tuple(value if fn is None else fn(value) for value, fn in zip(row, processors, strict=True))
            for row in fetched
        ]

    def _prepare(self, dialect: Dialect) -> _Prepared:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            compiled = self._statement.compile(dialect=dialect)
            # The per-column conversions SQLAlchemy's own results apply: SQLite hands back dates as text
            # and booleans as integers, and a TypeDecorator (storage/types.py) adds its own step on top.
            processors = tuple(
                column.type._cached_result_processor(dialect, None)
                for column in compiled._result_columns  # type: ignore[attr-defined]
            )
            needed = processors if any(fn is not None for fn in processors) else None
            prepared = self._prepared[dialect.name] = _Prepared(compiled, needed)
        return prepared


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for one dialect, with each result column's conversion (None: none needed)."""

    compiled: Any  # SQLCompiler
    processors: tuple[Callable[[Any], Any] | None, ...] | None
