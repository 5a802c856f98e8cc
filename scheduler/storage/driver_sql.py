"""Core statements compiled once and run with plain driver parameters.

For every execution SQLAlchemy turns each row of parameters into the driver's
form again (per row, per column), which for the daemon's few-row statements on
SQLite costs more than SQLite's own work. `Prepared` compiles a statement once
for a dialect with positional parameters (SQLite) and builds the driver's
parameter tuples itself, with the same column-type processors; it still runs
through the Connection, so transactions and error wrapping are SQLAlchemy's.
Other dialects run the statement through Core as usual.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
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

    def run(
        self, conn: Connection, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any]:
        if self.sql is None:
            return conn.execute(self.statement, rows)  # type: ignore[arg-type]
        if isinstance(rows, Mapping):
            return conn.exec_driver_sql(self.sql, tuple(get(rows) for get in self.getters))
        return conn.exec_driver_sql(
            self.sql, [tuple(get(row) for get in self.getters) for row in rows]
        )


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
