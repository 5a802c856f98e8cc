"""A send's two durable steps: the attempt written before a request leaves, and
the outcome written after.

`begin_attempt` commits before the network is touched, so a crash mid-send
leaves an attempt without an outcome, which tells recovery that a request may
have left. Both steps act only while the caller still holds the post's lease.
The daemon does both for several posts at once, in one transaction per pass:
`finish_many` for the sends that came back, `claim_and_begin` (the claim counts
the attempt) and `insert_attempts` for the next ones. A few statements per
pass instead of a few per post: on a fast platform the database work was most
of what a send cost the scheduler.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from scheduler.delivery import claims
from scheduler.delivery.claims import _attempts_table, _posts_table
from scheduler.storage.driver_sql import prepared
from scheduler.storage.models import Attempt, PostStatus, utcnow


@dataclass(frozen=True)
class Outcome:
    status: PostStatus
    error: str | None = None
    status_code: int | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    next_attempt_at: dt.datetime | None = None
    #: How the attempt row records it when that differs from the post's status
    #: ("unsure": a retry after a send that may have reached the platform).
    attempt_outcome: str | None = None


@dataclass(frozen=True)
class Started:
    attempt_id: int
    #: Requests started for this post, this one included.
    attempts: int


@dataclass(frozen=True)
class Finished:
    """One send's outcome, as `finish_many` takes it."""

    post_id: int
    attempt_id: int
    outcome: Outcome


# -- before the request ------------------------------------------------------------


def begin_attempt(
    session: Session | Connection,
    post_id: int,
    owner: str,
    now: dt.datetime | None = None,
    lease: dt.timedelta | None = None,
) -> Started | None:
    """Written and committed before the request leaves, so a crash mid-send
    leaves a trace that the outcome is unknown. Only while the lease is still
    ours (renewed here when `lease` is given); None means another daemon took
    the post back and nothing may be sent."""
    now = now or utcnow()
    params: dict[str, object] = {"p_id": post_id, "p_owner": owner, "p_now": now}
    if lease is not None:
        params.update(claims.lease_params(now, lease))
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    row = session.execute(_start_statement(lease is not None, dialect), params).first()
    if row is None:
        session.rollback()
        return None
    attempt_id = session.execute(
        _attempt_insert(), {"p_id": post_id, "p_owner": owner, "p_now": now}
    ).scalar_one()
    session.commit()
    return Started(attempt_id, row[0])


@dataclass(frozen=True)
class Claimed:
    """A post claimed with its attempt begun (`claim_and_begin`)."""

    id: int
    text: str
    due_at: dt.datetime
    #: Requests started for this post, this one included.
    attempts: int
    idempotency_key: str
    link: str | None
    #: `Post.media` as the claim read it (JSON text or a list, by driver).
    media: Any = None
    link_card: Any = None
    #: A quote post of an article whose source watch was not released: the
    #: only kind `watch.targets` can find (the others skip its lookup).
    watchable: bool = False


def claim_and_begin(
    conn: Connection,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    channel_id: int,
) -> list[Claimed | tuple[int, str]]:
    """Claim up to `limit` due posts of a channel and count their attempts in
    the same UPDATE, returning what a send needs. Nothing is committed: the
    caller builds each post's requests, undoes the posts it cannot send with
    `fail_unsent`, writes the others' attempt rows with `insert_attempts`, and
    only then commits, so that nothing is sent before its attempt is durable.

    A post whose stored time no longer reads comes back as (id, reason)."""
    stmt = prepared(claims._claim_statement(conn.dialect.name, True, True), conn.dialect)
    params = {
        "p_now": now,
        "p_limit": limit,
        "p_owner": owner,
        **claims.lease_params(now, lease),
        "p_channel": channel_id,
    }
    convert = _due_at_reader(conn.dialect)
    out: list[Claimed | tuple[int, str]] = []
    for row in stmt.run(conn, params).all():
        post_id, text, due_raw, count, key, link, media, card, kind, article, released = row
        try:
            due_at = convert(due_raw)
            if not isinstance(due_at, dt.datetime):
                raise ValueError(f"due_at is {due_raw!r}")
        except Exception as exc:
            out.append((post_id, f"{type(exc).__name__}: {exc}"))
            continue
        watchable = kind == "quote" and article is not None and not released
        out.append(Claimed(post_id, text, due_at, count, key, link, media, card, watchable))
    out.sort(key=lambda c: c.id if isinstance(c, Claimed) else c[0])
    return out


def _storable(text: str | None) -> str | None:
    # A platform's error text may hold NUL, which PostgreSQL refuses in text.
    return text.replace("\x00", "") if text else text


def fail_unsent(conn: Connection, owner: str, failures: Sequence[tuple[int, str]]) -> None:
    """Posts claimed by `claim_and_begin` that cannot be sent (a row that does
    not read, a request that cannot be built): `failed` with the reason, and
    the attempt counted by the claim taken back, since nothing left."""
    if failures:
        conn.execute(
            _fail_unsent_statement(),
            [
                {"p_id": i, "p_owner": owner, "v_error": _storable(e), "v_now": utcnow()}
                for i, e in failures
            ],
        )


def insert_attempts(
    conn: Connection, owner: str, post_ids: Sequence[int], now: dt.datetime
) -> dict[int, int]:
    """The attempt rows of posts claimed by `claim_and_begin`, in one INSERT:
    post id -> attempt id."""
    if not post_ids:
        return {}
    found: dict[int, int] = {}
    for start in range(0, len(post_ids), _INSERT_ROWS):
        chunk = post_ids[start : start + _INSERT_ROWS]
        insert = prepared(_attempt_insert_rows(len(chunk)), conn.dialect)
        params: dict[str, object] = {"p_owner": owner, "p_now": now}
        params.update({f"p_id_{n}": post_id for n, post_id in enumerate(chunk)})
        found.update((post_id, attempt_id) for attempt_id, post_id in insert.run(conn, params))
    return found


#: Rows per attempts INSERT: well under both databases' limits on parameters.
_INSERT_ROWS = 100


@functools.lru_cache(maxsize=16)
def _due_at_reader(dialect: sa.Dialect) -> Callable[[object], object]:
    column = _posts_table().c.due_at
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return process or (lambda value: value)


def start_attempt(
    session: Session,
    post_id: int,
    owner: str,
    now: dt.datetime | None = None,
    lease: dt.timedelta | None = None,
) -> int | None:
    """`begin_attempt`, returning just the attempt's id (None: lease lost)."""
    started = begin_attempt(session, post_id, owner, now, lease)
    return started.attempt_id if started else None


def earlier_unsure(session: Session, post_id: int) -> bool:
    """Whether an earlier attempt may have reached the platform (no answer, or
    a daemon died mid-send)."""
    return (
        session.execute(
            sa.select(Attempt.id)
            .where(Attempt.post_id == post_id, Attempt.outcome.in_(("unsure", "lost", "unknown")))
            .limit(1)
        ).first()
        is not None
    )


# -- after the request -------------------------------------------------------------


def finish(
    session: Session | Connection, post_id: int, attempt_id: int, owner: str, outcome: Outcome
) -> bool:
    """Record how a send ended. Returns False when the lease was lost meanwhile
    (another daemon took the post back), in which case the post is left alone,
    unless it was sent and still waits in the queue: then it is marked sent, so
    it is not sent again."""
    kept = _finish_one(session, Finished(post_id, attempt_id, outcome), owner, utcnow())
    session.commit()
    return kept


def finish_many(
    conn: Connection, owner: str, done: Sequence[Finished], *, commit: bool = True
) -> set[int]:
    """`finish` for several sends in one transaction; returns the ids of the
    posts whose lease was still ours. The common case (every lease still held)
    is a handful of multi-row statements; if any lease was lost, the batch is
    rolled back and written post by post, so each one gets `finish`'s exact
    handling. With `commit=False` it must be the transaction's first step
    (that rollback would undo anything before it)."""
    if not done:
        return set()
    now = utcnow()
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for item in done:
        keys, params = _finish_params(item, owner, now)
        groups.setdefault(keys, []).append(params)
    matched = 0
    for keys, rows in groups.items():
        # Both drivers (sqlite3, psycopg) report the summed rowcount of an executemany.
        matched += prepared(_finish_statement(keys), conn.dialect).run(conn, rows).rowcount
    if matched != len(done):
        conn.rollback()
        kept = {item.post_id for item in done if _finish_one(conn, item, owner, now)}
    else:
        rows = [_attempt_values(item, now) for item in done]
        prepared(_attempt_finish(), conn.dialect).run(conn, rows)
        kept = {item.post_id for item in done}
    if commit:
        conn.commit()
    return kept


def _finish_one(
    session: Session | Connection, item: Finished, owner: str, now: dt.datetime
) -> bool:
    keys, params = _finish_params(item, owner, now)
    kept = session.execute(_finish_statement(keys), params).rowcount == 1
    if not kept and item.outcome.status is PostStatus.sent:
        posts = _posts_table()
        session.execute(
            sa.update(posts)
            .where(
                posts.c.id == item.post_id,
                posts.c.status.in_((PostStatus.queued.value, PostStatus.unknown.value)),
            )
            .values(**_post_values(item.outcome, now))
        )
    session.execute(_attempt_finish(), _attempt_values(item, now))
    return kept


def _finish_params(
    item: Finished, owner: str, now: dt.datetime
) -> tuple[tuple[str, ...], dict[str, object]]:
    """The columns an outcome sets (which `_finish_statement` to use) and the
    statement's parameters."""
    values = _post_values(item.outcome, now)
    keys = tuple(sorted(values))
    params: dict[str, object] = {"p_id": item.post_id, "p_owner": owner}
    params.update({f"v_{k}": values[k] for k in keys})
    return keys, params


def _post_values(outcome: Outcome, now: dt.datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "status": outcome.status.value,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
        "last_error": _storable(outcome.error),
    }
    if outcome.status is PostStatus.sent:
        values.update(remote_id=outcome.remote_id, remote_url=outcome.remote_url, sent_at=now)
    if outcome.status is PostStatus.queued:
        values["next_attempt_at"] = outcome.next_attempt_at
    return values


def _attempt_values(item: Finished, now: dt.datetime) -> dict[str, object]:
    outcome = item.outcome
    return {
        "p_id": item.attempt_id,
        "v_finished_at": now,
        "v_outcome": outcome.attempt_outcome
        or {"queued": "retry"}.get(outcome.status.value, outcome.status.value),
        "v_status_code": outcome.status_code,
        "v_error": _storable(outcome.error),
        "v_remote_id": outcome.remote_id,
    }


# -- the statements, built once -----------------------------------------------------
# Constructing a statement costs more than SQLite's work for a one-row update
# (coercion, cache keys), and the ORM's bulk-UPDATE path more again: Core
# statements on the tables, with binds.


def _held(posts: sa.Table, ids: sa.ColumnElement[bool]) -> Iterable[sa.ColumnElement[bool]]:
    return (
        ids,
        posts.c.lease_owner == sa.bindparam("p_owner"),
        posts.c.status == PostStatus.sending.value,
    )


@functools.cache
def _start_statement(renew_lease: bool, dialect: str = "sqlite") -> sa.Update:
    posts = _posts_table()
    values: dict[str, object] = {
        "attempts": posts.c.attempts + 1,
        "updated_at": sa.bindparam("p_now", type_=posts.c.updated_at.type),
    }
    if renew_lease:
        values["lease_expires_at"] = claims._lease_end(dialect)
    return (
        sa.update(posts)
        .where(*_held(posts, posts.c.id == sa.bindparam("p_id")))
        .values(values)
        .returning(posts.c.attempts)
    )


@functools.cache
def _fail_unsent_statement() -> sa.Update:
    posts = _posts_table()
    return (
        sa.update(posts)
        .where(*_held(posts, posts.c.id == sa.bindparam("p_id")))
        .values(
            status=PostStatus.failed.value,
            attempts=posts.c.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            last_error=sa.bindparam("v_error", type_=posts.c.last_error.type),
            updated_at=sa.bindparam("v_now", type_=posts.c.updated_at.type),
        )
    )


@functools.cache
def _attempt_insert() -> sa.Insert:
    attempts = _attempts_table()
    return (
        sa.insert(attempts)
        .values(
            post_id=sa.bindparam("p_id"),
            owner=sa.bindparam("p_owner"),
            started_at=sa.bindparam("p_now", type_=attempts.c.started_at.type),
        )
        .returning(attempts.c.id)
    )


@functools.lru_cache(maxsize=64)
def _attempt_insert_rows(count: int) -> sa.Insert:
    # One INSERT ... VALUES (...), (...) RETURNING per batch size (a pass starts
    # at most a channel's concurrency of sends). Each row names its post, so
    # the order they come back in does not matter.
    attempts = _attempts_table()
    owner = sa.bindparam("p_owner", type_=attempts.c.owner.type)
    now = sa.bindparam("p_now", type_=attempts.c.started_at.type)
    rows = [
        {"post_id": sa.bindparam(f"p_id_{n}"), "owner": owner, "started_at": now}
        for n in range(count)
    ]
    return sa.insert(attempts).values(rows).returning(attempts.c.id, attempts.c.post_id)


@functools.cache
def _finish_statement(keys: tuple[str, ...]) -> sa.Update:
    posts = _posts_table()
    return (
        sa.update(posts)
        .where(*_held(posts, posts.c.id == sa.bindparam("p_id")))
        .values({k: sa.bindparam(f"v_{k}", type_=posts.c[k].type) for k in keys})
    )


@functools.cache
def _attempt_finish() -> sa.Update:
    attempts = _attempts_table()
    keys = ("finished_at", "outcome", "status_code", "error", "remote_id")
    return (
        sa.update(attempts)
        .where(attempts.c.id == sa.bindparam("p_id"))
        .values({k: sa.bindparam(f"v_{k}", type_=attempts.c[k].type) for k in keys})
    )
