"""Queueing many posts at once: imports, generated campaigns, benchmarks.

`enqueue_many` writes rows straight through SQLAlchemy Core as one executemany
per chunk, in one transaction, instead of building an ORM object per post. The
rules are the same as for a single post (`planning.new_post`): aware times
stored in UTC, one idempotency key per post that never changes, status queued
(or draft).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from scheduler.errors import NotFoundError, PlanningError
from scheduler.storage.models import Channel, Post, PostStatus, utcnow

#: Rows per executemany: large enough that per-statement costs vanish, small
#: enough that a million-row import does not hold every parameter in memory.
CHUNK = 10_000

_OPTIONAL = ("template", "source_kind", "source_id", "article_id", "link", "reason")
_STATUSES = frozenset({PostStatus.queued.value, PostStatus.draft.value})


@dataclass(frozen=True)
class PostRow:
    """One post to queue. Only `text` and `due_at` are needed."""

    text: str
    due_at: dt.datetime
    template: str | None = None
    source_kind: str | None = None
    source_id: int | None = None
    article_id: int | None = None
    link: str | None = None
    #: Why this post and this time, in words (`scheduler explain`).
    reason: str | None = None
    #: After this moment the post must not go out at all.
    expires_at: dt.datetime | None = None
    status: str = PostStatus.queued.value
    #: Leave empty to get a fresh random key, as `new_post` does.
    idempotency_key: str | None = None


RowLike = PostRow | tuple[str, dt.datetime] | Mapping[str, Any]


def enqueue_many(
    target: Engine | Session | Connection,
    channel: Channel | int,
    rows: Iterable[RowLike],
    *,
    chunk: int = CHUNK,
) -> int:
    """Queue `rows` on `channel`; returns how many posts were written.

    `target` may be an engine (committed here, all or nothing), or a session or
    connection (written inside the caller's transaction; the caller commits).
    Every row is checked before its chunk is written; a bad row raises
    `PlanningError` naming its position, and with an engine nothing is kept.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    with _connection(target) as conn:
        channel_id = _channel_id(conn, channel)
        write = _writer(conn, channel_id)
        keys = _KeySource()
        count = 0
        batch: list[tuple[Any, ...]] = []
        for index, row in enumerate(rows):
            batch.append(_checked(index, row, keys))
            if len(batch) >= chunk:
                write(batch)
                count += len(batch)
                batch = []
        if batch:
            write(batch)
            count += len(batch)
    if isinstance(target, Engine) and target.dialect.name == "postgresql" and count >= ANALYZE_AT:
        # Statistics from before the import make PostgreSQL plan the daemon's
        # missed-post check as a walk over every queued post of a channel
        # (113 ms an upkeep at 200,000 queued, 18 ms once analysed) until
        # autovacuum gets round to the table. On a session or a connection
        # the rows are not committed yet: the caller's to analyse.
        with target.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {Post.__tablename__}")
    return count


#: Posts written at once on PostgreSQL past which the table is analysed.
ANALYZE_AT = 10_000


#: The order of a checked row; the writers add channel, attempts and timestamps.
_FIELDS = ("text", "due_at", "expires_at", "status", "idempotency_key", *_OPTIONAL)


def _writer(conn: Connection, channel_id: int) -> Callable[[list[tuple[Any, ...]]], None]:
    """How a chunk of checked rows reaches the database.

    On SQLite the column types' own bind processors convert the rows and the
    driver's executemany takes plain tuples: SQLAlchemy's per-row, per-column
    parameter processing would otherwise cost more than SQLite's inserts. Other
    dialects take the ordinary Core executemany.
    """
    now = utcnow()
    table = Post.__table__  # type: ignore[attr-defined]
    if conn.dialect.name == "sqlite":
        # dialect_impl: the SQLite DATETIME processor (a fixed text format that
        # sorts and compares right), not the driver's default adapter.
        to_db = table.c.due_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        now_db = to_db(now)
        columns = (*_FIELDS, "channel_id", "attempts", "created_at", "updated_at")
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        tail = (channel_id, 0, now_db, now_db)

        def write_sqlite(batch: list[tuple[Any, ...]]) -> None:
            conn.exec_driver_sql(
                sql,
                [
                    (r[0], to_db(r[1]), None if r[2] is None else to_db(r[2]), *r[3:], *tail)  # type: ignore[arg-type]
                    for r in batch
                ],
            )

        return write_sqlite

    insert = sa.insert(table)
    extra = {"channel_id": channel_id, "attempts": 0, "created_at": now, "updated_at": now}

    def write_core(batch: list[tuple[Any, ...]]) -> None:
        conn.execute(insert, [dict(zip(_FIELDS, r, strict=True), **extra) for r in batch])

    return write_core


def _checked(index: int, row: RowLike, keys: _KeySource) -> tuple[Any, ...]:
    if isinstance(row, tuple):
        if len(row) != 2:
            raise PlanningError(f"row {index}: expected (text, due_at), got {len(row)} items")
        text, due = row
        expires: Any = None
        status: Any = PostStatus.queued.value
        key: Any = None
        optional: tuple[Any, ...] = (None,) * len(_OPTIONAL)
    else:
        if isinstance(row, PostRow):
            data: Mapping[str, Any] = row.__dict__
        elif isinstance(row, Mapping):
            data = row
        else:
            raise PlanningError(f"row {index}: expected a PostRow, a (text, due_at) pair or a dict")
        text, due, expires = data.get("text"), data.get("due_at"), data.get("expires_at")
        status = data.get("status") or PostStatus.queued.value
        key = data.get("idempotency_key")
        optional = tuple(data.get(name) for name in _OPTIONAL)
    if not isinstance(text, str) or not (text := text.strip()):
        raise PlanningError(f"row {index}: a post needs some text")
    if not isinstance(due, dt.datetime):
        raise PlanningError(f"row {index}: due_at must be a datetime")
    if due.utcoffset() is None:
        raise PlanningError(f"row {index}: due_at {due.isoformat()} has no time zone")
    if expires is not None and (
        not isinstance(expires, dt.datetime) or expires.utcoffset() is None
    ):
        raise PlanningError(f"row {index}: expires_at must be a datetime with a time zone")
    if status not in _STATUSES:
        raise PlanningError(f"row {index}: new posts are queued or draft, not {status!r}")
    if key is None:
        key = keys.next()
    elif not isinstance(key, str) or not 0 < len(key) <= 64:
        raise PlanningError(f"row {index}: idempotency_key must be 1 to 64 characters")
    return (text, due, expires, status, key, *optional)


class _KeySource:
    """Random 128-bit keys like `uuid4().hex`, drawn from the OS in blocks:
    one `os.urandom` call per thousand posts instead of one per post."""

    BLOCK = 1024

    def __init__(self) -> None:
        self._pool: list[str] = []

    def next(self) -> str:
        if not self._pool:
            raw = os.urandom(16 * self.BLOCK).hex()
            self._pool = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        return self._pool.pop()


def _channel_id(conn: Connection, channel: Channel | int) -> int:
    channel_id = channel if isinstance(channel, int) else channel.id
    if channel_id is None:
        raise PlanningError("the channel has not been saved yet")
    found = conn.execute(
        sa.select(Channel.id).where(Channel.id == channel_id)  # type: ignore[arg-type]
    ).first()
    if found is None:
        raise NotFoundError(f"no channel with id {channel_id}")
    return channel_id


@contextmanager
def _connection(target: Engine | Session | Connection) -> Iterator[Connection]:
    if isinstance(target, Engine):
        with target.begin() as conn:
            yield conn
    elif isinstance(target, Session):
        yield target.connection()
    elif isinstance(target, Connection):
        yield target
    else:
        raise TypeError(f"expected an Engine, Session or Connection, not {type(target).__name__}")
