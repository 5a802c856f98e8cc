"""Core statements compiled once and run with plain driver parameters.

For every execution SQLAlchemy turns each row of parameters into the driver's
form again (per row, per column), which for the daemon's few-row statements on
SQLite costs more than SQLite's own work. `Prepared` compiles a statement once
for a dialect and builds the driver's parameters itself, with the same
column-type processors: tuples for positional drivers (SQLite), dicts for
named ones (psycopg's `%(name)s`). On PostgreSQL this matters most for the
attempts' multi-row INSERT, which SQLAlchemy cannot cache and compiled again
at every pass. On SQLite it runs on the driver's cursor inside the
Connection's transaction (so commit and rollback are the Connection's, and
errors are wrapped as SQLAlchemy wraps them), unless someone listens to the
engine's statements; elsewhere through `exec_driver_sql`. A statement that
needs SQLAlchemy at each execution (an expanding IN) runs through Core.
Rows come back as the driver gives them, unconverted, on every dialect.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult

Getter = Callable[[Mapping[str, Any]], Any]


class Prepared:
    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=dialect)
        positional = compiled.positiontup
        names = positional if positional is not None else list(compiled.binds)
        self.sql: str | None = None
        self.getters: tuple[Getter, ...] = ()
        #: (name, getter) for each parameter, for a driver that takes a dict.
        self.named: tuple[tuple[str, Getter], ...] | None = None
        self.direct = False
        if compiled.literal_execute_params or compiled.post_compile_params:
            return
        if positional is None and dialect.paramstyle not in ("pyformat", "named"):
            return
        if positional is None and getattr(compiled, "escaped_bind_names", None):
            return  # names the driver sees differ from the binds' (not ours)
        getters: list[Getter] = []
        for name in names:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                # A literal in the statement (a status, a constant): converted once.
                value = process(bind.value) if process else bind.value
                getters.append(lambda _row, v=value: v)
            elif process is None:
                getters.append(operator.itemgetter(name))
            else:
                getters.append(_converting(name, process))
        self.sql = compiled.string
        self.getters = tuple(getters)
        if positional is None:
            self.named = tuple(zip(names, self.getters, strict=True))
        #: Run on the driver's cursor (see `_direct`): Python's sqlite3 only.
        self.direct = dialect.name == "sqlite" and dialect.driver == "pysqlite"

    def run(
        self, conn: Connection, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any] | Rows:
        if self.sql is None:
            return conn.execute(self.statement, rows)  # type: ignore[arg-type]
        many = not isinstance(rows, Mapping)
        one = self._one if self.named is None else self._one_named
        params: Any = [one(row) for row in rows] if many else one(rows)  # type: ignore[arg-type]
        if self.direct and not _observed(conn):
            return self._direct(conn, params, many)
        return conn.exec_driver_sql(self.sql, params)

    def _one(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(get(row) for get in self.getters)

    def _one_named(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: get(row) for name, get in self.named or ()}

    def _direct(self, conn: Connection, params: Any, many: bool) -> Rows:
        """The statement on the driver's cursor, inside the Connection's
        transaction: SQLAlchemy's execution context (result metadata, row
        processors, events) cost about as much again as SQLite's own work for
        the daemon's few-row statements. Driver errors come out as
        SQLAlchemy's (`OperationalError` and so on), as through Core."""
        assert self.sql is not None
        if not conn.in_transaction():
            conn.begin()  # so that conn.commit() commits what runs here
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(self.sql, params)
            else:
                cursor.execute(self.sql, params)
            fetched = cursor.fetchall() if cursor.description is not None else []
            return Rows(fetched, cursor.rowcount)
        except dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                self.sql, params, exc, dbapi.Error, dialect=conn.dialect, ismulti=many
            ) from exc
        finally:
            cursor.close()


class Rows:
    """What `Prepared.run` returns from the driver's cursor: the rows as
    tuples (unconverted, as `exec_driver_sql` gives them) and the rowcount."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _observed(conn: Connection) -> bool:
    """Whether someone listens to this connection's statements (a test
    counting them, a tracer): then they go through SQLAlchemy, which tells them."""
    return bool(getattr(conn, "_has_events", True) or getattr(conn.engine, "_has_events", True))


def _converting(name: str, process: Callable[[Any], Any]) -> Getter:
    # A batch passes the same value (the pass's `now`) in many rows and columns:
    # the last conversion is remembered.
    last: list[Any] = [object(), None]

    def get(row: Mapping[str, Any]) -> Any:
        value = row[name]
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return get


@functools.lru_cache(maxsize=128)
def prepared(statement: sa.Executable, dialect: sa.Dialect) -> Prepared:
    """`Prepared` for a statement built once (a cached builder's result)."""
    return Prepared(statement, dialect)
