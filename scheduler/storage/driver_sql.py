"""Core statements compiled once and run with plain driver parameters.

For every execution SQLAlchemy turns each row of parameters into the driver's
form again (per row, per column), which for the daemon's few-row statements on
SQLite costs more than SQLite's own work. `Prepared` compiles a statement once
for a dialect with positional parameters (SQLite) and builds the driver's
parameter tuples itself, with the same column-type processors. On SQLite it
runs on the driver's cursor inside the Connection's transaction (so commit and
rollback are the Connection's, and errors are wrapped as SQLAlchemy wraps
them), unless someone listens to the engine's statements; elsewhere through
`exec_driver_sql`. Other dialects run the statement through Core as usual.
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
        names = compiled.positiontup
        self.sql: str | None = None
        self.getters: tuple[Getter, ...] = ()
        self.direct = False
        if names is None or compiled.literal_execute_params or compiled.post_compile_params:
            return
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
        #: Run on the driver's cursor (see `_direct`): Python's sqlite3 only.
        self.direct = dialect.name == "sqlite" and dialect.driver == "pysqlite"

    def run(
        self, conn: Connection, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any] | Rows:
        if self.sql is None:
            return conn.execute(self.statement, rows)  # type: ignore[arg-type]
        many = not isinstance(rows, Mapping)
        params: Any = (
            [tuple(get(row) for get in self.getters) for row in rows]
            if many
            else tuple(get(rows) for get in self.getters)  # type: ignore[arg-type]
        )
        if self.direct and not _observed(conn):
            return self._direct(conn, params, many)
        return conn.exec_driver_sql(self.sql, params)

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
