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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from scheduler.errors import NotFoundError, PlanningError
from scheduler.models import Channel, Post, PostStatus, utcnow

#: Rows per executemany: large enough that per-statement costs vanish, small
#: enough that a million-row import does not hold every parameter in memory.
CHUNK = 10_000

_OPTIONAL = ("template", "source_kind", "source_id", "article_id", "link")
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
        insert = sa.insert(Post.__table__)  # type: ignore[arg-type]
        now = utcnow()
        count = 0
        batch: list[dict[str, Any]] = []
        keys = _KeySource()
        for index, row in enumerate(rows):
            batch.append(_values(index, row, channel_id, now, keys))
            if len(batch) >= chunk:
                conn.execute(insert, batch)
                count += len(batch)
                batch = []
        if batch:
            conn.execute(insert, batch)
            count += len(batch)
    return count


def _values(
    index: int, row: RowLike, channel_id: int, now: dt.datetime, keys: _KeySource
) -> dict[str, Any]:
    if isinstance(row, PostRow):
        data: Mapping[str, Any] = row.__dict__
    elif isinstance(row, tuple):
        if len(row) != 2:
            raise PlanningError(f"row {index}: expected (text, due_at), got {len(row)} items")
        data = {"text": row[0], "due_at": row[1]}
    elif isinstance(row, Mapping):
        data = row
    else:
        raise PlanningError(f"row {index}: expected a PostRow, a (text, due_at) pair or a dict")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PlanningError(f"row {index}: a post needs some text")
    due = data.get("due_at")
    if not isinstance(due, dt.datetime):
        raise PlanningError(f"row {index}: due_at must be a datetime")
    if due.tzinfo is None or due.utcoffset() is None:
        raise PlanningError(f"row {index}: due_at {due.isoformat()} has no time zone")
    status = data.get("status") or PostStatus.queued.value
    if status not in _STATUSES:
        raise PlanningError(f"row {index}: new posts are queued or draft, not {status!r}")
    key = data.get("idempotency_key") or keys.next()
    if not isinstance(key, str) or len(key) > 64:
        raise PlanningError(f"row {index}: idempotency_key must be a string of at most 64")
    values = {
        "channel_id": channel_id,
        "status": status,
        "text": text.strip(),
        "due_at": due,
        "idempotency_key": key,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    for name in _OPTIONAL:
        values[name] = data.get(name)
    return values


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
