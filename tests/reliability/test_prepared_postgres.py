"""`driver_sql.Prepared` on PostgreSQL (psycopg takes named parameters): the
statements are compiled once, and what they write and return is what Core
writes and returns for the same statement, the attempts' multi-row INSERT
(which SQLAlchemy cannot cache) among them."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from scheduler.delivery.attempts import _attempt_insert_rows
from scheduler.storage import database
from scheduler.storage.driver_sql import Prepared
from scheduler.storage.models import Attempt, Channel, Post

pytestmark = pytest.mark.postgres


def _seed(conn: sa.Connection) -> list[int]:
    now = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    channel = conn.execute(
        sa.insert(Channel.__table__).values(  # type: ignore[attr-defined]
            name="club", platform="outbox", options={}, timezone="UTC", paused=False
        )
    ).inserted_primary_key[0]
    posts = Post.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "channel_id": channel,
            "text": f"post {i}",
            "due_at": now,
            "idempotency_key": f"{i:032x}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(6)
    ]
    return [r[0] for r in conn.execute(sa.insert(posts).returning(posts.c.id), rows)]


def test_prepared_writes_and_returns_what_core_does_on_postgres(pg_url: str) -> None:
    engine = database.make_engine(pg_url)
    attempts = Attempt.__table__  # type: ignore[attr-defined]
    started = dt.datetime(2026, 3, 29, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with engine.begin() as conn:
        ids = _seed(conn)
        statement = _attempt_insert_rows(3)
        prepared = Prepared(statement, conn.dialect)
        assert prepared.sql is not None and prepared.named is not None  # compiled once
        core_params = {"p_owner": "core", "p_now": started} | {
            f"p_id_{n}": i for n, i in enumerate(ids[:3])
        }
        ours_params = {"p_owner": "ours", "p_now": started} | {
            f"p_id_{n}": i for n, i in enumerate(ids[3:])
        }
        by_core = {post: attempt for attempt, post in conn.execute(statement, core_params)}
        by_ours = {post: attempt for attempt, post in prepared.run(conn, ours_params)}
        assert sorted(by_core) == ids[:3] and sorted(by_ours) == ids[3:]
        rows = conn.execute(
            sa.select(attempts.c.post_id, attempts.c.owner, attempts.c.started_at).order_by(
                attempts.c.post_id
            )
        ).all()
    engine.dispose()
    # The same stored time through both (UTC, the offset applied), each row its post's.
    assert [(r.owner, r.started_at) for r in rows] == [("core", started)] * 3 + [
        ("ours", started)
    ] * 3
    assert {r.post_id for r in rows} == set(ids)


def test_prepared_executemany_on_postgres_matches_core(pg_url: str) -> None:
    engine = database.make_engine(pg_url)
    posts = Post.__table__  # type: ignore[attr-defined]
    update = (
        sa.update(posts)
        .where(posts.c.id == sa.bindparam("p_id"), posts.c.status == "queued")
        .values(
            last_error=sa.bindparam("v_error"),
            updated_at=sa.bindparam("v_now", type_=posts.c.updated_at.type),
        )
    )
    later = dt.datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=dt.UTC)
    with engine.begin() as conn:
        ids = _seed(conn)
        conn.execute(sa.update(posts).where(posts.c.id == ids[5]).values(status="sent"))
        rows = [{"p_id": i, "v_error": f"e{i}", "v_now": later} for i in ids]
        core = conn.execute(update, rows[:3]).rowcount
        ours = Prepared(update, conn.dialect).run(conn, rows[3:]).rowcount
        stored = conn.execute(
            sa.select(posts.c.id, posts.c.last_error, posts.c.updated_at).order_by(posts.c.id)
        ).all()
    engine.dispose()
    assert (core, ours) == (3, 2)  # the sent post is left alone by the literal 'queued'
    assert [(r.last_error, r.updated_at) for r in stored[:5]] == [(f"e{i}", later) for i in ids[:5]]
    assert stored[5].last_error is None
